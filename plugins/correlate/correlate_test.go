package correlate

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// checkFields compares fields of ev with want; a nil want value means the
// field must be absent.
func checkFields(t *testing.T, ev *event.Event, want map[string]any) {
	t.Helper()
	f := ev.Fields()
	for k, w := range want {
		got, ok := event.ParsePath(k).Lookup(f)
		if w == nil {
			if ok {
				t.Errorf("%s = %v, want it absent (event %v)", k, got, f)
			}
			continue
		}
		if !ok || got != w {
			t.Errorf("%s = %#v, want %#v (event %v)", k, got, w, f)
		}
	}
}

// Spans of a trace pipeline feed the store; logs of a log pipeline with the
// same store name come out with their trace's and span's fields.
func TestEnrichFixtureTraces(t *testing.T) {
	host := &pipelinestest.Host{}
	spans, _ := build(t, host, `store: shop`, nil)
	logs, reg := build(t, host, `store: shop`, nil)
	docs := fixtureSpans(t)
	in := spanEvents(docs, "")
	out := run(spans, in...)
	if len(out) != 8 {
		t.Fatalf("the span pipeline passed %d of 8 spans", len(out))
	}
	for i, ev := range out {
		if fmt.Sprint(ev.Fields()) != fmt.Sprint(docs[i]) {
			t.Errorf("span changed: %v", ev.Fields())
		}
	}

	failing := logEvent(failTrace, failPayment, "serviceName", "payment", "level", "ERROR")
	succeeded := logEvent(okTrace, okPayment, "serviceName", "payment")
	logrus := logEvent(okTrace, okOrderSpan, "level", "info")
	noSpan := logEvent(failTrace, "")
	untraced := logEvent("", "")
	out = run(logs, failing, succeeded, logrus, noSpan, untraced)
	if len(out) != 5 {
		t.Fatalf("%d logs out, want 5 at once", len(out))
	}
	checkFields(t, failing, map[string]any{"traceGroup": "client_checkout", "serviceName": "payment", "spanName": "/checkout",
		"traceStatus": "error", "traceDurationInNanos": int64(180_000_000), "traceCorrelated": true})
	checkFields(t, succeeded, map[string]any{"traceGroup": "client_checkout", "serviceName": "payment", "spanName": "/checkout",
		"traceStatus": "ok", "traceDurationInNanos": int64(180_000_000), "traceCorrelated": true})
	checkFields(t, logrus, map[string]any{"traceGroup": "client_checkout", "serviceName": "order", "spanName": "/checkout",
		"traceStatus": "ok", "traceCorrelated": true})
	// without spanId: the root's service and name
	checkFields(t, noSpan, map[string]any{"traceGroup": "client_checkout", "serviceName": "client", "spanName": "client_checkout",
		"traceStatus": "error", "traceCorrelated": true})
	checkFields(t, untraced, map[string]any{"traceGroup": nil, "traceCorrelated": nil})
	if got := metric(reg, "weft_correlate_logs_total", "result", "correlated"); got != 4 {
		t.Errorf("correlated = %v", got)
	}
	if got := metric(reg, "weft_correlate_logs_total", "result", "no_trace_context"); got != 1 {
		t.Errorf("no_trace_context = %v", got)
	}
}

// A failing child span makes the trace an error even when the root is ok.
func TestTraceStatusFromAnySpan(t *testing.T) {
	host := &pipelinestest.Host{}
	spans, _ := build(t, host, `store: s`, nil)
	logs, _ := build(t, host, `store: s`, nil)
	tid, docs := synthTrace(1, true, time.Second)
	run(spans, spanEvents(docs, "")...)
	ev := logEvent(tid, docs[1]["spanId"].(string))
	run(logs, ev)
	checkFields(t, ev, map[string]any{"traceStatus": "error", "serviceName": "web", "spanName": "GET /", "traceGroup": "GET /"})
}

