//go:build integration

package e2e

import (
	"context"
	"fmt"
	"os"
	"reflect"
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
	// The six documents (plugins/servicemapstateful/README.md): client →
	// order → payment as Data Prepper draws them, and payment →
	// inventory, the virtual node of update_inventory's peer.service
	// (inventory is not instrumented), with its target so that Dashboards
	// draws the edge. Keyed by hashId, so reruns do not add documents.
	want := map[string]string{
		"hMcfxDebRQoy7uvHXlcrSQ==": "client SPAN_KIND_SERVER dest order /checkout",
		"k0/SoqSX3TcXgp2OWZ4kuw==": "order SPAN_KIND_SERVER target order /checkout",
		"qKlW9NF9MAjqFegpvCVLnQ==": "order SPAN_KIND_SERVER dest payment /checkout",
		"0ELNvQ4yrFdXGckmmLUXwQ==": "payment SPAN_KIND_SERVER target payment /checkout",
		"n+JXabfCcrIeMP691QwcpA==": "payment SPAN_KIND_CLIENT dest inventory update_inventory",
		"mZYvSouwJIYzb/YHHR/0Mg==": "inventory SPAN_KIND_SERVER target inventory update_inventory",
	}
	var edges []map[string]any
	eventually(t, 30*time.Second, "service-map relationships", func() bool {
		o.do("POST", "/otel-v1-apm-service-map/_refresh", "")
		edges = o.search("otel-v1-apm-service-map", `{"size":50,"query":{"term":{"traceGroupName":"client_checkout"}}}`)
		return len(edges) >= len(want)
	})
	got := map[string]string{}
	for _, e := range edges {
		desc := fmt.Sprint(e["serviceName"], " ", e["kind"])
		for _, side := range [][2]string{{"destination", "dest"}, {"target", "target"}} {
			if d, ok := e[side[0]].(map[string]any); ok {
				desc += fmt.Sprint(" ", side[1], " ", d["domain"], " ", d["resource"])
			}
		}
		got[fmt.Sprint(e["hashId"])] = desc
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("service map for client_checkout:\n got  %v\n want %v", got, want)
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
