// Package servicemapstateful implements the service_map_stateful processor
// (alias service_map), compatible with OpenSearch Data Prepper's processor
// of the same name: it consumes spans and emits the service-map
// relationship documents OpenSearch Dashboards' Trace Analytics draws its
// service map from.
package servicemapstateful

import (
	"cmp"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

func init() {
	pipelines.RegisterProcessor("service_map_stateful",
		"turns spans into service-map relationship documents for Trace Analytics, once per window",
		NewConfig, New, "service_map")
}

// DropReason is the reason the consumed spans are counted under.
const DropReason = "consumed_by_service_map"

// Field names of the span documents.
const (
	fTraceID      = "traceId"
	fSpanID       = "spanId"
	fParentSpanID = "parentSpanId"
	fName         = "name"
	fKind         = "kind"
	fServiceName  = "serviceName"
	// Span attributes are top-level fields, the key's dots written "@".
	fSpanAttributes = "span.attributes."
)

// Span kinds that matter to virtual nodes.
const (
	kindClient   = "SPAN_KIND_CLIENT"
	kindProducer = "SPAN_KIND_PRODUCER"
	kindServer   = "SPAN_KIND_SERVER"
	kindConsumer = "SPAN_KIND_CONSUMER"
)

type traceKey [16]byte

// Child span states across evaluations.
const (
	pending     uint8 = iota // parent not found yet
	emittedNoTG              // relationships emitted with a null trace group
	done                     // nothing more to learn from this span
)

// spanRec is what a window keeps of a span: 40 bytes, the strings interned
// in the window's string table.
type spanRec struct {
	trace     traceKey
	parent    uint64
	service   uint32
	name      uint32
	kind      uint32
	hasParent bool
	state     uint8
}

// window is one window_duration of spans and root span names (trace
// groups), as Data Prepper's current and previous windows. peers holds the
// CLIENT and PRODUCER spans that carry a virtual_node_peer_attributes value
// (interned) and have not been found to have a child in another service:
// the candidates for a virtual node.
type window struct {
	spans  map[uint64]spanRec
	groups map[traceKey]uint32
	peers  map[uint64]uint32
	strs   []string
	ids    map[string]uint32
}

func newWindow() *window {
	return &window{spans: map[uint64]spanRec{}, groups: map[traceKey]uint32{}, peers: map[uint64]uint32{},
		ids: map[string]uint32{}}
}

func (w *window) intern(s string) uint32 {
	if id, ok := w.ids[s]; ok {
		return id
	}
	id := uint32(len(w.strs))
	w.strs = append(w.strs, s)
	w.ids[s] = id
	return id
}

// Endpoint is a relationship's destination or target.
type Endpoint struct {
	Domain, Resource string
}

// Relationship is one service-map document. Nil pointers are JSON nulls.
type Relationship struct {
	ServiceName    string
	Kind           *string
	Destination    *Endpoint
	Target         *Endpoint
	TraceGroupName *string
}

// unhashed is Data Prepper's input to the hash: the fields joined by
// commas, a missing value written as Java writes a null ("null"), an
// absent endpoint as nothing.
func (r *Relationship) unhashed() string {
	orNull := func(s *string) string {
		if s == nil {
			return "null"
		}
		return *s
	}
	b := make([]byte, 0, 128)
	b = append(b, r.ServiceName...)
	b = append(b, ',')
	b = append(b, orNull(r.Kind)...)
	b = append(b, ',')
	b = append(b, orNull(r.TraceGroupName)...)
	b = append(b, ',')
	if r.Target != nil {
		b = append(append(append(b, r.Target.Resource...), ','), r.Target.Domain...)
	}
	b = append(b, ',')
	if r.Destination != nil {
		b = append(append(append(b, r.Destination.Resource...), ','), r.Destination.Domain...)
	}
	return string(b)
}

// HashID is the document's deterministic ID, computed as Data Prepper does:
// base64 of the MD5 of the comma-joined fields, so that weft's documents
// and Data Prepper's deduplicate into each other.
func (r *Relationship) HashID() string { return hashOf(r.unhashed()) }

func hashOf(unhashed string) string {
	sum := md5.Sum([]byte(unhashed))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Fields returns the document.
func (r *Relationship) Fields() map[string]any { return r.fieldsWith(r.unhashed()) }

func (r *Relationship) fieldsWith(unhashed string) map[string]any {
	f := map[string]any{"serviceName": r.ServiceName, "kind": nil, "destination": nil, "target": nil,
		"traceGroupName": nil, "hashId": hashOf(unhashed)}
	if r.Kind != nil {
		f["kind"] = *r.Kind
	}
	if r.Destination != nil {
		f["destination"] = map[string]any{"domain": r.Destination.Domain, "resource": r.Destination.Resource}
	}
	if r.Target != nil {
		f["target"] = map[string]any{"domain": r.Target.Domain, "resource": r.Target.Resource}
	}
	if r.TraceGroupName != nil {
		f["traceGroupName"] = *r.TraceGroupName
	}
	return f
}

// relKey is a relationship as a map key (for deduplication).
type relKey struct {
	service, kind, tg            string
	destDomain, destResource     string
	targetDomain, targetResource string
	kindSet, tgSet, dest, target bool
}

// nodeKey is a service within a trace (Data Prepper's ServiceNodeData).
type nodeKey struct {
	trace   traceKey
	service string
}

type processor struct {
	window   int64
	maxSpans int
	// peerKeys are the span-document fields of virtual_node_peer_attributes,
	// in order of precedence.
	peerKeys []string

	mu        sync.Mutex
	cur, prev *window
	// connectedLast holds the services (per trace) found in an edge by the
	// last evaluation: with this evaluation's, they are not isolated nodes.
	connectedLast map[nodeKey]struct{}
	windowStart   atomic.Int64

	now  func() time.Time
	base time.Time
	tel  *pipelines.Telemetry

	seed1, seed2 maphash.Seed
	recPool      sync.Pool

	held          atomic.Int64
	emitted       prometheus.Counter
	earlyRotation prometheus.Counter
	skipped       prometheus.Counter
}

// New creates a service_map_stateful processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	return newProcessor(s, c, time.Now)
}

func newProcessor(s pipelines.Settings, c *Config, now func() time.Time) (*processor, error) {
	if c.WindowDuration <= 0 || c.MaxWindowSpans < 1 {
		return nil, errors.New("window_duration and max_window_spans must be positive")
	}
	peerKeys := make([]string, len(c.VirtualNodePeerAttributes))
	for i, a := range c.VirtualNodePeerAttributes {
		if a == "" {
			return nil, fmt.Errorf("virtual_node_peer_attributes[%d] is empty", i)
		}
		peerKeys[i] = fSpanAttributes + strings.ReplaceAll(a, ".", "@")
	}
	p := &processor{
		window:        int64(c.WindowDuration),
		maxSpans:      c.MaxWindowSpans,
		peerKeys:      peerKeys,
		cur:           newWindow(),
		prev:          newWindow(),
		connectedLast: map[nodeKey]struct{}{},
		now:           now,
		base:          now(),
		tel:           s.Telemetry,
		seed1:         maphash.MakeSeed(),
		seed2:         maphash.MakeSeed(),
	}
	p.recPool.New = func() any { s := make([]inRec, 0, 256); return &s }
	if err := p.registerMetrics(s.Telemetry); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *processor) clock() int64 { return int64(p.now().Sub(p.base)) }

// inRec is a span read from its event, before the window lock.
type inRec struct {
	id, parent    uint64
	trace         traceKey
	hasParent     bool
	service, name string
	kind          string
	peer          string // the virtual node it names, if a CLIENT or PRODUCER span
}

// Process records the batch's spans in the current window and consumes
// them; when the window has passed (checked on every call, including the
// idle ticks) it first evaluates and emits the relationships.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	now := p.clock()
	var rels []*event.Event
	if now-p.windowStart.Load() >= p.window {
		p.mu.Lock()
		if now-p.windowStart.Load() >= p.window {
			rels = p.rotateLocked(now, false)
		}
		p.mu.Unlock()
	}
	recsp := p.recPool.Get().(*[]inRec)
	recs := (*recsp)[:0]
	out := events[:0]
	skipped := 0
	for _, ev := range events {
		if ev.Kind != event.KindSpan {
			out = append(out, ev)
			continue
		}
		if r, ok := p.read(ev.Fields()); ok {
			recs = append(recs, r)
		} else {
			skipped++
		}
		p.drop(ev)
	}
	clear(events[len(out):])
	if skipped > 0 {
		p.skipped.Add(float64(skipped))
	}
	if len(recs) > 0 {
		p.mu.Lock()
		if len(p.cur.spans)+len(recs) > p.maxSpans && len(p.cur.spans) > 0 {
			p.earlyRotation.Inc()
			rels = append(rels, p.rotateLocked(now, false)...)
		}
		p.insertLocked(recs)
		p.mu.Unlock()
	}
	clear(recs)
	*recsp = recs[:0]
	p.recPool.Put(recsp)
	if len(rels) == 0 {
		return out
	}
	p.created(len(rels))
	return append(append(make([]*event.Event, 0, len(out)+len(rels)), out...), rels...)
}