func TestTarget(t *testing.T) {
	host := &pipelinestest.Host{}
	spans, _ := build(t, host, `store: s`, nil)
	logs, _ := build(t, host, `{store: s, target: /trace}`, nil)
	run(spans, spanEvents(fixtureSpans(t), failTrace)...)
	ev := logEvent(failTrace, failPayment, "serviceName", "mine")
	run(logs, ev)
	checkFields(t, ev, map[string]any{"trace/traceGroup": "client_checkout", "trace/serviceName": "payment",
		"trace/traceStatus": "error", "trace/traceCorrelated": true, "serviceName": "mine", "traceGroup": nil})
}

// A log whose spans come later waits, and leaves on the first call of its
// processor after they arrived.
func TestLogWaitsForSpans(t *testing.T) {
	c := newClock()
	host := &pipelinestest.Host{}
	spans, _ := build(t, host, `store: shop`, c)
	logs, reg := build(t, host, `{store: shop, max_wait: 3s}`, c)
	ev := logEvent(failTrace, failPayment)
	if out := run(logs, ev); len(out) != 0 {
		t.Fatal("a log of an unknown trace passed at once")
	}
	if got := metric(reg, "weft_correlate_held_logs"); got != 1 {
		t.Errorf("held gauge = %v", got)
	}
	c.add(time.Second)
	if out := run(logs); len(out) != 0 {
		t.Fatal("released before its spans arrived")
	}
	docs := spanEvents(fixtureSpans(t), failTrace)
	// the log's own span first: the root is still missing, so it waits on
	run(spans, docs[2])
	if out := run(logs); len(out) != 0 {
		t.Fatal("released before the root arrived")
	}
	c.add(time.Second)
	run(spans, docs[0], docs[1], docs[3])
	out := run(logs) // an idle tick
	if len(out) != 1 || out[0] != ev {
		t.Fatalf("%d released, want the log", len(out))
	}
	checkFields(t, ev, map[string]any{"traceGroup": "client_checkout", "serviceName": "payment", "traceStatus": "error", "traceCorrelated": true})
	if got := metric(reg, "weft_correlate_held_logs"); got != 0 {
		t.Errorf("held gauge = %v", got)
	}
	if out := run(logs); len(out) != 0 {
		t.Fatal("released twice")
	}
}

// A log whose trace never arrives leaves after max_wait, marked.
func TestLogReleasedAfterMaxWait(t *testing.T) {
	c := newClock()
	logs, reg := build(t, nil, `{store: shop, max_wait: 2s}`, c)
	ev := logEvent(failTrace, failPayment, "serviceName", "payment")
	run(logs, ev)
	c.add(1999 * time.Millisecond)
	if out := run(logs); len(out) != 0 {
		t.Fatal("released before max_wait")
	}
	c.add(time.Millisecond)
	out := run(logs)
	if len(out) != 1 || out[0] != ev {
		t.Fatalf("%d released at max_wait", len(out))
	}
	checkFields(t, ev, map[string]any{"traceCorrelated": false, "traceGroup": nil, "serviceName": "payment", "spanName": nil})
	if got := metric(reg, "weft_correlate_logs_total", "result", "uncorrelated"); got != 1 {
		t.Errorf("uncorrelated = %v", got)
	}
}

// When the root is known but the log's span never comes, the trace's
// fields are written; the service and span name are not guessed.
func TestPartialKnowledge(t *testing.T) {
	c := newClock()
	host := &pipelinestest.Host{}
	spans, _ := build(t, host, `store: shop`, c)
	logs, _ := build(t, host, `{store: shop, max_wait: 1s}`, c)
	run(spans, spanEvents(fixtureSpans(t), failTrace)[0]) // the root only
	ev := logEvent(failTrace, "0000000000000abc", "serviceName", "payment")
	run(logs, ev)
	c.add(time.Second)
	if out := run(logs); len(out) != 1 {
		t.Fatal("not released")
	}
	checkFields(t, ev, map[string]any{"traceGroup": "client_checkout", "traceStatus": "error", "traceCorrelated": false,
		"serviceName": "payment", "spanName": nil})
}

