// Package logmetrics implements the log_metrics processor, weft's own: it
// counts events by labels read from their fields, with a cap on the number
// of label combinations, and can observe a numeric field in a histogram.
// The metrics are registered on the component's registerer, so /metrics
// (and the prometheus sink's source: gatherer) exposes them with the
// pipeline and component labels. Events pass through unchanged.
package logmetrics

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterProcessor("log_metrics",
		"counts events by labels read from their fields (capped cardinality) and observes a numeric field in a histogram",
		NewConfig, New)
}

// Overflow is the value of every label of the series that stands for the
// label combinations beyond max_series.
const Overflow = "__overflow__"

// series holds the metric children of one label combination, resolved once.
type series struct {
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
	// snap is an immutable map from label key to series that Process reads
	// without locking or allocating; new series are added under mu and
	// published in a new snapshot.
	snap    atomic.Pointer[map[string]*series]
	full    atomic.Bool
	overSer atomic.Pointer[series]
	mu      sync.Mutex
	all     map[string]*series
	misses  int
	count   atomic.Int64
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
	p := &processor{missing: c.MissingValue, when: c.CountWhen, maxSeries: c.MaxSeries, all: map[string]*series{}}
	for _, n := range names {
		p.labels = append(p.labels, event.ParsePath(c.Labels[n]))
	}
	empty := map[string]*series{}
	p.snap.Store(&empty)
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
	if p.counter, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: c.Name + "_total", Help: help}, names)); err != nil {
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
		if p.hist, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: c.Name + h.NameSuffix,
			Help: hh, Buckets: h.Buckets}, names)); err != nil {
			return nil, err
		}
	}
	if p.overflow, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_log_metrics_overflow_total",
		Help: "Events counted under the __overflow__ label values because max_series label combinations exist."})); err != nil {
		return nil, err
	}
	if _, err = register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "weft_log_metrics_series",
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

// register registers c, or returns the collector of the same type already
// registered under its name (a component recreated by a reload).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old, nil
			}
		}
		return c, fmt.Errorf("registering log_metrics metrics (is the same name used with other labels elsewhere?): %w", err)
	}
	return c, nil
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
		s := (*p.snap.Load())[string(key)]
		if s == nil {
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
			b = appendValue(b, p.missing)
			continue
		}
		switch t := v.(type) {
		case nil:
			b = appendValue(b, p.missing)
		case string:
			b = appendValue(b, t)
		case int64:
			b = appendBytes(b, strconv.AppendInt(nb[:0], t, 10))
		case float64:
			b = appendBytes(b, strconv.AppendFloat(nb[:0], t, 'g', -1, 64))
		case bool:
			b = appendBytes(b, strconv.AppendBool(nb[:0], t))
		default:
			b = appendBytes(b, event.AppendJSON(nil, t))
		}
	}
	return b
}

func appendValue(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func decodeKey(key []byte) []string {
	var vals []string
	for len(key) > 0 {
		n, w := binary.Uvarint(key)
		key = key[w:]
		vals = append(vals, string(key[:n]))
		key = key[n:]
	}
	return vals
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
func (p *processor) lookupSlow(key []byte) *series {
	if p.full.Load() {
		if o := p.overSer.Load(); o != nil {
			// Every series below max_series is in the snapshot by now.
			p.overflow.Inc()
			return o
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.all[string(key)]; s != nil {
		p.noteMiss()
		return s
	}
	if len(p.all) < p.maxSeries {
		s := p.create(decodeKey(key))
		p.all[string(key)] = s
		if len(p.all) >= p.maxSeries {
			p.publish()
			p.full.Store(true)
			return s
		}
		p.noteMiss()
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

// create resolves the metric children of a label combination (values that
// are not valid UTF-8 are repaired: Prometheus refuses them).
func (p *processor) create(vals []string) *series {
	for i, v := range vals {
		if !utf8.ValidString(v) {
			vals[i] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	s := &series{count: p.counter.WithLabelValues(vals...)}
	if p.hist != nil {
		s.hist = p.hist.WithLabelValues(vals...)
	}
	p.count.Add(1)
	return s
}

// noteMiss publishes a new snapshot once enough lookups missed it: at once
// while there are few series, then after a number of misses proportional
// to the size, so copying stays amortized O(1) per series.
func (p *processor) noteMiss() {
	p.misses++
	if len(p.all) > 1024 && p.misses*8 < len(p.all) {
		return
	}
	p.publish()
}

func (p *processor) publish() {
	m := make(map[string]*series, len(p.all))
	for k, v := range p.all {
		m[k] = v
	}
	p.snap.Store(&m)
	p.misses = 0
}

// Shutdown reports count_when failures not logged yet.
func (p *processor) Shutdown(context.Context) error {
	if p.failures != nil {
		p.failures.Flush()
	}
	return nil
}
