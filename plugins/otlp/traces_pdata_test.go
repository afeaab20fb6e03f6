package otlp

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/otlp/otlptest"
)

// sameResult fails unless two conversions produced the same documents,
// event times, kinds and metadata, and the same rejections.
func sameResult(t testing.TB, what string, ref, got Result) {
	t.Helper()
	if ref.Rejected != got.Rejected || ref.Message != got.Message || len(ref.Events) != len(got.Events) {
		t.Fatalf("%s: reference %d events, %d rejected (%q); protobuf %d events, %d rejected (%q)", what,
			len(ref.Events), ref.Rejected, ref.Message, len(got.Events), got.Rejected, got.Message)
	}
	for i := range ref.Events {
		a, b := ref.Events[i], got.Events[i]
		if x, y := a.AppendJSON(nil), b.AppendJSON(nil); !bytes.Equal(x, y) {
			t.Fatalf("%s: span %d differs:\nreference %s\nprotobuf  %s", what, i, x, y)
		}
		sa, _ := a.Metadata(MetadataSignal)
		sb, _ := b.Metadata(MetadataSignal)
		if a.Kind != b.Kind || !a.Time.Equal(b.Time) || a.Time.Location() != b.Time.Location() || sa != sb {
			t.Fatalf("%s: span %d: kind %v/%v time %v/%v signal %v/%v", what, i, a.Kind, b.Kind, a.Time, b.Time, sa, sb)
		}
	}
}

// convertBoth converts req with ConvertTraces (the reference path) and its
// protobuf encoding with DecodeTraces (the pdata fast path when it
// applies), checks that they agree and returns the reference result.
func convertBoth(t testing.TB, req *coltracepb.ExportTraceServiceRequest) Result {
	t.Helper()
	ref := ConvertTraces(req)
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeTraces(body, false)
	if err != nil {
		t.Fatalf("protobuf path: %v", err)
	}
	sameResult(t, "ConvertTraces vs DecodeTraces", ref, got)
	return ref
}

// fastOK reports whether the pdata path converts body by itself.
func fastOK(t *testing.T, body []byte) bool {
	t.Helper()
	req := ptraceotlp.NewExportRequest()
	if !traceWire.valid(body) || req.UnmarshalProto(body) != nil {
		return false
	}
	_, ok := new(converter).withCaches().fastTraces(req.Traces())
	return ok
}

func (c *converter) withCaches() *converter {
	c.spanKeys, c.resKeys = make(map[string]string), make(map[string]string)
	return c
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Valid requests are converted by the fast path alone, into the reference
// documents.
func TestFastPathTakenAndAgrees(t *testing.T) {
	attrs := &tracepb.Span{TraceId: tid, SpanId: sid, ParentSpanId: pid, Name: "op", TraceState: "k=v", Kind: 42,
		StartTimeUnixNano: 2, EndTimeUnixNano: 1, // negative duration
		Status: &tracepb.Status{Code: 2, Message: "boom"}, DroppedAttributesCount: 1, DroppedEventsCount: 2, DroppedLinksCount: 3,
		Attributes: kvs(
			"s", str("x"), "i", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: -3}},
			"d", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.25}},
			"b", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}},
			"raw", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{1, 2, 255}}},
			"empty.bytes", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{}},
			"list", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
				str("x"), {}, {Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs("a.b", (*commonpb.AnyValue)(nil))}}}}}}},
			"map", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs(
				"k.1", str("v"), "k.1", str("dup"), "nested", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{}}})}}},
			"unset", &commonpb.AnyValue{}, "nilvalue", (*commonpb.AnyValue)(nil), "s", str("duplicate key, last wins")),
		Events: []*tracepb.Span_Event{{Name: "e", TimeUnixNano: 5, Attributes: kvs("x.y", str("z")), DroppedAttributesCount: 4}, {}},
		Links:  []*tracepb.Span_Link{{TraceId: tid, SpanId: pid, TraceState: "a=b", Attributes: kvs("l.k", str("f")), DroppedAttributesCount: 5}}}
	res := &resourcepb.Resource{Attributes: kvs("service.name", str(""), "service.name", str("svc"), "host.name", str("h"))}
	twoResources := request(res, attrs)
	twoResources.ResourceSpans = append(twoResources.ResourceSpans, &tracepb.ResourceSpans{
		Resource:   &resourcepb.Resource{Attributes: kvs("other", str("r"))},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{TraceId: tid, SpanId: sid, Name: "no scope"}}}, {}}}, &tracepb.ResourceSpans{})
	cases := map[string]*coltracepb.ExportTraceServiceRequest{
		"fixture":          loadFixture(t),
		"benchmark":        otlptest.TraceRequest(3, 100),
		"all value types":  request(res, attrs),
		"two resources":    twoResources,
		"no resource":      request(nil, &tracepb.Span{TraceId: tid, SpanId: sid}),
		"no spans":         {ResourceSpans: []*tracepb.ResourceSpans{{Resource: res}}},
		"empty":            {},
		"zero parent root": request(nil, &tracepb.Span{TraceId: tid, SpanId: sid, ParentSpanId: make([]byte, 8), Name: "r"}),
	}
	for name, req := range cases {
		body := mustMarshal(t, req)
		if !fastOK(t, body) {
			t.Errorf("%s: the fast path refused a valid request", name)
		}
		got, err := DecodeTraces(body, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameResult(t, name, ConvertTraces(req), got)
	}
}

