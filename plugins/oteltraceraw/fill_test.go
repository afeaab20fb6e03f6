package oteltraceraw

import (
	"reflect"
	"testing"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/oteltraceraw/spantest"
)

// The OTLP source gives a child span traceGroupFields with three null
// fields; the processor fills that object in place. A clone keeps its own
// (copy on write), an object with other fields is replaced, and every span
// ends with its own object.
func TestFillTraceGroupFields(t *testing.T) {
	p, _, _ := newTest(t, nil)
	root, kids := spantest.Trace(7, 3)
	nulls := func() map[string]any {
		return map[string]any{"endTime": nil, "durationInNanos": nil, "statusCode": nil}
	}
	kids[0].Mutable()["traceGroupFields"] = nulls()
	kids[1].Mutable()["traceGroupFields"] = map[string]any{"endTime": nil, "durationInNanos": nil, "statusCode": nil, "extra": "x"}
	clone := kids[0].Clone()
	out := run(p, append([]*event.Event{root}, kids...))
	if len(out) != 4 {
		t.Fatalf("%d spans out", len(out))
	}
	want := root.Fields()["traceGroupFields"]
	for _, ev := range out[1:] {
		tgf := ev.Fields()["traceGroupFields"].(map[string]any)
		if !reflect.DeepEqual(tgf, want) {
			t.Errorf("span %s: traceGroupFields %v, want %v", str(ev, "name"), tgf, want)
		}
		tgf["probe"] = true // each span has its own object
		for _, other := range out {
			if other != ev {
				if _, ok := other.Fields()["traceGroupFields"].(map[string]any)["probe"]; ok {
					t.Fatalf("span %s shares traceGroupFields with span %s", str(ev, "name"), str(other, "name"))
				}
			}
		}
		delete(tgf, "probe")
	}
	if got := clone.Fields()["traceGroupFields"]; !reflect.DeepEqual(got, nulls()) {
		t.Errorf("the clone's traceGroupFields changed: %v", got)
	}
}
