package pipelines_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

// Test plugins: a finite generator, a few processors and a collecting sink.

type genConfig struct {
	Count   int    `yaml:"count"`
	Batch   int    `yaml:"batch"`
	Message string `yaml:"message"`
	Acks    string `yaml:"acks"` // name of an ack counter
}

type genSource struct {
	c    *genConfig
	done chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

var ackCounters sync.Map // name → *ackCount

type ackCount struct{ ok, failed atomic.Int64 }

func acks(name string) *ackCount {
	v, _ := ackCounters.LoadOrStore(name, &ackCount{})
	return v.(*ackCount)
}

func (g *genSource) Start(ctx context.Context, in pipelines.Input) error {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer close(g.done)
		batch := max(g.c.Batch, 1)
		for i := 0; i < g.c.Count; i += batch {
			var evs []*event.Event
			var a *event.Acker
			if g.c.Acks != "" {
				ac := acks(g.c.Acks)
				a = event.NewAcker(func(ok bool) {
					if ok {
						ac.ok.Add(1)
					} else {
						ac.failed.Add(1)
					}
				})
			}
			for j := i; j < min(i+batch, g.c.Count); j++ {
				ev := event.New(event.KindLog, time.Now(), map[string]any{"n": int64(j), "message": g.c.Message, "status": int64(200 + 100*(j%4))})
				if a != nil {
					a.Track(ev)
				}
				evs = append(evs, ev)
			}
			if a != nil {
				a.Seal()
			}
			select {
			case <-g.stop:
				return
			default:
			}
			if _, err := in.Write(context.Background(), evs); err != nil {
				return
			}
		}
	}()
	return nil
}

func (g *genSource) Stop(ctx context.Context) error {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	g.wg.Wait()
	return nil
}
func (g *genSource) Done() <-chan struct{} { return g.done }

type tagConfig struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
	Panic bool   `yaml:"panic_on_n_7"`
}

type tagProc struct {
	c *tagConfig
	p event.Path
}

func (t *tagProc) Process(_ context.Context, evs []*event.Event) []*event.Event {
	for _, ev := range evs {
		if t.c.Panic {
			if v, _ := ev.Get(event.ParsePath("n")); v == int64(7) {
				panic("boom")
			}
		}
		ev.Put(t.p, t.c.Value)
	}
	return evs
}

type collectConfig struct {
	Name     string        `yaml:"name"`
	Delay    time.Duration `yaml:"delay"`
	Reject   bool          `yaml:"reject"`
	Blocking bool          `yaml:"block_until_shutdown"`
}

type collectSink struct {
	c   *collectConfig
	tel *pipelines.Telemetry
	mu  sync.Mutex
	evs []*event.Event
	end chan struct{}
}

var sinks sync.Map // name → *collectSink

func collected(name string) []*event.Event {
	v, ok := sinks.Load(name)
	if !ok {
		return nil
	}
	s := v.(*collectSink)
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*event.Event(nil), s.evs...)
}

func (s *collectSink) Start(context.Context) error { return nil }
func (s *collectSink) Write(ctx context.Context, evs []*event.Event) error {
	if s.c.Blocking {
		select {
		case <-ctx.Done():
		case <-s.end:
		}
		for _, ev := range evs {
			s.tel.Reject(ev, "shutdown")
		}
		return ctx.Err()
	}
	if s.c.Delay > 0 {
		time.Sleep(s.c.Delay)
	}
	s.mu.Lock()
	s.evs = append(s.evs, evs...)
	s.mu.Unlock()
	for _, ev := range evs {
		if s.c.Reject {
			s.tel.Reject(ev, "test")
		} else {
			s.tel.Deliver(ev)
		}
	}
	return nil
}
func (s *collectSink) Shutdown(context.Context) error { return nil }

