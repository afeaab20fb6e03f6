package tracecontext

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

const (
	tid  = "4bf92f3577b34da6a3ce929d0e0e4736"
	sid  = "00f067aa0ba902b7"
	tid2 = "7b084bbca0bade97bdc76741c3973ed6"
	sid2 = "c1f63e34996770c9"
)

// headersOut is the printed Go map of outgoing gRPC metadata from the
// product brief: the IDs exist only as text.
const headersOut = `headersOut: map[:authority:[service-a:50051] content-type:[application/grpc] grpc-timeout:[4999965u] user-agent:[grpc-go/1.20.0] x-b3-parentspanid:[5cb5ab2c48c76d0e] x-b3-sampled:[1] x-b3-spanid:[c1f63e34996770c9] x-b3-traceid:[7b084bbca0bade97bdc76741c3973ed6] x-request-id:[e83b565f-37f1-9d2c-b9d2-0e1ff1f1b2a0]]`

func newEvent(t testing.TB, js string) *event.Event {
	t.Helper()
	m, err := event.DecodeJSONObject([]byte(js))
	if err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return event.New(event.KindLog, time.Unix(0, 0), m)
}

func newProcessor(t testing.TB, opts string) (pipelines.Processor, *prometheus.Registry) {
	t.Helper()
	p, reg, err := pipelinestest.Processor("trace_context", opts)
	if err != nil {
		t.Fatalf("config %q: %v", opts, err)
	}
	return p, reg
}

func fieldsJSON(ev *event.Event) string { return string(ev.AppendJSON(nil)) }

func process(p pipelines.Processor, evs ...*event.Event) {
	p.Process(context.Background(), evs)
}

