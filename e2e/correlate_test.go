package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weft-agent/weft/plugins/correlate"
)

// The shop fixture's traces.
const (
	corrOKTrace   = "f552cc5023d8319aea1181f76f3adcbd"
	corrFailTrace = "b6ae4bc13d2a43a6ada270691286d33c"
)

// corrOTLPTrace is an OTLP/JSON export request with one trace of a root
// span and a child, for spans that arrive while weft runs.
func corrOTLPTrace(traceID, rootID, childID, service, rootName string) []byte {
	start := time.Date(2025, 11, 23, 8, 0, 10, 0, time.UTC).UnixNano()
	span := func(id, parent, name string, from, to int64) map[string]any {
		s := map[string]any{"traceId": traceID, "spanId": id, "name": name, "kind": 2,
			"startTimeUnixNano": strconv.FormatInt(from, 10), "endTimeUnixNano": strconv.FormatInt(to, 10),
			"status": map[string]any{"code": 0}}
		if parent != "" {
			s["parentSpanId"] = parent
		}
		return s
	}
	req := map[string]any{"resourceSpans": []any{map[string]any{
		"resource": map[string]any{"attributes": []any{map[string]any{"key": "service.name", "value": map[string]any{"stringValue": service}}}},
		"scopeSpans": []any{map[string]any{"scope": map[string]any{"name": "shop"}, "spans": []any{
			span(childID, rootID, "print_label", start+1e6, start+40e6),
			span(rootID, "", rootName, start, start+50e6),
		}}},
	}}}
	b, _ := json.Marshal(req)
	return b
}

func pyLine(traceID, spanID, service, msg string) string {
	return fmt.Sprintf("2025-11-23 08:00:10,020 INFO [%s] [%s.py:10] [trace_id=%s span_id=%s resource.service.name=%s] - %s\n",
		service, service, traceID, spanID, service, msg)
}

// byTrace indexes documents by traceId (several per trace).
func byTrace(docs []map[string]any) map[string][]map[string]any {
	m := map[string][]map[string]any{}
	for _, d := range docs {
		id, _ := d["traceId"].(string)
		m[id] = append(m[id], d)
	}
	return m
}

func expectFields(t *testing.T, what string, d map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := d[k]
		if w == nil {
			if ok {
				t.Errorf("%s: %s = %v, want it absent: %v", what, k, got, d)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: %s = %v, want %v: %v", what, k, got, w, d)
		}
	}
}

// stoppedCounts returns each pipeline's events_in and events_out from the
// shutdown accounting lines.
func stoppedCounts(t *testing.T, stderr string) map[string][2]float64 {
	t.Helper()
	out := map[string][2]float64{}
	for _, l := range findLog(stderr, "pipeline stopped") {
		name, _ := l["pipeline"].(string)
		in, _ := l["events_in"].(float64)
		o, _ := l["events_out"].(float64)
		out[name] = [2]float64{in, o}
	}
	return out
}

