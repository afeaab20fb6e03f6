package oteltraceraw

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	"github.com/weft-agent/weft/plugins/oteltraceraw/spantest"
)

var ctx = context.Background()

// fakeClock is a settable clock for the flush interval and the TTL.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest(t testing.TB, mod func(*Config)) (*processor, *fakeClock, *prometheus.Registry) {
	t.Helper()
	cfg := NewConfig()
	if mod != nil {
		mod(cfg)
	}
	clock := &fakeClock{t: time.Unix(1763884800, 0)}
	s, reg := pipelinestest.Settings("test", "processor/0/otel_trace_raw")
	p, err := newProcessor(s, cfg, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	return p, clock, reg
}

// run processes a copy of evs: Process compacts its input in place.
func run(p *processor, evs []*event.Event) []*event.Event {
	return p.Process(ctx, slices.Clone(evs))
}

func str(ev *event.Event, k string) string {
	s, _ := ev.Fields()[k].(string)
	return s
}

func isRoot(ev *event.Event) bool { return str(ev, "parentSpanId") == "" }

// expectedGroups computes, independently of the processor, each trace's
// group from its root span's own fields.
func expectedGroups(t *testing.T, spans []*event.Event) map[string]map[string]any {
	t.Helper()
	want := map[string]map[string]any{}
	for _, ev := range spans {
		if !isRoot(ev) {
			continue
		}
		f := ev.Fields()
		want[str(ev, "traceId")] = map[string]any{
			"traceGroup": f["name"],
			"traceGroupFields": map[string]any{
				"endTime":         f["endTime"],
				"durationInNanos": f["durationInNanos"],
				"statusCode":      f["status"].(map[string]any)["code"],
			},
		}
	}
	return want
}

func checkGroups(t *testing.T, out []*event.Event, want map[string]map[string]any, n int) {
	t.Helper()
	if len(out) != n {
		t.Fatalf("got %d spans out, want %d", len(out), n)
	}
	seen := map[string]int{}
	for _, ev := range out {
		seen[str(ev, "spanId")]++
		w := want[str(ev, "traceId")]
		if w == nil {
			t.Errorf("span %s: unexpected trace %s", str(ev, "spanId"), str(ev, "traceId"))
			continue
		}
		f := ev.Fields()
		if f["traceGroup"] != w["traceGroup"] || !reflect.DeepEqual(f["traceGroupFields"], w["traceGroupFields"]) {
			t.Errorf("span %s (%s): traceGroup %v %v, want %v %v", str(ev, "spanId"), str(ev, "name"),
				f["traceGroup"], f["traceGroupFields"], w["traceGroup"], w["traceGroupFields"])
		}
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("span %s released %d times", id, c)
		}
	}
}

func fixture(t *testing.T) []*event.Event {
	t.Helper()
	evs, err := spantest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 8 {
		t.Fatalf("fixture has %d spans, want 8", len(evs))
	}
	return evs
}

// The fixture's two checkouts: every span gets its root's trace group,
// whatever the order the spans arrive in.
func TestFixtureTraceGroups(t *testing.T) {
	orders := map[string]func([]*event.Event) [][]*event.Event{
		"file order, one batch": func(evs []*event.Event) [][]*event.Event { return [][]*event.Event{evs} },
		"children first, root last, one batch": func(evs []*event.Event) [][]*event.Event {
			var kids, roots []*event.Event
			for _, ev := range evs {
				if isRoot(ev) {
					roots = append(roots, ev)
				} else {
					kids = append(kids, ev)
				}
			}
			return [][]*event.Event{append(kids, roots...)}
		},
		"children first, root last, one span per batch": func(evs []*event.Event) [][]*event.Event {
			var batches, roots [][]*event.Event
			for _, ev := range evs {
				if isRoot(ev) {
					roots = append(roots, []*event.Event{ev})
				} else {
					batches = append(batches, []*event.Event{ev})
				}
			}
			return append(batches, roots...)
		},
		"reversed, one span per batch": func(evs []*event.Event) [][]*event.Event {
			var batches [][]*event.Event
			for i := len(evs) - 1; i >= 0; i-- {
				batches = append(batches, []*event.Event{evs[i]})
			}
			return batches
		},
	}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			evs := fixture(t)
			want := expectedGroups(t, evs)
			p, _, reg := newTest(t, nil)
			var out []*event.Event
			for _, b := range order(evs) {
				out = append(out, run(p, b)...)
			}
			checkGroups(t, out, want, 8)
			if got := p.Flush(ctx); len(got) != 0 {
				t.Errorf("Flush returned %d spans; nothing should be held", len(got))
			}
			if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_held_spans"); v != 0 {
				t.Errorf("held spans gauge %v", v)
			}
		})
	}
}

