package otlp

import (
	"encoding/base64"
	"strconv"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/weft-agent/weft/pipelines/event"
)

// Field names of a Trace Analytics span document, as Data Prepper's
// JacksonSpan writes them.
const (
	FieldTraceID                = "traceId"
	FieldSpanID                 = "spanId"
	FieldParentSpanID           = "parentSpanId"
	FieldName                   = "name"
	FieldKind                   = "kind"
	FieldStartTime              = "startTime"
	FieldEndTime                = "endTime"
	FieldDurationInNanos        = "durationInNanos"
	FieldServiceName            = "serviceName"
	FieldStatus                 = "status"
	FieldTraceGroup             = "traceGroup"
	FieldTraceGroupFields       = "traceGroupFields"
	FieldEvents                 = "events"
	FieldLinks                  = "links"
	FieldDroppedAttributesCount = "droppedAttributesCount"
	FieldDroppedEventsCount     = "droppedEventsCount"
	FieldDroppedLinksCount      = "droppedLinksCount"
	FieldTraceState             = "traceState"
	FieldInstrumentationScope   = "instrumentationScope"

	// Members of status, traceGroupFields, events[], links[] and
	// instrumentationScope.
	FieldCode       = "code"
	FieldMessage    = "message"
	FieldStatusCode = "statusCode"
	FieldTime       = "time"
	FieldAttributes = "attributes"
	FieldVersion    = "version"

	// SpanAttributesPrefix and ResourceAttributesPrefix start the flattened
	// attribute keys (span.attributes.http@method): each is one top-level
	// field name, with every '.' of the attribute key replaced by '@'.
	SpanAttributesPrefix     = "span.attributes."
	ResourceAttributesPrefix = "resource.attributes."

	// MetadataSignal is the event metadata key naming the OTLP signal.
	MetadataSignal = "signal"
	// SignalTraces is its value for spans.
	SignalTraces = "traces"
)

// spanMetadata is the metadata of every span event, shared by all of them.
var spanMetadata = map[string]any{MetadataSignal: SignalTraces}

// serviceNameKey is the resource attribute holding the service name.
const serviceNameKey = "service.name"

// spanFields is the number of fixed top-level fields of a span document.
const spanFields = 19

// Result is what converting one export request produced.
type Result struct {
	// Events are the accepted items, in request order.
	Events []*event.Event
	// Rejected counts items refused individually (OTLP partial success);
	// Message describes the first problem and how many there were.
	Rejected int64
	Message  string
}

// ConvertTraces turns every span of an OTLP export request into a span
// event (event.KindSpan, Time = start time) whose fields are a Trace
// Analytics span document. Spans with an invalid trace or span ID are
// rejected individually and reported in the result.
func ConvertTraces(req *coltracepb.ExportTraceServiceRequest) Result {
	c := converterPool.Get().(*converter)
	defer converterPool.Put(c)
	return c.traces(req)
}

var converterPool = sync.Pool{New: func() any {
	return &converter{spanKeys: make(map[string]string, 64), resKeys: make(map[string]string, 32)}
}}

// maxKeyCache bounds each cache of flattened attribute keys.
const maxKeyCache = 4096

// converter holds per-goroutine scratch state: caches of flattened keys
// (attribute keys repeat from span to span) and a byte buffer.
type converter struct {
	spanKeys map[string]string
	resKeys  map[string]string
	logKeys  map[string]string // made by the first logs conversion
	buf      []byte
	res      []kv
	// bail is set by the pdata conversion when the request must take the
	// reference path (traces_pdata.go).
	bail bool
	// The key-order hint of the last span documents and the keys they had
	// (traces_pdata.go); attrKeys is scratch.
	hint         *event.OrderHint
	hintSpanKeys []string
	hintResKeys  []string
	attrKeys     []string
}

type kv struct {
	k string
	v any
}

// scopeCtx holds the instrumentation scope of spans, boxed once.
type scopeCtx struct{ name, version any }

// resourceCtx holds what every span of one resource shares.
type resourceCtx struct {
	attrs       []kv
	serviceName any // string, or nil when the resource has none
}

