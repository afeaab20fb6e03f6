package otlp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	_ "github.com/weft-agent/weft/plugins/oteltracesource"
	"github.com/weft-agent/weft/plugins/otlp"
	"github.com/weft-agent/weft/plugins/otlp/otlptest"
)

const fixturePath = "../../../shared/fixtures/otlp-traces.json"

// input collects what a source writes. With block set, Write waits for its
// context instead; with finalize set, each written event is finalized with
// it after delay (a stand-in for the sinks).
type input struct {
	mu       sync.Mutex
	events   []*event.Event
	block    bool
	finalize *event.Status
	delay    time.Duration
	written  chan struct{}
}

func newInput() *input { return &input{written: make(chan struct{}, 1000)} }

func (in *input) Write(ctx context.Context, evs []*event.Event) (int, error) {
	if in.block {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	in.mu.Lock()
	in.events = append(in.events, evs...)
	in.mu.Unlock()
	if in.finalize != nil {
		st := *in.finalize
		cp := append([]*event.Event(nil), evs...)
		time.AfterFunc(in.delay, func() {
			for _, e := range cp {
				e.Finalize(st)
			}
		})
	}
	select {
	case in.written <- struct{}{}:
	default:
	}
	return len(evs), nil
}

func (in *input) snapshot() []*event.Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]*event.Event(nil), in.events...)
}

func (in *input) waitFor(t *testing.T, n int) []*event.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if evs := in.snapshot(); len(evs) >= n {
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("got %d events, want %d", len(in.snapshot()), n)
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type server struct {
	src    pipelines.Source
	reg    *prometheus.Registry
	in     *input
	grpc   string // host:port
	http   string // http://host:port
	stopOK bool
}

// start runs the `otlp` source on free ports with extra YAML options.
func start(t *testing.T, in *input, extra string) *server {
	t.Helper()
	gp, hp := freePort(t), freePort(t)
	yaml := fmt.Sprintf("host: 127.0.0.1\ngrpc_port: %d\nhttp_port: %d\n%s", gp, hp, extra)
	return startPlugin(t, "otlp", yaml, in, fmt.Sprintf("127.0.0.1:%d", gp), fmt.Sprintf("http://127.0.0.1:%d", hp))
}

func startPlugin(t *testing.T, plugin, yaml string, in *input, grpcAddr, httpURL string) *server {
	t.Helper()
	src, reg, err := pipelinestest.Source(plugin, yaml)
	if err != nil {
		t.Fatal(err)
	}
	if in == nil {
		in = newInput()
	}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	s := &server{src: src, reg: reg, in: in, grpc: grpcAddr, http: httpURL}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		src.Stop(ctx)
	})
	return s
}

func (s *server) requests(protocol, result string) float64 {
	return pipelinestest.CounterValue(s.reg, "weft_otlp_requests_total", "protocol", protocol, "signal", "traces", "result", result)
}

func dial(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func fixtureJSON(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureRequest(t *testing.T) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := otlp.UnmarshalJSON(fixtureJSON(t), req); err != nil {
		t.Fatal(err)
	}
	return req
}

func post(t *testing.T, client *http.Client, url, ctype string, body []byte, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func decodeStatus(t *testing.T, resp *http.Response, body []byte) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	var err error
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		err = protojson.Unmarshal(body, st)
	} else {
		err = proto.Unmarshal(body, st)
	}
	if err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v: %q", err, body)
	}
	return st
}

func sdkProvider(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "cart"), attribute.String("deployment.environment", "test"))))
}

// makeSpans creates a root server span and a failing client child.
func makeSpans(tp *sdktrace.TracerProvider) (root, child trace.SpanContext) {
	tr := tp.Tracer("weft-test", trace.WithInstrumentationVersion("0.1.0"))
	ctx, r := tr.Start(context.Background(), "GET /cart", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.method", "GET"), attribute.Int("http.status_code", 500)))
	_, c := tr.Start(ctx, "SELECT carts", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.StringSlice("db.tags", []string{"a", "b"}), attribute.Bool("db.cached", false)))
	c.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2)))
	c.SetStatus(otelcodes.Error, "timeout")
	c.End()
	r.End()
	return r.SpanContext(), c.SpanContext()
}

