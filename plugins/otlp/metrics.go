package otlp

import (
	"math"
	"strconv"
	"sync"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
)

// Field names of a metric document, as Data Prepper's JacksonGauge,
// JacksonSum, JacksonHistogram, JacksonExponentialHistogram and
// JacksonSummary write them (name, kind, time, serviceName, schemaUrl,
// flags and instrumentationScope are shared with spans and logs).
const (
	FieldDescription            = "description"
	FieldUnit                   = "unit"
	FieldValue                  = "value"
	FieldIsMonotonic            = "isMonotonic"
	FieldAggregationTemporality = "aggregationTemporality"
	FieldCount                  = "count"
	FieldSum                    = "sum"
	FieldMin                    = "min"
	FieldMax                    = "max"
	FieldBucketCounts           = "bucketCounts"
	FieldExplicitBoundsCount    = "explicitBoundsCount"
	FieldBucketCountsList       = "bucketCountsList"
	FieldExplicitBounds         = "explicitBounds"
	FieldBuckets                = "buckets"
	FieldScale                  = "scale"
	FieldZeroCount              = "zeroCount"
	FieldZeroThreshold          = "zeroThreshold"
	FieldPositive               = "positive"
	FieldNegative               = "negative"
	FieldPositiveOffset         = "positiveOffset"
	FieldNegativeOffset         = "negativeOffset"
	FieldPositiveBuckets        = "positiveBuckets"
	FieldNegativeBuckets        = "negativeBuckets"
	FieldQuantiles              = "quantiles"
	FieldQuantileValuesCount    = "quantileValuesCount"
	FieldQuantile               = "quantile"
	FieldExemplars              = "exemplars"

	// MetricAttributesPrefix starts the flattened data point attribute
	// keys (metric.attributes.http@method), as Data Prepper writes them.
	MetricAttributesPrefix = "metric.attributes."

	// SignalMetrics is the metadata signal value of metric data points.
	SignalMetrics = "metrics"

	// Metric kinds, Data Prepper's names (Metric.KIND).
	KindGauge                = "GAUGE"
	KindSum                  = "SUM"
	KindHistogram            = "HISTOGRAM"
	KindExponentialHistogram = "EXPONENTIAL_HISTOGRAM"
	KindSummary              = "SUMMARY"

	// FlagNoRecordedValue is the data point flag marking a point without a
	// value (the series ended): Prometheus' staleness marker.
	FlagNoRecordedValue = int64(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)

	// RejectInvalidDataPoint is the reason counted for data points refused
	// individually.
	RejectInvalidDataPoint = "invalid_data_point"
)

// BucketBound is the bound Data Prepper writes for an infinite bucket end
// (±Float.MAX_VALUE, since JSON has no infinity).
const BucketBound = math.MaxFloat32

// The open ends of the first and last histogram buckets, boxed once.
var negBucketBound, posBucketBound any = -BucketBound, BucketBound

// MetricsOptions are the conversion options of Data Prepper's otel_metrics
// processor, which weft applies in the source.
type MetricsOptions struct {
	CalculateHistogramBuckets            bool `yaml:"calculate_histogram_buckets" doc:"add buckets ([{min, max, count}]) to histogram documents"`
	CalculateExponentialHistogramBuckets bool `yaml:"calculate_exponential_histogram_buckets" doc:"add positiveBuckets and negativeBuckets ([{min, max, count}]) to exponential histogram documents"`
	ExponentialHistogramMaxAllowedScale  int  `yaml:"exponential_histogram_max_allowed_scale" min:"-10" max:"20" doc:"exponential histograms with a larger scale get no positiveBuckets/negativeBuckets (their raw counts are kept)"`
}

// DefaultMetricsOptions returns Data Prepper's defaults.
func DefaultMetricsOptions() MetricsOptions {
	return MetricsOptions{CalculateHistogramBuckets: true, CalculateExponentialHistogramBuckets: true, ExponentialHistogramMaxAllowedScale: 10}
}

// Metrics is the OTLP metrics signal with the default options.
var Metrics = NewMetricsSignal(DefaultMetricsOptions())