// The facts the brief states about the fixture, checked literally.
func TestFixtureFailedCheckout(t *testing.T) {
	evs := fixture(t)
	p, _, _ := newTest(t, nil)
	// Children first so that every child waits for its root.
	var kids, roots []*event.Event
	for _, ev := range evs {
		if isRoot(ev) {
			roots = append(roots, ev)
		} else {
			kids = append(kids, ev)
		}
	}
	if out := run(p, kids); len(out) != 0 {
		t.Fatalf("children without their root were passed on: %d", len(out))
	}
	out := run(p, roots)
	byTrace := map[string][]*event.Event{}
	for _, ev := range out {
		byTrace[str(ev, "traceId")] = append(byTrace[str(ev, "traceId")], ev)
	}
	failed := byTrace["b6ae4bc13d2a43a6ada270691286d33c"]
	ok := byTrace["f552cc5023d8319aea1181f76f3adcbd"]
	if len(failed) != 4 || len(ok) != 4 {
		t.Fatalf("spans per trace: %d and %d, want 4 and 4", len(failed), len(ok))
	}
	for _, ev := range failed {
		tgf := ev.Fields()["traceGroupFields"].(map[string]any)
		if str(ev, "traceGroup") != "client_checkout" || tgf["statusCode"] != int64(2) ||
			tgf["endTime"] != "2025-11-23T08:00:05.180000000Z" || tgf["durationInNanos"] != int64(180_000_000) {
			t.Errorf("failed trace, span %s: %v %v", str(ev, "name"), str(ev, "traceGroup"), tgf)
		}
	}
	for _, ev := range ok {
		tgf := ev.Fields()["traceGroupFields"].(map[string]any)
		if str(ev, "traceGroup") != "client_checkout" || tgf["statusCode"] != int64(0) {
			t.Errorf("ok trace, span %s: %v %v", str(ev, "name"), str(ev, "traceGroup"), tgf)
		}
	}
	// The root comes first, its children right after it.
	if !isRoot(out[0]) || str(out[0], "traceId") != str(out[1], "traceId") {
		t.Errorf("a root's children should follow it in the output")
	}
}

func TestRootNeverArrives(t *testing.T) {
	p, clock, reg := newTest(t, func(c *Config) { c.TraceFlushInterval = 10 * time.Second })
	_, kids := spantest.Trace(1, 3)
	if out := run(p, kids); len(out) != 0 {
		t.Fatalf("held spans were passed on: %d", len(out))
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_held_spans"); v != 3 {
		t.Errorf("held spans gauge %v, want 3", v)
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_held_traces"); v != 1 {
		t.Errorf("held traces gauge %v, want 1", v)
	}
	clock.advance(9 * time.Second)
	if out := run(p, nil); len(out) != 0 {
		t.Fatalf("released %d spans before the flush interval", len(out))
	}
	// Released at the interval (plus at most one sweep period, 1/16 of it).
	clock.advance(time.Second + 10*time.Second/16)
	out := run(p, nil)
	if len(out) != 3 {
		t.Fatalf("released %d spans after the flush interval, want 3", len(out))
	}
	for i, ev := range out {
		f := ev.Fields()
		if ev != kids[i] {
			t.Errorf("span %d out of order", i)
		}
		if tg, ok := f["traceGroup"]; !ok || tg != nil {
			t.Errorf("traceGroup = %v (present %v), want null", tg, ok)
		}
		if tgf, _ := f["traceGroupFields"].(map[string]any); tgf == nil || tgf["statusCode"] != nil {
			t.Errorf("traceGroupFields = %v", f["traceGroupFields"])
		}
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_released_without_group_total", "reason", "flush_interval"); v != 3 {
		t.Errorf("released_without_group{flush_interval} = %v, want 3", v)
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_held_spans"); v != 0 {
		t.Errorf("held spans gauge %v", v)
	}
	if out := p.Flush(ctx); len(out) != 0 {
		t.Errorf("Flush returned %d", len(out))
	}
}

// A root arriving after its children were released leaves them be; later
// children use its cached group until the TTL ends.
func TestCacheTTL(t *testing.T) {
	p, clock, reg := newTest(t, func(c *Config) { c.TraceGroupCacheTTL = 15 * time.Second })
	root, kids := spantest.Trace(2, 3)
	if out := run(p, []*event.Event{root}); len(out) != 1 || out[0] != root {
		t.Fatalf("root not passed through")
	}
	clock.advance(14 * time.Second)
	out := run(p, kids[:1])
	if len(out) != 1 || str(out[0], "traceGroup") != "GET /api/2" {
		t.Fatalf("child within the TTL not enriched: %v", out)
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_trace_groups"); v != 1 {
		t.Errorf("trace groups gauge %v, want 1", v)
	}
	clock.advance(2 * time.Second)
	if out := run(p, kids[1:]); len(out) != 0 {
		t.Fatalf("child after the TTL should be held, got %d out", len(out))
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_trace_group_evictions_total", "reason", "ttl"); v != 1 {
		t.Errorf("ttl evictions %v, want 1", v)
	}
	held := p.Flush(ctx)
	if len(held) != 2 || held[0].Fields()["traceGroup"] != nil {
		t.Fatalf("Flush: %d spans", len(held))
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_released_without_group_total", "reason", "shutdown"); v != 2 {
		t.Errorf("released_without_group{shutdown} = %v, want 2", v)
	}
}

