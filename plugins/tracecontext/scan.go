package tracecontext

import (
	"strings"
)

// found is what one form found in an event. trace is empty when the form
// found no valid trace ID.
type found struct {
	trace, span string
	flags       any // one of flagStrings, or nil when unknown
	service     string
	// invalid counts ID-looking values that were not valid IDs.
	invalid int
}

// textScan finds the text forms (Python logging, W3C traceparent, B3
// headers) in message text in one pass: it walks the bytes once, stops only
// at the few bytes an anchor can start with (t for trace_id= and
// traceparent, b for b3 and x-b3-*), confirms the anchor by hand and parses
// the value where it stands. Regular expressions are not used.
type textScan struct {
	want [numForms]bool // forms enabled in the configuration
	// stop is the first text form in the configured order: once it is
	// complete no later text form can win, so the scan ends early.
	stop       formID
	py, w3, b3 found
	b3Frozen   bool // b3 already has a trace ID from an earlier message field
}

// complete reports whether form f needs nothing more from the text.
func (s *textScan) complete(f formID) bool {
	switch f {
	case fPython:
		return s.py.trace != ""
	case fW3C:
		return s.w3.trace != ""
	case fB3:
		// The B3 headers are separate keys in any order; keep looking
		// until all three are known.
		return s.b3Frozen || s.b3.trace != "" && s.b3.span != "" && s.b3.flags != nil
	}
	return true
}

func (s *textScan) wants(f formID) bool { return s.want[f] && !s.complete(f) }

// scan looks through one message. It reports whether the scan can stop
// (the first text form is complete).
func (s *textScan) scan(t string) bool {
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case 't', 'T':
			// "trace_id=" or "traceparent", as whole keys.
			if i+5 > len(t) || i > 0 && isKeyChar(t[i-1]) || !hasPrefixFold(t[i:], "trace") {
				continue
			}
			j := i + 5
			switch {
			case j+4 <= len(t) && eqFold(t[j:j+4], "_id="):
				if s.wants(fPython) {
					i = s.python(t, i, j+4) - 1
				}
			case j+6 <= len(t) && eqFold(t[j:j+6], "parent") && (j+6 == len(t) || !isKeyChar(t[j+6])):
				if s.wants(fW3C) {
					i = s.traceparent(t, j+6) - 1
				}
			default:
				continue
			}
		case 'b', 'B':
			if i+1 >= len(t) || t[i+1] != '3' || !s.wants(fB3) {
				continue
			}
			if i >= 2 && (t[i-1] == '-' || t[i-1] == '_') && t[i-2]|0x20 == 'x' &&
				(i == 2 || !isKeyChar(t[i-3])) && i+2 < len(t) && (t[i+2] == '-' || t[i+2] == '_') {
				i = s.b3Header(t, i+3) - 1
			} else if (i == 0 || !isKeyChar(t[i-1])) && (i+2 == len(t) || !isKeyChar(t[i+2])) {
				i = s.b3Single(t, i+2) - 1
			} else {
				continue
			}
		default:
			continue
		}
		if s.complete(s.stop) {
			return true
		}
	}
	return false
}

// valueStart skips what separates a key ending at j from its value in the
// shapes loggers print: key=value, key: value, "key":"value" (also with
// escaped quotes, JSON inside a JSON string) and key:[value] (a printed Go
// map or http.Header). It returns -1 when no separator follows.
func valueStart(t string, j int) int {
	for j < len(t) && (t[j] == '"' || t[j] == '\'' || t[j] == '\\') {
		j++
	}
	for j < len(t) && (t[j] == ' ' || t[j] == '\t') {
		j++
	}
	if j >= len(t) || t[j] != '=' && t[j] != ':' {
		return -1
	}
	j++
	for j < len(t) {
		switch t[j] {
		case ' ', '\t', '"', '\'', '\\', '[':
			j++
			continue
		}
		break
	}
	return j
}

// alnumEnd returns the end of the run of letters and digits (and dashes
// when dash is set) starting at j.
func alnumEnd(t string, j int, dash bool) int {
	for j < len(t) && (isAlnum(t[j]) || dash && t[j] == '-') {
		j++
	}
	return j
}

