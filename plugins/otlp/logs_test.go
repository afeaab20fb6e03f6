package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// logsNow is the receipt time the tests convert with.
var logsNow = time.Date(2025, 11, 23, 9, 0, 0, 0, time.UTC)

const (
	t1 = uint64(1763884805005000000) // 2025-11-23T08:00:05.005Z
	t2 = uint64(1763884806000000007) // 2025-11-23T08:00:06.000000007Z
)

// logsRequest has one resource with two scopes and records of every kind
// of body, with and without IDs and times, and one invalid record.
func logsRequest() *collogspb.ExportLogsServiceRequest {
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: kvs(
			"service.name", str("payment"),
			"k8s.namespace.name", str("shop"),
			"host.cpus", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 4}},
		)},
		SchemaUrl: "https://opentelemetry.io/schemas/1.20.0",
		ScopeLogs: []*logspb.ScopeLogs{{
			Scope:     &commonpb.InstrumentationScope{Name: "payment.logger", Version: "2.1"},
			SchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
			LogRecords: []*logspb.LogRecord{{
				TimeUnixNano:           t1,
				ObservedTimeUnixNano:   t2,
				SeverityNumber:         logspb.SeverityNumber_SEVERITY_NUMBER_ERROR,
				SeverityText:           "ERROR",
				Body:                   str(`{"msg":"charge failed"}`),
				Attributes:             kvs("http.method", str("POST"), "retry", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}, "tags", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{str("a"), str("b")}}}}),
				DroppedAttributesCount: 2,
				Flags:                  1,
				TraceId:                mustHex("4BF92F3577B34DA6A3CE929D0E0E4736"),
				SpanId:                 mustHex("00f067aa0ba902b7"),
				EventName:              "payment.failed",
			}, {
				ObservedTimeUnixNano: t2,
				SeverityNumber:       logspb.SeverityNumber_SEVERITY_NUMBER_INFO,
				Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs(
					"user.id", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 42}},
					"items", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
						str("x"), {Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}}, {Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1}}}}}}},
				)}}},
				TraceId: make([]byte, 16), // all zero: none
				SpanId:  make([]byte, 8),
			}, {
				TraceId: []byte{1, 2, 3}, // invalid: rejected
				Body:    str("never"),
			}},
		}, {
			LogRecords: []*logspb.LogRecord{
				{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: -7}}},
				{},
			},
		}},
	}}}
}

func TestLogDocuments(t *testing.T) {
	res := ConvertLogs(logsRequest(), logsNow)
	if len(res.Events) != 4 || res.Rejected != 1 || !strings.Contains(res.Message, "rejected 1 of 5 log records") ||
		!strings.Contains(res.Message, "trace_id has 3 bytes") {
		t.Fatalf("events %d rejected %d %q", len(res.Events), res.Rejected, res.Message)
	}
	resource := map[string]any{
		"serviceName":                            "payment",
		"resource.attributes.service@name":       "payment",
		"resource.attributes.k8s@namespace@name": "shop",
		"resource.attributes.host@cpus":          int64(4),
	}
	with := func(m map[string]any) map[string]any {
		for k, v := range resource {
			m[k] = v
		}
		return m
	}
	scope := map[string]any{"name": "payment.logger", "version": "2.1"}
	nowS := "2025-11-23T09:00:00.000000000Z"

	e := res.Events[0]
	assertFields(t, e, with(map[string]any{
		"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7", "flags": int64(1),
		"severityNumber": int64(17), "severityText": "ERROR",
		"body": `{"msg":"charge failed"}`, "message": `{"msg":"charge failed"}`,
		"time": "2025-11-23T08:00:05.005000000Z", "observedTime": "2025-11-23T08:00:06.000000007Z",
		"droppedAttributesCount": int64(2), "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
		"instrumentationScope": scope, "eventName": "payment.failed",
		"log.attributes.http@method": "POST", "log.attributes.retry": true, "log.attributes.tags": `["a","b"]`,
	}))
	if e.Kind != event.KindLog || !e.Time.Equal(time.Unix(0, int64(t1))) {
		t.Errorf("kind %v time %v", e.Kind, e.Time)
	}
	if sig, _ := e.Metadata(MetadataSignal); sig != SignalLogs {
		t.Errorf("metadata signal %v", sig)
	}

	// No time: the observed time; all-zero IDs: none; kvlist body: object.
	e = res.Events[1]
	assertFields(t, e, with(map[string]any{
		"flags": int64(0), "severityNumber": int64(9), "severityText": "",
		"body":                   map[string]any{"user.id": int64(42), "items": []any{"x", 1.5, "AAE="}},
		"time":                   "2025-11-23T08:00:06.000000007Z",
		"observedTime":           "2025-11-23T08:00:06.000000007Z",
		"droppedAttributesCount": int64(0), "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
		"instrumentationScope": scope,
	}))
	if !e.Time.Equal(time.Unix(0, int64(t2))) {
		t.Errorf("time %v", e.Time)
	}

	// Second scope: no scope, no scope schema (the resource's), int body;
	// no times at all: receipt time.
	noScope := map[string]any{"name": "", "version": ""}
	e = res.Events[2]
	assertFields(t, e, with(map[string]any{
		"flags": int64(0), "severityNumber": int64(0), "severityText": "", "body": int64(-7),
		"time": nowS, "observedTime": nowS, "droppedAttributesCount": int64(0),
		"schemaUrl": "https://opentelemetry.io/schemas/1.20.0", "instrumentationScope": noScope,
	}))
	if !e.Time.Equal(logsNow) {
		t.Errorf("time %v", e.Time)
	}
	// No body: "" (and a message, so parse_json has something to skip).
	assertFields(t, res.Events[3], with(map[string]any{
		"flags": int64(0), "severityNumber": int64(0), "severityText": "", "body": "", "message": "",
		"time": nowS, "observedTime": nowS, "droppedAttributesCount": int64(0),
		"schemaUrl": "https://opentelemetry.io/schemas/1.20.0", "instrumentationScope": noScope,
	}))

	// Every document encodes as JSON.
	for _, ev := range res.Events {
		if _, err := event.DecodeJSONObject(ev.AppendJSON(nil)); err != nil {
			t.Errorf("%v: %s", err, ev.AppendJSON(nil))
		}
	}
}

