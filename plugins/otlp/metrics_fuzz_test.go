package otlp

import (
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
)

// FuzzDecodeMetrics drives arbitrary input through the metrics decode and
// conversion paths, as OTLP/JSON and as protobuf: never a panic, every
// accepted document encodes as JSON, the two encodings of one request give
// the same documents, and every data point of a request that decodes is
// either an event or counted as rejected (nothing silently lost).
func FuzzDecodeMetrics(f *testing.F) {
	cum := `"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE"`
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},"scopeMetrics":[{"scope":{"name":"m"},"metrics":[` +
		`{"name":"g","unit":"1","gauge":{"dataPoints":[{"timeUnixNano":"1763884815000000000","asDouble":"NaN","attributes":[{"key":"a.b","value":{"arrayValue":{"values":[{"intValue":"1"}]}}}]}]}},` +
		`{"name":"c","sum":{"isMonotonic":true,` + cum + `,"dataPoints":[{"timeUnixNano":"1","asInt":"-9223372036854775808","flags":1,"exemplars":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","asInt":"3"}]}]}},` +
		`{"name":"h","histogram":{` + cum + `,"dataPoints":[{"timeUnixNano":"2","count":"3","sum":1.5,"min":0,"max":1,"bucketCounts":["1","2"],"explicitBounds":[0.5]}]}},` +
		`{"name":"e","exponentialHistogram":{"dataPoints":[{"timeUnixNano":"3","count":"4","scale":-10,"zeroCount":"1","zeroThreshold":"Infinity","positive":{"offset":2147483646,"bucketCounts":["1"]},"negative":{"offset":-2147483648,"bucketCounts":["1","1"]}}]}},` +
		`{"name":"s","summary":{"dataPoints":[{"timeUnixNano":"4","count":"2","sum":-1,"quantileValues":[{"quantile":0,"value":"-Infinity"},{"quantile":1}]}]}}]}]}]}`))
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"","gauge":{"dataPoints":[{},{}]}},{"name":"h","histogram":{"dataPoints":[{"timeUnixNano":"1","count":"1","bucketCounts":["1","2"]}]}}]}]}]}`))
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"e","exponentialHistogram":{"dataPoints":[{"timeUnixNano":"1","scale":20,"count":"1","positive":{"offset":-5,"bucketCounts":["1"]}}]}}]}]}]}`))
	bin, _ := proto.Marshal(metricsRequest(gaugeMetric("g", numberPoint(1))))
	f.Add(bin)
	f.Add([]byte("\x0a\x05\x0a\x03"))
	opts := DefaultMetricsOptions()
	decode := func(body []byte, isJSON bool) (Result, error) { return DecodeMetrics(body, isJSON, opts) }
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFuzzSignal(t, data, decode, func() proto.Message { return &colmetricspb.ExportMetricsServiceRequest{} })
		req := &colmetricspb.ExportMetricsServiceRequest{}
		if UnmarshalJSON(data, req) == nil {
			checkAccounted(t, req, ConvertMetrics(req, opts))
		}
		req = &colmetricspb.ExportMetricsServiceRequest{}
		if proto.Unmarshal(data, req) != nil {
			return
		}
		res := ConvertMetrics(req, opts)
		checkAccounted(t, req, res)
		for _, ev := range res.Events {
			if _, err := event.DecodeJSONObject(ev.AppendJSON(nil)); err != nil {
				t.Fatalf("protobuf input: document is not JSON: %v", err)
			}
		}
	})
}

// checkAccounted checks that every data point is an event or rejected.
func checkAccounted(t *testing.T, req *colmetricspb.ExportMetricsServiceRequest, res Result) {
	t.Helper()
	total := 0
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				total += dataPointCount(m)
			}
		}
	}
	if len(res.Events)+int(res.Rejected) != total {
		t.Fatalf("%d data points: %d events + %d rejected", total, len(res.Events), res.Rejected)
	}
	if res.Rejected > 0 && res.Message == "" {
		t.Fatal("rejected without a message")
	}
}
