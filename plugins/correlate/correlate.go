// Package correlate implements the correlate processor: spans passing
// through a trace pipeline feed a named correlation store, and logs passing
// through a log pipeline are enriched from it with their trace's group,
// status and duration and their span's service and name. Logs whose spans
// have not arrived yet wait (bounded in time, count and bytes). It also
// samples whole traces, logs and spans together, by a hash of the trace ID.
package correlate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

func init() {
	pipelines.RegisterProcessor("correlate",
		"joins logs with their traces through a store shared by name: spans feed it, logs are enriched from it; trace-aware sampling",
		NewConfig, New)
}

// Result labels of weft_correlate_logs_total.
const (
	resultCorrelated   = "correlated"
	resultUncorrelated = "uncorrelated"
	resultNoContext    = "no_trace_context"
)

// reasonSampled is the drop reason of events sampling leaves out.
const reasonSampled = "sampled_out"

// Output field names.
const (
	fieldTraceGroup    = "traceGroup"
	fieldServiceName   = "serviceName"
	fieldSpanName      = "spanName"
	fieldTraceStatus   = "traceStatus"
	fieldTraceDuration = "traceDurationInNanos"
	fieldCorrelated    = "traceCorrelated"
	fieldLogCount      = "logCount"
	fieldMaxSeverity   = "maxLogSeverity"
)

type role uint8

const (
	roleAuto role = iota
	roleSpan
	roleLog
)

type processor struct {
	store    *traceStore
	tel      *pipelines.Telemetry
	role     role
	maxWait  int64
	annotate bool
	sampler  *sampler
	now      func() time.Time

	// output paths, under target
	pGroup, pService, pSpanName, pStatus, pDuration, pCorrelated event.Path

	logs  *holder // logs waiting for their trace
	spans *holder // spans waiting for logs (annotate_spans) or for their trace's outcome (sampling)

	logsC                 [3]prometheus.Counter // correlated, uncorrelated, no_trace_context
	spansC                prometheus.Counter
	heldLogsG, heldSpansG prometheus.Gauge
}

// New creates a correlate processor, joining (or creating) the store it
// names in the settings' host.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if s.Host == nil {
		return nil, errors.New("correlate needs the pipeline host to share its store")
	}
	st := s.Host.Shared("correlate/"+c.Store, func() any {
		st := newStore(c.Store, c.storeOptions())
		registerStoreMetrics(s.Telemetry, st)
		return st
	}).(*traceStore)
	if st.opts != c.storeOptions() {
		o := st.opts
		return nil, fmt.Errorf("store %q is already used by another correlate processor with max_traces %d, max_spans_per_trace %d, trace_ttl %s: every processor of a store must give the same values",
			c.Store, o.maxTraces, o.maxSpans, o.ttl)
	}
	p := &processor{store: st, tel: s.Telemetry, maxWait: int64(c.MaxWait), annotate: c.AnnotateSpans,
		sampler: newSampler(c.Sampling), now: time.Now}
	switch c.TreatAs {
	case "span":
		p.role = roleSpan
	case "log":
		p.role = roleLog
	}
	target := strings.TrimSuffix(c.Target, "/")
	path := func(name string) event.Path {
		if target == "" {
			return event.ParsePath(name)
		}
		return event.ParsePath(target + "/" + name)
	}
	p.pGroup, p.pService, p.pSpanName = path(fieldTraceGroup), path(fieldServiceName), path(fieldSpanName)
	p.pStatus, p.pDuration, p.pCorrelated = path(fieldTraceStatus), path(fieldTraceDuration), path(fieldCorrelated)
	p.logs = newHolder(int64(c.MaxWait), c.MaxHeldLogs, c.MaxHeldBytes, true)
	if c.AnnotateSpans {
		st.annotating.Store(true)
		p.spans = newHolder(int64(c.SpanWait), c.MaxHeldLogs, c.MaxHeldBytes, false)
	} else {
		p.spans = newHolder(int64(c.MaxWait), c.MaxHeldLogs, c.MaxHeldBytes, true)
	}
	if err := p.registerMetrics(s.Telemetry); err != nil {
		return nil, err
	}
	return p, nil
}

// batch collects one Process call's work.
type batch struct {
	now             int64
	fed             []TraceID
	holdLogs        []*held
	holdSpans       []*held
	logs            [3]int
	spans           int
	released        []*held
	releasedIsSpans int // released[:releasedIsSpans] are spans
}

