package http

import (
	"bytes"
	"context"
	"fmt"
	nethttp "net/http"
	"net/http/httptest"
	"testing"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

type discardInput struct{}

func (discardInput) Write(_ context.Context, evs []*event.Event) (int, error) { return len(evs), nil }

// BenchmarkIngestJSONArray: one Fluent Bit http-output request of 500
// records (~330 bytes each) through the handler — auth check, body read,
// decode, events into the pipeline. Reports records/s and MB/s.
func BenchmarkIngestJSONArray(b *testing.B) {
	src, _, err := pipelinestest.Source("http", "{host: 127.0.0.1, port: 0}")
	if err != nil {
		b.Fatal(err)
	}
	s := src.(*Source)
	s.in = discardInput{}
	var body bytes.Buffer
	body.WriteByte('[')
	const records = 500
	for i := 0; i < records; i++ {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"date":1763884800.%03d,"log":"2025-11-23 08:00:00,020 INFO [paymentService] request %d served in 12ms","stream":"stdout","kubernetes":{"pod_name":"payment-7d9f8c6b5-x2k4p","namespace_name":"shop","container_name":"payment","host":"ip-10-0-1-23.ec2.internal","labels":{"app":"payment"}}}`, i%1000, i)
	}
	body.WriteByte(']')
	payload := body.Bytes()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/log/ingest", bytes.NewReader(payload))
		w := httptest.NewRecorder()
		s.handle(w, req)
		if w.Code != nethttp.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
}