func (c *converter) traces(req *coltracepb.ExportTraceServiceRequest) Result {
	total := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			total += len(ss.GetSpans())
		}
	}
	var r Result
	if total == 0 {
		return r
	}
	batch := event.NewBatch(total, event.KindSpan, time.Time{})
	r.Events = batch[:0]
	var firstErr string
	for _, rs := range req.ResourceSpans {
		if rs == nil {
			continue
		}
		rc := c.resource(rs.Resource)
		for _, ss := range rs.ScopeSpans {
			if ss == nil {
				continue
			}
			sc := scopeCtx{name: "", version: ""} // boxed constants: no allocation
			if ss.Scope != nil {
				sc = scopeCtx{name: ss.Scope.Name, version: ss.Scope.Version}
			}
			for _, sp := range ss.Spans {
				if sp == nil {
					continue
				}
				if msg := validateSpan(sp); msg != "" {
					r.Rejected++
					if firstErr == "" {
						firstErr = msg
					}
					continue
				}
				ev := batch[len(r.Events)]
				c.span(ev, sp, &rc, &sc)
				r.Events = append(r.Events, ev)
			}
		}
	}
	if r.Rejected > 0 {
		r.Message = "rejected " + strconv.FormatInt(r.Rejected, 10) + " of " + strconv.Itoa(total) +
			" spans with invalid IDs; first: " + firstErr
	}
	return r
}