func checkSDKSpans(t *testing.T, evs []*event.Event, root, child trace.SpanContext) {
	t.Helper()
	byID := map[string]map[string]any{}
	for _, e := range evs {
		byID[e.Fields()["spanId"].(string)] = e.Fields()
	}
	r, c := byID[root.SpanID().String()], byID[child.SpanID().String()]
	if r == nil || c == nil {
		t.Fatalf("spans %v not found among %d", []string{root.SpanID().String(), child.SpanID().String()}, len(evs))
	}
	want := map[string]any{"traceId": root.TraceID().String(), "parentSpanId": "", "name": "GET /cart", "kind": "SPAN_KIND_SERVER",
		"serviceName": "cart", "traceGroup": "GET /cart", "span.attributes.http@method": "GET", "span.attributes.http@status_code": int64(500),
		"resource.attributes.deployment@environment": "test"}
	for k, w := range want {
		if r[k] != w {
			t.Errorf("root %s = %#v, want %#v", k, r[k], w)
		}
	}
	want = map[string]any{"traceId": root.TraceID().String(), "parentSpanId": root.SpanID().String(), "kind": "SPAN_KIND_CLIENT",
		"traceGroup": nil, "span.attributes.db@tags": `["a","b"]`, "span.attributes.db@cached": false}
	for k, w := range want {
		if c[k] != w {
			t.Errorf("child %s = %#v, want %#v", k, c[k], w)
		}
	}
	if st := c["status"].(map[string]any); st["code"] != int64(2) || st["message"] != "timeout" {
		t.Errorf("child status %v", st)
	}
	if sc := c["instrumentationScope"].(map[string]any); sc["name"] != "weft-test" || sc["version"] != "0.1.0" {
		t.Errorf("scope %v", sc)
	}
	evts := c["events"].([]any)
	if len(evts) != 1 || evts[0].(map[string]any)["name"] != "retry" || evts[0].(map[string]any)["attributes"].(map[string]any)["attempt"] != int64(2) {
		t.Errorf("events %v", evts)
	}
	if _, err := time.Parse(time.RFC3339Nano, r["startTime"].(string)); err != nil || len(r["startTime"].(string)) != 30 {
		t.Errorf("startTime %v", r["startTime"])
	}
}

func TestSDKExportersGRPCAndHTTP(t *testing.T) {
	s := start(t, nil, "")
	ctx := context.Background()

	gexp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.grpc), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdkProvider(gexp)
	root, child := makeSpans(tp)
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	checkSDKSpans(t, s.in.waitFor(t, 2), root, child)

	hexp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(s.http+"/v1/traces"), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	tp = sdkProvider(hexp)
	root, child = makeSpans(tp)
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	checkSDKSpans(t, s.in.waitFor(t, 4)[2:], root, child)
	if s.requests("grpc", "ok") != 1 || s.requests("http", "ok") != 1 {
		t.Errorf("ok counts grpc %v http %v", s.requests("grpc", "ok"), s.requests("http", "ok"))
	}
	for _, e := range s.in.snapshot() {
		if !e.HasAcker() {
			t.Fatal("event without acknowledgement handle")
		}
	}
}

func TestHTTPFixtureJSONProtobufGzip(t *testing.T) {
	s := start(t, nil, "")
	resp, body := post(t, nil, s.http+"/v1/traces", "application/json", fixtureJSON(t))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || string(body) != "{}" {
		t.Fatalf("json: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	evs := s.in.waitFor(t, 8)
	for _, e := range evs {
		if f := e.Fields(); f["traceId"] != "f552cc5023d8319aea1181f76f3adcbd" && f["traceId"] != "b6ae4bc13d2a43a6ada270691286d33c" {
			t.Fatalf("traceId %v", f["traceId"])
		}
	}
	bin, _ := proto.Marshal(fixtureRequest(t))
	resp, body = post(t, nil, s.http+"/v1/traces", "application/x-protobuf", bin)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("protobuf: %d %q", resp.StatusCode, body)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bin)
	zw.Close()
	resp, body = post(t, nil, s.http+"/v1/traces", "application/x-protobuf", gz.Bytes(), "Content-Encoding", "gzip")
	if resp.StatusCode != 200 {
		t.Fatalf("gzip: %d %q", resp.StatusCode, body)
	}
	evs = s.in.waitFor(t, 24)
	for i := 0; i < 8; i++ {
		a, b, c := evs[i].AppendJSON(nil), evs[8+i].AppendJSON(nil), evs[16+i].AppendJSON(nil)
		if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
			t.Fatalf("json, protobuf and gzip documents differ:\n%s\n%s\n%s", a, b, c)
		}
	}
	// Wrong method, content type and encoding.
	r, _ := http.Get(s.http + "/v1/traces")
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", r.StatusCode)
	}
	r.Body.Close()
	if resp, _ := post(t, nil, s.http+"/v1/traces", "text/plain", bin); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", resp.StatusCode)
	}
	if resp, _ := post(t, nil, s.http+"/v1/traces", "application/x-protobuf", bin, "Content-Encoding", "br"); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("br: %d", resp.StatusCode)
	}
}

