package correlate

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Span kinds as stored (the Trace Analytics strings, by index).
var spanKinds = [...]string{"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
	"SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"}

func kindIndex(s string) uint8 {
	for i, k := range spanKinds {
		if k == s {
			return uint8(i)
		}
	}
	return 0
}

// statusError is the OpenTelemetry status code of a failed span.
const statusError = 2

// interned is a string, boxed once: every span with the same service
// or name shares it, and writing it into an event allocates nothing. It is
// nil when unknown.
type interned = any

// spanEntry is what the store keeps of one span: 56 bytes.
type spanEntry struct {
	id       SpanID
	service  interned
	name     interned
	logCount uint32
	kind     uint8
	status   uint8
	maxSev   uint8 // highest severity number of the logs seen for it (0: none)
}

// Trace flags.
const (
	rootKnown uint8 = 1 << iota // the root span, or a span carrying traceGroupFields, was seen
	rootFailed
	anyFailed
)

// traceEntry is what the store keeps of one trace.
type traceEntry struct {
	lastSeen int64 // unix nanoseconds of the last span fed
	rootDur  int64
	group    interned
	root     int32 // index of the root span in spans, -1 when not seen
	flags    uint8
	spans    []spanEntry
}

// queued is a trace in a shard's eviction queue with the time it was last
// seen when queued (see shard.evictOne).
type queued struct {
	id TraceID
	t  int64
}

// internLimit bounds each shard's table of interned names; names beyond it
// are copied per span (high-cardinality span names must not grow memory
// past what max_traces allows).
const internLimit = 4096

type shard struct {
	mu     sync.RWMutex
	traces map[TraceID]*traceEntry
	queue  deque[queued] // every trace exactly once, oldest first
	names  map[string]interned
}

// storeOptions are the options every processor sharing a store must agree on.
type storeOptions struct {
	maxTraces, maxSpans int
	ttl                 time.Duration
}

// traceStore is the bounded, time-limited index of recent traces that correlate
// processors naming the same store share: feeding pipelines write spans,
// enriching pipelines read it.
type traceStore struct {
	name     string
	opts     storeOptions
	shards   []shard
	mask     uint64
	perShard int

	count     atomic.Int64
	evictTTL  atomic.Uint64
	evictCap  atomic.Uint64
	lastSweep atomic.Int64
	// annotating is set when a processor of the store annotates spans, so
	// enriching processors record log counts only then.
	annotating atomic.Bool

	updates updates
}

func newStore(name string, o storeOptions) *traceStore {
	// One shard per 4096 traces, up to 64, so large stores spread the lock.
	// Capacity eviction takes the least recently fed trace of the shard the
	// new trace goes to.
	n := 1
	for n < 64 && n*4096 < o.maxTraces {
		n *= 2
	}
	s := &traceStore{name: name, opts: o, shards: make([]shard, n), mask: uint64(n - 1),
		perShard: (o.maxTraces + n - 1) / n}
	for i := range s.shards {
		s.shards[i].traces = map[TraceID]*traceEntry{}
		s.shards[i].names = map[string]interned{}
	}
	s.updates.buf = make([]TraceID, updatesSize)
	return s
}

func (s *traceStore) shard(id TraceID) *shard {
	// Hashed: IDs are not always random (64-bit B3 IDs padded with zeros,
	// sequential test IDs).
	h := fmix64(binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:]))
	return &s.shards[h&s.mask]
}

// Len returns the number of traces tracked.
func (s *traceStore) len() int { return int(s.count.Load()) }

func (sh *shard) intern(v any) interned {
	str, _ := v.(string)
	if str == "" {
		return nil
	}
	if x, ok := sh.names[str]; ok {
		return x
	}
	c := strings.Clone(str) // never keep a reference into an event's memory
	var boxed interned = c
	if len(sh.names) < internLimit {
		sh.names[c] = boxed
	}
	return boxed
}

// spanDoc is what feed reads from a span document.
type spanDoc struct {
	trace    TraceID
	span     SpanID
	hasSpan  bool
	isRoot   bool
	status   uint8
	kind     uint8
	duration int64
	// traceGroupFields on a non-root span (Data Prepper's otel_trace_group
	// fills them): the trace's outcome without its root.
	groupFields bool
	groupStatus uint8
	groupDur    int64
}