func init() {
	pipelines.RegisterSource("test_gen", "test generator", func() *genConfig { return &genConfig{Count: 10, Batch: 1} },
		func(s pipelines.Settings, c *genConfig) (pipelines.Source, error) {
			return &genSource{c: c, done: make(chan struct{}), stop: make(chan struct{})}, nil
		})
	pipelines.RegisterProcessor("test_tag", "test tagger", func() *tagConfig { return &tagConfig{Key: "tag", Value: "x"} },
		func(s pipelines.Settings, c *tagConfig) (pipelines.Processor, error) {
			return &tagProc{c: c, p: event.ParsePath(c.Key)}, nil
		})
	pipelines.RegisterSink("test_collect", "test collector", func() *collectConfig { return &collectConfig{} },
		func(s pipelines.Settings, c *collectConfig) (pipelines.Sink, error) {
			cs := &collectSink{c: c, tel: s.Telemetry, end: make(chan struct{})}
			sinks.Store(c.Name, cs)
			return cs, nil
		})
}

type harness struct {
	g   *pipelines.Graph
	reg *prometheus.Registry
}

func build(t *testing.T, yaml string) *harness {
	t.Helper()
	ackCounters.Clear()
	sinks.Clear()
	cfg, err := config.Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	reg := prometheus.NewRegistry()
	log := logrus.New()
	log.SetOutput(io.Discard)
	g, err := pipelines.Build(cfg, pipelines.Options{Metrics: pipelines.NewMetrics(reg), Logger: log})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return &harness{g: g, reg: reg}
}

func (h *harness) run(t *testing.T) {
	t.Helper()
	if err := h.g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.g.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("sources did not finish")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if lost := h.g.Shutdown(ctx); lost != 0 {
		t.Fatalf("lost %d events", lost)
	}
}

func (h *harness) counter(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.Metric {
			have := map[string]string{}
			for _, l := range m.Label {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			if m.Counter != nil {
				total += m.Counter.GetValue()
			} else if m.Gauge != nil {
				total += m.Gauge.GetValue()
			}
		}
	}
	return total
}

func TestProcessorsAndDrain(t *testing.T) {
	h := build(t, `
p:
  workers: 3
  delay: 10
  buffer: {bounded_blocking: {buffer_size: 16, batch_size: 4}}
  source: {test_gen: {count: 1000, batch: 7, acks: drain}}
  processor:
    - test_tag: {key: /a/b, value: one}
    - test_tag: {key: c, value: two}
  sink: [test_collect: {name: drain, delay: 1ms}]
`)
	h.run(t)
	evs := collected("drain")
	if len(evs) != 1000 {
		t.Fatalf("collected %d events, want 1000", len(evs))
	}
	seen := map[int64]bool{}
	for _, ev := range evs {
		n, _ := ev.Get(event.ParsePath("n"))
		seen[n.(int64)] = true
		if v, _ := ev.GetString(event.ParsePath("/a/b")); v != "one" {
			t.Fatalf("processor 1 not applied: %v", ev.Fields())
		}
		if v, _ := ev.GetString(event.ParsePath("c")); v != "two" {
			t.Fatalf("processor 2 not applied: %v", ev.Fields())
		}
	}
	if len(seen) != 1000 {
		t.Fatalf("duplicates or gaps: %d distinct", len(seen))
	}
	if got := h.counter(t, "weft_pipeline_events_in_total", "pipeline", "p"); got != 1000 {
		t.Errorf("events in = %v", got)
	}
	if got := h.counter(t, "weft_component_events_sent_total", "component", "sink/0/test_collect"); got != 1000 {
		t.Errorf("sink delivered = %v", got)
	}
	if got := acks("drain").ok.Load(); got != (1000+6)/7 {
		t.Errorf("acknowledged units = %d, want %d", got, (1000+6)/7)
	}
}

