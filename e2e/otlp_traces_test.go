package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/plugins/otlp"
	"github.com/weft-agent/weft/plugins/otlp/otlptest"
)

const traceExportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// otlpPort returns a free TCP port on 127.0.0.1.
func otlpPort(t *testing.T) int {
	t.Helper()
	addr := freeAddr(t)
	port, err := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// otlpFixture returns the shared OTLP/JSON fixture and the same request
// decoded (hex IDs and all) for re-encoding as protobuf.
func otlpFixture(t *testing.T) ([]byte, *coltracepb.ExportTraceServiceRequest) {
	t.Helper()
	data, err := os.ReadFile(fixture("otlp-traces.json"))
	if err != nil {
		t.Fatal(err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := otlp.UnmarshalJSON(data, req); err != nil {
		t.Fatal(err)
	}
	return data, req
}

func postOTLP(t *testing.T, client *http.Client, url, ctype string, body []byte, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
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
	return resp.StatusCode, resp.Header, b
}

// rpcStatus decodes an OTLP/HTTP error body (google.rpc.Status).
func rpcStatus(t *testing.T, h http.Header, body []byte) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	var err error
	if strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		err = protojson.Unmarshal(body, st)
	} else {
		err = proto.Unmarshal(body, st)
	}
	if err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v %q", err, body)
	}
	return st
}

func grpcConn(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
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

// sdkSpans sends a server root span and a failing client child through a
// real OpenTelemetry SDK exporter and returns their contexts.
func sdkSpans(t *testing.T, exp sdktrace.SpanExporter, service string) (root, child trace.SpanContext) {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service), attribute.String("k8s.namespace.name", "shop"))))
	tr := tp.Tracer("e2e", trace.WithInstrumentationVersion("1.0.0"))
	ctx, r := tr.Start(context.Background(), "POST /checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.method", "POST"), attribute.Int("http.status_code", 502)))
	_, c := tr.Start(ctx, "charge", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.Float64("amount", 12.5)))
	c.AddEvent("exception", trace.WithAttributes(attribute.String("exception.type", "Timeout")))
	c.SetStatus(otelcodes.Error, "payment timed out")
	c.End()
	r.SetStatus(otelcodes.Error, "")
	r.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatalf("SDK export: %v", err)
	}
	return r.SpanContext(), c.SpanContext()
}

func docsBySpanID(docs []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, d := range docs {
		if id, ok := d["spanId"].(string); ok {
			out[id] = d
		}
	}
	return out
}

func checkDoc(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no document", what)
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s: %s = %#v, want %#v", what, k, got[k], w)
		}
	}
}

// The SDK's spans as documents; JSON numbers read back as float64.
func checkSDKDocs(t *testing.T, what string, byID map[string]map[string]any, root, child trace.SpanContext, service string) {
	t.Helper()
	r, c := byID[root.SpanID().String()], byID[child.SpanID().String()]
	checkDoc(t, what+" root", r, map[string]any{
		"traceId": root.TraceID().String(), "spanId": root.SpanID().String(), "parentSpanId": "", "name": "POST /checkout",
		"kind": "SPAN_KIND_SERVER", "serviceName": service, "traceGroup": "POST /checkout",
		"status":                                 map[string]any{"code": 2.0, "message": ""},
		"span.attributes.http@method":            "POST",
		"span.attributes.http@status_code":       502.0,
		"resource.attributes.service@name":       service,
		"resource.attributes.k8s@namespace@name": "shop",
		"instrumentationScope":                   map[string]any{"name": "e2e", "version": "1.0.0"},
		"events":                                 []any{},
		"links":                                  []any{},
		"droppedAttributesCount":                 0.0,
	})
	if tg, _ := r["traceGroupFields"].(map[string]any); tg == nil || tg["statusCode"] != 2.0 || tg["endTime"] != r["endTime"] || tg["durationInNanos"] != r["durationInNanos"] {
		t.Errorf("%s root traceGroupFields %v", what, r["traceGroupFields"])
	}
	checkDoc(t, what+" child", c, map[string]any{
		"traceId": root.TraceID().String(), "parentSpanId": root.SpanID().String(), "name": "charge", "kind": "SPAN_KIND_CLIENT",
		"serviceName": service, "traceGroup": nil, "span.attributes.amount": 12.5,
		"status":           map[string]any{"code": 2.0, "message": "payment timed out"},
		"traceGroupFields": map[string]any{"endTime": nil, "durationInNanos": nil, "statusCode": nil},
	})
	if evs, _ := c["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["attributes"].(map[string]any)["exception@type"] != "Timeout" {
		t.Errorf("%s child events %v", what, c["events"])
	}
	for _, d := range []map[string]any{r, c} {
		st, _ := d["startTime"].(string)
		en, _ := d["endTime"].(string)
		ts, err1 := time.Parse(time.RFC3339Nano, st)
		te, err2 := time.Parse(time.RFC3339Nano, en)
		if err1 != nil || err2 != nil || len(st) != 30 || !strings.HasSuffix(st, "Z") || float64(te.Sub(ts)) != d["durationInNanos"] {
			t.Errorf("%s times %q %q duration %v", what, st, en, d["durationInNanos"])
		}
	}
}