// Requests the fast path cannot convert exactly go to the reference path:
// same documents, rejections, messages and errors as before.
func TestFastPathFallsBack(t *testing.T) {
	good := func(name string) *tracepb.Span { return &tracepb.Span{TraceId: tid, SpanId: sid, Name: name} }
	deep := str("leaf")
	for i := 0; i < maxValueDepth+2; i++ {
		deep = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{deep}}}}
	}
	withLink := func(l *tracepb.Span_Link) *tracepb.Span {
		sp := good("linked")
		sp.Links = []*tracepb.Span_Link{l}
		return sp
	}
	cases := map[string]*coltracepb.ExportTraceServiceRequest{
		"short trace id":   request(nil, good("a"), &tracepb.Span{TraceId: tid[:8], SpanId: sid, Name: "short"}),
		"zero trace id":    request(nil, &tracepb.Span{TraceId: make([]byte, 16), SpanId: sid}, good("b")),
		"empty trace id":   request(nil, &tracepb.Span{SpanId: sid}),
		"empty span id":    request(nil, &tracepb.Span{TraceId: tid}),
		"zero span id":     request(nil, &tracepb.Span{TraceId: tid, SpanId: make([]byte, 8)}),
		"bad parent":       request(nil, &tracepb.Span{TraceId: tid, SpanId: sid, ParentSpanId: []byte{1}}),
		"empty link ids":   request(nil, withLink(&tracepb.Span_Link{})),
		"zero link ids":    request(nil, withLink(&tracepb.Span_Link{TraceId: make([]byte, 16), SpanId: make([]byte, 8)})),
		"short link id":    request(nil, withLink(&tracepb.Span_Link{TraceId: tid[:3], SpanId: sid})),
		"deeply nested":    request(nil, &tracepb.Span{TraceId: tid, SpanId: sid, Attributes: kvs("deep", deep)}),
		"deep scope attrs": {ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Attributes: kvs("d", deep)}, Spans: []*tracepb.Span{good("s")}}}}}},
	}
	for name, req := range cases {
		body := mustMarshal(t, req)
		if fastOK(t, body) {
			t.Errorf("%s: the fast path accepted it", name)
		}
		ref, err := decodeTracesReference(body)
		if err != nil {
			t.Fatalf("%s: reference: %v", name, err)
		}
		got, err := DecodeTraces(body, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameResult(t, name, ref, got)
	}
}