func TestMalformedRequests(t *testing.T) {
	s := start(t, nil, "")
	garbage := []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01}
	for _, c := range []struct{ ctype, body string }{
		{"application/json", `{"resourceSpans": [`},
		{"application/json", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"nothex"}]}]}]}`},
		{"application/json", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"yesterday"}]}]}]}`},
		{"application/x-protobuf", string(garbage)},
	} {
		resp, body := post(t, nil, s.http+"/v1/traces", c.ctype, []byte(c.body))
		st := decodeStatus(t, resp, body)
		if resp.StatusCode != 400 || codes.Code(st.Code) != codes.InvalidArgument || !strings.Contains(st.Message, "malformed") {
			t.Errorf("%s %q: %d %v", c.ctype, c.body, resp.StatusCode, st)
		}
	}
	if resp, body := post(t, nil, s.http+"/v1/traces", "application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"nothex"}]}]}]}`)); !strings.Contains(decodeStatus(t, resp, body).Message, "hex") {
		t.Errorf("the hex problem is not named: %s", body)
	}
	cc := dial(t, s.grpc)
	_, err := otlptest.InvokeRaw(context.Background(), cc, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", garbage)
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "malformed protobuf traces export request") {
		t.Errorf("gRPC garbage: %v", err)
	}
	if s.requests("grpc", "invalid") != 1 || s.requests("http", "invalid") != 5 {
		t.Errorf("invalid counts: grpc %v http %v", s.requests("grpc", "invalid"), s.requests("http", "invalid"))
	}
	// Still serving.
	if _, err := coltracepb.NewTraceServiceClient(cc).Export(context.Background(), fixtureRequest(t)); err != nil {
		t.Fatal(err)
	}
	s.in.waitFor(t, 8)
}

func TestTooLargeAndGzipBomb(t *testing.T) {
	s := start(t, nil, "max_request_length: 1kb\n")
	big := bytes.Repeat([]byte("x"), 2048)
	resp, body := post(t, nil, s.http+"/v1/traces", "application/json", big)
	if st := decodeStatus(t, resp, body); resp.StatusCode != 413 || !strings.Contains(st.Message, "max_request_length (1kb)") {
		t.Errorf("oversized: %d %v", resp.StatusCode, st)
	}
	// A small gzip body that inflates past the limit.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(make([]byte, 64<<10))
	zw.Close()
	resp, body = post(t, nil, s.http+"/v1/traces", "application/x-protobuf", gz.Bytes(), "Content-Encoding", "gzip")
	if st := decodeStatus(t, resp, body); resp.StatusCode != 413 || !strings.Contains(st.Message, "decompressed") {
		t.Errorf("inflating: %d %v", resp.StatusCode, st)
	}
	cc := dial(t, s.grpc)
	_, err := otlptest.InvokeRaw(context.Background(), cc, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", big)
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC oversized: %v", err)
	}
	_, err = otlptest.InvokeRaw(context.Background(), cc, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", make([]byte, 64<<10), grpc.UseCompressor("gzip"))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC inflating: %v", err)
	}
	// gRPC refuses an oversized message inside the transport; the server
	// counts it from its stats handler, which may run just after the client
	// has its answer.
	deadline := time.Now().Add(5 * time.Second)
	for s.requests("grpc", "too_large") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.requests("http", "too_large") != 2 || s.requests("grpc", "too_large") != 2 {
		t.Errorf("too_large counts: http %v grpc %v", s.requests("http", "too_large"), s.requests("grpc", "too_large"))
	}
}