// NewMetricsSignal returns the OTLP metrics signal converting with opts.
func NewMetricsSignal(opts MetricsOptions) *Signal {
	return &Signal{
		Name:         SignalMetrics,
		Items:        "data points",
		HTTPPath:     "/v1/metrics",
		GRPCService:  colmetricspb.MetricsService_ServiceDesc.ServiceName,
		GRPCFile:     colmetricspb.MetricsService_ServiceDesc.Metadata.(string),
		RejectReason: RejectInvalidDataPoint,
		Decode: func(body []byte, isJSON bool) (Result, error) {
			return DecodeMetrics(body, isJSON, opts)
		},
		Response: func(r *Result) proto.Message {
			resp := &colmetricspb.ExportMetricsServiceResponse{}
			if r.Rejected > 0 || r.Message != "" {
				resp.PartialSuccess = &colmetricspb.ExportMetricsPartialSuccess{RejectedDataPoints: r.Rejected, ErrorMessage: r.Message}
			}
			return resp
		},
	}
}

// DecodeMetrics decodes an ExportMetricsServiceRequest (protobuf, or
// OTLP/JSON when isJSON) and converts its data points.
func DecodeMetrics(body []byte, isJSON bool, opts MetricsOptions) (Result, error) {
	req := &colmetricspb.ExportMetricsServiceRequest{}
	var err error
	if isJSON {
		err = UnmarshalJSON(body, req)
	} else {
		err = proto.Unmarshal(body, req)
	}
	if err != nil {
		return Result{}, err
	}
	return ConvertMetrics(req, opts), nil
}

// metricConverter holds per-goroutine scratch state for metrics: the
// shared converter (resource attributes) and a cache of flattened data
// point attribute keys.
type metricConverter struct {
	c    *converter
	keys map[string]string
	opts MetricsOptions
}

var metricConverterPool = sync.Pool{New: func() any {
	return &metricConverter{c: converterPool.New().(*converter), keys: make(map[string]string, 64)}
}}

// ConvertMetrics turns every data point of an OTLP export request into a
// metric event (event.KindMetric, Time = time_unix_nano) whose fields are a
// Data Prepper metric document. Data points that cannot be one (no time,
// histogram buckets that do not match their bounds, a metric without a
// name, …) are rejected individually and reported in the result.
func ConvertMetrics(req *colmetricspb.ExportMetricsServiceRequest, opts MetricsOptions) Result {
	m := metricConverterPool.Get().(*metricConverter)
	defer metricConverterPool.Put(m)
	m.opts = opts
	return m.metrics(req)
}

// metricCtx is what every data point of one metric shares, boxed once.
type metricCtx struct {
	name, description, unit, kind any
	temporality, monotonic        any // nil unless the kind has them
	schema                        any
	scope                         *scopeCtx
}

func (m *metricConverter) metrics(req *colmetricspb.ExportMetricsServiceRequest) Result {
	total := 0
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, mt := range sm.GetMetrics() {
				total += dataPointCount(mt)
			}
		}
	}
	var r Result
	if total == 0 {
		return r
	}
	st := pointState{batch: event.NewBatch(total, event.KindMetric, time.Time{}), r: &r}
	r.Events = st.batch[:0]
	for _, rm := range req.ResourceMetrics {
		if rm == nil {
			continue
		}
		rc := m.c.resource(rm.Resource)
		for _, sm := range rm.ScopeMetrics {
			if sm == nil {
				continue
			}
			sc := scopeCtx{name: "", version: ""}
			if sm.Scope != nil {
				sc = scopeCtx{name: sm.Scope.Name, version: sm.Scope.Version}
			}
			schema := sm.SchemaUrl
			if schema == "" {
				schema = rm.SchemaUrl
			}
			for _, mt := range sm.Metrics {
				if mt != nil {
					m.metric(&st, mt, &rc, &sc, schema)
				}
			}
		}
	}
	if r.Rejected > 0 {
		r.Message = "rejected " + strconv.FormatInt(r.Rejected, 10) + " of " + strconv.Itoa(total) +
			" data points; first: " + st.firstErr
	}
	return r
}

// pointState is the progress of one request's conversion.
type pointState struct {
	batch    []*event.Event
	r        *Result
	firstErr string
}

func (st *pointState) reject(n int, msg string) {
	st.r.Rejected += int64(n)
	if st.firstErr == "" {
		st.firstErr = msg
	}
}

// convertPoints validates each data point and fills the next event of the
// batch from the valid ones.
func convertPoints[P any](st *pointState, name string, dps []P, validate func(string, P) string, fill func(*event.Event, P)) {
	for _, dp := range dps {
		if msg := validate(name, dp); msg != "" {
			st.reject(1, msg)
			continue
		}
		ev := st.batch[len(st.r.Events)]
		fill(ev, dp)
		st.r.Events = append(st.r.Events, ev)
	}
}

