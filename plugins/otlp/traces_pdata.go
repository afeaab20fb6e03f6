package otlp

import (
	"encoding/base64"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
)

// The protobuf trace path has two decoders that produce the same documents.
//
// The fast path decodes with the OpenTelemetry Collector's pdata (generated
// code without reflection, span attributes stored inline: about 2.5 times
// faster than google.golang.org/protobuf with 40 % fewer allocations) and
// converts from it. It takes only requests that the reference path would
// convert unchanged: the wire check (wirecheck.go) finds the encoding well
// formed with valid UTF-8 strings, every span has valid IDs, no attribute
// value is nested deeper than maxValueDepth, and no link ID is empty or all
// zero (pdata cannot tell those apart).
//
// Anything else — a malformed request, spans to reject individually, invalid
// UTF-8 — takes the reference path: google.golang.org/protobuf decodes (its
// error is the request's error) and ConvertTraces converts, as before. The
// reference path is also what OTLP/JSON uses. FuzzDecodeTracesProtobuf
// checks that both paths agree.

// traceWire checks export requests for the fast path.
var traceWire = newWireCheck((&coltracepb.ExportTraceServiceRequest{}).ProtoReflect().Descriptor())

// decodeTracesProto decodes a protobuf ExportTraceServiceRequest and
// converts its spans.
func decodeTracesProto(body []byte) (Result, error) {
	req := ptraceotlp.NewExportRequest()
	if traceWire.valid(body) && req.UnmarshalProto(body) == nil {
		c := converterPool.Get().(*converter)
		r, ok := c.fastTraces(req.Traces())
		converterPool.Put(c)
		if ok {
			return r, nil
		}
	}
	return decodeTracesReference(body)
}

// decodeTracesReference is the reference protobuf path.
func decodeTracesReference(body []byte) (Result, error) {
	preq := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(body, preq); err != nil {
		return Result{}, err
	}
	return ConvertTraces(preq), nil
}

// fastTraces converts a pdata request; false means the reference path
// must decide (see above).
func (c *converter) fastTraces(td ptrace.Traces) (Result, bool) {
	var r Result
	total := td.SpanCount()
	if total == 0 {
		return r, true
	}
	c.bail = false
	batch := event.NewBatch(total, event.KindSpan, time.Time{})
	r.Events = batch[:0]
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		rc := c.fastResource(rs.Resource())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope()
			sc := scopeCtx{name: scope.Name(), version: scope.Version()}
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				tid, sid := sp.TraceID(), sp.SpanID()
				if tid.IsEmpty() || sid.IsEmpty() {
					return Result{}, false // rejected individually, with the reference's message
				}
				ev := batch[len(r.Events)]
				c.fastSpan(ev, sp, &rc, &sc)
				r.Events = append(r.Events, ev)
			}
			if c.bail {
				return Result{}, false
			}
		}
	}
	return r, !c.bail
}

// fastResource is resource for pdata.
func (c *converter) fastResource(res pcommon.Resource) resourceCtx {
	c.res = c.res[:0]
	var rc resourceCtx
	res.Attributes().Range(func(k string, v pcommon.Value) bool {
		if rc.serviceName == nil && k == serviceNameKey && v.Type() == pcommon.ValueTypeStr {
			if s := v.Str(); s != "" {
				rc.serviceName = s
			}
		}
		c.res = append(c.res, kv{c.flatKey(c.resKeys, ResourceAttributesPrefix, k), c.fastValue(v)})
		return true
	})
	rc.attrs = c.res
	return rc
}

// fastSpan is span for pdata.
func (c *converter) fastSpan(ev *event.Event, sp ptrace.Span, rc *resourceCtx, sc *scopeCtx) {
	tid, sid, pid := sp.TraceID(), sp.SpanID(), sp.ParentSpanID()
	attrs := sp.Attributes()
	st := sp.Status()
	p := spanParts{traceID: tid, spanID: sid, parentID: pid, root: pid.IsEmpty(),
		name: sp.Name(), kind: tracepb.Span_SpanKind(sp.Kind()), traceState: sp.TraceState().AsRaw(),
		statusCode: int64(st.Code()), statusMessage: st.Message(),
		start: uint64(sp.StartTimestamp()), end: uint64(sp.EndTimestamp()),
		droppedAttrs: sp.DroppedAttributesCount(), droppedEvents: sp.DroppedEventsCount(), droppedLinks: sp.DroppedLinksCount(),
		events: c.fastEvents(sp.Events()), links: c.fastLinks(sp.Links()), attrs: attrs.Len()}
	f := c.spanDoc(&p, rc, sc)
	keys := c.attrKeys[:0]
	attrs.Range(func(k string, v pcommon.Value) bool {
		fk := c.flatKey(c.spanKeys, SpanAttributesPrefix, k)
		keys = append(keys, fk)
		f[fk] = c.fastValue(v)
		return true
	})
	c.attrKeys = keys
	finishSpan(ev, f, p.start)
	ev.SetOrderHint(c.orderHint(keys, rc))
}

