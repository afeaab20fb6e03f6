package prometheus

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/selfmetrics"
)

// point is one sample of one series. The series' labels are kept encoded
// (the repeated Label fields of a TimeSeries), which is also the series'
// identity: points with equal labels belong to the same series.
type point struct {
	labels string
	Sample
}

// converter turns metric events and gathered metric families into points.
// It is immutable after newConverter (safe for concurrent use).
type converter struct {
	sanitize bool
	external Labels             // sorted, non-empty values
	families selfmetrics.Filter // source gatherer: which families are sent
}

// errInvalid is the dead-letter type of events that are not metrics.
const errInvalid = "invalid_metric"

// Metric kinds, as the `kind` field names them (case-insensitive; Data
// Prepper's OpenTelemetry names are accepted too).
const (
	kindGauge     = "gauge"
	kindCounter   = "counter"
	kindHistogram = "histogram"
	kindSummary   = "summary"
)

func normalizeKind(v any) (string, error) {
	s, _ := v.(string)
	switch strings.ToLower(s) {
	case "", "gauge", "untyped", "unknown":
		return kindGauge, nil
	case "counter", "sum":
		return kindCounter, nil
	case "histogram", "gaugehistogram", "gauge_histogram", "exponential_histogram":
		return kindHistogram, nil
	case "summary":
		return kindSummary, nil
	}
	return "", fmt.Errorf("kind %q is not one of counter, gauge, histogram, summary", s)
}

// validMetricName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// sanitizeName replaces every character not allowed in a metric (colons
// allowed) or label name with '_' and prefixes a leading digit with '_'.
func sanitizeName(s string, colons bool) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || colons && r == ':'
		if r >= '0' && r <= '9' {
			if i == 0 {
				b.WriteByte('_')
			}
			ok = true
		}
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func (c *converter) metricName(s string) (string, error) {
	if validMetricName(s) {
		return s, nil
	}
	if c.sanitize && s != "" {
		return sanitizeName(s, true), nil
	}
	return "", fmt.Errorf("metric name %q is not a valid Prometheus name ([a-zA-Z_:][a-zA-Z0-9_:]*)", s)
}

func (c *converter) labelName(s string) (string, error) {
	if validLabelName(s) {
		return s, nil
	}
	if c.sanitize && s != "" {
		return sanitizeName(s, false), nil
	}
	return "", fmt.Errorf("label name %q is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)", s)
}

// encodeSeries builds and encodes the label set of one series: __name__,
// the generated labels (le, quantile), the event's labels and the external
// labels, the first occurrence of a name winning.
func (c *converter) encodeSeries(buf []byte, scratch *Labels, name string, base Labels, extra ...Label) (string, []byte) {
	ls := (*scratch)[:0]
	ls = append(ls, Label{Name: "__name__", Value: name})
	ls = append(ls, extra...)
	for _, l := range base {
		// An empty value is no label (Prometheus' rule): it neither shows
		// nor hides an external label.
		if l.Value != "" && !hasLabel(ls, l.Name) {
			ls = append(ls, l)
		}
	}
	for _, l := range c.external {
		if !hasLabel(ls, l.Name) {
			ls = append(ls, l)
		}
	}
	for i := range ls {
		if !utf8.ValidString(ls[i].Value) {
			ls[i].Value = strings.ToValidUTF8(ls[i].Value, "\uFFFD")
		}
	}
	buf = appendLabels(buf[:0], ls)
	*scratch = ls
	return string(buf), buf
}

func hasLabel(ls Labels, name string) bool {
	for _, l := range ls {
		if l.Name == name {
			return true
		}
	}
	return false
}

// eventScratch is reusable memory for converting events.
type eventScratch struct {
	buf    []byte
	labels Labels
	base   Labels
	// otelKeys caches the label names of OpenTelemetry attribute fields
	// and otelNames the Prometheus names of OpenTelemetry metrics.
	otelKeys  map[string]string
	otelNames map[otelNameKey]string
}

