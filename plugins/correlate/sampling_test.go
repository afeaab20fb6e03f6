package correlate

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func hashKeeps(tid string, seed uint64, rate float64) bool {
	id, _ := parseTraceID(tid)
	th, all := threshold(rate)
	return all || TraceHash(id, seed) < th
}

func kept(out []*event.Event) map[string]int {
	m := map[string]int{}
	for _, ev := range out {
		m[ev.Fields()["traceId"].(string)]++
	}
	return m
}

// A rate-consistent share of ordinary traces is kept, with all their spans
// and logs, and the hash alone decides which.
func TestSamplingRate(t *testing.T) {
	host := &pipelinestest.Host{}
	spans, reg := build(t, host, `{store: s, max_traces: 20000, sampling: {rate: 0.5}}`, nil)
	logs, _ := build(t, host, `{store: s, max_traces: 20000, sampling: {rate: 0.5}}`, nil)
	const n = 10000
	keptTraces := 0
	for i := 0; i < n; i++ {
		tid, docs := synthTrace(i, false, time.Millisecond)
		outS := run(spans, spanEvents(docs, "")...)
		outL := run(logs, logEvent(tid, docs[0]["spanId"].(string)), logEvent(tid, ""))
		want := hashKeeps(tid, 0, 0.5)
		if want {
			keptTraces++
		}
		if (len(outS) == 2) != want || (len(outS) != 0 && len(outS) != 2) {
			t.Fatalf("trace %d: %d of 2 spans kept, hash says keep=%v", i, len(outS), want)
		}
		if (len(outL) == 2) != want || (len(outL) != 0 && len(outL) != 2) {
			t.Fatalf("trace %d: %d of 2 logs kept, hash says keep=%v", i, len(outL), want)
		}
	}
	if share := float64(keptTraces) / n; math.Abs(share-0.5) > 0.03 {
		t.Fatalf("kept %.3f of traces at rate 0.5", share)
	}
	if spans.spans.count() != 0 || logs.logs.count() != 0 {
		t.Fatal("events left held")
	}
	if got := metric(reg, "weft_component_events_dropped_total", "reason", "sampled_out"); got != float64(2*(n-keptTraces)) {
		t.Errorf("spans dropped as sampled_out: %v, want %d", got, 2*(n-keptTraces))
	}
	t.Logf("kept %d of %d traces", keptTraces, n)
}

// seedDropping finds a seed with which the hash drops every given trace at
// rate 0.5, so a test shows that something other than the hash kept them.
func seedDropping(t *testing.T, tids ...string) uint64 {
	for seed := uint64(1); seed < 1000; seed++ {
		ok := true
		for _, tid := range tids {
			ok = ok && !hashKeeps(tid, seed, 0.5)
		}
		if ok {
			return seed
		}
	}
	t.Fatal("no seed drops them all")
	return 0
}

// Every span and log of the failing checkout is kept although the hash
// would drop it; the successful one, which the hash drops, goes entirely.
// The logs come before the spans and wait for them.
func TestSamplingKeepsFailingTrace(t *testing.T) {
	c := newClock()
	seed := seedDropping(t, failTrace, okTrace)
	opts := fmt.Sprintf(`{store: shop, sampling: {rate: 0.5, hash_seed: %d}}`, seed)
	host := &pipelinestest.Host{}
	spans, _ := build(t, host, opts, c)
	logs, _ := build(t, host, opts, c)
	outL := run(logs, logEvent(failTrace, failPayment), logEvent(okTrace, okPayment), logEvent(failTrace, failRootSpan))
	if len(outL) != 0 {
		t.Fatal("logs of unknown traces passed")
	}
	// children first, roots last, as exporters usually send them
	docs := fixtureSpans(t)
	var outS []*event.Event
	for i := len(docs) - 1; i >= 0; i-- {
		outS = append(outS, run(spans, spanEvent(docs[i]))...)
	}
	outL = run(logs)
	if k := kept(outS); len(outS) != 4 || k[failTrace] != 4 {
		t.Fatalf("spans kept by trace: %v", k)
	}
	if k := kept(outL); len(outL) != 2 || k[failTrace] != 2 {
		t.Fatalf("logs kept by trace: %v", k)
	}
}

