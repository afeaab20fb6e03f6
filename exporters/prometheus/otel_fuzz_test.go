package prometheus

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/otlp"
)

// FuzzMetricEvent drives arbitrary input through the sink's reading of
// metric events: as a JSON document (any shape, OpenTelemetry kinds
// included) and as an OTLP protobuf request converted by weft's OTLP
// metric sources. Never a panic; every series it produces has valid,
// sorted, unique label names and __name__; histogram buckets are
// cumulative and end with +Inf.
func FuzzMetricEvent(f *testing.F) {
	f.Add([]byte(`{"name":"http.server.duration","kind":"EXPONENTIAL_HISTOGRAM","unit":"ms","aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","scale":20,"zeroCount":1,"zeroThreshold":0.5,"positive":[1,2,3],"positiveOffset":2147483640,"negative":[4],"negativeOffset":-2147483648,"count":11,"sum":1,"metric.attributes.http@route":"/x","resource.attributes.service@name":"s","time":"2025-11-23T08:00:15.000000000Z"}`))
	f.Add([]byte(`{"name":"c","kind":"SUM","isMonotonic":true,"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","unit":"{x}/s","value":"NaN","flags":1,"metric.attributes.__name__":"z","metric.attributes.9a":1}`))
	f.Add([]byte(`{"name":"h","kind":"HISTOGRAM","bucketCountsList":[1,2],"explicitBounds":[1e308],"buckets":[{"min":0,"max":3.5e38,"count":1}],"count":3}`))
	f.Add([]byte(`{"name":"s","kind":"SUMMARY","quantiles":[{"quantile":0.5,"value":1}],"count":1,"sum":1}`))
	f.Add([]byte(`{"name":"g","kind":"GAUGE","unit":"1","value":1,"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA"}`))
	bin, _ := proto.Marshal(&colmetricspb.ExportMetricsServiceRequest{})
	f.Add(bin)
	c := &converter{sanitize: true, external: Labels{{Name: "cluster", Value: "c"}}}
	now := time.Unix(1763884815, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		var sc eventScratch
		check := func(ev *event.Event) {
			pts, err := c.appendEvent(nil, &sc, ev, now)
			if err != nil {
				return
			}
			checkPoints(t, pts)
		}
		if fields, err := event.DecodeJSONObject(data); err == nil {
			check(event.New(event.KindMetric, time.Time{}, fields))
		}
		req := &colmetricspb.ExportMetricsServiceRequest{}
		if proto.Unmarshal(data, req) == nil {
			for _, ev := range otlp.ConvertMetrics(req, otlp.DefaultMetricsOptions()).Events {
				check(ev)
			}
		}
	})
}

// checkPoints checks the series of one event.
func checkPoints(t *testing.T, pts []point) {
	t.Helper()
	var series []decodedSeries
	for _, p := range pts {
		b := appendSeries(nil, p.labels, []Sample{p.Sample})
		_, _, n := protowire.ConsumeTag(b)
		msg, _ := protowire.ConsumeBytes(b[n:])
		ds, err := decodeTimeSeries(msg)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ds.Labels {
			if l.Name == "__name__" && !validMetricName(l.Value) || l.Name != "__name__" && !validLabelName(l.Name) {
				t.Fatalf("invalid name in %s", ds.key())
			}
		}
		series = append(series, ds)
	}
	if err := checkSpec(series); err != nil {
		t.Fatal(err)
	}
	// Histogram buckets: cumulative, increasing le, ending with +Inf.
	last, prev := map[string]float64{}, map[string]float64{}
	for _, s := range series {
		var name, le string
		rest := []string{}
		for _, l := range s.Labels {
			switch l.Name {
			case "__name__":
				name = l.Value
			case "le":
				le = l.Value
			default:
				rest = append(rest, l.Name+"="+l.Value)
			}
		}
		if le == "" || !strings.HasSuffix(name, "_bucket") {
			continue
		}
		key := name + strings.Join(rest, ",")
		b, err := strconv.ParseFloat(le, 64)
		if err != nil {
			t.Fatalf("le %q", le)
		}
		v := s.Samples[0].Value
		if p, ok := last[key]; ok && (b <= p || v < prev[key]) && !math.IsNaN(v) {
			t.Fatalf("buckets of %s not cumulative: le %v after %v, count %v after %v", key, b, p, v, prev[key])
		}
		last[key], prev[key] = b, v
	}
	for key, b := range last {
		if !math.IsInf(b, 1) {
			t.Fatalf("buckets of %s end at %v, not +Inf", key, b)
		}
	}
}
