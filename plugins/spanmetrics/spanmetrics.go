// Package spanmetrics implements the span_metrics processor, weft's own:
// request, error and duration (RED) metrics per service, operation, span
// kind and status code, computed from spans and exposed on /metrics. Spans
// pass through unchanged.
package spanmetrics

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/internal/series"
)

func init() {
	pipelines.RegisterProcessor("span_metrics",
		"request, error and duration metrics per service, operation, span kind and status code, from spans",
		NewConfig, New)
}

// Overflow is the label value that stands for the label combinations
// beyond max_series.
const Overflow = "__overflow__"

// Status code label values, as OpenTelemetry names them.
var statusNames = [...]string{"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}

const statusError = 2

// series holds the metric children of one label combination, resolved once.
// metricSeries holds the metric children of one label combination.
type metricSeries struct {
	requests prometheus.Counter
	errors   prometheus.Counter // nil unless the status code is ERROR
	duration prometheus.Observer
}

// dim is an extra label read from a span attribute.
type dim struct {
	spanKey, resourceKey string
}

type processor struct {
	requests      *prometheus.CounterVec
	errs          *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	overflowSpans prometheus.Counter
	dims          []dim

	maxSeries, reserve int

	// table holds every label combination; Full: max_series reached, new
	// combinations overflow. normal and overflowSeries are guarded by its
	// lock.
	table          *series.Table[*metricSeries]
	normal         int // series below max_series
	overflowSeries int // overflow series (with their service)
	count          atomic.Int64
}

// New creates a span_metrics processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.MaxSeries < 1 {
		return nil, errors.New("max_series must be at least 1")
	}
	buckets := c.Buckets
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	p := &processor{maxSeries: c.MaxSeries, table: series.NewTable[*metricSeries]()}
	// Overflow series keep the service: at most a tenth of max_series of
	// them (at least 100), beyond which the service folds too.
	p.reserve = max(100, c.MaxSeries/10)
	labels := append([]string(nil), fixedLabels...)
	for _, d := range c.Dimensions {
		k := strings.ReplaceAll(d, ".", "@")
		p.dims = append(p.dims, dim{spanKey: "span.attributes." + k, resourceKey: "resource.attributes." + k})
		labels = append(labels, labelName(d))
	}
	var reg prometheus.Registerer
	if s.Telemetry != nil {
		reg = s.Telemetry.Registerer
	}
	var err error
	if p.requests, err = pipelines.RegisterMetric(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_span_requests_total",
		Help: "Spans seen, by service, operation (span name), span kind and status code."}, labels)); err != nil {
		return nil, err
	}
	if p.errs, err = pipelines.RegisterMetric(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_span_errors_total",
		Help: "Spans with an error status (status code 2), by service, operation, span kind and status code."}, labels)); err != nil {
		return nil, err
	}
	if p.duration, err = pipelines.RegisterMetric(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weft_span_duration_seconds",
		Help: "Span durations, by service, operation, span kind and status code.", Buckets: buckets}, labels)); err != nil {
		return nil, err
	}
	if p.overflowSpans, err = pipelines.RegisterMetric(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_span_metrics_overflow_total",
		Help: "Spans counted under operation=\"__overflow__\" because max_series label combinations exist."})); err != nil {
		return nil, err
	}
	if _, err = pipelines.RegisterMetric(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "weft_span_metrics_series",
		Help: "Label combinations span_metrics tracks."}, func() float64 { return float64(p.count.Load()) })); err != nil {
		return nil, err
	}
	return p, nil
}

// Process observes every span and returns the batch unchanged.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	var kb [256]byte
	key := kb[:0]
	for _, ev := range events {
		if ev.Kind != event.KindSpan {
			continue
		}
		f := ev.Fields()
		var errSpan bool
		key, errSpan = p.appendKey(key[:0], f)
		s, ok := p.table.Get(key)
		if !ok {
			s = p.lookupSlow(key, errSpan)
		}
		s.requests.Inc()
		if s.errors != nil {
			s.errors.Inc()
		}
		if d, ok := durationSeconds(f["durationInNanos"]); ok {
			s.duration.Observe(d)
		}
	}
	return events
}