func (p *processor) drop(ev *event.Event) {
	if p.tel != nil {
		p.tel.Drop(ev, DropReason)
	} else {
		ev.Finalize(event.Dropped)
	}
}

func (p *processor) created(n int) {
	if p.tel != nil {
		p.tel.Created(n)
	}
	p.emitted.Add(float64(n))
}

// read takes what the service map needs from a span document. Spans
// without a service name or span ID are not recorded (Data Prepper skips
// spans without a service name).
func (p *processor) read(f map[string]any) (inRec, bool) {
	var r inRec
	svc, ok := f[fServiceName].(string)
	if !ok {
		return r, false
	}
	spanID, _ := f[fSpanID].(string)
	traceID, _ := f[fTraceID].(string)
	if spanID == "" || traceID == "" {
		return r, false
	}
	r.service = svc
	r.id = p.spanKey(spanID)
	r.trace = p.traceKey(traceID)
	if parent, _ := f[fParentSpanID].(string); parent != "" {
		r.parent, r.hasParent = p.spanKey(parent), true
	}
	r.name, _ = f[fName].(string)
	r.kind, _ = f[fKind].(string)
	if len(p.peerKeys) > 0 && (r.kind == kindClient || r.kind == kindProducer) {
		for _, k := range p.peerKeys {
			if v, _ := f[k].(string); v != "" {
				r.peer = v
				break
			}
		}
	}
	return r, true
}