func readSpan(f map[string]any) (d spanDoc, ok bool) {
	d.trace, ok = parseTraceID(f["traceId"])
	if !ok {
		return d, false
	}
	d.span, d.hasSpan = parseSpanID(f["spanId"])
	parent, _ := f["parentSpanId"].(string)
	_, hasParent := parseSpanID(parent)
	d.isRoot = !hasParent
	if st, ok := f["status"].(map[string]any); ok {
		d.status = statusCode(st["code"])
	}
	if k, ok := f["kind"].(string); ok {
		d.kind = kindIndex(k)
	}
	d.duration = durationOf(f)
	if g, ok := f["traceGroupFields"].(map[string]any); ok && !d.isRoot {
		if name, _ := f["traceGroup"].(string); name != "" {
			d.groupFields = true
			d.groupStatus = statusCode(g["statusCode"])
			d.groupDur, _ = toInt64(g["durationInNanos"])
		}
	}
	return d, true
}

func statusCode(v any) uint8 {
	c, _ := toInt64(v)
	if c < 0 || c > 255 {
		return 0
	}
	return uint8(c)
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		return int64(x), true
	}
	return 0, false
}

// durationOf reads durationInNanos, or computes it from startTime and
// endTime when a document lacks it.
func durationOf(f map[string]any) int64 {
	if d, ok := toInt64(f["durationInNanos"]); ok {
		return d
	}
	st, _ := f["startTime"].(string)
	et, _ := f["endTime"].(string)
	if st == "" || et == "" {
		return 0
	}
	a, err1 := time.Parse(time.RFC3339Nano, st)
	b, err2 := time.Parse(time.RFC3339Nano, et)
	if err1 != nil || err2 != nil {
		return 0
	}
	return int64(b.Sub(a))
}

// traceOutcome is what sampling needs to know of a trace.
type traceOutcome struct {
	RootKnown    bool
	Failed       bool // the root or any span has status code 2
	RootDuration time.Duration
}

// feed indexes one span document. It returns the trace ID and the trace's
// outcome after the span, or ok=false when the document has no valid
// traceId.
func (s *traceStore) feed(f map[string]any, now int64) (TraceID, traceOutcome, bool) {
	d, ok := readSpan(f)
	if !ok {
		return d.trace, traceOutcome{}, false
	}
	sh := s.shard(d.trace)
	sh.mu.Lock()
	t := sh.traces[d.trace]
	if t == nil {
		// max_traces is a bound on the whole store; a shard may hold up
		// to twice its share, so uneven hashing does not lower it.
		for (s.count.Load() >= int64(s.opts.maxTraces) || len(sh.traces) >= 2*s.perShard) && sh.evictOne(s, now, false) {
		}
		t = &traceEntry{root: -1}
		sh.traces[d.trace] = t
		sh.queue.push(queued{d.trace, now})
		s.count.Add(1)
	}
	t.lastSeen = now
	if d.status == statusError {
		t.flags |= anyFailed
	}
	if d.hasSpan {
		i := t.find(d.span)
		if i < 0 && len(t.spans) < s.opts.maxSpans {
			t.spans = append(t.spans, spanEntry{id: d.span})
			i = len(t.spans) - 1
		}
		if i >= 0 {
			e := &t.spans[i]
			e.service = sh.intern(f["serviceName"])
			e.name = sh.intern(f["name"])
			e.kind, e.status = d.kind, d.status
			if d.isRoot {
				t.root = int32(i)
			}
		}
	}
	switch {
	case d.isRoot:
		t.flags |= rootKnown
		if d.status == statusError {
			t.flags |= rootFailed
		}
		t.rootDur = d.duration
		group, _ := f["traceGroup"].(string)
		if group == "" {
			group, _ = f["name"].(string)
		}
		t.group = sh.intern(group)
	case d.groupFields && t.flags&rootKnown == 0:
		t.flags |= rootKnown
		if d.groupStatus == statusError {
			t.flags |= rootFailed | anyFailed
		}
		t.rootDur = d.groupDur
		t.group = sh.intern(f["traceGroup"])
	}
	o := t.outcome()
	sh.mu.Unlock()
	return d.trace, o, true
}

func (t *traceEntry) find(id SpanID) int {
	for i := range t.spans {
		if t.spans[i].id == id {
			return i
		}
	}
	return -1
}

func (t *traceEntry) outcome() traceOutcome {
	return traceOutcome{RootKnown: t.flags&rootKnown != 0, Failed: t.flags&(rootFailed|anyFailed) != 0,
		RootDuration: time.Duration(t.rootDur)}
}

