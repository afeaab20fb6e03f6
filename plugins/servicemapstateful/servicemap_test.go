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

// endWindow ends the window with an idle tick and checks what it emits
// (want nil: nothing).
func endWindow(t *testing.T, p *processor, clock *fakeClock, what string, want []doc) {
	t.Helper()
	clock.advance(windowLen)
	if got := docs(t, p.Process(ctx, nil)); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// fixtureDocs are the fixture's documents, stated literally; the hashIds
// were computed outside Go (Python's hashlib) from Data Prepper's input,
// e.g. MD5("client,SPAN_KIND_SERVER,client_checkout,,/checkout,order").
var (
	fixtureReal = []doc{
		{service: "client", kind: "SPAN_KIND_SERVER", destDomain: "order", destResource: "/checkout",
			traceGroup: "client_checkout", hashID: "hMcfxDebRQoy7uvHXlcrSQ=="},
		{service: "order", kind: "SPAN_KIND_SERVER", targetDomain: "order", targetResource: "/checkout",
			traceGroup: "client_checkout", hashID: "k0/SoqSX3TcXgp2OWZ4kuw=="},
		{service: "order", kind: "SPAN_KIND_SERVER", destDomain: "payment", destResource: "/checkout",
			traceGroup: "client_checkout", hashID: "qKlW9NF9MAjqFegpvCVLnQ=="},
		{service: "payment", kind: "SPAN_KIND_SERVER", targetDomain: "payment", targetResource: "/checkout",
			traceGroup: "client_checkout", hashID: "0ELNvQ4yrFdXGckmmLUXwQ=="},
	}
	// The payment service's update_inventory CLIENT span (peer.service:
	// inventory, no inventory span): the virtual node's two documents.
	fixtureVirtual = []doc{
		{service: "inventory", kind: "SPAN_KIND_SERVER", targetDomain: "inventory", targetResource: "update_inventory",
			traceGroup: "client_checkout", hashID: "mZYvSouwJIYzb/YHHR/0Mg=="},
		{service: "payment", kind: "SPAN_KIND_CLIENT", destDomain: "inventory", destResource: "update_inventory",
			traceGroup: "client_checkout", hashID: "n+JXabfCcrIeMP691QwcpA=="},
	}
)

func sortedDocs(ds ...[]doc) []doc {
	var out []doc
	for _, d := range ds {
		out = append(out, d...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// edgesOf lists a set of documents' service-level edges (destinations).
func edgesOf(ds []doc) []string {
	var edges []string
	for _, d := range ds {
		if d.destDomain != "" {
			edges = append(edges, d.service+"->"+d.destDomain)
		}
	}
	sort.Strings(edges)
	return edges
}

// The fixture: client calls order, order calls payment (both traces, the
// same four documents, as Data Prepper emits them), and payment calls the
// uninstrumented inventory (a virtual node, two more documents, emitted
// when the update_inventory spans are evaluated for the last time: one
// window later). Each once per window, again in a later window with new
// traffic, not again without.
func TestFixtureRelationships(t *testing.T) {
	spans := fixture(t)
	// The independent walk finds the real edges and their documents.
	if want := expectedEdges(spans); !reflect.DeepEqual(want, fixtureReal) {
		t.Fatalf("the fixture's real edges:\n walk    %v\n literal %v", want, fixtureReal)
	}
	all := sortedDocs(fixtureReal, fixtureVirtual)
	for _, d := range all {
		want := javaHash(d.service, d.kind, d.traceGroup, d.targetResource, d.targetDomain, "")
		if d.destDomain != "" {
			want = javaHash(d.service, d.kind, d.traceGroup, "", d.destResource, d.destDomain)
		}
		if d.hashID != want {
			t.Errorf("literal hashId of %v is not %s", d, want)
		}
	}
	if got := edgesOf(all); !reflect.DeepEqual(got, []string{"client->order", "order->payment", "payment->inventory"}) {
		t.Fatalf("the fixture's edges: %v", got)
	}

	p, clock, reg := newTest(t, nil)
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
	if !reflect.DeepEqual(got, fixtureReal) {
		t.Fatalf("window 1:\n got  %v\n want %v", got, fixtureReal)
	}
	if v := pipelinestest.CounterValue(reg, "weft_pipeline_events_created_total"); v != 4 {
		t.Errorf("created = %v, want 4", v)
	}
	// Window 2 without traffic: the update_inventory spans are evaluated
	// for the last time (their server could have come in window 2), so the
	// virtual node follows; nothing else (every service took part in an
	// edge, so there are no isolated nodes).
	endWindow(t, p, clock, "window 2", fixtureVirtual)
	endWindow(t, p, clock, "window 3 without traffic", nil)
	// Window 4 with the same traffic again (twice): emitted again, once;
	// Flush evaluates the window's spans to the end: the virtual node.
	p.Process(ctx, slices.Clone(fixture(t)))
	p.Process(ctx, slices.Clone(fixture(t)))
	endWindow(t, p, clock, "window 4", fixtureReal)
	if got := docs(t, p.Flush(ctx)); !reflect.DeepEqual(got, fixtureVirtual) {
		t.Errorf("Flush after window 4:\n got  %v\n want %v", got, fixtureVirtual)
	}
	if v := pipelinestest.CounterValue(reg, "weft_service_map_relationships_total"); v != 12 {
		t.Errorf("relationships = %v, want 12", v)
	}

	// Flush right after the spans: all six at once.
	p, _, _ = newTest(t, nil)
	p.Process(ctx, slices.Clone(fixture(t)))
	if got := docs(t, p.Flush(ctx)); !reflect.DeepEqual(got, all) {
		t.Errorf("Flush:\n got  %v\n want %v", got, all)
	}

	// virtual_node_peer_attributes: [] is Data Prepper's output: the four
	// documents, and nothing for update_inventory, ever.
	p, clock, _ = newTest(t, func(c *Config) { c.VirtualNodePeerAttributes = []string{} })
	p.Process(ctx, slices.Clone(fixture(t)))
	endWindow(t, p, clock, "without virtual nodes, window 1", fixtureReal)
	endWindow(t, p, clock, "without virtual nodes, window 2", nil)
	p.Process(ctx, slices.Clone(fixture(t)))
	if got := docs(t, p.Flush(ctx)); !reflect.DeepEqual(got, fixtureReal) {
		t.Fatalf("without virtual nodes, Flush:\n got  %v\n want %v", got, fixtureReal)
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

// expectedVirtual walks the spans independently: every CLIENT span with a
// peer.service and no child in another service is a virtual node.
func expectedVirtual(spans []*event.Event) []doc {
	str := func(ev *event.Event, k string) string { s, _ := ev.Fields()[k].(string); return s }
	svcOf := map[string]string{}
	group := map[string]string{}
	for _, ev := range spans {
		svcOf[str(ev, "spanId")] = str(ev, "serviceName")
		if str(ev, "parentSpanId") == "" {
			group[str(ev, "traceId")] = str(ev, "name")
		}
	}
	served := map[string]bool{}
	for _, ev := range spans {
		if ps, ok := svcOf[str(ev, "parentSpanId")]; ok && ps != str(ev, "serviceName") {
			served[str(ev, "parentSpanId")] = true
		}
	}
	set := map[doc]bool{}
	for _, ev := range spans {
		peer := str(ev, "span.attributes.peer@service")
		if str(ev, "kind") != "SPAN_KIND_CLIENT" || peer == "" || served[str(ev, "spanId")] {
			continue
		}
		for _, d := range virtualDocs(str(ev, "serviceName"), "SPAN_KIND_CLIENT", peer, "SPAN_KIND_SERVER",
			str(ev, "name"), group[str(ev, "traceId")]) {
			set[d] = true
		}
	}
	var out []doc
	for d := range set {
		out = append(out, d)
	}
	return sortedDocs(out)
}

// 4 goroutines, 2,000 traces shuffled, windows ending meanwhile: the set
// of relationships emitted equals the walks' (real edges, and the virtual
// node each trace's last span, a CLIENT span of inventory with
// peer.service: warehouse, draws).
func TestConcurrent(t *testing.T) {
	p, clock, _ := newTest(t, nil)
	var all []*event.Event
	for i := 0; i < 2000; i++ {
		root, kids := spantest.Trace(i%50, 3) // 50 distinct traces, repeated
		withAttrs(kids[2], "peer.service", "warehouse")
		all = append(all, root)
		all = append(all, kids...)
	}
	want := sortedDocs(expectedEdges(all), expectedVirtual(all))
	if edges := slices.Compact(edgesOf(want)); !reflect.DeepEqual(edges,
		[]string{"checkout->payment", "frontend->checkout", "inventory->warehouse", "payment->inventory"}) {
		t.Fatalf("the walks' edges: %v", edges)
	}
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

// withAttrs sets span attributes as the span documents hold them:
// top-level "span.attributes.<key, dots as @>" fields.
func withAttrs(ev *event.Event, kv ...any) *event.Event {
	f := ev.Fields()
	for i := 0; i+1 < len(kv); i += 2 {
		f["span.attributes."+strings.ReplaceAll(kv[i].(string), ".", "@")] = kv[i+1]
	}
	return ev
}

// virtualDocs are the two documents of a virtual node, computed here.
func virtualDocs(svc, kind, peer, peerKind, name, tg string) []doc {
	return sortedDocs([]doc{
		{service: svc, kind: kind, destDomain: peer, destResource: name, traceGroup: tg,
			hashID: javaHash(svc, kind, tg, "", name, peer)},
		{service: peer, kind: peerKind, targetDomain: peer, targetResource: name, traceGroup: tg,
			hashID: javaHash(peer, peerKind, tg, name, peer, "")},
	})
}

// runWindows feeds one slice of spans per window (each window ended by an
// idle tick), then flushes, and returns every document emitted.
func runWindows(t *testing.T, p *processor, clock *fakeClock, windows [][]*event.Event) []doc {
	t.Helper()
	var out []*event.Event
	for _, w := range windows {
		out = append(out, p.Process(ctx, w)...)
		clock.advance(windowLen)
		out = append(out, p.Process(ctx, nil)...)
	}
	clock.advance(windowLen)
	out = append(out, p.Process(ctx, nil)...)
	out = append(out, p.Flush(ctx)...)
	return docs(t, out)
}

// A CLIENT span whose server is instrumented draws the real edge only,
// whenever the server span comes while the client span is held (the same
// window, the next one, or before it), and whether or not the client
// span was sent twice.
func TestVirtualNodeRealServerWins(t *testing.T) {
	// peer.service names something else than the real server, so that a
	// virtual node, if wrongly emitted, shows.
	root := func() *event.Event { return span(tr1, "0000000000000001", "", "checkout", "SPAN_KIND_SERVER", "web") }
	call := func() *event.Event {
		return withAttrs(span(tr1, "0000000000000002", "0000000000000001", "charge", "SPAN_KIND_CLIENT", "web"),
			"peer.service", "payments")
	}
	srv := func() *event.Event {
		return span(tr1, "0000000000000003", "0000000000000002", "charge", "SPAN_KIND_SERVER", "pay")
	}
	want := expectedEdges([]*event.Event{root(), call(), srv()})
	if got := edgesOf(want); !reflect.DeepEqual(got, []string{"web->pay"}) || len(want) != 2 {
		t.Fatalf("the walk: %v", want)
	}
	for _, c := range []struct {
		name    string
		windows [][]*event.Event
	}{
		{"same window", [][]*event.Event{{root(), call(), srv()}}},
		{"server in the next window", [][]*event.Event{{root(), call()}, {srv()}}},
		{"server in the window before", [][]*event.Event{{srv()}, {root(), call()}}},
		{"client sent again after its server", [][]*event.Event{{root(), call(), srv()}, {call()}}},
		{"client sent again, server after the second copy", [][]*event.Event{{root(), call()}, {root(), call()}, {srv()}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, clock, _ := newTest(t, nil)
			var got []doc
			for _, d := range runWindows(t, p, clock, c.windows) {
				if d.kind != "" { // isolated nodes aside
					got = append(got, d)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("\n got  %v\n want %v (each once, no virtual node)", got, want)
			}
		})
	}

	// The documented limit: a server span that comes two windows after
	// its client span finds nothing to pair with (as in Data Prepper), and
	// the client span, evaluated for the last time without it, was drawn
	// to its virtual node.
	p, clock, _ := newTest(t, nil)
	got := runWindows(t, p, clock, [][]*event.Event{{root(), call()}, {}, {srv()}})
	wantLate := sortedDocs(virtualDocs("web", "SPAN_KIND_CLIENT", "payments", "SPAN_KIND_SERVER", "charge", "checkout"),
		[]doc{{service: "pay", hashID: javaHash("pay", "null", "null", "", "")}})
	if !reflect.DeepEqual(got, wantLate) {
		t.Fatalf("server two windows late:\n got  %v\n want %v", got, wantLate)
	}
}

// Which attribute names the virtual node: the first of the list with a
// non-empty string value; only CLIENT and PRODUCER spans have one; a
// service with a virtual edge is not an isolated node, one without still is.
func TestVirtualNodeAttributePrecedence(t *testing.T) {
	custom := []string{"server.address", "peer.service"}
	for _, c := range []struct {
		name     string
		attrs    []string // nil: the defaults
		kind     string
		kv       []any
		peer     string // "": no virtual node
		peerKind string
	}{
		{"peer.service first", nil, "SPAN_KIND_CLIENT", []any{"db.system", "postgresql", "db.name", "orders", "peer.service", "orders-db"}, "orders-db", "SPAN_KIND_SERVER"},
		{"service.peer.name (newer semconv)", nil, "SPAN_KIND_CLIENT", []any{"service.peer.name", "auth", "db.name", "orders"}, "auth", "SPAN_KIND_SERVER"},
		{"db.name before db.system", nil, "SPAN_KIND_CLIENT", []any{"db.system", "postgresql", "db.name", "orders"}, "orders", "SPAN_KIND_SERVER"},
		{"db.namespace before db.system", nil, "SPAN_KIND_CLIENT", []any{"db.system.name", "postgresql", "db.namespace", "orders"}, "orders", "SPAN_KIND_SERVER"},
		{"db.system alone", nil, "SPAN_KIND_CLIENT", []any{"db.system", "redis"}, "redis", "SPAN_KIND_SERVER"},
		{"db.system.name alone", nil, "SPAN_KIND_CLIENT", []any{"db.system.name", "mysql"}, "mysql", "SPAN_KIND_SERVER"},
		{"empty value skipped", nil, "SPAN_KIND_CLIENT", []any{"peer.service", "", "db.system", "redis"}, "redis", "SPAN_KIND_SERVER"},
		{"non-string value skipped", nil, "SPAN_KIND_CLIENT", []any{"peer.service", int64(7), "db.system", "redis"}, "redis", "SPAN_KIND_SERVER"},
		{"server.address not a default", nil, "SPAN_KIND_CLIENT", []any{"server.address", "10.0.0.7", "net.peer.name", "db.internal"}, "", ""},
		{"configured order", custom, "SPAN_KIND_CLIENT", []any{"peer.service", "orders-db", "server.address", "db.internal"}, "db.internal", "SPAN_KIND_SERVER"},
		{"configured list only", custom, "SPAN_KIND_CLIENT", []any{"db.system", "redis"}, "", ""},
		{"disabled", []string{}, "SPAN_KIND_CLIENT", []any{"peer.service", "orders-db"}, "", ""},
		{"producer", nil, "SPAN_KIND_PRODUCER", []any{"peer.service", "kafka"}, "kafka", "SPAN_KIND_CONSUMER"},
		{"server span", nil, "SPAN_KIND_SERVER", []any{"peer.service", "orders-db"}, "", ""},
		{"internal span", nil, "SPAN_KIND_INTERNAL", []any{"peer.service", "orders-db"}, "", ""},
		{"consumer span", nil, "SPAN_KIND_CONSUMER", []any{"peer.service", "kafka"}, "", ""},
		{"peer is the service itself", nil, "SPAN_KIND_CLIENT", []any{"peer.service", "api"}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, clock, _ := newTest(t, func(cfg *Config) {
				if c.attrs != nil {
					cfg.VirtualNodePeerAttributes = c.attrs
				}
			})
			spans := []*event.Event{
				span(tr1, "0000000000000001", "", "GET /", "SPAN_KIND_SERVER", "api"),
				withAttrs(span(tr1, "0000000000000002", "0000000000000001", "query", c.kind, "api"), c.kv...),
			}
			want := []doc{{service: "api", traceGroup: "GET /", hashID: javaHash("api", "null", "GET /", "", "")}}
			if c.peer != "" {
				want = virtualDocs("api", c.kind, c.peer, c.peerKind, "query", "GET /")
			}
			// Nothing in the spans' own window; all of it the window after,
			// when they are evaluated for the last time.
			p.Process(ctx, spans)
			endWindow(t, p, clock, "window 1", nil)
			endWindow(t, p, clock, "window 2", want)
			if out := p.Flush(ctx); len(out) != 0 {
				t.Fatalf("Flush emitted %v", docs(t, out))
			}
		})
	}
}

func TestVirtualNodeConfig(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "service_map_stateful", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.(*Config).VirtualNodePeerAttributes; !reflect.DeepEqual(got,
		[]string{"peer.service", "service.peer.name", "db.name", "db.namespace", "db.system", "db.system.name"}) {
		t.Errorf("default virtual_node_peer_attributes %q", got)
	}
	for yaml, want := range map[string][]string{
		"virtual_node_peer_attributes: []":                            {},
		"virtual_node_peer_attributes: [net.peer.name, peer.service]": {"net.peer.name", "peer.service"},
		"virtual_node_peer_attributes: server.address":                {"server.address"},
	} {
		cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "service_map", yaml)
		if err != nil {
			t.Fatalf("%s: %v", yaml, err)
		}
		if got := cfg.(*Config).VirtualNodePeerAttributes; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded as %q", yaml, got)
		}
	}
	c := NewConfig()
	c.VirtualNodePeerAttributes = []string{"peer.service", ""}
	s, _ := pipelinestest.Settings("test", "processor/0/service_map_stateful")
	if _, err := newProcessor(s, c, time.Now); err == nil || !strings.Contains(err.Error(), "virtual_node_peer_attributes[1]") {
		t.Errorf("an empty attribute name: %v", err)
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