// max_wait 0: nothing waits.
func TestNoWaiting(t *testing.T) {
	logs, _ := build(t, nil, `{store: shop, max_wait: 0s}`, nil)
	ev := logEvent(failTrace, failPayment)
	if out := run(logs, ev); len(out) != 1 {
		t.Fatal("held with max_wait 0")
	}
	checkFields(t, ev, map[string]any{"traceCorrelated": false})
}

// Beyond max_held_logs or max_held_bytes the oldest held logs leave early.
func TestHoldBounds(t *testing.T) {
	c := newClock()
	logs, _ := build(t, nil, `{store: shop, max_held_logs: 3}`, c)
	var evs []*event.Event
	for i := 0; i < 5; i++ {
		evs = append(evs, logEvent(fmt.Sprintf("%032x", i+1), ""))
	}
	out := run(logs, evs...)
	if len(out) != 2 || out[0] != evs[0] || out[1] != evs[1] {
		t.Fatalf("released %d, want the two oldest", len(out))
	}
	checkFields(t, evs[0], map[string]any{"traceCorrelated": false})
	if n := logs.logs.count(); n != 3 {
		t.Fatalf("%d held, want 3", n)
	}
	if out := logs.Flush(context.Background()); len(out) != 3 {
		t.Fatalf("flush released %d", len(out))
	}

	big := strings.Repeat("x", 1000)
	logs, _ = build(t, nil, `{store: shop, max_held_bytes: 3000}`, c)
	evs = evs[:0]
	for i := 0; i < 5; i++ {
		evs = append(evs, logEvent(fmt.Sprintf("%032x", i+1), "", "body", big))
	}
	out = run(logs, evs...)
	if len(out) != 3 || logs.logs.count() != 2 {
		t.Fatalf("byte bound: released %d, held %d; want 3 and 2", len(out), logs.logs.count())
	}
}

// Shutdown releases everything, with what is known.
func TestFlush(t *testing.T) {
	host := &pipelinestest.Host{}
	spans, _ := build(t, host, `store: shop`, nil)
	logs, _ := build(t, host, `store: shop`, nil)
	a, b := logEvent(failTrace, failPayment), logEvent(okTrace, okPayment)
	run(logs, a, b)
	run(spans, spanEvents(fixtureSpans(t), failTrace)...)
	out := logs.Flush(context.Background())
	if len(out) != 2 {
		t.Fatalf("flushed %d", len(out))
	}
	checkFields(t, a, map[string]any{"traceCorrelated": true, "traceStatus": "error"})
	checkFields(t, b, map[string]any{"traceCorrelated": false})
	if out := logs.Flush(context.Background()); len(out) != 0 {
		t.Fatal("flushed twice")
	}
}

// Held events keep their acknowledgement handle until a sink finalizes
// them; sampled-out events are finalized as dropped.
func TestAcknowledgements(t *testing.T) {
	c := newClock()
	logs, _ := build(t, nil, `{store: shop, max_wait: 1s}`, c)
	var acks []bool
	ev := logEvent(failTrace, failPayment)
	a := event.NewAcker(func(ok bool) { acks = append(acks, ok) })
	a.Track(ev)
	a.Seal()
	run(logs, ev)
	if !ev.HasAcker() || len(acks) != 0 {
		t.Fatal("a held event lost its handle")
	}
	c.add(time.Second)
	out := run(logs)
	if len(out) != 1 || !out[0].HasAcker() {
		t.Fatal("released without its handle")
	}
	out[0].Finalize(event.Delivered)
	if len(acks) != 1 || !acks[0] {
		t.Fatalf("acks %v", acks)
	}
}