func TestRoutesAndCopyOnWrite(t *testing.T) {
	h := build(t, `
p:
  delay: 10
  source: {test_gen: {count: 8, acks: routes}}
  route:
    - errors: '/status >= 400'
    - server_errors: '/status >= 500'
  processor: []
  sink:
    - test_collect: {name: r_errors, routes: [errors]}
    - test_collect: {name: r_5xx, routes: [server_errors]}
    - test_collect: {name: r_all}
`)
	// mutate what one sink got: the others must not see it
	h.run(t)
	errs, fives, all := collected("r_errors"), collected("r_5xx"), collected("r_all")
	// statuses cycle 200,300,400,500
	if len(errs) != 4 || len(fives) != 2 || len(all) != 8 {
		t.Fatalf("routed errors=%d 5xx=%d all=%d, want 4 2 8", len(errs), len(fives), len(all))
	}
	for _, ev := range fives {
		ev.Put(event.ParsePath("mutated"), true)
	}
	for _, ev := range append(errs, all...) {
		if _, ok := ev.Get(event.ParsePath("mutated")); ok {
			t.Fatal("a write to one sink's copy leaked into another sink's copy")
		}
	}
	if got := acks("routes").ok.Load(); got != 8 {
		t.Errorf("acks = %d, want 8 (each event acknowledged once all its copies were delivered)", got)
	}
}

func TestUnroutedEventsAreCountedDrops(t *testing.T) {
	h := build(t, `
p:
  delay: 10
  source: {test_gen: {count: 8}}
  route: [{errors: '/status >= 400'}]
  sink: [test_collect: {name: unrouted, routes: [errors]}]
`)
	h.run(t)
	if n := len(collected("unrouted")); n != 4 {
		t.Fatalf("collected %d", n)
	}
	if got := h.counter(t, "weft_pipeline_events_dropped_total", "pipeline", "p", "reason", "unrouted"); got != 4 {
		t.Errorf("unrouted drops = %v, want 4", got)
	}
}

func TestChainedPipelinesFanOut(t *testing.T) {
	h := build(t, `
entry:
  delay: 10
  source: {test_gen: {count: 500, batch: 50, acks: fanout}}
  sink:
    - pipeline: {name: raw}
    - pipeline: {name: map}
raw:
  delay: 10
  source: {pipeline: {name: entry}}
  processor: [test_tag: {key: kind, value: raw}]
  sink: [test_collect: {name: fan_raw}]
map:
  delay: 10
  source: {pipeline: {name: entry}}
  processor: [test_tag: {key: kind, value: map}]
  sink: [test_collect: {name: fan_map}]
`)
	names := []string{}
	for _, p := range h.g.Pipelines() {
		names = append(names, p.Name)
	}
	if names[0] != "entry" {
		t.Fatalf("upstream must come first: %v", names)
	}
	h.run(t)
	raw, mp := collected("fan_raw"), collected("fan_map")
	if len(raw) != 500 || len(mp) != 500 {
		t.Fatalf("raw=%d map=%d, want 500 each", len(raw), len(mp))
	}
	for _, ev := range raw {
		if v, _ := ev.GetString(event.ParsePath("kind")); v != "raw" {
			t.Fatalf("raw pipeline saw map's change: %v", ev.Fields())
		}
	}
	if got := acks("fanout").ok.Load(); got != 10 {
		t.Errorf("acks = %d, want 10 units acknowledged end to end", got)
	}
}

func TestRejectedEventsFailTheirAck(t *testing.T) {
	h := build(t, `
p:
  delay: 10
  source: {test_gen: {count: 5, batch: 5, acks: rejected}}
  sink: [test_collect: {name: rej, reject: true}]
`)
	h.run(t)
	if ok, failed := acks("rejected").ok.Load(), acks("rejected").failed.Load(); ok != 0 || failed != 1 {
		t.Errorf("acks ok=%d failed=%d, want 0 1", ok, failed)
	}
	if got := h.counter(t, "weft_pipeline_events_failed_total", "reason", "test"); got != 5 {
		t.Errorf("failed = %v", got)
	}
}

func TestPanicIsContained(t *testing.T) {
	h := build(t, `
p:
  delay: 10
  buffer: {bounded_blocking: {buffer_size: 100, batch_size: 1}}
  source: {test_gen: {count: 20, batch: 1}}
  processor: [test_tag: {panic_on_n_7: true}]
  sink: [test_collect: {name: panic}]
`)
	h.run(t)
	if n := len(collected("panic")); n != 19 {
		t.Errorf("collected %d, want 19 (the panicking event rejected)", n)
	}
	if got := h.counter(t, "weft_pipeline_events_failed_total", "reason", "panic"); got != 1 {
		t.Errorf("panic failures = %v", got)
	}
}

