package otlp_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	_ "github.com/weft-agent/weft/plugins/otellogssource"
	"github.com/weft-agent/weft/plugins/otlp/otlptest"
)

const logsExportPath = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

// sdkLogs emits two records through a real OpenTelemetry SDK log exporter:
// one inside a span (trace and span IDs set), one outside any span. It
// returns the span's context.
func sdkLogs(t *testing.T, exp sdklog.Exporter, service string) trace.SpanContext {
	t.Helper()
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	logger := lp.Logger("checkout", otellog.WithInstrumentationVersion("1.2.3"))
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "op")
	var r otellog.Record
	r.SetTimestamp(time.Unix(1763884805, 5000000))
	r.SetSeverity(otellog.SeverityError)
	r.SetSeverityText("ERROR")
	r.SetBody(attribute.StringValue(`{"msg":"charge failed"}`))
	r.AddAttributes(attribute.String("http.method", "POST"), attribute.Int("attempt", 3))
	logger.Emit(ctx, r)
	span.End()
	var r2 otellog.Record
	r2.SetSeverity(otellog.SeverityInfo)
	r2.SetBody(attribute.MapValue(attribute.String("event", "startup"), attribute.Int("port", 8080)))
	logger.Emit(context.Background(), r2)
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatalf("SDK export: %v", err)
	}
	return span.SpanContext()
}

func checkSDKLogs(t *testing.T, evs []*event.Event, sc trace.SpanContext, service string) {
	t.Helper()
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	in, out := evs[0].Fields(), evs[1].Fields()
	if in["body"] != `{"msg":"charge failed"}` {
		in, out = out, in
	}
	want := map[string]any{
		"traceId": sc.TraceID().String(), "spanId": sc.SpanID().String(), "flags": int64(1),
		"severityNumber": int64(17), "severityText": "ERROR", "message": `{"msg":"charge failed"}`,
		"time": "2025-11-23T08:00:05.005000000Z", "serviceName": service,
		"log.attributes.http@method": "POST", "log.attributes.attempt": int64(3),
		"resource.attributes.service@name": service,
	}
	for k, w := range want {
		if fmt.Sprint(in[k]) != fmt.Sprint(w) {
			t.Errorf("record in a span: %s = %#v, want %#v", k, in[k], w)
		}
	}
	if sc, _ := in["instrumentationScope"].(map[string]any); sc["name"] != "checkout" || sc["version"] != "1.2.3" {
		t.Errorf("scope %v", in["instrumentationScope"])
	}
	if _, ok := out["traceId"]; ok {
		t.Errorf("record outside a span has a traceId: %v", out)
	}
	if b, _ := out["body"].(map[string]any); b["event"] != "startup" || b["port"] != int64(8080) || out["severityNumber"] != int64(9) {
		t.Errorf("map body %v", out)
	}
	if _, ok := out["message"]; ok {
		t.Errorf("map body copied to message: %v", out)
	}
	if out["time"] != out["observedTime"] || out["observedTime"] == "" {
		t.Errorf("record without a time: time %v observed %v", out["time"], out["observedTime"])
	}
}