// appendEvent converts one metric event into points appended to dst.
//
// The event's fields:
//
//	name        metric name (required)
//	kind        counter, gauge (default), histogram or summary
//	labels      map of label name to value (attributes too, Data Prepper's name)
//	value       the sample value (counter, gauge)
//	timestamp   ms since the epoch, or an RFC 3339 string (time too); default: the event's time
//	count, sum  histogram and summary totals
//	buckets     histogram: [{le, count}] cumulative, or Data Prepper's [{min, max, count}] per bucket
//	explicitBounds, bucketCountsList   histogram, OpenTelemetry's per-bucket shape
//	quantiles   summary: [{quantile, value}]
func (c *converter) appendEvent(dst []point, sc *eventScratch, ev *event.Event, now time.Time) ([]point, error) {
	f := ev.Fields()
	rawName, ok := f["name"].(string)
	if !ok {
		return dst, errors.New("the event has no string field name")
	}
	otel := isOTelKind(f["kind"])
	var name string
	var err error
	if otel {
		if err = checkOTelTemporality(rawName, f); err != nil {
			return dst, err
		}
		name, err = c.otelName(sc, rawName, f)
	} else {
		name, err = c.metricName(rawName)
	}
	if err != nil {
		return dst, err
	}
	kind, err := normalizeKind(f["kind"])
	if err != nil {
		return dst, err
	}
	// A data point flagged no-recorded-value ends its series: every sample
	// is a staleness marker.
	stale := false
	if otel {
		if fl, ok := number(f["flags"]); ok && int64(fl)&flagNoRecordedValue != 0 {
			stale = true
		}
	}
	ts, err := eventTime(f, ev, now)
	if err != nil {
		return dst, err
	}
	base := sc.base[:0]
	for _, key := range [...]string{"labels", "attributes"} {
		if m, ok := f[key].(map[string]any); ok {
			if base, err = c.appendLabelMap(base, "", m); err != nil {
				return dst, err
			}
		}
	}
	// Data Prepper's metric events carry resource and scope attributes;
	// they become resource_* and scope_* labels, as its sink makes them.
	for _, key := range [...]string{"resource", "scope"} {
		if m, ok := f[key].(map[string]any); ok {
			if a, ok := m["attributes"].(map[string]any); ok {
				if base, err = c.appendLabelMap(base, key, a); err != nil {
					return dst, err
				}
			}
		}
	}
	if otel {
		if base, err = c.appendOTelLabels(sc, base, f); err != nil {
			return dst, err
		}
	}
	// Deterministic choice between duplicate names (a map has no order).
	sort.Stable(base)
	sc.base = base
	add := func(n string, v float64, extra ...Label) {
		var lbl string
		if stale {
			v = staleNaN
		}
		lbl, sc.buf = c.encodeSeries(sc.buf, &sc.labels, n, base, extra...)
		dst = append(dst, point{labels: lbl, Sample: Sample{Value: v, Timestamp: ts}})
	}
	switch kind {
	case kindGauge, kindCounter:
		v, ok := number(f["value"])
		if !ok {
			return dst, fmt.Errorf("%s %q has no numeric field value", kind, name)
		}
		add(name, v)
	case kindHistogram:
		var buckets []bucket
		if k, _ := f["kind"].(string); strings.EqualFold(k, otelExponential) {
			buckets, err = exponentialBuckets(f)
		} else {
			buckets, err = histogramBuckets(f)
		}
		if err != nil {
			return dst, fmt.Errorf("histogram %q: %w", name, err)
		}
		count, hasCount := number(f["count"])
		if !hasCount && len(buckets) > 0 {
			count = buckets[len(buckets)-1].count
		}
		if len(buckets) == 0 || !math.IsInf(buckets[len(buckets)-1].le, 1) {
			buckets = append(buckets, bucket{le: math.Inf(1), count: count})
		}
		for _, b := range buckets {
			add(name+"_bucket", b.count, Label{Name: "le", Value: formatFloat(b.le)})
		}
		if sum, ok := number(f["sum"]); ok {
			add(name+"_sum", sum)
		}
		add(name+"_count", count)
	case kindSummary:
		qs, _ := f["quantiles"].([]any)
		for i, q := range qs {
			m, _ := q.(map[string]any)
			qq, ok1 := number(m["quantile"])
			v, ok2 := number(m["value"])
			if !ok1 || !ok2 {
				return dst, fmt.Errorf("summary %q: quantiles[%d] needs numeric quantile and value", name, i)
			}
			add(name, v, Label{Name: "quantile", Value: formatFloat(qq)})
		}
		if sum, ok := number(f["sum"]); ok {
			add(name+"_sum", sum)
		}
		count, ok := number(f["count"])
		if !ok {
			return dst, fmt.Errorf("summary %q has no numeric field count", name)
		}
		add(name+"_count", count)
	}
	return dst, nil
}

// appendLabelMap adds a map's scalar values as labels; nested maps become
// labels joined with '_'.
func (c *converter) appendLabelMap(dst Labels, prefix string, m map[string]any) (Labels, error) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "_" + k
		}
		if sub, ok := v.(map[string]any); ok {
			var err error
			if dst, err = c.appendLabelMap(dst, key, sub); err != nil {
				return dst, err
			}
			continue
		}
		n, err := c.labelName(key)
		if err != nil {
			return dst, err
		}
		if n == "__name__" {
			continue
		}
		dst = append(dst, Label{Name: n, Value: labelValue(v)})
	}
	return dst, nil
}

func labelValue(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	}
	return string(event.AppendJSON(nil, v))
}

// number reads a JSON number, or a string holding one (NaN, +Inf allowed).
func number(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int64:
		return float64(t), true
	case int:
		return float64(t), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		return f, err == nil
	}
	return 0, false
}