// metric converts the data points of one metric.
func (m *metricConverter) metric(st *pointState, mt *metricspb.Metric, rc *resourceCtx, sc *scopeCtx, schema string) {
	n := dataPointCount(mt)
	if n == 0 {
		return
	}
	if mt.Name == "" {
		st.reject(n, "metric without a name ("+strconv.Itoa(n)+" data points)")
		return
	}
	mc := &metricCtx{name: mt.Name, description: mt.Description, unit: mt.Unit, schema: schema, scope: sc}
	switch d := mt.Data.(type) {
	case *metricspb.Metric_Gauge:
		mc.kind = KindGauge
		convertPoints(st, mt.Name, d.Gauge.DataPoints, validateNumber,
			func(ev *event.Event, dp *metricspb.NumberDataPoint) { m.number(ev, dp, mc, rc) })
	case *metricspb.Metric_Sum:
		mc.kind = KindSum
		mc.temporality = temporalityName(d.Sum.AggregationTemporality)
		mc.monotonic = d.Sum.IsMonotonic
		convertPoints(st, mt.Name, d.Sum.DataPoints, validateNumber,
			func(ev *event.Event, dp *metricspb.NumberDataPoint) { m.number(ev, dp, mc, rc) })
	case *metricspb.Metric_Histogram:
		mc.kind = KindHistogram
		mc.temporality = temporalityName(d.Histogram.AggregationTemporality)
		convertPoints(st, mt.Name, d.Histogram.DataPoints, validateHistogram,
			func(ev *event.Event, dp *metricspb.HistogramDataPoint) { m.histogram(ev, dp, mc, rc) })
	case *metricspb.Metric_ExponentialHistogram:
		mc.kind = KindExponentialHistogram
		mc.temporality = temporalityName(d.ExponentialHistogram.AggregationTemporality)
		convertPoints(st, mt.Name, d.ExponentialHistogram.DataPoints, validateExponential,
			func(ev *event.Event, dp *metricspb.ExponentialHistogramDataPoint) { m.exponential(ev, dp, mc, rc) })
	case *metricspb.Metric_Summary:
		mc.kind = KindSummary
		convertPoints(st, mt.Name, d.Summary.DataPoints, validateSummary,
			func(ev *event.Event, dp *metricspb.SummaryDataPoint) { m.summary(ev, dp, mc, rc) })
	}
}

// dataPointCount is the number of data points of a metric (nil entries
// included: they are skipped, never counted as accepted).
func dataPointCount(mt *metricspb.Metric) int {
	switch d := mt.GetData().(type) {
	case *metricspb.Metric_Gauge:
		return len(d.Gauge.GetDataPoints())
	case *metricspb.Metric_Sum:
		return len(d.Sum.GetDataPoints())
	case *metricspb.Metric_Histogram:
		return len(d.Histogram.GetDataPoints())
	case *metricspb.Metric_ExponentialHistogram:
		return len(d.ExponentialHistogram.GetDataPoints())
	case *metricspb.Metric_Summary:
		return len(d.Summary.GetDataPoints())
	}
	return 0
}

var temporalityNames = [...]string{
	metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_UNSPECIFIED: "AGGREGATION_TEMPORALITY_UNSPECIFIED",
	metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA:       "AGGREGATION_TEMPORALITY_DELTA",
	metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE:  "AGGREGATION_TEMPORALITY_CUMULATIVE",
}

func temporalityName(t metricspb.AggregationTemporality) any {
	if t >= 0 && int(t) < len(temporalityNames) {
		return temporalityNames[t]
	}
	return "AGGREGATION_TEMPORALITY_" + strconv.Itoa(int(t))
}

func pointPrefix(name string) string { return "metric " + strconv.Quote(truncate(name)) + ": " }

func validateTime(name string, ns uint64) string {
	if ns == 0 {
		return pointPrefix(name) + "data point has no time_unix_nano"
	}
	return ""
}

func validateExemplars(name string, exs []*metricspb.Exemplar) string {
	for _, e := range exs {
		switch {
		case e == nil:
		case len(e.TraceId) != 0 && len(e.TraceId) != 16:
			return pointPrefix(name) + "exemplar trace_id has " + strconv.Itoa(len(e.TraceId)) + " bytes, want 16 or none"
		case len(e.SpanId) != 0 && len(e.SpanId) != 8:
			return pointPrefix(name) + "exemplar span_id has " + strconv.Itoa(len(e.SpanId)) + " bytes, want 8 or none"
		}
	}
	return ""
}

