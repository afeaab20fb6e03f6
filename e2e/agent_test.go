package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// stdin → processors → file, through the built binary.
func TestStdinThroughProcessorsToFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
logs:
  delay: 50
  source:
    stdin:
  processor:
    - parse_json: {}
    - rename_keys:
        entries: [{from_key: msg, to_key: text}]
    - copy_values:
        entries: [{from_key: /headers/x-b3-traceid, to_key: traceId}]
    - delete_entries: {with_keys: [message, file, func]}
    - add_entries:
        entries: [{key: env, value: test}]
    - drop_events: {drop_when: '/level == "debug"'}
  sink:
    - file: {path: "%s/out-${/level}.ndjson"}
`, dir))
	input := ""
	want := map[string]int{}
	for i := 0; i < 300; i++ {
		level := []string{"info", "error", "debug"}[i%3]
		input += fmt.Sprintf(`{"level":"%s","msg":"m%d","file":"x.go","func":"f","headers":{"x-b3-traceid":"%032x"}}`+"\n", level, i, i)
		if level != "debug" {
			want[level]++
		}
	}
	p := startWeft(t, cfg, strings.NewReader(input))
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for level, n := range want {
		docs := readNDJSON(t, filepath.Join(dir, "out-"+level+".ndjson"))
		if len(docs) != n {
			t.Fatalf("%s: %d documents, want %d", level, len(docs), n)
		}
		for _, d := range docs {
			if d["env"] != "test" || d["level"] != level || !strings.HasPrefix(d["text"].(string), "m") {
				t.Fatalf("document not processed: %v", d)
			}
			for _, gone := range []string{"message", "file", "func", "msg"} {
				if _, ok := d[gone]; ok {
					t.Fatalf("%q should have been removed: %v", gone, d)
				}
			}
			if tid, _ := d["traceId"].(string); len(tid) != 32 {
				t.Fatalf("traceId not copied: %v", d)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out-debug.ndjson")); err == nil {
		t.Fatal("debug lines should have been dropped")
	}
	stopped := findLog(p.stderr.String(), "pipeline stopped")
	if len(stopped) != 1 || stopped[0]["events_in"] != 300.0 || stopped[0]["events_out"] != 200.0 {
		t.Fatalf("pipeline accounting in the shutdown log: %v", stopped)
	}
}

// Two chained pipelines with fan-out, as in the reference pipelines.yaml.
func TestChainedPipelinesWithFanOut(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, `{"n":%d,"status":%d}`+"\n", i, 200+100*(i%4))
	}
	writeFile(t, in, b.String())
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
entry-pipeline:
  delay: 20
  source:
    file: {path: %q, format: json}
  sink:
    - pipeline: {name: raw-pipeline}
    - pipeline: {name: errors-pipeline}
raw-pipeline:
  delay: 20
  source: {pipeline: {name: entry-pipeline}}
  processor:
    - add_entries: {entries: [{key: copy, value: raw}]}
  sink:
    - file: {path: %q}
errors-pipeline:
  delay: 20
  source: {pipeline: {name: entry-pipeline}}
  route:
    - server: '/status >= 500'
    - client: '/status >= 400 and /status < 500'
  sink:
    - file: {path: %q, routes: [server]}
    - file: {path: %q, routes: [client]}
`, in, filepath.Join(dir, "raw.ndjson"), filepath.Join(dir, "5xx.ndjson"), filepath.Join(dir, "4xx.ndjson")))
	p := startWeft(t, cfg, nil)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	raw := readNDJSON(t, filepath.Join(dir, "raw.ndjson"))
	if len(raw) != 2000 {
		t.Fatalf("raw pipeline wrote %d, want 2000", len(raw))
	}
	seen := map[float64]bool{}
	for _, d := range raw {
		seen[d["n"].(float64)] = true
		if d["copy"] != "raw" {
			t.Fatalf("raw doc: %v", d)
		}
	}
	if len(seen) != 2000 {
		t.Fatalf("raw pipeline has duplicates or gaps: %d distinct", len(seen))
	}
	fives, fours := readNDJSON(t, filepath.Join(dir, "5xx.ndjson")), readNDJSON(t, filepath.Join(dir, "4xx.ndjson"))
	if len(fives) != 500 || len(fours) != 500 {
		t.Fatalf("routed 5xx=%d 4xx=%d, want 500 each", len(fives), len(fours))
	}
	for _, d := range fives {
		if _, ok := d["copy"]; ok {
			t.Fatal("a change in raw-pipeline leaked into errors-pipeline's copy")
		}
	}
	// errors-pipeline dropped the 1000 2xx/3xx events as unrouted, on purpose
	for _, l := range findLog(p.stderr.String(), "pipeline stopped") {
		if l["pipeline"] == "errors-pipeline" && l["events_in"] != 2000.0 {
			t.Fatalf("errors-pipeline in: %v", l)
		}
	}
}