func TestGzipBombDefaultLimit(t *testing.T) {
	s := start(t, nil, "")
	bomb := otlptest.GzipBomb(t, 1<<30) // 1 GiB of zeros in ~1 MiB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, body := post(t, nil, s.http+"/v1/traces", "application/x-protobuf", bomb, "Content-Encoding", "gzip")
	runtime.ReadMemStats(&after)
	if resp.StatusCode != 413 {
		t.Fatalf("gzip bomb: %d %q", resp.StatusCode, body)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 100<<20 {
		t.Errorf("the bomb made the server allocate %d MiB", grown>>20)
	}
	cc := dial(t, s.grpc)
	_, err := otlptest.InvokeRaw(context.Background(), cc, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", make([]byte, 16<<20), grpc.UseCompressor("gzip"))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC bomb: %v", err)
	}
}

func TestPartialSuccess(t *testing.T) {
	s := start(t, nil, "")
	req := fixtureRequest(t)
	spans := req.ResourceSpans[0].ScopeSpans[0].Spans
	spans[0].SpanId = []byte{1, 2, 3}
	resp, err := coltracepb.NewTraceServiceClient(dial(t, s.grpc)).Export(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	ps := resp.GetPartialSuccess()
	if ps.GetRejectedSpans() != 1 || !strings.Contains(ps.GetErrorMessage(), "span_id has 3 bytes") {
		t.Errorf("partial success %v", ps)
	}
	s.in.waitFor(t, 7)
	hresp, body := post(t, nil, s.http+"/v1/traces", "application/json",
		[]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000000","spanId":"00f067aa0ba902b7"}]}]}]}`))
	out := &coltracepb.ExportTraceServiceResponse{}
	if err := protojson.Unmarshal(body, out); err != nil || hresp.StatusCode != 200 || out.GetPartialSuccess().GetRejectedSpans() != 1 {
		t.Errorf("http partial success: %d %s %v", hresp.StatusCode, body, err)
	}
	if got := pipelinestest.CounterValue(s.reg, "weft_otlp_rejected_items_total", "signal", "traces", "reason", "invalid_id"); got != 2 {
		t.Errorf("rejected items %v", got)
	}
}

func TestBackpressure(t *testing.T) {
	in := newInput()
	in.block = true
	s := start(t, in, "buffer_timeout: 50ms\nretry_info: {min_delay: 1s, max_delay: 4s}\n")
	req := fixtureRequest(t)
	client := coltracepb.NewTraceServiceClient(dial(t, s.grpc))
	var delays []time.Duration
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		_, err := client.Export(context.Background(), req)
		st := status.Convert(err)
		if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "buffer stayed full") {
			t.Fatalf("gRPC: %v", err)
		}
		if el := time.Since(t0); el < 40*time.Millisecond || el > 3*time.Second {
			t.Errorf("answered after %v", el)
		}
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				delays = append(delays, ri.RetryDelay.AsDuration())
			}
		}
	}
	if fmt.Sprint(delays) != "[1s 2s 4s]" {
		t.Errorf("retry delays %v", delays)
	}
	bin, _ := proto.Marshal(req)
	resp, body := post(t, nil, s.http+"/v1/traces", "application/x-protobuf", bin)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "4" {
		t.Errorf("http: %d Retry-After %q %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if s.requests("grpc", "unavailable") != 3 || s.requests("http", "unavailable") != 1 {
		t.Errorf("unavailable counts")
	}
	// The exporter's view: UNAVAILABLE is retried, so it times out rather
	// than failing at once.
	exp, _ := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(s.grpc), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxElapsedTime: 300 * time.Millisecond}))
	tp := sdkProvider(exp)
	makeSpans(tp)
	err := tp.ForceFlush(context.Background())
	if err == nil {
		t.Error("export into a full buffer succeeded")
	}
	tp.Shutdown(context.Background())
}