// A span whose trace the hash drops waits for the root: a late failing root
// keeps it; a root that never comes leaves it to the hash at max_wait.
func TestSamplingSpansWaitForOutcome(t *testing.T) {
	c := newClock()
	tidA, a := synthTrace(1, false, time.Second)
	tidB, b := synthTrace(2, false, time.Second)
	seed := seedDropping(t, tidA, tidB)
	spans, _ := build(t, nil, fmt.Sprintf(`{store: s, max_wait: 2s, sampling: {rate: 0.5, hash_seed: %d}}`, seed), c)
	if out := run(spans, spanEvent(a[0]), spanEvent(b[0])); len(out) != 0 {
		t.Fatal("children passed before their trace's outcome was known")
	}
	c.add(time.Second)
	a[1]["status"] = map[string]any{"code": int64(2)}
	out := run(spans, spanEvent(a[1]))
	if k := kept(out); len(out) != 2 || k[tidA] != 2 {
		t.Fatalf("failing trace: kept %v", k)
	}
	c.add(time.Second)
	if out := run(spans); len(out) != 0 || spans.spans.count() != 0 {
		t.Fatalf("trace without root: %d kept, %d held", len(out), spans.spans.count())
	}
}

func TestSamplingLatencyThreshold(t *testing.T) {
	host := &pipelinestest.Host{}
	opts := `{store: s, sampling: {rate: 0, latency_threshold: 2s}}`
	spans, _ := build(t, host, opts, nil)
	logs, _ := build(t, host, opts, nil)
	slowID, slow := synthTrace(1, false, 3*time.Second)
	fastID, fast := synthTrace(2, false, time.Second)
	out := run(spans, append(spanEvents(slow, ""), spanEvents(fast, "")...)...)
	if k := kept(out); len(out) != 2 || k[slowID] != 2 {
		t.Fatalf("kept %v", k)
	}
	out = run(logs, logEvent(slowID, ""), logEvent(fastID, ""))
	if k := kept(out); len(out) != 1 || k[slowID] != 1 {
		t.Fatalf("kept %v", k)
	}
}

// Two processes (two hosts, separate stores) with the same seed keep the
// same traces; one sees only the spans, the other only the logs.
func TestSamplingConsistentAcrossProcesses(t *testing.T) {
	decide := func(seed uint64, feedSpans bool) map[string]bool {
		p, _ := build(t, nil, fmt.Sprintf(`{store: s, max_wait: 0s, sampling: {rate: 0.3, hash_seed: %d}}`, seed), nil)
		keptIDs := map[string]bool{}
		for i := 0; i < 2000; i++ {
			tid, docs := synthTrace(i, false, time.Millisecond)
			var out []*event.Event
			if feedSpans {
				out = run(p, spanEvents(docs, "")...)
			} else {
				out = run(p, logEvent(tid, docs[0]["spanId"].(string)))
			}
			if len(out) > 0 {
				keptIDs[tid] = true
			}
		}
		return keptIDs
	}
	spansA, logsB := decide(42, true), decide(42, false)
	if fmt.Sprint(spansA) != fmt.Sprint(logsB) {
		t.Fatalf("same seed, different decisions: %d vs %d kept", len(spansA), len(logsB))
	}
	if other := decide(43, false); fmt.Sprint(other) == fmt.Sprint(logsB) {
		t.Fatal("another seed made the same decisions")
	}
	if share := float64(len(spansA)) / 2000; math.Abs(share-0.3) > 0.04 {
		t.Fatalf("kept %.3f at rate 0.3", share)
	}
}

func TestSamplingLogsWithoutTrace(t *testing.T) {
	logs, _ := build(t, nil, `{store: s, sampling: {logs_without_trace_rate: 0.25}}`, nil)
	var in []*event.Event
	for i := 0; i < 100; i++ {
		in = append(in, logEvent("", ""))
	}
	if out := run(logs, in...); len(out) != 25 {
		t.Fatalf("kept %d of 100 at 0.25", len(out))
	}
}

func TestThreshold(t *testing.T) {
	if th, all := threshold(0.5); th != 1<<63 || all {
		t.Errorf("threshold(0.5) = %x", th)
	}
	if _, all := threshold(1); !all {
		t.Error("rate 1 keeps all")
	}
	if th, _ := threshold(0); th != 0 {
		t.Error("rate 0 keeps none")
	}
	for _, r := range []float64{0.1, 0.25, 1.0 / 3} {
		kept := 0
		for n := uint64(1); n <= 3000; n++ {
			if step(n, r) > step(n-1, r) {
				kept++
			}
		}
		if want := int(math.Floor(3000 * r)); kept < want-1 || kept > want+1 {
			t.Errorf("rate %v: kept %d of 3000", r, kept)
		}
	}
}