// checkFixtureDocs checks the documents of the shared fixture: one root
// and one child field by field, and the trace group of every root.
func checkFixtureDocs(t *testing.T, what string, byID map[string]map[string]any) {
	t.Helper()
	checkDoc(t, what+" fixture root", byID["d6909d4585e48b7f"], map[string]any{
		"traceId": "b6ae4bc13d2a43a6ada270691286d33c", "spanId": "d6909d4585e48b7f", "parentSpanId": "",
		"name": "client_checkout", "kind": "SPAN_KIND_SERVER",
		"startTime": "2025-11-23T08:00:05.000000000Z", "endTime": "2025-11-23T08:00:05.180000000Z",
		"durationInNanos": 180000000.0, "serviceName": "client",
		"status":     map[string]any{"code": 2.0, "message": ""},
		"traceGroup": "client_checkout",
		"traceGroupFields": map[string]any{"endTime": "2025-11-23T08:00:05.180000000Z", "durationInNanos": 180000000.0,
			"statusCode": 2.0},
		"events": []any{}, "links": []any{}, "traceState": "",
		"droppedAttributesCount": 0.0, "droppedEventsCount": 0.0, "droppedLinksCount": 0.0,
		"instrumentationScope":                       map[string]any{"name": "shop", "version": ""},
		"span.attributes.http@method":                "POST",
		"span.attributes.http@url":                   "http://order/checkout",
		"span.attributes.http@status_code":           503.0,
		"resource.attributes.service@name":           "client",
		"resource.attributes.telemetry@sdk@language": "python",
	})
	if n := len(byID["d6909d4585e48b7f"]); n != 24 {
		t.Errorf("%s fixture root has %d fields, want 24", what, n)
	}
	checkDoc(t, what+" fixture child", byID["0ce76f67ca8980aa"], map[string]any{
		"traceId": "f552cc5023d8319aea1181f76f3adcbd", "parentSpanId": "ac5d960c71f2731a", "name": "update_inventory",
		"kind": "SPAN_KIND_CLIENT", "startTime": "2025-11-23T08:00:00.040000000Z", "endTime": "2025-11-23T08:00:00.100000000Z",
		"durationInNanos": 60000000.0, "serviceName": "payment", "traceGroup": nil,
		"status":                       map[string]any{"code": 0.0, "message": ""},
		"span.attributes.peer@service": "inventory",
	})
}

