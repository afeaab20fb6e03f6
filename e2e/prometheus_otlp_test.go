//go:build integration

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// TestPrometheusOTLPMetricsFromSDK: the official OpenTelemetry Go SDK
// pushes a counter (twice: cumulative 5, then 8), an up-down counter, an
// explicit-bucket histogram, an exponential histogram and a gauge over
// OTLP/gRPC into weft's otel_metrics_source, and a counter over OTLP/HTTP
// into the otlp source's /v1/metrics; the prometheus sink remote-writes
// them into the real Prometheus server, and every series is queried back
// through its HTTP API with the names, labels and values Prometheus' own
// OTLP receiver would give them.
func TestPrometheusOTLPMetricsFromSDK(t *testing.T) {
	base := promURL(t)
	run := promRunID()
	dpPort, grpcPort, httpPort := otlpPort(t), otlpPort(t), otlpPort(t)
	sink := fmt.Sprintf(`
    - prometheus:
        url: %s/api/v1/write
        insecure: true
        threshold: {max_events: 100, flush_interval: 200ms}
        external_labels: {weft_run: %q}`, base, run)
	cfg := fmt.Sprintf(`
dp-metrics:
  source:
    otel_metrics_source: {ssl: false, host: 127.0.0.1, port: %d}
  sink:%s
otlp:
  source:
    otlp: {host: 127.0.0.1, grpc_port: %d, http_port: %d, signals: [metrics]}
  sink:%s
`, dpPort, sink, grpcPort, httpPort, sink)
	admin := freeAddr(t)
	p := promStartWeft(t, cfg, admin)
	ctx := context.Background()

	svc := "checkout-" + run
	exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", dpPort)), otlpmetricgrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	// payload.size is aggregated as a base-2 exponential histogram.
	expView := sdkmetric.NewView(sdkmetric.Instrument{Name: "payload.size"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithView(expView),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", svc), attribute.String("service.instance.id", "pod-7"))))
	m := mp.Meter("shop")
	orders, _ := m.Int64Counter("orders.placed", metric.WithUnit("{order}"))
	orders.Add(ctx, 5, metric.WithAttributes(attribute.String("payment.method", "card")))
	items, _ := m.Int64UpDownCounter("cart.items", metric.WithUnit("{item}"))
	items.Add(ctx, -2)
	dur, _ := m.Float64Histogram("checkout.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 1))
	for _, v := range []float64{0.05, 0.5, 0.7, 3} {
		dur.Record(ctx, v)
	}
	size, _ := m.Int64Histogram("payload.size", metric.WithUnit("By"))
	for _, v := range []int64{1, 2, 4, 100, 1000} {
		size.Record(ctx, v)
	}
	fill, _ := m.Float64Gauge("queue.fill", metric.WithUnit("1"))
	fill.Record(ctx, 0.75)
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatalf("first push: %v", err)
	}

	sel := fmt.Sprintf(`weft_run=%q,job=%q,instance="pod-7"`, run, svc)
	promScalar(t, base, fmt.Sprintf(`orders_placed_total{%s,payment_method="card"}`, sel), 5, 20*time.Second)
	// The cumulative counter grows; the second push is a second sample.
	orders.Add(ctx, 3, metric.WithAttributes(attribute.String("payment.method", "card")))
	time.Sleep(1100 * time.Millisecond) // a later timestamp, at millisecond precision and beyond
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatalf("second push: %v", err)
	}
	promScalar(t, base, fmt.Sprintf(`orders_placed_total{%s,payment_method="card"}`, sel), 8, 20*time.Second)
	promScalar(t, base, fmt.Sprintf(`count_over_time(orders_placed_total{%s}[10m])`, sel), 2, 5*time.Second)

	for q, want := range map[string]float64{
		`cart_items{%s}`: -2,
		`checkout_duration_seconds_bucket{%s,le="0.1"}`:  1,
		`checkout_duration_seconds_bucket{%s,le="1"}`:    3,
		`checkout_duration_seconds_bucket{%s,le="+Inf"}`: 4,
		`checkout_duration_seconds_sum{%s}`:              4.25,
		`checkout_duration_seconds_count{%s}`:            4,
		`queue_fill_ratio{%s}`:                           0.75,
		`payload_size_bytes_count{%s}`:                   5,
		`payload_size_bytes_sum{%s}`:                     1107,
		`payload_size_bytes_bucket{%s,le="+Inf"}`:        5,
		`payload_size_bytes_bucket{%s,le="1"}`:           1,
		`payload_size_bytes_bucket{%s,le="2"}`:           2,
		`payload_size_bytes_bucket{%s,le="4"}`:           3,
		`payload_size_bytes_bucket{%s,le="1024"}`:        5,
	} {
		promScalar(t, base, fmt.Sprintf(q, sel), want, 10*time.Second)
	}
	// Prometheus' own functions work on the series.
	q := fmt.Sprintf(`histogram_quantile(0.5, checkout_duration_seconds_bucket{%s})`, sel)
	promWait(t, base, q, 5*time.Second, func(s []promSample) bool { return len(s) == 1 && s[0].Value > 0.1 && s[0].Value <= 1 })
	// The exponential histogram's classic buckets are 2^(1/8) apart: the
	// 99th percentile (1000) lies in (2^(79/8), 2^10].
	q = fmt.Sprintf(`histogram_quantile(0.99, payload_size_bytes_bucket{%s})`, sel)
	promWait(t, base, q, 5*time.Second, func(s []promSample) bool { return len(s) == 1 && s[0].Value > 935 && s[0].Value <= 1024 })
	// No series carries the flattened document fields as labels.
	for _, s := range promQuery(t, base, fmt.Sprintf(`{%s}`, sel), time.Time{}) {
		for k := range s.Metric {
			if strings.Contains(k, "attributes") || k == "serviceName" || k == "kind" {
				t.Errorf("series %v has label %s", s.Metric, k)
			}
		}
	}

	// OTLP/HTTP into the otlp source's /v1/metrics.
	hsvc := "cart-" + run
	hexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(fmt.Sprintf("http://127.0.0.1:%d/v1/metrics", httpPort)))
	if err != nil {
		t.Fatal(err)
	}
	hmp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(hexp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", hsvc), attribute.String("service.namespace", "shop"))))
	hits, _ := hmp.Meter("cart").Int64Counter("cache.hits")
	hits.Add(ctx, 41, metric.WithAttributes(attribute.String("cache.name", "sessions")))
	if err := hmp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	promScalar(t, base, fmt.Sprintf(`cache_hits_total{weft_run=%q,job="shop/%s",cache_name="sessions"}`, run, hsvc), 41, 20*time.Second)

	if v := p.metric("weft_otlp_requests_total", `signal="metrics"`, `result="ok"`); v != 3 {
		t.Errorf("weft_otlp_requests_total{signal=metrics,result=ok} = %v, want 3", v)
	}
	if v := p.metric("weft_prometheus_events_failed_total"); v != 0 {
		t.Errorf("events failed = %v", v)
	}
	if v := p.metric("weft_prometheus_remote_write_requests_total", `status="204"`); v < 3 {
		t.Errorf("remote write requests{204} = %v, want at least 3", v)
	}
}