// python parses the OpenTelemetry Python logging format starting at the
// trace ID value (j), then the attributes that follow it:
// "trace_id=<32 hex> span_id=<16 hex> resource.service.name=<name> trace_sampled=True".
// It returns where parsing ended.
func (s *textScan) python(t string, at, j int) int {
	quoted := j < len(t) && (t[j] == '"' || t[j] == '\'')
	if quoted {
		j++ // trace_id="..." as logfmt quotes it
	}
	end := alnumEnd(t, j, false)
	trace, st := traceID(t[j:end], false, false)
	if quoted && end < len(t) && t[end] == t[j-1] {
		end++
	}
	if st == absent {
		// trace_id=0: the line was logged outside any span.
		return end
	}
	var r found
	if st == invalid {
		r.invalid++
	}
	r.trace = trace
	spanSeen := false
	k := end
attrs:
	for n := 0; n < 8; n++ {
		for k < len(t) && (t[k] == ' ' || t[k] == ',' || t[k] == '\t') {
			k++
		}
		ks := k
		for k < len(t) && isKeyChar(t[k]) {
			k++
		}
		if k == ks || k >= len(t) || t[k] != '=' {
			break
		}
		key := t[ks:k]
		vs := k + 1
		var quote byte
		if vs < len(t) && (t[vs] == '"' || t[vs] == '\'') {
			quote = t[vs]
			vs++
		}
		ve := vs
		for ve < len(t) && !valueEnd(t[ve]) {
			ve++
		}
		val := t[vs:ve]
		next := ve
		if quote != 0 && next < len(t) && t[next] == quote {
			next++
		}
		switch key {
		case "span_id":
			spanSeen = true
			r.setSpan(val)
		case "resource.service.name", "service.name":
			r.service = val
		case "trace_sampled":
			if eqFold(val, "true") {
				r.flags = flagStrings[1]
			} else if eqFold(val, "false") {
				r.flags = flagStrings[0]
			}
		default:
			// Not ours (perhaps another anchor, x-b3-traceid=...): leave
			// it to the scanner.
			k = ks
			break attrs
		}
		k = next
	}
	if !spanSeen {
		// A custom format may put span_id= before trace_id=; look back on
		// the same line.
		line := t[:at]
		if nl := strings.LastIndexByte(line, '\n'); nl >= 0 {
			line = line[nl+1:]
		}
		if p := strings.LastIndex(line, "span_id="); p >= 0 && (p == 0 || !isKeyChar(line[p-1])) {
			vs := p + len("span_id=")
			r.setSpan(line[vs:alnumEnd(line, vs, false)])
		}
	}
	s.py.invalid += r.invalid
	if r.trace != "" {
		r.invalid = s.py.invalid
		s.py = r
	}
	return k
}

// setSpan validates a hex span ID for r, counting it when invalid.
func (r *found) setSpan(v string) {
	id, st := spanID(v, false)
	switch st {
	case valid:
		r.span = id
	case invalid:
		r.invalid++
	}
}

// valueEnd reports the bytes that end an attribute value in the Python
// format.
func valueEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ']', ',', '"', '\'':
		return true
	}
	return false
}

// traceparent parses the value of a traceparent key ending at j.
func (s *textScan) traceparent(t string, j int) int {
	v := valueStart(t, j)
	if v < 0 {
		return j
	}
	end := alnumEnd(t, v, true)
	parseTraceparent(t[v:end], &s.w3)
	return end
}

// parseTraceparent parses a W3C traceparent value,
// "00-<32 hex trace>-<16 hex span>-<2 hex flags>", into r unless r already
// has a trace ID. Uppercase digits are accepted and lowercased (the
// standard allows only lowercase, but loggers and proxies do change case).
func parseTraceparent(v string, r *found) {
	if r.trace != "" || noContext(v) {
		return
	}
	if len(v) < 3 || v[2] != '-' {
		// Not shaped like a traceparent at all (prose such as "no
		// traceparent: new trace"): not an ID, so not an invalid one.
		return
	}
	// Later versions may append fields after the flags ("-..."); version
	// ff is forbidden, and version 00 has exactly four fields.
	if len(v) < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' ||
		hexVal[v[0]] > 15 || hexVal[v[1]] > 15 || v[0]|0x20 == 'f' && v[1]|0x20 == 'f' ||
		len(v) > 55 && (v[55] != '-' || v[0] == '0' && v[1] == '0') {
		r.invalid++
		return
	}
	trace, st := normHex(v[3:35], 32)
	if st != valid {
		r.invalid++
	}
	var span string
	span, st = normHex(v[36:52], 16)
	if st != valid {
		r.invalid++
		span = ""
	}
	flags, ok := flagsHex(v[53:55])
	if !ok {
		r.invalid++
		return
	}
	if trace != "" {
		r.trace, r.span, r.flags = trace, span, flags
	}
}

