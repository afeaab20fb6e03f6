package cloudwatch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/weft-agent/weft/pipelines/event"
)

const cwSink = "sink/0/cloudwatch_logs"

// deadLetters reads a dead-letter file.
func deadLetters(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("dead letter %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func errType(d map[string]any) string {
	e, _ := d["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

func checkNoViolations(t *testing.T, f *fakeCW) {
	t.Helper()
	if v := f.Violations(); len(v) > 0 {
		t.Fatalf("%d PutLogEvents rule violations, first: %s", len(v), v[0])
	}
}

func TestCloudWatchSplitsByEventCount(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\nmessage: /msg\nthreshold: {log_send_interval: 1h}\nmax_buffered: 30000\n")
	var tr tracked
	now := time.Now()
	const n = 25000
	evs := make([]*event.Event, n)
	for i := range evs {
		evs[i] = tr.event(now.Add(time.Duration(i)*time.Millisecond), map[string]any{"msg": fmt.Sprint("m", i)})
	}
	for i := 0; i < n; i += 1000 {
		if err := s.Write(context.Background(), evs[i:i+1000]); err != nil {
			t.Fatal(err)
		}
	}
	s.Shutdown(context.Background())
	if ok, failed := tr.counts(); ok != n || failed != 0 {
		t.Fatalf("delivered %d, failed %d", ok, failed)
	}
	calls := f.Calls("PutLogEvents")
	if len(calls) != 3 || len(calls[0].Events) != 10000 || len(calls[1].Events) != 10000 || len(calls[2].Events) != 5000 {
		t.Fatalf("%d calls, want 10000+10000+5000 events", len(calls))
	}
	got := f.Events("g", "s")
	for i, e := range got {
		if e.Message != fmt.Sprint("m", i) {
			t.Fatalf("event %d is %q: order lost", i, e.Message)
		}
	}
	checkNoViolations(t, f)
	if v := metric(reg, "weft_cloudwatch_calls_total", "operation", "PutLogEvents", "result", "success"); v != 3 {
		t.Fatalf("calls_total %v", v)
	}
	if v := metric(reg, "weft_cloudwatch_events_total", "result", "sent"); v != n {
		t.Fatalf("events sent %v", v)
	}
	if v := metric(reg, "weft_component_events_sent_total", "component", cwSink); v != n {
		t.Fatalf("component sent %v", v)
	}
}

// 1024 events of 998 bytes are exactly 1 MiB with the 26-byte overhead: a
// batcher that forgot the overhead would put 1050 in a call and be refused.
func TestCloudWatchSplitsByBytesWithOverhead(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\nmessage: /msg\nthreshold: {log_send_interval: 1h}\n")
	var tr tracked
	now := time.Now()
	msg := strings.Repeat("x", 998)
	var evs []*event.Event
	for i := 0; i < 2048+10; i++ {
		evs = append(evs, tr.event(now, map[string]any{"msg": msg}))
	}
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(context.Background())
	calls := f.Calls("PutLogEvents")
	if len(calls) != 3 || len(calls[0].Events) != 1024 || len(calls[1].Events) != 1024 || len(calls[2].Events) != 10 {
		var sizes []int
		for _, c := range calls {
			sizes = append(sizes, len(c.Events))
		}
		t.Fatalf("calls of %v events, want [1024 1024 10]", sizes)
	}
	checkNoViolations(t, f)
	if v := metric(reg, "weft_cloudwatch_bytes_total"); v != float64((2048+10)*(998+26)) {
		t.Fatalf("bytes_total %v", v)
	}
}

// Events of one stream arrive out of order and over 30 hours: each call is
// sorted and spans less than 24 hours, and nothing is lost.
func TestCloudWatchSortsAndSplitsBy24Hours(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	s, _ := newTestSink(t, f, "log_group: g\nlog_stream: s\nmessage: /i\nthreshold: {log_send_interval: 1h}\n")
	var tr tracked
	base := time.Now().Add(-40 * time.Hour)
	const n = 600
	evs := make([]*event.Event, n)
	for i := range evs {
		// i minutes * 3: 0 .. 30 h; same timestamp for pairs (stable order).
		evs[i] = tr.event(base.Add(time.Duration(i/2*6)*time.Minute), map[string]any{"i": int64(i)})
	}
	shuffled := append([]*event.Event(nil), evs...)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(shuffled), func(i, j int) {
		// keep the two events of one timestamp in order
		if i/2 != j/2 {
			shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
		}
	})
	if err := s.Write(context.Background(), shuffled); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(context.Background())
	if ok, _ := tr.counts(); ok != n {
		t.Fatalf("delivered %d of %d", ok, n)
	}
	calls := f.Calls("PutLogEvents")
	if len(calls) < 2 {
		t.Fatalf("%d calls: 30 hours of events need two", len(calls))
	}
	for _, c := range calls {
		span := time.Duration(c.Events[len(c.Events)-1].Timestamp-c.Events[0].Timestamp) * time.Millisecond
		if span >= 24*time.Hour {
			t.Fatalf("a call spans %v", span)
		}
	}
	checkNoViolations(t, f)
	// Within the stream, chronological; same-time events in arrival order
	// relative to each other.
	got := f.Events("g", "s")
	seen := map[string]bool{}
	for i := 1; i < len(got); i++ {
		if got[i].Timestamp < got[i-1].Timestamp {
			t.Fatalf("event %d goes back in time", i)
		}
	}
	for _, e := range got {
		seen[e.Message] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct events stored", len(seen))
	}
}

func TestSplitCalls(t *testing.T) {
	mk := func(ts int64, size int) item { return item{msg: strings.Repeat("a", size), ts: ts} }
	day := MaxBatchSpan.Milliseconds()
	items := []item{mk(0, 10), mk(1, 10), mk(2, 10), mk(day-1, 10), mk(day, 10), mk(day+5, 10), mk(3*day, 10)}
	calls := splitCalls(items, 100, 1<<20)
	var got []int
	for _, c := range calls {
		got = append(got, len(c))
	}
	if fmt.Sprint(got) != "[4 2 1]" {
		t.Fatalf("span split %v, want [4 2 1]", got)
	}
	calls = splitCalls(items[:3], 2, 1<<20)
	if len(calls) != 2 || len(calls[0]) != 2 {
		t.Fatalf("count split %d calls", len(calls))
	}
	calls = splitCalls(items[:3], 100, 2*(10+EventOverhead))
	if len(calls) != 2 || len(calls[0]) != 2 {
		t.Fatalf("bytes split %d calls", len(calls))
	}
	calls = splitCalls(items[:3], 100, 2*(10+EventOverhead)-1)
	if len(calls) != 3 {
		t.Fatalf("bytes split, overhead counted: %d calls, want 3", len(calls))
	}
}

func TestTruncateUTF8(t *testing.T) {
	for _, s := range []string{"héllo wörld", "€€€€€€", "😀😀😀😀", "aé€😀aé€😀", "plain ascii"} {
		for n := 0; n <= len(s)+1; n++ {
			got := truncateUTF8([]byte(s), n)
			if len(got) > n || !utf8.Valid(got) || !strings.HasPrefix(s, string(got)) {
				t.Fatalf("truncateUTF8(%q, %d) = %q", s, n, got)
			}
			// It keeps as much as possible: one more rune would not fit.
			if len(got) < len(s) {
				_, size := utf8.DecodeRuneInString(s[len(got):])
				if len(got)+size <= n {
					t.Fatalf("truncateUTF8(%q, %d) = %q drops a rune that fits", s, n, got)
				}
			}
		}
	}
}

func TestCloudWatchTruncatesOversizeAtUTF8Boundary(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\nmessage: /msg\nthreshold: {max_event_size: 1001, log_send_interval: 10ms}\n")
	var tr tracked
	// 975 bytes of message fit; the runes are 2, 3 and 4 bytes long.
	originals := []string{strings.Repeat("é", 600), strings.Repeat("€", 400), strings.Repeat("😀", 300), "a" + strings.Repeat("😀", 300), "short"}
	var evs []*event.Event
	for _, m := range originals {
		evs = append(evs, tr.event(time.Now(), map[string]any{"msg": m}))
	}
	s.Write(context.Background(), evs)
	s.Shutdown(context.Background())
	got := f.Events("g", "s")
	if len(got) != len(originals) {
		t.Fatalf("%d events stored", len(got))
	}
	for i, e := range got {
		if !utf8.ValidString(e.Message) || !strings.HasPrefix(originals[i], e.Message) || len(e.Message) > 975 || len(e.Message) < 972 && i < 4 {
			t.Fatalf("event %d: %d bytes, valid %v", i, len(e.Message), utf8.ValidString(e.Message))
		}
	}
	if got[4].Message != "short" {
		t.Fatalf("short message changed: %q", got[4].Message)
	}
	if v := metric(reg, "weft_cloudwatch_events_total", "result", "truncated"); v != 4 {
		t.Fatalf("truncated %v, want 4", v)
	}
	if ok, _ := tr.counts(); ok != 5 {
		t.Fatalf("delivered %d", ok)
	}
}

func TestCloudWatchOversizeDeadLetter(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\noversize_events: dead_letter\ndlq_file: "+dlq+"\nthreshold: {log_send_interval: 10ms}\n")
	var tr tracked
	big := strings.Repeat("b", MaxEventSize) // as JSON: {"m":"bbb…"} is larger still
	s.Write(context.Background(), []*event.Event{tr.event(time.Now(), map[string]any{"m": big}), tr.event(time.Now(), map[string]any{"m": "ok"})})
	s.Shutdown(context.Background())
	if ok, failed := tr.counts(); ok != 1 || failed != 1 {
		t.Fatalf("delivered %d, failed %d", ok, failed)
	}
	d := deadLetters(t, dlq)
	if len(d) != 1 || errType(d[0]) != "event_too_large" || d[0]["log_group"] != "g" || d[0]["log_stream"] != "s" {
		t.Fatalf("dead letters %v", d)
	}
	if doc, _ := d[0]["document"].(map[string]any); doc["m"] != big {
		t.Fatal("the dead letter does not hold the event")
	}
	if v := metric(reg, "weft_cloudwatch_dead_letters_total", "reason", "event_too_large"); v != 1 {
		t.Fatalf("dead_letters_total %v", v)
	}
	if v := metric(reg, "weft_component_events_failed_total", "reason", "dead_letter"); v != 1 {
		t.Fatalf("component failed %v", v)
	}
}

// rejectedLogEventsInfo: the events it names are dead-lettered with the
// reason, the others delivered.
func TestCloudWatchRejectedLogEventsInfo(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	f.reject = func([]fakeEvent) map[string]int {
		return map[string]int{"tooOldLogEventEndIndex": 1, "expiredLogEventEndIndex": 3, "tooNewLogEventStartIndex": 8}
	}
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\nmessage: /i\ndlq_file: "+dlq+"\nthreshold: {log_send_interval: 1h}\n")
	var tr tracked
	now := time.Now()
	var evs []*event.Event
	for i := 0; i < 10; i++ {
		evs = append(evs, tr.event(now.Add(time.Duration(i)*time.Second), map[string]any{"i": int64(i)}))
	}
	s.Write(context.Background(), evs)
	s.Shutdown(context.Background())
	if ok, failed := tr.counts(); ok != 4 || failed != 6 {
		t.Fatalf("delivered %d, failed %d; want 4 and 6", ok, failed)
	}
	want := map[float64]string{0: "too_old", 1: "too_old", 2: "expired", 3: "expired", 8: "too_new", 9: "too_new"}
	d := deadLetters(t, dlq)
	if len(d) != 6 {
		t.Fatalf("%d dead letters", len(d))
	}
	for _, x := range d {
		i := x["document"].(map[string]any)["i"].(float64)
		if errType(x) != want[i] {
			t.Fatalf("event %v dead-lettered as %q, want %q", i, errType(x), want[i])
		}
		if r := x["error"].(map[string]any)["reason"].(string); !strings.Contains(r, "CloudWatch Logs rejected") {
			t.Fatalf("reason %q", r)
		}
	}
	if v := metric(reg, "weft_cloudwatch_calls_total", "operation", "PutLogEvents", "result", "partial"); v != 1 {
		t.Fatalf("partial calls %v", v)
	}
	if v := metric(reg, "weft_cloudwatch_dead_letters_total", "reason", "expired"); v != 2 {
		t.Fatalf("expired %v", v)
	}
}

// Events outside CloudWatch's window never reach it: dead-lettered with
// the reason before the call.
func TestCloudWatchTimeWindowChecked(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\nmessage: /k\ndlq_file: "+dlq+"\nthreshold: {log_send_interval: 1h}\n")
	var tr tracked
	now := time.Now()
	s.Write(context.Background(), []*event.Event{
		tr.event(now.Add(-15*24*time.Hour), map[string]any{"k": "old"}),
		tr.event(now.Add(-13*24*time.Hour), map[string]any{"k": "13d"}),
		tr.event(now, map[string]any{"k": "now"}),
		tr.event(now.Add(90*time.Minute), map[string]any{"k": "90m"}),
		tr.event(now.Add(3*time.Hour), map[string]any{"k": "future"}),
	})
	s.Shutdown(context.Background())
	if ok, failed := tr.counts(); ok != 3 || failed != 2 {
		t.Fatalf("delivered %d, failed %d", ok, failed)
	}
	var got []string
	for _, e := range f.Events("g", "s") {
		got = append(got, e.Message)
	}
	if fmt.Sprint(got) != "[13d now 90m]" {
		t.Fatalf("stored %v", got)
	}
	for _, d := range deadLetters(t, dlq) {
		k := d["document"].(map[string]any)["k"]
		reason := d["error"].(map[string]any)["reason"].(string)
		switch {
		case k == "old" && errType(d) == "too_old" && strings.Contains(reason, "14 days"):
		case k == "future" && errType(d) == "too_new" && strings.Contains(reason, "2 hours"):
		default:
			t.Fatalf("dead letter %v", d)
		}
	}
	if metric(reg, "weft_cloudwatch_dead_letters_total", "reason", "too_old") != 1 || metric(reg, "weft_cloudwatch_dead_letters_total", "reason", "too_new") != 1 {
		t.Fatal("too_old / too_new not counted")
	}
}

// A missing stream and group are created (group with its retention), and
// the call is made again.
func TestCloudWatchCreatesGroupAndStreamOnResourceNotFound(t *testing.T) {
	f := newFakeCW(t)
	s, reg := newTestSink(t, f, `
log_group: "/aws/containerinsights/${cluster}/application"
log_stream: "${/kubernetes/namespace_name}_${/kubernetes/pod_name}_${/kubernetes/container_name}"
log_group_retention_days: 7
threshold: {log_send_interval: 10ms}
`)
	var tr tracked
	k8s := func(pod string) map[string]any {
		return map[string]any{"cluster": "prod", "log": "line of " + pod,
			"kubernetes": map[string]any{"namespace_name": "shop", "pod_name": pod, "container_name": "app"}}
	}
	s.Write(context.Background(), []*event.Event{tr.event(time.Now(), k8s("web-1")), tr.event(time.Now(), k8s("web-2")), tr.event(time.Now(), k8s("web-1"))})
	s.Shutdown(context.Background())
	if ok, failed := tr.counts(); ok != 3 || failed != 0 {
		t.Fatalf("delivered %d, failed %d", ok, failed)
	}
	g := "/aws/containerinsights/prod/application"
	if n := len(f.Events(g, "shop_web-1_app")); n != 2 {
		t.Fatalf("web-1 stream has %d events", n)
	}
	if n := len(f.Events(g, "shop_web-2_app")); n != 1 {
		t.Fatalf("web-2 stream has %d events", n)
	}
	f.mu.Lock()
	retention := f.groups[g].retention
	f.mu.Unlock()
	if retention != 7 {
		t.Fatalf("retention %d", retention)
	}
	if n := len(f.Calls("CreateLogGroup")); n < 1 || n > 2 {
		t.Fatalf("%d CreateLogGroup calls", n)
	}
	if v := metric(reg, "weft_cloudwatch_calls_total", "operation", "PutLogEvents", "result", "not_found"); v != 2 {
		t.Fatalf("not_found calls %v", v)
	}
	if v := metric(reg, "weft_cloudwatch_calls_total", "operation", "CreateLogStream", "result", "success"); v != 2 {
		t.Fatalf("CreateLogStream success %v", v)
	}
	if v := metric(reg, "weft_cloudwatch_retries_total"); v != 0 {
		t.Fatalf("retries %v: creating is not a retry", v)
	}
}

func TestCloudWatchCreateDisabled(t *testing.T) {
	for _, tc := range []struct{ opts, typ string }{
		{"create_log_group: false", "log_group_not_found"},
		{"create_log_stream: false", "ResourceNotFoundException"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			f := newFakeCW(t)
			dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
			s, _ := newTestSink(t, f, "log_group: g\nlog_stream: s\ndlq_file: "+dlq+"\nthreshold: {log_send_interval: 10ms}\n"+tc.opts+"\n")
			var tr tracked
			s.Write(context.Background(), []*event.Event{tr.event(time.Now(), map[string]any{"a": int64(1)})})
			s.Shutdown(context.Background())
			if _, failed := tr.counts(); failed != 1 {
				t.Fatal("not dead-lettered")
			}
			if d := deadLetters(t, dlq); len(d) != 1 || errType(d[0]) != tc.typ {
				t.Fatalf("dead letters %v", d)
			}
			if len(f.Calls("CreateLogGroup")) != 0 {
				t.Fatal("created a group")
			}
		})
	}
}

// InvalidParameterException is the request's fault: dead-lettered at once.
func TestCloudWatchInvalidParameterDeadLettered(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	f.fault = func(op string, _ map[string]any) (int, string) {
		if op == "PutLogEvents" {
			return 400, "InvalidParameterException"
		}
		return 0, ""
	}
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\ndlq_file: "+dlq+"\nthreshold: {log_send_interval: 10ms, back_off_time: 1ms}\n")
	var tr tracked
	s.Write(context.Background(), []*event.Event{tr.event(time.Now(), map[string]any{"a": "x"}), tr.event(time.Now(), map[string]any{"a": "y"})})
	s.Shutdown(context.Background())
	if ok, failed := tr.counts(); ok != 0 || failed != 2 {
		t.Fatalf("delivered %d, failed %d", ok, failed)
	}
	if n := len(f.Calls("PutLogEvents")); n != 1 {
		t.Fatalf("%d calls: an invalid parameter is never retried", n)
	}
	d := deadLetters(t, dlq)
	if len(d) != 2 || errType(d[0]) != "InvalidParameterException" || d[0]["status"].(float64) != 400 {
		t.Fatalf("dead letters %v", d)
	}
	if v := metric(reg, "weft_cloudwatch_calls_total", "operation", "PutLogEvents", "result", "client_error"); v != 1 {
		t.Fatalf("client_error calls %v", v)
	}
}

// Throttling and 503 are retried with backoff until the call succeeds.
func TestCloudWatchRetriesThrottlingAnd503(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	var n atomic.Int32
	f.fault = func(op string, _ map[string]any) (int, string) {
		if op != "PutLogEvents" {
			return 0, ""
		}
		switch n.Add(1) {
		case 1, 2:
			return 400, "ThrottlingException"
		case 3:
			return 503, "ServiceUnavailableException"
		case 4:
			return 500, "InternalFailure"
		}
		return 0, ""
	}
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\nthreshold: {log_send_interval: 10ms, back_off_time: 1ms, max_back_off_time: 5ms}\n")
	var tr tracked
	s.Write(context.Background(), []*event.Event{tr.event(time.Now(), map[string]any{"a": "x"})})
	s.Shutdown(context.Background())
	if ok, _ := tr.counts(); ok != 1 {
		t.Fatal("not delivered")
	}
	if got := len(f.Events("g", "s")); got != 1 {
		t.Fatalf("%d stored", got)
	}
	if v := metric(reg, "weft_cloudwatch_retries_total"); v != 4 {
		t.Fatalf("retries %v, want 4", v)
	}
	if v := metric(reg, "weft_cloudwatch_throttles_total"); v != 2 {
		t.Fatalf("throttles %v, want 2", v)
	}
	if v := metric(reg, "weft_cloudwatch_calls_total", "operation", "PutLogEvents", "result", "server_error"); v != 2 {
		t.Fatalf("server_error %v", v)
	}
}

func TestCloudWatchRetriesExhausted(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	f.fault = func(op string, _ map[string]any) (int, string) {
		if op == "PutLogEvents" {
			return 400, "ThrottlingException"
		}
		return 0, ""
	}
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\ndlq_file: "+dlq+"\nthreshold: {retry_count: 2, log_send_interval: 10ms, back_off_time: 1ms}\n")
	var tr tracked
	s.Write(context.Background(), []*event.Event{tr.event(time.Now(), map[string]any{"a": "x"})})
	s.Shutdown(context.Background())
	if _, failed := tr.counts(); failed != 1 {
		t.Fatal("not dead-lettered")
	}
	if n := len(f.Calls("PutLogEvents")); n != 3 {
		t.Fatalf("%d calls, want 1 + 2 retries", n)
	}
	d := deadLetters(t, dlq)
	if len(d) != 1 || errType(d[0]) != "ThrottlingException" || !strings.Contains(d[0]["error"].(map[string]any)["reason"].(string), "after 2 retries") {
		t.Fatalf("dead letters %v", d)
	}
	if v := metric(reg, "weft_cloudwatch_retries_total"); v != 2 {
		t.Fatalf("retries %v", v)
	}
}

// Network errors (nothing listening) are retried too.
func TestCloudWatchNetworkErrorRetried(t *testing.T) {
	awsTestEnv(t)
	f := newFakeCW(t)
	f.srv.Close()
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\ndlq_file: "+dlq+"\nthreshold: {retry_count: 1, log_send_interval: 10ms, back_off_time: 1ms}\n")
	var tr tracked
	s.Write(context.Background(), []*event.Event{tr.event(time.Now(), map[string]any{"a": "x"})})
	s.Shutdown(context.Background())
	if _, failed := tr.counts(); failed != 1 {
		t.Fatal("not dead-lettered")
	}
	if d := deadLetters(t, dlq); len(d) != 1 || errType(d[0]) != "network_error" {
		t.Fatalf("dead letters %v", d)
	}
	if v := metric(reg, "weft_cloudwatch_calls_total", "result", "network_error"); v != 2 {
		t.Fatalf("network_error calls %v", v)
	}
}

// Streams are sent in parallel, one stream's calls never overlap and stay
// in order.
func TestCloudWatchStreamsParallelEachInOrder(t *testing.T) {
	f := newFakeCW(t)
	f.delay = 3 * time.Millisecond
	s, _ := newTestSink(t, f, "log_group: g\nlog_stream: \"${/pod}\"\nmessage: /i\nmax_inflight: 4\nthreshold: {batch_size: 20, log_send_interval: 1ms}\n")
	var tr tracked
	const pods, per = 6, 300
	now := time.Now()
	for i := 0; i < per; i += 10 {
		var evs []*event.Event
		for p := 0; p < pods; p++ {
			for j := i; j < i+10; j++ {
				evs = append(evs, tr.event(now.Add(time.Duration(j)*time.Millisecond), map[string]any{"pod": fmt.Sprint("pod-", p), "i": int64(j)}))
			}
		}
		if err := s.Write(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	s.Shutdown(context.Background())
	if ok, _ := tr.counts(); ok != pods*per {
		t.Fatalf("delivered %d", ok)
	}
	checkNoViolations(t, f)
	for p := 0; p < pods; p++ {
		got := f.Events("g", fmt.Sprint("pod-", p))
		if len(got) != per {
			t.Fatalf("pod-%d: %d events", p, len(got))
		}
		for i, e := range got {
			if e.Message != fmt.Sprint(i) {
				t.Fatalf("pod-%d: event %d is %s", p, i, e.Message)
			}
		}
	}
}

func TestCloudWatchTemplateMissingFieldAndBadNames(t *testing.T) {
	f := newFakeCW(t)
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	s, _ := newTestSink(t, f, "log_group: \"app-${/team}\"\nlog_stream: \"${/pod}\"\ndlq_file: "+dlq+"\nthreshold: {log_send_interval: 10ms}\n")
	var tr tracked
	s.Write(context.Background(), []*event.Event{
		tr.event(time.Now(), map[string]any{"pod": "p"}),                        // no team
		tr.event(time.Now(), map[string]any{"team": "a", "pod": nil}),           // null pod
		tr.event(time.Now(), map[string]any{"team": "a b", "pod": "p"}),         // space in a group name
		tr.event(time.Now(), map[string]any{"team": "a", "pod": "p:1"}),         // colon in a stream name
		tr.event(time.Now(), map[string]any{"team": "ok", "pod": "fine-pod-1"}), // sent
	})
	s.Shutdown(context.Background())
	if ok, failed := tr.counts(); ok != 1 || failed != 4 {
		t.Fatalf("delivered %d, failed %d", ok, failed)
	}
	var types []string
	for _, d := range deadLetters(t, dlq) {
		types = append(types, errType(d))
	}
	if fmt.Sprint(types) != "[log_group_template log_stream_template invalid_log_group_name invalid_log_stream_name]" {
		t.Fatalf("dead-letter types %v", types)
	}
	if n := len(f.Events("app-ok", "fine-pod-1")); n != 1 {
		t.Fatalf("%d events in app-ok/fine-pod-1", n)
	}
}

func TestCloudWatchMessageFieldAndTimestampField(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	s, _ := newTestSink(t, f, "log_group: g\nlog_stream: s\nmessage_field: log\ntimestamp_field: /time\nthreshold: {log_send_interval: 10ms}\n")
	var tr tracked
	when := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	s.Write(context.Background(), []*event.Event{
		tr.event(time.Now(), map[string]any{"log": "plain text line", "time": when.Format(time.RFC3339Nano)}),
		tr.event(time.Now(), map[string]any{"log": map[string]any{"a": int64(1)}, "time": when.UnixMilli() + 1}),
		tr.event(time.Now(), map[string]any{"log": "fluent bit date", "time": float64(when.UnixMilli()+3) / 1000}),
		tr.event(when.Add(2*time.Millisecond), map[string]any{"other": "no log field", "time": "not a time"}),
	})
	s.Shutdown(context.Background())
	got := f.Events("g", "s")
	if len(got) != 4 {
		t.Fatalf("%d events", len(got))
	}
	want := []fakeEvent{
		{when.UnixMilli(), "plain text line"},
		{when.UnixMilli() + 1, `{"a":1}`},
		{when.UnixMilli() + 2, `{"other":"no log field","time":"not a time"}`},
		{when.UnixMilli() + 3, "fluent bit date"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCloudWatchHeaderOverridesAndSigning(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	s, _ := newTestSink(t, f, "log_group: g\nlog_stream: s\nheader_overrides: {X-Custom-Header: custom-value, X-Source: weft}\nthreshold: {log_send_interval: 10ms}\n")
	var tr tracked
	s.Write(context.Background(), []*event.Event{tr.event(time.Now(), map[string]any{"a": "x"})})
	s.Shutdown(context.Background())
	if s.transport == nil {
		t.Fatal("the HTTP transport was not kept (idle connections are not closed at shutdown)")
	}
	h := *f.headers.Load()
	if h.Get("X-Custom-Header") != "custom-value" || h.Get("X-Source") != "weft" {
		t.Fatalf("headers %v", h)
	}
	auth := h.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=test/") || !strings.Contains(auth, "/us-east-1/logs/aws4_request") ||
		!strings.Contains(auth, "x-custom-header") {
		t.Fatalf("Authorization %q: not signed for logs in us-east-1 with the extra header", auth)
	}
	if h.Get("X-Amz-Target") != "Logs_20140328.PutLogEvents" {
		t.Fatalf("target %q", h.Get("X-Amz-Target"))
	}
}

// A destination that does not answer: Write blocks at max_buffered (push
// back), and the shutdown deadline drops what is held, counted.
func TestCloudWatchBackPressureAndShutdownDeadline(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	release := make(chan struct{})
	f.fault = func(op string, _ map[string]any) (int, string) {
		<-release
		return 503, "ServiceUnavailableException"
	}
	defer close(release)
	s, reg := newTestSink(t, f, "log_group: g\nlog_stream: s\nmax_buffered: 50\nthreshold: {batch_size: 10, log_send_interval: 1ms}\nrequest_timeout: 1m\n")
	var tr tracked
	mk := func(n int) []*event.Event {
		evs := make([]*event.Event, n)
		for i := range evs {
			evs[i] = tr.event(time.Now(), map[string]any{"i": int64(i)})
		}
		return evs
	}
	if err := s.Write(context.Background(), mk(50)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := s.Write(ctx, mk(5))
	cancel()
	if err == nil {
		t.Fatal("Write did not block with max_buffered events held")
	}
	if s.Ready() != nil {
		t.Fatal("unready before any error was seen")
	}
	sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	s.Shutdown(sctx)
	scancel()
	if ok, failed := tr.counts(); ok != 0 || failed != 55 {
		t.Fatalf("delivered %d, failed %d; want every event finalized as failed", ok, failed)
	}
	if v := metric(reg, "weft_component_events_failed_total", "reason", "shutdown"); v != 55 {
		t.Fatalf("shutdown drops %v", v)
	}
}

func TestCloudWatchWriteAfterShutdownRejects(t *testing.T) {
	f := newFakeCW(t)
	s, _ := newTestSink(t, f, "log_group: g\nlog_stream: s\n")
	s.Shutdown(context.Background())
	var tr tracked
	if err := s.Write(context.Background(), []*event.Event{tr.event(time.Now(), nil)}); err == nil {
		t.Fatal("no error")
	}
	if _, failed := tr.counts(); failed != 1 {
		t.Fatal("not rejected")
	}
}

func TestCloudWatchInvalidUTF8Replaced(t *testing.T) {
	f := newFakeCW(t)
	f.addStream("g", "s")
	s, _ := newTestSink(t, f, "log_group: g\nlog_stream: s\nmessage: /m\nthreshold: {log_send_interval: 10ms}\n")
	var tr tracked
	s.Write(context.Background(), []*event.Event{tr.event(time.Now(), map[string]any{"m": "bad \xff byte"}),
		tr.event(time.Now(), map[string]any{"m": ""})})
	s.Shutdown(context.Background())
	got := f.Events("g", "s")
	if len(got) != 1 || got[0].Message != "bad \uFFFD byte" {
		t.Fatalf("stored %+v", got)
	}
	if ok, failed := tr.counts(); ok != 1 || failed != 1 {
		t.Fatalf("delivered %d, failed %d: an empty message is dead-lettered", ok, failed)
	}
}