func validateNumber(name string, dp *metricspb.NumberDataPoint) string {
	if dp == nil {
		return pointPrefix(name) + "null data point"
	}
	if msg := validateTime(name, dp.TimeUnixNano); msg != "" {
		return msg
	}
	if dp.Value == nil && dp.Flags&uint32(FlagNoRecordedValue) == 0 {
		return pointPrefix(name) + "number data point has neither as_double nor as_int"
	}
	return validateExemplars(name, dp.Exemplars)
}

func validateHistogram(name string, dp *metricspb.HistogramDataPoint) string {
	if dp == nil {
		return pointPrefix(name) + "null data point"
	}
	if msg := validateTime(name, dp.TimeUnixNano); msg != "" {
		return msg
	}
	if len(dp.BucketCounts) != 0 {
		if len(dp.BucketCounts) != len(dp.ExplicitBounds)+1 {
			return pointPrefix(name) + "histogram has " + strconv.Itoa(len(dp.BucketCounts)) + " bucket_counts for " +
				strconv.Itoa(len(dp.ExplicitBounds)) + " explicit_bounds, want one more count than bounds"
		}
		var sum uint64
		for _, c := range dp.BucketCounts {
			sum += c
		}
		if sum != dp.Count {
			return pointPrefix(name) + "histogram bucket_counts add up to " + strconv.FormatUint(sum, 10) +
				", not count " + strconv.FormatUint(dp.Count, 10)
		}
	}
	for i, b := range dp.ExplicitBounds {
		if math.IsNaN(b) || i > 0 && b <= dp.ExplicitBounds[i-1] {
			return pointPrefix(name) + "histogram explicit_bounds must be increasing numbers"
		}
	}
	return validateExemplars(name, dp.Exemplars)
}

// Exponential histogram scales OTLP allows.
const (
	minScale = -10
	maxScale = 20
)

func validateExponential(name string, dp *metricspb.ExponentialHistogramDataPoint) string {
	if dp == nil {
		return pointPrefix(name) + "null data point"
	}
	if msg := validateTime(name, dp.TimeUnixNano); msg != "" {
		return msg
	}
	if dp.Scale < minScale || dp.Scale > maxScale {
		return pointPrefix(name) + "exponential histogram scale " + strconv.Itoa(int(dp.Scale)) + " is outside [-10, 20]"
	}
	sum := dp.ZeroCount
	for _, b := range []*metricspb.ExponentialHistogramDataPoint_Buckets{dp.Positive, dp.Negative} {
		for _, c := range b.GetBucketCounts() {
			sum += c
		}
		// Bucket indexes must stay in int32, as the offset is.
		if int64(b.GetOffset())+int64(len(b.GetBucketCounts())) > math.MaxInt32 {
			return pointPrefix(name) + "exponential histogram buckets run past the largest index"
		}
	}
	if sum != dp.Count {
		return pointPrefix(name) + "exponential histogram zero_count and bucket counts add up to " +
			strconv.FormatUint(sum, 10) + ", not count " + strconv.FormatUint(dp.Count, 10)
	}
	if math.IsNaN(dp.ZeroThreshold) || dp.ZeroThreshold < 0 {
		return pointPrefix(name) + "exponential histogram zero_threshold must be a non-negative number"
	}
	return validateExemplars(name, dp.Exemplars)
}

func validateSummary(name string, dp *metricspb.SummaryDataPoint) string {
	if dp == nil {
		return pointPrefix(name) + "null data point"
	}
	if msg := validateTime(name, dp.TimeUnixNano); msg != "" {
		return msg
	}
	for _, q := range dp.QuantileValues {
		if q != nil && !(q.Quantile >= 0 && q.Quantile <= 1) {
			return pointPrefix(name) + "summary quantile " + strconv.FormatFloat(q.Quantile, 'g', -1, 64) + " is outside [0, 1]"
		}
	}
	return ""
}