func TestStoreSharedByName(t *testing.T) {
	host := &pipelinestest.Host{}
	feed, _ := build(t, host, `store: shop`, nil)
	same, _ := build(t, host, `store: shop`, nil)
	other, _ := build(t, host, `{store: other, max_wait: 0s}`, nil)
	if feed.store != same.store || feed.store == other.store {
		t.Fatal("stores are shared by name only")
	}
	run(feed, spanEvents(fixtureSpans(t), "")...)
	a, b := logEvent(failTrace, failPayment), logEvent(failTrace, failPayment)
	run(same, a)
	run(other, b)
	checkFields(t, a, map[string]any{"traceCorrelated": true})
	checkFields(t, b, map[string]any{"traceCorrelated": false, "traceGroup": nil})
	// another host (another configuration) has its own store
	elsewhere, _ := build(t, nil, `store: shop`, nil)
	if elsewhere.store == feed.store {
		t.Fatal("a store leaked between hosts")
	}

	cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "correlate", `{store: shop, max_traces: 10}`)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := pipelinestest.Settings("test", "processor/1/correlate")
	s.Host = host
	if _, err := New(s, cfg.(*Config)); err == nil || !strings.Contains(err.Error(), `store "shop" is already used`) {
		t.Fatalf("conflicting store options: %v", err)
	}
}

// treat_as: span makes log events (span documents read from a file) feed
// the store.
func TestTreatAsSpan(t *testing.T) {
	host := &pipelinestest.Host{}
	feed, reg := build(t, host, `{store: shop, treat_as: span}`, nil)
	logs, _ := build(t, host, `store: shop`, nil)
	var in []*event.Event
	for _, d := range fixtureSpans(t) {
		in = append(in, event.New(event.KindLog, time.Time{}, d))
	}
	if out := run(feed, in...); len(out) != 8 {
		t.Fatalf("%d passed", len(out))
	}
	if got := metric(reg, "weft_correlate_spans_total"); got != 8 {
		t.Errorf("spans fed %v", got)
	}
	ev := logEvent(okTrace, okOrderSpan)
	run(logs, ev)
	checkFields(t, ev, map[string]any{"serviceName": "order", "traceCorrelated": true})
	if got := metric(reg, "weft_correlate_traces", "store", "shop"); got != 2 {
		t.Errorf("traces gauge %v", got)
	}
}

func TestEvictionByCapacity(t *testing.T) {
	c := newClock()
	feed, reg := build(t, nil, `{store: s, max_traces: 3}`, c)
	var ids []string
	for i := 0; i < 5; i++ {
		tid, docs := synthTrace(i, false, time.Millisecond)
		ids = append(ids, tid)
		run(feed, spanEvents(docs, "")...)
		c.add(time.Millisecond)
		if i == 2 {
			// trace 0 is fed again: trace 1 is now the least recently fed
			_, docs := synthTrace(0, false, time.Millisecond)
			run(feed, spanEvent(docs[0]))
			c.add(time.Millisecond)
		}
	}
	if feed.store.len() != 3 {
		t.Fatalf("%d traces, want 3", feed.store.len())
	}
	for i, want := range []bool{true, false, false, true, true} {
		id, _ := parseTraceID(ids[i])
		if got := feed.store.lookup(id, SpanID{}, false).Found; got != want {
			t.Errorf("trace %d tracked = %v, want %v", i, got, want)
		}
	}
	if got := metric(reg, "weft_correlate_evictions_total", "reason", "capacity"); got != 2 {
		t.Errorf("capacity evictions %v", got)
	}
	if got := metric(reg, "weft_correlate_traces"); got != 3 {
		t.Errorf("traces gauge %v", got)
	}
}

func TestEvictionByTTL(t *testing.T) {
	c := newClock()
	feed, reg := build(t, nil, `{store: s, trace_ttl: 1m}`, c)
	tidA, a := synthTrace(1, false, time.Millisecond)
	tidB, b := synthTrace(2, false, time.Millisecond)
	run(feed, spanEvents(a, "")...)
	run(feed, spanEvents(b, "")...)
	c.add(40 * time.Second)
	run(feed, spanEvent(b[0])) // B seen again
	c.add(30 * time.Second)    // A unseen for 70s, B for 30s
	run(feed)
	idA, _ := parseTraceID(tidA)
	idB, _ := parseTraceID(tidB)
	if feed.store.lookup(idA, SpanID{}, false).Found || !feed.store.lookup(idB, SpanID{}, false).Found {
		t.Fatal("ttl eviction took the wrong trace")
	}
	c.add(31 * time.Second)
	run(feed)
	if feed.store.len() != 0 {
		t.Fatalf("%d traces left", feed.store.len())
	}
	if got := metric(reg, "weft_correlate_evictions_total", "reason", "ttl"); got != 2 {
		t.Errorf("ttl evictions %v", got)
	}
}