// Process feeds spans to the store, enriches logs from it, holds what must
// wait and returns what passes now together with held events released by
// this call (whose trace became ready, whose wait ended, or that exceed the
// bounds). The engine calls it with empty batches while the pipeline is
// idle, which is what releases held events then.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	b := batch{now: p.now().UnixNano()}
	p.store.maybeSweep(b.now)
	seen := p.store.updates.head()
	out := events[:0]
	for _, ev := range events {
		if p.isSpan(ev) {
			out = p.span(ev, &b, out)
		} else if ev.Kind != event.KindMetric || p.role == roleLog {
			out = p.log(ev, &b, out)
		} else {
			out = append(out, ev)
		}
	}
	if len(b.fed) > 0 {
		p.store.updates.add(b.fed)
	}
	b.released = p.spans.step(b.holdSpans, seen, b.now, &p.store.updates, p.spanReady, b.released)
	b.releasedIsSpans = len(b.released)
	b.released = p.logs.step(b.holdLogs, seen, b.now, &p.store.updates, p.logReady, b.released)
	out = p.finish(&b, out, len(events))
	return out
}

// Flush releases every held event, with what the store knows now.
func (p *processor) Flush(context.Context) []*event.Event {
	b := batch{now: p.now().UnixNano()}
	b.released = p.spans.flush()
	b.releasedIsSpans = len(b.released)
	b.released = append(b.released, p.logs.flush()...)
	return p.finish(&b, nil, 0)
}

// finish completes the released events, adds them to out and updates the
// metrics.
func (p *processor) finish(b *batch, out []*event.Event, inLen int) []*event.Event {
	if len(b.released) > 0 && len(out)+len(b.released) > inLen {
		// Do not write past the caller's slice length.
		grown := make([]*event.Event, len(out), len(out)+len(b.released))
		copy(grown, out)
		out = grown
	}
	for i, h := range b.released {
		keep := false
		if i < b.releasedIsSpans {
			keep = p.releaseSpan(h)
		} else {
			keep = p.releaseLog(h.ev, h.trace, h.span, h.hasSpan, p.store.lookup(h.trace, h.span, h.hasSpan), b)
		}
		if keep {
			out = append(out, h.ev)
		} else {
			p.tel.Drop(h.ev, reasonSampled)
		}
		h.ev = nil
	}
	for i, n := range b.logs {
		if n > 0 {
			p.logsC[i].Add(float64(n))
		}
	}
	if b.spans > 0 {
		p.spansC.Add(float64(b.spans))
	}
	p.heldLogsG.Set(float64(p.logs.count()))
	p.heldSpansG.Set(float64(p.spans.count()))
	return out
}

func (p *processor) isSpan(ev *event.Event) bool {
	switch p.role {
	case roleSpan:
		return true
	case roleLog:
		return false
	}
	return ev.Kind == event.KindSpan
}

// span feeds one span document to the store and decides whether it passes,
// waits or is sampled out.
func (p *processor) span(ev *event.Event, b *batch, out []*event.Event) []*event.Event {
	id, o, ok := p.store.feed(ev.Fields(), b.now)
	if !ok {
		return append(out, ev) // not a span document: nothing to do with it
	}
	b.spans++
	if n := len(b.fed); n == 0 || b.fed[n-1] != id {
		b.fed = append(b.fed, id)
	}
	if p.annotate {
		b.holdSpans = append(b.holdSpans, p.newHeld(ev, id, SpanID{}, false))
		return out
	}
	switch p.sampler.decide(id, o) {
	case keep:
		return append(out, ev)
	case undecided:
		if p.maxWait > 0 {
			b.holdSpans = append(b.holdSpans, p.newHeld(ev, id, SpanID{}, false))
			return out
		}
	}
	p.tel.Drop(ev, reasonSampled)
	return out
}

// log enriches one log when its trace is ready, or holds it.
func (p *processor) log(ev *event.Event, b *batch, out []*event.Event) []*event.Event {
	f := ev.Fields()
	id, ok := parseTraceID(f["traceId"])
	if !ok {
		b.logs[2]++
		if p.sampler.keepUntraced() {
			return append(out, ev)
		}
		p.tel.Drop(ev, reasonSampled)
		return out
	}
	sid, hasSpan := parseSpanID(f["spanId"])
	v := p.store.lookup(id, sid, hasSpan)
	if p.maxWait > 0 && !complete(v, hasSpan) {
		b.holdLogs = append(b.holdLogs, p.newHeld(ev, id, sid, hasSpan))
		return out
	}
	if p.releaseLog(ev, id, sid, hasSpan, v, b) {
		return append(out, ev)
	}
	p.tel.Drop(ev, reasonSampled)
	return out
}

func (p *processor) newHeld(ev *event.Event, id TraceID, sid SpanID, hasSpan bool) *held {
	return &held{ev: ev, trace: id, span: sid, hasSpan: hasSpan, size: eventSize(ev)}
}

// complete reports whether the store knows all a log needs: its trace's
// root (group, status, duration) and, when the log names one, its span.
func complete(v traceView, hasSpan bool) bool {
	return v.RootKnown && (!hasSpan || v.SpanFound)
}