func TestAuthentication(t *testing.T) {
	s := start(t, nil, "authentication: {http_basic: {username: otel, password: s3cret}}\nhealth_check_service: true\nunauthenticated_health_check: true\n")
	bin, _ := proto.Marshal(fixtureRequest(t))
	resp, body := post(t, nil, s.http+"/v1/traces", "application/x-protobuf", bin)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: %d %q", resp.StatusCode, body)
	}
	bad := "Basic " + base64.StdEncoding.EncodeToString([]byte("otel:wrong"))
	if resp, _ := post(t, nil, s.http+"/v1/traces", "application/x-protobuf", bin, "Authorization", bad); resp.StatusCode != 401 {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}
	good := "Basic " + base64.StdEncoding.EncodeToString([]byte("otel:s3cret"))
	if resp, _ := post(t, nil, s.http+"/v1/traces", "application/x-protobuf", bin, "Authorization", good); resp.StatusCode != 200 {
		t.Errorf("good credentials: %d", resp.StatusCode)
	}
	client := coltracepb.NewTraceServiceClient(dial(t, s.grpc))
	req := fixtureRequest(t)
	if _, err := client.Export(context.Background(), req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC without credentials: %v", err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", good)
	if _, err := client.Export(ctx, req); err != nil {
		t.Errorf("gRPC with credentials: %v", err)
	}
	// The SDK exporter with headers.
	exp, _ := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(s.grpc), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(map[string]string{"authorization": good}))
	tp := sdkProvider(exp)
	makeSpans(tp)
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Errorf("SDK with credentials: %v", err)
	}
	// Health without credentials (unauthenticated_health_check).
	r, err := http.Get(s.http + "/health")
	if err != nil || r.StatusCode != 200 {
		t.Errorf("health: %v %v", r, err)
	}
	r.Body.Close()
	hc, err := healthpb.NewHealthClient(dial(t, s.grpc)).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "opentelemetry.proto.collector.trace.v1.TraceService"})
	if err != nil || hc.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health: %v %v", hc, err)
	}
	if s.requests("http", "unauthenticated") != 2 || s.requests("grpc", "unauthenticated") != 1 {
		t.Errorf("unauthenticated counts http %v grpc %v", s.requests("http", "unauthenticated"), s.requests("grpc", "unauthenticated"))
	}
}

func TestBearerToken(t *testing.T) {
	s := start(t, nil, "authentication: {bearer_token: {token: t0ken}}\n")
	bin, _ := proto.Marshal(fixtureRequest(t))
	if resp, _ := post(t, nil, s.http+"/v1/traces", "application/x-protobuf", bin, "Authorization", "Bearer nope"); resp.StatusCode != 401 {
		t.Errorf("wrong token: %d", resp.StatusCode)
	}
	if resp, _ := post(t, nil, s.http+"/v1/traces", "application/x-protobuf", bin, "Authorization", "Bearer t0ken"); resp.StatusCode != 200 {
		t.Errorf("token: %d", resp.StatusCode)
	}
}

func TestTLSAndMutualTLS(t *testing.T) {
	certs := otlptest.NewCerts(t, t.TempDir())
	s := start(t, nil, fmt.Sprintf("ssl: true\nsslKeyCertChainFile: %s\nsslKeyFile: %s\n", certs.ServerCert, certs.ServerKey))
	bin, _ := proto.Marshal(fixtureRequest(t))
	https := strings.Replace(s.http, "http://", "https://", 1)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool}}}
	if resp, body := post(t, client, https+"/v1/traces", "application/x-protobuf", bin); resp.StatusCode != 200 {
		t.Errorf("https: %d %q", resp.StatusCode, body)
	}
	cc := dial(t, s.grpc, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: certs.Pool})))
	if _, err := coltracepb.NewTraceServiceClient(cc).Export(context.Background(), fixtureRequest(t)); err != nil {
		t.Errorf("gRPC TLS: %v", err)
	}
	exp, _ := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(https+"/v1/traces"),
		otlptracehttp.WithTLSClientConfig(&tls.Config{RootCAs: certs.Pool}))
	tp := sdkProvider(exp)
	makeSpans(tp)
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Errorf("SDK https: %v", err)
	}
	s.in.waitFor(t, 18)

	m := start(t, nil, fmt.Sprintf("ssl: true\nsslKeyCertChainFile: %s\nsslKeyFile: %s\nssl_client_ca: %s\n", certs.ServerCert, certs.ServerKey, certs.CA))
	https = strings.Replace(m.http, "http://", "https://", 1)
	req, _ := http.NewRequest(http.MethodPost, https+"/v1/traces", bytes.NewReader(bin))
	req.Header.Set("Content-Type", "application/x-protobuf")
	if _, err := client.Do(req); err == nil {
		t.Error("mutual TLS accepted a client without certificate")
	}
	mclient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool, Certificates: []tls.Certificate{certs.Client}}}}
	if resp, body := post(t, mclient, https+"/v1/traces", "application/x-protobuf", bin); resp.StatusCode != 200 {
		t.Errorf("mutual TLS: %d %q", resp.StatusCode, body)
	}
	cc = dial(t, m.grpc, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: certs.Pool})))
	if _, err := coltracepb.NewTraceServiceClient(cc).Export(context.Background(), fixtureRequest(t)); err == nil {
		t.Error("gRPC mutual TLS accepted a client without certificate")
	}
	cc = dial(t, m.grpc, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: certs.Pool, Certificates: []tls.Certificate{certs.Client}})))
	if _, err := coltracepb.NewTraceServiceClient(cc).Export(context.Background(), fixtureRequest(t)); err != nil {
		t.Errorf("gRPC mutual TLS: %v", err)
	}
}

