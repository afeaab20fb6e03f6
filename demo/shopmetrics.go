package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// metricsInterval is how often the order service exports its metrics.
const metricsInterval = 2 * time.Second

// metricsRequest is the order service's own metric as its OpenTelemetry
// SDK would export it over OTLP: shop.checkouts, a cumulative monotonic sum
// per outcome since start.
func metricsRequest(start, now time.Time, ok, failed int64) *colmetricspb.ExportMetricsServiceRequest {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	point := func(outcome string, v int64) *metricspb.NumberDataPoint {
		return &metricspb.NumberDataPoint{Attributes: []*commonpb.KeyValue{str("outcome", outcome)},
			StartTimeUnixNano: uint64(start.UnixNano()), TimeUnixNano: uint64(now.UnixNano()),
			Value: &metricspb.NumberDataPoint_AsInt{AsInt: v}}
	}
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "order"), str("service.namespace", "shop")}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{
			Scope: &commonpb.InstrumentationScope{Name: "shop"},
			Metrics: []*metricspb.Metric{{
				Name: "shop.checkouts", Description: "Checkouts by outcome.", Unit: "{checkout}",
				Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
					IsMonotonic:            true,
					DataPoints:             []*metricspb.NumberDataPoint{point("ok", ok), point("failed", failed)},
				}},
			}},
		}},
	}}}
}

// exportMetrics posts the current metrics to the agent's OTLP/HTTP
// listener (protobuf). Points are cumulative, so a failed export is made
// good by the next one; failures are counted.
func (g *Generator) exportMetrics(ctx context.Context) {
	failed := g.failed.Load()
	req := metricsRequest(g.start, time.Now(), g.checkouts.Load()-failed, failed)
	body, err := proto.Marshal(req)
	if err == nil {
		err = g.postMetrics(ctx, body)
	}
	if err != nil {
		g.metricErrors.Add(1)
		g.post.lastErr.Store("metrics: " + err.Error())
		return
	}
	g.metricPoints.Add(2)
}

func (g *Generator) postMetrics(ctx context.Context, body []byte) error {
	url := "http://" + g.cfg.OTLPHTTP + "/v1/metrics"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := g.post.client.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %q", url, resp.Status, msg)
	}
	return nil
}

// metricsLoop exports every metricsInterval until stop is closed.
func (g *Generator) metricsLoop(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(metricsInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			g.exportMetrics(ctx)
		}
	}
}
