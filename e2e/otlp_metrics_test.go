package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/weft-agent/weft/plugins/otlp/otlptest"
)

const metricsExportPath = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"

// sdkMetricPush records, through the official OpenTelemetry Go SDK, a
// counter (5 with one attribute set), an up-down counter (-2), a
// histogram (0.05, 0.5, 0.7, 3 s with bounds 0.1 and 1) and a gauge (0.75),
// and pushes them once with exp. temporality is the exporter's (nil: the
// SDK's default, cumulative).
func sdkMetricPush(t *testing.T, exp sdkmetric.Exporter, service string) {
	t.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.instance.id", "pod-1"))))
	m := mp.Meter("e2e", metric.WithInstrumentationVersion("1.0.0"))
	ctx := context.Background()
	c, _ := m.Int64Counter("orders.placed", metric.WithUnit("{order}"), metric.WithDescription("orders placed"))
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
		t.Fatalf("SDK metric export: %v", err)
	}
}

// checkSDKMetricDocs checks the four documents of sdkMetricPush for
// service (JSON numbers read back as float64).
func checkSDKMetricDocs(t *testing.T, what string, docs []map[string]any, service string) {
	t.Helper()
	byName := map[string]map[string]any{}
	for _, d := range docs {
		if d["serviceName"] == service {
			byName[d["name"].(string)] = d
		}
	}
	if len(byName) != 4 {
		t.Fatalf("%s: %d metrics for %s, want 4: %v", what, len(byName), service, byName)
	}
	cum := "AGGREGATION_TEMPORALITY_CUMULATIVE"
	scope := map[string]any{"name": "e2e", "version": "1.0.0"}
	checkDoc(t, what+" counter", byName["orders.placed"], map[string]any{
		"kind": "SUM", "unit": "{order}", "description": "orders placed", "value": 5.0, "isMonotonic": true,
		"aggregationTemporality": cum, "metric.attributes.payment@method": "card",
		"resource.attributes.service@name": service, "instrumentationScope": scope, "flags": 0.0,
	})
	checkDoc(t, what+" up-down counter", byName["cart.items"], map[string]any{
		"kind": "SUM", "value": -2.0, "isMonotonic": false, "aggregationTemporality": cum,
	})
	checkDoc(t, what+" histogram", byName["checkout.duration"], map[string]any{
		"kind": "HISTOGRAM", "unit": "s", "count": 4.0, "sum": 4.25, "min": 0.05, "max": 3.0, "aggregationTemporality": cum,
		"bucketCountsList": []any{1.0, 2.0, 1.0}, "explicitBounds": []any{0.1, 1.0}, "bucketCounts": 3.0, "explicitBoundsCount": 2.0,
		"buckets": []any{
			map[string]any{"min": -math.MaxFloat32, "max": 0.1, "count": 1.0},
			map[string]any{"min": 0.1, "max": 1.0, "count": 2.0},
			map[string]any{"min": 1.0, "max": math.MaxFloat32, "count": 1.0},
		},
	})
	checkDoc(t, what+" gauge", byName["queue.fill"], map[string]any{"kind": "GAUGE", "unit": "1", "value": 0.75})
	for name, d := range byName {
		for _, k := range []string{"time", "startTime"} {
			if s, _ := d[k].(string); len(s) != 30 || !strings.HasSuffix(s, "Z") {
				t.Errorf("%s %s: %s = %q", what, name, k, s)
			}
		}
	}
}

// fakeRemoteWrite is a remote-write receiver decoding requests with
// protowire (independently of weft's encoder): the last value of every
// series, by its labels written name="value" in wire order.
type fakeRemoteWrite struct {
	mu     sync.Mutex
	series map[string]float64
	reqs   int
}