// orderHint returns the key-order hint for a span document with these
// flattened span attribute keys under resource rc: the previous span's
// when both are the same (the documents then have the same field names),
// else a new one.
func (c *converter) orderHint(keys []string, rc *resourceCtx) *event.OrderHint {
	same := c.hint != nil && len(keys) == len(c.hintSpanKeys) && len(rc.attrs) == len(c.hintResKeys)
	for i := 0; same && i < len(keys); i++ {
		same = keys[i] == c.hintSpanKeys[i]
	}
	for i := 0; same && i < len(rc.attrs); i++ {
		same = rc.attrs[i].k == c.hintResKeys[i]
	}
	if !same {
		c.hint = new(event.OrderHint)
		c.hintSpanKeys = append(c.hintSpanKeys[:0], keys...)
		c.hintResKeys = c.hintResKeys[:0]
		for _, a := range rc.attrs {
			c.hintResKeys = append(c.hintResKeys, a.k)
		}
	}
	return c.hint
}

func (c *converter) fastEvents(evs ptrace.SpanEventSlice) any {
	if evs.Len() == 0 {
		return emptyList
	}
	out := make([]any, 0, evs.Len())
	for i := 0; i < evs.Len(); i++ {
		e := evs.At(i)
		name := e.Name()
		out = append(out, map[string]any{
			FieldName:                   name,
			FieldTime:                   FormatTime(uint64(e.Timestamp())),
			FieldAttributes:             c.fastAttrMap(e.Attributes()),
			FieldDroppedAttributesCount: int64(e.DroppedAttributesCount()),
		})
	}
	return out
}

func (c *converter) fastLinks(links ptrace.SpanLinkSlice) any {
	if links.Len() == 0 {
		return emptyList
	}
	out := make([]any, 0, links.Len())
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		tid, sid := l.TraceID(), l.SpanID()
		if tid.IsEmpty() || sid.IsEmpty() {
			// Empty or all zero: the reference writes "" for an empty ID.
			c.bail = true
		}
		ts := l.TraceState().AsRaw()
		out = append(out, map[string]any{
			FieldTraceID:                HexID(tid[:]),
			FieldSpanID:                 HexID(sid[:]),
			FieldTraceState:             ts,
			FieldAttributes:             c.fastAttrMap(l.Attributes()),
			FieldDroppedAttributesCount: int64(l.DroppedAttributesCount()),
		})
	}
	return out
}

// fastAttrMap is attrMap for pdata.
func (c *converter) fastAttrMap(attrs pcommon.Map) map[string]any {
	m := make(map[string]any, attrs.Len())
	attrs.Range(func(k string, v pcommon.Value) bool {
		m[replaceDots(k)] = c.fastValue(v)
		return true
	})
	return m
}

// fastValue is attrValue for pdata.
func (c *converter) fastValue(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := v.Str()
		return s
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return v.Double()
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice, pcommon.ValueTypeMap:
		return string(event.AppendJSON(nil, c.fastNative(v, 0)))
	}
	return ""
}

// fastNative is nativeValue for pdata. Values nested deeper than
// maxValueDepth take the reference path (which also validates their
// strings).
func (c *converter) fastNative(v pcommon.Value, depth int) any {
	switch v.Type() {
	case pcommon.ValueTypeSlice:
		if depth >= maxValueDepth {
			c.bail = true
			return nil
		}
		vals := v.Slice()
		out := make([]any, vals.Len())
		for i := range out {
			out[i] = c.fastNative(vals.At(i), depth+1)
		}
		return out
	case pcommon.ValueTypeMap:
		if depth >= maxValueDepth {
			c.bail = true
			return nil
		}
		vals := v.Map()
		out := make(map[string]any, vals.Len())
		vals.Range(func(k string, e pcommon.Value) bool {
			out[replaceDots(k)] = c.fastNative(e, depth+1)
			return true
		})
		return out
	case pcommon.ValueTypeEmpty:
		return nil
	}
	return c.fastValue(v)
}