func TestAckModeDelivered(t *testing.T) {
	delivered, rejected := event.Delivered, event.Rejected
	in := newInput()
	in.finalize, in.delay = &delivered, 100*time.Millisecond
	s := start(t, in, "ack_mode: delivered\nack_timeout: 2s\n")
	client := coltracepb.NewTraceServiceClient(dial(t, s.grpc))
	t0 := time.Now()
	if _, err := client.Export(context.Background(), fixtureRequest(t)); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 90*time.Millisecond {
		t.Errorf("answered after %v, before delivery", el)
	}
	in.finalize = &rejected
	s2 := start(t, in, "ack_mode: delivered\nack_timeout: 2s\n")
	_, err := coltracepb.NewTraceServiceClient(dial(t, s2.grpc)).Export(context.Background(), fixtureRequest(t))
	if status.Code(err) != codes.Internal {
		t.Errorf("rejected by a sink: %v", err)
	}
	in3 := newInput()
	s3 := start(t, in3, "ack_mode: delivered\nack_timeout: 100ms\n")
	bin, _ := proto.Marshal(fixtureRequest(t))
	resp, body := post(t, nil, s3.http+"/v1/traces", "application/x-protobuf", bin)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("never delivered: %d %q", resp.StatusCode, body)
	}
}

func TestSignalsOption(t *testing.T) {
	s := start(t, nil, "signals: [traces, logs]\n")
	resp, body := post(t, nil, s.http+"/v1/metrics", "application/json", []byte(`{}`))
	if st := decodeStatus(t, resp, body); resp.StatusCode != 404 || !strings.Contains(st.Message, "metrics") || !strings.Contains(st.Message, "signals") {
		t.Errorf("/v1/metrics: %d %v", resp.StatusCode, st)
	}
	_, err := colmetricspb.NewMetricsServiceClient(dial(t, s.grpc)).Export(context.Background(), &colmetricspb.ExportMetricsServiceRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("gRPC metrics: %v", err)
	}
}

func TestOtelTraceSourceUnframed(t *testing.T) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := startPlugin(t, "otel_trace_source", fmt.Sprintf("host: 127.0.0.1\nport: %d\nunframed_requests: true\nhealth_check_service: true\nproto_reflection_service: true\n", port),
		nil, addr, "http://"+addr)
	const path = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
	resp, body := post(t, nil, s.http+path, "application/json", fixtureJSON(t))
	if resp.StatusCode != 200 {
		t.Fatalf("unframed JSON: %d %q", resp.StatusCode, body)
	}
	if _, err := coltracepb.NewTraceServiceClient(dial(t, s.grpc)).Export(context.Background(), fixtureRequest(t)); err != nil {
		t.Fatalf("gRPC on the same port: %v", err)
	}
	exp, _ := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(s.grpc), otlptracegrpc.WithInsecure(), otlptracegrpc.WithCompressor("gzip"))
	tp := sdkProvider(exp)
	root, child := makeSpans(tp)
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkSDKSpans(t, s.in.waitFor(t, 18)[16:], root, child)
	r, err := http.Get(s.http + "/health")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("health %v %v", r, err)
	}
	r.Body.Close()
	garbage := []byte{0x0a, 0xff}
	_, err = otlptest.InvokeRaw(context.Background(), dial(t, s.grpc), path, garbage)
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("gRPC garbage through the HTTP front: %v", err)
	}
}

