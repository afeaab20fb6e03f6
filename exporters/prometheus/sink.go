// Package prometheus is the `prometheus` sink: Prometheus remote write 1.0
// (protobuf + snappy) with Data Prepper's option names, basic auth or AWS
// SigV4 for Amazon Managed Service for Prometheus, retries of 5xx and 429
// only, per-series time ordering, a dead-letter file and a bounded buffer.
// With source: gatherer it also sends weft's own metrics (span RED metrics,
// log_metrics, agent metrics) without a Prometheus server scraping them.
package prometheus

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/exporters/sinkcore"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/ratelog"
	"github.com/weft-agent/weft/pipelines/selfmetrics"
)

func init() {
	pipelines.RegisterSink("prometheus",
		"metric events (and, with source: gatherer, weft's own metrics) to a Prometheus remote write endpoint (Prometheus, Amazon Managed Service for Prometheus)",
		NewConfig, New)
}

// Drop reason of events that are not metrics in source gatherer mode.
const reasonNotMetric = "not_metric"

// item is one metric event with its points (a slice of its Write's chunk).
type item struct {
	ev  *event.Event
	pts []point
}

// Sink sends metrics with remote write.
type Sink struct {
	set     pipelines.Settings
	cfg     *Config
	conv    *converter
	cl      *client
	snd     *sender
	m       *sinkcore.Metrics
	dlq     *sinkcore.DLQ
	batcher *sinkcore.Batcher[item]
	gath    *gatherer
	invalid *ratelog.Logger

	stop         chan struct{}
	stopOnce     sync.Once
	bg           sync.WaitGroup
	startOnce    sync.Once
	shutdownOnce sync.Once
	started      atomic.Bool
	closed       atomic.Bool
}

