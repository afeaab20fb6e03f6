package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-agent/weft/plugins/emf"
)

// emfConfig is a trace pipeline (OTLP/HTTP → span_metrics) and a metrics
// pipeline (weft_metrics → emf → the given sink).
func emfConfig(otlpPort, sink string) string {
	return fmt.Sprintf(`
trace-pipeline:
  source:
    otlp: {host: 127.0.0.1, grpc_port: 0, http_port: %s}
  processor:
    - otel_trace_raw: {}
    - span_metrics: {}
  sink:
    - blackhole: {}
metrics-pipeline:
  source:
    weft_metrics:
      interval: 300ms
      include_metrics: ["weft_span_*"]
  processor:
    - emf: {namespace: weft/e2e, exclude_dimensions: [component]}
  sink:
%s
`, otlpPort, sink)
}

// emfPostSpans sends the shared OTLP/JSON fixture (8 spans of 3 services,
// errors in each service's second checkout).
func emfPostSpans(t *testing.T, otlpAddr string) {
	t.Helper()
	fix, err := os.ReadFile(fixture("otlp-traces.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+otlpAddr+"/v1/traces", "application/json", bytes.NewReader(fix))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("OTLP export: HTTP %d", resp.StatusCode)
	}
}

var emfServices = []string{"client", "order", "payment"}

// emfTotals adds up, per metric and service, the deltas in EMF documents
// (a histogram's Count), checking each document against the EMF rules.
func emfTotals(t *testing.T, docs []map[string]any) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, d := range docs {
		if err := emf.CheckDocument(d); err != nil {
			t.Fatalf("not valid EMF: %v: %v", err, d)
		}
		aws := d["_aws"].(map[string]any)
		dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
		if dir["Namespace"] != "weft/e2e" {
			t.Fatalf("namespace %v", dir["Namespace"])
		}
		dims := dir["Dimensions"].([]any)[0].([]any)
		for _, k := range dims {
			if k == "component" {
				t.Fatalf("excluded dimension used: %v", dims)
			}
		}
		svc, _ := d["service"].(string)
		for _, m := range dir["Metrics"].([]any) {
			name := m.(map[string]any)["Name"].(string)
			switch v := d[name].(type) {
			case float64:
				out[name+"|"+svc] += v
			case map[string]any:
				out[name+"|"+svc] += v["Count"].(float64)
				out[name+"_sum|"+svc] += v["Sum"].(float64)
			}
		}
	}
	return out
}