// Invalid UTF-8 in any string field is a malformed request, as
// google.golang.org/protobuf (and protobuf-java in Data Prepper) says.
func TestInvalidUTF8RejectsRequest(t *testing.T) {
	const bad = "caf\xe9"
	good := &tracepb.Span{TraceId: tid, SpanId: sid, Name: "ok"}
	// Encode with strings that proto.Marshal would refuse: marshal with a
	// placeholder and patch the bytes.
	build := func(mut func(sp *tracepb.Span, rs *tracepb.ResourceSpans)) []byte {
		sp := proto.Clone(good).(*tracepb.Span)
		req := request(&resourcepb.Resource{}, sp)
		mut(sp, req.ResourceSpans[0])
		b := mustMarshal(t, req)
		return bytes.ReplaceAll(b, []byte("PLACEHOLDER"), []byte(bad+"0123456"[:len("PLACEHOLDER")-len(bad)]))
	}
	cases := map[string][]byte{
		"span name":       build(func(sp *tracepb.Span, _ *tracepb.ResourceSpans) { sp.Name = "PLACEHOLDER" }),
		"attribute key":   build(func(sp *tracepb.Span, _ *tracepb.ResourceSpans) { sp.Attributes = kvs("PLACEHOLDER", str("v")) }),
		"attribute value": build(func(sp *tracepb.Span, _ *tracepb.ResourceSpans) { sp.Attributes = kvs("k", str("PLACEHOLDER")) }),
		"nested value": build(func(sp *tracepb.Span, _ *tracepb.ResourceSpans) {
			sp.Attributes = kvs("k", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{str("PLACEHOLDER")}}}})
		}),
		"trace state":    build(func(sp *tracepb.Span, _ *tracepb.ResourceSpans) { sp.TraceState = "PLACEHOLDER" }),
		"status message": build(func(sp *tracepb.Span, _ *tracepb.ResourceSpans) { sp.Status = &tracepb.Status{Message: "PLACEHOLDER"} }),
		"event name": build(func(sp *tracepb.Span, _ *tracepb.ResourceSpans) {
			sp.Events = []*tracepb.Span_Event{{Name: "PLACEHOLDER"}}
		}),
		"link state": build(func(sp *tracepb.Span, _ *tracepb.ResourceSpans) {
			sp.Links = []*tracepb.Span_Link{{TraceId: tid, SpanId: sid, TraceState: "PLACEHOLDER"}}
		}),
		"resource attribute": build(func(_ *tracepb.Span, rs *tracepb.ResourceSpans) {
			rs.Resource.Attributes = kvs("k", str("PLACEHOLDER"))
		}),
		"schema url":    build(func(_ *tracepb.Span, rs *tracepb.ResourceSpans) { rs.SchemaUrl = "PLACEHOLDER" }),
		"scope version": build(func(_ *tracepb.Span, rs *tracepb.ResourceSpans) { rs.ScopeSpans[0].Scope.Version = "PLACEHOLDER" }),
		"scope attribute": build(func(_ *tracepb.Span, rs *tracepb.ResourceSpans) {
			rs.ScopeSpans[0].Scope.Attributes = kvs("PLACEHOLDER", str("v"))
		}),
		"request without spans": func() []byte {
			req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{SchemaUrl: "PLACEHOLDER"}}}
			return bytes.ReplaceAll(mustMarshal(t, req), []byte("PLACEHOLDER"), []byte(bad+"0123456"))
		}(),
	}
	for name, body := range cases {
		if !bytes.Contains(body, []byte(bad)) {
			t.Fatalf("%s: placeholder not replaced", name)
		}
		if fastOK(t, body) {
			t.Errorf("%s: the fast path accepted invalid UTF-8", name)
		}
		_, err := DecodeTraces(body, false)
		if err == nil || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("%s: err = %v, want google.golang.org/protobuf's invalid UTF-8 error", name, err)
		}
	}
}

// Malformed requests get google.golang.org/protobuf's error, as before.
func TestMalformedProtobufError(t *testing.T) {
	for _, body := range [][]byte{{0x0a, 0xff}, {0x0a, 0x02, 0x0a}, protowire.AppendTag(nil, 0, protowire.VarintType)} {
		_, want := decodeTracesReference(body)
		_, err := DecodeTraces(body, false)
		if err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("%x: err %v, want %v", body, err, want)
		}
	}
}