// SIGTERM with events in flight: everything read is delivered before exit.
func TestSigtermDrainsEventsInFlight(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	var b strings.Builder
	for i := 0; i < 300000; i++ {
		fmt.Fprintf(&b, "line %d with some padding to make it a realistic length for a log message\n", i)
	}
	writeFile(t, in, b.String())
	out := filepath.Join(dir, "out.ndjson")
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
weft:
  shutdown_timeout: 60s
p:
  workers: 2
  delay: 20
  buffer: {bounded_blocking: {buffer_size: 2000, batch_size: 100}}
  source:
    file: {path: %q, mode: follow}
  processor:
    - add_entries: {entries: [{key: a, value: 1}]}
  sink:
    - file: {path: %q}
`, in, out))
	p := startWeft(t, cfg, nil)
	p.waitReady(10 * time.Second)
	eventually(t, 20*time.Second, "events flowing", func() bool { return p.metric("weft_pipeline_events_in_total") > 1000 })
	p.signal(syscall.SIGTERM)
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	stopped := findLog(p.stderr.String(), "pipeline stopped")
	if len(stopped) != 1 {
		t.Fatalf("no accounting line: %s", p.stderr.String())
	}
	in_ := stopped[0]["events_in"].(float64)
	lines := strings.Count(mustRead(t, out), "\n")
	if in_ == 0 || float64(lines) != in_ || stopped[0]["lost"] != 0.0 {
		t.Fatalf("events in=%v, lines written=%d, lost=%v: every accepted event must be delivered", in_, lines, stopped[0]["lost"])
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// SIGHUP with a valid config replaces the pipelines; with an invalid one the
// old pipelines keep running.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	inA, inB := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	outA, outB := filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "b.ndjson")
	writeFile(t, inA, "")
	writeFile(t, inB, "")
	cfg := filepath.Join(dir, "p.yaml")
	conf := func(in, out string) string {
		return fmt.Sprintf("p:\n  delay: 20\n  source:\n    file: {path: %q, mode: follow, poll_interval: 50ms}\n  sink:\n    - file: {path: %q}\n", in, out)
	}
	writeFile(t, cfg, conf(inA, outA))
	p := startWeft(t, cfg, nil)
	p.waitReady(10 * time.Second)
	appendLines(t, inA, "a", 100)
	eventually(t, 10*time.Second, "a.ndjson to have 100 lines", func() bool { return countLines(outA) == 100 })

	// valid reload: new source and sink
	writeFile(t, cfg, conf(inB, outB))
	p.signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, "a successful reload", func() bool {
		return p.metric("weft_config_reloads_total", `result="success"`) == 1
	})
	p.waitReady(10 * time.Second)
	appendLines(t, inB, "b", 50)
	eventually(t, 10*time.Second, "b.ndjson to have 50 lines", func() bool { return countLines(outB) == 50 })
	if countLines(outA) != 100 {
		t.Fatalf("a.ndjson changed after the reload: %d lines", countLines(outA))
	}

	// invalid reload: misspelt option; the running pipelines stay
	writeFile(t, cfg, strings.Replace(conf(inA, outA), "poll_interval", "poll_intervall", 1))
	p.signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, "a rejected reload", func() bool {
		return p.metric("weft_config_reloads_total", `result="failure"`) == 1
	})
	if !strings.Contains(p.stderr.String(), `did you mean \"poll_interval\"?`) {
		t.Fatalf("the rejected reload should log the error with a suggestion:\n%s", p.stderr.String())
	}
	appendLines(t, inB, "b2", 25)
	eventually(t, 10*time.Second, "the old pipelines to keep running", func() bool { return countLines(outB) == 75 })
	if code, _ := p.get("/readyz"); code != 200 {
		t.Fatalf("/readyz = %d after a rejected reload", code)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func appendLines(t *testing.T, path, prefix string, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 0; i < n; i++ {
		fmt.Fprintf(f, "%s %d\n", prefix, i)
	}
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	return strings.Count(string(b), "\n")
}

func TestAdminEndpoints(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	writeFile(t, in, "hello\nworld\n")
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
entry:
  delay: 20
  source: {file: {path: %q, mode: follow}}
  sink: [pipeline: {name: out}]
out:
  delay: 20
  source: {pipeline: {name: entry}}
  sink: [blackhole: ]
`, in))
	p := startWeft(t, cfg, nil)
	p.waitReady(10 * time.Second)
	if code, body := p.get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	eventually(t, 10*time.Second, "2 events delivered", func() bool {
		return p.metric("weft_component_events_sent_total", `pipeline="out"`, `component="sink/0/blackhole"`) == 2
	})
	_, metrics := p.get("/metrics")
	for _, want := range []string{"weft_pipeline_events_in_total{pipeline=\"entry\"} 2", "weft_buffer_capacity_events{pipeline=\"out\"} 12800",
		"weft_pipeline_batch_duration_seconds_bucket", "go_goroutines", "process_resident_memory_bytes", "weft_build_info{"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	code, body := p.get("/pipelines")
	var st struct {
		Pipelines []struct {
			Name       string   `json:"name"`
			State      string   `json:"state"`
			Upstream   []string `json:"upstream"`
			Downstream []string `json:"downstream"`
			EventsIn   float64  `json:"events_in"`
			Components []struct {
				ID string `json:"id"`
			} `json:"components"`
		} `json:"pipelines"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("/pipelines = %d %v %s", code, err, body)
	}
	if len(st.Pipelines) != 2 || st.Pipelines[0].Name != "entry" || st.Pipelines[0].Downstream[0] != "out" ||
		len(st.Pipelines[1].Upstream) != 1 || st.Pipelines[1].Upstream[0] != "entry" || st.Pipelines[1].State != "running" || st.Pipelines[0].EventsIn != 2 {
		t.Fatalf("/pipelines: %s", body)
	}
	p.signal(syscall.SIGINT)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// defaultPorts gives the built-in default's listeners free ports through
// its environment variables (WEFT_OTLP_GRPC_PORT, …), so that tests run in
// parallel with others, and returns them by variable.
func defaultPorts(t *testing.T) map[string]string {
	t.Helper()
	ports := map[string]string{}
	for _, name := range []string{"WEFT_OTLP_GRPC_PORT", "WEFT_OTLP_HTTP_PORT", "WEFT_OTEL_TRACE_PORT", "WEFT_HTTP_PORT"} {
		_, p, _ := net.SplitHostPort(freeAddr(t))
		ports[name] = p
		t.Setenv(name, p)
	}
	t.Setenv("WEFT_HOST", "127.0.0.1")
	t.Setenv("WEFT_DATA_DIR", "")
	return ports
}

// maskHash is the mask processor's hash: HMAC-SHA-256 under the key, hex.
func maskHash(key, value string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// `weft run` without -c: the built-in default receives OTLP spans from the
// OpenTelemetry SDK, logs over Data Prepper's HTTP endpoint and an OTLP
// metric, and writes span, service-map, log (correlated, masked) and metric
// documents to one NDJSON file per index under the data directory, every
// event accounted for.
func TestEmbeddedDefault(t *testing.T) {
	for _, args := range [][]string{{"validate"}, {"validate", "-c", "../deploy/pipelines/default.yaml"}} {
		code, stdout, stderr := runWeft(t, nil, args...)
		if code != 0 || !strings.Contains(stdout, "7 pipelines OK (otlp, dataprepper-traces, http-logs, logs, spans, service-map, metrics)") {
			t.Fatalf("weft %v: exit %d: %s%s", args, code, stdout, stderr)
		}
	}
	ports := defaultPorts(t)
	t.Setenv("MASK_KEY", "e2e-mask-key")
	dir := t.TempDir()
	p := startWeft(t, "", nil, "--data-dir", dir)
	p.waitReady(20 * time.Second)

	// The spans: client → payment, the payment failing.
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint("127.0.0.1:"+ports["WEFT_OTLP_GRPC_PORT"]), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tracer := func(tp *sdktrace.TracerProvider) trace.Tracer { return tp.Tracer("e2e") }
	clientTP := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "client"))))
	payExp, _ := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint("127.0.0.1:"+ports["WEFT_OTLP_GRPC_PORT"]), otlptracegrpc.WithInsecure())
	payTP := sdktrace.NewTracerProvider(sdktrace.WithSyncer(payExp), sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "payment"))))
	rctx, root := tracer(clientTP).Start(ctx, "client_checkout", trace.WithSpanKind(trace.SpanKindClient))
	_, pay := tracer(payTP).Start(rctx, "/checkout", trace.WithSpanKind(trace.SpanKindServer))
	traceID, paySpan := pay.SpanContext().TraceID().String(), pay.SpanContext().SpanID().String()

	// The logs first (they wait in correlate for their trace): the payment
	// service's Python line with an e-mail address, the order service's
	// logrus line with B3 headers and a card number, and a line without
	// trace context.
	email, card := "gwen.miller@example.com", "4111 1111 1111 1111"
	records := []map[string]any{
		{"log": fmt.Sprintf("2025-11-23 08:00:05,020 ERROR [paymentService] [paymentService.py:73] [trace_id=%s span_id=%s resource.service.name=payment] - Payment - Checkout failed for %s\n", traceID, paySpan, email)},
		{"level": "info", "msg": "inbound request", "headers": map[string]any{"x-b3-traceid": traceID, "x-b3-spanid": root.SpanContext().SpanID().String(), "x-b3-sampled": "1"},
			"customer": map[string]any{"card": card}},
		{"log": "plain line without trace context"},
	}
	body, _ := json.Marshal(records)
	resp, err := http.Post("http://127.0.0.1:"+ports["WEFT_HTTP_PORT"]+"/log/ingest", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /log/ingest: %s", resp.Status)
	}
	// A metric data point (OTLP/JSON over HTTP) goes to the metrics file.
	metric := `{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payment"}}]},
	  "scopeMetrics":[{"metrics":[{"name":"shop.checkouts","sum":{"aggregationTemporality":2,"isMonotonic":true,
	  "dataPoints":[{"asInt":"5","timeUnixNano":"` + fmt.Sprint(time.Now().UnixNano()) + `"}]}}]}]}]}`
	resp, err = http.Post("http://127.0.0.1:"+ports["WEFT_OTLP_HTTP_PORT"]+"/v1/metrics", "application/json", strings.NewReader(metric))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /v1/metrics: %s", resp.Status)
	}
	pay.SetStatus(otelcodes.Error, "Checkout Failed - Service Unavailable")
	pay.End()
	root.SetStatus(otelcodes.Error, "")
	root.End()
	for _, tp := range []*sdktrace.TracerProvider{clientTP, payTP} {
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatalf("SDK export: %v", err)
		}
	}

	day := time.Now().UTC().Format("2006.01.02")
	spansFile := filepath.Join(dir, "otel-v1-apm-span-"+day+".ndjson")
	logsFile := filepath.Join(dir, "logs-"+day+".ndjson")
	lines := func(path string) int {
		data, _ := os.ReadFile(path)
		return strings.Count(string(data), "\n")
	}
	metricsFile := filepath.Join(dir, "metrics-otel-v1-"+day+".ndjson")
	eventually(t, 15*time.Second, "2 span, 3 log and 1 metric documents", func() bool {
		return lines(spansFile) == 2 && lines(logsFile) == 3 && lines(metricsFile) == 1
	})
	if m := readNDJSON(t, metricsFile)[0]; m["name"] != "shop.checkouts" || m["kind"] != "SUM" || m["value"] != 5.0 || m["serviceName"] != "payment" {
		t.Errorf("metric document: %v", m)
	}

	spans := docsBySpanID(readNDJSON(t, spansFile))
	sp := spans[paySpan]
	if sp == nil || sp["traceId"] != traceID || sp["serviceName"] != "payment" || sp["traceGroup"] != "client_checkout" ||
		sp["kind"] != "SPAN_KIND_SERVER" || sp["status"].(map[string]any)["code"] != 2.0 {
		t.Fatalf("payment span document: %v", sp)
	}
	var python, logrus, plain map[string]any
	for _, d := range readNDJSON(t, logsFile) {
		switch {
		case d["log"] == "plain line without trace context":
			plain = d
		case d["msg"] == "inbound request":
			logrus = d
		default:
			python = d
		}
	}
	if python == nil || python["traceId"] != traceID || python["spanId"] != paySpan || python["traceGroup"] != "client_checkout" ||
		python["serviceName"] != "payment" || python["spanName"] != "/checkout" || python["traceStatus"] != "error" || python["traceCorrelated"] != true {
		t.Fatalf("python log not correlated: %v", python)
	}
	msg := python["log"].(string)
	if strings.Contains(msg, email) || !strings.Contains(msg, "Checkout failed for "+maskHash("e2e-mask-key", email)) {
		t.Fatalf("e-mail address not hashed with MASK_KEY: %q", msg)
	}
	if logrus == nil || logrus["traceId"] != traceID || logrus["serviceName"] != "client" || logrus["traceCorrelated"] != true ||
		logrus["customer"].(map[string]any)["card"] != maskHash("e2e-mask-key", card) {
		t.Fatalf("logrus log not correlated or card not masked: %v", logrus)
	}
	if plain == nil || plain["traceId"] != nil {
		t.Fatalf("line without trace context: %v", plain)
	}
	if n := p.metric("weft_correlate_logs_total", `result="correlated"`); n != 2 {
		t.Errorf("weft_correlate_logs_total{result=correlated} = %v, want 2", n)
	}
	if n := p.metric("weft_mask_fields_masked_total", `pipeline="logs"`); n < 2 {
		t.Errorf("weft_mask_fields_masked_total = %v", n)
	}

	// Nothing silently lost: every pipeline's events in (+ created) = out +
	// dropped + failed, with nothing left in buffers.
	_, metrics := p.get("/metrics")
	for _, pl := range []string{"otlp", "dataprepper-traces", "http-logs", "logs", "spans", "service-map", "metrics"} {
		l := `pipeline="` + pl + `"`
		in, created := sumMetric(metrics, "weft_pipeline_events_in_total", l), sumMetric(metrics, "weft_pipeline_events_created_total", l)
		out, dropped, failed := sumMetric(metrics, "weft_pipeline_events_out_total", l), sumMetric(metrics, "weft_pipeline_events_dropped_total", l),
			sumMetric(metrics, "weft_pipeline_events_failed_total", l)
		if in+created != out+dropped+failed || sumMetric(metrics, "weft_buffer_events", l) != 0 {
			t.Errorf("%s: in %v + created %v != out %v + dropped %v + failed %v", pl, in, created, out, dropped, failed)
		}
	}
	if in := sumMetric(metrics, "weft_pipeline_events_in_total", `pipeline="logs"`); in != 3 {
		t.Errorf("logs pipeline: %v in, want 3", in)
	}
	if in := sumMetric(metrics, "weft_pipeline_events_in_total", `pipeline="spans"`); in != 2 {
		t.Errorf("spans pipeline: %v in, want 2", in)
	}
	if in := sumMetric(metrics, "weft_pipeline_events_in_total", `pipeline="metrics"`); in != 1 {
		t.Errorf("metrics pipeline: %v in, want 1", in)
	}

	// The service map's last window is written at shutdown.
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	smap := readNDJSON(t, filepath.Join(dir, "otel-v1-apm-service-map.ndjson"))
	var edge bool
	for _, d := range smap {
		dest, _ := d["destination"].(map[string]any)
		if d["serviceName"] == "client" && dest["domain"] == "payment" && dest["resource"] == "/checkout" &&
			d["traceGroupName"] == "client_checkout" && d["hashId"] != "" {
			edge = true
		}
	}
	if !edge {
		t.Fatalf("no client → payment relationship in the service map: %v", smap)
	}
}