func (p *processor) logReady(h *held) bool {
	return complete(p.store.lookup(h.trace, h.span, h.hasSpan), h.hasSpan)
}

func (p *processor) spanReady(h *held) bool {
	return p.sampler.decide(h.trace, p.store.outcome(h.trace)) != undecided
}

// releaseLog writes what the store knows (v) into the log, counts it, and
// reports whether sampling keeps it.
func (p *processor) releaseLog(ev *event.Event, id TraceID, sid SpanID, hasSpan bool, v traceView, b *batch) bool {
	ok := complete(v, hasSpan)
	if v.RootKnown {
		put(ev, p.pGroup, v.Group)
		status := "ok"
		if v.Failed {
			status = "error"
		}
		ev.Put(p.pStatus, status)
		ev.Put(p.pDuration, int64(v.RootDuration))
	}
	switch {
	case v.SpanFound:
		put(ev, p.pService, v.Span.Service)
		put(ev, p.pSpanName, v.Span.Name)
		if p.store.annotating.Load() {
			p.store.noteLog(id, sid, logSeverity(ev.Fields()))
		}
	case !hasSpan && v.RootName != nil:
		put(ev, p.pService, v.RootService)
		put(ev, p.pSpanName, v.RootName)
	}
	ev.Put(p.pCorrelated, ok)
	if ok {
		b.logs[0]++
	} else {
		b.logs[1]++
	}
	return p.sampler.decide(id, v.traceOutcome) == keep
}

// put writes a name the store knows; unknown names (nil) are not written.
func put(ev *event.Event, p event.Path, v interned) {
	if v != nil {
		ev.Put(p, v)
	}
}

// releaseSpan annotates a held span and reports whether sampling keeps it.
func (p *processor) releaseSpan(h *held) bool {
	if !p.annotate {
		return p.sampler.decide(h.trace, p.store.outcome(h.trace)) == keep
	}
	f := h.ev.Fields()
	sid, hasSpan := parseSpanID(f["spanId"])
	v := p.store.lookup(h.trace, sid, hasSpan)
	h.ev.Put(event.ParsePath(fieldLogCount), int64(v.Span.LogCount))
	if name := severityName(v.Span.MaxSeverity); name != "" {
		h.ev.Put(event.ParsePath(fieldMaxSeverity), name)
	}
	return p.sampler.decide(h.trace, v.traceOutcome) == keep
}

func (p *processor) registerMetrics(tel *pipelines.Telemetry) error {
	logs, err := register(tel, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_correlate_logs_total",
		Help: "Logs the correlate processor handled, by result: correlated (the store knew their trace and span), uncorrelated (released without), no_trace_context (no valid traceId)."},
		[]string{"result"}))
	if err != nil {
		return err
	}
	for i, r := range []string{resultCorrelated, resultUncorrelated, resultNoContext} {
		p.logsC[i] = logs.WithLabelValues(r)
	}
	if p.spansC, err = register(tel, prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_correlate_spans_total",
		Help: "Span documents the correlate processor fed to its store."})); err != nil {
		return err
	}
	if p.heldLogsG, err = register(tel, prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_correlate_held_logs",
		Help: "Logs the correlate processor holds while they wait for their trace."})); err != nil {
		return err
	}
	p.heldSpansG, err = register(tel, prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_correlate_held_spans",
		Help: "Spans the correlate processor holds (annotate_spans, or sampling waiting for the trace's outcome)."}))
	return err
}

// registerStoreMetrics exposes the store's size and evictions once, with a
// store label, under the labels of the processor that created it.
func registerStoreMetrics(tel *pipelines.Telemetry, st *traceStore) {
	if tel == nil || tel.Registerer == nil {
		return
	}
	labels := prometheus.Labels{"store": st.name}
	tel.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "weft_correlate_traces",
		Help: "Traces the correlation store tracks.", ConstLabels: labels},
		func() float64 { return float64(st.count.Load()) }))
	for reason, c := range map[string]*atomic.Uint64{"ttl": &st.evictTTL, "capacity": &st.evictCap} {
		tel.Registerer.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "weft_correlate_evictions_total",
			Help:        "Traces evicted from the correlation store: ttl (no span for trace_ttl) or capacity (max_traces reached).",
			ConstLabels: prometheus.Labels{"store": st.name, "reason": reason}},
			func() float64 { return float64(c.Load()) }))
	}
}

// register registers a collector on the component's registerer (none in
// some tests).
func register[C prometheus.Collector](tel *pipelines.Telemetry, c C) (C, error) {
	if tel == nil {
		return c, nil
	}
	return pipelines.RegisterMetric(tel.Registerer, c)
}