// The pooled converter carries nothing from one request into the next: a
// refused request leaves no state behind, and resources do not leak.
func TestPooledDecodeDoesNotLeak(t *testing.T) {
	a := otlptest.TraceRequest(0, 10)
	b := request(&resourcepb.Resource{Attributes: kvs("service.name", str("other"))},
		&tracepb.Span{TraceId: tid, SpanId: sid, Name: "b"})
	bad := request(nil, &tracepb.Span{TraceId: tid, SpanId: make([]byte, 8)})
	bodyA, bodyB, bodyBad := mustMarshal(t, a), mustMarshal(t, b), mustMarshal(t, bad)
	var docs [][]byte
	for round := 0; round < 3; round++ {
		ra, _ := DecodeTraces(bodyA, false)
		rbad, _ := DecodeTraces(bodyBad, false)
		rb, err := DecodeTraces(bodyB, false)
		if err != nil || len(rb.Events) != 1 || rbad.Rejected != 1 || len(ra.Events) != 10 {
			t.Fatalf("round %d: %v %d %d %d", round, err, len(rb.Events), rbad.Rejected, len(ra.Events))
		}
		f := rb.Events[0].Fields()
		for k := range f {
			if strings.HasPrefix(k, ResourceAttributesPrefix) && k != "resource.attributes.service@name" {
				t.Fatalf("round %d: %s leaked into another request's span", round, k)
			}
		}
		if f["serviceName"] != "other" {
			t.Fatalf("serviceName %v", f["serviceName"])
		}
		docs = append(docs, rb.Events[0].AppendJSON(nil), ra.Events[9].AppendJSON(nil))
	}
	for i := 2; i < len(docs); i++ {
		if !bytes.Equal(docs[i], docs[i%2]) {
			t.Fatalf("documents change between rounds:\n%s\n%s", docs[i], docs[i%2])
		}
	}
	// Documents do not share mutable state with the decoder's buffers.
	rb, _ := DecodeTraces(bodyB, false)
	before := rb.Events[0].AppendJSON(nil)
	clear(bodyB)
	DecodeTraces(bodyA, false)
	if after := rb.Events[0].AppendJSON(nil); !bytes.Equal(before, after) {
		t.Fatalf("a document changed when the request buffer was reused:\n%s\n%s", before, after)
	}
}