func TestShutdownDeadlineCountsLostEvents(t *testing.T) {
	h := build(t, `
p:
  delay: 10
  buffer: {bounded_blocking: {buffer_size: 100, batch_size: 10}}
  source: {test_gen: {count: 50, batch: 50}}
  sink: [test_collect: {name: stuck, block_until_shutdown: true}]
`)
	if err := h.g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-h.g.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	lost := h.g.Shutdown(ctx)
	failed := h.counter(t, "weft_pipeline_events_failed_total", "pipeline", "p", "reason", "shutdown")
	if failed != 50 {
		t.Errorf("failed{shutdown} = %v, want all 50 (10 in the stuck sink, %d left in the buffer)", failed, lost)
	}
	if lost != 40 {
		t.Errorf("lost from buffer = %d, want 40", lost)
	}
}

func TestGraphErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown pipeline", `
a:
  source: {test_gen: }
  sink: [pipeline: {name: bee}]
b:
  source: {pipeline: {name: a}}
  sink: [test_collect: ]
`, `test.yaml:4:10: pipeline "a": sink[0] "pipeline": option "name": no pipeline named "bee"`},
		{"one-sided edge", `
a:
  source: {test_gen: }
  sink: [test_collect: ]
b:
  source: {pipeline: {name: a}}
  sink: [test_collect: ]
`, `test.yaml:6:12: pipeline "b": source "pipeline": reads from pipeline "a", but "a" has no `},
		{"cycle", `
a:
  source: {pipeline: {name: c}}
  sink: [pipeline: {name: b}]
b:
  source: {pipeline: {name: a}}
  sink: [pipeline: {name: c}]
c:
  source: {pipeline: {name: b}}
  sink: [pipeline: {name: a}]
`, `pipelines form a cycle: a -> b -> c -> a`},
		{"unknown plugin", `
a:
  source: {test_gen: }
  processor: [test_tga: ]
  sink: [test_collect: ]
`, `test.yaml:4:15: pipeline "a": unknown processor plugin "test_tga"; did you mean "test_tag"?`},
		{"wrong kind", `
a:
  source: {test_collect: }
  sink: [test_collect: ]
`, `unknown source plugin "test_collect" ("test_collect" is a sink)`},
		{"misspelt option", `
a:
  source: {test_gen: {cuont: 3}}
  sink: [test_collect: ]
`, `test.yaml:3:23: pipeline "a": source "test_gen": option "cuont": unknown option "cuont"; did you mean "count"?`},
		{"unknown route", `
a:
  source: {test_gen: }
  route: [{errors: '/status > 1'}]
  sink: [test_collect: {routes: [erors]}]
`, `test.yaml:5:33: pipeline "a": sink[0] "test_collect": option "routes": route "erors" is not defined in this pipeline's ` + "`route`" + ` section; did you mean "errors"?`},
		{"bad route expression", `
a:
  source: {test_gen: }
  route: [{errors: '/status >'}]
  sink: [test_collect: {routes: [errors]}]
`, `test.yaml:4:20: pipeline "a": option "route.errors": `},
		{"missing connector name", `
a:
  source: {test_gen: }
  sink: [pipeline: ]
`, `option "name": required option is missing`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.Parse("test.yaml", []byte(c.yaml), func(string) (string, bool) { return "", false })
			if err == nil {
				err = pipelines.Validate(cfg)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, c.want)
			}
		})
	}
}

