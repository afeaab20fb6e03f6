// Package oteltraceraw implements the otel_trace_raw processor, compatible
// with OpenSearch Data Prepper's processor of the same name (alias
// otel_traces): it fills traceGroup and traceGroupFields on every span of a
// trace from the trace's root span, holding spans that arrive before their
// root in bounded state.
package oteltraceraw

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterProcessor("otel_trace_raw",
		"fills traceGroup and traceGroupFields on every span of a trace from its root span",
		NewConfig, New, "otel_traces")
}

// Field names of the span documents (see the product brief).
const (
	fTraceID          = "traceId"
	fParentSpanID     = "parentSpanId"
	fName             = "name"
	fEndTime          = "endTime"
	fDuration         = "durationInNanos"
	fStatus           = "status"
	fCode             = "code"
	fTraceGroup       = "traceGroup"
	fTraceGroupFields = "traceGroupFields"
	fStatusCode       = "statusCode"
)

// Reasons for releasing spans without a trace group.
const (
	reasonFlushInterval = "flush_interval"
	reasonMaxHeld       = "max_held_spans"
	reasonShutdown      = "shutdown"
)

// maxShards is the number of lock shards for large caches; small caches
// get fewer so that per-shard eviction stays meaningful.
const maxShards = 64

// traceKey is a trace ID as 16 bytes (hex-decoded, or hashed when the ID is
// not 32 hex digits).
type traceKey [16]byte

// group is what a root span gives its trace. The values are boxed once and
// shared by every span of the trace (they are immutable scalars).
type group struct {
	name, endTime, duration, status any
	written                         int64 // clock, for the TTL
}

type cacheRef struct {
	key     traceKey
	written int64
}

// heldTrace is the spans of one trace waiting for the root. Three spans fit
// inline, so a typical trace costs one allocation.
type heldTrace struct {
	key    traceKey
	first  int64 // clock when the first span was held
	spans  []*event.Event
	inline [3]*event.Event
}

// shard holds the state of the traces whose IDs hash to it. Entries are
// queued in the order they were written, so the oldest is always at the
// front; entries removed early (a root arrived, a root was re-cached)
// stay in the queue as stale references until popped or compacted.
type shard struct {
	mu     sync.Mutex
	cache  map[traceKey]group
	cacheQ fifo[cacheRef]
	held   map[traceKey]*heldTrace
	heldQ  fifo[*heldTrace]
	_      [64]byte // keep shards' locks on separate cache lines
}

type processor struct {
	flushInterval int64
	ttl           int64
	cacheMax      int64
	maxHeld       int64
	sweepEvery    int64

	shards []shard
	shift  uint

	heldSpans  atomic.Int64
	heldTraces atomic.Int64
	cached     atomic.Int64
	nextSweep  atomic.Int64

	now  func() time.Time
	base time.Time

	seed1, seed2 maphash.Seed

	released map[string]prometheus.Counter // by reason
	evictTTL prometheus.Counter
	evictMax prometheus.Counter
	missing  *ratelog.Logger
}

// New creates an otel_trace_raw processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	return newProcessor(s, c, time.Now)
}

