// Package emf implements the emf processor, weft's own: it turns metric
// events (weft's, the prometheus sink's shape, and OpenTelemetry metric
// documents) into CloudWatch Embedded Metric Format documents, so that any
// sink writing JSON log events — cloudwatch_logs above all — makes
// CloudWatch metrics out of them. Cumulative counters and histograms become
// per-interval deltas (CloudWatch sums EMF values), with resets detected.
package emf

import (
	"context"
	"math"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterProcessor("emf",
		"metric events to CloudWatch Embedded Metric Format documents (cumulative counters and histograms as deltas)",
		NewConfig, New)
}

// Reasons the processor drops metric events with.
const (
	ReasonMerged      = "emf_merged"       // its metrics went into another event's document
	ReasonBaseline    = "emf_baseline"     // first reading of a cumulative series: the deltas' baseline
	ReasonNoValue     = "emf_no_value"     // nothing to report (non-finite values, a histogram without new observations)
	ReasonInvalid     = "emf_invalid"      // not a valid metric event
	ReasonOutOfOrder  = "emf_out_of_order" // a cumulative reading not newer than the last one
	ReasonSeriesLimit = "emf_series_limit" // max_series cumulative series are remembered already
	ReasonNotMetric   = "emf_not_metric"   // not a metric event, non_metric: drop
)

type processor struct {
	cfg       *Config
	tel       *pipelines.Telemetry
	dims      map[string]int // configured dimension → position
	exclude   map[string]bool
	unitGlobs []string
	started   int64 // milliseconds
	now       func() time.Time
	failures  *ratelog.Logger

	mu        sync.Mutex
	series    map[string]*state
	lastSweep time.Time

	docs       prometheus.Counter
	metrics    prometheus.Counter
	valuesDrop *prometheus.CounterVec
	resets     prometheus.Counter
	truncated  prometheus.Counter
	tracked    prometheus.GaugeFunc
}

// state is the last reading of one cumulative series.
type state struct {
	ts, start  int64
	value      float64 // counters
	count, sum float64 // histograms and summaries
	bounds     []float64
	counts     []float64 // per bucket, not cumulative
	seen       time.Time
}