func TestBackPressure(t *testing.T) {
	b := pipelines.NewBuffer(4)
	evs := event.NewBatch(6, event.KindLog, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	n, err := b.Write(ctx, evs)
	if n != 4 || err == nil {
		t.Fatalf("write to a full buffer: n=%d err=%v; want 4 accepted and a deadline error", n, err)
	}
	got, _ := b.Read(context.Background(), nil, 3, 0)
	if len(got) != 3 || got[0] != evs[0] || got[2] != evs[2] {
		t.Fatalf("read order wrong")
	}
	// the rest now fits, wrapping around the ring
	done := make(chan int)
	go func() {
		n, _ := b.Write(context.Background(), evs[4:])
		done <- n
	}()
	if n := <-done; n != 2 {
		t.Fatalf("second write accepted %d", n)
	}
	got, _ = b.Read(context.Background(), nil, 10, 0)
	if len(got) != 3 || got[0] != evs[3] || got[1] != evs[4] || got[2] != evs[5] {
		t.Fatalf("wrapped read wrong: %d", len(got))
	}
	b.Close()
	if _, err := b.Write(context.Background(), evs[:1]); err != pipelines.ErrClosed {
		t.Fatalf("write after close: %v", err)
	}
	if _, closed := b.Read(context.Background(), nil, 1, time.Second); !closed {
		t.Fatal("read on closed empty buffer should report closed")
	}
}

func TestBlockedWriterWakesWhenSpaceFrees(t *testing.T) {
	b := pipelines.NewBuffer(2)
	evs := event.NewBatch(5, event.KindLog, time.Now())
	var wrote atomic.Int64
	go func() {
		n, _ := b.Write(context.Background(), evs)
		wrote.Store(int64(n))
	}()
	var got []*event.Event
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 5 && time.Now().Before(deadline) {
		got, _ = b.Read(context.Background(), got, 1, 100*time.Millisecond)
	}
	if len(got) != 5 {
		t.Fatalf("read %d of 5", len(got))
	}
	for i := range got {
		if got[i] != evs[i] {
			t.Fatalf("order broken at %d", i)
		}
	}
}

func TestStatus(t *testing.T) {
	h := build(t, `
p:
  source: {test_gen: {count: 3}}
  sink: [test_collect: {name: status}]
`)
	h.run(t)
	st := h.g.Status()
	if len(st) != 1 || st[0].Name != "p" || st[0].State != "stopped" || st[0].EventsIn != 3 || len(st[0].Components) != 2 {
		t.Fatalf("status = %+v", st)
	}
	_ = fmt.Sprint
}

// Fan-in (weft's extension): a `pipeline` source may name several upstream
// pipelines; all of their events arrive, and it stops after all of them.
func TestFanIn(t *testing.T) {
	h := build(t, `
a:
  delay: 10
  source: {test_gen: {count: 100, batch: 10, acks: fanin}}
  processor: [test_tag: {key: from, value: a}]
  sink: [pipeline: {name: joined}]
b:
  delay: 10
  source: {test_gen: {count: 50, batch: 10, acks: fanin}}
  processor: [test_tag: {key: from, value: b}]
  sink: [pipeline: {name: joined}]
joined:
  delay: 10
  source: {pipeline: {name: [a, b]}}
  sink: [test_collect: {name: fanin}]
`)
	if names := h.g.Pipelines(); names[2].Name != "joined" {
		t.Fatalf("the joined pipeline must come after both upstreams")
	}
	h.run(t)
	got := map[string]int{}
	for _, ev := range collected("fanin") {
		v, _ := ev.GetString(event.ParsePath("from"))
		got[v]++
	}
	if got["a"] != 100 || got["b"] != 50 {
		t.Fatalf("fan-in delivered %v, want a:100 b:50", got)
	}
	if n := acks("fanin").ok.Load(); n != 15 {
		t.Fatalf("acks %d, want 15", n)
	}
}

func TestFanInNeedsBothEnds(t *testing.T) {
	cfg, _ := config.Parse("test.yaml", []byte(`
a:
  source: {test_gen: }
  sink: [pipeline: {name: joined}]
b:
  source: {test_gen: }
  sink: [test_collect: ]
joined:
  source: {pipeline: {name: [a, b]}}
  sink: [test_collect: ]
`), func(string) (string, bool) { return "", false })
	err := pipelines.Validate(cfg)
	if err == nil || !strings.Contains(err.Error(), `reads from pipeline "b", but "b" has no `+"`pipeline`"+` sink named "joined"`) {
		t.Fatalf("error = %v", err)
	}
}
