package prometheus

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// OpenTelemetry metric documents — the events of weft's OTLP metric
// sources (`otel_metrics_source`, `otlp`), shaped as Data Prepper's metric
// documents — are translated as Prometheus' own OTLP receiver translates
// OTLP metrics (its default UnderscoreEscapingWithSuffixes strategy):
//
//   - the name gets the unit as a suffix (unit "s" → _seconds, "By" →
//     _bytes, "1" on a gauge → _ratio, "{requests}" → nothing, "m/s" →
//     _meters_per_second) and a monotonic cumulative sum gets _total;
//   - data point attributes (metric.attributes.<key>) become labels, with
//     the '@' Data Prepper writes for '.' turned back and then escaped to
//     '_' (http.route → http_route);
//   - the resource's service.namespace/service.name becomes job and
//     service.instance.id becomes instance; other resource attributes are
//     not labels (Prometheus keeps them on target_info, which weft does not
//     write);
//   - delta temporality is refused: Prometheus stores cumulative series
//     (its OTLP receiver refuses delta too);
//   - exponential histograms become classic histograms (le buckets), at
//     most at scale maxExponentialScale so the set of le values stays
//     small and stable;
//   - a data point flagged no-recorded-value becomes a staleness marker.

// Data Prepper's metric kinds (written in upper case by weft's OTLP
// sources); a document with one of them is an OpenTelemetry document.
const (
	otelGauge       = "GAUGE"
	otelSum         = "SUM"
	otelHistogram   = "HISTOGRAM"
	otelExponential = "EXPONENTIAL_HISTOGRAM"
	otelSummary     = "SUMMARY"

	otelDelta      = "AGGREGATION_TEMPORALITY_DELTA"
	otelCumulative = "AGGREGATION_TEMPORALITY_CUMULATIVE"

	metricAttrPrefix   = "metric.attributes."
	resourceAttrPrefix = "resource.attributes."

	// flagNoRecordedValue is OTLP's DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK.
	flagNoRecordedValue = 1

	// maxExponentialScale is the finest scale at which exponential
	// histograms are written as classic buckets (base 2^(1/8), bounds about
	// 9% apart); finer histograms are merged down to it.
	maxExponentialScale = 3
)

// staleNaN is Prometheus' staleness marker (value.StaleNaN).
var staleNaN = math.Float64frombits(0x7ff0000000000002)

func isOTelKind(k any) bool {
	switch k {
	case otelGauge, otelSum, otelHistogram, otelExponential, otelSummary:
		return true
	}
	return false
}

// otelUnits maps UCUM units (as OpenTelemetry semantic conventions write
// them) to Prometheus' base unit words.
var otelUnits = map[string]string{
	"d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
	"us": "microseconds", "ns": "nanoseconds",
	"By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tebibytes",
	"KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
	"m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
	"Cel": "celsius", "Hz": "hertz", "%": "percent",
}

// otelPerUnits are the units after '/' ("m/s" → meters_per_second).
var otelPerUnits = map[string]string{
	"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year",
}

