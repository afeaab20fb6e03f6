package tracecontext

import "strings"

// This file finds trace headers logged as fields: traceparent and the B3
// headers at the top level of the event, in any map directly under it
// (headers, metadata, ...) and in X/headers and X/request/headers below a
// top-level key X (request/headers, http/request/headers). Keys match
// without regard to case, with '_' matching '-'. One walk over the keys
// serves both the w3c and the b3 form.

type hdrKind uint8

const (
	hNone hdrKind = iota
	hTraceparent
	hB3Trace
	hB3Span
	hB3Sampled
	hB3Flags
	hB3Single
	hHeaders // a nested container of headers
	hRequest // a nested request object that may hold headers
)

// classifyHeader switches on the length first so that most keys are
// rejected with one comparison.
func classifyHeader(k string) hdrKind {
	switch len(k) {
	case 2:
		if headerEq(k, "b3") {
			return hB3Single
		}
	case 3:
		if headerEq(k, "req") {
			return hRequest
		}
	case 7:
		if headerEq(k, "headers") {
			return hHeaders
		}
		if headerEq(k, "request") {
			return hRequest
		}
	case 10:
		if headerEq(k, "x-b3-flags") {
			return hB3Flags
		}
	case 11:
		if headerEq(k, "traceparent") {
			return hTraceparent
		}
		if headerEq(k, "x-b3-spanid") {
			return hB3Span
		}
	case 12:
		if headerEq(k, "x-b3-traceid") {
			return hB3Trace
		}
		if headerEq(k, "x-b3-sampled") {
			return hB3Sampled
		}
	}
	return hNone
}

// headerSet is the trace headers of one map.
type headerSet struct {
	tp, tid, sid, sampled, flags, single any
	headers, request                     map[string]any
}

func (h *headerSet) add(k string, v any) {
	switch classifyHeader(k) {
	case hTraceparent:
		setFirst(&h.tp, v)
	case hB3Trace:
		setFirst(&h.tid, v)
	case hB3Span:
		setFirst(&h.sid, v)
	case hB3Sampled:
		setFirst(&h.sampled, v)
	case hB3Flags:
		setFirst(&h.flags, v)
	case hB3Single:
		setFirst(&h.single, v)
	case hHeaders:
		if m, ok := v.(map[string]any); ok && h.headers == nil {
			h.headers = m
		}
	case hRequest:
		if m, ok := v.(map[string]any); ok && h.request == nil {
			h.request = m
		}
	}
}

func setFirst(dst *any, v any) {
	if *dst == nil {
		*dst = v
	}
}

func (h *headerSet) fill(m map[string]any) {
	for k, v := range m {
		h.add(k, v)
	}
}

// candidate is the best map seen so far for one form. Lower ranks win:
// the top level (0), a top-level "headers" map (1), deeper header maps (2),
// other top-level maps (3); ties go to the smaller key, so the choice does
// not depend on map iteration order.
type candidate struct {
	set  headerSet
	rank int
	name string
	ok   bool
}

func (c *candidate) offer(h *headerSet, rank int, name string) {
	if c.ok && (rank > c.rank || rank == c.rank && name >= c.name) {
		return
	}
	c.set, c.rank, c.name, c.ok = *h, rank, name, true
}

// headerForms finds the w3c and b3 forms in the event's fields.
func headerForms(fields map[string]any, w3, b3 *found) {
	var bw, bb candidate
	var top headerSet
	offer := func(h *headerSet, rank int, name string) {
		if h.tp != nil {
			bw.offer(h, rank, name)
		}
		if h.tid != nil || h.single != nil {
			bb.offer(h, rank, name)
		}
	}
	for k, v := range fields {
		top.add(k, v)
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			continue
		}
		var h headerSet
		h.fill(m)
		rank := 3
		if classifyHeader(k) == hHeaders {
			rank = 1
		}
		offer(&h, rank, k)
		if h.headers != nil {
			var hh headerSet
			hh.fill(h.headers)
			offer(&hh, 2, k)
		}
		if h.request != nil {
			var rh headerSet
			rh.fill(h.request)
			if rh.headers != nil {
				var hh headerSet
				hh.fill(rh.headers)
				offer(&hh, 2, k)
			}
		}
	}
	offer(&top, 0, "")
	if bw.ok {
		if s, ok := headerString(bw.set.tp); ok {
			parseTraceparent(s, w3)
		} else {
			w3.invalid++
		}
	}
	if bb.ok {
		b3FromSet(&bb.set, b3)
	}
}

// b3FromSet reads the B3 headers of one map: the multi-header form first,
// then the single b3 header.
func b3FromSet(h *headerSet, r *found) {
	for _, x := range [...]struct {
		v    any
		kind b3Kind
	}{{h.tid, b3TraceID}, {h.sid, b3SpanID}, {h.sampled, b3Sampled}, {h.flags, b3Flags}} {
		if x.v == nil {
			continue
		}
		s, ok := headerString(x.v)
		if !ok {
			if x.kind == b3TraceID || x.kind == b3SpanID {
				r.invalid++
			}
			continue
		}
		r.addB3(x.kind, s)
	}
	if r.trace == "" && h.single != nil {
		if s, ok := headerString(h.single); ok {
			parseB3Single(s, r)
		}
	}
}

// headerString returns a header value as text: a string, the first string
// of a list (http.Header and gRPC metadata are lists), or a boolean or
// 0/1 number as "1"/"0" (a sampled flag logged as a JSON value).
func headerString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true
	case []any:
		if len(x) == 0 {
			return "", true
		}
		return headerString(x[0])
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	case int64:
		return zeroOne(x == 1, x == 0)
	case float64:
		return zeroOne(x == 1, x == 0)
	}
	return "", false
}

func zeroOne(one, zero bool) (string, bool) {
	switch {
	case one:
		return "1", true
	case zero:
		return "0", true
	}
	return "", false
}