func newProcessor(s pipelines.Settings, c *Config, now func() time.Time) (*processor, error) {
	if c.TraceFlushInterval <= 0 || c.TraceGroupCacheTTL <= 0 || c.TraceGroupCacheMaxSize < 1 || c.MaxHeldSpans < 1 {
		return nil, errors.New("trace_flush_interval, trace_group_cache_ttl, trace_group_cache_max_size and max_held_spans must be positive")
	}
	n := maxShards
	for n > 1 && c.TraceGroupCacheMaxSize < n*16 {
		n /= 2
	}
	p := &processor{
		flushInterval: int64(c.TraceFlushInterval),
		ttl:           int64(c.TraceGroupCacheTTL),
		cacheMax:      int64(c.TraceGroupCacheMaxSize),
		maxHeld:       int64(c.MaxHeldSpans),
		shards:        make([]shard, n),
		shift:         uint(64 - bits.TrailingZeros(uint(n))),
		now:           now,
		base:          now(),
		seed1:         maphash.MakeSeed(),
		seed2:         maphash.MakeSeed(),
	}
	// Spans due for release are found by a sweep at most this often, so
	// they wait at most 1/16 longer than the flush interval.
	p.sweepEvery = min(p.flushInterval, p.ttl) / 16
	p.sweepEvery = max(min(p.sweepEvery, int64(time.Second)), int64(time.Millisecond))
	p.nextSweep.Store(p.sweepEvery)
	for i := range p.shards {
		p.shards[i].cache = make(map[traceKey]group)
		p.shards[i].held = make(map[traceKey]*heldTrace)
	}
	if err := p.registerMetrics(s.Telemetry); err != nil {
		return nil, err
	}
	log := s.Logger
	if log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		log = logrus.NewEntry(l)
	}
	p.missing = ratelog.New(log, "otel_trace_raw: spans released without a trace group (their root span did not arrive in time)")
	p.missing.Now = now
	return p, nil
}

func (p *processor) clock() int64 { return int64(p.now().Sub(p.base)) }

// Process enriches spans whose trace group is known, holds the others, and
// releases held spans: a root's children right after the root, and spans
// whose wait exceeded trace_flush_interval or max_held_spans at the end.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	now := p.clock()
	out := outBuf{src: events}
	for _, ev := range events {
		if ev.Kind != event.KindSpan {
			out.keep(ev)
			continue
		}
		f := ev.Fields()
		traceID, _ := f[fTraceID].(string)
		if traceID == "" {
			out.keep(ev)
			continue
		}
		key := p.key(traceID)
		sh := p.shard(key)
		if parent, _ := f[fParentSpanID].(string); parent == "" {
			g := rootGroup(f)
			released := p.root(sh, key, g, now)
			setRootFields(ev, f, &g)
			out.keep(ev)
			if len(released) > 0 {
				for _, c := range released {
					fill(c, &g)
				}
				out.insert(released)
			}
			continue
		}
		if tg, _ := f[fTraceGroup].(string); tg != "" {
			out.keep(ev) // already enriched (by the source or an earlier processor)
			continue
		}
		if g, ok := p.child(sh, key, ev, now); ok {
			fill(ev, &g)
			out.keep(ev)
		}
	}
	var extra []*event.Event
	if p.heldSpans.Load() > p.maxHeld {
		extra = p.evictHeld(extra)
	}
	if now >= p.nextSweep.Load() {
		extra = p.sweep(extra, now)
	}
	if len(extra) > 0 {
		out.insert(extra)
	}
	return out.result()
}

// root caches the trace group and takes the spans held for the trace.
func (p *processor) root(sh *shard, key traceKey, g group, now int64) []*event.Event {
	g.written = now
	sh.mu.Lock()
	_, existed := sh.cache[key]
	sh.cache[key] = g
	sh.cacheQ.push(cacheRef{key: key, written: now})
	if !existed && p.cached.Add(1) > p.cacheMax {
		p.evictOldestGroup(sh, key)
	}
	var released []*event.Event
	if h := sh.held[key]; h != nil {
		delete(sh.held, key)
		released = h.spans
		p.heldSpans.Add(-int64(len(released)))
		p.heldTraces.Add(-1)
	}
	sh.compact()
	sh.mu.Unlock()
	return released
}

// evictOldestGroup forgets the shard's oldest trace group (not the one just
// written) to keep the cache within trace_group_cache_max_size.
func (p *processor) evictOldestGroup(sh *shard, justWritten traceKey) {
	for sh.cacheQ.len() > 0 {
		ref := sh.cacheQ.front()
		g, ok := sh.cache[ref.key]
		if ok && g.written == ref.written {
			if ref.key == justWritten {
				return // the shard holds nothing older: stay slightly above the bound
			}
			delete(sh.cache, ref.key)
			p.cached.Add(-1)
			p.evictMax.Inc()
			sh.cacheQ.pop()
			return
		}
		sh.cacheQ.pop() // stale
	}
}