func (p *processor) insertLocked(recs []inRec) {
	w := p.cur
	for i := range recs {
		r := &recs[i]
		w.spans[r.id] = spanRec{trace: r.trace, parent: r.parent, hasParent: r.hasParent,
			service: w.intern(r.service), name: w.intern(r.name), kind: w.intern(r.kind)}
		if !r.hasParent {
			w.groups[r.trace] = w.intern(r.name)
		}
		if r.peer != "" {
			p.addPeerLocked(r.id, r.peer)
		}
	}
	p.held.Store(int64(len(p.cur.spans) + len(p.prev.spans)))
}

// addPeerLocked makes a span of the current window a virtual-node
// candidate. A span sent again (the same ID in the previous window) is a
// candidate at its latest copy only, and not at all if the earlier copy
// already found its child in another service.
func (p *processor) addPeerLocked(id uint64, peer string) {
	if _, seen := p.prev.spans[id]; seen {
		if _, cand := p.prev.peers[id]; !cand {
			return
		}
		delete(p.prev.peers, id)
	}
	p.cur.peers[id] = p.cur.intern(peer)
}

// Flush evaluates everything held at shutdown: the relationships of both
// windows and the isolated services of both.
func (p *processor) Flush(context.Context) []*event.Event {
	p.mu.Lock()
	rels := p.rotateLocked(p.clock(), true)
	p.mu.Unlock()
	if len(rels) > 0 {
		p.created(len(rels))
	}
	return rels
}

// evaluation collects one evaluation's relationships, each once. They are
// kept as keys (no allocation per candidate) until they are emitted.
type evaluation struct {
	seen map[relKey]struct{}
	keys []relKey
}

func (e *evaluation) add(k relKey) {
	if _, dup := e.seen[k]; dup {
		return
	}
	e.seen[k] = struct{}{}
	e.keys = append(e.keys, k)
}

// relationship is the document a key stands for.
func (k *relKey) relationship() *Relationship {
	r := &Relationship{ServiceName: k.service}
	if k.kindSet {
		r.Kind = &k.kind
	}
	if k.tgSet {
		r.TraceGroupName = &k.tg
	}
	if k.dest {
		r.Destination = &Endpoint{Domain: k.destDomain, Resource: k.destResource}
	}
	if k.target {
		r.Target = &Endpoint{Domain: k.targetDomain, Resource: k.targetResource}
	}
	return r
}

