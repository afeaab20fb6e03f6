package otlp

import (
	"encoding/base64"
	"math/rand/v2"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/weft-agent/weft/pipelines/event"
)

const fixturePath = "../../../shared/fixtures/otlp-traces.json"

// The tests below convert with convertBoth (traces_pdata_test.go): the
// reference path (ConvertTraces) and the protobuf fast path must agree.

func loadFixture(t testing.TB) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalJSON(data, req); err != nil {
		t.Fatal(err)
	}
	return req
}

// isoNanos formats independently of the converter, with the time package.
func isoNanos(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

func bySpanID(t *testing.T, evs []*event.Event, id string) *event.Event {
	t.Helper()
	for _, e := range evs {
		if e.Fields()["spanId"] == id {
			return e
		}
	}
	t.Fatalf("no span %s", id)
	return nil
}

func TestFixtureRootAndChildDocuments(t *testing.T) {
	res := convertBoth(t, loadFixture(t))
	if len(res.Events) != 8 || res.Rejected != 0 || res.Message != "" {
		t.Fatalf("got %d events, %d rejected (%q), want 8, 0", len(res.Events), res.Rejected, res.Message)
	}

	// Root: the client's checkout of the first trace.
	root := bySpanID(t, res.Events, "c189941acf780de9")
	start, end := int64(1763884800000000000), int64(1763884800180000000)
	wantRoot := map[string]any{
		"traceId":      "f552cc5023d8319aea1181f76f3adcbd",
		"spanId":       "c189941acf780de9",
		"parentSpanId": "",
		"name":         "client_checkout",
		"kind":         "SPAN_KIND_SERVER",
		"startTime":    isoNanos(start),
		"endTime":      isoNanos(end),
		// 180 ms
		"durationInNanos":                  end - start,
		"serviceName":                      "client",
		"status":                           map[string]any{"code": int64(0), "message": ""},
		"traceGroup":                       "client_checkout",
		"traceGroupFields":                 map[string]any{"endTime": isoNanos(end), "durationInNanos": int64(180000000), "statusCode": int64(0)},
		"events":                           []any{},
		"links":                            []any{},
		"droppedAttributesCount":           int64(0),
		"droppedEventsCount":               int64(0),
		"droppedLinksCount":                int64(0),
		"traceState":                       "",
		"instrumentationScope":             map[string]any{"name": "shop", "version": ""},
		"span.attributes.http@method":      "POST",
		"span.attributes.http@url":         "http://order/checkout",
		"span.attributes.http@status_code": int64(200),
		"resource.attributes.service@name": "client",
		"resource.attributes.telemetry@sdk@language": "python",
	}
	assertFields(t, root, wantRoot)
	if root.Kind != event.KindSpan || !root.Time.Equal(time.Unix(0, start)) {
		t.Errorf("kind %v time %v", root.Kind, root.Time)
	}
	if v, _ := root.Metadata("signal"); v != "traces" {
		t.Errorf("metadata signal = %v", v)
	}
	if got := root.Fields()["startTime"]; got != "2025-11-23T08:00:00.000000000Z" {
		t.Errorf("startTime %v", got)
	}

	// Child: the payment span of the second trace, which failed.
	child := bySpanID(t, res.Events, "354d2c366eb5300f")
	start, end = 1763884805020000000, 1763884805140000000
	wantChild := map[string]any{
		"traceId":                          "b6ae4bc13d2a43a6ada270691286d33c",
		"spanId":                           "354d2c366eb5300f",
		"parentSpanId":                     "8b97acc97187c257",
		"name":                             "/checkout",
		"kind":                             "SPAN_KIND_SERVER",
		"startTime":                        isoNanos(start),
		"endTime":                          isoNanos(end),
		"durationInNanos":                  int64(120000000),
		"serviceName":                      "payment",
		"status":                           map[string]any{"code": int64(2), "message": "Checkout Failed - Service Unavailable"},
		"traceGroup":                       nil,
		"traceGroupFields":                 map[string]any{"endTime": nil, "durationInNanos": nil, "statusCode": nil},
		"events":                           []any{},
		"links":                            []any{},
		"droppedAttributesCount":           int64(0),
		"droppedEventsCount":               int64(0),
		"droppedLinksCount":                int64(0),
		"traceState":                       "",
		"instrumentationScope":             map[string]any{"name": "shop", "version": ""},
		"span.attributes.http@method":      "POST",
		"span.attributes.http@status_code": int64(503),
		"resource.attributes.service@name": "payment",
		"resource.attributes.telemetry@sdk@language": "python",
	}
	assertFields(t, child, wantChild)
	if got := child.Fields()["startTime"]; got != "2025-11-23T08:00:05.020000000Z" {
		t.Errorf("startTime %v", got)
	}

	// The client span of the inventory call.
	inv := bySpanID(t, res.Events, "0ce76f67ca8980aa")
	if inv.Fields()["kind"] != "SPAN_KIND_CLIENT" || inv.Fields()["span.attributes.peer@service"] != "inventory" {
		t.Errorf("inventory span: %v", inv.Fields())
	}
}

func assertFields(t *testing.T, ev *event.Event, want map[string]any) {
	t.Helper()
	got := ev.Fields()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("field %q missing", k)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("field %q = %#v, want %#v", k, g, w)
		}
	}
	var extra []string
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("unexpected fields %v", extra)
	}
}

