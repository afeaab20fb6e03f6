//go:build integration

// Integration tests of weft's Prometheus side against a real Prometheus
// server (Debian's package, started by test/prometheus/start.sh): the
// server scrapes the built weft's /metrics (up, span RED metrics,
// log_metrics), `promtool check metrics` judges the exposition, and the
// prometheus sink remote-writes into the server's receiver — weft's own
// metrics (source: gatherer) and metric events — directly and through a
// fault-injecting proxy. They need WEFT_PROMETHEUS_URL and fail without
// it; scripts/test.sh starts the server and sets it.
//
//	URL=$(test/prometheus/start.sh) && WEFT_PROMETHEUS_URL=$URL go test -race -count=1 -tags integration -run Prometheus ./e2e/
package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// promURL is the Prometheus server's base URL; the tests fail (never skip)
// without it.
func promURL(t *testing.T) string {
	t.Helper()
	u := strings.TrimRight(os.Getenv("WEFT_PROMETHEUS_URL"), "/")
	if u == "" {
		t.Fatal("WEFT_PROMETHEUS_URL is not set: run `URL=$(test/prometheus/start.sh)` and export WEFT_PROMETHEUS_URL=$URL (scripts/test.sh does both)")
	}
	return u
}

func promRunID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// promTarget asks the server which address it scrapes as job "weft" (the
// target start.sh wrote into its configuration).
func promTarget(t *testing.T, base string) string {
	t.Helper()
	var resp struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				ScrapeURL string            `json:"scrapeUrl"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		promGetJSON(t, base+"/api/v1/targets?state=active", &resp)
		for _, tg := range resp.Data.ActiveTargets {
			if tg.Labels["job"] == "weft" {
				u, err := url.Parse(tg.ScrapeURL)
				if err != nil {
					t.Fatal(err)
				}
				return u.Host
			}
		}
		last = fmt.Sprint(resp.Data.ActiveTargets)
	}
	t.Fatalf("Prometheus at %s has no active target with job=\"weft\" (targets: %s); start it with test/prometheus/start.sh", base, last)
	return ""
}

func promGetJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: HTTP %d: %s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, b)
	}
}

// promSample is one element of an instant vector.
type promSample struct {
	Metric map[string]string
	Value  float64
	Time   float64
}

// promQuery runs an instant query (at ts when not zero).
func promQuery(t *testing.T, base, q string, ts time.Time) []promSample {
	t.Helper()
	v := url.Values{"query": {q}}
	if !ts.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(ts.UnixMilli())/1000, 'f', 3, 64))
	}
	var resp struct {
		Status string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	promGetJSON(t, base+"/api/v1/query?"+v.Encode(), &resp)
	var out []promSample
	for _, r := range resp.Data.Result {
		s, _ := r.Value[1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%s: value %v", q, r.Value)
		}
		tm, _ := r.Value[0].(float64)
		out = append(out, promSample{Metric: r.Metric, Value: f, Time: tm})
	}
	return out
}

// promWait polls a query until check accepts its result.
func promWait(t *testing.T, base, q string, timeout time.Duration, check func([]promSample) bool) []promSample {
	t.Helper()
	var got []promSample
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		got = promQuery(t, base, q, time.Time{})
		if check(got) {
			return got
		}
	}
	t.Fatalf("timed out after %v waiting for %s; last result: %v", timeout, q, got)
	return nil
}

// promScalar waits until the query returns one sample of value want.
func promScalar(t *testing.T, base, q string, want float64, timeout time.Duration) {
	t.Helper()
	promWait(t, base, q, timeout, func(s []promSample) bool {
		return len(s) == 1 && math.Abs(s[0].Value-want) < 1e-9
	})
}

// promPostJSON posts a JSON array of records to weft's http source.
func promPostJSON(t *testing.T, u string, records any) {
	t.Helper()
	b, _ := json.Marshal(records)
	resp, err := http.Post(u, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: HTTP %d: %s", u, resp.StatusCode, body)
	}
}

// promStartWeft runs weft with its admin server at admin and waits until
// it is ready.
func promStartWeft(t *testing.T, cfg, admin string) *agentProc {
	t.Helper()
	p := promStartWeftLive(t, cfg, admin)
	p.waitReady(20 * time.Second)
	return p
}

// promStartWeftLive runs weft and waits only until its admin server
// answers (a sink whose destination is down keeps it unready).
func promStartWeftLive(t *testing.T, cfg, admin string) *agentProc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pipelines.yaml")
	writeFile(t, path, cfg)
	p := startWeft(t, path, nil, "--admin", admin)
	p.admin = admin
	eventually(t, 20*time.Second, "weft's admin server", func() bool {
		resp, err := http.Get("http://" + admin + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

// promLocalSeries reads the series of one family from weft's own /metrics
// text: label set (without pipeline and component) → value.
func promLocalSeries(body, name string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		var ls []string
		for _, kv := range promSplitLabels(line[len(name)+1 : end]) {
			// Prometheus drops empty labels; so does the comparison.
			if !strings.HasPrefix(kv, "pipeline=") && !strings.HasPrefix(kv, "component=") && !strings.HasSuffix(kv, `=""`) {
				ls = append(ls, kv)
			}
		}
		sort.Strings(ls)
		v, _ := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		out[strings.Join(ls, ",")] = v
	}
	return out
}

// promSplitLabels splits `a="x",b="y,z"` at the commas between labels.
func promSplitLabels(s string) []string {
	var out []string
	inQ, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQ = !inQ
		case ',':
			if !inQ {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func promKey(m map[string]string, drop ...string) string {
	var ls []string
	for k, v := range m {
		skip := k == "__name__" || k == "pipeline" || k == "component"
		for _, d := range drop {
			skip = skip || k == d
		}
		if !skip {
			ls = append(ls, fmt.Sprintf("%s=%q", k, v))
		}
	}
	sort.Strings(ls)
	return strings.Join(ls, ",")
}

// logRecords are the log lines both the scrape and the gatherer tests
// count: 7 info lines of service a (10 ms each), 3 error lines of service b
// (250, 500, 1500 ms).
func logRecords() []map[string]any {
	var recs []map[string]any
	for i := 0; i < 7; i++ {
		recs = append(recs, map[string]any{"level": "info", "service": "a", "duration_ms": 10, "msg": "ok"})
	}
	for _, d := range []int{250, 500, 1500} {
		recs = append(recs, map[string]any{"level": "error", "service": "b", "duration_ms": d, "msg": "failed"})
	}
	return recs
}

const promLogMetrics = `
    - log_metrics:
        name: app_log_events
        help: Log lines by level and service.
        labels: {level: /level, service: /service}
        histogram: {field: /duration_ms, buckets: [0.05, 0.5, 1, 5], unit_scale: 0.001, name_suffix: _duration_seconds}`

// TestPrometheusScrapesWeft: Prometheus scrapes the built weft every
// second; up is 1, the span RED metrics of the OTLP fixture and the
// log_metrics series come back through the query API with weft's values,
// and promtool finds no problem in the exposition.
func TestPrometheusScrapesWeft(t *testing.T) {
	base := promURL(t)
	target := promTarget(t, base)
	otlpAddr, logAddr := freeAddr(t), freeAddr(t)
	otlpPortN := otlpAddr[strings.LastIndexByte(otlpAddr, ':')+1:]
	cfg := fmt.Sprintf(`
trace-pipeline:
  source:
    otlp: {host: 127.0.0.1, grpc_port: 0, http_port: %s}
  processor:
    - otel_trace_raw: {}
    - span_metrics: {dimensions: [http.method]}
  sink:
    - blackhole: {}
log-pipeline:
  source:
    http: {host: 127.0.0.1, port: %s}
  processor:%s
  sink:
    - blackhole: {}
`, otlpPortN, logAddr[strings.LastIndexByte(logAddr, ':')+1:], promLogMetrics)
	p := promStartWeft(t, cfg, target)

	// Spans: the shared OTLP/JSON fixture (two checkouts, the second fails
	// in the payment service). Logs: logRecords.
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
	promPostJSON(t, "http://"+logAddr+"/log/ingest", logRecords())
	eventually(t, 10*time.Second, "weft counting 8 spans and 10 log lines", func() bool {
		return p.metric("weft_span_requests_total") == 8 && p.metric("app_log_events_total") == 10
	})
	_, body := p.get("/metrics")

	// The server scrapes weft.
	promScalar(t, base, `up{job="weft"} == 1`, 1, 15*time.Second)

	// RED series: every weft_span_requests_total / weft_span_errors_total
	// series of weft's exposition, with the same value, in Prometheus.
	for _, fam := range []string{"weft_span_requests_total", "weft_span_errors_total"} {
		local := promLocalSeries(body, fam)
		if len(local) == 0 {
			t.Fatalf("weft exposes no %s", fam)
		}
		total := 0.0
		for _, v := range local {
			total += v
		}
		got := promWait(t, base, fam+`{job="weft"}`, 15*time.Second, func(s []promSample) bool {
			sum := 0.0
			for _, x := range s {
				sum += x.Value
			}
			return len(s) == len(local) && sum == total
		})
		for _, s := range got {
			k := promKey(s.Metric, "job", "instance")
			if lv, ok := local[k]; !ok || lv != s.Value {
				t.Errorf("%s{%s} = %v in Prometheus, %v (present %v) in weft", fam, k, s.Value, lv, ok)
			}
		}
	}
	// The fixture's values, independently: 8 spans; errors in each
	// service's checkout of the second trace.
	promScalar(t, base, `sum(weft_span_requests_total{job="weft"})`, 8, 5*time.Second)
	promScalar(t, base, `sum(weft_span_requests_total{job="weft",service="payment",operation="update_inventory"})`, 2, 5*time.Second)
	for _, svc := range []string{"client", "order", "payment"} {
		promScalar(t, base, fmt.Sprintf(`sum(weft_span_errors_total{job="weft",service=%q})`, svc), 1, 5*time.Second)
	}
	promScalar(t, base, `sum(weft_span_duration_seconds_count{job="weft"})`, 8, 5*time.Second)

	// log_metrics: counts by label, and the histogram in seconds.
	promScalar(t, base, `app_log_events_total{job="weft",level="info",service="a"}`, 7, 5*time.Second)
	promScalar(t, base, `app_log_events_total{job="weft",level="error",service="b"}`, 3, 5*time.Second)
	promScalar(t, base, `app_log_events_duration_seconds_sum{job="weft",service="b"}`, 2.25, 5*time.Second)
	promScalar(t, base, `app_log_events_duration_seconds_bucket{job="weft",service="b",le="1"}`, 2, 5*time.Second)
	promScalar(t, base, `sum(app_log_events_duration_seconds_count{job="weft"})`, 10, 5*time.Second)
	// The agent's own series are there too.
	promScalar(t, base, `sum(weft_pipeline_events_in_total{job="weft",pipeline="log-pipeline"})`, 10, 5*time.Second)

	promtoolCheck(t, body)
}

// promtoolCheck runs `promtool check metrics` on an exposition; it must
// report nothing.
func promtoolCheck(t *testing.T, body string) {
	t.Helper()
	tool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found (it comes with Debian's prometheus package: test/prometheus/start.sh installs it)")
	}
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestPrometheusRemoteWriteGatherer: with source: gatherer the prometheus
// sink sends weft's own metrics (log_metrics, span_metrics, the agent's)
// to the server's remote write receiver, no scrape involved; a last
// reading goes out at shutdown.
func TestPrometheusRemoteWriteGatherer(t *testing.T) {
	base := promURL(t)
	run := promRunID()
	admin, logAddr := freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf(`
log-pipeline:
  source:
    http: {host: 127.0.0.1, port: %s}
  processor:%s
  sink:
    - blackhole: {}
    - prometheus:
        url: %s/api/v1/write
        insecure: true
        source: gatherer
        scrape_interval: 500ms
        metrics_url: http://%s/metrics
        exclude_metrics: ["go_*"]
        external_labels: {weft_run: %q}
`, logAddr[strings.LastIndexByte(logAddr, ':')+1:], promLogMetrics, base, admin, run)
	p := promStartWeft(t, cfg, admin)
	promPostJSON(t, "http://"+logAddr+"/log/ingest", logRecords())

	sel := fmt.Sprintf(`weft_run=%q`, run)
	promScalar(t, base, fmt.Sprintf(`app_log_events_total{%s,level="info",service="a"}`, sel), 7, 15*time.Second)
	promScalar(t, base, fmt.Sprintf(`app_log_events_total{%s,level="error",service="b"}`, sel), 3, 5*time.Second)
	promScalar(t, base, fmt.Sprintf(`app_log_events_duration_seconds_bucket{%s,service="b",le="0.5"}`, sel), 2, 5*time.Second)
	promScalar(t, base, fmt.Sprintf(`app_log_events_duration_seconds_sum{%s,service="b"}`, sel), 2.25, 5*time.Second)
	// Remote-written series are not scraped ones: no job, no instance.
	got := promQuery(t, base, fmt.Sprintf(`app_log_events_total{%s}`, sel), time.Time{})
	for _, s := range got {
		if s.Metric["job"] != "" || s.Metric["instance"] != "" || s.Metric["pipeline"] != "log-pipeline" || s.Metric["component"] != "processor/0/log_metrics" {
			t.Errorf("labels %v", s.Metric)
		}
	}
	// The agent's metrics and the sink's own arrive too; go_* is excluded.
	promScalar(t, base, fmt.Sprintf(`weft_pipeline_events_in_total{%s,pipeline="log-pipeline"}`, sel), 10, 5*time.Second)
	promWait(t, base, fmt.Sprintf(`weft_prometheus_samples_total{%s,result="sent"}`, sel), 5*time.Second, func(s []promSample) bool { return len(s) == 1 && s[0].Value > 0 })
	if n := promQuery(t, base, fmt.Sprintf(`count({%s,__name__=~"go_.*"})`, sel), time.Time{}); len(n) != 0 {
		t.Errorf("excluded go_* series arrived: %v", n)
	}
	if v := p.metric("weft_prometheus_samples_total", `result="out_of_order"`) + p.metric("weft_prometheus_samples_total", `result="rejected"`); v != 0 {
		t.Errorf("samples refused: %v", v)
	}

	// The exposition with the sink's own metrics passes promtool too.
	_, body := p.get("/metrics")
	promtoolCheck(t, body)

	// More lines, then SIGTERM: the last reading at shutdown carries them.
	promPostJSON(t, "http://"+logAddr+"/log/ingest", logRecords()[7:])
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	promScalar(t, base, fmt.Sprintf(`app_log_events_total{%s,level="error",service="b"}`, sel), 6, 5*time.Second)
}

// TestPrometheusRemoteWriteMetricEvents: metric events (counter, gauge,
// histogram, summary; explicit timestamps) through the sink into the
// server, queried back at their times. A sample older than what the server
// holds is refused with 400 "out of order": counted, dead-lettered, not
// retried, and the rest of its request still stored.
func TestPrometheusRemoteWriteMetricEvents(t *testing.T) {
	base := promURL(t)
	run := promRunID()
	dir := t.TempDir()
	dlq := filepath.Join(dir, "dlq.ndjson")
	cfgFor := func(logAddr string) string {
		return fmt.Sprintf(`
metrics-pipeline:
  source:
    http: {host: 127.0.0.1, port: %s}
  sink:
    - prometheus:
        url: %s/api/v1/write
        insecure: true
        threshold: {max_events: 100, flush_interval: 200ms}
        external_labels: {weft_run: %q}
        dlq_file: %s
`, logAddr[strings.LastIndexByte(logAddr, ':')+1:], base, run, dlq)
	}
	admin, logAddr := freeAddr(t), freeAddr(t)
	p := promStartWeft(t, cfgFor(logAddr), admin)

	t0 := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	var events []map[string]any
	for i := 0; i < 5; i++ { // a counter over 5 timestamps, sent out of order
		j := []int{3, 0, 4, 1, 2}[i]
		events = append(events, map[string]any{"name": "shop_orders_total", "kind": "counter",
			"labels": map[string]any{"service": "order", "code": 200}, "value": 10 * (j + 1), "timestamp": ms(time.Duration(j) * 10 * time.Second)})
	}
	events = append(events,
		map[string]any{"name": "shop.queue-depth", "value": 3.5, "timestamp": t0.Add(5 * time.Second).Format(time.RFC3339Nano)},
		map[string]any{"name": "shop_rpc_seconds", "kind": "histogram", "labels": map[string]any{"rpc": "pay"},
			"buckets": []any{map[string]any{"le": 0.1, "count": 4}, map[string]any{"le": 1, "count": 9}}, "count": 10, "sum": 4.2, "timestamp": ms(20 * time.Second)},
		map[string]any{"name": "shop_gc_seconds", "kind": "summary", "quantiles": []any{map[string]any{"quantile": 0.99, "value": 0.02}},
			"count": 5, "sum": 0.05, "timestamp": ms(20 * time.Second)},
		map[string]any{"name": "not a metric at all"},
	)
	promPostJSON(t, "http://"+logAddr+"/log/ingest", events)
	eventually(t, 10*time.Second, "events settled", func() bool {
		return p.metric("weft_component_events_sent_total", `component="sink/0/prometheus"`)+
			p.metric("weft_component_events_failed_total", `component="sink/0/prometheus"`) == float64(len(events))
	})
	if v := p.metric("weft_component_events_failed_total", `component="sink/0/prometheus"`, `reason="dead_letter"`); v != 1 {
		t.Errorf("dead-lettered %v events, want 1 (the invalid one)", v)
	}

	sel := fmt.Sprintf(`weft_run=%q`, run)
	for j := 0; j < 5; j++ {
		at := t0.Add(time.Duration(j) * 10 * time.Second)
		got := promQuery(t, base, fmt.Sprintf(`shop_orders_total{%s,service="order",code="200"}`, sel), at)
		if len(got) != 1 || got[0].Value != float64(10*(j+1)) {
			t.Errorf("counter at +%ds: %v", j*10, got)
		}
	}
	if got := promQuery(t, base, fmt.Sprintf(`shop_queue_depth{%s}`, sel), t0.Add(5*time.Second)); len(got) != 1 || got[0].Value != 3.5 {
		t.Errorf("gauge (sanitized name): %v", got)
	}
	at := t0.Add(20 * time.Second)
	for q, want := range map[string]float64{
		`shop_rpc_seconds_bucket{%s,rpc="pay",le="0.1"}`:  4,
		`shop_rpc_seconds_bucket{%s,rpc="pay",le="1"}`:    9,
		`shop_rpc_seconds_bucket{%s,rpc="pay",le="+Inf"}`: 10,
		`shop_rpc_seconds_sum{%s,rpc="pay"}`:              4.2,
		`shop_rpc_seconds_count{%s,rpc="pay"}`:            10,
		`shop_gc_seconds{%s,quantile="0.99"}`:             0.02,
		`shop_gc_seconds_count{%s}`:                       5,
	} {
		if got := promQuery(t, base, fmt.Sprintf(q, sel), at); len(got) != 1 || got[0].Value != want {
			t.Errorf("%s: %v, want %v", fmt.Sprintf(q, sel), got, want)
		}
	}
	if got := promQuery(t, base, fmt.Sprintf(`histogram_quantile(0.5, shop_rpc_seconds_bucket{%s})`, sel), at); len(got) != 1 || got[0].Value <= 0.1 || got[0].Value > 1 {
		t.Errorf("histogram_quantile: %v", got)
	}

	// A new weft process (it does not remember what it sent) sends a sample
	// older than the server's newest for the counter, and a fresh series in
	// the same request.
	p.signal(syscall.SIGTERM)
	p.wait(30 * time.Second)
	admin2, logAddr2 := freeAddr(t), freeAddr(t)
	p2 := promStartWeft(t, cfgFor(logAddr2), admin2)
	promPostJSON(t, "http://"+logAddr2+"/log/ingest", []map[string]any{
		{"name": "shop_orders_total", "kind": "counter", "labels": map[string]any{"service": "order", "code": 200}, "value": 1, "timestamp": ms(15 * time.Second)},
		{"name": "shop_refunds_total", "kind": "counter", "value": 2, "timestamp": ms(50 * time.Second)},
	})
	eventually(t, 10*time.Second, "events settled", func() bool {
		return p2.metric("weft_component_events_sent_total", `component="sink/0/prometheus"`)+
			p2.metric("weft_component_events_failed_total", `component="sink/0/prometheus"`) == 2
	})
	if v := p2.metric("weft_prometheus_samples_total", `result="out_of_order"`); v != 1 {
		t.Errorf("samples{out_of_order} = %v", v)
	}
	// Prometheus refuses the whole request; the sink splits it and sends
	// each series once: the refused one alone gets a second 400, and is not
	// retried.
	if v := p2.metric("weft_prometheus_remote_write_requests_total", `status="400"`); v != 2 {
		t.Errorf("requests{400} = %v, want 2 (the request, then the offending series alone)", v)
	}
	if v := p2.metric("weft_prometheus_remote_write_requests_total", `status="204"`); v != 1 {
		t.Errorf("requests{204} = %v, want 1", v)
	}
	if v := p2.metric("weft_component_events_sent_total", `component="sink/0/prometheus"`); v != 1 {
		t.Errorf("events sent = %v", v)
	}
	if got := promQuery(t, base, fmt.Sprintf(`shop_refunds_total{%s}`, sel), t0.Add(50*time.Second)); len(got) != 1 || got[0].Value != 2 {
		t.Errorf("the other series of the refused request: %v", got)
	}
	if got := promQuery(t, base, fmt.Sprintf(`shop_orders_total{%s}`, sel), t0.Add(15*time.Second)); len(got) != 1 || got[0].Value != 20 {
		t.Errorf("the stored counter changed: %v", got)
	}
	data, _ := os.ReadFile(dlq)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("dead letters: %s", data)
	}
	e0, _ := lines[0]["error"].(map[string]any)
	e1, _ := lines[1]["error"].(map[string]any)
	if e0["type"] != "invalid_metric" || e1["type"] != "out_of_order" || lines[1]["status"] != float64(400) ||
		!strings.Contains(fmt.Sprint(e1["reason"]), "out of order") {
		t.Errorf("dead letters: %s", data)
	}
}

// promFaultProxy forwards remote write requests to the server, answering
// some itself as the test says.
type promFaultProxy struct {
	srv   *httptest.Server
	mu    sync.Mutex
	plan  []int // statuses to answer before forwarding; 0 forwards
	count int   // requests received
}

func newPromFaultProxy(t *testing.T, base string) *promFaultProxy {
	u, _ := url.Parse(base)
	rp := httputil.NewSingleHostReverseProxy(u)
	f := &promFaultProxy{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.count++
		status := 0
		if len(f.plan) > 0 {
			status, f.plan = f.plan[0], f.plan[1:]
		}
		f.mu.Unlock()
		if status == 0 {
			rp.ServeHTTP(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		if status == 429 {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, fmt.Sprintf("injected %d", status), status)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *promFaultProxy) set(plan ...int) {
	f.mu.Lock()
	f.plan = plan
	f.count = 0
	f.mu.Unlock()
}

func (f *promFaultProxy) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// TestPrometheusRemoteWriteFaultProxy: 503 and 429 (with Retry-After) from
// a proxy in front of the server are retried until the samples are stored,
// nothing lost or duplicated; a 400 is not retried.
func TestPrometheusRemoteWriteFaultProxy(t *testing.T) {
	base := promURL(t)
	run := promRunID()
	proxy := newPromFaultProxy(t, base)
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	admin, logAddr := freeAddr(t), freeAddr(t)
	p := promStartWeft(t, fmt.Sprintf(`
metrics-pipeline:
  source:
    http: {host: 127.0.0.1, port: %s}
  sink:
    - prometheus:
        url: %s/api/v1/write
        insecure: true
        threshold: {max_events: 50, flush_interval: 100ms}
        initial_backoff: 50ms
        max_backoff: 2s
        max_retries: 10
        external_labels: {weft_run: %q}
        dlq_file: %s
`, logAddr[strings.LastIndexByte(logAddr, ':')+1:], proxy.srv.URL, run, dlq), admin)

	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	proxy.set(503, 503, 429, 502)
	var events []map[string]any
	for i := 0; i < 120; i++ {
		events = append(events, map[string]any{"name": "fault_test_value", "labels": map[string]any{"i": i}, "value": i, "timestamp": t0.UnixMilli()})
	}
	start := time.Now()
	promPostJSON(t, "http://"+logAddr+"/log/ingest", events)
	eventually(t, 30*time.Second, "120 events delivered", func() bool {
		return p.metric("weft_component_events_sent_total", `component="sink/0/prometheus"`) == 120
	})
	if time.Since(start) < time.Second {
		t.Errorf("the 429's Retry-After: 1 was not honoured (done in %v)", time.Since(start))
	}
	sel := fmt.Sprintf(`weft_run=%q`, run)
	promScalar(t, base, fmt.Sprintf(`count(fault_test_value{%s})`, sel), 120, 10*time.Second)
	promScalar(t, base, fmt.Sprintf(`sum(fault_test_value{%s})`, sel), 119*120/2, 5*time.Second)
	// Every stored series has exactly one sample: nothing duplicated.
	promScalar(t, base, fmt.Sprintf(`max(count_over_time(fault_test_value{%s}[10m]))`, sel), 1, 5*time.Second)
	for st, min := range map[string]float64{"503": 2, "429": 1, "502": 1, "204": 3} {
		if v := p.metric("weft_prometheus_remote_write_requests_total", `status="`+st+`"`); v < min {
			t.Errorf("requests{%s} = %v, want at least %v", st, v, min)
		}
	}
	if v := p.metric("weft_prometheus_events_retried_total"); v == 0 {
		t.Error("no event counted as retried")
	}

	// A 400 is final: one request, the events dead-lettered.
	proxy.set(400)
	promPostJSON(t, "http://"+logAddr+"/log/ingest", []map[string]any{
		{"name": "fault_test_refused", "value": 1, "timestamp": t0.UnixMilli()},
	})
	eventually(t, 10*time.Second, "the refused event dead-lettered", func() bool {
		return p.metric("weft_component_events_failed_total", `component="sink/0/prometheus"`, `reason="dead_letter"`) == 1
	})
	time.Sleep(500 * time.Millisecond)
	if n := proxy.requests(); n != 1 {
		t.Errorf("%d requests after the 400, want 1 (no retry)", n)
	}
	if v := p.metric("weft_prometheus_samples_total", `result="rejected"`); v != 1 {
		t.Errorf("samples{rejected} = %v", v)
	}
	data, _ := os.ReadFile(dlq)
	if !strings.Contains(string(data), `"status":400,"error":{"type":"http_400","reason":"injected 400"}`) {
		t.Errorf("dead letters: %s", data)
	}
	if n := promQuery(t, base, fmt.Sprintf(`fault_test_refused{%s}`, sel), time.Time{}); len(n) != 0 {
		t.Errorf("refused sample stored: %v", n)
	}
}

// TestPrometheusPromtoolWideExposition: an agent running most plugins
// (sources, processors, sinks) with traffic through them, so their metric
// vectors have children, exposes nothing promtool objects to.
func TestPrometheusPromtoolWideExposition(t *testing.T) {
	promURL(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.log"), "{\"level\":\"info\",\"msg\":\"tailed\"}\n")
	writeFile(t, filepath.Join(dir, "in.ndjson"), "{\"b\":1}\n")
	admin, otlpAddr, logAddr, fwdAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	port := func(a string) string { return a[strings.LastIndexByte(a, ':')+1:] }
	p := promStartWeftLive(t, fmt.Sprintf(`
entry-pipeline:
  source:
    otlp: {host: 127.0.0.1, grpc_port: 0, http_port: %s}
  sink:
    - pipeline: {name: raw-pipeline}
    - pipeline: {name: map-pipeline}
raw-pipeline:
  source: {pipeline: {name: entry-pipeline}}
  processor:
    - otel_trace_raw: {}
    - span_metrics: {}
    - correlate: {store: shop}
  sink:
    - opensearch: {hosts: ["http://127.0.0.1:1"], index_type: trace-analytics-raw, max_retries: 0}
map-pipeline:
  source: {pipeline: {name: entry-pipeline}}
  processor:
    - service_map: {}
  sink:
    - blackhole: {}
log-pipeline:
  source:
    http: {host: 127.0.0.1, port: %s}
  processor:
    - trace_context: {}
    - mask: {key: "0123456789abcdef0123456789abcdef"}
    - correlate: {store: shop}%s
    - drop_events: {drop_when: '/level == "debug"'}
  sink:
    - file: {path: %s}
    - prometheus: {url: "http://127.0.0.1:1/api/v1/write", insecure: true, threshold: {flush_interval: 100ms}, max_retries: 0}
forward-pipeline:
  source:
    forward: {host: 127.0.0.1, port: %s}
  processor:
    - parse_json: {}
  sink:
    - blackhole: {}
tail-pipeline:
  source:
    tail: {paths: ["%s/*.log"]}
  sink:
    - blackhole: {}
file-pipeline:
  source:
    file: {path: %s, mode: follow, format: json}
  processor:
    - add_entries: {entries: [{key: x, value: 1}]}
    - rename_keys: {entries: [{from_key: x, to_key: y}]}
    - copy_values: {entries: [{from_key: y, to_key: z}]}
    - delete_entries: {with_keys: [z]}
  sink:
    - blackhole: {}
`, port(otlpAddr), port(logAddr), promLogMetrics, filepath.Join(dir, "out.ndjson"), port(fwdAddr), dir, filepath.Join(dir, "in.ndjson")), admin)
	// (Not waiting for readiness: the opensearch sink, whose cluster does
	// not exist, keeps the agent unready.)
	time.Sleep(500 * time.Millisecond)
	fix, err := os.ReadFile(fixture("otlp-traces.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+otlpAddr+"/v1/traces", "application/json", bytes.NewReader(fix))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	promPostJSON(t, "http://"+logAddr+"/log/ingest", logRecords())
	// A metric event the sink cannot deliver (nothing listens): its failure
	// series appear too.
	promPostJSON(t, "http://"+logAddr+"/log/ingest", []map[string]any{{"name": "x_total", "value": 1, "level": "debug2"}})
	// The tail source starts at the end of files present at start.
	f, err := os.OpenFile(filepath.Join(dir, "app.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{\"level\":\"warn\",\"msg\":\"appended\"}\n")
	f.Close()
	want := map[string]func() bool{
		"8 spans":               func() bool { return p.metric("weft_span_requests_total") == 8 },
		"11 log lines":          func() bool { return p.metric("app_log_events_total") == 11 },
		"a tailed line":         func() bool { return p.metric("weft_pipeline_events_in_total", `pipeline="tail-pipeline"`) >= 1 },
		"a file line":           func() bool { return p.metric("weft_pipeline_events_in_total", `pipeline="file-pipeline"`) >= 1 },
		"a failed remote write": func() bool { return p.metric("weft_prometheus_remote_write_requests_total", `status="error"`) >= 1 },
	}
	for what, ok := range want {
		eventually(t, 15*time.Second, what, ok)
	}
	_, body := p.get("/metrics")
	promtoolCheck(t, body)
}
