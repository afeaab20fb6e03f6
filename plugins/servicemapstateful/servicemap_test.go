package servicemapstateful

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	"github.com/weft-agent/weft/plugins/oteltraceraw/spantest"
)

var ctx = context.Background()

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

const windowLen = 180 * time.Second

func newTest(t testing.TB, mod func(*Config)) (*processor, *fakeClock, *prometheus.Registry) {
	t.Helper()
	cfg := NewConfig()
	if mod != nil {
		mod(cfg)
	}
	clock := &fakeClock{t: time.Unix(1763884800, 0)}
	s, reg := pipelinestest.Settings("test", "processor/0/service_map_stateful")
	p, err := newProcessor(s, cfg, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	return p, clock, reg
}

// doc is a relationship document in comparable form ("" is null).
type doc struct {
	service, kind, destDomain, destResource, targetDomain, targetResource, traceGroup, hashID string
}

func (d doc) String() string {
	return fmt.Sprintf("{%s %s dest=%s/%s target=%s/%s tg=%s}", d.service, d.kind, d.destDomain, d.destResource,
		d.targetDomain, d.targetResource, d.traceGroup)
}

func docs(t *testing.T, evs []*event.Event) []doc {
	t.Helper()
	var out []doc
	s := func(v any) string {
		if v == nil {
			return ""
		}
		return v.(string)
	}
	for _, ev := range evs {
		if ev.Kind != event.KindLog {
			t.Errorf("relationship event of kind %v", ev.Kind)
		}
		f := ev.Fields()
		for _, k := range []string{"serviceName", "kind", "destination", "target", "traceGroupName", "hashId"} {
			if _, ok := f[k]; !ok {
				t.Errorf("document lacks %q: %v", k, f)
			}
		}
		d := doc{service: s(f["serviceName"]), kind: s(f["kind"]), traceGroup: s(f["traceGroupName"]), hashID: s(f["hashId"])}
		if m, ok := f["destination"].(map[string]any); ok {
			d.destDomain, d.destResource = s(m["domain"]), s(m["resource"])
		}
		if m, ok := f["target"].(map[string]any); ok {
			d.targetDomain, d.targetResource = s(m["domain"]), s(m["resource"])
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// javaHash is the test's own reading of Data Prepper's hashId: MD5 of the
// comma-joined fields, base64.
func javaHash(parts ...string) string {
	sum := md5.Sum([]byte(strings.Join(parts, ",")))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// expectedEdges walks the spans independently: every parent/child pair in
// different services is an edge; it returns the documents Data Prepper
// derives from them.
func expectedEdges(spans []*event.Event) []doc {
	str := func(ev *event.Event, k string) string { s, _ := ev.Fields()[k].(string); return s }
	byID := map[string]*event.Event{}
	group := map[string]string{}
	for _, ev := range spans {
		byID[str(ev, "spanId")] = ev
		if str(ev, "parentSpanId") == "" {
			group[str(ev, "traceId")] = str(ev, "name")
		}
	}
	set := map[doc]bool{}
	for _, c := range spans {
		par := byID[str(c, "parentSpanId")]
		if par == nil || str(par, "serviceName") == str(c, "serviceName") {
			continue
		}
		tg := group[str(c, "traceId")]
		ps, pk, cs, ck, cn := str(par, "serviceName"), str(par, "kind"), str(c, "serviceName"), str(c, "kind"), str(c, "name")
		set[doc{service: ps, kind: pk, destDomain: cs, destResource: cn, traceGroup: tg,
			hashID: javaHash(ps, pk, tg, "", cn, cs)}] = true
		set[doc{service: cs, kind: ck, targetDomain: cs, targetResource: cn, traceGroup: tg,
			hashID: javaHash(cs, ck, tg, cn, cs, "")}] = true
	}
	var out []doc
	for d := range set {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func fixture(t *testing.T) []*event.Event {
	t.Helper()
	evs, err := spantest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// The fixture: client calls order, order calls payment (both traces, the
// same four documents), each once per window, again in the next window
// with new traffic, not again without.
func TestFixtureRelationships(t *testing.T) {
	p, clock, reg := newTest(t, nil)
	spans := fixture(t)
	want := expectedEdges(spans)

	// The service-level edges the walk found, stated literally.
	var edges []string
	for _, d := range want {
		if d.destDomain != "" {
			edges = append(edges, d.service+"->"+d.destDomain)
		}
	}
	if !reflect.DeepEqual(edges, []string{"client->order", "order->payment"}) {
		t.Fatalf("the fixture's edges: %v", edges)
	}
	if len(want) != 4 {
		t.Fatalf("want 4 documents, the walk found %d", len(want))
	}
	for _, d := range want {
		if d.traceGroup != "client_checkout" || d.kind != "SPAN_KIND_SERVER" {
			t.Errorf("expected document %v", d)
		}
	}

	out := p.Process(ctx, slices.Clone(spans))
	if len(out) != 0 {
		t.Fatalf("spans must be consumed and nothing emitted before the window ends; got %d", len(out))
	}
	if v := pipelinestest.CounterValue(reg, "weft_component_events_dropped_total", "reason", DropReason); v != 8 {
		t.Errorf("dropped{%s} = %v, want 8", DropReason, v)
	}
	clock.advance(windowLen - time.Second)
	if out := p.Process(ctx, nil); len(out) != 0 {
		t.Fatalf("emitted %d before the window ended", len(out))
	}
	clock.advance(time.Second)
	got := docs(t, p.Process(ctx, nil)) // the idle tick ends the window
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("window 1:\n got  %v\n want %v", got, want)
	}
	// The client→order document's ID, computed outside Go (Python's hashlib).
	if got[0].service != "client" || got[0].hashID != "hMcfxDebRQoy7uvHXlcrSQ==" {
		t.Errorf("client→order document %v, hashId %s", got[0], got[0].hashID)
	}
	if v := pipelinestest.CounterValue(reg, "weft_pipeline_events_created_total"); v != 4 {
		t.Errorf("created = %v, want 4", v)
	}

	// Window 2 without traffic: nothing new (the spans were evaluated, and
	// every service took part in an edge, so there are no isolated nodes).
	clock.advance(windowLen)
	if out := p.Process(ctx, nil); len(out) != 0 {
		t.Fatalf("window 2 without traffic emitted %v", docs(t, out))
	}
	// Window 3 with the same traffic again: emitted again, once.
	p.Process(ctx, slices.Clone(fixture(t)))
	p.Process(ctx, slices.Clone(fixture(t)))
	clock.advance(windowLen)
	if got := docs(t, p.Process(ctx, nil)); !reflect.DeepEqual(got, want) {
		t.Fatalf("window 3:\n got  %v\n want %v", got, want)
	}
	if got := p.Flush(ctx); len(got) != 0 {
		t.Errorf("Flush after the last window emitted %v", docs(t, got))
	}
}

// Data Prepper's own known values (ServiceMapRelationshipTest).
func TestHashIDKnownValues(t *testing.T) {
	kind, tg := "Kind", "TraceGroupName"
	dest := Relationship{ServiceName: "ServiceName", Kind: &kind, TraceGroupName: &tg,
		Destination: &Endpoint{Domain: "d1", Resource: "r1"}}
	if got := dest.HashID(); got != "r7rZwbptLFxOLPUlg/x2nA==" {
		t.Errorf("destination hashId %s", got)
	}
	target := Relationship{ServiceName: "ServiceName", Kind: &kind, TraceGroupName: &tg,
		Target: &Endpoint{Domain: "d1", Resource: "r1"}}
	if got := target.HashID(); got != "lJtcAzLqaaeyhym6a99CcA==" {
		t.Errorf("target hashId %s", got)
	}
	iso := Relationship{ServiceName: "svc"}
	if got, want := iso.HashID(), javaHash("svc", "null", "null", "", ""); got != want {
		t.Errorf("isolated hashId %s, want %s", got, want)
	}
}

func span(trace, id, parent, name, kind, svc string) *event.Event {
	return spantest.Span{TraceID: trace, SpanID: id, ParentSpanID: parent, Name: name, Kind: kind,
		Service: svc, Start: 1, End: 2}.Event()
}

const tr1 = "0af7651916cd43dd8448eb211c80319c"

// A service that calls no other is an isolated node, emitted one window
// after its spans (as in Data Prepper), or at once by Flush.
func TestIsolatedService(t *testing.T) {
	spans := func() []*event.Event {
		return []*event.Event{
			span(tr1, "00f067aa0ba902b7", "", "GET /health", "SPAN_KIND_SERVER", "lonely"),
			span(tr1, "00f067aa0ba902b8", "00f067aa0ba902b7", "db", "SPAN_KIND_CLIENT", "lonely"),
		}
	}
	want := []doc{{service: "lonely", traceGroup: "GET /health", hashID: javaHash("lonely", "null", "GET /health", "", "")}}

	p, clock, _ := newTest(t, nil)
	p.Process(ctx, spans())
	clock.advance(windowLen)
	if out := p.Process(ctx, nil); len(out) != 0 {
		t.Fatalf("window 1 emitted %v", docs(t, out))
	}
	clock.advance(windowLen)
	if got := docs(t, p.Process(ctx, nil)); !reflect.DeepEqual(got, want) {
		t.Fatalf("window 2: got %v, want %v", got, want)
	}

	p, _, _ = newTest(t, nil)
	p.Process(ctx, spans())
	if got := docs(t, p.Flush(ctx)); !reflect.DeepEqual(got, want) {
		t.Fatalf("Flush: got %v, want %v", got, want)
	}
}

// A child whose parent arrives a window later still yields the edge.
func TestParentInNextWindow(t *testing.T) {
	p, clock, _ := newTest(t, nil)
	root := span(tr1, "0000000000000001", "", "checkout", "SPAN_KIND_SERVER", "web")
	call := span(tr1, "0000000000000002", "0000000000000001", "charge", "SPAN_KIND_CLIENT", "web")
	srv := span(tr1, "0000000000000003", "0000000000000002", "charge", "SPAN_KIND_SERVER", "pay")
	all := []*event.Event{root, call, srv}
	want := expectedEdges(all)
	p.Process(ctx, []*event.Event{srv})
	clock.advance(windowLen)
	if out := p.Process(ctx, nil); len(out) != 0 {
		t.Fatalf("window 1 emitted %v", docs(t, out))
	}
	p.Process(ctx, []*event.Event{root, call})
	clock.advance(windowLen)
	if got := docs(t, p.Process(ctx, nil)); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if len(want) != 2 || want[0].service != "pay" && want[1].service != "pay" {
		t.Fatalf("want web->pay, got %v", want)
	}
}

// Without the root, relationships carry a null trace group (Data Prepper
// since 2.9); when the root comes a window later, the named ones follow.
func TestTraceGroupArrivesLater(t *testing.T) {
	p, clock, _ := newTest(t, nil)
	root := span(tr1, "0000000000000001", "", "checkout", "SPAN_KIND_SERVER", "web")
	call := span(tr1, "0000000000000002", "0000000000000001", "charge", "SPAN_KIND_CLIENT", "web")
	srv := span(tr1, "0000000000000003", "0000000000000002", "charge", "SPAN_KIND_SERVER", "pay")
	p.Process(ctx, []*event.Event{call, srv})
	clock.advance(windowLen)
	got := docs(t, p.Process(ctx, nil))
	want := []doc{
		{service: "pay", kind: "SPAN_KIND_SERVER", targetDomain: "pay", targetResource: "charge",
			hashID: javaHash("pay", "SPAN_KIND_SERVER", "null", "charge", "pay", "")},
		{service: "web", kind: "SPAN_KIND_CLIENT", destDomain: "pay", destResource: "charge",
			hashID: javaHash("web", "SPAN_KIND_CLIENT", "null", "", "charge", "pay")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("window 1:\n got  %v\n want %v", got, want)
	}
	p.Process(ctx, []*event.Event{root})
	clock.advance(windowLen)
	got = docs(t, p.Process(ctx, nil))
	for _, d := range got {
		if d.traceGroup != "checkout" {
			t.Errorf("window 2 document without the trace group: %v", d)
		}
	}
	if len(got) != 2 {
		t.Errorf("window 2: %v", got)
	}
}

func TestMaxWindowSpans(t *testing.T) {
	p, _, reg := newTest(t, func(c *Config) { c.MaxWindowSpans = 3 })
	spans := fixture(t)
	var out []*event.Event
	for _, ev := range spans {
		out = append(out, p.Process(ctx, []*event.Event{ev})...)
	}
	if v := pipelinestest.CounterValue(reg, "weft_service_map_early_rotations_total"); v < 1 {
		t.Errorf("no early rotation")
	}
	if v := pipelinestest.CounterValue(reg, "weft_service_map_spans"); v > 6 {
		t.Errorf("%v spans held, bound is 2 windows of 3", v)
	}
	out = append(out, p.Flush(ctx)...)
	if len(out) == 0 {
		t.Fatal("nothing emitted")
	}
}

// Events that are not spans pass; spans are finalized (their source is
// acknowledged) when consumed.
func TestPassThroughAndAcks(t *testing.T) {
	p, _, _ := newTest(t, nil)
	var acked atomic.Int32
	a := event.NewAcker(func(ok bool) {
		if ok {
			acked.Add(1)
		}
	})
	sp := fixture(t)[0]
	a.Track(sp)
	a.Seal()
	logEv := event.New(event.KindLog, time.Unix(0, 0), map[string]any{"message": "hi"})
	out := p.Process(ctx, []*event.Event{logEv, sp})
	if len(out) != 1 || out[0] != logEv {
		t.Fatalf("got %d events", len(out))
	}
	if acked.Load() != 1 {
		t.Error("the consumed span was not finalized")
	}
}

// 4 goroutines, 2,000 traces shuffled, windows ending meanwhile: the set
// of relationships emitted equals the walk's.
func TestConcurrent(t *testing.T) {
	p, clock, _ := newTest(t, nil)
	var all []*event.Event
	for i := 0; i < 2000; i++ {
		root, kids := spantest.Trace(i%50, 3) // 50 distinct traces, repeated
		all = append(all, root)
		all = append(all, kids...)
	}
	want := expectedEdges(all)
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	batches := make(chan []*event.Event)
	go func() {
		for i := 0; i < len(all); i += 100 {
			batches <- all[i:min(i+100, len(all))]
		}
		close(batches)
	}()
	var mu sync.Mutex
	var out []*event.Event
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			n := 0
			for b := range batches {
				res := p.Process(ctx, b)
				if n++; w == 0 && n%5 == 0 {
					clock.advance(windowLen / 2)
				}
				mu.Lock()
				out = append(out, res...)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	out = append(out, p.Flush(ctx)...)
	got := map[doc]bool{}
	for _, d := range docs(t, out) {
		if d.destDomain == "" && d.targetDomain == "" {
			continue // isolated nodes (a window may split a trace)
		}
		got[d] = true
	}
	for _, d := range want {
		if !got[d] {
			t.Errorf("missing %v", d)
		}
		delete(got, d)
	}
	for d := range got {
		if d.traceGroup != "" {
			t.Errorf("unexpected %v", d)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, name := range []string{"service_map_stateful", "service_map"} {
		cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, name, "")
		if err != nil {
			t.Fatal(err)
		}
		if c := cfg.(*Config); c.WindowDuration != 180*time.Second || c.MaxWindowSpans != 250_000 {
			t.Errorf("%s defaults %+v", name, c)
		}
	}
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "service_map", "window_duration: 60")
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.(*Config); c.WindowDuration != time.Minute {
		t.Errorf("window_duration: 60 decoded as %v", c.WindowDuration)
	}
	if _, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "service_map", "window: 60"); err == nil ||
		!strings.Contains(err.Error(), `did you mean "window_duration"?`) {
		t.Errorf("unknown option error: %v", err)
	}
	if _, _, err := pipelinestest.Processor("service_map_stateful", ""); err != nil {
		t.Fatal(err)
	}
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "service_map_stateful", "README.md")
}