func TestLogsWithoutResource(t *testing.T) {
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{nil, {
		ScopeLogs: []*logspb.ScopeLogs{nil, {LogRecords: []*logspb.LogRecord{nil, {Body: str("hi"), TimeUnixNano: t1}}}},
	}}}
	res := ConvertLogs(req, logsNow)
	if len(res.Events) != 1 || res.Rejected != 0 {
		t.Fatalf("%+v", res)
	}
	f := res.Events[0].Fields()
	if f["serviceName"] != nil || f["message"] != "hi" || f["observedTime"] != "2025-11-23T09:00:00.000000000Z" {
		t.Errorf("%v", f)
	}
	if res := ConvertLogs(&collogspb.ExportLogsServiceRequest{}, logsNow); len(res.Events) != 0 || res.Rejected != 0 {
		t.Errorf("empty request: %+v", res)
	}
}

// hexJSON encodes any OTLP request as OTLP/JSON: protojson, then the
// base64 IDs turned into hex.
func hexJSON(t testing.TB, m proto.Message) []byte {
	t.Helper()
	body, err := MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"(traceId|spanId|parentSpanId)":\s*"([^"]*)"`)
	return re.ReplaceAllFunc(body, func(m []byte) []byte {
		sub := re.FindSubmatch(m)
		raw, err := base64.StdEncoding.DecodeString(string(sub[2]))
		if err != nil {
			t.Fatal(err)
		}
		return []byte(`"` + string(sub[1]) + `":"` + hex.EncodeToString(raw) + `"`)
	})
}

func TestLogsJSONAndProtobufAgree(t *testing.T) {
	req := logsRequest()
	body := hexJSON(t, req)
	if !bytes.Contains(body, []byte(`"4bf92f3577b34da6a3ce929d0e0e4736"`)) {
		t.Fatalf("hex IDs expected in %s", body)
	}
	a, err := decodeLogs(body, true, logsNow)
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := proto.Marshal(req)
	b, err := decodeLogs(bin, false, logsNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Events) != 4 || len(b.Events) != 4 || a.Rejected != b.Rejected || a.Message != b.Message {
		t.Fatalf("json %d/%d %q, protobuf %d/%d %q", len(a.Events), a.Rejected, a.Message, len(b.Events), b.Rejected, b.Message)
	}
	for i := range a.Events {
		if x, y := a.Events[i].AppendJSON(nil), b.Events[i].AppendJSON(nil); !bytes.Equal(x, y) {
			t.Errorf("differ:\n%s\n%s", x, y)
		}
	}
	// Enum names, string numbers and proto field names, as OTLP/JSON allows.
	alt := []byte(`{"resource_logs":[{"scope_logs":[{"log_records":[{"time_unix_nano":"1763884805005000000","severity_number":"SEVERITY_NUMBER_WARN","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00F067AA0BA902B7","body":{"stringValue":"w"},"unknownField":1}]}]}]}`)
	c, err := decodeLogs(alt, true, logsNow)
	if err != nil || len(c.Events) != 1 {
		t.Fatalf("%v %+v", err, c)
	}
	if f := c.Events[0].Fields(); f["severityNumber"] != int64(13) || f["traceId"] != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		f["spanId"] != "00f067aa0ba902b7" || f["time"] != "2025-11-23T08:00:05.005000000Z" {
		t.Errorf("%v", f)
	}
}

func TestLogsMalformed(t *testing.T) {
	for _, body := range []string{
		`{"resourceLogs":[{"scopeLogs":[{"logRecords":[`,
		`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"not-hex"}]}]}]}`,
		`{"resourceLogs":"x"}`,
	} {
		if _, err := DecodeLogs([]byte(body), true); err == nil {
			t.Errorf("%s: accepted", body)
		}
	}
	if _, err := DecodeLogs([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, false); err == nil {
		t.Error("garbage protobuf accepted")
	}
	_, err := DecodeLogs([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"zz"}]}]}]}`), true)
	if err == nil || !strings.Contains(err.Error(), "hex") {
		t.Errorf("non-hex span ID: %v", err)
	}
}

func TestLogsResponse(t *testing.T) {
	resp := Logs.Response(&Result{Rejected: 2, Message: "m"}).(*collogspb.ExportLogsServiceResponse)
	if resp.GetPartialSuccess().GetRejectedLogRecords() != 2 || resp.GetPartialSuccess().GetErrorMessage() != "m" {
		t.Errorf("%v", resp)
	}
	if resp := Logs.Response(&Result{}).(*collogspb.ExportLogsServiceResponse); resp.PartialSuccess != nil {
		t.Errorf("%v", resp)
	}
}
