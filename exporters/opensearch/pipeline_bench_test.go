package opensearch_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weft-agent/weft/config"
	_ "github.com/weft-agent/weft/exporters/opensearch"
	"github.com/weft-agent/weft/pipelines"
	_ "github.com/weft-agent/weft/plugins/file"
	_ "github.com/weft-agent/weft/plugins/oteltraceraw"
	_ "github.com/weft-agent/weft/plugins/oteltracesource"
	"github.com/weft-agent/weft/plugins/otlp/otlptest"
)

// discardCluster accepts every request: bulk requests get a success reply,
// everything else (templates, alias checks) an acknowledgement. It measures
// the agent, not OpenSearch.
func discardCluster(b *testing.B) *httptest.Server {
	okBulk := []byte(`{"took":1,"errors":false,"items":[]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			w.Write(okBulk)
			return
		}
		w.Write([]byte(`{"acknowledged":true}`))
	}))
	b.Cleanup(srv.Close)
	return srv
}

func buildGraph(b *testing.B, yaml string) *pipelines.Graph {
	cfg, err := config.Parse("bench.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	g, err := pipelines.Build(cfg, pipelines.Options{Metrics: pipelines.NewMetrics(prometheus.NewRegistry()), Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return g
}

func shutdown(b *testing.B, g *pipelines.Graph) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if lost := g.Shutdown(ctx); lost != 0 {
		b.Fatalf("lost %d events", lost)
	}
}

// BenchmarkFileToOpenSearch: ~1 KiB JSON log lines from a file source
// (format json) through the opensearch sink (bulk encoding, gzip, HTTP) into
// a local endpoint that discards. One op = one event end to end.
func BenchmarkFileToOpenSearch(b *testing.B) {
	srv := discardCluster(b)
	path := filepath.Join(b.TempDir(), "in.ndjson")
	f, _ := os.Create(path)
	w := bufio.NewWriter(f)
	pad := strings.Repeat("x", 700)
	for i := 0; i < b.N; i++ {
		fmt.Fprintf(w, `{"time":"2025-11-23T08:00:00.%03dZ","level":"info","msg":"request served %s","status":200,"path":"/api/cart/%d","traceId":"%032x","kubernetes":{"namespace_name":"shop","pod_name":"cart-1","container_name":"cart"}}`+"\n", i%1000, pad, i, i)
	}
	w.Flush()
	f.Close()
	b.SetBytes(int64(1024))
	b.ReportAllocs()
	b.ResetTimer()
	g := buildGraph(b, fmt.Sprintf(`
logs:
  workers: 2
  delay: 5
  buffer: {bounded_blocking: {buffer_size: 20000, batch_size: 500}}
  source: {file: {path: %q, format: json, batch_size: 500}}
  sink:
    - opensearch: {hosts: [%q], index: "logs-%%{yyyy.MM.dd}", flush_timeout: 50ms, max_documents: 2000, max_buffered: 20000}
`, path, srv.URL))
	<-g.Done()
	shutdown(b, g)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkOTLPToOpenSearch: OTLP/gRPC export requests of 100 spans into
// otel_trace_source, otel_trace_raw (trace groups), and the opensearch sink
// (trace-analytics-raw) into a discarding endpoint. One op = one span; the
// requests are otlptest.TraceRequest's (eight span and six resource
// attributes, traces of ten spans, root first).
func BenchmarkOTLPToOpenSearch(b *testing.B) {
	srv := discardCluster(b)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	g := buildGraph(b, fmt.Sprintf(`
entry:
  workers: 2
  delay: 5
  buffer: {bounded_blocking: {buffer_size: 20000, batch_size: 500}}
  source: {otel_trace_source: {host: 127.0.0.1, port: %d}}
  processor: [otel_trace_raw: ]
  sink:
    - opensearch: {hosts: [%q], index_type: trace-analytics-raw, flush_timeout: 50ms, max_documents: 2000, max_buffered: 20000}
`, port, srv.URL))
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := coltrace.NewTraceServiceClient(conn)
	b.ReportAllocs()
	b.ResetTimer()
	for sent, n := 0, 0; sent < b.N; n++ {
		k := min(100, b.N-sent)
		if _, err := client.Export(context.Background(), otlptest.TraceRequest(n, k)); err != nil {
			b.Fatal(err)
		}
		sent += k
	}
	shutdown(b, g)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}