// common fills the fields every metric document has and returns the map.
func (m *metricConverter) common(size int, mc *metricCtx, rc *resourceCtx, attrs []*commonpb.KeyValue,
	start, ts uint64, flags uint32, exs []*metricspb.Exemplar) map[string]any {
	b := m.c.buf[:0]
	b = appendTime(b, start)
	b = appendTime(b, ts)
	m.c.buf = b
	s := string(b)

	f := make(map[string]any, size+len(attrs)+len(rc.attrs))
	f[FieldName] = mc.name
	f[FieldDescription] = mc.description
	f[FieldUnit] = mc.unit
	f[FieldKind] = mc.kind
	f[FieldStartTime] = s[:timeLen]
	f[FieldTime] = s[timeLen:]
	f[FieldServiceName] = rc.serviceName
	f[FieldSchemaURL] = mc.schema
	f[FieldFlags] = int64(flags)
	f[FieldInstrumentationScope] = map[string]any{FieldName: mc.scope.name, FieldVersion: mc.scope.version}
	if mc.kind != KindSummary { // summary points have no exemplars
		f[FieldExemplars] = exemplars(exs)
	}
	if mc.temporality != nil {
		f[FieldAggregationTemporality] = mc.temporality
	}
	for _, a := range attrs {
		if a != nil {
			f[m.c.flatKey(m.keys, MetricAttributesPrefix, a.Key)] = attrValue(a.Value)
		}
	}
	for _, a := range rc.attrs {
		f[a.k] = a.v
	}
	return f
}

func finish(ev *event.Event, ts uint64, f map[string]any) {
	ev.Kind = event.KindMetric
	ev.Time = unixNano(ts)
	ev.SetFields(f)
	ev.SetMetadata(MetadataSignal, SignalMetrics)
}

// number fills ev from a gauge or sum data point. A point flagged
// no-recorded-value gets value NaN.
func (m *metricConverter) number(ev *event.Event, dp *metricspb.NumberDataPoint, mc *metricCtx, rc *resourceCtx) {
	f := m.common(14, mc, rc, dp.Attributes, dp.StartTimeUnixNano, dp.TimeUnixNano, dp.Flags, dp.Exemplars)
	v := math.NaN()
	switch x := dp.Value.(type) {
	case *metricspb.NumberDataPoint_AsDouble:
		v = x.AsDouble
	case *metricspb.NumberDataPoint_AsInt:
		v = float64(x.AsInt)
	}
	if dp.Flags&uint32(FlagNoRecordedValue) != 0 {
		v = math.NaN()
	}
	f[FieldValue] = v
	if mc.monotonic != nil {
		f[FieldIsMonotonic] = mc.monotonic
	}
	finish(ev, dp.TimeUnixNano, f)
}

// histogram fills ev from a validated explicit-bucket histogram point.
func (m *metricConverter) histogram(ev *event.Event, dp *metricspb.HistogramDataPoint, mc *metricCtx, rc *resourceCtx) {
	f := m.common(22, mc, rc, dp.Attributes, dp.StartTimeUnixNano, dp.TimeUnixNano, dp.Flags, dp.Exemplars)
	f[FieldCount] = int64(dp.Count)
	if dp.Sum != nil { // Data Prepper writes 0 for an absent sum
		f[FieldSum] = *dp.Sum
	}
	if dp.Min != nil {
		f[FieldMin] = *dp.Min
	}
	if dp.Max != nil {
		f[FieldMax] = *dp.Max
	}
	f[FieldBucketCounts] = int64(len(dp.BucketCounts))
	f[FieldExplicitBoundsCount] = int64(len(dp.ExplicitBounds))
	// Each count and bound is boxed once, for the lists and the buckets.
	counts := make([]any, len(dp.BucketCounts))
	for i, c := range dp.BucketCounts {
		counts[i] = int64(c)
	}
	f[FieldBucketCountsList] = counts
	bounds := make([]any, len(dp.ExplicitBounds))
	for i, b := range dp.ExplicitBounds {
		bounds[i] = b
	}
	f[FieldExplicitBounds] = bounds
	if m.opts.CalculateHistogramBuckets {
		buckets := make([]any, len(counts))
		for i, c := range counts {
			lo, hi := negBucketBound, posBucketBound
			if i > 0 {
				lo = bounds[i-1]
			}
			if i < len(bounds) {
				hi = bounds[i]
			}
			buckets[i] = map[string]any{FieldMin: lo, FieldMax: hi, FieldCount: c}
		}
		f[FieldBuckets] = buckets
	}
	finish(ev, dp.TimeUnixNano, f)
}