func TestOtelTraceSourcePath(t *testing.T) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := startPlugin(t, "otel_trace_source", fmt.Sprintf("host: 127.0.0.1\nport: %d\nunframed_requests: true\npath: /${pipelineName}/v1/traces\n", port),
		nil, addr, "http://"+addr)
	// pipelinestest names the pipeline "test".
	resp, body := post(t, nil, s.http+"/test/v1/traces", "application/json", fixtureJSON(t))
	if resp.StatusCode != 200 {
		t.Fatalf("custom path: %d %q", resp.StatusCode, body)
	}
	if resp, _ := post(t, nil, s.http+"/opentelemetry.proto.collector.trace.v1.TraceService/Export", "application/json", fixtureJSON(t)); resp.StatusCode != 404 {
		t.Errorf("standard path still served over HTTP: %d", resp.StatusCode)
	}
	cc := dial(t, s.grpc)
	if _, err := coltracepb.NewTraceServiceClient(cc).Export(context.Background(), fixtureRequest(t)); status.Code(err) != codes.Unimplemented {
		t.Errorf("standard gRPC path: %v", err)
	}
	var out []byte
	bin, _ := proto.Marshal(fixtureRequest(t))
	if out, err := otlptest.InvokeRaw(context.Background(), cc, "/test/v1/traces", bin); err != nil {
		t.Errorf("gRPC at the custom path: %v %q", err, out)
	}
	_ = out
	s.in.waitFor(t, 16)
}

func TestStopEndsServingAndBlockedWrites(t *testing.T) {
	before := runtime.NumGoroutine()
	in := newInput()
	in.block = true
	s := start(t, in, "buffer_timeout: 1m\n")
	client := coltracepb.NewTraceServiceClient(dial(t, s.grpc))
	errc := make(chan error, 1)
	go func() {
		_, err := client.Export(context.Background(), fixtureRequest(t))
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond) // the request is blocked on the full buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := s.src.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("Stop took %v", el)
	}
	if err := <-errc; status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "shutting down") {
		t.Errorf("blocked request: %v", err)
	}
	for _, addr := range []string{s.grpc, strings.TrimPrefix(s.http, "http://")} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", addr)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+3 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after Stop:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// Stop with an open gRPC (h2c) connection and an idle HTTP keep-alive
// connection on the shared port of otel_trace_source.
func TestStopUnframedWithOpenConnections(t *testing.T) {
	before := runtime.NumGoroutine()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := startPlugin(t, "otel_trace_source", fmt.Sprintf("host: 127.0.0.1\nport: %d\nunframed_requests: true\nhealth_check_service: true\n", port),
		nil, addr, "http://"+addr)
	cc := dial(t, s.grpc)
	if _, err := coltracepb.NewTraceServiceClient(cc).Export(context.Background(), fixtureRequest(t)); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	hc := &http.Client{Transport: tr}
	if resp, _ := post(t, hc, s.http+"/opentelemetry.proto.collector.trace.v1.TraceService/Export", "application/json", fixtureJSON(t)); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := s.src.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("Stop took %v", el)
	}
	cc.Close()
	tr.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+3 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after Stop:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestConfigErrors(t *testing.T) {
	for yaml, want := range map[string]string{
		"grpc_port: 0\nhttp_port: 0": "nothing would listen",
		"ssl: true":                  "sslKeyCertChainFile",
		"ssl_client_ca: /x":          "mutual TLS needs ssl",
		"authentication: {http_basic: {username: a, password: b}, unauthenticated: }": "only one",
		"authentication: {http_basic: {username: a}}":                                 "required",
		"max_request_length: 10 parsecs":                                              "unknown unit",
		"ack_mode: sometimes":                                                         "not one of",
		"compresion: gzip":                                                            "did you mean",
	} {
		if _, err := pipelinestest.DecodeConfig(pipelines.KindSource, "otlp", yaml); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", yaml, err, want)
		}
	}
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSource, "otel_trace_source",
		"ssl: false\nport: 21890\nauthentication: {unauthenticated: }\nmax_request_length: 4mb\nrequest_timeout: 10000\nthread_count: 200\nmax_connection_count: 500\ncompression: gzip\nrecord_type: event\n")
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.(interface{ Validate() error }); c.Validate() != nil {
		t.Fatal(c.Validate())
	}
	for in, want := range map[string]otlp.ByteSize{"10mb": 10 << 20, "512kb": 512 << 10, "1048576": 1 << 20, "1 GB": 1 << 30, "2.5kb": 2560} {
		var b otlp.ByteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || b != want {
			t.Errorf("%s: %v %v", in, int64(b), err)
		}
	}
}

func TestREADMEListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindSource, "otlp", "README.md")
}

var _ = tracepb.Span{}
