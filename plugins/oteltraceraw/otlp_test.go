package oteltraceraw

import (
	"os"
	"reflect"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/oteltraceraw/spantest"
	"github.com/weft-agent/weft/plugins/otlp"
)

// The span documents of the real OTLP converter work as the test helper's:
// the fixture through otlp.ConvertTraces and this processor, children
// first, gives every span its root's group; and the fields this package
// relies on are the ones spantest builds.
func TestWithOTLPConverter(t *testing.T) {
	data, err := os.ReadFile(spantest.FixturePath())
	if err != nil {
		t.Fatal(err)
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := otlp.UnmarshalJSON(data, &req); err != nil {
		t.Fatal(err)
	}
	res := otlp.ConvertTraces(&req)
	if len(res.Events) != 8 || res.Rejected != 0 {
		t.Fatalf("converter: %d events, %d rejected", len(res.Events), res.Rejected)
	}
	mine := fixture(t)
	byID := map[string]*event.Event{}
	for _, ev := range mine {
		byID[str(ev, "spanId")] = ev
	}
	for _, ev := range res.Events {
		m := byID[str(ev, "spanId")]
		if m == nil {
			t.Fatalf("converter span %s not in the helper's", str(ev, "spanId"))
		}
		for _, k := range []string{"traceId", "parentSpanId", "name", "kind", "serviceName", "endTime", "durationInNanos", "status", "traceGroup"} {
			got, want := ev.Fields()[k], m.Fields()[k]
			if k == "status" {
				got, want = got.(map[string]any)["code"], want.(map[string]any)["code"]
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("span %s field %s: converter %#v, helper %#v", str(ev, "spanId"), k, got, want)
			}
		}
	}
	want := expectedGroups(t, mine)
	var kids, roots []*event.Event
	for _, ev := range res.Events {
		if isRoot(ev) {
			roots = append(roots, ev)
		} else {
			kids = append(kids, ev)
		}
	}
	p, _, _ := newTest(t, nil)
	out := run(p, kids)
	out = append(out, run(p, roots)...)
	checkGroups(t, out, want, 8)
}
