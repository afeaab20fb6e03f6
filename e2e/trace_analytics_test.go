//go:build integration

package e2e

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weft-agent/weft/plugins/otlp"
)

// The shipped reference pipelines (deploy/pipelines/trace-analytics.yaml) run
// unchanged against a real OpenSearch: the fixture's spans arrive over OTLP
// gRPC on 21890 and come out as Trace Analytics span and service-map
// documents, searchable by traceId.
func TestOpenSearchReferenceTraceAnalyticsPipelines(t *testing.T) {
	o := newOS(t)
	p := startWeftWithEnv(t, "../deploy/pipelines/trace-analytics.yaml", []string{"OPENSEARCH_URL=" + osURL(t)})
	p.waitReady(60 * time.Second)

	data, err := os.ReadFile(fixture("otlp-traces.json"))
	if err != nil {
		t.Fatal(err)
	}
	var req coltrace.ExportTraceServiceRequest
	if err := otlp.UnmarshalJSON(data, &req); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("127.0.0.1:21890", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := coltrace.NewTraceServiceClient(conn).Export(ctx, &req); err != nil {
		t.Fatalf("OTLP export: %v", err)
	}
	// The failing checkout: find its trace ID in the fixture (the trace
	// with a span of status code 2).
	var failing string
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if s.Status != nil && s.Status.Code == 2 {
					failing = hexID(s.TraceId)
				}
			}
		}
	}
	if failing == "" {
		t.Fatal("fixture has no failing span")
	}
	var spans []map[string]any
	eventually(t, 60*time.Second, "the failing trace's 4 spans searchable by traceId", func() bool {
		o.do("POST", "/otel-v1-apm-span/_refresh", "")
		spans = o.search("otel-v1-apm-span", `{"size":20,"query":{"term":{"traceId":"`+failing+`"}}}`)
		return len(spans) == 4
	})
	for _, s := range spans {
		tgf, _ := s["traceGroupFields"].(map[string]any)
		if s["traceGroup"] != "client_checkout" || tgf == nil || tgf["statusCode"] != 2.0 {
			t.Errorf("span %v %v: traceGroup %v, traceGroupFields %v; want client_checkout and statusCode 2", s["serviceName"], s["name"], s["traceGroup"], tgf)
		}
		if !strings.HasSuffix(s["startTime"].(string), "Z") || s["durationInNanos"] == nil {
			t.Errorf("span times: %v", s)
		}
	}
	// Relationships are emitted once per window_duration (180 s by default,
	// as in Data Prepper) and at shutdown, which drains them to OpenSearch.
	p.signal(syscall.SIGTERM)
	if code := p.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var edges []map[string]any
	eventually(t, 30*time.Second, "service-map relationships", func() bool {
		o.do("POST", "/otel-v1-apm-service-map/_refresh", "")
		edges = o.search("otel-v1-apm-service-map", `{"size":50,"query":{"term":{"traceGroupName":"client_checkout"}}}`)
		return len(edges) >= 4
	})
	pairs := map[string]bool{}
	for _, e := range edges {
		if d, ok := e["destination"].(map[string]any); ok && d["domain"] != nil {
			pairs[e["serviceName"].(string)+"->"+d["domain"].(string)] = true
		}
	}
	for _, want := range []string{"client->order", "order->payment"} {
		if !pairs[want] {
			t.Errorf("service map lacks %s: %v", want, pairs)
		}
	}
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