// New creates an emf processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &processor{cfg: c, tel: s.Telemetry, dims: map[string]int{}, exclude: map[string]bool{},
		now: time.Now, series: map[string]*state{}}
	p.started = p.now().UnixMilli()
	p.lastSweep = p.now()
	for i, d := range c.Dimensions {
		p.dims[d] = i
	}
	for _, d := range c.ExcludeDimensions {
		p.exclude[d] = true
	}
	for g := range c.Units {
		p.unitGlobs = append(p.unitGlobs, g)
	}
	if s.Logger != nil {
		p.failures = ratelog.New(s.Logger, "emf: invalid metric events dropped")
	}
	p.docs = prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_emf_documents_total",
		Help: "EMF documents made."})
	p.metrics = prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_emf_metrics_total",
		Help: "Metric values written into EMF documents."})
	p.valuesDrop = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_emf_values_dropped_total",
		Help: "Metric values not written, by reason (non_finite, name_collision)."}, []string{"reason"})
	p.resets = prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_emf_counter_resets_total",
		Help: "Cumulative series whose value went down or whose start time changed (a restart): the delta is the new value."})
	p.truncated = prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_emf_dimensions_truncated_total",
		Help: "Metrics with more labels than max_dimensions: the further labels were not made dimensions."})
	p.tracked = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "weft_emf_series",
		Help: "Cumulative series whose last reading is remembered."}, func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(len(p.series))
	})
	if s.Telemetry != nil {
		for _, c := range []prometheus.Collector{p.docs, p.metrics, p.valuesDrop, p.resets, p.truncated, p.tracked} {
			if err := s.Telemetry.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// value is one metric of a document.
type value struct {
	name, unit string
	v          any // float64 or histogram
}

type histogram struct {
	values, counts       []float64
	max, min, count, sum float64
}

// group is one document being built: metrics of equal time and labels.
type group struct {
	ev     *event.Event
	s      labelsAndTime
	values []value
	names  map[string]bool
}

type labelsAndTime struct {
	labels []label
	ts     int64
}

// Process turns metric events into EMF documents.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	now := p.now()
	out := events[:0]
	var s sample
	var groups []*group
	open := map[string]*group{} // key → group still accepting ack-less events
	for _, ev := range events {
		if !isMetric(ev) {
			if p.cfg.NonMetric == "drop" {
				p.drop(ev, ReasonNotMetric)
				continue
			}
			out = append(out, ev)
			continue
		}
		if err := parse(&s, ev, now); err != nil {
			if err == errNoRecordedValue { // a gap, not an error: nothing to report
				p.drop(ev, ReasonNoValue)
				continue
			}
			if p.failures != nil {
				p.failures.Record(err)
			}
			p.drop(ev, ReasonInvalid)
			continue
		}
		vals, reason := p.convert(&s, now)
		if len(vals) == 0 {
			p.drop(ev, reason)
			continue
		}
		key := ""
		if !ev.HasAcker() {
			key = groupKey(&s)
			if g := open[key]; g != nil && g.fits(vals, s.labels) {
				g.add(vals)
				p.drop(ev, ReasonMerged)
				continue
			}
		}
		g := &group{ev: ev, s: labelsAndTime{labels: append([]label(nil), s.labels...), ts: s.ts}, names: map[string]bool{}}
		if !g.fits(vals, s.labels) { // a metric named like one of its labels
			p.valuesDrop.WithLabelValues("name_collision").Add(float64(len(vals)))
			p.drop(ev, ReasonNoValue)
			continue
		}
		g.add(vals)
		groups = append(groups, g)
		if key != "" {
			open[key] = g
		}
	}
	for _, g := range groups {
		p.build(g)
		out = append(out, g.ev)
	}
	p.sweep(now)
	if p.tel != nil {
		p.tel.Passed(len(out))
	}
	return out
}

func (p *processor) drop(ev *event.Event, reason string) {
	if p.tel != nil {
		p.tel.Drop(ev, reason)
	} else {
		ev.Finalize(event.Dropped)
	}
}

func groupKey(s *sample) string {
	var b strings.Builder
	b.WriteString(itoa(s.ts))
	for _, l := range s.labels {
		b.WriteByte(0)
		b.WriteString(l.name)
		b.WriteByte(1)
		b.WriteString(l.value)
	}
	return b.String()
}

func itoa(x int64) string {
	var buf [20]byte
	i := len(buf)
	neg := x < 0
	if neg {
		x = -x
	}
	for {
		i--
		buf[i] = byte('0' + x%10)
		x /= 10
		if x == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// fits reports whether vals can join the document: at most 100 metrics,
// no name twice, no metric named like a label.
func (g *group) fits(vals []value, labels []label) bool {
	if len(g.values)+len(vals) > maxMetricsPerDoc {
		return false
	}
	for _, v := range vals {
		if g.names[v.name] || v.name == "_aws" || hasLabel(labels, v.name) {
			return false
		}
	}
	return true
}

func (g *group) add(vals []value) {
	for _, v := range vals {
		g.names[v.name] = true
		g.values = append(g.values, v)
	}
}

// convert turns one sample into the values it reports, or none and the
// reason. Values that overflowed to infinity on the way (deltas, bucket
// midpoints of values near the float64 limit) are not reported.
func (p *processor) convert(s *sample, now time.Time) ([]value, string) {
	vals, reason := p.convertRaw(s, now)
	n := 0
	for _, v := range vals {
		if finiteValue(v.v) {
			vals[n] = v
			n++
		} else {
			p.valuesDrop.WithLabelValues("non_finite").Inc()
		}
	}
	if n == 0 && reason == "" {
		reason = ReasonNoValue
	}
	return vals[:n], reason
}

func finiteValue(v any) bool {
	switch x := v.(type) {
	case float64:
		return finite(x)
	case *histogram:
		if !finite(x.max) || !finite(x.min) || !finite(x.sum) || !finite(x.count) {
			return false
		}
		for i := range x.values {
			if !finite(x.values[i]) || !finite(x.counts[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func (p *processor) convertRaw(s *sample, now time.Time) ([]value, string) {
	unit := p.unit(s)
	switch s.kind {
	case kindGauge:
		if !finite(s.value) {
			p.valuesDrop.WithLabelValues("non_finite").Inc()
			return nil, ReasonNoValue
		}
		return []value{{name: s.name, unit: unit, v: s.value}}, ""
	case kindCounter:
		if !finite(s.value) {
			p.valuesDrop.WithLabelValues("non_finite").Inc()
			return nil, ReasonNoValue
		}
		d := s.value
		if !s.delta {
			var reason string
			if d, reason = p.counterDelta(s, now); reason != "" {
				return nil, reason
			}
		}
		return []value{{name: s.name, unit: unit, v: d}}, ""
	case kindSummary:
		if !finite(s.count) || !finite(s.sum) {
			p.valuesDrop.WithLabelValues("non_finite").Inc()
			return nil, ReasonNoValue
		}
		c, sum := s.count, s.sum
		if !s.delta {
			var reason string
			if c, sum, reason = p.summaryDelta(s, now); reason != "" {
				return nil, reason
			}
		}
		return []value{{name: s.name + "_count", unit: "Count", v: c}, {name: s.name + "_sum", unit: unit, v: sum}}, ""
	case kindHistogram:
		if !finite(s.sum) {
			p.valuesDrop.WithLabelValues("non_finite").Inc()
			return nil, ReasonNoValue
		}
		counts, sum := s.counts, s.sum
		if !s.delta {
			var reason string
			if counts, sum, reason = p.histogramDelta(s, now); reason != "" {
				return nil, reason
			}
		}
		h, ok := histogramValue(s, counts, sum)
		if !ok {
			return nil, ReasonNoValue
		}
		return []value{{name: s.name, unit: unit, v: h}}, ""
	}
	return nil, ReasonInvalid
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func (p *processor) unit(s *sample) string {
	for _, g := range p.unitGlobs {
		if ok, _ := path.Match(g, s.name); ok {
			return p.cfg.Units[g]
		}
	}
	return inferUnit(s.name, s.unit, s.kind)
}

func seriesKey(s *sample) string {
	var b strings.Builder
	b.WriteString(s.name)
	for _, l := range s.labels {
		b.WriteByte(0)
		b.WriteString(l.name)
		b.WriteByte(1)
		b.WriteString(l.value)
	}
	return b.String()
}

// lookup returns the series' state, creating it (and reporting so) on first
// sight; nil and a reason when it cannot be used.
func (p *processor) lookup(s *sample, now time.Time) (st *state, fresh bool, reason string) {
	key := seriesKey(s)
	st = p.series[key]
	if st == nil {
		if len(p.series) >= p.cfg.MaxSeries {
			p.sweepLocked(now, true)
			if len(p.series) >= p.cfg.MaxSeries {
				return nil, false, ReasonSeriesLimit
			}
		}
		st = &state{}
		p.series[key] = st
		return st, true, ""
	}
	if s.ts <= st.ts {
		return nil, false, ReasonOutOfOrder
	}
	return st, false, ""
}

// keepInitial reports whether the first reading of a series is a delta.
func (p *processor) keepInitial(s *sample) bool {
	switch p.cfg.InitialValue {
	case "keep":
		return true
	case "drop":
		return false
	}
	return s.start > 0 && s.start >= p.started
}

// reset reports whether a cumulative series restarted.
func (p *processor) reset(st *state, s *sample, down bool) bool {
	if down || (s.start > 0 && st.start > 0 && s.start != st.start) {
		p.resets.Inc()
		return true
	}
	return false
}

func (p *processor) counterDelta(s *sample, now time.Time) (float64, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, fresh, reason := p.lookup(s, now)
	if st == nil {
		return 0, reason
	}
	prev := st.value
	restarted := !fresh && p.reset(st, s, s.value < prev)
	st.ts, st.start, st.value, st.seen = s.ts, s.start, s.value, now
	switch {
	case fresh:
		if !p.keepInitial(s) {
			return 0, ReasonBaseline
		}
		return s.value, ""
	case restarted:
		return s.value, ""
	}
	return s.value - prev, ""
}

func (p *processor) summaryDelta(s *sample, now time.Time) (float64, float64, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, fresh, reason := p.lookup(s, now)
	if st == nil {
		return 0, 0, reason
	}
	pc, ps := st.count, st.sum
	restarted := !fresh && p.reset(st, s, s.count < pc)
	st.ts, st.start, st.count, st.sum, st.seen = s.ts, s.start, s.count, s.sum, now
	switch {
	case fresh:
		if !p.keepInitial(s) {
			return 0, 0, ReasonBaseline
		}
		return s.count, s.sum, ""
	case restarted:
		return s.count, s.sum, ""
	}
	return s.count - pc, s.sum - ps, ""
}

// histogramDelta returns the per-bucket counts and the sum observed since
// the last reading. The returned slice is the caller's.
func (p *processor) histogramDelta(s *sample, now time.Time) ([]float64, float64, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, fresh, reason := p.lookup(s, now)
	if st == nil {
		return nil, 0, reason
	}
	sameBounds := len(st.bounds) == len(s.bounds)
	down := false
	for i := 0; sameBounds && i < len(s.bounds); i++ {
		if st.bounds[i] != s.bounds[i] {
			sameBounds = false
		} else if s.counts[i] < st.counts[i] {
			down = true
		}
	}
	if !fresh && !sameBounds { // new bucket layout: a new series
		fresh = true
	}
	restarted := !fresh && p.reset(st, s, down || s.count < st.count)
	out := make([]float64, len(s.counts))
	sum := s.sum
	if fresh || restarted {
		copy(out, s.counts)
	} else {
		for i := range out {
			out[i] = s.counts[i] - st.counts[i]
		}
		sum = s.sum - st.sum
	}
	st.ts, st.start, st.count, st.sum, st.seen = s.ts, s.start, s.count, s.sum, now
	st.bounds = append(st.bounds[:0], s.bounds...)
	st.counts = append(st.counts[:0], s.counts...)
	if fresh && !p.keepInitial(s) {
		return nil, 0, ReasonBaseline
	}
	return out, sum, ""
}

// histogramValue makes EMF's Values/Counts form: one representative value
// per non-empty bucket (its midpoint; the lower bound of the +Inf bucket),
// at most 100 of them (adjacent ones merged, count-weighted).
func histogramValue(s *sample, counts []float64, sum float64) (*histogram, bool) {
	h := &histogram{sum: sum, min: math.Inf(1), max: math.Inf(-1)}
	for i, c := range counts {
		if c <= 0 {
			continue
		}
		hi := s.bounds[i]
		var lo float64
		switch {
		case i > 0:
			lo = s.bounds[i-1]
		case hi > 0:
			lo = 0
		default:
			lo = hi
		}
		if s.hasMinMax {
			lo = math.Max(lo, s.min)
			hi = math.Min(hi, s.max)
		}
		rep := lo/2 + hi/2
		if math.IsInf(hi, 1) {
			rep, hi = lo, lo
		}
		if i == 0 && math.IsInf(lo, -1) {
			rep = hi
		}
		h.values = append(h.values, rep)
		h.counts = append(h.counts, c)
		h.count += c
		h.min = math.Min(h.min, lo)
		h.max = math.Max(h.max, hi)
	}
	if h.count == 0 {
		return nil, false
	}
	if s.hasMinMax && finite(s.min) && finite(s.max) {
		h.min, h.max = s.min, s.max
	}
	for len(h.values) > maxValuesPerArray {
		h.values, h.counts = mergePairs(h.values, h.counts)
	}
	return h, true
}

// mergePairs halves the number of entries by merging neighbours.
func mergePairs(vals, counts []float64) ([]float64, []float64) {
	n := 0
	for i := 0; i < len(vals); i += 2 {
		if i+1 == len(vals) {
			vals[n], counts[n] = vals[i], counts[i]
		} else {
			c := counts[i] + counts[i+1]
			w := counts[i] / c
			vals[n] = vals[i]*w + vals[i+1]*(1-w)
			counts[n] = c
		}
		n++
	}
	return vals[:n], counts[:n]
}

// sweep forgets series not seen for series_ttl, at most once a minute.
func (p *processor) sweep(now time.Time) {
	p.mu.Lock()
	p.sweepLocked(now, false)
	p.mu.Unlock()
}

func (p *processor) sweepLocked(now time.Time, force bool) {
	if !force && now.Sub(p.lastSweep) < time.Minute {
		return
	}
	p.lastSweep = now
	for k, st := range p.series {
		if now.Sub(st.seen) > p.cfg.SeriesTTL {
			delete(p.series, k)
		}
	}
}

// dimensions picks the dimension keys of a label set.
func (p *processor) dimensions(labels []label) []any {
	var out []any
	ok := func(l label) bool {
		return !p.exclude[l.name] && l.name != "_aws" && len(l.name) <= maxDimNameLen &&
			len(l.value) <= maxDimValueLen && strings.TrimSpace(l.value) != ""
	}
	if len(p.cfg.Dimensions) > 0 {
		picked := make([]string, len(p.cfg.Dimensions))
		for _, l := range labels {
			if i, yes := p.dims[l.name]; yes && ok(l) {
				picked[i] = l.name
			}
		}
		for _, d := range picked {
			if d != "" {
				out = append(out, d)
			}
		}
	} else {
		for _, l := range labels {
			if ok(l) {
				out = append(out, l.name)
			}
		}
	}
	if len(out) > p.cfg.MaxDimensions {
		out = out[:p.cfg.MaxDimensions]
		p.truncated.Inc()
	}
	if out == nil {
		out = []any{}
	}
	return out
}

// build turns a group into its EMF document, in the group's first event.
func (p *processor) build(g *group) {
	f := make(map[string]any, len(g.s.labels)+len(g.values)+1)
	for _, l := range g.s.labels {
		if l.name == "_aws" {
			continue
		}
		if l.boxed != nil {
			f[l.name] = l.boxed
		} else {
			f[l.name] = l.value
		}
	}
	defs := make([]any, 0, len(g.values))
	for _, v := range g.values {
		def := map[string]any{"Name": v.name}
		if v.unit != "" {
			def["Unit"] = v.unit
		}
		if p.cfg.StorageResolution == 1 {
			def["StorageResolution"] = int64(1)
		}
		defs = append(defs, def)
		switch x := v.v.(type) {
		case float64:
			f[v.name] = x
		case *histogram:
			vals := make([]any, len(x.values))
			cnts := make([]any, len(x.counts))
			for i := range x.values {
				vals[i], cnts[i] = x.values[i], jsonNumber(x.counts[i])
			}
			f[v.name] = map[string]any{"Values": vals, "Counts": cnts,
				"Max": x.max, "Min": x.min, "Count": jsonNumber(x.count), "Sum": x.sum}
		}
	}
	f["_aws"] = map[string]any{
		"Timestamp": g.s.ts,
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  p.cfg.Namespace,
			"Dimensions": []any{p.dimensions(g.s.labels)},
			"Metrics":    defs,
		}},
	}
	g.ev.SetFields(f)
	g.ev.Kind = event.KindLog
	g.ev.Time = time.UnixMilli(g.s.ts)
	p.docs.Inc()
	p.metrics.Add(float64(len(g.values)))
}

// jsonNumber is x as int64 when it is a whole number (counts are; boxing
// small integers does not allocate), else as float64.
func jsonNumber(x float64) any {
	if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
		return int64(x)
	}
	return x
}