// child returns the trace group of a non-root span, or holds the span.
func (p *processor) child(sh *shard, key traceKey, ev *event.Event, now int64) (group, bool) {
	sh.mu.Lock()
	if g, ok := sh.cache[key]; ok {
		if now-g.written < p.ttl {
			sh.mu.Unlock()
			return g, true
		}
		delete(sh.cache, key)
		p.cached.Add(-1)
		p.evictTTL.Inc()
	}
	h := sh.held[key]
	if h == nil {
		h = &heldTrace{key: key, first: now}
		h.spans = h.inline[:0]
		sh.held[key] = h
		sh.heldQ.push(h)
		p.heldTraces.Add(1)
	}
	h.spans = append(h.spans, ev)
	sh.mu.Unlock()
	p.heldSpans.Add(1)
	return group{}, false
}

// sweep releases the traces held for trace_flush_interval and forgets the
// trace groups older than trace_group_cache_ttl. One worker sweeps at a
// time, at most every sweepEvery.
func (p *processor) sweep(extra []*event.Event, now int64) []*event.Event {
	next := p.nextSweep.Load()
	if now < next || !p.nextSweep.CompareAndSwap(next, now+p.sweepEvery) {
		return extra
	}
	n0 := len(extra)
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		for sh.heldQ.len() > 0 {
			h := sh.heldQ.front()
			if sh.held[h.key] != h {
				sh.heldQ.pop()
				continue
			}
			if now-h.first < p.flushInterval {
				break
			}
			sh.heldQ.pop()
			delete(sh.held, h.key)
			p.heldSpans.Add(-int64(len(h.spans)))
			p.heldTraces.Add(-1)
			extra = append(extra, h.spans...)
		}
		for sh.cacheQ.len() > 0 {
			ref := sh.cacheQ.front()
			g, ok := sh.cache[ref.key]
			if ok && g.written == ref.written {
				if now-g.written < p.ttl {
					break
				}
				delete(sh.cache, ref.key)
				p.cached.Add(-1)
				p.evictTTL.Inc()
			}
			sh.cacheQ.pop()
		}
		sh.compact()
		sh.mu.Unlock()
	}
	p.releaseWithoutGroup(extra[n0:], reasonFlushInterval)
	return extra
}

// evictHeld releases the oldest held traces, across shards, until at most
// max_held_spans spans are held.
func (p *processor) evictHeld(extra []*event.Event) []*event.Event {
	n0 := len(extra)
	for p.heldSpans.Load() > p.maxHeld {
		best, bestFirst := -1, int64(0)
		for i := range p.shards {
			sh := &p.shards[i]
			sh.mu.Lock()
			if h := sh.liveHeldFront(); h != nil && (best < 0 || h.first < bestFirst) {
				best, bestFirst = i, h.first
			}
			sh.mu.Unlock()
		}
		if best < 0 {
			break
		}
		sh := &p.shards[best]
		sh.mu.Lock()
		if h := sh.liveHeldFront(); h != nil {
			sh.heldQ.pop()
			delete(sh.held, h.key)
			p.heldSpans.Add(-int64(len(h.spans)))
			p.heldTraces.Add(-1)
			extra = append(extra, h.spans...)
		}
		sh.mu.Unlock()
	}
	p.releaseWithoutGroup(extra[n0:], reasonMaxHeld)
	return extra
}

// liveHeldFront drops stale queue entries and returns the oldest held
// trace (the caller holds the lock).
func (sh *shard) liveHeldFront() *heldTrace {
	for sh.heldQ.len() > 0 {
		h := sh.heldQ.front()
		if sh.held[h.key] == h {
			return h
		}
		sh.heldQ.pop()
	}
	return nil
}