// The shop scenario through the built binary: fixture spans over OTLP/HTTP
// into a trace pipeline, the fixture's Python and logrus logs through
// trace_context into two log pipelines, all sharing the store "shop".
func TestCorrelateShopFixtures(t *testing.T) {
	dir := t.TempDir()
	const (
		lateTrace  = "0af7651916cd43dd8448eb211c80319c"
		lateRoot   = "b7ad6b7169203331"
		lateChild  = "00f067aa0ba902b7"
		neverTrace = "11111111111111112222222222222222"
	)
	fixturePy, err := os.ReadFile(fixture("python-otel-logging.log"))
	if err != nil {
		t.Fatal(err)
	}
	pyLog := filepath.Join(dir, "python.log")
	writeFile(t, pyLog, string(fixturePy))
	httpPort := otlpPort(t)
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
weft:
  shutdown_timeout: 20s
trace-pipeline:
  delay: 50
  source:
    otlp: {host: 127.0.0.1, grpc_port: 0, http_port: %d}
  processor:
    - correlate: {store: shop}
  sink:
    - file: {path: %q}
python-logs:
  delay: 50
  source:
    file: {path: %q, format: plain, mode: follow, poll_interval: 50ms}
  processor:
    - trace_context:
    - correlate: {store: shop, max_wait: 2s}
  sink:
    - file: {path: %q}
logrus-logs:
  delay: 50
  source:
    file: {path: %q, format: json, mode: follow, poll_interval: 50ms}
  processor:
    - trace_context:
    - correlate: {store: shop, max_wait: 2s}
  sink:
    - file: {path: %q}
`, httpPort, filepath.Join(dir, "spans.ndjson"), pyLog, filepath.Join(dir, "python.ndjson"),
		fixture("logrus-b3.ndjson"), filepath.Join(dir, "logrus.ndjson")))
	p := startWeft(t, cfg, nil)
	p.waitReady(20 * time.Second)

	// The fixture's logs are read at once and wait for their spans.
	eventually(t, 10*time.Second, "the fixture logs held", func() bool {
		return p.metric("weft_correlate_held_logs") == 4
	})
	body, err := os.ReadFile(fixture("otlp-traces.json"))
	if err != nil {
		t.Fatal(err)
	}
	traces := fmt.Sprintf("http://127.0.0.1:%d/v1/traces", httpPort)
	if code, _, resp := postOTLP(t, nil, traces, "application/json", body); code != 200 {
		t.Fatalf("posting the fixture spans: %d %s", code, resp)
	}
	eventually(t, 10*time.Second, "the fixture logs correlated", func() bool {
		return p.metric("weft_correlate_logs_total", `result="correlated"`) == 4
	})

	// One log whose spans come 1.5 s later, one whose spans never come.
	appended := time.Now()
	f, err := os.OpenFile(pyLog, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(pyLine(lateTrace, lateChild, "shipping", "Shipping - label printed"))
	f.WriteString(pyLine(neverTrace, "3333333333333333", "shipping", "Shipping - orphan"))
	f.Close()
	eventually(t, 10*time.Second, "the new logs held", func() bool {
		return p.metric("weft_correlate_held_logs", `pipeline="python-logs"`) == 2
	})
	time.Sleep(time.Until(appended.Add(1500 * time.Millisecond)))
	if code, _, resp := postOTLP(t, nil, traces, "application/json", corrOTLPTrace(lateTrace, lateRoot, lateChild, "shipping", "client_ship")); code != 200 {
		t.Fatalf("posting the late spans: %d %s", code, resp)
	}
	var neverOut time.Duration
	eventually(t, 15*time.Second, "the orphan log released", func() bool {
		if out, _ := os.ReadFile(filepath.Join(dir, "python.ndjson")); strings.Contains(string(out), neverTrace) {
			neverOut = time.Since(appended)
			return true
		}
		return false
	})
	if neverOut < 2*time.Second {
		t.Errorf("the log without spans left after %v, before max_wait", neverOut)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	py := byTrace(readNDJSON(t, filepath.Join(dir, "python.ndjson")))
	lr := byTrace(readNDJSON(t, filepath.Join(dir, "logrus.ndjson")))
	spans := readNDJSON(t, filepath.Join(dir, "spans.ndjson"))
	if len(py[corrFailTrace]) != 1 || len(py[corrOKTrace]) != 1 || len(lr[corrFailTrace]) != 1 || len(lr[corrOKTrace]) != 1 {
		t.Fatalf("logs by trace: python %d, logrus %d", len(py), len(lr))
	}
	expectFields(t, "failing checkout, Python", py[corrFailTrace][0], map[string]any{"traceGroup": "client_checkout",
		"serviceName": "payment", "spanName": "/checkout", "traceStatus": "error", "traceDurationInNanos": 1.8e8, "traceCorrelated": true})
	expectFields(t, "failing checkout, logrus", lr[corrFailTrace][0], map[string]any{"traceGroup": "client_checkout",
		"serviceName": "order", "spanName": "/checkout", "traceStatus": "error", "traceCorrelated": true})
	expectFields(t, "good checkout, Python", py[corrOKTrace][0], map[string]any{"traceGroup": "client_checkout",
		"serviceName": "payment", "traceStatus": "ok", "traceCorrelated": true})
	expectFields(t, "good checkout, logrus", lr[corrOKTrace][0], map[string]any{"traceGroup": "client_checkout",
		"serviceName": "order", "traceStatus": "ok", "traceCorrelated": true})
	expectFields(t, "spans 1.5 s late", py[lateTrace][0], map[string]any{"traceGroup": "client_ship",
		"serviceName": "shipping", "spanName": "print_label", "traceStatus": "ok", "traceCorrelated": true})
	expectFields(t, "spans never", py[neverTrace][0], map[string]any{"traceCorrelated": false, "traceGroup": nil,
		"traceStatus": nil, "serviceName": "shipping"})
	if len(spans) != 10 {
		t.Fatalf("%d spans out, want 10", len(spans))
	}
	for _, s := range spans {
		for _, k := range []string{"traceCorrelated", "logCount"} {
			if _, ok := s[k]; ok {
				t.Fatalf("a span was changed: %v", s)
			}
		}
	}
	counts := stoppedCounts(t, p.stderr.String())
	for name, want := range map[string]float64{"trace-pipeline": 10, "python-logs": 4, "logrus-logs": 2} {
		if c := counts[name]; c[0] != want || c[1] != want {
			t.Errorf("%s: in %v, out %v, want %v each", name, c[0], c[1], want)
		}
	}
}

// corrSpanDocs converts the OTLP fixture into span documents (as the
// trace sources write them) for a file source.
func corrSpanDocs(t *testing.T) []map[string]any {
	t.Helper()
	_, req := otlpFixture(t)
	var out []map[string]any
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				doc := map[string]any{"traceId": fmt.Sprintf("%x", s.GetTraceId()), "spanId": fmt.Sprintf("%x", s.GetSpanId()),
					"parentSpanId": fmt.Sprintf("%x", s.GetParentSpanId()), "name": s.GetName(), "serviceName": service,
					"kind":            "SPAN_KIND_" + strings.TrimPrefix(s.GetKind().String(), "SPAN_KIND_"),
					"durationInNanos": int64(s.GetEndTimeUnixNano() - s.GetStartTimeUnixNano()),
					"status":          map[string]any{"code": int(s.GetStatus().GetCode())}}
				if len(s.GetParentSpanId()) == 0 {
					doc["traceGroup"] = s.GetName()
				}
				out = append(out, doc)
			}
		}
	}
	return out
}

func ndjson(t *testing.T, docs []map[string]any) string {
	t.Helper()
	var b strings.Builder
	for _, d := range docs {
		line, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// Two separate weft processes sample the same input with the same seed:
// they keep the same spans and logs, whole traces at a time, all of the
// failing checkout, and about half of the other traces.
func TestCorrelateSamplingTwoProcesses(t *testing.T) {
	const traces = 300
	// A seed with which the hash alone would drop the failing checkout:
	// only keep_errors can keep it.
	fail, _ := hexTrace(corrFailTrace)
	seed := uint64(1)
	for ; correlate.TraceHash(fail, seed) < 1<<63; seed++ {
	}
	in := t.TempDir()
	spans := corrSpanDocs(t)
	var logs []map[string]any
	for _, s := range spans {
		logs = append(logs, map[string]any{"msg": "fixture " + s["spanId"].(string), "traceId": s["traceId"], "spanId": s["spanId"]})
	}
	for i := 0; i < traces; i++ {
		tid := fmt.Sprintf("%016x%016x", uint64(i+1)*0x9e3779b97f4a7c15, uint64(i)*7919+1)
		root, child := fmt.Sprintf("%016x", i+1), fmt.Sprintf("%016x", i+1+1<<40)
		spans = append(spans,
			map[string]any{"traceId": tid, "spanId": child, "parentSpanId": root, "name": "db", "serviceName": "api",
				"kind": "SPAN_KIND_CLIENT", "durationInNanos": 1000, "status": map[string]any{"code": 0}},
			map[string]any{"traceId": tid, "spanId": root, "parentSpanId": "", "name": "GET /", "serviceName": "web",
				"kind": "SPAN_KIND_SERVER", "durationInNanos": 2000, "status": map[string]any{"code": 0}, "traceGroup": "GET /"})
		logs = append(logs, map[string]any{"msg": fmt.Sprintf("trace %d", i), "traceId": tid, "spanId": child})
	}
	for i := 0; i < 50; i++ {
		logs = append(logs, map[string]any{"msg": fmt.Sprintf("untraced %d", i)})
	}
	writeFile(t, filepath.Join(in, "spans.ndjson"), ndjson(t, spans))
	writeFile(t, filepath.Join(in, "logs.ndjson"), ndjson(t, logs))

	runOnce := func() (keptSpans, keptLogs []string) {
		dir := t.TempDir()
		sampling := fmt.Sprintf("{rate: 0.5, keep_errors: true, hash_seed: %d}", seed)
		cfg := filepath.Join(dir, "p.yaml")
		writeFile(t, cfg, fmt.Sprintf(`
spans:
  delay: 50
  source:
    file: {path: %q, format: json, mode: follow, poll_interval: 50ms}
  processor:
    - correlate: {store: shop, treat_as: span, sampling: %s}
  sink:
    - file: {path: %q}
logs:
  delay: 50
  source:
    file: {path: %q, format: json, mode: follow, poll_interval: 50ms}
  processor:
    - correlate: {store: shop, max_wait: 2s, sampling: %s}
  sink:
    - file: {path: %q}
`, filepath.Join(in, "spans.ndjson"), sampling, filepath.Join(dir, "spans.ndjson"),
			filepath.Join(in, "logs.ndjson"), sampling, filepath.Join(dir, "logs.ndjson")))
		p := startWeft(t, cfg, nil)
		p.waitReady(20 * time.Second)
		// Done when every event read left (out or sampled out) and nothing
		// is held.
		settled := func(pipeline string, total int) bool {
			l := fmt.Sprintf(`pipeline=%q`, pipeline)
			in := p.metric("weft_pipeline_events_in_total", l)
			out := p.metric("weft_pipeline_events_out_total", l)
			dropped := p.metric("weft_pipeline_events_dropped_total", l, `reason="sampled_out"`)
			return in == float64(total) && out+dropped == in
		}
		eventually(t, 30*time.Second, "every event decided", func() bool {
			return settled("spans", len(spans)) && settled("logs", len(logs)) && p.metric("weft_correlate_held_logs") == 0
		})
		p.signal(syscall.SIGTERM)
		if code := p.wait(30 * time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		for _, d := range readNDJSON(t, filepath.Join(dir, "spans.ndjson")) {
			keptSpans = append(keptSpans, d["traceId"].(string)+"/"+d["spanId"].(string))
		}
		for _, d := range readNDJSON(t, filepath.Join(dir, "logs.ndjson")) {
			keptLogs = append(keptLogs, fmt.Sprint(d["traceId"], "/", d["msg"]))
		}
		sort.Strings(keptSpans)
		sort.Strings(keptLogs)
		return keptSpans, keptLogs
	}
	spansA, logsA := runOnce()
	spansB, logsB := runOnce()
	if !reflect.DeepEqual(spansA, spansB) || !reflect.DeepEqual(logsA, logsB) {
		t.Fatalf("two processes kept different events: spans %d/%d, logs %d/%d", len(spansA), len(spansB), len(logsA), len(logsB))
	}
	// Whole traces: a trace's spans and logs are kept together.
	spanTraces, logTraces := map[string]int{}, map[string]int{}
	for _, s := range spansA {
		spanTraces[strings.Split(s, "/")[0]]++
	}
	untraced := 0
	for _, l := range logsA {
		id := strings.Split(l, "/")[0]
		if id == "<nil>" {
			untraced++
			continue
		}
		logTraces[id]++
	}
	if spanTraces[corrFailTrace] != 4 || logTraces[corrFailTrace] != 4 {
		t.Errorf("failing checkout: %d of 4 spans, %d of 4 logs kept", spanTraces[corrFailTrace], logTraces[corrFailTrace])
	}
	for id, n := range spanTraces {
		wantSpans, wantLogs := 2, 1 // synthetic traces: two spans, one log
		if id == corrFailTrace || id == corrOKTrace {
			wantSpans, wantLogs = 4, 4 // fixture traces: a log per span
		}
		if n != wantSpans || logTraces[id] != wantLogs {
			t.Errorf("trace %s: %d spans and %d logs kept: not the whole trace", id, n, logTraces[id])
		}
	}
	for id := range logTraces {
		if spanTraces[id] == 0 {
			t.Errorf("trace %s: logs kept, spans dropped", id)
		}
	}
	if untraced != 50 {
		t.Errorf("%d of 50 logs without trace context kept (logs_without_trace_rate 1)", untraced)
	}
	synthetic := len(spanTraces) - 1
	if spanTraces[corrOKTrace] > 0 {
		synthetic--
	}
	if share := float64(synthetic) / traces; math.Abs(share-0.5) > 0.1 {
		t.Errorf("kept %.2f of the ordinary traces at rate 0.5", share)
	}
	t.Logf("seed %d: kept %d of %d ordinary traces, %d spans, %d logs", seed, synthetic, traces, len(spansA), len(logsA))
}

func hexTrace(s string) (correlate.TraceID, bool) {
	var id correlate.TraceID
	if len(s) != 32 {
		return id, false
	}
	for i := range id {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return id, false
		}
		id[i] = byte(v)
	}
	return id, true
}
