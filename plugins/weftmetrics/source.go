// Package weftmetrics implements the weft_metrics source, weft's own: every
// interval it reads the metrics the agent serves on /metrics (the engine's,
// span_metrics' RED series, log_metrics' series, the sinks', Go and process
// metrics) and emits one metric event per series, in the shape the
// prometheus sink and the emf processor read. Pipelines can then ship
// weft's metrics anywhere a sink goes: as CloudWatch Embedded Metric Format
// log events (emf → cloudwatch_logs), to a file, to OpenSearch.
package weftmetrics

import (
	"context"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/ratelog"
	"github.com/weft-agent/weft/pipelines/selfmetrics"
)

func init() {
	pipelines.RegisterSource("weft_metrics",
		"weft's own metrics (span_metrics, log_metrics, engine, sinks) as metric events, every interval",
		NewConfig, New)
}

// Source reads weft's metrics every interval.
type Source struct {
	cfg      *Config
	set      pipelines.Settings
	reader   *selfmetrics.Reader
	filter   selfmetrics.Filter
	failures *ratelog.Logger
	errors   prometheus.Counter
	readings prometheus.Counter
	lost     prometheus.Counter

	input pipelines.Input // set by Start
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	// used by the loop only (then by Stop, after the loop ended)
	prev, cur map[string]struct{} // series keys of the previous and current reading
	prevTime  int64
	first     bool
}

// New creates a weft_metrics source.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	src := &Source{cfg: c, set: s,
		reader: selfmetrics.NewReader(s.Host, c.MetricsURL, max(c.Interval, 5*time.Second)),
		filter: selfmetrics.Filter{Include: c.IncludeMetrics, Exclude: c.ExcludeMetrics},
		stop:   make(chan struct{}), done: make(chan struct{}), prev: map[string]struct{}{}, cur: map[string]struct{}{}, first: true}
	if s.Logger != nil {
		src.failures = ratelog.New(s.Logger, "weft_metrics: reading weft's metrics failed")
	}
	src.errors = prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_weft_metrics_read_errors_total",
		Help: "Failed readings of weft's metrics."})
	src.readings = prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_weft_metrics_readings_total",
		Help: "Readings of weft's metrics emitted."})
	src.lost = prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_weft_metrics_events_lost_total",
		Help: "Metric events the pipeline did not accept (it was shutting down)."})
	if s.Telemetry != nil {
		for _, c := range []prometheus.Collector{src.errors, src.readings, src.lost} {
			if err := s.Telemetry.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return src, nil
}

// Start emits a first reading (the baseline of cumulative series) and
// starts the interval loop.
func (s *Source) Start(ctx context.Context, in pipelines.Input) error {
	s.input = in
	s.readOnce(ctx, in)
	go s.loop()
	return nil
}

// Stop ends the loop and emits a last reading, so the final counts arrive.
func (s *Source) Stop(ctx context.Context) error {
	s.once.Do(func() { close(s.stop) })
	if s.input == nil { // never started
		return nil
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.readOnce(ctx, s.input)
	return nil
}

// loop reads every interval until Stop.
func (s *Source) loop() {
	defer close(s.done)
	selfmetrics.Every(s.stop, s.cfg.Interval, func(ctx context.Context) { s.readOnce(ctx, s.input) })
}

// readOnce reads the metrics and writes them as events.
func (s *Source) readOnce(ctx context.Context, input pipelines.Input) {
	if input == nil {
		return
	}
	mfs, err := s.reader.Read(ctx)
	if err != nil {
		s.errors.Inc()
		if s.failures != nil {
			s.failures.Record(err)
		}
		if len(mfs) == 0 {
			return
		}
	}
	now := time.Now()
	evs := s.events(mfs, now)
	if len(evs) == 0 {
		return
	}
	if s.set.Telemetry != nil {
		s.set.Telemetry.Received(len(evs))
	}
	n, err := input.Write(ctx, evs)
	if s.set.Telemetry != nil {
		s.set.Telemetry.Passed(n)
	}
	if n < len(evs) {
		s.lost.Add(float64(len(evs) - n))
		if s.set.Logger != nil {
			s.set.Logger.WithError(err).WithField("events", len(evs)-n).Warn("weft_metrics: reading not written")
		}
	}
	s.readings.Inc()
}

// events turns families into one metric event per series. Cumulative
// series (counters, histograms, summaries) that were not in the previous
// reading get startTime = the previous reading's time: they began after it,
// so their whole value is new (the emf processor's initial_value: auto
// reports it). Series of the first reading carry no startTime.
func (s *Source) events(mfs []*dto.MetricFamily, now time.Time) []*event.Event {
	ts := now.UnixMilli()
	var out []*event.Event
	var key strings.Builder
	for _, mf := range mfs {
		name := mf.GetName()
		if !s.filter.Wanted(name) {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := make(map[string]any, len(m.GetLabel()))
			key.Reset()
			key.WriteString(name)
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
				key.WriteByte(0)
				key.WriteString(lp.GetName())
				key.WriteByte(1)
				key.WriteString(lp.GetValue())
			}
			t := ts
			if m.TimestampMs != nil {
				t = m.GetTimestampMs()
			}
			f := map[string]any{"name": name, "labels": labels, "timestamp": t}
			cumulative := true
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				f["kind"] = "counter"
				f["value"] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				f["kind"] = "gauge"
				f["value"] = m.GetGauge().GetValue()
				cumulative = false
			case dto.MetricType_UNTYPED:
				f["kind"] = "gauge"
				f["value"] = m.GetUntyped().GetValue()
				cumulative = false
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				if h == nil {
					continue
				}
				f["kind"] = "histogram"
				bs := make([]any, 0, len(h.GetBucket())+1)
				inf := false
				for _, b := range h.GetBucket() {
					bs = append(bs, map[string]any{"le": bound(b.GetUpperBound()), "count": float64(b.GetCumulativeCount())})
					inf = inf || math.IsInf(b.GetUpperBound(), 1)
				}
				if !inf {
					bs = append(bs, map[string]any{"le": "+Inf", "count": float64(h.GetSampleCount())})
				}
				f["buckets"] = bs
				f["count"] = float64(h.GetSampleCount())
				f["sum"] = h.GetSampleSum()
			case dto.MetricType_SUMMARY:
				sm := m.GetSummary()
				f["kind"] = "summary"
				f["count"] = float64(sm.GetSampleCount())
				f["sum"] = sm.GetSampleSum()
				qs := make([]any, 0, len(sm.GetQuantile()))
				for _, q := range sm.GetQuantile() {
					qs = append(qs, map[string]any{"quantile": q.GetQuantile(), "value": q.GetValue()})
				}
				f["quantiles"] = qs
			default:
				continue
			}
			if cumulative {
				k := key.String()
				s.cur[k] = struct{}{}
				if _, seen := s.prev[k]; !seen && !s.first {
					f["startTime"] = s.prevTime
				}
			}
			out = append(out, event.New(event.KindMetric, time.UnixMilli(t), f))
		}
	}
	s.prev, s.cur = s.cur, s.prev
	clear(s.cur)
	s.prevTime = ts
	s.first = false
	return out
}

// bound is a bucket's upper bound as a JSON value (+Inf as a string).
func bound(x float64) any {
	if math.IsInf(x, 1) {
		return "+Inf"
	}
	return x
}
