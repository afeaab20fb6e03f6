// Package logmetrics implements the log_metrics processor, weft's own: it
// counts events by labels read from their fields, with a cap on the number
// of label combinations, and can observe a numeric field in a histogram.
// The metrics are registered on the component's registerer, so /metrics
// (and the prometheus sink's source: gatherer) exposes them with the
// pipeline and component labels. Events pass through unchanged.
package logmetrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
	"github.com/weft-agent/weft/pipelines/ratelog"
	"github.com/weft-agent/weft/plugins/internal/series"
)

func init() {
	pipelines.RegisterProcessor("log_metrics",
		"counts events by labels read from their fields (capped cardinality) and observes a numeric field in a histogram",
		NewConfig, New)
}

// Overflow is the value of every label of the series that stands for the
// label combinations beyond max_series.
const Overflow = "__overflow__"

// metricSeries holds the metric children of one label combination,
// resolved once.
type metricSeries struct {
	count prometheus.Counter
	hist  prometheus.Observer // nil without a histogram
}

type processor struct {
	labels    []event.Path // in label-name order
	missing   string
	when      *expr.Expression
	histField event.Path
	scale     float64
	hasHist   bool

	counter  *prometheus.CounterVec
	hist     *prometheus.HistogramVec
	overflow prometheus.Counter
	failures *ratelog.Logger

	maxSeries int
	table     *series.Table[*metricSeries]
	overSer   atomic.Pointer[metricSeries]
	count     atomic.Int64
}

// New creates a log_metrics processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.MaxSeries < 1 {
		return nil, errors.New("max_series must be at least 1")
	}
	names := make([]string, 0, len(c.Labels))
	for n := range c.Labels {
		names = append(names, n)
	}
	sort.Strings(names)
	p := &processor{missing: c.MissingValue, when: c.CountWhen, maxSeries: c.MaxSeries, table: series.NewTable[*metricSeries]()}
	for _, n := range names {
		p.labels = append(p.labels, event.ParsePath(c.Labels[n]))
	}
	if s.Logger != nil {
		p.failures = ratelog.New(s.Logger, "log_metrics: count_when could not be evaluated; the events were not counted")
	}
	var reg prometheus.Registerer
	if s.Telemetry != nil {
		reg = s.Telemetry.Registerer
	}
	help := c.Help
	if help == "" {
		help = "Events counted by the log_metrics processor" + byLabels(names) + "."
	}
	var err error
	if p.counter, err = pipelines.RegisterMetric(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: c.Name + "_total", Help: help}, names)); err != nil {
		return nil, err
	}
	if h := c.Histogram; h.Field != "" {
		p.hasHist, p.histField, p.scale = true, event.ParsePath(h.Field), h.UnitScale
		hh := h.Help
		if hh == "" {
			hh = fmt.Sprintf("Values of the event field %s", p.histField)
			if h.UnitScale != 1 {
				hh += fmt.Sprintf(" times %v", h.UnitScale)
			}
			hh += ", observed by the log_metrics processor" + byLabels(names) + "."
		}
		if p.hist, err = pipelines.RegisterMetric(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: c.Name + h.NameSuffix,
			Help: hh, Buckets: h.Buckets}, names)); err != nil {
			return nil, err
		}
	}
	if p.overflow, err = pipelines.RegisterMetric(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_log_metrics_overflow_total",
		Help: "Events counted under the __overflow__ label values because max_series label combinations exist."})); err != nil {
		return nil, err
	}
	if _, err = pipelines.RegisterMetric(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "weft_log_metrics_series",
		Help: "Label combinations log_metrics tracks (the overflow one included)."}, func() float64 { return float64(p.count.Load()) })); err != nil {
		return nil, err
	}
	return p, nil
}

func byLabels(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return ", by " + strings.Join(names, ", ")
}

// Process counts and observes every event (for which count_when holds) and
// returns the batch unchanged.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	var kb [256]byte
	key := kb[:0]
	for _, ev := range events {
		if p.when != nil {
			ok, err := p.when.EvalBool(ev)
			if err != nil {
				if p.failures != nil {
					p.failures.Record(err)
				}
				continue
			}
			if !ok {
				continue
			}
		}
		f := ev.Fields()
		key = p.appendKey(key[:0], f)
		s, ok := p.table.Get(key)
		if !ok {
			s = p.lookupSlow(key)
		}
		s.count.Inc()
		if p.hasHist {
			if v, ok := p.histField.Lookup(f); ok {
				if x, ok := number(v); ok {
					s.hist.Observe(x * p.scale)
				}
			}
		}
	}
	return events
}

// appendKey encodes the event's label values, each prefixed with its length
// (so the key is unambiguous whatever the values hold).
func (p *processor) appendKey(b []byte, f map[string]any) []byte {
	var nb [32]byte
	for _, path := range p.labels {
		v, ok := path.Lookup(f)
		if !ok {
			b = series.AppendValue(b, p.missing)
			continue
		}
		switch t := v.(type) {
		case nil:
			b = series.AppendValue(b, p.missing)
		case string:
			b = series.AppendValue(b, t)
		case int64:
			b = series.AppendBytes(b, strconv.AppendInt(nb[:0], t, 10))
		case float64:
			b = series.AppendBytes(b, strconv.AppendFloat(nb[:0], t, 'g', -1, 64))
		case bool:
			b = series.AppendBytes(b, strconv.AppendBool(nb[:0], t))
		default:
			b = series.AppendBytes(b, event.AppendJSON(nil, t))
		}
	}
	return b
}

func number(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, !math.IsNaN(t)
	case int64:
		return float64(t), true
	case int:
		return float64(t), true
	case string:
		x, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		return x, err == nil && !math.IsNaN(x)
	}
	return 0, false
}

// lookupSlow finds or creates the series of a key not in the snapshot.
// Past max_series, a new combination is counted under the overflow series.
func (p *processor) lookupSlow(key []byte) *metricSeries {
	if p.table.Full.Load() {
		if o := p.overSer.Load(); o != nil {
			// Every series below max_series is in the snapshot by now.
			p.overflow.Inc()
			return o
		}
	}
	p.table.Lock()
	defer p.table.Unlock()
	if s, ok := p.table.FindLocked(key); ok {
		return s
	}
	if p.table.LenLocked() < p.maxSeries {
		s := p.create(series.Values(key))
		p.table.AddLocked(key, s)
		if p.table.LenLocked() >= p.maxSeries {
			p.table.PublishLocked()
			p.table.Full.Store(true)
		}
		return s
	}
	p.overflow.Inc()
	o := p.overSer.Load()
	if o == nil {
		vals := make([]string, len(p.labels))
		for i := range vals {
			vals[i] = Overflow
		}
		o = p.create(vals)
		p.overSer.Store(o)
	}
	return o
}

// create resolves the metric children of a label combination.
func (p *processor) create(vals []string) *metricSeries {
	s := &metricSeries{count: p.counter.WithLabelValues(vals...)}
	if p.hist != nil {
		s.hist = p.hist.WithLabelValues(vals...)
	}
	p.count.Add(1)
	return s
}

// Shutdown reports count_when failures not logged yet.
func (p *processor) Shutdown(context.Context) error {
	if p.failures != nil {
		p.failures.Flush()
	}
	return nil
}