// eventTime is the sample time in milliseconds: the timestamp (or time)
// field, else the event's time, else now. Numbers are read as seconds,
// milliseconds, microseconds or nanoseconds since the epoch according to
// their magnitude.
func eventTime(f map[string]any, ev *event.Event, now time.Time) (int64, error) {
	for _, key := range [...]string{"timestamp", "time"} {
		v, ok := f[key]
		if !ok || v == nil {
			continue
		}
		switch t := v.(type) {
		case string:
			if x, err := strconv.ParseFloat(t, 64); err == nil {
				return epochMillis(x), nil
			}
			tm, err := time.Parse(time.RFC3339Nano, t)
			if err != nil {
				return 0, fmt.Errorf("field %s: %q is neither a number nor an RFC 3339 time", key, t)
			}
			return tm.UnixMilli(), nil
		default:
			if x, ok := number(t); ok {
				return epochMillis(x), nil
			}
			return 0, fmt.Errorf("field %s is neither a number nor an RFC 3339 time", key)
		}
	}
	if !ev.Time.IsZero() {
		return ev.Time.UnixMilli(), nil
	}
	return now.UnixMilli(), nil
}

func epochMillis(x float64) int64 {
	a := math.Abs(x)
	switch {
	case a < 1e11: // seconds (until the year 5138)
		return int64(math.Round(x * 1e3))
	case a < 1e14:
		return int64(x)
	case a < 1e17:
		return int64(x / 1e3)
	default:
		return int64(x / 1e6)
	}
}

type bucket struct {
	le, count float64
}

// histogramBuckets reads a histogram's buckets as cumulative counts by
// upper bound, in increasing order.
func histogramBuckets(f map[string]any) ([]bucket, error) {
	var out []bucket
	counts, hasCounts := f["bucketCountsList"].([]any)
	if bs, ok := f["buckets"].([]any); ok && len(bs) > 0 && !hasCounts {
		cum := 0.0
		for i, b := range bs {
			m, _ := b.(map[string]any)
			cnt, ok := number(m["count"])
			if !ok {
				return nil, fmt.Errorf("buckets[%d] has no numeric count", i)
			}
			if le, ok := number(m["le"]); ok {
				out = append(out, bucket{le: le, count: cnt}) // cumulative already
				continue
			}
			hi, ok := number(m["max"])
			if !ok {
				return nil, fmt.Errorf("buckets[%d] needs le (cumulative) or max (per bucket)", i)
			}
			if hi >= math.MaxFloat32 {
				hi = math.Inf(1) // Data Prepper writes Float.MAX_VALUE for infinity
			}
			cum += cnt
			out = append(out, bucket{le: hi, count: cum})
		}
	} else if hasCounts {
		bounds, _ := f["explicitBounds"].([]any)
		if len(counts) != len(bounds)+1 && len(counts) != len(bounds) {
			return nil, fmt.Errorf("bucketCountsList has %d counts for %d explicitBounds", len(counts), len(bounds))
		}
		cum := 0.0
		for i, c := range counts {
			n, ok := number(c)
			if !ok {
				return nil, fmt.Errorf("bucketCountsList[%d] is not a number", i)
			}
			cum += n
			le := math.Inf(1)
			if i < len(bounds) {
				if le, ok = number(bounds[i]); !ok {
					return nil, fmt.Errorf("explicitBounds[%d] is not a number", i)
				}
			}
			out = append(out, bucket{le: le, count: cum})
		}
	}
	for i := 1; i < len(out); i++ {
		if out[i].le <= out[i-1].le {
			return nil, fmt.Errorf("bucket bounds must increase: %v follows %v", out[i].le, out[i-1].le)
		}
		if out[i].count < out[i-1].count {
			return nil, fmt.Errorf("cumulative bucket counts must not decrease (le %v)", out[i].le)
		}
	}
	return out, nil
}

// appendFamilies converts gathered metric families into points at ts
// (milliseconds), unless a metric carries its own timestamp. Native
// histograms are sent as their classic buckets only.
func (c *converter) appendFamilies(dst []point, sc *eventScratch, mfs []*dto.MetricFamily, ts int64) []point {
	for _, mf := range mfs {
		name := mf.GetName()
		if !c.families.Wanted(name) {
			continue
		}
		for _, m := range mf.GetMetric() {
			base := sc.base[:0]
			for _, lp := range m.GetLabel() {
				base = append(base, Label{Name: lp.GetName(), Value: lp.GetValue()})
			}
			sc.base = base
			t := ts
			if m.TimestampMs != nil {
				t = m.GetTimestampMs()
			}
			add := func(n string, v float64, extra ...Label) {
				var lbl string
				lbl, sc.buf = c.encodeSeries(sc.buf, &sc.labels, n, base, extra...)
				dst = append(dst, point{labels: lbl, Sample: Sample{Value: v, Timestamp: t}})
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				if h == nil {
					continue
				}
				inf := false
				for _, b := range h.GetBucket() {
					if math.IsInf(b.GetUpperBound(), 1) {
						inf = true
					}
					add(name+"_bucket", float64(b.GetCumulativeCount()), Label{Name: "le", Value: formatFloat(b.GetUpperBound())})
				}
				if !inf {
					add(name+"_bucket", float64(h.GetSampleCount()), Label{Name: "le", Value: "+Inf"})
				}
				add(name+"_sum", h.GetSampleSum())
				add(name+"_count", float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					add(name, q.GetValue(), Label{Name: "quantile", Value: formatFloat(q.GetQuantile())})
				}
				add(name+"_sum", s.GetSampleSum())
				add(name+"_count", float64(s.GetSampleCount()))
			}
		}
	}
	return dst
}