// protojson alone reads OTLP/JSON's hex IDs as base64: wrong bytes, wrong
// length. UnmarshalJSON must not.
func TestHexIDsAreNotBase64(t *testing.T) {
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	naive := &coltracepb.ExportTraceServiceRequest{}
	if err := protojson.Unmarshal(data, naive); err != nil {
		t.Fatal(err)
	}
	if n := len(naive.ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId); n == 16 {
		t.Fatalf("protojson decoded a hex trace ID into 16 bytes; the test premise is wrong")
	}
	req := loadFixture(t)
	sp := req.ResourceSpans[1].ScopeSpans[0].Spans[0]
	if HexID(sp.TraceId) != "f552cc5023d8319aea1181f76f3adcbd" || HexID(sp.SpanId) != "56fe5d1483d7a598" || HexID(sp.ParentSpanId) != "c189941acf780de9" {
		t.Fatalf("ids %x %x %x", sp.TraceId, sp.SpanId, sp.ParentSpanId)
	}
}

func TestJSONIDForms(t *testing.T) {
	const tmpl = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":%s,"spanId":"00F067AA0BA902B7","name":"x","unknownField":{"traceId":"zz"},
		"links":[{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"\u0030\u0030f067aa0ba902b7","attributes":[{"key":"traceId","value":{"stringValue":"not-an-id"}}]}]}]}]}]}`
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalJSON([]byte(strings.Replace(tmpl, "%s", `"4BF92F3577B34DA6A3CE929D0E0E4736"`, 1)), req); err != nil {
		t.Fatal(err)
	}
	sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	if HexID(sp.TraceId) != "4bf92f3577b34da6a3ce929d0e0e4736" || HexID(sp.SpanId) != "00f067aa0ba902b7" {
		t.Errorf("upper-case hex: %x %x", sp.TraceId, sp.SpanId)
	}
	l := sp.Links[0]
	if HexID(l.TraceId) != "4bf92f3577b34da6a3ce929d0e0e4736" || HexID(l.SpanId) != "00f067aa0ba902b7" {
		t.Errorf("link (proto name, escaped): %x %x", l.TraceId, l.SpanId)
	}
	if l.Attributes[0].Value.GetStringValue() != "not-an-id" {
		t.Errorf("an attribute named traceId was rewritten: %v", l.Attributes[0])
	}
	for _, bad := range []string{`"xyz"`, `"abc"`, `"4bf92f3577b34da6a3ce929d0e0e473g"`} {
		err := UnmarshalJSON([]byte(strings.Replace(tmpl, "%s", bad, 1)), &coltracepb.ExportTraceServiceRequest{})
		if err == nil || !strings.Contains(err.Error(), "hex") {
			t.Errorf("%s: err = %v, want a hex error", bad, err)
		}
	}
	// Wrong length but valid hex: the span is rejected on its own.
	req = &coltracepb.ExportTraceServiceRequest{}
	if err := UnmarshalJSON([]byte(strings.Replace(tmpl, "%s", `"abcd"`, 1)), req); err != nil {
		t.Fatal(err)
	}
	res := convertBoth(t, req)
	if len(res.Events) != 0 || res.Rejected != 1 || !strings.Contains(res.Message, "trace_id has 2 bytes") {
		t.Errorf("result %+v", res)
	}
}

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func kvs(pairs ...any) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, &commonpb.KeyValue{Key: pairs[i].(string), Value: pairs[i+1].(*commonpb.AnyValue)})
	}
	return out
}

var (
	tid = []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sid = []byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	pid = []byte{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8}
)

func request(res *resourcepb.Resource, spans ...*tracepb.Span) *coltracepb.ExportTraceServiceRequest {
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   res,
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "lib", Version: "1.2.3"}, Spans: spans}},
	}}}
}

func TestAttributeFlattening(t *testing.T) {
	sp := &tracepb.Span{TraceId: tid, SpanId: sid, Name: "op", Attributes: kvs(
		"http.method", str("GET"),
		"http.status_code", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 404}},
		"ratio", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.25}},
		"a.b.c.d", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}},
		"raw", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{1, 2, 255}}},
		"list", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
			str("x"), {Value: &commonpb.AnyValue_IntValue{IntValue: 7}}}}}},
		"map", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs(
			"k.1", str("v"), "nested", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{}}})}}},
		"unset", &commonpb.AnyValue{},
		"nilvalue", (*commonpb.AnyValue)(nil),
	)}
	res := &resourcepb.Resource{Attributes: kvs("service.name", str("checkout"), "k8s.pod.name", str("pod-1"))}
	r := convertBoth(t, request(res, sp))
	if len(r.Events) != 1 {
		t.Fatalf("%+v", r)
	}
	f := r.Events[0].Fields()
	want := map[string]any{
		"span.attributes.http@method":      "GET",
		"span.attributes.http@status_code": int64(404),
		"span.attributes.ratio":            0.25,
		"span.attributes.a@b@c@d":          true,
		"span.attributes.raw":              base64.StdEncoding.EncodeToString([]byte{1, 2, 255}),
		"span.attributes.list":             `["x",7]`,
		"span.attributes.map":              `{"k@1":"v","nested":[]}`,
		"span.attributes.unset":            "",
		"span.attributes.nilvalue":         "",
		"resource.attributes.service@name": "checkout",
		"resource.attributes.k8s@pod@name": "pod-1",
		"serviceName":                      "checkout",
		"instrumentationScope":             map[string]any{"name": "lib", "version": "1.2.3"},
	}
	for k, w := range want {
		if !reflect.DeepEqual(f[k], w) {
			t.Errorf("%s = %#v, want %#v", k, f[k], w)
		}
	}
	// Flattened keys are single top-level names, not nested objects.
	if _, ok := f["span"]; ok {
		t.Error("attributes were nested under span")
	}
	if v, ok := (event.ParsePath("/span.attributes.http@method")).Lookup(f); !ok || v != "GET" {
		t.Errorf("pointer lookup: %v %v", v, ok)
	}
}

func TestNoServiceName(t *testing.T) {
	r := convertBoth(t, request(nil, &tracepb.Span{TraceId: tid, SpanId: sid}))
	if f := r.Events[0].Fields(); f["serviceName"] != nil {
		t.Errorf("serviceName = %#v, want nil", f["serviceName"])
	}
	r = convertBoth(t, request(&resourcepb.Resource{Attributes: kvs("service.name", str(""), "service.name", str("second"))},
		&tracepb.Span{TraceId: tid, SpanId: sid}))
	if f := r.Events[0].Fields(); f["serviceName"] != "second" {
		t.Errorf("serviceName = %#v, want the first non-empty one", f["serviceName"])
	}
}

func TestKindsAndStatusCodes(t *testing.T) {
	kinds := map[tracepb.Span_SpanKind]string{
		0: "SPAN_KIND_UNSPECIFIED", 1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER", 3: "SPAN_KIND_CLIENT",
		4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER", 42: "UNRECOGNIZED", -1: "UNRECOGNIZED",
	}
	for k, name := range kinds {
		r := convertBoth(t, request(nil, &tracepb.Span{TraceId: tid, SpanId: sid, Kind: k}))
		if got := r.Events[0].Fields()["kind"]; got != name {
			t.Errorf("kind %d = %v, want %s", k, got, name)
		}
	}
	for code, msg := range map[tracepb.Status_StatusCode]string{0: "", 1: "fine", 2: "boom"} {
		sp := &tracepb.Span{TraceId: tid, SpanId: sid, Status: &tracepb.Status{Code: code, Message: msg}}
		f := convertBoth(t, request(nil, sp)).Events[0].Fields()
		if st := f["status"].(map[string]any); st["code"] != int64(code) || st["message"] != msg {
			t.Errorf("status %v", st)
		}
		if tg := f["traceGroupFields"].(map[string]any); tg["statusCode"] != int64(code) {
			t.Errorf("traceGroupFields %v", tg)
		}
	}
	// No status at all: code 0.
	f := convertBoth(t, request(nil, &tracepb.Span{TraceId: tid, SpanId: sid})).Events[0].Fields()
	if st := f["status"].(map[string]any); st["code"] != int64(0) || st["message"] != "" {
		t.Errorf("status %v", st)
	}
}

func TestEventsAndLinks(t *testing.T) {
	sp := &tracepb.Span{TraceId: tid, SpanId: sid, ParentSpanId: pid, Name: "child", TraceState: "k=v",
		StartTimeUnixNano: 1_700_000_000_123_456_789, EndTimeUnixNano: 1_700_000_001_000_000_000,
		DroppedAttributesCount: 1, DroppedEventsCount: 2, DroppedLinksCount: 3,
		Events: []*tracepb.Span_Event{{Name: "exception", TimeUnixNano: 1_700_000_000_500_000_000,
			Attributes: kvs("exception.type", str("IOError")), DroppedAttributesCount: 4}},
		Links: []*tracepb.Span_Link{{TraceId: tid, SpanId: pid, TraceState: "a=b",
			Attributes: kvs("link.kind", str("follows")), DroppedAttributesCount: 5}},
	}
	f := convertBoth(t, request(nil, sp)).Events[0].Fields()
	wantEvents := []any{map[string]any{"name": "exception", "time": "2023-11-14T22:13:20.500000000Z",
		"attributes": map[string]any{"exception@type": "IOError"}, "droppedAttributesCount": int64(4)}}
	wantLinks := []any{map[string]any{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "53995c3f42cd8ad8",
		"traceState": "a=b", "attributes": map[string]any{"link@kind": "follows"}, "droppedAttributesCount": int64(5)}}
	if !reflect.DeepEqual(f["events"], wantEvents) {
		t.Errorf("events %#v", f["events"])
	}
	if !reflect.DeepEqual(f["links"], wantLinks) {
		t.Errorf("links %#v", f["links"])
	}
	checks := map[string]any{"parentSpanId": "53995c3f42cd8ad8", "traceState": "k=v", "droppedAttributesCount": int64(1),
		"droppedEventsCount": int64(2), "droppedLinksCount": int64(3), "startTime": "2023-11-14T22:13:20.123456789Z",
		"endTime": "2023-11-14T22:13:21.000000000Z", "durationInNanos": int64(876543211), "traceGroup": nil}
	for k, w := range checks {
		if f[k] != w {
			t.Errorf("%s = %#v, want %#v", k, f[k], w)
		}
	}
}

func TestInvalidIDsRejectedIndividually(t *testing.T) {
	zero16, zero8 := make([]byte, 16), make([]byte, 8)
	spans := []*tracepb.Span{
		{TraceId: tid, SpanId: sid, Name: "good"},
		{TraceId: tid[:8], SpanId: sid, Name: "short-trace"},
		{TraceId: zero16, SpanId: sid, Name: "zero-trace"},
		{TraceId: tid, SpanId: nil, Name: "no-span"},
		{TraceId: tid, SpanId: zero8, Name: "zero-span"},
		{TraceId: tid, SpanId: sid, ParentSpanId: []byte{1, 2, 3}, Name: "bad-parent"},
		{TraceId: tid, SpanId: pid, ParentSpanId: zero8, Name: "zero-parent-is-root"},
	}
	r := convertBoth(t, request(nil, spans...))
	if len(r.Events) != 2 || r.Rejected != 5 {
		t.Fatalf("events %d rejected %d", len(r.Events), r.Rejected)
	}
	if !strings.Contains(r.Message, "rejected 5 of 7 spans") || !strings.Contains(r.Message, `"short-trace"`) {
		t.Errorf("message %q", r.Message)
	}
	f := r.Events[1].Fields()
	if f["name"] != "zero-parent-is-root" || f["parentSpanId"] != "" || f["traceGroup"] != "zero-parent-is-root" {
		t.Errorf("all-zero parent: %v", f)
	}
}

func TestFormatTime(t *testing.T) {
	check := func(ns uint64) {
		t.Helper()
		want := time.Unix(int64(ns/1e9), int64(ns%1e9)).UTC().Format("2006-01-02T15:04:05.000000000Z")
		if got := FormatTime(ns); got != want {
			t.Fatalf("FormatTime(%d) = %s, want %s", ns, got, want)
		}
	}
	for _, ns := range []uint64{0, 1, 999_999_999, 951_782_400e9 /* 2000-02-29 */, 4_107_542_400e9 /* 2100-03-01 */, 1<<63 - 1, 1<<64 - 1} {
		check(ns)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		check(rng.Uint64())
	}
}

func TestHexID(t *testing.T) {
	if HexID(nil) != "" || HexID([]byte{0, 0xab, 0xff}) != "00abff" {
		t.Fatal(HexID([]byte{0, 0xab, 0xff}))
	}
}

func TestKeyCacheIsBounded(t *testing.T) {
	c := &converter{spanKeys: map[string]string{}, resKeys: map[string]string{}}
	for i := 0; i < 3*maxKeyCache; i++ {
		k := "k." + string(rune('a'+i%26)) + "." + time.Duration(i).String()
		if got := c.flatKey(c.spanKeys, SpanAttributesPrefix, k); got != SpanAttributesPrefix+strings.ReplaceAll(k, ".", "@") {
			t.Fatal(got)
		}
	}
	if len(c.spanKeys) > maxKeyCache {
		t.Fatalf("cache holds %d keys", len(c.spanKeys))
	}
}

func TestReadLimited(t *testing.T) {
	for _, c := range []struct{ size, limit, hint int }{{0, 10, 0}, {10, 10, 0}, {11, 10, 0}, {100000, 100000, 100001}, {100001, 100000, 0}, {5 << 20, 1 << 20, 0}} {
		b, over, err := readLimited(nil, strings.NewReader(strings.Repeat("x", c.size)), c.limit, c.hint)
		if err != nil || over != (c.size > c.limit) || (!over && len(b) != c.size) || cap(b) > c.limit+1 && cap(b) > 32<<10 {
			t.Errorf("%+v: len %d cap %d over %v err %v", c, len(b), cap(b), over, err)
		}
	}
}