// Spans beyond max_spans_per_trace are not indexed but still count for the
// trace's status.
func TestMaxSpansPerTrace(t *testing.T) {
	host := &pipelinestest.Host{}
	feed, _ := build(t, host, `{store: s, max_spans_per_trace: 1}`, nil)
	logs, _ := build(t, host, `{store: s, max_spans_per_trace: 1, max_wait: 0s}`, nil)
	tid, docs := synthTrace(1, true, time.Second) // child (failed) first, then root
	run(feed, spanEvents(docs, "")...)
	child := logEvent(tid, docs[0]["spanId"].(string))
	root := logEvent(tid, docs[1]["spanId"].(string))
	run(logs, child, root)
	checkFields(t, child, map[string]any{"traceCorrelated": true, "serviceName": "api", "traceStatus": "error"})
	checkFields(t, root, map[string]any{"traceCorrelated": false, "traceGroup": "GET /", "traceStatus": "error"})
}

// Trace group fields on a child span (Data Prepper's otel_trace_group)
// make the trace known without its root.
func TestTraceGroupFieldsWithoutRoot(t *testing.T) {
	host := &pipelinestest.Host{}
	feed, _ := build(t, host, `store: s`, nil)
	logs, _ := build(t, host, `{store: s, max_wait: 0s}`, nil)
	tid, docs := synthTrace(1, false, time.Second)
	child := docs[0]
	child["traceGroup"] = "GET /"
	child["traceGroupFields"] = map[string]any{"durationInNanos": int64(5e9), "statusCode": int64(2)}
	run(feed, spanEvent(child))
	ev := logEvent(tid, child["spanId"].(string))
	run(logs, ev)
	checkFields(t, ev, map[string]any{"traceCorrelated": true, "traceGroup": "GET /", "traceStatus": "error", "traceDurationInNanos": int64(5e9)})
}

// annotate_spans: spans wait span_wait and carry their logs' count and
// highest severity.
func TestAnnotateSpans(t *testing.T) {
	c := newClock()
	host := &pipelinestest.Host{}
	spans, reg := build(t, host, `{store: shop, annotate_spans: true, span_wait: 5s}`, c)
	logs, _ := build(t, host, `store: shop`, c)
	in := spanEvents(fixtureSpans(t), failTrace)
	if out := run(spans, in...); len(out) != 0 {
		t.Fatal("spans passed without waiting")
	}
	if got := metric(reg, "weft_correlate_held_spans"); got != 4 {
		t.Errorf("held spans gauge %v", got)
	}
	run(logs, logEvent(failTrace, failPayment, "level", "info"), logEvent(failTrace, failPayment, "severityText", "ERROR"),
		logEvent(failTrace, failPayment, "level", "debug"))
	c.add(4 * time.Second)
	if out := run(spans); len(out) != 0 {
		t.Fatal("released before span_wait")
	}
	c.add(time.Second)
	out := run(spans)
	if len(out) != 4 {
		t.Fatalf("%d spans released", len(out))
	}
	for _, ev := range out {
		if ev.Fields()["spanId"] == failPayment {
			checkFields(t, ev, map[string]any{"logCount": int64(3), "maxLogSeverity": "ERROR"})
		} else {
			checkFields(t, ev, map[string]any{"logCount": int64(0), "maxLogSeverity": nil})
		}
	}
}

