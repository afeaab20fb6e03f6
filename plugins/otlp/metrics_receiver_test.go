package otlp_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	_ "github.com/weft-agent/weft/plugins/otelmetricssource"
	"github.com/weft-agent/weft/plugins/otlp/otlptest"
)

const metricsExportPath = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

// sdkMetrics records a counter, an up-down counter, a histogram and a gauge
// through a real OpenTelemetry SDK meter provider and exports them once
// with exp (cumulative temporality, the SDK's default).
func sdkMetrics(t *testing.T, exp sdkmetric.Exporter, service string) {
	t.Helper()
	reader := sdkmetric.NewPeriodicReader(exp)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	m := mp.Meter("checkout", metric.WithInstrumentationVersion("1.2.3"))
	ctx := context.Background()
	c, _ := m.Int64Counter("orders.placed", metric.WithUnit("{order}"))
	c.Add(ctx, 3, metric.WithAttributes(attribute.String("payment.method", "card")))
	c.Add(ctx, 2, metric.WithAttributes(attribute.String("payment.method", "card")))
	ud, _ := m.Int64UpDownCounter("cart.items", metric.WithUnit("{item}"))
	ud.Add(ctx, 5)
	ud.Add(ctx, -7)
	h, _ := m.Float64Histogram("checkout.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 1))
	for _, v := range []float64{0.05, 0.5, 0.7, 3} {
		h.Record(ctx, v)
	}
	g, _ := m.Float64Gauge("queue.fill", metric.WithUnit("1"))
	g.Record(ctx, 0.75)
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatalf("SDK export: %v", err)
	}
}

// checkSDKMetrics checks the documents of sdkMetrics' four data points.
func checkSDKMetrics(t *testing.T, evs []*event.Event, service string) {
	t.Helper()
	byName := map[string]map[string]any{}
	for _, ev := range evs {
		if ev.Kind != event.KindMetric {
			t.Errorf("event kind %v", ev.Kind)
		}
		if sig, _ := ev.Metadata("signal"); sig != "metrics" {
			t.Errorf("signal metadata %v", sig)
		}
		f := ev.Fields()
		byName[f["name"].(string)] = f
	}
	if len(evs) != 4 || len(byName) != 4 {
		t.Fatalf("%d events %v, want 4 metrics", len(evs), byName)
	}
	check := func(name string, want map[string]any) {
		t.Helper()
		f := byName[name]
		for k, w := range want {
			if fmt.Sprint(f[k]) != fmt.Sprint(w) {
				t.Errorf("%s: %s = %#v, want %#v", name, k, f[k], w)
			}
		}
		if f["serviceName"] != service || f["resource.attributes.service@name"] != service {
			t.Errorf("%s: service %v", name, f["serviceName"])
		}
		if sc, _ := f["instrumentationScope"].(map[string]any); sc["name"] != "checkout" || sc["version"] != "1.2.3" {
			t.Errorf("%s: scope %v", name, f["instrumentationScope"])
		}
	}
	cum := "AGGREGATION_TEMPORALITY_CUMULATIVE"
	check("orders.placed", map[string]any{"kind": "SUM", "unit": "{order}", "value": 5.0, "isMonotonic": true,
		"aggregationTemporality": cum, "metric.attributes.payment@method": "card"})
	check("cart.items", map[string]any{"kind": "SUM", "value": -2.0, "isMonotonic": false, "aggregationTemporality": cum})
	check("checkout.duration", map[string]any{"kind": "HISTOGRAM", "unit": "s", "count": int64(4), "sum": 4.25,
		"min": 0.05, "max": 3.0, "aggregationTemporality": cum,
		"bucketCountsList": []any{int64(1), int64(2), int64(1)}, "explicitBounds": []any{0.1, 1.0}})
	check("queue.fill", map[string]any{"kind": "GAUGE", "unit": "1", "value": 0.75})
}

