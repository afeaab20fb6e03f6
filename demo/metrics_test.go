package demo

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

const exposition = `# HELP weft_pipeline_events_in_total Events accepted.
# TYPE weft_pipeline_events_in_total counter
weft_pipeline_events_in_total{pipeline="logs"} 120
weft_pipeline_events_in_total{pipeline="service-map"} 50
weft_pipeline_events_in_total{pipeline="zz-custom"} 1
weft_pipeline_events_out_total{pipeline="logs"} 110
weft_pipeline_events_out_total{pipeline="service-map"} 4
weft_pipeline_events_out_total{pipeline="zz-custom"} 1
weft_pipeline_events_dropped_total{pipeline="service-map",reason="consumed_by_service_map"} 50
weft_pipeline_events_created_total{pipeline="service-map"} 4
weft_buffer_events{pipeline="logs"} 2
weft_correlate_held_logs{component="correlate",pipeline="logs"} 8
weft_correlate_logs_total{component="correlate",pipeline="logs",result="correlated"} 90
weft_correlate_logs_total{component="correlate",pipeline="logs",result="uncorrelated"} 10
weft_correlate_logs_total{component="correlate",pipeline="logs",result="no_trace_context"} 0
weft_mask_fields_masked_total{component="mask",pipeline="logs",rule_or_detector="email"} 40
weft_mask_fields_masked_total{component="mask",pipeline="spans",rule_or_detector="email"} 2
weft_mask_fields_masked_total{component="mask",pipeline="logs",rule_or_detector="us_ssn"} 0
weft_span_requests_total{service="payment",span_kind="SPAN_KIND_SERVER"} 30
weft_span_errors_total{service="payment",span_kind="SPAN_KIND_SERVER"} 6
odd_label{a="x\"y\\z\n",b="}, "} 2.5e+01
`

func TestParseMetrics(t *testing.T) {
	samples, err := ParseMetrics(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 19 {
		t.Fatalf("%d samples", len(samples))
	}
	last := samples[len(samples)-1]
	if last.Name != "odd_label" || last.Labels["a"] != "x\"y\\z\n" || last.Labels["b"] != "}, " || last.Value != 25 {
		t.Fatalf("escaped labels: %+v", last)
	}
	for _, bad := range []string{`x{a="b} 1`, `x{a=b} 1`, `x{a="b"} one`, `{a="b"} 1`, `x`} {
		if _, err := ParseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	cur, err := ParseMetrics(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	prev, _ := ParseMetrics(strings.NewReader(`weft_pipeline_events_in_total{pipeline="logs"} 100`))
	now := time.Now()
	s := Summarize(Snapshot{At: now.Add(-2 * time.Second), Samples: prev}, Snapshot{At: now, Samples: cur},
		Stats{Checkouts: 10, Failed: 2}, 4*time.Second)
	var names []string
	for _, p := range s.Pipelines {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "logs,service-map,zz-custom" {
		t.Fatalf("pipelines in the default's order, others after: %v", names)
	}
	logs, smap := s.Pipelines[0], s.Pipelines[1]
	if logs.Rate != 10 {
		t.Errorf("logs: %v events/s, want 10", logs.Rate)
	}
	if !logs.Balanced() { // 120 = 110 out + 2 buffered + 8 held
		t.Errorf("logs not balanced: %+v", logs)
	}
	if !smap.Balanced() { // 50 in + 4 created = 4 out + 50 consumed
		t.Errorf("service-map not balanced: %+v", smap)
	}
	if s.Correlated != 90 || s.Logs != 100 || s.Masked["email"] != 42 || s.SpanTotal != 30 || s.SpanErrors != 6 {
		t.Errorf("summary %+v", s)
	}
	var live, final bytes.Buffer
	s.WriteLive(&live)
	for _, want := range []string{"checkouts 10 (2 failed in payment)", "logs 10", "service-map 25", "correlated 90% (90 of 100)", "masked 42 values (email 42)"} {
		if !strings.Contains(live.String(), want) {
			t.Errorf("live summary lacks %q:\n%s", want, live.String())
		}
	}
	if strings.Contains(live.String(), "us_ssn") {
		t.Errorf("detectors that masked nothing are listed:\n%s", live.String())
	}
	s.Pipelines[0].Out = 100 // ten events unaccounted for
	s.WriteFinal(&final)
	if !strings.Contains(final.String(), "NO (10 buffered or held)") || !strings.Contains(final.String(), "span RED metrics: 30 spans, 6 with status error") {
		t.Errorf("final summary:\n%s", final.String())
	}
}

func TestEndpointsFrom(t *testing.T) {
	env := map[string]string{}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	e := EndpointsFrom(lookup, "")
	if e != (Endpoints{"127.0.0.1:4317", "127.0.0.1:4318", "127.0.0.1:21890", "127.0.0.1:2021", "127.0.0.1:4900"}) {
		t.Fatalf("defaults: %+v", e)
	}
	env = map[string]string{"WEFT_HOST": "0.0.0.0", "WEFT_OTLP_GRPC_PORT": "1", "WEFT_OTLP_HTTP_PORT": "2",
		"WEFT_OTEL_TRACE_PORT": "3", "WEFT_HTTP_PORT": "4", "WEFT_ADMIN_ADDRESS": "0.0.0.0:5"}
	e = EndpointsFrom(lookup, "")
	if e != (Endpoints{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4", "127.0.0.1:5"}) {
		t.Fatalf("from the environment, wildcards reached on loopback: %+v", e)
	}
	env["WEFT_HOST"] = "::1"
	if e = EndpointsFrom(lookup, "[::1]:9"); e.OTLPGRPC != "[::1]:1" || e.Admin != "[::1]:9" {
		t.Fatalf("IPv6 and the --admin flag: %+v", e)
	}
}