// rotateLocked is Data Prepper's evaluateEdges: it finds the edges among
// the spans of the previous and current windows, emits a destination and a
// target relationship per edge, emits the services of the previous window
// that took part in no edge as isolated nodes, and rotates the windows.
// With final, both windows are evaluated to the end and cleared.
func (p *processor) rotateLocked(now int64, final bool) []*event.Event {
	ev := &evaluation{seen: map[relKey]struct{}{}}
	connected := map[nodeKey]struct{}{}
	p.evalWindow(p.prev, ev, connected)
	p.evalWindow(p.cur, ev, connected)
	p.virtualNodes(p.prev, ev, connected)
	if final {
		p.virtualNodes(p.cur, ev, connected)
	}
	p.isolated(p.prev, ev, connected)
	if final {
		p.isolated(p.cur, ev, connected)
		p.prev, p.cur = newWindow(), newWindow()
		p.connectedLast = map[nodeKey]struct{}{}
	} else {
		p.prev, p.cur = p.cur, newWindow()
		p.connectedLast = connected
	}
	p.windowStart.Store(now)
	p.held.Store(int64(len(p.cur.spans) + len(p.prev.spans)))
	if len(ev.keys) == 0 {
		return nil
	}
	type keyed struct {
		r   *Relationship
		key string
	}
	sorted := make([]keyed, len(ev.keys))
	for i := range ev.keys {
		r := ev.keys[i].relationship()
		sorted[i] = keyed{r, r.unhashed()}
	}
	slices.SortFunc(sorted, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	t := p.now()
	out := make([]*event.Event, len(sorted))
	for i, k := range sorted {
		out[i] = event.New(event.KindLog, t, k.r.fieldsWith(k.key))
	}
	return out
}

// evalWindow looks for the parent of every child span of w that may still
// yield a relationship.
func (p *processor) evalWindow(w *window, ev *evaluation, connected map[nodeKey]struct{}) {
	for id, c := range w.spans {
		if !c.hasParent || c.state == done {
			continue
		}
		pw := p.cur
		parent, ok := pw.spans[c.parent]
		if !ok {
			pw = p.prev
			if parent, ok = pw.spans[c.parent]; !ok {
				continue // the parent may still come
			}
		}
		childSvc, parentSvc := w.strs[c.service], pw.strs[parent.service]
		if childSvc == parentSvc {
			c.state = done
			w.spans[id] = c
			continue
		}
		// The parent has its real server: it is no virtual node (in
		// either window, should it have been sent twice).
		if len(p.prev.peers) > 0 {
			delete(p.prev.peers, c.parent)
		}
		if len(p.cur.peers) > 0 {
			delete(p.cur.peers, c.parent)
		}
		tg, hasTG := p.traceGroup(c.trace)
		if c.state == emittedNoTG && !hasTG {
			continue // emitted with a null trace group already; nothing new
		}
		connected[nodeKey{c.trace, parentSvc}] = struct{}{}
		connected[nodeKey{c.trace, childSvc}] = struct{}{}
		childName := w.strs[c.name]
		ev.add(relKey{service: parentSvc, kind: pw.strs[parent.kind], kindSet: true, tg: tg, tgSet: hasTG,
			destDomain: childSvc, destResource: childName, dest: true})
		ev.add(relKey{service: childSvc, kind: w.strs[c.kind], kindSet: true, tg: tg, tgSet: hasTG,
			targetDomain: childSvc, targetResource: childName, target: true})
		if hasTG {
			c.state = done
		} else {
			c.state = emittedNoTG
		}
		w.spans[id] = c
	}
}

// virtualNodes emits the virtual nodes of w's candidates, evaluated for
// the last time: a CLIENT (PRODUCER) span that found no child in another
// service in either window, as long as it was held, yields a destination
// relationship for its service (its kind, destination = the peer attribute's
// value and the span's name) and the target relationship the peer would
// report if it were instrumented (SPAN_KIND_SERVER, or SPAN_KIND_CONSUMER
// for a PRODUCER), so that Dashboards, which pairs a destination with the
// target of the same domain and resource, draws the edge.
func (p *processor) virtualNodes(w *window, ev *evaluation, connected map[nodeKey]struct{}) {
	for id, peerID := range w.peers {
		s, ok := w.spans[id]
		if !ok {
			continue
		}
		svc, peer, kind := w.strs[s.service], w.strs[peerID], w.strs[s.kind]
		if peer == svc {
			continue // a call within the service draws no edge
		}
		peerKind := kindServer
		switch kind {
		case kindClient:
		case kindProducer:
			peerKind = kindConsumer
		default:
			continue // a later copy of the span under another kind
		}
		name := w.strs[s.name]
		tg, hasTG := p.traceGroup(s.trace)
		connected[nodeKey{s.trace, svc}] = struct{}{}
		ev.add(relKey{service: svc, kind: kind, kindSet: true, tg: tg, tgSet: hasTG,
			destDomain: peer, destResource: name, dest: true})
		ev.add(relKey{service: peer, kind: peerKind, kindSet: true, tg: tg, tgSet: hasTG,
			targetDomain: peer, targetResource: name, target: true})
	}
}

// isolated emits the services of w's traces that took part in no edge in
// this evaluation or the last one (Data Prepper's isolated service nodes).
func (p *processor) isolated(w *window, ev *evaluation, connected map[nodeKey]struct{}) {
	for _, s := range w.spans {
		k := nodeKey{s.trace, w.strs[s.service]}
		if _, ok := connected[k]; ok {
			continue
		}
		if _, ok := p.connectedLast[k]; ok {
			continue
		}
		tg, hasTG := p.traceGroup(s.trace)
		ev.add(relKey{service: k.service, tg: tg, tgSet: hasTG})
	}
}

func (p *processor) traceGroup(t traceKey) (string, bool) {
	if id, ok := p.cur.groups[t]; ok {
		return p.cur.strs[id], true
	}
	if id, ok := p.prev.groups[t]; ok {
		return p.prev.strs[id], true
	}
	return "", false
}

// spanKey turns a span ID into 8 bytes; IDs that are not 16 hex digits are
// hashed instead (consistently, so parents still match).
func (p *processor) spanKey(id string) uint64 {
	if len(id) == 16 {
		var k uint64
		bad := byte(0)
		for i := 0; i < 16; i++ {
			v := unhex(id[i])
			bad |= v
			k = k<<4 | uint64(v&0xf)
		}
		if bad < 16 {
			return k
		}
	}
	return maphash.String(p.seed1, id)
}

func (p *processor) traceKey(id string) traceKey {
	var k traceKey
	if len(id) == 32 {
		bad := byte(0)
		for i := 0; i < 16; i++ {
			hi, lo := unhex(id[2*i]), unhex(id[2*i+1])
			bad |= hi | lo
			k[i] = hi<<4 | lo&0xf
		}
		if bad < 16 {
			return k
		}
	}
	binary.LittleEndian.PutUint64(k[:8], maphash.String(p.seed1, id))
	binary.LittleEndian.PutUint64(k[8:], maphash.String(p.seed2, id))
	return k
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0xf0
}

func (p *processor) registerMetrics(tel *pipelines.Telemetry) error {
	var reg prometheus.Registerer
	if tel != nil {
		reg = tel.Registerer
	}
	register := func(c prometheus.Collector, name string) (prometheus.Collector, error) {
		if reg == nil {
			return c, nil
		}
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return are.ExistingCollector, nil
			}
			return nil, fmt.Errorf("registering %s: %w", name, err)
		}
		return c, nil
	}
	counter := func(name, help string) (prometheus.Counter, error) {
		c, err := register(prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}), name)
		if err != nil {
			return nil, err
		}
		cc, ok := c.(prometheus.Counter)
		if !ok {
			return nil, fmt.Errorf("registering %s: another metric has this name", name)
		}
		return cc, nil
	}
	var err error
	if p.emitted, err = counter("weft_service_map_relationships_total",
		"Service-map relationship documents emitted."); err != nil {
		return err
	}
	if p.earlyRotation, err = counter("weft_service_map_early_rotations_total",
		"Windows ended early because max_window_spans spans were recorded."); err != nil {
		return err
	}
	if p.skipped, err = counter("weft_service_map_spans_skipped_total",
		"Spans consumed without being recorded: no serviceName, spanId or traceId."); err != nil {
		return err
	}
	_, err = register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "weft_service_map_spans",
		Help: "Spans held for relationship evaluation (current and previous window)."},
		func() float64 { return float64(p.held.Load()) }), "weft_service_map_spans")
	return err
}
