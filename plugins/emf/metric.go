package emf

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// kind is what a metric event holds.
type kind uint8

const (
	kindGauge kind = iota
	kindCounter
	kindHistogram
	kindSummary
)

type label struct {
	name, value string
	boxed       any // value as an interface, when the event already held it so (no allocation to write it)
}

// sample is one metric event, normalised: weft's metric events
// (name/kind/labels/value/timestamp/count/sum/buckets) and OpenTelemetry
// metric documents (GAUGE/SUM/HISTOGRAM/SUMMARY with metric.attributes.*).
type sample struct {
	name   string
	kind   kind
	delta  bool // already a per-interval value (OpenTelemetry DELTA temporality)
	labels []label
	ts     int64 // milliseconds
	start  int64 // milliseconds; 0 when unknown
	unit   string
	value  float64
	count  float64
	sum    float64
	// histograms: upper bounds (increasing, the last may be +Inf) and the
	// count of each bucket (not cumulative), same length.
	bounds []float64
	counts []float64
	// min and max of a delta histogram's observations, when given.
	min, max  float64
	hasMinMax bool
}

var (
	errNotMetric       = errors.New("not a metric event")
	errNoRecordedValue = errors.New("no recorded value (OpenTelemetry flag)")
)

// isMetric reports whether ev is a metric event: of kind metric, or a
// document with a name and a value, buckets or count.
func isMetric(ev *event.Event) bool {
	f := ev.Fields()
	if _, ok := f["name"].(string); !ok {
		return false
	}
	if ev.Kind == event.KindMetric {
		return true
	}
	for _, k := range [...]string{"value", "buckets", "bucketCountsList", "count"} {
		if _, ok := f[k]; ok {
			return true
		}
	}
	return false
}

// parse reads a metric event into s (reusing its slices).
func parse(s *sample, ev *event.Event, now time.Time) error {
	f := ev.Fields()
	name, _ := f["name"].(string)
	if name == "" {
		return errNotMetric
	}
	*s = sample{name: name, labels: s.labels[:0], bounds: s.bounds[:0], counts: s.counts[:0]}
	ks, _ := f["kind"].(string)
	otel := ks != "" && ks == strings.ToUpper(ks)
	switch strings.ToLower(ks) {
	case "", "gauge", "untyped", "unknown":
		s.kind = kindGauge
	case "counter":
		s.kind = kindCounter
	case "sum":
		s.kind = kindCounter
		if m, ok := f["isMonotonic"].(bool); ok && !m {
			s.kind = kindGauge
		}
	case "histogram":
		s.kind = kindHistogram
	case "summary":
		s.kind = kindSummary
	default:
		return fmt.Errorf("kind %q is not supported (counter, gauge, histogram, summary)", ks)
	}
	if fl, ok := number(f["flags"]); ok && int64(fl)&1 == 1 {
		return errNoRecordedValue
	}
	if t, _ := f["aggregationTemporality"].(string); strings.Contains(strings.ToUpper(t), "DELTA") {
		s.delta = true
	}
	s.unit, _ = f["unit"].(string)

	// labels
	if m, ok := f["labels"].(map[string]any); ok {
		s.labels = appendLabels(s.labels, "", m)
	} else if m, ok := f["attributes"].(map[string]any); ok {
		s.labels = appendLabels(s.labels, "", m)
	}
	if otel {
		for k, v := range f {
			if rest, ok := strings.CutPrefix(k, "metric.attributes."); ok && rest != "" {
				if lv := labelValue(v); lv != "" {
					s.labels = append(s.labels, label{strings.ReplaceAll(rest, "@", "."), lv, boxedString(v)})
				}
			}
		}
		if sn, _ := f["serviceName"].(string); sn != "" && !hasLabel(s.labels, "service.name") {
			s.labels = append(s.labels, label{"service.name", sn, f["serviceName"]})
		}
	}
	slices.SortFunc(s.labels, func(a, b label) int { return strings.Compare(a.name, b.name) })

	// times
	ts, ok := timeField(f["timestamp"])
	if !ok {
		ts, ok = timeField(f["time"])
	}
	if !ok {
		if !ev.Time.IsZero() && ev.Time.UnixMilli() >= minTimestamp {
			ts = ev.Time.UnixMilli()
		} else {
			ts = now.UnixMilli()
		}
	}
	s.ts = ts
	if st, ok := timeField(f["startTime"]); ok {
		s.start = st
	} else if st, ok := timeField(f["start_time"]); ok {
		s.start = st
	}

	switch s.kind {
	case kindGauge, kindCounter:
		v, ok := number(f["value"])
		if !ok {
			return fmt.Errorf("metric %q has no numeric value", name)
		}
		s.value = v
	case kindSummary:
		s.count, _ = number(f["count"])
		s.sum, _ = number(f["sum"])
	case kindHistogram:
		s.count, _ = number(f["count"])
		s.sum, _ = number(f["sum"])
		if err := s.readBuckets(f); err != nil {
			return fmt.Errorf("metric %q: %w", name, err)
		}
		mn, ok1 := number(f["min"])
		mx, ok2 := number(f["max"])
		s.min, s.max, s.hasMinMax = mn, mx, ok1 && ok2 && s.delta
	}
	return nil
}