// appendKey encodes the span's label values, each prefixed with its length
// (so the key is unambiguous whatever the values hold).
func (p *processor) appendKey(b []byte, f map[string]any) ([]byte, bool) {
	svc, ok := f["serviceName"].(string)
	if !ok {
		svc = "unknown_service"
	}
	op, _ := f["name"].(string)
	kind, ok := f["kind"].(string)
	if !ok {
		kind = "SPAN_KIND_UNSPECIFIED"
	}
	code := int64(0)
	if st, ok := f["status"].(map[string]any); ok {
		code = toInt(st["code"])
	}
	b = series.AppendValue(b, svc)
	b = series.AppendValue(b, op)
	b = series.AppendValue(b, kind)
	if code >= 0 && code < int64(len(statusNames)) {
		b = series.AppendValue(b, statusNames[code])
	} else {
		var nb [20]byte
		b = series.AppendBytes(b, strconv.AppendInt(nb[:0], code, 10))
	}
	for _, d := range p.dims {
		v, ok := f[d.spanKey]
		if !ok {
			v = f[d.resourceKey]
		}
		b = appendAny(b, v)
	}
	return b, code == statusError
}

// appendAny appends an attribute value as its label text.
func appendAny(b []byte, v any) []byte {
	var nb [32]byte
	switch t := v.(type) {
	case nil:
		return series.AppendValue(b, "")
	case string:
		return series.AppendValue(b, t)
	case int64:
		return series.AppendBytes(b, strconv.AppendInt(nb[:0], t, 10))
	case float64:
		return series.AppendBytes(b, strconv.AppendFloat(nb[:0], t, 'g', -1, 64))
	case bool:
		return series.AppendValue(b, strconv.FormatBool(t))
	}
	return series.AppendValue(b, fmt.Sprint(v))
}

func toInt(v any) int64 {
	switch t := v.(type) {
	case int64:
		return t
	case float64:
		return int64(t)
	case int:
		return int64(t)
	case string:
		i, _ := strconv.ParseInt(t, 10, 64)
		return i
	}
	return 0
}

func durationSeconds(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t) / 1e9, true
	case float64:
		return t / 1e9, true
	case int:
		return float64(t) / 1e9, true
	}
	return 0, false
}

// lookupSlow finds or creates the series of a key not in the snapshot. Past
// max_series, a new combination is counted under the overflow series of
// its service (or, past the overflow reserve, of all services).
func (p *processor) lookupSlow(key []byte, errSpan bool) *metricSeries {
	if p.table.Full.Load() {
		// Overflowing spans find their overflow series in the snapshot once
		// it exists: with their service, or else the one of all services
		// (which exists only once the reserve is used up). Every series
		// below max_series is in the snapshot by now.
		var ob [256]byte
		if s, ok := p.table.Get(p.overflowKey(ob[:0], key, false)); ok {
			p.overflowSpans.Inc()
			return s
		}
		if s, ok := p.table.Get(p.overflowKey(ob[:0], key, true)); ok {
			p.overflowSpans.Inc()
			return s
		}
	}
	p.table.Lock()
	defer p.table.Unlock()
	if s, ok := p.table.FindLocked(key); ok {
		return s
	}
	if p.normal < p.maxSeries {
		s := p.create(series.Values(key), errSpan)
		p.table.AddLocked(key, s)
		p.normal++
		if p.normal >= p.maxSeries {
			p.table.PublishLocked()
			p.table.Full.Store(true)
		}
		return s
	}
	p.overflowSpans.Inc()
	okey := p.overflowKey(nil, key, false)
	if s, ok := p.table.FindLocked(okey); ok {
		return s
	}
	if p.overflowSeries >= p.reserve {
		okey = p.overflowKey(nil, key, true)
		if s, ok := p.table.FindLocked(okey); ok {
			return s
		}
	}
	s := p.create(series.Values(okey), errSpan)
	p.table.AddLocked(okey, s)
	p.overflowSeries++
	return s
}

// overflowKey is the key of the overflow series for key: the operation and
// the extra dimensions folded, the service kept unless foldService.
func (p *processor) overflowKey(b []byte, key []byte, foldService bool) []byte {
	vals := 0
	for len(key) > 0 {
		n, w := binary.Uvarint(key)
		v := key[w : w+int(n)]
		key = key[w+int(n):]
		switch {
		case vals == 0 && foldService, vals == 1, vals >= 4:
			b = series.AppendValue(b, Overflow)
		default:
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
		vals++
	}
	return b
}

// create resolves the metric children of a label combination.
func (p *processor) create(vals []string, errSpan bool) *metricSeries {
	s := &metricSeries{requests: p.requests.WithLabelValues(vals...), duration: p.duration.WithLabelValues(vals...)}
	if errSpan {
		s.errors = p.errs.WithLabelValues(vals...)
	}
	p.count.Add(1)
	return s
}
