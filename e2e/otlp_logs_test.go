package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weft-agent/weft/plugins/otlp/otlptest"
)

const logsExportPath = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

// sdkLogRecords emits, through a real OpenTelemetry SDK log exporter, one
// error record inside a sampled span and one info record outside any span,
// and returns the span's context.
func sdkLogRecords(t *testing.T, exp sdklog.Exporter, service string) trace.SpanContext {
	t.Helper()
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", service), attribute.String("k8s.namespace.name", "shop"))))
	logger := lp.Logger("e2e", otellog.WithInstrumentationVersion("1.0.0"))
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("e2e").Start(context.Background(), "POST /checkout")
	var r otellog.Record
	r.SetTimestamp(time.Date(2025, 11, 23, 8, 0, 5, 20000000, time.UTC))
	r.SetSeverity(otellog.SeverityError)
	r.SetSeverityText("ERROR")
	r.SetBody(attribute.StringValue("payment failed for order 42"))
	r.AddAttributes(attribute.String("http.method", "POST"), attribute.Int("http.status_code", 502))
	logger.Emit(ctx, r)
	span.End()
	var r2 otellog.Record
	r2.SetSeverity(otellog.SeverityInfo)
	r2.SetSeverityText("INFO")
	r2.SetBody(attribute.StringValue("started"))
	logger.Emit(context.Background(), r2)
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatalf("SDK log export: %v", err)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return span.SpanContext()
}

// checkSDKLogDocs checks the two documents of sdkLogRecords for service.
func checkSDKLogDocs(t *testing.T, what string, docs []map[string]any, sc trace.SpanContext, service string) {
	t.Helper()
	var in, out map[string]any
	for _, d := range docs {
		if d["serviceName"] != service {
			continue
		}
		switch d["body"] {
		case "payment failed for order 42":
			in = d
		case "started":
			out = d
		}
	}
	checkDoc(t, what+" record in a span", in, map[string]any{
		"traceId": sc.TraceID().String(), "spanId": sc.SpanID().String(), "flags": 1.0, "traceFlags": "01",
		"severityNumber": 17.0, "severityText": "ERROR", "message": "payment failed for order 42",
		"time": "2025-11-23T08:00:05.020000000Z", "serviceName": service,
		"log.attributes.http@method": "POST", "log.attributes.http@status_code": 502.0,
		"resource.attributes.service@name": service, "resource.attributes.k8s@namespace@name": "shop",
		"instrumentationScope":   map[string]any{"name": "e2e", "version": "1.0.0"},
		"droppedAttributesCount": 0.0,
	})
	checkDoc(t, what+" record outside a span", out, map[string]any{
		"severityNumber": 9.0, "severityText": "INFO", "message": "started", "flags": 0.0,
	})
	if _, ok := out["traceId"]; ok {
		t.Errorf("%s: record outside a span has traceId %v", what, out["traceId"])
	}
	for _, d := range []map[string]any{in, out} {
		for _, k := range []string{"time", "observedTime"} {
			s, _ := d[k].(string)
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil || len(s) != 30 || !strings.HasSuffix(s, "Z") {
				t.Errorf("%s: %s = %q", what, k, s)
			}
		}
	}
}