func TestSDKMetricExportersGRPCAndHTTP(t *testing.T) {
	s := start(t, nil, "")
	gexp, err := otlpmetricgrpc.New(context.Background(), otlpmetricgrpc.WithEndpoint(s.grpc), otlpmetricgrpc.WithInsecure(), otlpmetricgrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	sdkMetrics(t, gexp, "cart-grpc")
	checkSDKMetrics(t, s.in.waitFor(t, 4), "cart-grpc")

	hexp, err := otlpmetrichttp.New(context.Background(), otlpmetrichttp.WithEndpointURL(s.http+"/v1/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	sdkMetrics(t, hexp, "cart-http")
	checkSDKMetrics(t, s.in.waitFor(t, 8)[4:], "cart-http")
	for _, p := range []string{"grpc", "http"} {
		if got := pipelinestest.CounterValue(s.reg, "weft_otlp_requests_total", "protocol", p, "signal", "metrics", "result", "ok"); got != 1 {
			t.Errorf("%s metrics requests ok = %v", p, got)
		}
	}
}

func TestMetricsPartialSuccessAndMalformed(t *testing.T) {
	s := start(t, nil, "")
	// One good point, one without a time: partial success over HTTP/JSON.
	body := []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[` +
		`{"timeUnixNano":"1763884805005000000","asDouble":1.5},{"asDouble":2}]}}]}]}]}`)
	resp, out := post(t, nil, s.http+"/v1/metrics", "application/json", body)
	r := &colmetricspb.ExportMetricsServiceResponse{}
	if err := protojson.Unmarshal(out, r); err != nil || resp.StatusCode != 200 ||
		r.GetPartialSuccess().GetRejectedDataPoints() != 1 || !strings.Contains(r.GetPartialSuccess().GetErrorMessage(), "no time_unix_nano") {
		t.Fatalf("partial success: %d %s %v", resp.StatusCode, out, err)
	}
	if f := s.in.waitFor(t, 1)[0].Fields(); f["value"] != 1.5 || f["time"] != "2025-11-23T08:00:05.005000000Z" {
		t.Errorf("%v", f)
	}
	// Over gRPC: a histogram whose counts do not match its bounds.
	req := &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{
		Metrics: []*metricspb.Metric{{Name: "h", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{DataPoints: []*metricspb.HistogramDataPoint{
			{TimeUnixNano: 1, Count: 1, BucketCounts: []uint64{1}, ExplicitBounds: []float64{1}}}}}}}}}}}}
	gresp, err := colmetricspb.NewMetricsServiceClient(dial(t, s.grpc)).Export(context.Background(), req)
	if err != nil || gresp.GetPartialSuccess().GetRejectedDataPoints() != 1 || !strings.Contains(gresp.GetPartialSuccess().GetErrorMessage(), "bucket_counts") {
		t.Errorf("gRPC partial success: %v %v", gresp, err)
	}
	if got := pipelinestest.CounterValue(s.reg, "weft_otlp_rejected_items_total", "signal", "metrics", "reason", "invalid_data_point"); got != 2 {
		t.Errorf("rejected data points %v", got)
	}

	for _, c := range []struct{ ctype, body, want string }{
		{"application/json", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[`, "malformed OTLP/JSON metrics export request"},
		{"application/json", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"exemplars":[{"spanId":"xyz"}]}]}}]}]}]}`, "hex"},
		{"application/x-protobuf", "\x0a\xff\xff\xff\xff\x0f", "malformed protobuf metrics export request"},
	} {
		resp, out := post(t, nil, s.http+"/v1/metrics", c.ctype, []byte(c.body))
		if st := decodeStatus(t, resp, out); resp.StatusCode != 400 || codes.Code(st.Code) != codes.InvalidArgument || !strings.Contains(st.Message, c.want) {
			t.Errorf("%q: %d %v", c.body, resp.StatusCode, st)
		}
	}
	_, err = otlptest.InvokeRaw(context.Background(), dial(t, s.grpc), metricsExportPath, []byte{0x0a, 0xff})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "metrics") {
		t.Errorf("gRPC garbage: %v", err)
	}
	if got := pipelinestest.CounterValue(s.reg, "weft_otlp_requests_total", "protocol", "http", "signal", "metrics", "result", "invalid"); got != 3 {
		t.Errorf("invalid http metrics requests %v", got)
	}
	if got := pipelinestest.CounterValue(s.reg, "weft_otlp_requests_total", "protocol", "grpc", "signal", "metrics", "result", "invalid"); got != 1 {
		t.Errorf("invalid grpc metrics requests %v", got)
	}
}

func TestOtelMetricsSource(t *testing.T) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := startPlugin(t, "otel_metrics_source", fmt.Sprintf("host: 127.0.0.1\nport: %d\nunframed_requests: true\nhealth_check_service: true\ncalculate_histogram_buckets: false\n", port),
		nil, addr, "http://"+addr)
	gexp, err := otlpmetricgrpc.New(context.Background(), otlpmetricgrpc.WithEndpoint(s.grpc), otlpmetricgrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	sdkMetrics(t, gexp, "dp")
	evs := s.in.waitFor(t, 4)
	checkSDKMetrics(t, evs, "dp")
	for _, ev := range evs {
		if _, ok := ev.Fields()["buckets"]; ok {
			t.Errorf("buckets with calculate_histogram_buckets: false: %v", ev.Fields())
		}
	}
	// Unframed OTLP/HTTP on the same port, at the gRPC path.
	hexp, err := otlpmetrichttp.New(context.Background(), otlpmetrichttp.WithEndpointURL(s.http+metricsExportPath))
	if err != nil {
		t.Fatal(err)
	}
	sdkMetrics(t, hexp, "dp-http")
	checkSDKMetrics(t, s.in.waitFor(t, 8)[4:], "dp-http")
	// Other signals are not served here.
	if resp, _ := post(t, nil, s.http+"/opentelemetry.proto.collector.trace.v1.TraceService/Export", "application/json", fixtureJSON(t)); resp.StatusCode != 404 {
		t.Errorf("trace path on otel_metrics_source: %d", resp.StatusCode)
	}
	bin, _ := proto.Marshal(&colmetricspb.ExportMetricsServiceRequest{})
	if resp, _ := post(t, nil, s.http+"/v1/metrics", "application/x-protobuf", bin); resp.StatusCode != 404 {
		t.Errorf("/v1/metrics without path: %d", resp.StatusCode)
	}
}

func TestOtelMetricsSourcePathAndConfig(t *testing.T) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := startPlugin(t, "otel_metrics_source", fmt.Sprintf("host: 127.0.0.1\nport: %d\nunframed_requests: true\npath: /v1/metrics\n", port),
		nil, addr, "http://"+addr)
	hexp, err := otlpmetrichttp.New(context.Background(), otlpmetrichttp.WithEndpointURL(s.http+"/v1/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	sdkMetrics(t, hexp, "p")
	s.in.waitFor(t, 4)
	if _, err := colmetricspb.NewMetricsServiceClient(dial(t, s.grpc)).Export(context.Background(), &colmetricspb.ExportMetricsServiceRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("standard gRPC path: %v", err)
	}
	for yaml, want := range map[string]string{
		"path: v1/metrics\n": "path",
		"ssl: true\n":        "sslKeyCertChainFile",
		"exponential_histogram_max_allowed_scale: 21\n": "exponential_histogram_max_allowed_scale",
		"output_format: otel\n":                         "not one of",
		"calculate_histogram_buckets: maybe\n":          "calculate_histogram_buckets",
	} {
		if _, _, err := pipelinestest.Source("otel_metrics_source", yaml); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", yaml, err, want)
		}
	}
	for yaml, want := range map[string]string{
		"signals: []\n":              "at least one",
		"signals: [traces, spans]\n": `"spans" is not one of`,
		"signals: [logs, logs]\n":    "twice",
	} {
		if _, _, err := pipelinestest.Source("otlp", yaml); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("otlp %q: err = %v, want %q", yaml, err, want)
		}
	}
}