// metric returns the value of a counter of the processor, summed over the
// series whose labels include want.
func metric(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				ok := false
				for _, l := range m.GetLabel() {
					if l.GetName() == k && l.GetValue() == v {
						ok = true
					}
				}
				if !ok {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func b64(hexID string) string {
	b, err := hex.DecodeString(hexID)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestForms(t *testing.T) {
	upper := strings.ToUpper(tid)
	tests := []struct {
		name, opts string
		in, want   string
		form       string // label of the found counter, "" for missing
		invalid    int    // invalid IDs counted
	}{
		// otlp
		{"otlp hex kept as is", ``,
			`{"traceId":"` + tid + `","spanId":"` + sid + `","body":"x"}`,
			`{"traceId":"` + tid + `","spanId":"` + sid + `","body":"x"}`, "otlp", 0},
		{"otlp uppercase lowered", ``,
			`{"traceId":"` + upper + `","spanId":"` + strings.ToUpper(sid) + `"}`,
			`{"traceId":"` + tid + `","spanId":"` + sid + `"}`, "otlp", 0},
		{"otlp base64 decoded", ``,
			`{"traceId":"` + b64(tid) + `","spanId":"` + b64(sid) + `"}`,
			`{"traceId":"` + tid + `","spanId":"` + sid + `"}`, "otlp", 0},
		{"otlp snake keys", ``,
			`{"trace_id":"` + tid + `","span_id":"` + sid + `"}`,
			`{"trace_id":"` + tid + `","span_id":"` + sid + `","traceId":"` + tid + `","spanId":"` + sid + `"}`, "otlp", 0},
		{"otlp flags number", ``,
			`{"traceId":"` + tid + `","spanId":"` + sid + `","flags":1}`,
			`{"traceId":"` + tid + `","spanId":"` + sid + `","flags":1,"traceFlags":"01"}`, "otlp", 0},
		{"otlp empty IDs are absent, not invalid", ``,
			`{"traceId":"","spanId":"","body":"x"}`,
			`{"traceId":"","spanId":"","body":"x"}`, "", 0},

		// python
		{"python", ``,
			`{"message":"x [trace_id=` + tid + ` span_id=` + sid + ` resource.service.name=payment trace_sampled=True] - hi"}`,
			`{"message":"x [trace_id=` + tid + ` span_id=` + sid + ` resource.service.name=payment trace_sampled=True] - hi","traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"01","serviceName":"payment"}`,
			"python", 0},
		{"python not sampled", ``,
			`{"msg":"[trace_id=` + tid + ` span_id=` + sid + ` resource.service.name=a trace_sampled=False]"}`,
			`{"msg":"[trace_id=` + tid + ` span_id=` + sid + ` resource.service.name=a trace_sampled=False]","traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"00","serviceName":"a"}`,
			"python", 0},
		{"python keeps the event's service name", ``,
			`{"serviceName":"orders","log":"[trace_id=` + tid + ` span_id=` + sid + ` resource.service.name=payment]"}`,
			`{"serviceName":"orders","log":"[trace_id=` + tid + ` span_id=` + sid + ` resource.service.name=payment]","traceId":"` + tid + `","spanId":"` + sid + `"}`,
			"python", 0},
		{"python uppercase lowered", ``,
			`{"message":"[trace_id=` + upper + ` span_id=` + strings.ToUpper(sid) + ` resource.service.name=]"}`,
			`{"message":"[trace_id=` + upper + ` span_id=` + strings.ToUpper(sid) + ` resource.service.name=]","traceId":"` + tid + `","spanId":"` + sid + `"}`,
			"python", 0},
		{"python without context (trace_id=0) untouched", ``,
			`{"message":"x [trace_id=0 span_id=0 resource.service.name=payment trace_sampled=False] - hi"}`,
			`{"message":"x [trace_id=0 span_id=0 resource.service.name=payment trace_sampled=False] - hi"}`, "", 0},
		{"python span before trace", ``,
			`{"message":"span_id=` + sid + ` trace_id=` + tid + `"}`,
			`{"message":"span_id=` + sid + ` trace_id=` + tid + `","traceId":"` + tid + `","spanId":"` + sid + `"}`, "python", 0},
		{"python anchor must be a whole key", ``,
			`{"message":"parent_trace_id=` + tid + `"}`,
			`{"message":"parent_trace_id=` + tid + `"}`, "", 0},

		// w3c
		{"w3c top-level field", ``,
			`{"traceparent":"00-` + tid + `-` + sid + `-01"}`,
			`{"traceparent":"00-` + tid + `-` + sid + `-01","traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"01"}`, "w3c", 0},
		{"w3c header list, key case", ``,
			`{"headers":{"Traceparent":["00-` + tid + `-` + sid + `-00"]}}`,
			`{"headers":{"Traceparent":["00-` + tid + `-` + sid + `-00"]},"traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"00"}`, "w3c", 0},
		{"w3c http/request/headers", ``,
			`{"http":{"request":{"headers":{"traceparent":"00-` + tid + `-` + sid + `-01"}}}}`,
			`{"http":{"request":{"headers":{"traceparent":"00-` + tid + `-` + sid + `-01"}}},"traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"01"}`, "w3c", 0},
		{"w3c in text with =", ``,
			`{"message":"GET / traceparent=00-` + tid + `-` + sid + `-01 200"}`,
			`{"message":"GET / traceparent=00-` + tid + `-` + sid + `-01 200","traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"01"}`, "w3c", 0},
		{"w3c in text with colon, uppercase", ``,
			`{"message":"Traceparent: 00-` + upper + `-` + sid + `-01"}`,
			`{"message":"Traceparent: 00-` + upper + `-` + sid + `-01","traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"01"}`, "w3c", 0},
		{"w3c in a printed http.Header", ``,
			`{"message":"req headers map[Accept:[*/*] Traceparent:[00-` + tid + `-` + sid + `-01]]"}`,
			`{"message":"req headers map[Accept:[*/*] Traceparent:[00-` + tid + `-` + sid + `-01]]","traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"01"}`, "w3c", 0},

		// b3
		{"b3 top-level logrus fields", ``,
			`{"msg":"in","x-b3-traceid":"` + tid + `","x-b3-spanid":"` + sid + `","x-b3-sampled":"1"}`,
			`{"msg":"in","x-b3-traceid":"` + tid + `","x-b3-spanid":"` + sid + `","x-b3-sampled":"1","traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"01"}`, "b3", 0},
		{"b3 request/headers, canonical case, not sampled", ``,
			`{"request":{"headers":{"X-B3-Traceid":["` + tid + `"],"X-B3-Spanid":["` + sid + `"],"X-B3-Sampled":["0"]}}}`,
			`{"request":{"headers":{"X-B3-Traceid":["` + tid + `"],"X-B3-Spanid":["` + sid + `"],"X-B3-Sampled":["0"]}},"traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"00"}`, "b3", 0},
		{"b3 16-hex trace ID padded (field)", ``,
			`{"headers":{"x-b3-traceid":"a3ce929d0e0e4736","x-b3-spanid":"` + sid + `"}}`,
			`{"headers":{"x-b3-traceid":"a3ce929d0e0e4736","x-b3-spanid":"` + sid + `"},"traceId":"0000000000000000a3ce929d0e0e4736","spanId":"` + sid + `"}`, "b3", 0},
		{"b3 16-hex trace ID padded (text)", ``,
			`{"msg":"x-b3-traceid=A3CE929D0E0E4736 x-b3-spanid=` + sid + `"}`,
			`{"msg":"x-b3-traceid=A3CE929D0E0E4736 x-b3-spanid=` + sid + `","traceId":"0000000000000000a3ce929d0e0e4736","spanId":"` + sid + `"}`, "b3", 0},
		{"b3 single header field", ``,
			`{"headers":{"b3":"` + tid + `-` + sid + `-1-5cb5ab2c48c76d0e"}}`,
			`{"headers":{"b3":"` + tid + `-` + sid + `-1-5cb5ab2c48c76d0e"},"traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"01"}`, "b3", 0},
		{"b3 single header in text", ``,
			`{"msg":"outgoing b3: ` + tid + `-` + sid + `-d"}`,
			`{"msg":"outgoing b3: ` + tid + `-` + sid + `-d","traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"01"}`, "b3", 0},
		{"b3 JSON in text", ``,
			`{"msg":"headers {\"x-b3-spanid\": \"` + sid + `\", \"x-b3-traceid\": \"` + tid + `\"}"}`,
			`{"msg":"headers {\"x-b3-spanid\": \"` + sid + `\", \"x-b3-traceid\": \"` + tid + `\"}","traceId":"` + tid + `","spanId":"` + sid + `"}`, "b3", 0},
		{"b3 key: value in text, underscores", ``,
			`{"msg":"X_B3_TRACEID: ` + tid + `, X_B3_SPANID: ` + sid + `"}`,
			`{"msg":"X_B3_TRACEID: ` + tid + `, X_B3_SPANID: ` + sid + `","traceId":"` + tid + `","spanId":"` + sid + `"}`, "b3", 0},
		{"b3 sampling-only header is not an ID", ``,
			`{"headers":{"b3":"0"}}`,
			`{"headers":{"b3":"0"}}`, "", 0},

		// invalid values
		{"all-zero python trace", ``,
			`{"message":"[trace_id=00000000000000000000000000000000 span_id=` + sid + `]"}`,
			`{"message":"[trace_id=00000000000000000000000000000000 span_id=` + sid + `]"}`, "", 1},
		{"wrong-length python trace", ``,
			`{"message":"[trace_id=` + tid[:31] + ` span_id=` + sid + `]"}`,
			`{"message":"[trace_id=` + tid[:31] + ` span_id=` + sid + `]"}`, "", 1},
		{"all-zero span is dropped, trace kept", ``,
			`{"message":"[trace_id=` + tid + ` span_id=0000000000000000]"}`,
			`{"message":"[trace_id=` + tid + ` span_id=0000000000000000]","traceId":"` + tid + `"}`, "python", 1},
		{"non-hex traceparent", ``,
			`{"traceparent":"00-` + strings.Repeat("g", 32) + `-` + sid + `-01"}`,
			`{"traceparent":"00-` + strings.Repeat("g", 32) + `-` + sid + `-01"}`, "", 1},
		{"short traceparent", ``,
			`{"message":"traceparent=00-` + tid + `-01"}`,
			`{"message":"traceparent=00-` + tid + `-01"}`, "", 1},
		{"all-zero otlp trace, valid python wins", ``,
			`{"traceId":"00000000000000000000000000000000","message":"trace_id=` + tid + ` span_id=` + sid + `"}`,
			`{"traceId":"` + tid + `","spanId":"` + sid + `","message":"trace_id=` + tid + ` span_id=` + sid + `"}`, "python", 1},
		{"wrong-length b3 field", ``,
			`{"x-b3-traceid":"abc123","x-b3-spanid":"` + sid + `"}`,
			`{"x-b3-traceid":"abc123","x-b3-spanid":"` + sid + `"}`, "", 1},
		{"numeric otlp trace", ``,
			`{"traceId":12345}`,
			`{"traceId":12345}`, "", 1},

		{"prose after b3 and traceparent is not an ID", ``,
			`{"message":"vitamin b3: 500mg; no traceparent: new trace"}`,
			`{"message":"vitamin b3: 500mg; no traceparent: new trace"}`, "", 0},
		{"quoted python value", ``,
			`{"message":"trace_id=\"` + tid + `\" span_id=\"` + sid + `\" service.name=\"cart\""}`,
			`{"message":"trace_id=\"` + tid + `\" span_id=\"` + sid + `\" service.name=\"cart\"","traceId":"` + tid + `","spanId":"` + sid + `","serviceName":"cart"}`, "python", 0},

		// order and formats
		{"python before w3c", ``,
			`{"message":"trace_id=` + tid + ` span_id=` + sid + `","traceparent":"00-` + tid2 + `-` + sid2 + `-01"}`,
			`{"message":"trace_id=` + tid + ` span_id=` + sid + `","traceparent":"00-` + tid2 + `-` + sid2 + `-01","traceId":"` + tid + `","spanId":"` + sid + `"}`, "python", 0},
		{"formats restricted to w3c", `formats: [w3c]`,
			`{"message":"trace_id=` + tid + ` span_id=` + sid + `","traceparent":"00-` + tid2 + `-` + sid2 + `-01"}`,
			`{"message":"trace_id=` + tid + ` span_id=` + sid + `","traceparent":"00-` + tid2 + `-` + sid2 + `-01","traceId":"` + tid2 + `","spanId":"` + sid2 + `","traceFlags":"01"}`, "w3c", 0},
		{"formats order: b3 before python", `formats: [b3, python]`,
			`{"message":"trace_id=` + tid + ` span_id=` + sid + ` x-b3-traceid=` + tid2 + ` x-b3-spanid=` + sid2 + `"}`,
			`{"message":"trace_id=` + tid + ` span_id=` + sid + ` x-b3-traceid=` + tid2 + ` x-b3-spanid=` + sid2 + `","traceId":"` + tid2 + `","spanId":"` + sid2 + `"}`, "b3", 0},
		{"formats without python ignore python text", `formats: [otlp, w3c, b3]`,
			`{"message":"trace_id=` + tid + ` span_id=` + sid + `"}`,
			`{"message":"trace_id=` + tid + ` span_id=` + sid + `"}`, "", 0},
		{"message_keys restrict the scanned fields", `message_keys: [body]`,
			`{"message":"trace_id=` + tid + `","body":"traceparent=00-` + tid2 + `-` + sid2 + `-01"}`,
			`{"message":"trace_id=` + tid + `","body":"traceparent=00-` + tid2 + `-` + sid2 + `-01","traceId":"` + tid2 + `","spanId":"` + sid2 + `","traceFlags":"01"}`, "w3c", 0},

		// extra
		{"extra paths", `paths: [{trace_id: ctx/tid, span_id: ctx/sid}]`,
			`{"ctx":{"tid":"` + upper + `","sid":"` + sid + `"}}`,
			`{"ctx":{"tid":"` + upper + `","sid":"` + sid + `"},"traceId":"` + tid + `","spanId":"` + sid + `"}`, "extra", 0},
		{"extra paths, second pair", `paths: [{trace_id: a}, {trace_id: /b/c}]`,
			`{"b":{"c":"` + b64(tid) + `"}}`,
			`{"b":{"c":"` + b64(tid) + `"},"traceId":"` + tid + `"}`, "extra", 0},
		{"extra patterns", `patterns: ['req=(?P<trace_id>\w+)/(?P<span_id>\w+)/(?P<flags>\d)']`,
			`{"log":"GET req=` + tid + `/` + sid + `/1 ok"}`,
			`{"log":"GET req=` + tid + `/` + sid + `/1 ok","traceId":"` + tid + `","spanId":"` + sid + `","traceFlags":"01"}`, "extra", 0},
		{"extra pattern invalid ID", `patterns: ['rid=(?P<trace_id>\w+)']`,
			`{"log":"rid=xyz"}`,
			`{"log":"rid=xyz"}`, "", 1},

		// overwrite and output keys
		{"existing valid traceId kept", ``,
			`{"traceId":"` + tid + `","message":"trace_id=` + tid2 + ` span_id=` + sid2 + `"}`,
			`{"traceId":"` + tid + `","message":"trace_id=` + tid2 + ` span_id=` + sid2 + `"}`, "otlp", 0},
		{"existing kept without the otlp form", `formats: [python]`,
			`{"traceId":"` + tid + `","message":"trace_id=` + tid2 + ` span_id=` + sid2 + `"}`,
			`{"traceId":"` + tid + `","message":"trace_id=` + tid2 + ` span_id=` + sid2 + `"}`, "existing", 0},
		{"overwrite replaces", `{overwrite: true, formats: [python]}`,
			`{"traceId":"` + tid + `","spanId":"` + sid + `","message":"trace_id=` + tid2 + ` span_id=` + sid2 + `"}`,
			`{"traceId":"` + tid2 + `","spanId":"` + sid2 + `","message":"trace_id=` + tid2 + ` span_id=` + sid2 + `"}`, "python", 0},
		{"custom output keys", `{trace_id_key: trace/id, span_id_key: trace/span, trace_flags_key: "", service_name_key: svc}`,
			`{"message":"[trace_id=` + tid + ` span_id=` + sid + ` resource.service.name=p trace_sampled=True]"}`,
			`{"message":"[trace_id=` + tid + ` span_id=` + sid + ` resource.service.name=p trace_sampled=True]","trace":{"id":"` + tid + `","span":"` + sid + `"},"svc":"p"}`, "python", 0},

		// nothing there
		{"no context untouched", ``,
			`{"log":"plain line without trace context\n","stream":"stderr","b3":{"note":1},"trace":"no"}`,
			`{"log":"plain line without trace context\n","stream":"stderr","b3":{"note":1},"trace":"no"}`, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, reg := newProcessor(t, tc.opts)
			ev := newEvent(t, tc.in)
			process(p, ev)
			if got, want := fieldsJSON(ev), fieldsJSON(newEvent(t, tc.want)); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if tc.form == "" {
				if n := metric(t, reg, "weft_trace_context_missing_total", nil); n != 1 {
					t.Errorf("missing = %v, want 1", n)
				}
			} else if n := metric(t, reg, "weft_trace_context_found_total", map[string]string{"form": tc.form}); n != 1 {
				t.Errorf("found{form=%s} = %v, want 1", tc.form, n)
			}
			if n := metric(t, reg, "weft_trace_context_invalid_ids_total", nil); n != float64(tc.invalid) {
				t.Errorf("invalid = %v, want %d", n, tc.invalid)
			}
			if tagged := ev.HasTag("_invalid_trace_context"); tagged != (tc.invalid > 0) {
				t.Errorf("invalid tag = %v, want %v", tagged, tc.invalid > 0)
			}
		})
	}
}

// The printed Go map from the brief: IDs only as text, key:[value] shape.
func TestHeadersOutGoMap(t *testing.T) {
	p, reg := newProcessor(t, ``)
	ev := event.New(event.KindLog, time.Unix(0, 0), map[string]any{
		"time": "2025-11-23T08:00:00Z", "level": "info", "msg": headersOut})
	process(p, ev)
	f := ev.Fields()
	if f["traceId"] != tid2 || f["spanId"] != sid2 || f["traceFlags"] != "01" {
		t.Errorf("got %s", fieldsJSON(ev))
	}
	if n := metric(t, reg, "weft_trace_context_found_total", map[string]string{"form": "b3"}); n != 1 {
		t.Errorf("found{b3} = %v", n)
	}
}

func TestTags(t *testing.T) {
	p, _ := newProcessor(t, `{tags_on_found: [traced], tags_on_invalid: [bad_ctx, other]}`)
	good := newEvent(t, `{"traceparent":"00-`+tid+`-`+sid+`-01"}`)
	bad := newEvent(t, `{"traceparent":"00-`+tid+`-0000000000000000-01"}`)
	none := newEvent(t, `{"message":"hello"}`)
	process(p, good, bad, none)
	if !slices.Equal(good.Tags(), []string{"traced"}) {
		t.Errorf("good tags %v", good.Tags())
	}
	// The trace ID is good, so the event is found; the zero span is not.
	if !slices.Equal(bad.Tags(), []string{"bad_ctx", "other", "traced"}) {
		t.Errorf("bad tags %v", bad.Tags())
	}
	if bad.Fields()["traceId"] != tid || bad.Fields()["spanId"] != nil {
		t.Errorf("bad event %s", fieldsJSON(bad))
	}
	if len(none.Tags()) != 0 {
		t.Errorf("none tags %v", none.Tags())
	}
}

// A processed event must not change a fan-out clone that shares its
// fields, and an event that needs no change is not copied.
func TestClonesUnaffected(t *testing.T) {
	p, _ := newProcessor(t, ``)
	ev := newEvent(t, `{"message":"trace_id=`+tid+` span_id=`+sid+`"}`)
	clone := ev.Clone()
	process(p, ev)
	if got := fieldsJSON(clone); strings.Contains(got, "traceId") {
		t.Errorf("clone changed: %s", got)
	}
	if ev.Fields()["traceId"] != tid {
		t.Errorf("event: %s", fieldsJSON(ev))
	}
}

func TestMetricsAcrossBatch(t *testing.T) {
	p, reg := newProcessor(t, ``)
	evs := []*event.Event{
		newEvent(t, `{"message":"trace_id=`+tid+` span_id=`+sid+`"}`),
		newEvent(t, `{"message":"trace_id=`+tid2+` span_id=`+sid2+`"}`),
		newEvent(t, `{"traceparent":"00-`+tid+`-`+sid+`-01"}`),
		newEvent(t, `{"message":"nothing"}`),
		newEvent(t, `{"message":"trace_id=0 span_id=0"}`),
		newEvent(t, `{"message":"trace_id=123"}`),
	}
	process(p, evs...)
	for form, want := range map[string]float64{"python": 2, "w3c": 1, "b3": 0, "otlp": 0} {
		if n := metric(t, reg, "weft_trace_context_found_total", map[string]string{"form": form}); n != want {
			t.Errorf("found{%s} = %v, want %v", form, n, want)
		}
	}
	if n := metric(t, reg, "weft_trace_context_missing_total", nil); n != 3 {
		t.Errorf("missing = %v, want 3", n)
	}
	if n := metric(t, reg, "weft_trace_context_invalid_ids_total", map[string]string{"form": "python"}); n != 1 {
		t.Errorf("invalid{python} = %v, want 1", n)
	}
}

// The processor is shared by the pipeline's workers.
func TestConcurrent(t *testing.T) {
	p, reg := newProcessor(t, ``)
	lines := []string{
		`{"message":"[trace_id=` + tid + ` span_id=` + sid + ` resource.service.name=payment]"}`,
		`{"msg":` + quote(headersOut) + `}`,
		`{"headers":{"traceparent":"00-` + tid + `-` + sid + `-01"}}`,
		`{"log":"nothing"}`,
	}
	const workers, per = 8, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				evs := make([]*event.Event, len(lines))
				for j, l := range lines {
					evs[j] = newEvent(t, l)
				}
				process(p, evs...)
				if evs[0].Fields()["traceId"] != tid || evs[1].Fields()["traceId"] != tid2 || evs[2].Fields()["spanId"] != sid {
					t.Errorf("wrong result")
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := metric(t, reg, "weft_trace_context_found_total", nil); n != 3*workers*per {
		t.Errorf("found = %v", n)
	}
	if n := metric(t, reg, "weft_trace_context_missing_total", nil); n != workers*per {
		t.Errorf("missing = %v", n)
	}
}

func quote(s string) string {
	return string(event.AppendJSON(nil, s))
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"unknown form", `formats: [otlp, zipkin]`, []string{`option "formats[1]"`, `"zipkin" is not one of`}},
		{"form twice", `formats: [b3, b3]`, []string{`option "formats[1]"`, `listed twice`}},
		{"no forms", `formats: []`, []string{`option "formats": must list at least one form`}},
		{"paths without extra", `{formats: [b3], paths: [{trace_id: a}]}`, []string{`option "formats"`, `add extra`}},
		{"pattern without trace_id group", `patterns: ['id=(?P<span_id>\w+)']`, []string{`option "patterns[0]"`, `trace_id`}},
		{"bad pattern", `patterns: ['(']`, []string{`option "patterns[0]"`, `invalid regular expression`}},
		{"path without trace_id", `paths: [{span_id: a}]`, []string{`option "paths[0].trace_id": required option is missing`}},
		{"root output key", `trace_id_key: /`, []string{`option "trace_id_key": must name a field`}},
		{"same output keys", `{span_id_key: traceId}`, []string{`option "span_id_key": is the same field as trace_id_key`}},
		{"unknown option", `overwrite_existing: true`, []string{`unknown option "overwrite_existing"`, `did you mean "overwrite"?`}},
		{"bad bool", `overwrite: maybe`, []string{`option "overwrite": expected true or false`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "trace_context", tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	// New validates a Config made in code the same way.
	s, _ := pipelinestest.Settings("test", "processor/0/trace_context")
	c := NewConfig()
	c.Patterns = []string{`x`}
	if _, err := New(s, c); err == nil || !strings.Contains(err.Error(), "trace_id") {
		t.Errorf("New with a bad pattern: %v", err)
	}
}

// TestReadme keeps README.md's option table in step with the config
// struct: same names, types and defaults.
func TestReadme(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "trace_context", "README.md")
}