// emfMatches compares the EMF deltas with weft's /metrics, per service.
func emfMatches(docs map[string]float64, metrics string) (bool, string) {
	var diff []string
	for _, svc := range emfServices {
		for _, fam := range []struct{ emf, prom string }{
			{"weft_span_requests_total", "weft_span_requests_total"},
			{"weft_span_errors_total", "weft_span_errors_total"},
			{"weft_span_duration_seconds", "weft_span_duration_seconds_count"},
		} {
			want := sumMetric(metrics, fam.prom, fmt.Sprintf("service=%q", svc))
			if got := docs[fam.emf+"|"+svc]; got != want {
				diff = append(diff, fmt.Sprintf("%s{service=%s}: EMF %v, /metrics %v", fam.emf, svc, got, want))
			}
		}
		want := sumMetric(metrics, "weft_span_duration_seconds_sum", fmt.Sprintf("service=%q", svc))
		if got := docs["weft_span_duration_seconds_sum|"+svc]; abs(got-want) > 1e-9*max(1, want) {
			diff = append(diff, fmt.Sprintf("duration sum{service=%s}: EMF %v, /metrics %v", svc, got, want))
		}
	}
	return len(diff) == 0, strings.Join(diff, "; ")
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestEMFFromSpanMetrics: spans over OTLP feed span_metrics; weft_metrics
// reads weft's metrics every 300 ms and emf turns them into EMF documents in
// a file. Every document is valid EMF, and the deltas they carry add up,
// per service, to the counters and histogram counts /metrics shows — after
// each of two exports and after shutdown. The metrics pipeline accounts for
// every event: in = documents written + dropped by reason.
func TestEMFFromSpanMetrics(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "emf.ndjson")
	otlpAddr := freeAddr(t)
	cfg := filepath.Join(dir, "weft.yaml")
	writeFile(t, cfg, emfConfig(otlpAddr[strings.LastIndexByte(otlpAddr, ':')+1:], fmt.Sprintf("    - file: {path: %q, flush_interval: 0s}", out)))
	p := startWeft(t, cfg, nil)
	p.waitReady(30 * time.Second)

	read := func() []map[string]any {
		data, err := os.ReadFile(out)
		if err != nil {
			return nil
		}
		return parseNDJSON(t, string(data))
	}
	for round := 1; round <= 2; round++ {
		emfPostSpans(t, otlpAddr)
		eventually(t, 10*time.Second, fmt.Sprintf("span_metrics counting %d spans", 8*round), func() bool {
			return p.metric("weft_span_requests_total") == float64(8*round)
		})
		var why string
		eventually(t, 10*time.Second, "EMF deltas adding up to /metrics", func() bool {
			_, body := p.get("/metrics")
			ok, d := emfMatches(emfTotals(t, read()), body)
			why = d
			return ok
		})
		if why != "" {
			t.Fatal(why)
		}
	}
	if p.metric("weft_span_errors_total") != 6 {
		t.Fatalf("errors %v, want 6 (the fixture's 3 per export)", p.metric("weft_span_errors_total"))
	}

	// accounting of the metrics pipeline
	eventually(t, 10*time.Second, "metrics-pipeline events in = documents written + dropped", func() bool {
		_, body := p.get("/metrics")
		in := sumMetric(body, "weft_pipeline_events_in_total", `pipeline="metrics-pipeline"`)
		sent := sumMetric(body, "weft_component_events_sent_total", `pipeline="metrics-pipeline"`, `component="sink/0/file"`)
		dropped := sumMetric(body, "weft_pipeline_events_dropped_total", `pipeline="metrics-pipeline"`)
		docs := float64(len(read()))
		merged := sumMetric(body, "weft_pipeline_events_dropped_total", `pipeline="metrics-pipeline"`, `reason="emf_merged"`)
		return in > 0 && in == sent+dropped && sent == docs && merged > 0
	})
	_, body := p.get("/metrics")
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("weft exited with %d", code)
	}
	// the last reading at shutdown adds nothing new: still equal
	docs := read()
	if ok, why := emfMatches(emfTotals(t, docs), body); !ok {
		t.Fatalf("after shutdown: %s", why)
	}
	// one document per label set and reading: counter and histogram together
	both := 0
	for _, d := range docs {
		if _, ok := d["weft_span_requests_total"]; ok {
			if _, ok := d["weft_span_duration_seconds"]; ok {
				both++
			}
		}
	}
	if both == 0 {
		t.Errorf("no document holds both the requests counter and the duration histogram of a series")
	}
}