func TestOTLPLogsFromSDKIntoFile(t *testing.T) {
	dir := t.TempDir()
	dpPort, grpcPort, httpPort := otlpPort(t), otlpPort(t), otlpPort(t)
	cfg := filepath.Join(dir, "logs.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
dp-logs:
  delay: 20
  source:
    otel_logs_source: {ssl: false, host: 127.0.0.1, port: %d, unframed_requests: true}
  processor:
    - trace_context: {}
  sink:
    - file: {path: "%s/dp.ndjson"}
otlp-logs:
  delay: 20
  source:
    otlp: {host: 127.0.0.1, grpc_port: %d, http_port: %d}
  processor:
    - trace_context: {}
  sink:
    - file: {path: "%s/otlp.ndjson"}
`, dpPort, dir, grpcPort, httpPort, dir))
	p := startWeft(t, cfg, nil)
	p.waitReady(20 * time.Second)
	ctx := context.Background()
	dpAddr := fmt.Sprintf("127.0.0.1:%d", dpPort)
	httpURL := fmt.Sprintf("http://127.0.0.1:%d", httpPort)

	// Real SDK log exporters: gRPC into both sources, HTTP into otlp.
	exp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(dpAddr), otlploggrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	dpSC := sdkLogRecords(t, exp, "dp-grpc")
	exp, err = otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", grpcPort)), otlploggrpc.WithInsecure(),
		otlploggrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	gSC := sdkLogRecords(t, exp, "otlp-grpc")
	hexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(httpURL+"/v1/logs"))
	if err != nil {
		t.Fatal(err)
	}
	hSC := sdkLogRecords(t, hexp, "otlp-http")

	// OTLP/JSON with hex IDs (upper case) and a JSON body that parse_json
	// could read from message.
	body := []byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json"}}]},"scopeLogs":[{"logRecords":[` +
		`{"timeUnixNano":"1763884805005000000","severityNumber":13,"traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00F067AA0BA902B7","flags":1,"body":{"stringValue":"{\"level\":\"warn\"}"}}]}]}]}`)
	if code, _, out := postOTLP(t, nil, httpURL+"/v1/logs", "application/json", body); code != 200 {
		t.Fatalf("OTLP/JSON logs: %d %q", code, out)
	}

	// Malformed payloads: 400 / INVALID_ARGUMENT, on both sources.
	garbage := []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02}
	for _, c := range []struct{ url, ctype, body, want string }{
		{httpURL + "/v1/logs", "application/x-protobuf", string(garbage), "malformed protobuf logs export request"},
		{httpURL + "/v1/logs", "application/json", `{"resourceLogs":[{"scopeLogs":[{"logRecords":[`, "malformed OTLP/JSON logs"},
		{httpURL + "/v1/logs", "application/json", `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"not-hex"}]}]}]}`, "hex"},
		{"http://" + dpAddr + logsExportPath, "application/json", `{"resourceLogs":7}`, "malformed OTLP/JSON logs"},
	} {
		code, h, out := postOTLP(t, nil, c.url, c.ctype, []byte(c.body))
		if st := rpcStatus(t, h, out); code != 400 || codes.Code(st.Code) != codes.InvalidArgument || !strings.Contains(st.Message, c.want) {
			t.Errorf("%s %q: %d %v", c.url, c.body, code, st)
		}
	}
	for _, addr := range []string{dpAddr, fmt.Sprintf("127.0.0.1:%d", grpcPort)} {
		_, err := otlptest.InvokeRaw(ctx, grpcConn(t, addr), logsExportPath, garbage)
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "malformed") {
			t.Errorf("gRPC garbage to %s: %v", addr, err)
		}
	}

	eventually(t, 15*time.Second, "log documents in both files", func() bool {
		d1, _ := os.ReadFile(filepath.Join(dir, "dp.ndjson"))
		d2, _ := os.ReadFile(filepath.Join(dir, "otlp.ndjson"))
		return bytes.Count(d1, []byte("\n")) >= 2 && bytes.Count(d2, []byte("\n")) >= 5
	})
	dp, ot := readNDJSON(t, filepath.Join(dir, "dp.ndjson")), readNDJSON(t, filepath.Join(dir, "otlp.ndjson"))
	if len(dp) != 2 || len(ot) != 5 {
		t.Fatalf("documents: otel_logs_source %d (want 2), otlp %d (want 5)", len(dp), len(ot))
	}
	checkSDKLogDocs(t, "otel_logs_source gRPC", dp, dpSC, "dp-grpc")
	checkSDKLogDocs(t, "otlp gRPC", ot, gSC, "otlp-grpc")
	checkSDKLogDocs(t, "otlp HTTP", ot, hSC, "otlp-http")
	var fromJSON map[string]any
	for _, d := range ot {
		if d["serviceName"] == "json" {
			fromJSON = d
		}
	}
	checkDoc(t, "OTLP/JSON record", fromJSON, map[string]any{
		"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7", "traceFlags": "01",
		"message": `{"level":"warn"}`, "severityNumber": 13.0, "time": "2025-11-23T08:00:05.005000000Z",
	})

	// trace_context found the OTLP IDs of the 4 records in a span and none
	// in the 3 outside.
	if got := p.metric("weft_trace_context_found_total", `form="otlp"`); got != 4 {
		t.Errorf("weft_trace_context_found_total{form=otlp} = %v, want 4", got)
	}
	if got := p.metric("weft_trace_context_missing_total"); got != 3 {
		t.Errorf("weft_trace_context_missing_total = %v, want 3", got)
	}
	if got := p.metric("weft_otlp_requests_total", `signal="logs"`, `result="ok"`); got < 4 {
		t.Errorf("weft_otlp_requests_total{signal=logs,result=ok} = %v, want at least 4", got)
	}
	if got := p.metric("weft_otlp_requests_total", `signal="logs"`, `result="invalid"`); got != 6 {
		t.Errorf("weft_otlp_requests_total{signal=logs,result=invalid} = %v, want 6", got)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