// Expired trace groups are also forgotten by the sweep, without a late span
// asking for them.
func TestCacheSweep(t *testing.T) {
	p, clock, reg := newTest(t, nil)
	for i := 0; i < 10; i++ {
		root, _ := spantest.Trace(i, 0)
		run(p, []*event.Event{root})
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_trace_groups"); v != 10 {
		t.Fatalf("trace groups %v", v)
	}
	clock.advance(DefaultTraceGroupCacheTTL + time.Second)
	run(p, nil)
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_trace_groups"); v != 0 {
		t.Errorf("trace groups after the TTL: %v", v)
	}
}

func TestDuplicates(t *testing.T) {
	p, _, _ := newTest(t, nil)
	root, kids := spantest.Trace(3, 2)
	dup := func(ev *event.Event) *event.Event { return event.New(ev.Kind, ev.Time, event.DeepCopyMap(ev.Fields())) }
	// The same child twice before the root, the root twice, a child twice after.
	out := run(p, []*event.Event{kids[0], dup(kids[0])})
	out = append(out, run(p, []*event.Event{root, dup(root)})...)
	out = append(out, run(p, []*event.Event{kids[1], dup(kids[1])})...)
	if len(out) != 6 {
		t.Fatalf("got %d spans, want all 6 (duplicates pass through)", len(out))
	}
	for _, ev := range out {
		if str(ev, "traceGroup") != "GET /api/3" {
			t.Errorf("span %s: traceGroup %q", str(ev, "spanId"), str(ev, "traceGroup"))
		}
	}
	if len(p.Flush(ctx)) != 0 {
		t.Error("nothing should be held")
	}
}

func TestFlushReturnsHeldSpans(t *testing.T) {
	p, clock, reg := newTest(t, nil)
	var want []*event.Event
	for i := 0; i < 3; i++ {
		_, kids := spantest.Trace(10+i, 2)
		if out := run(p, kids); len(out) != 0 {
			t.Fatal("children passed on")
		}
		want = append(want, kids...)
		clock.advance(time.Second)
	}
	got := p.Flush(ctx)
	if len(got) != len(want) {
		t.Fatalf("Flush returned %d spans, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("Flush order: span %d is %s, want %s (oldest trace first)", i, str(got[i], "spanId"), str(want[i], "spanId"))
		}
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_held_spans"); v != 0 {
		t.Errorf("held spans gauge %v after Flush", v)
	}
	if got := p.Flush(ctx); len(got) != 0 {
		t.Errorf("second Flush returned %d", len(got))
	}
}

func TestMaxHeldSpans(t *testing.T) {
	p, clock, reg := newTest(t, func(c *Config) { c.MaxHeldSpans = 5 })
	var traces [][]*event.Event
	for i := 0; i < 3; i++ {
		_, kids := spantest.Trace(20+i, 2)
		traces = append(traces, kids)
	}
	run(p, traces[0])
	clock.advance(time.Millisecond)
	run(p, traces[1])
	clock.advance(time.Millisecond)
	out := run(p, traces[2]) // 6 held > 5: the oldest trace goes
	if len(out) != 2 || out[0] != traces[0][0] || out[1] != traces[0][1] {
		t.Fatalf("want the oldest trace's 2 spans released, got %d", len(out))
	}
	for _, ev := range out {
		if tg, ok := ev.Fields()["traceGroup"]; !ok || tg != nil {
			t.Errorf("released span has traceGroup %v", tg)
		}
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_held_spans"); v != 4 {
		t.Errorf("held spans %v, want 4", v)
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_released_without_group_total", "reason", "max_held_spans"); v != 2 {
		t.Errorf("released_without_group{max_held_spans} = %v, want 2", v)
	}
}

func TestTraceGroupCacheMaxSize(t *testing.T) {
	p, _, reg := newTest(t, func(c *Config) { c.TraceGroupCacheMaxSize = 2 })
	var roots []*event.Event
	var kids [][]*event.Event
	for i := 0; i < 3; i++ {
		r, k := spantest.Trace(30+i, 1)
		roots = append(roots, r)
		kids = append(kids, k)
	}
	run(p, roots)
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_trace_groups"); v != 2 {
		t.Errorf("trace groups %v, want 2", v)
	}
	if v := pipelinestest.CounterValue(reg, "weft_otel_trace_raw_trace_group_evictions_total", "reason", "max_size"); v != 1 {
		t.Errorf("max_size evictions %v, want 1", v)
	}
	if out := run(p, kids[0]); len(out) != 0 {
		t.Errorf("the oldest trace group should have been forgotten")
	}
	if out := run(p, kids[2]); len(out) != 1 || str(out[0], "traceGroup") != "GET /api/32" {
		t.Errorf("the newest trace group should be cached")
	}
}