// FuzzDecodeTracesProtobuf: for any input the protobuf path (pdata fast path
// with its fallback) and the reference path (google.golang.org/protobuf)
// agree on the error and on every document.
func FuzzDecodeTracesProtobuf(f *testing.F) {
	f.Add(otlptest.TraceRequestBytes(0, 3))
	if data, err := os.ReadFile(fixturePath); err == nil {
		req := &coltracepb.ExportTraceServiceRequest{}
		if UnmarshalJSON(data, req) == nil {
			f.Add(mustMarshal(f, req))
		}
	}
	f.Add(mustMarshal(f, request(nil, &tracepb.Span{TraceId: tid, SpanId: sid, ParentSpanId: pid, Links: []*tracepb.Span_Link{{}},
		Attributes: kvs("k", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs("a.b", str("c"))}}})})))
	f.Add([]byte{0x0a, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, refErr := decodeTracesReference(data)
		got, err := DecodeTraces(data, false)
		if (refErr == nil) != (err == nil) {
			t.Fatalf("reference error %v, protobuf path error %v", refErr, err)
		}
		if err != nil {
			return
		}
		sameResult(t, "fuzz", ref, got)
		for _, ev := range got.Events {
			if _, err := event.DecodeJSONObject(ev.AppendJSON(nil)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// The wire check accepts what google.golang.org/protobuf accepts unchanged
// and nothing it rejects; the cases pdata alone would get wrong go to the
// reference path.
func TestWireCheck(t *testing.T) {
	good := mustMarshal(t, otlptest.TraceRequest(0, 3))
	if !traceWire.valid(good) || !traceWire.valid(nil) {
		t.Fatal("a valid request failed the wire check")
	}
	status := protowire.AppendTag(nil, 15, protowire.BytesType) // Span.status
	status = protowire.AppendBytes(status, protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), "m"))
	span := mustMarshal(t, &tracepb.Span{TraceId: tid, SpanId: sid})
	twice := append(append(append([]byte(nil), span...), status...), status...)
	ss := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), twice)     // ScopeSpans.spans
	rs := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), ss)        // ResourceSpans.scope_spans
	dupStatus := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rs) // request.resource_spans
	entity := mustMarshal(t, &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{EntityRefs: []*commonpb.EntityRef{{Type: "PLACEHOLDER"}}}}}})
	entity = bytes.ReplaceAll(entity, []byte("PLACEHOLDER"), []byte("caf\xe90123456"))
	// ResourceSpans with only the deprecated instrumentation_library_spans
	// (field 1000): pdata would convert its spans, the reference ignores them.
	lib := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), span) // spans
	deprecated := protowire.AppendBytes(protowire.AppendTag(nil, 1000, protowire.BytesType), lib)
	deprecated = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), deprecated)
	for name, body := range map[string][]byte{
		"deprecated library spans":   deprecated,
		"unterminated unknown group": []byte("C00"),
		"end group at top level":     protowire.AppendTag(nil, 9, protowire.EndGroupType),
		"field number 0":             {0x02, 0x00},
		"field number too large":     []byte("\xcd\xcc\xcc\xcc<<<<<"),
		"truncated length":           {0x0a, 0x05, 0x00},
		"singular message twice":     dupStatus,
		"invalid UTF-8 entity ref":   entity,
	} {
		if traceWire.valid(body) {
			t.Errorf("%s: passed the wire check", name)
		}
		ref, refErr := decodeTracesReference(body)
		got, err := DecodeTraces(body, false)
		if (refErr == nil) != (err == nil) || err != nil && err.Error() != refErr.Error() {
			t.Fatalf("%s: error %v, reference %v", name, err, refErr)
		}
		if err == nil {
			sameResult(t, name, ref, got)
		}
	}
	// A well-formed known unknown group passes.
	group := protowire.AppendTag(nil, 99, protowire.StartGroupType)
	group = protowire.AppendVarint(protowire.AppendTag(group, 1, protowire.VarintType), 7)
	group = protowire.AppendTag(group, 99, protowire.EndGroupType)
	if !traceWire.valid(append(append([]byte(nil), good...), group...)) {
		t.Error("a well-formed unknown group failed the wire check")
	}
}

// Spans with the same attribute keys under the same resource share a
// key-order hint; others get their own (a shared hint is only a guess, but
// a precise one saves the encoder's work).
func TestOrderHintGroups(t *testing.T) {
	a := &tracepb.Span{TraceId: tid, SpanId: sid, Attributes: kvs("x", str("1"), "y", str("2"))}
	b := &tracepb.Span{TraceId: tid, SpanId: pid, Attributes: kvs("x", str("3"), "y", str("4"))}
	c := &tracepb.Span{TraceId: tid, SpanId: sid, Attributes: kvs("x", str("5"))}
	req := request(&resourcepb.Resource{Attributes: kvs("service.name", str("s"))}, a, b, c)
	req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{
		Resource:   &resourcepb.Resource{Attributes: kvs("service.name", str("t"), "host", str("h"))},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{b}}}})
	res, err := DecodeTraces(mustMarshal(t, req), false)
	if err != nil || len(res.Events) != 4 {
		t.Fatal(err, len(res.Events))
	}
	h := make([]*event.OrderHint, 4)
	for i, ev := range res.Events {
		h[i] = ev.OrderHint()
	}
	if h[0] == nil || h[0] != h[1] || h[1] == h[2] || h[2] == h[3] || h[0] == h[3] {
		t.Errorf("hints %p %p %p %p: want the first two shared, the others distinct", h[0], h[1], h[2], h[3])
	}
	sameResult(t, "hinted", ConvertTraces(req), res)
}