// exponential fills ev from a validated exponential histogram point.
func (m *metricConverter) exponential(ev *event.Event, dp *metricspb.ExponentialHistogramDataPoint, mc *metricCtx, rc *resourceCtx) {
	f := m.common(24, mc, rc, dp.Attributes, dp.StartTimeUnixNano, dp.TimeUnixNano, dp.Flags, dp.Exemplars)
	f[FieldCount] = int64(dp.Count)
	if dp.Sum != nil {
		f[FieldSum] = *dp.Sum
	}
	if dp.Min != nil {
		f[FieldMin] = *dp.Min
	}
	if dp.Max != nil {
		f[FieldMax] = *dp.Max
	}
	f[FieldScale] = int64(dp.Scale)
	f[FieldZeroCount] = int64(dp.ZeroCount)
	f[FieldZeroThreshold] = dp.ZeroThreshold
	f[FieldPositiveOffset] = int64(dp.Positive.GetOffset())
	f[FieldNegativeOffset] = int64(dp.Negative.GetOffset())
	f[FieldPositive] = countList(dp.Positive.GetBucketCounts())
	f[FieldNegative] = countList(dp.Negative.GetBucketCounts())
	if m.opts.CalculateExponentialHistogramBuckets && int(dp.Scale) <= m.opts.ExponentialHistogramMaxAllowedScale {
		f[FieldPositiveBuckets] = ExponentialBuckets(dp.Scale, dp.Positive.GetOffset(), dp.Positive.GetBucketCounts(), false)
		f[FieldNegativeBuckets] = ExponentialBuckets(dp.Scale, dp.Negative.GetOffset(), dp.Negative.GetBucketCounts(), true)
	}
	finish(ev, dp.TimeUnixNano, f)
}

func countList(cs []uint64) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		out[i] = int64(c)
	}
	return out
}

// ExponentialBound is the upper bound of the positive exponential
// histogram bucket with the given index: base^(index+1) with base =
// 2^(2^-scale). Bucket index i holds the values in (base^i, base^(i+1)].
func ExponentialBound(scale int32, index int64) float64 {
	return math.Exp2(math.Ldexp(float64(index+1), -int(scale)))
}

// ExponentialBuckets lists exponential histogram buckets as
// [{min, max, count}] in increasing order of magnitude; negative buckets
// have negated bounds (min < max still). Infinite bounds are written as
// ±BucketBound.
func ExponentialBuckets(scale, offset int32, counts []uint64, negative bool) []any {
	out := make([]any, len(counts))
	for i, c := range counts {
		idx := int64(offset) + int64(i)
		lo, hi := clampBound(ExponentialBound(scale, idx-1)), clampBound(ExponentialBound(scale, idx))
		if negative {
			lo, hi = -hi, -lo
		}
		out[i] = map[string]any{FieldMin: lo, FieldMax: hi, FieldCount: int64(c)}
	}
	return out
}

func clampBound(b float64) float64 {
	if b > BucketBound {
		return BucketBound
	}
	return b
}

// summary fills ev from a validated summary point.
func (m *metricConverter) summary(ev *event.Event, dp *metricspb.SummaryDataPoint, mc *metricCtx, rc *resourceCtx) {
	f := m.common(16, mc, rc, dp.Attributes, dp.StartTimeUnixNano, dp.TimeUnixNano, dp.Flags, nil)
	f[FieldCount] = int64(dp.Count)
	f[FieldSum] = dp.Sum
	qs := make([]any, 0, len(dp.QuantileValues))
	for _, q := range dp.QuantileValues {
		if q != nil {
			qs = append(qs, map[string]any{FieldQuantile: q.Quantile, FieldValue: q.Value})
		}
	}
	f[FieldQuantiles] = qs
	f[FieldQuantileValuesCount] = int64(len(qs))
	finish(ev, dp.TimeUnixNano, f)
}

// exemplars converts exemplars as Data Prepper does: time, value, hex
// trace and span IDs, attributes (keys with '@' for '.').
func exemplars(exs []*metricspb.Exemplar) any {
	if len(exs) == 0 {
		return emptyList
	}
	out := make([]any, 0, len(exs))
	for _, e := range exs {
		if e == nil {
			continue
		}
		var v any
		switch x := e.Value.(type) {
		case *metricspb.Exemplar_AsDouble:
			v = x.AsDouble
		case *metricspb.Exemplar_AsInt:
			v = float64(x.AsInt)
		}
		out = append(out, map[string]any{
			FieldTime:       FormatTime(e.TimeUnixNano),
			FieldValue:      v,
			FieldTraceID:    HexID(e.TraceId),
			FieldSpanID:     HexID(e.SpanId),
			FieldAttributes: attrMap(e.FilteredAttributes),
		})
	}
	return out
}