func newFakeRemoteWrite(t *testing.T) (*fakeRemoteWrite, string) {
	f := &fakeRemoteWrite{series: map[string]float64{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		raw, err := snappy.Decode(nil, body)
		if err != nil || r.Header.Get("Content-Encoding") != "snappy" || r.Header.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" {
			http.Error(w, fmt.Sprintf("bad request: %v", err), 400)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.reqs++
		for len(raw) > 0 {
			_, _, n := protowire.ConsumeTag(raw)
			ts, m := protowire.ConsumeBytes(raw[n:])
			raw = raw[n+m:]
			var labels []string
			var value float64
			for len(ts) > 0 {
				num, _, n := protowire.ConsumeTag(ts)
				msg, m := protowire.ConsumeBytes(ts[n:])
				ts = ts[n+m:]
				fields := map[protowire.Number][]byte{}
				for len(msg) > 0 {
					fn, typ, k := protowire.ConsumeTag(msg)
					msg = msg[k:]
					switch typ {
					case protowire.BytesType:
						v, k := protowire.ConsumeBytes(msg)
						fields[fn], msg = v, msg[k:]
					case protowire.Fixed64Type:
						v, k := protowire.ConsumeFixed64(msg)
						fields[fn], msg = protowire.AppendFixed64(nil, v), msg[k:]
					default:
						_, k := protowire.ConsumeVarint(msg)
						msg = msg[k:]
					}
				}
				switch num {
				case 1: // Label
					labels = append(labels, fmt.Sprintf("%s=%q", fields[1], fields[2]))
				case 2: // Sample
					v, _ := protowire.ConsumeFixed64(fields[1])
					value = math.Float64frombits(v)
				}
			}
			f.series["{"+strings.Join(labels, ",")+"}"] = value
		}
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL + "/api/v1/write"
}

func (f *fakeRemoteWrite) get(key string) (float64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.series[key]
	return v, ok
}

func (f *fakeRemoteWrite) keys() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ks []string
	for k := range f.series {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, "\n")
}

// TestOTLPMetricsFromSDK pushes metrics with the official OpenTelemetry Go
// SDK exporters (gRPC and HTTP) into the built binary's otel_metrics_source
// and the otlp source's /v1/metrics; the documents reach a file and the
// prometheus sink, whose remote-write requests a receiver decodes; delta
// temporality is dead-lettered by the prometheus sink (and still written to
// the file); malformed payloads get 400 / INVALID_ARGUMENT and a counter.
func TestOTLPMetricsFromSDK(t *testing.T) {
	dir := t.TempDir()
	rw, rwURL := newFakeRemoteWrite(t)
	dpPort, grpcPort, httpPort := otlpPort(t), otlpPort(t), otlpPort(t)
	cfg := filepath.Join(dir, "metrics.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
dp-metrics:
  delay: 20
  source:
    otel_metrics_source: {ssl: false, host: 127.0.0.1, port: %d, unframed_requests: true}
  sink:
    - file: {path: "%s/dp.ndjson"}
    - prometheus:
        url: "%s"
        insecure: true
        threshold: {max_events: 100, flush_interval: 200ms}
        dlq_file: "%s/prom-dlq.ndjson"
otlp:
  delay: 20
  source:
    otlp: {host: 127.0.0.1, grpc_port: %d, http_port: %d}
  route:
    - metrics: 'getMetadata("signal") == "metrics"'
  sink:
    - file: {path: "%s/otlp.ndjson", routes: [metrics]}
`, dpPort, dir, rwURL, dir, grpcPort, httpPort, dir))
	p := startWeft(t, cfg, nil)
	p.waitReady(20 * time.Second)
	ctx := context.Background()
	dpAddr := fmt.Sprintf("127.0.0.1:%d", dpPort)
	httpURL := fmt.Sprintf("http://127.0.0.1:%d", httpPort)

	gexp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(dpAddr), otlpmetricgrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	sdkMetricPush(t, gexp, "dp-grpc")
	// Delta temporality, as some SDKs are configured for other backends.
	dexp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(dpAddr), otlpmetricgrpc.WithInsecure(),
		otlpmetricgrpc.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality }))
	if err != nil {
		t.Fatal(err)
	}
	sdkMetricPush(t, dexp, "dp-delta")
	ggexp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", grpcPort)), otlpmetricgrpc.WithInsecure(),
		otlpmetricgrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	sdkMetricPush(t, ggexp, "otlp-grpc")
	hexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(httpURL+"/v1/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	sdkMetricPush(t, hexp, "otlp-http")

	// Malformed payloads: 400 / INVALID_ARGUMENT, on both sources.
	garbage := []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02}
	for _, c := range []struct{ url, ctype, body, want string }{
		{httpURL + "/v1/metrics", "application/x-protobuf", string(garbage), "malformed protobuf metrics export request"},
		{httpURL + "/v1/metrics", "application/json", `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[`, "malformed OTLP/JSON metrics"},
		{"http://" + dpAddr + metricsExportPath, "application/json", `{"resourceMetrics":7}`, "malformed OTLP/JSON metrics"},
	} {
		code, h, out := postOTLP(t, nil, c.url, c.ctype, []byte(c.body))
		if st := rpcStatus(t, h, out); code != 400 || codes.Code(st.Code) != codes.InvalidArgument || !strings.Contains(st.Message, c.want) {
			t.Errorf("%s %q: %d %v", c.url, c.body, code, st)
		}
	}
	for _, addr := range []string{dpAddr, fmt.Sprintf("127.0.0.1:%d", grpcPort)} {
		_, err := otlptest.InvokeRaw(ctx, grpcConn(t, addr), metricsExportPath, garbage)
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "malformed") {
			t.Errorf("gRPC garbage to %s: %v", addr, err)
		}
	}
	// A data point without a time: partial success, counted.
	code, _, out := postOTLP(t, nil, httpURL+"/v1/metrics", "application/json",
		[]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asDouble":1}]}}]}]}]}`))
	if code != 200 || !strings.Contains(string(out), `"rejectedDataPoints":"1"`) || !strings.Contains(string(out), "no time_unix_nano") {
		t.Errorf("partial success: %d %s", code, out)
	}

	eventually(t, 15*time.Second, "metric documents in both files", func() bool {
		d1, _ := os.ReadFile(filepath.Join(dir, "dp.ndjson"))
		d2, _ := os.ReadFile(filepath.Join(dir, "otlp.ndjson"))
		return strings.Count(string(d1), "\n") >= 8 && strings.Count(string(d2), "\n") >= 8
	})
	dp, ot := readNDJSON(t, filepath.Join(dir, "dp.ndjson")), readNDJSON(t, filepath.Join(dir, "otlp.ndjson"))
	if len(dp) != 8 || len(ot) != 8 {
		t.Fatalf("documents: otel_metrics_source %d (want 8), otlp %d (want 8)", len(dp), len(ot))
	}
	checkSDKMetricDocs(t, "otel_metrics_source gRPC", dp, "dp-grpc")
	checkSDKMetricDocs(t, "otlp gRPC", ot, "otlp-grpc")
	checkSDKMetricDocs(t, "otlp HTTP", ot, "otlp-http")
	for _, d := range dp {
		if d["serviceName"] == "dp-delta" && d["name"] == "orders.placed" {
			checkDoc(t, "delta counter", d, map[string]any{"aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA", "value": 5.0})
		}
	}

	// The prometheus sink's remote write, translated as Prometheus'
	// OTLP receiver translates: units and _total, job and instance.
	lbl := `instance="pod-1",job="dp-grpc"`
	want := map[string]float64{
		`{__name__="orders_placed_total",` + lbl + `,payment_method="card"}`:  5,
		`{__name__="cart_items",` + lbl + `}`:                                 -2,
		`{__name__="checkout_duration_seconds_bucket",` + lbl + `,le="0.1"}`:  1,
		`{__name__="checkout_duration_seconds_bucket",` + lbl + `,le="1"}`:    3,
		`{__name__="checkout_duration_seconds_bucket",` + lbl + `,le="+Inf"}`: 4,
		`{__name__="checkout_duration_seconds_sum",` + lbl + `}`:              4.25,
		`{__name__="checkout_duration_seconds_count",` + lbl + `}`:            4,
		`{__name__="queue_fill_ratio",` + lbl + `}`:                           0.75,
	}
	eventually(t, 15*time.Second, "remote-written series", func() bool {
		for k := range want {
			if _, ok := rw.get(k); !ok {
				return false
			}
		}
		return true
	})
	for k, w := range want {
		if v, _ := rw.get(k); v != w {
			t.Errorf("%s = %v, want %v", k, v, w)
		}
	}
	// Of the delta push, only the gauge (which has no temporality) is sent.
	for _, k := range strings.Split(rw.keys(), "\n") {
		if strings.Contains(k, `job="dp-delta"`) && !strings.HasPrefix(k, `{__name__="queue_fill_ratio"`) {
			t.Errorf("delta series remote-written: %s", k)
		}
	}
	// The delta counter, up-down counter and histogram are dead-lettered
	// with the reason.
	eventually(t, 10*time.Second, "dead letters", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "prom-dlq.ndjson"))
		return strings.Count(string(b), "\n") >= 3
	})
	dlq := readNDJSON(t, filepath.Join(dir, "prom-dlq.ndjson"))
	if len(dlq) != 3 {
		t.Errorf("%d dead letters, want 3: %v", len(dlq), dlq)
	}
	for _, d := range dlq {
		e, _ := d["error"].(map[string]any)
		if e["type"] != "invalid_metric" || !strings.Contains(fmt.Sprint(e["reason"]), "delta temporality") {
			t.Errorf("dead letter %v", d)
		}
	}

	if got := p.metric("weft_otlp_requests_total", `signal="metrics"`, `result="ok"`); got < 5 {
		t.Errorf("weft_otlp_requests_total{signal=metrics,result=ok} = %v, want at least 5", got)
	}
	if got := p.metric("weft_otlp_requests_total", `signal="metrics"`, `result="invalid"`); got != 5 {
		t.Errorf("weft_otlp_requests_total{signal=metrics,result=invalid} = %v, want 5", got)
	}
	if got := p.metric("weft_otlp_rejected_items_total", `signal="metrics"`, `reason="invalid_data_point"`); got != 1 {
		t.Errorf("weft_otlp_rejected_items_total{signal=metrics} = %v, want 1", got)
	}
	if got := p.metric("weft_prometheus_events_failed_total"); got != 3 {
		t.Errorf("weft_prometheus_events_failed_total = %v, want 3", got)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