// b3Name classifies the part of an x-b3-* header name after "x-b3-".
type b3Kind uint8

const (
	b3None b3Kind = iota
	b3TraceID
	b3SpanID
	b3Sampled
	b3Flags
	b3Parent
)

func classifyB3(name string) b3Kind {
	switch len(name) {
	case 5:
		if eqFold(name, "flags") {
			return b3Flags
		}
	case 6:
		if eqFold(name, "spanid") {
			return b3SpanID
		}
	case 7:
		if eqFold(name, "traceid") {
			return b3TraceID
		}
		if eqFold(name, "sampled") {
			return b3Sampled
		}
	case 12:
		if eqFold(name, "parentspanid") {
			return b3Parent
		}
	}
	return b3None
}

// b3Header parses "x-b3-<name>" whose name starts at j, and its value.
func (s *textScan) b3Header(t string, j int) int {
	ne := alnumEnd(t, j, false)
	if ne < len(t) && isKeyChar(t[ne]) {
		return ne
	}
	kind := classifyB3(t[j:ne])
	if kind == b3None || kind == b3Parent {
		return ne
	}
	v := valueStart(t, ne)
	if v < 0 {
		return ne
	}
	end := alnumEnd(t, v, false)
	s.b3.addB3(kind, t[v:end])
	return end
}

// addB3 records one x-b3-* header value; the first valid value of each
// header wins.
func (r *found) addB3(kind b3Kind, v string) {
	switch kind {
	case b3TraceID:
		if r.trace == "" {
			id, st := traceID(v, true, false)
			switch st {
			case valid:
				r.trace = id
			case invalid:
				r.invalid++
			}
		}
	case b3SpanID:
		if r.span == "" {
			r.setSpan(v)
		}
	case b3Sampled:
		if r.flags == nil {
			r.flags, _ = flagsHex(v)
		}
	case b3Flags:
		// X-B3-Flags: 1 is the debug flag, which implies sampled.
		if v == "1" {
			r.flags = flagStrings[1]
		}
	}
}

// b3Single parses the value of a single "b3" header key ending at j.
func (s *textScan) b3Single(t string, j int) int {
	v := valueStart(t, j)
	if v < 0 {
		return j
	}
	end := alnumEnd(t, v, true)
	parseB3Single(t[v:end], &s.b3)
	return end
}

// parseB3Single parses the single-header B3 form
// "{traceid}-{spanid}[-{sampling}[-{parentspanid}]]" into r unless r has a
// trace ID already. A value that is only a sampling decision ("0", "1",
// "d") carries no IDs and is not invalid.
func parseB3Single(v string, r *found) {
	if r.trace != "" || len(v) <= 1 {
		if len(v) == 1 && r.flags == nil {
			r.flags, _ = flagsHex(v)
		}
		return
	}
	dash := strings.IndexByte(v, '-')
	if dash < 0 {
		// Only a long hex run looks like a broken ID; anything else after
		// a "b3" key ("b3: 500mg") is not B3 at all.
		if len(v) >= 16 && isHex(v) {
			r.invalid++
		}
		return
	}
	trace, st := traceID(v[:dash], true, false)
	if st != valid {
		r.invalid++
		return
	}
	rest := v[dash+1:]
	spanPart, sampling := rest, ""
	if d := strings.IndexByte(rest, '-'); d >= 0 {
		spanPart, sampling = rest[:d], rest[d+1:]
		if d := strings.IndexByte(sampling, '-'); d >= 0 {
			sampling = sampling[:d]
		}
	}
	r.trace = trace
	if r.span == "" {
		r.setSpan(spanPart)
	}
	if f, ok := flagsHex(sampling); ok && len(sampling) == 1 {
		r.flags = f
	}
}