// emfOTLPMetrics is an OTLP/JSON metrics export of service shop: a
// cumulative counter, a delta counter, a cumulative histogram (ms) and a
// gauge, all points started at start.
func emfOTLPMetrics(start, now time.Time, orders, deltaOrders int, buckets [3]int, sum float64, queue int) string {
	count := buckets[0] + buckets[1] + buckets[2]
	return fmt.Sprintf(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
 "scopeMetrics":[{"scope":{"name":"shop"},"metrics":[
  {"name":"orders","unit":"{order}","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
    {"attributes":[{"key":"http.route","value":{"stringValue":"/checkout"}}],"startTimeUnixNano":"%[1]d","timeUnixNano":"%[2]d","asInt":"%[3]d"}]}},
  {"name":"refunds","unit":"{refund}","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[
    {"startTimeUnixNano":"%[2]d","timeUnixNano":"%[2]d","asInt":"%[4]d"}]}},
  {"name":"checkout.latency","unit":"ms","histogram":{"aggregationTemporality":2,"dataPoints":[
    {"startTimeUnixNano":"%[1]d","timeUnixNano":"%[2]d","count":"%[5]d","sum":%[6]v,"bucketCounts":["%[7]d","%[8]d","%[9]d"],"explicitBounds":[5,50]}]}},
  {"name":"queue.depth","gauge":{"dataPoints":[{"timeUnixNano":"%[2]d","asInt":"%[10]d"}]}}
 ]}]}]}`, start.UnixNano(), now.UnixNano(), orders, deltaOrders, count, sum, buckets[0], buckets[1], buckets[2], queue)
}

// TestEMFFromOTLPMetrics: OpenTelemetry metrics over OTLP/HTTP → emf →
// file. The cumulative counter and histogram become deltas (their start
// is after weft's, so the first point counts in full), the delta counter
// is taken as it is, the gauge as its value; units come from the OTLP
// units; every document is valid EMF.
func TestEMFFromOTLPMetrics(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "emf.ndjson")
	otlpAddr := freeAddr(t)
	cfg := filepath.Join(dir, "weft.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
metrics-pipeline:
  source:
    otlp: {host: 127.0.0.1, grpc_port: 0, http_port: %s, signals: [metrics]}
  processor:
    - emf: {namespace: shop}
  sink:
    - file: {path: %q, flush_interval: 0s}
`, otlpAddr[strings.LastIndexByte(otlpAddr, ':')+1:], out))
	p := startWeft(t, cfg, nil)
	p.waitReady(30 * time.Second)
	start := time.Now()
	post := func(body string) {
		resp, err := http.Post("http://"+otlpAddr+"/v1/metrics", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("OTLP metrics export: HTTP %d", resp.StatusCode)
		}
	}
	post(emfOTLPMetrics(start, start.Add(time.Second), 5, 4, [3]int{1, 2, 0}, 30, 7))
	post(emfOTLPMetrics(start, start.Add(2*time.Second), 12, 4, [3]int{1, 3, 1}, 95, 3))

	type total struct{ orders, refunds, latencyCount, latencySum float64 }
	var got total
	units := map[string]any{}
	var queue []float64
	eventually(t, 10*time.Second, "the documents of both exports", func() bool {
		data, _ := os.ReadFile(out)
		docs := parseNDJSON(t, string(data))
		got, queue = total{}, nil
		for _, d := range docs {
			if err := emf.CheckDocument(d); err != nil {
				t.Fatalf("invalid EMF: %v: %v", err, d)
			}
			if d["service.name"] != "shop" {
				t.Fatalf("service.name %v", d["service.name"])
			}
			for _, m := range d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Metrics"].([]any) {
				units[m.(map[string]any)["Name"].(string)] = m.(map[string]any)["Unit"]
			}
			if v, ok := d["orders"].(float64); ok {
				got.orders += v
				if d["http.route"] != "/checkout" {
					t.Fatalf("orders without its route: %v", d)
				}
			}
			if v, ok := d["refunds"].(float64); ok {
				got.refunds += v
			}
			if h, ok := d["checkout.latency"].(map[string]any); ok {
				got.latencyCount += h["Count"].(float64)
				got.latencySum += h["Sum"].(float64)
			}
			if v, ok := d["queue.depth"].(float64); ok {
				queue = append(queue, v)
			}
		}
		return got == total{12, 8, 5, 95} && len(queue) == 2
	})
	if queue[0]+queue[1] != 10 {
		t.Errorf("gauge values %v, want 7 and 3", queue)
	}
	want := map[string]any{"orders": "Count", "refunds": "Count", "checkout.latency": "Milliseconds", "queue.depth": nil}
	for k, v := range want {
		if units[k] != v {
			t.Errorf("unit of %s: %v, want %v", k, units[k], v)
		}
	}
}