// Other events pass through untouched and in order around held spans.
func TestPassThrough(t *testing.T) {
	p, _, _ := newTest(t, nil)
	logEv := event.New(event.KindLog, time.Unix(0, 0), map[string]any{"traceId": "f552cc5023d8319aea1181f76f3adcbd", "message": "hi"})
	noTrace := event.New(event.KindSpan, time.Unix(0, 0), map[string]any{"spanId": "x"})
	root, kids := spantest.Trace(40, 1)
	out := run(p, []*event.Event{logEv, kids[0], noTrace, root})
	if len(out) != 4 || out[0] != logEv || out[1] != noTrace || out[2] != root || out[3] != kids[0] {
		t.Fatalf("unexpected output order")
	}
	if _, ok := logEv.Fields()["traceGroup"]; ok {
		t.Error("a log event was enriched")
	}
}

// A span shared with a fan-out clone is copied before it is written.
func TestClonesUnaffected(t *testing.T) {
	p, _, _ := newTest(t, nil)
	root, kids := spantest.Trace(50, 1)
	clone := kids[0].Clone()
	run(p, []*event.Event{root})
	out := run(p, []*event.Event{kids[0]})
	if len(out) != 1 || str(out[0], "traceGroup") == "" {
		t.Fatal("child not enriched")
	}
	if _, ok := clone.Fields()["traceGroup"]; ok {
		t.Error("the clone was modified")
	}
}

// 10,000 traces, their spans shuffled and fed by 4 goroutines at once
// (with idle ticks): every span is released exactly once with its own
// trace's group.
func TestConcurrentTraces(t *testing.T) {
	const traces, kidsPer, workers = 10_000, 3, 4
	p, _, _ := newTest(t, nil)
	var all []*event.Event
	for i := 0; i < traces; i++ {
		root, kids := spantest.Trace(i, kidsPer)
		all = append(all, root)
		all = append(all, kids...)
	}
	want := expectedGroups(t, all)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	batches := make(chan []*event.Event, 64)
	go func() {
		for i := 0; i < len(all); {
			n := min(1+rng.IntN(200), len(all)-i)
			batches <- append([]*event.Event(nil), all[i:i+n]...)
			i += n
		}
		close(batches)
	}()
	var mu sync.Mutex
	var out []*event.Event
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				res := run(p, b)
				if rng := len(res); rng%7 == 0 {
					res = append(res, run(p, nil)...) // an idle tick
				}
				mu.Lock()
				out = append(out, res...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if rest := p.Flush(ctx); len(rest) != 0 {
		t.Fatalf("%d spans still held after every root arrived", len(rest))
	}
	checkGroups(t, out, want, traces*(1+kidsPer))
}

func TestConfig(t *testing.T) {
	for _, name := range []string{"otel_trace_raw", "otel_traces"} {
		cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, name, "")
		if err != nil {
			t.Fatal(err)
		}
		c := cfg.(*Config)
		if c.TraceFlushInterval != 180*time.Second || c.TraceGroupCacheTTL != 15*time.Second ||
			c.TraceGroupCacheMaxSize != 1_000_000 || c.MaxHeldSpans != 500_000 {
			t.Errorf("%s defaults: %+v", name, c)
		}
	}
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "otel_trace_raw",
		"{trace_flush_interval: 5, trace_group_cache_ttl: PT1M30S, trace_group_cache_max_size: 1000, max_held_spans: 10}")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if c.TraceFlushInterval != 5*time.Second || c.TraceGroupCacheTTL != 90*time.Second || c.TraceGroupCacheMaxSize != 1000 || c.MaxHeldSpans != 10 {
		t.Errorf("decoded %+v", c)
	}
	for opts, want := range map[string]string{
		"{trace_flush_intervall: 5}":      `did you mean "trace_flush_interval"?`,
		"{trace_group_cache_max_size: 0}": "below the minimum",
		"{max_held_spans: -1}":            "below the minimum",
		"{trace_group_cache_ttl: soon}":   "invalid duration",
	} {
		_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "otel_trace_raw", opts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", opts, err, want)
		}
	}
	// Through the registry, as the engine builds it.
	if _, _, err := pipelinestest.Processor("otel_traces", "trace_flush_interval: 1"); err != nil {
		t.Fatal(err)
	}
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "otel_trace_raw", "README.md")
}