// otelUnitSuffix returns the name suffix of a UCUM unit ("" for none).
func otelUnitSuffix(unit string, gauge bool) string {
	// Annotations in braces ({request}) are not units.
	for {
		i := strings.IndexByte(unit, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(unit[i:], '}')
		if j < 0 {
			break
		}
		unit = unit[:i] + unit[i+j+1:]
	}
	unit = strings.TrimSpace(unit)
	if unit == "1" {
		if gauge {
			return "ratio"
		}
		return ""
	}
	main, per, hasPer := strings.Cut(unit, "/")
	var parts []string
	if main != "" && main != "1" {
		w, ok := otelUnits[main]
		if !ok {
			w = main
		}
		parts = append(parts, w)
	}
	if hasPer && per != "" {
		w, ok := otelPerUnits[per]
		if !ok {
			w, ok = otelUnits[per]
			if !ok {
				w = per
			}
		}
		parts = append(parts, "per", w)
	}
	return strings.Join(parts, "_")
}

// otelName builds the Prometheus name of an OpenTelemetry metric document
// (before _bucket/_sum/_count): escaped name, unit suffix, _total for
// counters, each suffix only when the name does not already end with it.
func (c *converter) otelName(sc *eventScratch, name string, f map[string]any) (string, error) {
	unit, _ := f["unit"].(string)
	key := otelNameKey{name: name, unit: unit, kind: f["kind"].(string),
		counter: f["isMonotonic"] == true && f["aggregationTemporality"] == otelCumulative}
	if n, ok := sc.otelNames[key]; ok {
		return n, nil
	}
	n, err := c.translateName(key)
	if err != nil {
		return "", err
	}
	if sc.otelNames == nil || len(sc.otelNames) >= maxNameCache {
		sc.otelNames = make(map[otelNameKey]string)
	}
	sc.otelNames[key] = n
	return n, nil
}

// maxNameCache bounds each of the caches of translated names.
const maxNameCache = 4096

// otelNameKey is what a translated name depends on.
type otelNameKey struct {
	name, unit, kind string
	counter          bool // monotonic and cumulative
}

func (c *converter) translateName(k otelNameKey) (string, error) {
	name, unit, kind := k.name, k.unit, k.kind
	n, err := c.metricName(name)
	if err != nil {
		return "", err
	}
	if s := otelUnitSuffix(unit, kind == otelGauge); s != "" {
		s, err := c.metricName(s)
		if err != nil {
			return "", err
		}
		if !strings.HasSuffix(n, "_"+s) {
			n += "_" + s
		}
	}
	if kind == otelSum && k.counter && !strings.HasSuffix(n, "_total") {
		n += "_total"
	}
	return n, nil
}

// checkOTelTemporality refuses delta sums and histograms.
func checkOTelTemporality(name string, f map[string]any) error {
	if f["aggregationTemporality"] != otelDelta {
		return nil
	}
	return fmt.Errorf("%s %q has delta temporality, which Prometheus cannot store (its series are cumulative); "+
		"configure the OpenTelemetry exporter for cumulative temporality (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative)",
		strings.ToLower(f["kind"].(string)), name)
}

// appendOTelLabels adds the labels of an OpenTelemetry metric document:
// its metric.attributes.* fields, and job and instance from its resource.
func (c *converter) appendOTelLabels(sc *eventScratch, dst Labels, f map[string]any) (Labels, error) {
	var svc, ns, inst string
	for k, v := range f {
		switch {
		case strings.HasPrefix(k, metricAttrPrefix):
			n, ok := sc.otelKeys[k]
			if !ok {
				var err error
				if n, err = c.labelName(strings.ReplaceAll(k[len(metricAttrPrefix):], "@", ".")); err != nil {
					return dst, err
				}
				if sc.otelKeys == nil || len(sc.otelKeys) >= maxNameCache {
					sc.otelKeys = make(map[string]string)
				}
				sc.otelKeys[k] = n
			}
			if n == "__name__" {
				continue
			}
			dst = append(dst, Label{Name: n, Value: labelValue(v)})
		case strings.HasPrefix(k, resourceAttrPrefix):
			switch k[len(resourceAttrPrefix):] {
			case "service@name":
				svc = labelValue(v)
			case "service@namespace":
				ns = labelValue(v)
			case "service@instance@id":
				inst = labelValue(v)
			}
		}
	}
	if svc != "" {
		if ns != "" {
			svc = ns + "/" + svc
		}
		dst = append(dst, Label{Name: "job", Value: svc})
	}
	if inst != "" {
		dst = append(dst, Label{Name: "instance", Value: inst})
	}
	return dst, nil
}

// exponentialBuckets turns an exponential histogram document (scale,
// zeroCount, zeroThreshold, positive, positiveOffset, negative,
// negativeOffset) into cumulative classic buckets, merged down to
// maxExponentialScale.
func exponentialBuckets(f map[string]any) ([]bucket, error) {
	s, ok := number(f["scale"])
	if !ok || s != math.Trunc(s) || s < -10 || s > 20 {
		return nil, errors.New("needs an integer scale between -10 and 20")
	}
	scale := int(s)
	shift := 0
	if scale > maxExponentialScale {
		shift, scale = scale-maxExponentialScale, maxExponentialScale
	}
	pos, err := expCounts(f, "positive", shift)
	if err != nil {
		return nil, err
	}
	neg, err := expCounts(f, "negative", shift)
	if err != nil {
		return nil, err
	}
	zero, _ := number(f["zeroCount"])
	zt, _ := number(f["zeroThreshold"])
	var out []bucket
	cum := 0.0
	// Negative buckets, most negative first: index i holds
	// [-base^(i+1), -base^i), whose upper bound is -base^i.
	for i := len(neg.counts) - 1; i >= 0; i-- {
		cum += neg.counts[i]
		out = append(out, bucket{le: -expBound(scale, neg.offset+int64(i)-1), count: cum})
	}
	cum += zero
	// The zero bucket gets its own bound when it fits between the others;
	// otherwise its count is in the next bucket's cumulative count.
	next := math.Inf(1)
	if len(pos.counts) > 0 {
		next = expBound(scale, pos.offset)
	}
	if (len(out) == 0 || out[len(out)-1].le < zt) && zt < next {
		out = append(out, bucket{le: zt, count: cum})
	}
	for i, c := range pos.counts {
		cum += c
		out = append(out, bucket{le: expBound(scale, pos.offset+int64(i)), count: cum})
	}
	// Bounds beyond float64 range overflow to ±Inf or underflow to 0:
	// buckets that end at -Inf hold nothing a bound can describe and merge
	// into the next one, and buckets with equal bounds into the last of
	// them (counts are cumulative, so nothing is lost).
	merged := out[:0]
	for _, b := range out {
		switch n := len(merged); {
		case math.IsInf(b.le, -1):
		case n > 0 && merged[n-1].le == b.le:
			merged[n-1] = b
		default:
			merged = append(merged, b)
		}
	}
	return merged, nil
}

// expBound is the upper bound of positive bucket index: base^(index+1).
func expBound(scale int, index int64) float64 {
	return math.Exp2(math.Ldexp(float64(index+1), -scale))
}

type expSide struct {
	offset int64
	counts []float64
}

// expCounts reads one side's bucket counts, merging 2^shift neighbours.
func expCounts(f map[string]any, side string, shift int) (expSide, error) {
	var out expSide
	raw, _ := f[side].([]any)
	if len(raw) == 0 {
		return out, nil
	}
	off, ok := number(f[side+"Offset"])
	if !ok || off != math.Trunc(off) || math.Abs(off) > math.MaxInt32 {
		return out, fmt.Errorf("needs an integer %sOffset", side)
	}
	first := int64(off) >> shift
	for i, r := range raw {
		c, ok := number(r)
		if !ok || c < 0 {
			return out, fmt.Errorf("%s[%d] is not a count", side, i)
		}
		idx := (int64(off)+int64(i))>>shift - first
		for int64(len(out.counts)) <= idx {
			out.counts = append(out.counts, 0)
		}
		out.counts[idx] += c
	}
	out.offset = first
	return out, nil
}