// Workers call Process at once, feeding and enriching: every log comes out
// exactly once, enriched.
func TestConcurrentUse(t *testing.T) {
	c := newClock()
	host := &pipelinestest.Host{}
	feed, _ := build(t, host, `store: s`, c)
	logs, _ := build(t, host, `{store: s, max_wait: 1m}`, c)
	const traces, workers = 400, 4
	var mu sync.Mutex
	seen := map[*event.Event]int{}
	var all []*event.Event
	status := map[*event.Event]string{}
	collect := func(out []*event.Event) {
		mu.Lock()
		for _, ev := range out {
			seen[ev]++
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		var mine []*event.Event
		for i := w; i < traces; i += workers {
			tid, docs := synthTrace(i, i%2 == 0, time.Second)
			ev := logEvent(tid, docs[0]["spanId"].(string))
			mine = append(mine, ev)
			status[ev] = map[bool]string{true: "error", false: "ok"}[i%2 == 0]
		}
		all = append(all, mine...)
		wg.Add(2)
		go func(w int) {
			defer wg.Done()
			for i := w; i < traces; i += workers {
				_, docs := synthTrace(i, i%2 == 0, time.Second)
				run(feed, spanEvents(docs, "")...)
			}
		}(w)
		go func(mine []*event.Event) {
			defer wg.Done()
			for i := 0; i < len(mine); i += 10 {
				collect(run(logs, mine[i:min(i+10, len(mine))]...))
				collect(run(logs))
			}
		}(mine)
	}
	wg.Wait()
	collect(run(logs))
	if len(seen) != traces {
		t.Fatalf("%d logs out, want %d", len(seen), traces)
	}
	for _, ev := range all {
		if seen[ev] != 1 {
			t.Fatalf("a log came out %d times", seen[ev])
		}
		checkFields(t, ev, map[string]any{"traceCorrelated": true, "serviceName": "api", "traceGroup": "GET /", "traceStatus": status[ev]})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ opts, want string }{
		{`{}`, `option "store": required option is missing`},
		{`{store: " "}`, `option "store": must name a store`},
		{`{store: s, max_wiat: 2s}`, `did you mean "max_wait"?`},
		{`{store: s, sampling: {rate: 1.5}}`, `option "sampling.rate": 1.5 is above the maximum 1`},
		{`{store: s, treat_as: spans}`, `did you mean "span"?`},
		{`{store: s, max_traces: 0}`, `option "max_traces": 0 is below the minimum 1`},
	}
	for _, tc := range tests {
		_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "correlate", tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "correlate", "README.md")
}

func TestDeque(t *testing.T) {
	var d deque[int]
	for round := 0; round < 5; round++ {
		for i := 0; i < 300; i++ {
			d.push(round*1000 + i)
		}
		for i := 0; i < 300; i++ {
			if x := d.pop(); x != round*1000+i {
				t.Fatalf("popped %d, want %d", x, round*1000+i)
			}
		}
	}
	if d.len() != 0 || len(d.buf) > 64 {
		t.Fatalf("len %d, buffer %d after draining", d.len(), len(d.buf))
	}
}

// A wake-up that another call consumed between a log's check and its hold
// is not lost: the log is checked again when it is held.
func TestNoLostWakeUp(t *testing.T) {
	host := &pipelinestest.Host{}
	feed, _ := build(t, host, `store: shop`, nil)
	logs, _ := build(t, host, `store: shop`, nil)
	ev := logEvent(failTrace, failPayment)
	id, _ := parseTraceID(failTrace)
	sid, _ := parseSpanID(failPayment)
	seen := logs.store.updates.head() // worker 1 reads the sequence, finds the trace unknown ...
	run(feed, spanEvents(fixtureSpans(t), failTrace)...)
	// ... another worker's call holds a log of another trace and consumes
	// the update ...
	if out := run(logs, logEvent(okTrace, okPayment)); len(out) != 0 {
		t.Fatal("a log of an unknown trace passed")
	}
	h := &held{ev: ev, trace: id, span: sid, hasSpan: true}
	out := logs.logs.step([]*held{h}, seen, 0, &logs.store.updates, logs.logReady, nil) // ... then worker 1 holds the log
	if len(out) != 1 || logs.logs.count() != 1 {
		t.Fatalf("released %d, held %d: the wake-up was lost", len(out), logs.logs.count())
	}
}