// validateSpan returns why a span cannot be a document, or "".
func validateSpan(sp *tracepb.Span) string {
	switch {
	case len(sp.TraceId) != 16:
		return "span " + strconv.Quote(truncate(sp.Name)) + ": trace_id has " + strconv.Itoa(len(sp.TraceId)) + " bytes, want 16"
	case allZero(sp.TraceId):
		return "span " + strconv.Quote(truncate(sp.Name)) + ": trace_id is all zero"
	case len(sp.SpanId) != 8:
		return "span " + strconv.Quote(truncate(sp.Name)) + ": span_id has " + strconv.Itoa(len(sp.SpanId)) + " bytes, want 8"
	case allZero(sp.SpanId):
		return "span " + strconv.Quote(truncate(sp.Name)) + ": span_id is all zero"
	case len(sp.ParentSpanId) != 0 && len(sp.ParentSpanId) != 8:
		return "span " + strconv.Quote(truncate(sp.Name)) + ": parent_span_id has " + strconv.Itoa(len(sp.ParentSpanId)) + " bytes, want 8 or none"
	}
	return ""
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// resource converts a resource's attributes once for all its spans.
func (c *converter) resource(res *resourcepb.Resource) resourceCtx {
	c.res = c.res[:0]
	var rc resourceCtx
	if res == nil {
		return rc
	}
	for _, a := range res.Attributes {
		if a == nil {
			continue
		}
		if rc.serviceName == nil && a.Key == serviceNameKey {
			if s := a.Value.GetStringValue(); s != "" {
				rc.serviceName = s
			}
		}
		c.res = append(c.res, kv{c.flatKey(c.resKeys, ResourceAttributesPrefix, a.Key), attrValue(a.Value)})
	}
	rc.attrs = c.res
	return rc
}

// span fills ev from a validated span.
func (c *converter) span(ev *event.Event, sp *tracepb.Span, rc *resourceCtx, sc *scopeCtx) {
	p := spanParts{root: len(sp.ParentSpanId) == 0 || allZero(sp.ParentSpanId),
		name: sp.Name, kind: sp.Kind, traceState: sp.TraceState, start: sp.StartTimeUnixNano, end: sp.EndTimeUnixNano,
		droppedAttrs: sp.DroppedAttributesCount, droppedEvents: sp.DroppedEventsCount, droppedLinks: sp.DroppedLinksCount,
		events: spanEvents(sp.Events), links: spanLinks(sp.Links), attrs: len(sp.Attributes)}
	copy(p.traceID[:], sp.TraceId) // lengths validated
	copy(p.spanID[:], sp.SpanId)
	copy(p.parentID[:], sp.ParentSpanId)
	if sp.Status != nil {
		p.statusCode, p.statusMessage = int64(sp.Status.Code), sp.Status.Message
	}
	f := c.spanDoc(&p, rc, sc)
	for _, a := range sp.Attributes {
		if a != nil {
			f[c.flatKey(c.spanKeys, SpanAttributesPrefix, a.Key)] = attrValue(a.Value)
		}
	}
	finishSpan(ev, f, sp.StartTimeUnixNano)
}

// spanParts is what a span document is made of, whichever decoder read the
// span (span here, fastSpan in traces_pdata.go).
type spanParts struct {
	traceID          [16]byte
	spanID, parentID [8]byte
	root             bool // no parent (empty or all zero)
	name, traceState string
	kind             tracepb.Span_SpanKind
	statusCode       int64
	statusMessage    string
	start, end       uint64 // Unix nanoseconds
	droppedAttrs     uint32
	droppedEvents    uint32
	droppedLinks     uint32
	events, links    any
	attrs            int // number of span attributes, for sizing
}

// spanDoc builds a span document with every field but the span attributes,
// which the caller adds.
func (c *converter) spanDoc(p *spanParts, rc *resourceCtx, sc *scopeCtx) map[string]any {
	// One string holds the IDs and both times; the fields are slices of it.
	root := p.root
	b := c.buf[:0]
	b = appendHex(b, p.traceID[:])
	b = appendHex(b, p.spanID[:])
	if !root {
		b = appendHex(b, p.parentID[:])
	}
	b = appendTime(b, p.start)
	b = appendTime(b, p.end)
	c.buf = b
	s := string(b)
	traceID, spanID, off := s[0:32], s[32:48], 48
	parent := ""
	if !root {
		parent, off = s[48:64], 64
	}
	start, end := s[off:off+timeLen], s[off+timeLen:off+2*timeLen]
	dur := int64(p.end - p.start)

	// Values used twice are boxed once.
	nameV, endV, durV, codeV := any(p.name), any(end), any(dur), any(p.statusCode)
	f := make(map[string]any, spanFields+p.attrs+len(rc.attrs))
	f[FieldTraceID] = traceID
	f[FieldSpanID] = spanID
	f[FieldParentSpanID] = parent
	f[FieldName] = nameV
	f[FieldKind] = kindValue(p.kind)
	f[FieldStartTime] = start
	f[FieldEndTime] = endV
	f[FieldDurationInNanos] = durV
	f[FieldServiceName] = rc.serviceName
	f[FieldStatus] = map[string]any{FieldCode: codeV, FieldMessage: p.statusMessage}
	if root {
		f[FieldTraceGroup] = nameV
		f[FieldTraceGroupFields] = map[string]any{FieldEndTime: endV, FieldDurationInNanos: durV, FieldStatusCode: codeV}
	} else {
		// Filled by the otel_trace_raw processor once the root is known.
		f[FieldTraceGroup] = nil
		f[FieldTraceGroupFields] = map[string]any{FieldEndTime: nil, FieldDurationInNanos: nil, FieldStatusCode: nil}
	}
	f[FieldEvents] = p.events
	f[FieldLinks] = p.links
	f[FieldDroppedAttributesCount] = int64(p.droppedAttrs)
	f[FieldDroppedEventsCount] = int64(p.droppedEvents)
	f[FieldDroppedLinksCount] = int64(p.droppedLinks)
	f[FieldTraceState] = p.traceState
	f[FieldInstrumentationScope] = map[string]any{FieldName: sc.name, FieldVersion: sc.version}
	for _, a := range rc.attrs {
		f[a.k] = a.v
	}
	return f
}

// finishSpan makes ev the span event of document f.
func finishSpan(ev *event.Event, f map[string]any, startNS uint64) {
	ev.Kind = event.KindSpan
	ev.Time = unixNano(startNS)
	ev.SetFields(f)
	ev.ShareMetadata(spanMetadata)
}

func unixNano(ns uint64) time.Time {
	return time.Unix(int64(ns/1e9), int64(ns%1e9)).UTC()
}

var kindNames = [...]string{
	tracepb.Span_SPAN_KIND_UNSPECIFIED: "SPAN_KIND_UNSPECIFIED",
	tracepb.Span_SPAN_KIND_INTERNAL:    "SPAN_KIND_INTERNAL",
	tracepb.Span_SPAN_KIND_SERVER:      "SPAN_KIND_SERVER",
	tracepb.Span_SPAN_KIND_CLIENT:      "SPAN_KIND_CLIENT",
	tracepb.Span_SPAN_KIND_PRODUCER:    "SPAN_KIND_PRODUCER",
	tracepb.Span_SPAN_KIND_CONSUMER:    "SPAN_KIND_CONSUMER",
}

var kindValues = func() (out [len(kindNames)]any) {
	for i, n := range kindNames {
		out[i] = n
	}
	return out
}()

var unrecognized any = "UNRECOGNIZED"

func kindValue(k tracepb.Span_SpanKind) any {
	if k >= 0 && int(k) < len(kindValues) {
		return kindValues[k]
	}
	return unrecognized
}

// KindName returns the enum name of a span kind (SPAN_KIND_SERVER), or
// UNRECOGNIZED for a value the protocol does not define, as Data Prepper
// (protobuf-java) does.
func KindName(k tracepb.Span_SpanKind) string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "UNRECOGNIZED"
}