// evictOne removes the least recently fed trace of the shard (capacity), or
// the oldest queued one when it has expired (ttl). A trace fed since it was
// queued goes back to the end of the queue with its new time (a second
// chance), so the queue approximates least-recently-fed order without
// touching it on every span. It reports whether a trace was evicted.
func (sh *shard) evictOne(s *traceStore, now int64, ttlOnly bool) bool {
	for sh.queue.len() > 0 {
		q := sh.queue.front()
		if ttlOnly && q.t+int64(s.opts.ttl) > now {
			return false
		}
		sh.queue.pop()
		t := sh.traces[q.id]
		if t == nil {
			continue
		}
		if t.lastSeen > q.t && (!ttlOnly || t.lastSeen+int64(s.opts.ttl) > now) {
			sh.queue.push(queued{q.id, t.lastSeen})
			continue
		}
		delete(sh.traces, q.id)
		s.count.Add(-1)
		if ttlOnly {
			s.evictTTL.Add(1)
		} else {
			s.evictCap.Add(1)
		}
		return true
	}
	return false
}

// sweepEvery is how often (at most) the processors' calls evict expired
// traces.
const sweepEvery = int64(time.Second)

// maybeSweep evicts expired traces when the last sweep is sweepEvery old.
// Every processor of the store calls it; one of them does the work.
func (s *traceStore) maybeSweep(now int64) {
	last := s.lastSweep.Load()
	if now-last < sweepEvery || !s.lastSweep.CompareAndSwap(last, now) {
		return
	}
	s.sweep(now)
}

func (s *traceStore) sweep(now int64) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for sh.evictOne(s, now, true) {
		}
		sh.mu.Unlock()
	}
}

// traceView is what the store knows of a trace and one of its spans.
type traceView struct {
	Found bool
	traceOutcome
	Group                 interned
	RootService, RootName interned // when the root span itself was seen
	SpanFound             bool
	Span                  spanView
}

// spanView is what the store knows of one span.
type spanView struct {
	Service, Name interned
	Kind          string
	Status        uint8
	LogCount      uint32
	MaxSeverity   uint8
}

// lookup returns what the store knows of trace id and, when hasSpan, of its
// span sid.
func (s *traceStore) lookup(id TraceID, sid SpanID, hasSpan bool) traceView {
	sh := s.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	t := sh.traces[id]
	if t == nil {
		return traceView{}
	}
	v := traceView{Found: true, traceOutcome: t.outcome(), Group: t.group}
	if t.root >= 0 {
		r := &t.spans[t.root]
		v.RootService, v.RootName = r.service, r.name
	}
	if hasSpan {
		if i := t.find(sid); i >= 0 {
			e := &t.spans[i]
			v.SpanFound = true
			v.Span = spanView{Service: e.service, Name: e.name, Kind: spanKinds[e.kind], Status: e.status,
				LogCount: e.logCount, MaxSeverity: e.maxSev}
		}
	}
	return v
}

// outcome returns the trace's outcome (zero when unknown).
func (s *traceStore) outcome(id TraceID) traceOutcome {
	sh := s.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if t := sh.traces[id]; t != nil {
		return t.outcome()
	}
	return traceOutcome{}
}

// noteLog counts a log event for span sid of trace id (for annotate_spans).
func (s *traceStore) noteLog(id TraceID, sid SpanID, sev uint8) {
	sh := s.shard(id)
	sh.mu.Lock()
	if t := sh.traces[id]; t != nil {
		if i := t.find(sid); i >= 0 {
			e := &t.spans[i]
			e.logCount++
			e.maxSev = max(e.maxSev, sev)
		}
	}
	sh.mu.Unlock()
}

// updatesSize is how many recent trace updates the store remembers for
// waking held events; a processor that falls further behind re-checks
// everything it holds.
const updatesSize = 1 << 16

// updates is a ring of the trace IDs recently fed, numbered by a sequence,
// so that every processor holding events can find out which of its traces
// changed since it last looked, without registering interest anywhere.
type updates struct {
	mu   sync.Mutex
	buf  []TraceID
	next atomic.Uint64 // sequence number of the next ID written
}

// head returns the sequence number the next update will get.
func (u *updates) head() uint64 { return u.next.Load() }

func (u *updates) add(ids []TraceID) {
	u.mu.Lock()
	n := u.next.Load()
	for _, id := range ids {
		u.buf[n&(updatesSize-1)] = id
		n++
	}
	u.next.Store(n)
	u.mu.Unlock()
}

// since appends to dst the IDs written from sequence number from on and
// returns them with the sequence number to continue from. lost reports that
// some were overwritten before they were read.
func (u *updates) since(from uint64, dst []TraceID) (ids []TraceID, next uint64, lost bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := u.next.Load()
	if n-from > updatesSize {
		return dst, n, true
	}
	for i := from; i < n; i++ {
		dst = append(dst, u.buf[i&(updatesSize-1)])
	}
	return dst, n, false
}