// readBuckets fills bounds and counts from OpenTelemetry's
// explicitBounds/bucketCountsList, Prometheus' cumulative [{le, count}] or
// Data Prepper's [{min, max, count}].
func (s *sample) readBuckets(f map[string]any) error {
	if cl, ok := f["bucketCountsList"].([]any); ok {
		bl, _ := f["explicitBounds"].([]any)
		if len(cl) != len(bl)+1 {
			return fmt.Errorf("%d bucket counts for %d bounds", len(cl), len(bl))
		}
		for i, c := range cl {
			n, ok := number(c)
			if !ok || n < 0 {
				return errors.New("bucket counts must be non-negative numbers")
			}
			b := math.Inf(1)
			if i < len(bl) {
				if b, ok = number(bl[i]); !ok {
					return errors.New("bounds must be numbers")
				}
			}
			s.bounds = append(s.bounds, b)
			s.counts = append(s.counts, n)
		}
	} else if bs, ok := f["buckets"].([]any); ok {
		prev := 0.0
		for _, x := range bs {
			m, _ := x.(map[string]any)
			c, ok := number(m["count"])
			if !ok || c < 0 {
				return errors.New("every bucket needs a non-negative count")
			}
			if le, ok := number(m["le"]); ok { // cumulative
				if c < prev {
					return errors.New("cumulative bucket counts must not decrease")
				}
				s.bounds = append(s.bounds, le)
				s.counts = append(s.counts, c-prev)
				prev = c
			} else if mx, ok := number(m["max"]); ok { // Data Prepper: per bucket
				if mx >= math.MaxFloat64 {
					mx = math.Inf(1)
				}
				s.bounds = append(s.bounds, mx)
				s.counts = append(s.counts, c)
			} else {
				return errors.New("every bucket needs le (cumulative) or max")
			}
		}
		if n := len(s.bounds); n > 0 && !math.IsInf(s.bounds[n-1], 1) { // add +Inf from count
			total := 0.0
			for _, c := range s.counts {
				total += c
			}
			if s.count > total {
				s.bounds = append(s.bounds, math.Inf(1))
				s.counts = append(s.counts, s.count-total)
			}
		}
	}
	for i := 1; i < len(s.bounds); i++ {
		if !(s.bounds[i] > s.bounds[i-1]) {
			return fmt.Errorf("bucket bounds must increase: %v follows %v", s.bounds[i], s.bounds[i-1])
		}
	}
	if len(s.bounds) == 0 {
		return errors.New("histogram without buckets")
	}
	return nil
}

func hasLabel(ls []label, name string) bool {
	for _, l := range ls {
		if l.name == name {
			return true
		}
	}
	return false
}

func appendLabels(dst []label, prefix string, m map[string]any) []label {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			dst = appendLabels(dst, prefix+k+"_", sub)
			continue
		}
		if lv := labelValue(v); lv != "" {
			dst = append(dst, label{prefix + k, lv, boxedString(v)})
		}
	}
	return dst
}

func labelValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return ""
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// minTimestamp (2001-09-09, in milliseconds) is the earliest time taken
// from an event: anything before is a mistake (a count or a duration in a
// time field), and EMF consumers read a 12-digit value as seconds.
const minTimestamp = 1e12

// timeField reads milliseconds since the epoch from a number (seconds,
// milliseconds, microseconds or nanoseconds, by magnitude) or an RFC 3339
// string; a time before minTimestamp is not taken.
func timeField(v any) (int64, bool) {
	ms, ok := readTime(v)
	return ms, ok && ms >= minTimestamp
}

func readTime(v any) (int64, bool) {
	switch x := v.(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return 0, false
		}
		return t.UnixMilli(), true
	case nil:
		return 0, false
	}
	f, ok := number(v)
	if !ok || f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	switch {
	case f < 1e11: // seconds
		return int64(f * 1e3), true
	case f < 1e14: // milliseconds
		return int64(f), true
	case f < 1e17: // microseconds
		return int64(f / 1e3), true
	default:
		return int64(f / 1e6), true
	}
}

// inferUnit guesses the CloudWatch unit from an OpenTelemetry unit or a
// Prometheus name suffix.
func inferUnit(name, otelUnit string, k kind) string {
	switch otelUnit {
	case "s":
		return "Seconds"
	case "ms":
		return "Milliseconds"
	case "us":
		return "Microseconds"
	case "By":
		return "Bytes"
	case "KBy", "KiBy":
		return "Kilobytes"
	case "MBy", "MiBy":
		return "Megabytes"
	case "GBy", "GiBy":
		return "Gigabytes"
	case "bit":
		return "Bits"
	case "%":
		return "Percent"
	case "By/s":
		return "Bytes/Second"
	case "1":
		return "None"
	}
	base := strings.TrimSuffix(name, "_total")
	for _, u := range [...]struct{ suffix, unit string }{
		{"_seconds", "Seconds"}, {"_milliseconds", "Milliseconds"}, {"_microseconds", "Microseconds"},
		{"_bytes", "Bytes"}, {"_bits", "Bits"}, {"_percent", "Percent"}, {"_ratio", "None"},
	} {
		if strings.HasSuffix(base, u.suffix) {
			return u.unit
		}
	}
	if k == kindCounter || strings.HasPrefix(otelUnit, "{") {
		return "Count"
	}
	return ""
}

// boxedString returns v when it is a string interface, else nil.
func boxedString(v any) any {
	if _, ok := v.(string); ok {
		return v
	}
	return nil
}