// compact drops stale queue entries once they outnumber the live ones, so
// the queues stay proportional to the state (the caller holds the lock).
func (sh *shard) compact() {
	if sh.heldQ.len() > 2*len(sh.held)+64 {
		sh.heldQ.filter(func(h *heldTrace) bool { return sh.held[h.key] == h })
	}
	if sh.cacheQ.len() > 2*len(sh.cache)+64 {
		sh.cacheQ.filter(func(r cacheRef) bool {
			g, ok := sh.cache[r.key]
			return ok && g.written == r.written
		})
	}
}

// Flush releases every held span at shutdown, without a trace group.
func (p *processor) Flush(context.Context) []*event.Event {
	var traces []*heldTrace
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		for _, h := range sh.held {
			traces = append(traces, h)
		}
		clear(sh.held)
		sh.heldQ = fifo[*heldTrace]{}
		sh.mu.Unlock()
	}
	slices.SortStableFunc(traces, func(a, b *heldTrace) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	var out []*event.Event
	for _, h := range traces {
		out = append(out, h.spans...)
		p.heldSpans.Add(-int64(len(h.spans)))
		p.heldTraces.Add(-1)
	}
	p.releaseWithoutGroup(out, reasonShutdown)
	p.missing.Flush()
	return out
}

// releaseWithoutGroup marks spans that leave without their root: their
// traceGroup is null (as in Data Prepper).
func (p *processor) releaseWithoutGroup(evs []*event.Event, reason string) {
	if len(evs) == 0 {
		return
	}
	for _, ev := range evs {
		f := ev.Fields()
		if _, ok := f[fTraceGroup]; ok {
			if _, ok := f[fTraceGroupFields]; ok {
				continue
			}
		}
		m := ev.Mutable()
		if _, ok := m[fTraceGroup]; !ok {
			m[fTraceGroup] = nil
		}
		if _, ok := m[fTraceGroupFields]; !ok {
			m[fTraceGroupFields] = map[string]any{fEndTime: nil, fDuration: nil, fStatusCode: nil}
		}
		p.missing.Record(nil)
	}
	p.released[reason].Add(float64(len(evs)))
}

// rootGroup reads the trace group a root span gives its trace: the
// traceGroup and traceGroupFields the source set, or else the root's own
// name, end time, duration and status code.
func rootGroup(f map[string]any) group {
	var g group
	if s, ok := f[fTraceGroup].(string); ok && s != "" {
		g.name = s
	} else {
		g.name = f[fName]
	}
	if tgf, ok := f[fTraceGroupFields].(map[string]any); ok {
		g.endTime, g.duration, g.status = tgf[fEndTime], tgf[fDuration], tgf[fStatusCode]
		return g
	}
	g.endTime, g.duration = f[fEndTime], f[fDuration]
	if st, ok := f[fStatus].(map[string]any); ok {
		g.status = st[fCode]
	}
	return g
}

// setRootFields writes the trace group on a root span that lacks it.
func setRootFields(ev *event.Event, f map[string]any, g *group) {
	_, hasTG := f[fTraceGroup].(string)
	_, hasTGF := f[fTraceGroupFields].(map[string]any)
	if hasTG && hasTGF {
		return
	}
	m := ev.Mutable()
	if !hasTG {
		m[fTraceGroup] = g.name
	}
	if !hasTGF {
		m[fTraceGroupFields] = g.fields()
	}
}

func (g *group) fields() map[string]any {
	return map[string]any{fEndTime: g.endTime, fDuration: g.duration, fStatusCode: g.status}
}

// fill writes the trace group on a span. Each span gets its own
// traceGroupFields object, so a later processor can change one span's
// without touching the others: the one the source wrote (all null, owned by
// the event once Mutable returned) is filled in place when it holds exactly
// the three fields, and replaced otherwise.
func fill(ev *event.Event, g *group) {
	m := ev.Mutable()
	m[fTraceGroup] = g.name
	if tgf, ok := m[fTraceGroupFields].(map[string]any); ok && tgf != nil {
		tgf[fEndTime], tgf[fDuration], tgf[fStatusCode] = g.endTime, g.duration, g.status
		if len(tgf) == 3 {
			return
		}
	}
	m[fTraceGroupFields] = g.fields()
}