func TestOTLPTracesFromSDKAndFixtureIntoFile(t *testing.T) {
	dir := t.TempDir()
	dpPort, grpcPort, httpPort := otlpPort(t), otlpPort(t), otlpPort(t)
	cfg := filepath.Join(dir, "traces.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
dp-entry:
  delay: 20
  source:
    otel_trace_source: {ssl: false, host: 127.0.0.1, port: %d}
  sink:
    - file: {path: "%s/dp.ndjson"}
otlp-entry:
  delay: 20
  source:
    otlp: {host: 127.0.0.1, grpc_port: %d, http_port: %d}
  sink:
    - file: {path: "%s/otlp.ndjson"}
`, dpPort, dir, grpcPort, httpPort, dir))
	p := startWeft(t, cfg, nil)
	p.waitReady(20 * time.Second)
	ctx := context.Background()
	httpURL := fmt.Sprintf("http://127.0.0.1:%d", httpPort)

	// Real SDK exporters: gRPC into both sources, HTTP into otlp.
	gexp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", dpPort)), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	dpRoot, dpChild := sdkSpans(t, gexp, "dp-grpc")
	gexp, _ = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", grpcPort)), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithCompressor("gzip"))
	gRoot, gChild := sdkSpans(t, gexp, "otlp-grpc")
	hexp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(httpURL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	hRoot, hChild := sdkSpans(t, hexp, "otlp-http")

	// The fixture over HTTP, as OTLP/JSON and as protobuf.
	fixtureJSON, fixtureReq := otlpFixture(t)
	code, h, body := postOTLP(t, nil, httpURL+"/v1/traces", "application/json", fixtureJSON)
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("fixture JSON: %d %q", code, body)
	}
	bin, _ := proto.Marshal(fixtureReq)
	if code, _, body := postOTLP(t, nil, httpURL+"/v1/traces", "application/x-protobuf", bin); code != 200 {
		t.Fatalf("fixture protobuf: %d %q", code, body)
	}
	// And over gRPC into otel_trace_source.
	resp, err := coltracepb.NewTraceServiceClient(grpcConn(t, fmt.Sprintf("127.0.0.1:%d", dpPort))).Export(ctx, fixtureReq)
	if err != nil || resp.GetPartialSuccess() != nil {
		t.Fatalf("fixture gRPC: %v %v", resp, err)
	}

	var dp, ot []map[string]any
	eventually(t, 15*time.Second, "span documents in both files", func() bool {
		d1, _ := os.ReadFile(filepath.Join(dir, "dp.ndjson"))
		d2, _ := os.ReadFile(filepath.Join(dir, "otlp.ndjson"))
		return bytes.Count(d1, []byte("\n")) >= 10 && bytes.Count(d2, []byte("\n")) >= 20
	})
	dp, ot = readNDJSON(t, filepath.Join(dir, "dp.ndjson")), readNDJSON(t, filepath.Join(dir, "otlp.ndjson"))
	if len(dp) != 10 || len(ot) != 20 {
		t.Fatalf("documents: otel_trace_source %d (want 10), otlp %d (want 20)", len(dp), len(ot))
	}
	checkSDKDocs(t, "otel_trace_source gRPC", docsBySpanID(dp), dpRoot, dpChild, "dp-grpc")
	checkFixtureDocs(t, "otel_trace_source gRPC", docsBySpanID(dp))
	checkSDKDocs(t, "otlp gRPC", docsBySpanID(ot), gRoot, gChild, "otlp-grpc")
	checkSDKDocs(t, "otlp HTTP", docsBySpanID(ot), hRoot, hChild, "otlp-http")
	// The fixture came twice (JSON, protobuf): the same 8 documents twice.
	var fromJSON, fromProto []string
	for _, d := range ot {
		if tid := d["traceId"]; tid == "f552cc5023d8319aea1181f76f3adcbd" || tid == "b6ae4bc13d2a43a6ada270691286d33c" {
			line := fmt.Sprint(d)
			if len(fromJSON) < 8 {
				fromJSON = append(fromJSON, line)
			} else {
				fromProto = append(fromProto, line)
			}
		}
	}
	if len(fromJSON) != 8 || !reflect.DeepEqual(fromJSON, fromProto) {
		t.Errorf("fixture over JSON and protobuf gave different documents:\n%v\n%v", fromJSON, fromProto)
	}
	checkFixtureDocs(t, "otlp HTTP", docsBySpanID(ot[len(ot)-8:]))

	// One request per SDK export (3), fixture JSON, protobuf and gRPC (3).
	if got := p.metric("weft_otlp_requests_total", `result="ok"`); got != 6 {
		t.Errorf("weft_otlp_requests_total{result=ok} = %v, want 6", got)
	}
	if got := p.metric("weft_pipeline_events_in_total", `pipeline="otlp-entry"`); got != 20 {
		t.Errorf("events in otlp-entry %v", got)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestOTLPBadInputIsRejectedAndTheAgentKeepsServing(t *testing.T) {
	dir := t.TempDir()
	grpcPort, httpPort := otlpPort(t), otlpPort(t)
	cfg := filepath.Join(dir, "traces.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
otlp-entry:
  delay: 20
  source:
    otlp: {host: 127.0.0.1, grpc_port: %d, http_port: %d}
  sink:
    - file: {path: "%s/otlp.ndjson"}
`, grpcPort, httpPort, dir))
	p := startWeft(t, cfg, nil)
	p.waitReady(20 * time.Second)
	ctx := context.Background()
	url := fmt.Sprintf("http://127.0.0.1:%d/v1/traces", httpPort)
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", grpcPort)
	garbage := []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02}

	for _, c := range []struct {
		ctype string
		body  []byte
		want  string
	}{
		{"application/x-protobuf", garbage, "malformed protobuf traces export request"},
		{"application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[`), "malformed OTLP/JSON"},
		{"application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not-hex","spanId":"00f067aa0ba902b7"}]}]}]}`), "hex"},
	} {
		code, h, body := postOTLP(t, nil, url, c.ctype, c.body)
		if st := rpcStatus(t, h, body); code != 400 || codes.Code(st.Code) != codes.InvalidArgument || !strings.Contains(st.Message, c.want) {
			t.Errorf("%s %q: %d %v", c.ctype, c.body, code, st)
		}
	}
	cc := grpcConn(t, grpcAddr)
	_, err := otlptest.InvokeRaw(ctx, cc, traceExportPath, garbage)
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "malformed") {
		t.Errorf("gRPC garbage: %v", err)
	}

	// Oversized: over the default 10 MiB as sent, and a gzip bomb that
	// inflates to 1 GiB from about 1 MiB.
	code, h, body := postOTLP(t, nil, url, "application/x-protobuf", make([]byte, 11<<20))
	if st := rpcStatus(t, h, body); code != 413 || !strings.Contains(st.Message, "max_request_length") {
		t.Errorf("oversized: %d %v", code, st)
	}
	bomb := otlptest.GzipBomb(t, 1<<30)
	rssBefore := peakRSS(t, p)
	t0 := time.Now()
	code, h, body = postOTLP(t, nil, url, "application/x-protobuf", bomb, "Content-Encoding", "gzip")
	if st := rpcStatus(t, h, body); code != 413 || !strings.Contains(st.Message, "decompressed") {
		t.Errorf("gzip bomb (%d bytes): %d %v", len(bomb), code, st)
	}
	t.Logf("HTTP gzip bomb of %d KiB (1 GiB inflated) refused in %v", len(bomb)>>10, time.Since(t0))
	_, err = otlptest.InvokeRaw(ctx, cc, traceExportPath, make([]byte, 32<<20), grpc.UseCompressor("gzip"))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC gzip bomb: %v", err)
	}
	rssAfter := peakRSS(t, p)
	t.Logf("agent peak RSS %d MiB before the bombs, %d MiB after (race-instrumented binary)", rssBefore>>20, rssAfter>>20)
	if grown := rssAfter - rssBefore; grown > 256<<20 {
		t.Errorf("peak RSS grew by %d MiB handling the bombs", grown>>20)
	}

	// Still serving.
	fixtureJSON, _ := otlpFixture(t)
	if code, _, body := postOTLP(t, nil, url, "application/json", fixtureJSON); code != 200 {
		t.Fatalf("good request after bad ones: %d %q", code, body)
	}
	exp, _ := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
	sdkSpans(t, exp, "after")
	eventually(t, 15*time.Second, "10 documents", func() bool {
		d, _ := os.ReadFile(filepath.Join(dir, "otlp.ndjson"))
		return bytes.Count(d, []byte("\n")) >= 10
	})
	for result, want := range map[string]float64{"invalid": 4, "too_large": 3, "ok": 2} {
		if got := p.metric("weft_otlp_requests_total", `result="`+result+`"`); got != want {
			t.Errorf("weft_otlp_requests_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	if p.cmd.ProcessState != nil {
		t.Fatal("the agent exited")
	}
}

// peakRSS is the agent's high-water resident set size in bytes.
func peakRSS(t *testing.T, p *agentProc) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading the agent's /proc status (weft's tests run on Linux): %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM line in the agent's /proc status")
	return 0
}

func TestOTLPTraceSourceWithTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certs := otlptest.NewCerts(t, dir)
	port := otlpPort(t)
	cfg := filepath.Join(dir, "traces.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
entry-pipeline:
  delay: 20
  source:
    otel_trace_source:
      host: 127.0.0.1
      port: %d
      ssl: true
      sslKeyCertChainFile: %s
      sslKeyFile: %s
      unframed_requests: true
      health_check_service: true
      unauthenticated_health_check: true
      authentication:
        http_basic: {username: otel, password: s3cret}
  sink:
    - file: {path: "%s/spans.ndjson"}
`, port, certs.ServerCert, certs.ServerKey, dir))
	p := startWeft(t, cfg, nil)
	p.waitReady(20 * time.Second)
	ctx := context.Background()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	tlsCfg := &tls.Config{RootCAs: certs.Pool}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	url := "https://" + addr + traceExportPath
	creds := "Basic " + base64.StdEncoding.EncodeToString([]byte("otel:s3cret"))
	fixtureJSON, fixtureReq := otlpFixture(t)

	// Health needs no credentials; export does.
	resp, err := client.Get("https://" + addr + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	}
	resp.Body.Close()
	code, h, _ := postOTLP(t, client, url, "application/json", fixtureJSON)
	if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("unframed without credentials: %d %v", code, h)
	}
	if code, _, body := postOTLP(t, client, url, "application/json", fixtureJSON, "Authorization", creds); code != 200 {
		t.Errorf("unframed with credentials: %d %q", code, body)
	}
	// Plain HTTP against the TLS port is not accepted (net/http answers 400).
	if r, err := http.Post("http://"+addr+traceExportPath, "application/json", bytes.NewReader(fixtureJSON)); err == nil {
		r.Body.Close()
		if r.StatusCode != 400 {
			t.Errorf("plaintext request on the TLS port: %d", r.StatusCode)
		}
	}
	cc := grpcConn(t, addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	tc := coltracepb.NewTraceServiceClient(cc)
	if _, err := tc.Export(ctx, fixtureReq); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC without credentials: %v", err)
	}
	if _, err := tc.Export(metadata.AppendToOutgoingContext(ctx, "authorization", creds), fixtureReq); err != nil {
		t.Errorf("gRPC with credentials: %v", err)
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)),
		otlptracegrpc.WithHeaders(map[string]string{"authorization": creds}))
	if err != nil {
		t.Fatal(err)
	}
	root, child := sdkSpans(t, exp, "tls")
	eventually(t, 15*time.Second, "18 documents", func() bool {
		d, _ := os.ReadFile(filepath.Join(dir, "spans.ndjson"))
		return bytes.Count(d, []byte("\n")) >= 18
	})
	docs := readNDJSON(t, filepath.Join(dir, "spans.ndjson"))
	checkSDKDocs(t, "TLS gRPC", docsBySpanID(docs), root, child, "tls")
	checkFixtureDocs(t, "TLS unframed JSON", docsBySpanID(docs[:8]))
	if got := p.metric("weft_otlp_requests_total", `result="unauthenticated"`); got != 2 {
		t.Errorf("unauthenticated requests %v", got)
	}
}