// New creates the sink; it does not contact the receiver.
func New(s pipelines.Settings, c *Config) (pipelines.Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cl, err := newClient(c)
	if err != nil {
		return nil, err
	}
	var reg prometheus.Registerer
	if s.Telemetry != nil {
		reg = s.Telemetry.Registerer
	}
	m, err := sinkcore.NewMetrics(reg, sinkcore.MetricNames{
		Namespace: "weft_prometheus", Request: "remote_write", Unit: "events", Delivered: "sent"})
	if err != nil {
		return nil, err
	}
	samples := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_prometheus_samples_total",
		Help: "Samples by result: sent, duplicate (already sent, not sent again), out_of_order, rejected (4xx), failed (out of retries), shutdown."},
		[]string{"result"})
	if reg != nil {
		if err := reg.Register(samples); err != nil {
			are, ok := err.(prometheus.AlreadyRegisteredError)
			if !ok {
				return nil, fmt.Errorf("registering metrics: %w", err)
			}
			samples = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	conv := &converter{sanitize: c.SanitizeNames, families: selfmetrics.Filter{Include: c.Include, Exclude: c.Exclude}}
	for k, v := range c.ExternalLabels {
		if v != "" {
			conv.external = append(conv.external, Label{Name: k, Value: v})
		}
	}
	sort.Sort(conv.external)
	sk := &Sink{set: s, cfg: c, conv: conv, cl: cl, m: m, stop: make(chan struct{}),
		snd:     newSender(cl, c, m, samples, s.Logger, s.Tracer),
		invalid: ratelog.New(s.Logger, "prometheus: events that are not valid metrics were dead-lettered")}
	if c.DLQFile != "" {
		if sk.dlq, err = sinkcore.OpenDLQ(c.DLQFile); err != nil {
			return nil, err
		}
	}
	sk.batcher = sinkcore.NewBatcher(sinkcore.BatcherConfig{
		MaxItems:     c.Threshold.MaxEvents,
		MaxBytes:     int(c.Threshold.MaxRequestSize),
		FlushTimeout: c.Threshold.FlushInterval,
		MaxBuffered:  c.MaxBuffered,
		MaxInflight:  1, // one request at a time: per-series order, retries included
	}, itemSize, sk.flush)
	sk.batcher.OnBuffered = func(n int) { m.Buffered.Set(float64(n)) }
	if c.Source == SourceGatherer {
		sk.gath = newGatherer(s, c)
	}
	return sk, nil
}

func itemSize(it item) int {
	n := 0
	for _, p := range it.pts {
		n += seriesSize(p.labels, 1)
	}
	return n
}

// Start starts the batcher and, for source gatherer, the gathering loop.
func (s *Sink) Start(ctx context.Context) error {
	s.startOnce.Do(func() {
		s.started.Store(true)
		s.batcher.Start()
		if s.gath != nil {
			s.bg.Add(1)
			go s.gatherLoop()
		}
	})
	return nil
}

// writeScratch is one Write's reusable memory.
type writeScratch struct {
	conv  eventScratch
	pts   []point
	ends  []int
	items []item
	bad   []deadEvent
}

var writeScratchPool = sync.Pool{New: func() any { return new(writeScratch) }}

type deadEvent struct {
	ev *event.Event
	f  failure
}

// isMetric reports whether an event looks like a metric event.
func isMetric(ev *event.Event) bool {
	if ev.Kind == event.KindMetric {
		return true
	}
	f := ev.Fields()
	if _, ok := f["name"].(string); !ok {
		return false
	}
	for _, k := range [...]string{"value", "buckets", "bucketCountsList", "quantiles"} {
		if _, ok := f[k]; ok {
			return true
		}
	}
	return false
}

// Write converts the metric events into samples and hands them to the
// batcher, blocking while max_buffered events are held. Events that are not
// valid metrics are dead-lettered at once (with source gatherer, events
// that are not metrics at all are dropped as not_metric).
func (s *Sink) Write(ctx context.Context, evs []*event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if s.closed.Load() {
		return sinkcore.RejectClosed(s.set.Telemetry, evs)
	}
	sc := writeScratchPool.Get().(*writeScratch)
	defer s.release(sc)
	now := time.Now()
	pts := sc.pts[:0]
	for _, ev := range evs {
		if s.gath != nil && !isMetric(ev) {
			s.set.Telemetry.Drop(ev, reasonNotMetric)
			continue
		}
		before := len(pts)
		var err error
		pts, err = s.conv.appendEvent(pts, &sc.conv, ev, now)
		if err != nil {
			pts = pts[:before]
			s.invalid.Record(err)
			sc.bad = append(sc.bad, deadEvent{ev: ev, f: failure{typ: errInvalid, reason: err.Error()}})
			continue
		}
		sc.items = append(sc.items, item{ev: ev})
		sc.ends = append(sc.ends, len(pts))
	}
	sc.pts = pts
	if len(sc.bad) > 0 {
		s.deadLetter(sc.bad)
	}
	if len(sc.items) == 0 {
		return nil
	}
	// One exact-size chunk per Write holds the points, so the scratch can
	// be reused while the events wait in the batcher.
	sinkcore.Cut(pts, sc.ends, func(i int, p []point) { sc.items[i].pts = p })
	n, err := s.batcher.Add(ctx, "", sc.items)
	if err != nil {
		sinkcore.RejectShutdown(s.set.Telemetry, sc.items[n:], func(it item) *event.Event { return it.ev })
		return fmt.Errorf("prometheus: %d events not accepted: %w", len(sc.items)-n, err)
	}
	return nil
}

func (s *Sink) release(sc *writeScratch) {
	clear(sc.items)
	sc.items = sc.items[:0]
	clear(sc.bad)
	sc.bad = sc.bad[:0]
	sc.ends = sc.ends[:0]
	clear(sc.pts)
	if cap(sc.pts) > 1<<16 {
		sc.pts = nil
	} else {
		sc.pts = sc.pts[:0]
	}
	writeScratchPool.Put(sc)
}

// flushScratch is the flush's reusable memory (one flush at a time).
type flushScratch struct {
	pts  []point
	res  []result
	dead []deadEvent
	ok   []*event.Event
}

var flushPool = sync.Pool{New: func() any { return new(flushScratch) }}

// flush sends one batch (the batcher's FlushFunc) and finalizes every
// event: delivered when all its samples are in the receiver, dead-lettered
// when one was refused, out of order or out of retries, dropped (reason
// shutdown) when the deadline came first.
func (s *Sink) flush(ctx context.Context, b *sinkcore.Batch[item]) {
	sc := flushPool.Get().(*flushScratch)
	defer func() {
		clear(sc.pts)
		clear(sc.dead)
		clear(sc.ok)
		sc.pts, sc.dead, sc.ok = sc.pts[:0], sc.dead[:0], sc.ok[:0]
		flushPool.Put(sc)
	}()
	for _, it := range b.Items {
		sc.pts = append(sc.pts, it.pts...)
	}
	if cap(sc.res) < len(sc.pts) {
		sc.res = make([]result, len(sc.pts))
	}
	res := sc.res[:len(sc.pts)]
	clear(res)
	fails := s.snd.send(ctx, sc.pts, res)
	off := 0
	var shutdown []*event.Event
	for _, it := range b.Items {
		worst, retried := resSent, false
		for _, r := range res[off : off+len(it.pts)] {
			retried = retried || r.retried()
			if k := r.kind(); severity(k) > severity(worst) {
				worst = k
			}
		}
		off += len(it.pts)
		if retried {
			s.m.Retried.Inc()
		}
		switch worst {
		case resSent, resDuplicate:
			sc.ok = append(sc.ok, it.ev)
		case resShutdown:
			shutdown = append(shutdown, it.ev)
		default:
			sc.dead = append(sc.dead, deadEvent{ev: it.ev, f: fails[worst]})
		}
	}
	if len(sc.ok) > 0 {
		s.set.Telemetry.Deliver(sc.ok...)
		s.m.Delivered.Add(float64(len(sc.ok)))
	}
	if len(sc.dead) > 0 {
		s.deadLetter(sc.dead)
	}
	for _, ev := range shutdown {
		s.set.Telemetry.Reject(ev, "shutdown")
	}
	if len(shutdown) > 0 {
		s.set.Logger.WithField("events", len(shutdown)).Warn("shutdown deadline: metric events not sent were dropped")
	}
}

// severity orders results: the worst result of an event's samples decides
// what becomes of it.
func severity(r result) int {
	switch r {
	case resSent:
		return 0
	case resDuplicate:
		return 1
	case resShutdown:
		return 2
	case resFailed:
		return 3
	case resOutOfOrder:
		return 4
	case resRejected:
		return 5
	}
	return 3
}

// deadLetter finalizes events refused for good: written to dlq_file when
// set, logged either way, rejected with reason dead_letter.
func (s *Sink) deadLetter(dead []deadEvent) {
	s.m.Failed.Add(float64(len(dead)))
	written := false
	if s.dlq != nil {
		recs := make([]sinkcore.DeadLetter, len(dead))
		now := time.Now()
		for i, d := range dead {
			name, _ := d.ev.Fields()["name"].(string)
			recs[i] = sinkcore.DeadLetter{Document: d.ev.AppendJSON(nil),
				Fields: []sinkcore.Field{{Key: "url", Value: s.cfg.URL}, {Key: "metric", Value: name}},
				Status: d.f.status, Type: d.f.typ, Reason: d.f.reason, Time: now}
		}
		if err := s.dlq.Write(recs); err != nil {
			s.set.Logger.WithError(err).WithField("events", len(dead)).Error("writing to the dead-letter file failed; the metric events are lost")
		} else {
			written = true
			s.m.DeadLettered.Add(float64(len(dead)))
		}
	}
	if dead[0].f.typ != errInvalid {
		entry := s.set.Logger.WithFields(map[string]any{"events": len(dead), "status": dead[0].f.status,
			"error_type": dead[0].f.typ, "reason": dead[0].f.reason})
		if written {
			entry.WithField("dlq_file", s.dlq.Path()).Warn("metric events not accepted by the receiver were dead-lettered")
		} else if s.dlq == nil {
			entry.Error("metric events not accepted by the receiver were dropped (no dlq_file)")
		}
	}
	for _, d := range dead {
		s.set.Telemetry.Reject(d.ev, "dead_letter")
	}
}

// Shutdown sends what the sink holds (and, for source gatherer, one last
// gathering) within ctx; what is not sent by then is dropped with reason
// shutdown.
func (s *Sink) Shutdown(ctx context.Context) error {
	var err error
	s.shutdownOnce.Do(func() { err = s.shutdown(ctx) })
	return err
}

func (s *Sink) shutdown(ctx context.Context) error {
	s.closed.Store(true)
	s.stopOnce.Do(func() { close(s.stop) })
	if !s.started.Load() {
		c, cancel := context.WithCancel(ctx)
		cancel()
		ctx = c
	}
	// The batcher first: at ctx's deadline it cancels a flush that is still
	// retrying, which frees the sender for the gathering loop to see its
	// own cancellation and end.
	err := s.batcher.Shutdown(ctx)
	if !s.started.Load() {
		err = nil
	}
	s.bg.Wait()
	if s.gath != nil && s.started.Load() && ctx.Err() == nil {
		s.gatherOnce(ctx)
	}
	s.invalid.Flush()
	s.cl.close()
	if s.dlq != nil {
		if cerr := s.dlq.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("prometheus sink shutdown: %w", err)
	}
	return nil
}