// key turns a trace ID into its 16 bytes; IDs that are not 32 hex digits
// are hashed to 128 bits instead.
func (p *processor) key(id string) traceKey {
	var k traceKey
	if len(id) == 32 {
		bad := byte(0)
		for i := 0; i < 16; i++ {
			hi, lo := unhex(id[2*i]), unhex(id[2*i+1])
			bad |= hi | lo
			k[i] = hi<<4 | lo
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

func (p *processor) shard(k traceKey) *shard {
	h := binary.LittleEndian.Uint64(k[:8]) ^ binary.LittleEndian.Uint64(k[8:])
	return &p.shards[(h*0x9e3779b97f4a7c15)>>p.shift]
}

// outBuf builds Process's result: in place over the input while events are
// only kept or held, in a new slice once released spans must be inserted.
type outBuf struct {
	src   []*event.Event
	w     int
	alloc []*event.Event
}

func (o *outBuf) keep(ev *event.Event) {
	if o.alloc != nil {
		o.alloc = append(o.alloc, ev)
		return
	}
	o.src[o.w] = ev
	o.w++
}

func (o *outBuf) insert(evs []*event.Event) {
	if o.alloc == nil {
		o.alloc = make([]*event.Event, o.w, len(o.src)+len(evs)+16)
		copy(o.alloc, o.src[:o.w])
	}
	o.alloc = append(o.alloc, evs...)
}

func (o *outBuf) result() []*event.Event {
	if o.alloc != nil {
		return o.alloc
	}
	clear(o.src[o.w:]) // held events are no longer the batch's
	return o.src[:o.w]
}

func (p *processor) registerMetrics(tel *pipelines.Telemetry) error {
	var reg prometheus.Registerer
	if tel != nil {
		reg = tel.Registerer
	}
	gauge := func(name, help string, f func() float64) error {
		g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
		if reg == nil {
			return nil
		}
		if err := reg.Register(g); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return fmt.Errorf("registering %s: %w", name, err)
			}
		}
		return nil
	}
	if err := gauge("weft_otel_trace_raw_held_spans", "Spans held waiting for their trace's root span.",
		func() float64 { return float64(p.heldSpans.Load()) }); err != nil {
		return err
	}
	if err := gauge("weft_otel_trace_raw_held_traces", "Traces with spans held waiting for their root span.",
		func() float64 { return float64(p.heldTraces.Load()) }); err != nil {
		return err
	}
	if err := gauge("weft_otel_trace_raw_trace_groups", "Trace groups cached from root spans.",
		func() float64 { return float64(p.cached.Load()) }); err != nil {
		return err
	}
	rel, err := counterVec(reg, "weft_otel_trace_raw_released_without_group_total",
		"Spans released without a trace group, by reason (flush_interval, max_held_spans, shutdown).", "reason")
	if err != nil {
		return err
	}
	p.released = map[string]prometheus.Counter{}
	for _, r := range []string{reasonFlushInterval, reasonMaxHeld, reasonShutdown} {
		p.released[r] = rel.WithLabelValues(r)
	}
	ev, err := counterVec(reg, "weft_otel_trace_raw_trace_group_evictions_total",
		"Trace groups forgotten before a late span could use them, by reason (ttl, max_size).", "reason")
	if err != nil {
		return err
	}
	p.evictTTL, p.evictMax = ev.WithLabelValues("ttl"), ev.WithLabelValues("max_size")
	return nil
}

// counterVec registers a counter vector, or returns the one already
// registered under the same name.
func counterVec(reg prometheus.Registerer, name, help string, labels ...string) (*prometheus.CounterVec, error) {
	return pipelines.RegisterMetric(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}