func TestSDKLogExportersGRPCAndHTTP(t *testing.T) {
	s := start(t, nil, "")
	gexp, err := otlploggrpc.New(context.Background(), otlploggrpc.WithEndpoint(s.grpc), otlploggrpc.WithInsecure(), otlploggrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	sc := sdkLogs(t, gexp, "cart-grpc")
	checkSDKLogs(t, s.in.waitFor(t, 2), sc, "cart-grpc")

	hexp, err := otlploghttp.New(context.Background(), otlploghttp.WithEndpointURL(s.http+"/v1/logs"))
	if err != nil {
		t.Fatal(err)
	}
	sc = sdkLogs(t, hexp, "cart-http")
	checkSDKLogs(t, s.in.waitFor(t, 4)[2:], sc, "cart-http")
	for _, p := range []string{"grpc", "http"} {
		if got := pipelinestest.CounterValue(s.reg, "weft_otlp_requests_total", "protocol", p, "signal", "logs", "result", "ok"); got != 1 {
			t.Errorf("%s logs requests ok = %v", p, got)
		}
	}
	// Traces still work beside logs.
	resp, body := post(t, nil, s.http+"/v1/traces", "application/json", fixtureJSON(t))
	if resp.StatusCode != 200 {
		t.Fatalf("traces: %d %q", resp.StatusCode, body)
	}
	s.in.waitFor(t, 12)
}

func TestLogsHTTPJSONPartialSuccessAndMalformed(t *testing.T) {
	s := start(t, nil, "")
	body := []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[` +
		`{"timeUnixNano":"1763884805005000000","traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00f067aa0ba902b7","body":{"stringValue":"ok"}},` +
		`{"traceId":"4bf9","body":{"stringValue":"bad"}}]}]}]}`)
	resp, out := post(t, nil, s.http+"/v1/logs", "application/json", body)
	r := &collogspb.ExportLogsServiceResponse{}
	if err := protojson.Unmarshal(out, r); err != nil || resp.StatusCode != 200 ||
		r.GetPartialSuccess().GetRejectedLogRecords() != 1 || !strings.Contains(r.GetPartialSuccess().GetErrorMessage(), "trace_id has 2 bytes") {
		t.Fatalf("partial success: %d %s %v", resp.StatusCode, out, err)
	}
	ev := s.in.waitFor(t, 1)[0]
	if f := ev.Fields(); f["traceId"] != "4bf92f3577b34da6a3ce929d0e0e4736" || f["message"] != "ok" {
		t.Errorf("%v", f)
	}
	if got := pipelinestest.CounterValue(s.reg, "weft_otlp_rejected_items_total", "signal", "logs", "reason", "invalid_id"); got != 1 {
		t.Errorf("rejected items %v", got)
	}

	for _, c := range []struct{ ctype, body, want string }{
		{"application/json", `{"resourceLogs":[{"scopeLogs":[{"logRecords":[`, "malformed OTLP/JSON logs export request"},
		{"application/json", `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"not-hex"}]}]}]}`, "hex"},
		{"application/x-protobuf", "\x0a\xff\xff\xff\xff\x0f", "malformed protobuf logs export request"},
	} {
		resp, out := post(t, nil, s.http+"/v1/logs", c.ctype, []byte(c.body))
		if st := decodeStatus(t, resp, out); resp.StatusCode != 400 || codes.Code(st.Code) != codes.InvalidArgument || !strings.Contains(st.Message, c.want) {
			t.Errorf("%q: %d %v", c.body, resp.StatusCode, st)
		}
	}
	_, err := otlptest.InvokeRaw(context.Background(), dial(t, s.grpc), logsExportPath, []byte{0x0a, 0xff})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "logs") {
		t.Errorf("gRPC garbage: %v", err)
	}
	if got := pipelinestest.CounterValue(s.reg, "weft_otlp_requests_total", "protocol", "http", "signal", "logs", "result", "invalid"); got != 3 {
		t.Errorf("invalid http logs requests %v", got)
	}
}

func TestOtelLogsSource(t *testing.T) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := startPlugin(t, "otel_logs_source", fmt.Sprintf("host: 127.0.0.1\nport: %d\nunframed_requests: true\nhealth_check_service: true\n", port),
		nil, addr, "http://"+addr)
	gexp, err := otlploggrpc.New(context.Background(), otlploggrpc.WithEndpoint(s.grpc), otlploggrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	sc := sdkLogs(t, gexp, "dp")
	checkSDKLogs(t, s.in.waitFor(t, 2), sc, "dp")
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{
		LogRecords: []*logspb.LogRecord{{TimeUnixNano: 1, SeverityText: "WARN"}}}}}}}
	bin, _ := proto.Marshal(req)
	resp, body := post(t, nil, s.http+logsExportPath, "application/x-protobuf", bin)
	if resp.StatusCode != 200 {
		t.Fatalf("unframed: %d %q", resp.StatusCode, body)
	}
	if f := s.in.waitFor(t, 3)[2].Fields(); f["severityText"] != "WARN" || f["time"] != "1970-01-01T00:00:00.000000001Z" {
		t.Errorf("%v", f)
	}
	// Traces are not served here.
	if resp, _ := post(t, nil, s.http+"/opentelemetry.proto.collector.trace.v1.TraceService/Export", "application/json", fixtureJSON(t)); resp.StatusCode != 404 {
		t.Errorf("trace path on otel_logs_source: %d", resp.StatusCode)
	}
}

func TestOtelLogsSourcePath(t *testing.T) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := startPlugin(t, "otel_logs_source", fmt.Sprintf("host: 127.0.0.1\nport: %d\nunframed_requests: true\npath: /${pipelineName}/v1/logs\n", port),
		nil, addr, "http://"+addr)
	body := []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}`)
	if resp, out := post(t, nil, s.http+"/test/v1/logs", "application/json", body); resp.StatusCode != 200 {
		t.Fatalf("custom path: %d %q", resp.StatusCode, out)
	}
	if resp, _ := post(t, nil, s.http+logsExportPath, "application/json", body); resp.StatusCode != 404 {
		t.Errorf("standard path still served: %d", resp.StatusCode)
	}
	cc := dial(t, s.grpc)
	if _, err := collogspb.NewLogsServiceClient(cc).Export(context.Background(), &collogspb.ExportLogsServiceRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("standard gRPC path: %v", err)
	}
	bin, _ := proto.Marshal(&collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{}}}}}}})
	if out, err := otlptest.InvokeRaw(context.Background(), cc, "/test/v1/logs", bin); err != nil {
		t.Errorf("gRPC at the custom path: %v %q", err, out)
	}
	s.in.waitFor(t, 2)
}

func TestOtelLogsSourceConfig(t *testing.T) {
	if _, _, err := pipelinestest.Source("otel_logs_source", "path: v1/logs\n"); err == nil || !strings.Contains(err.Error(), "path") {
		t.Errorf("relative path: %v", err)
	}
	if _, _, err := pipelinestest.Source("otel_logs_source", "ssl: true\n"); err == nil {
		t.Error("ssl without certificates accepted")
	}
}