// emptyList is the events and links value of spans without any: one
// shared empty slice (appending to it allocates a new one).
var emptyList any = []any{}

func spanEvents(evs []*tracepb.Span_Event) any {
	if len(evs) == 0 {
		return emptyList
	}
	out := make([]any, 0, len(evs))
	for _, e := range evs {
		if e == nil {
			continue
		}
		out = append(out, map[string]any{
			FieldName:                   e.Name,
			FieldTime:                   FormatTime(e.TimeUnixNano),
			FieldAttributes:             attrMap(e.Attributes),
			FieldDroppedAttributesCount: int64(e.DroppedAttributesCount),
		})
	}
	return out
}

func spanLinks(links []*tracepb.Span_Link) any {
	if len(links) == 0 {
		return emptyList
	}
	out := make([]any, 0, len(links))
	for _, l := range links {
		if l == nil {
			continue
		}
		out = append(out, map[string]any{
			FieldTraceID:                HexID(l.TraceId),
			FieldSpanID:                 HexID(l.SpanId),
			FieldTraceState:             l.TraceState,
			FieldAttributes:             attrMap(l.Attributes),
			FieldDroppedAttributesCount: int64(l.DroppedAttributesCount),
		})
	}
	return out
}

// attrMap converts event and link attributes: keys with '.' replaced by
// '@' (as Data Prepper does), values as for span attributes.
func attrMap(attrs []*commonpb.KeyValue) map[string]any {
	m := make(map[string]any, len(attrs))
	for _, a := range attrs {
		if a != nil {
			m[replaceDots(a.Key)] = attrValue(a.Value)
		}
	}
	return m
}

// flatKey returns prefix + key with '.' replaced by '@', from cache when
// the key was seen before.
func (c *converter) flatKey(cache map[string]string, prefix, key string) string {
	if k, ok := cache[key]; ok {
		return k
	}
	b := make([]byte, 0, len(prefix)+len(key))
	b = append(b, prefix...)
	b = appendReplacingDots(b, key)
	k := string(b)
	if len(cache) >= maxKeyCache {
		clear(cache)
	}
	cache[key] = k
	return k
}

func appendReplacingDots(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			c = '@'
		}
		b = append(b, c)
	}
	return b
}

func replaceDots(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return string(appendReplacingDots(make([]byte, 0, len(s)), s))
		}
	}
	return s
}

// maxValueDepth bounds the nesting of array and kvlist values that is kept;
// deeper values become null.
const maxValueDepth = 64

// attrValue converts an attribute value into a field value: strings,
// int64, float64 and bool as they are, bytes as base64, and arrays and
// key-value lists as a JSON string, as Data Prepper does (the Trace
// Analytics index template maps every attribute as a keyword, which an
// object cannot be). An unset value is "".
func attrValue(v *commonpb.AnyValue) any {
	if v == nil {
		return ""
	}
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue, *commonpb.AnyValue_KvlistValue:
		return string(event.AppendJSON(nil, nativeValue(v, 0)))
	}
	return ""
}

// nativeValue converts a value into a JSON-like tree (for arrays and
// kvlists, whose keys get '@' for '.').
func nativeValue(v *commonpb.AnyValue, depth int) any {
	if v == nil {
		return nil
	}
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_ArrayValue:
		if depth >= maxValueDepth {
			return nil
		}
		vals := x.ArrayValue.GetValues()
		out := make([]any, len(vals))
		for i, e := range vals {
			out[i] = nativeValue(e, depth+1)
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		if depth >= maxValueDepth {
			return nil
		}
		vals := x.KvlistValue.GetValues()
		out := make(map[string]any, len(vals))
		for _, e := range vals {
			if e != nil {
				out[replaceDots(e.Key)] = nativeValue(e.Value, depth+1)
			}
		}
		return out
	case nil:
		return nil
	}
	return attrValue(v)
}
