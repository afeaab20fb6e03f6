// Package tracecontext implements the trace_context processor: it finds the
// trace and span IDs that services put into their logs (OTLP log record
// fields, the OpenTelemetry Python logging format, W3C traceparent, B3
// headers as fields or printed in the message) and writes them as
// normalised lowercase hex traceId and spanId at the top of the event, so
// that logs can be joined with traces in OpenSearch Trace Analytics.
package tracecontext

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

func init() {
	pipelines.RegisterProcessor("trace_context",
		"finds trace and span IDs in logs (OTLP fields, Python logging, W3C traceparent, B3 headers) and writes them as traceId/spanId",
		NewConfig, New)
}

// formID numbers the forms; it indexes per-form arrays.
type formID uint8

const (
	fOTLP formID = iota
	fPython
	fW3C
	fB3
	fExtra
	numForms
	// fExisting labels events that kept a valid ID already at trace_id_key
	// while the otlp form is off (with it on, that is the otlp form).
	fExisting = numForms
	numLabels = numForms + 1
)

var labelNames = [numLabels]string{"otlp", "python", "w3c", "b3", "extra", "existing"}

func formIndex(s string) (formID, bool) {
	for i, n := range labelNames[:numForms] {
		if n == s {
			return formID(i), true
		}
	}
	return 0, false
}

// field is a compiled key or JSON pointer, with a fast path for top-level
// keys (the common case, and a plain map access).
type field struct {
	top    string
	path   event.Path
	nested bool
}

func newField(s string) field {
	p := event.ParsePath(s)
	if segs := p.Segments(); len(segs) == 1 {
		return field{top: segs[0], path: p}
	}
	return field{path: p, nested: true}
}

func (f *field) get(m map[string]any) (any, bool) {
	if !f.nested {
		v, ok := m[f.top]
		return v, ok
	}
	return f.path.Lookup(m)
}

func (f *field) set(m map[string]any, v any) bool {
	if !f.nested {
		m[f.top] = v
		return true
	}
	return f.path.Set(m, v)
}

type pathPair struct {
	trace, span field
	hasSpan     bool
}

// processor is immutable after New, so workers share it without locking;
// all per-event state lives on the stack of handle.
type processor struct {
	order    []formID
	want     [numForms]bool
	stop     formID // first text form in order
	messages []field
	paths    []pathPair
	patterns []*pattern

	overwrite           bool
	traceKey, spanKey   field
	flagsKey, svcKey    field
	flagsOn, svcOn      bool
	otlpTrace, otlpSpan []field
	otlpFlags           []field

	tagsInvalid, tagsFound []string

	foundC, invalidC [numLabels]prometheus.Counter
	missingC         prometheus.Counter
}

// New creates a trace_context processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &processor{
		overwrite:   c.Overwrite,
		traceKey:    newField(c.TraceIDKey),
		spanKey:     newField(c.SpanIDKey),
		flagsOn:     c.TraceFlagsKey != "",
		svcOn:       c.ServiceKey != "",
		tagsInvalid: append([]string(nil), c.TagsOnInvalid...),
		tagsFound:   append([]string(nil), c.TagsOnFound...),
		stop:        numForms,
	}
	if p.flagsOn {
		p.flagsKey = newField(c.TraceFlagsKey)
	}
	if p.svcOn {
		p.svcKey = newField(c.ServiceKey)
	}
	for _, name := range c.Formats {
		f, _ := formIndex(name) // Validate checked the names
		p.order = append(p.order, f)
		p.want[f] = true
		if p.stop == numForms && (f == fPython || f == fW3C || f == fB3) {
			p.stop = f
		}
	}
	for _, k := range c.MessageKeys {
		p.messages = append(p.messages, newField(k))
	}
	for _, pc := range c.Paths {
		pp := pathPair{trace: newField(pc.TraceID), hasSpan: pc.SpanID != ""}
		if pp.hasSpan {
			pp.span = newField(pc.SpanID)
		}
		p.paths = append(p.paths, pp)
	}
	for i, src := range c.Patterns {
		pat, err := compilePattern(src)
		if err != nil {
			return nil, fmt.Errorf("patterns[%d]: %w", i, err)
		}
		p.patterns = append(p.patterns, pat)
	}
	// The otlp form reads the output keys first, then the names OTLP/JSON
	// and common loggers use.
	p.otlpTrace = dedupFields(c.TraceIDKey, "traceId", "trace_id")
	p.otlpSpan = dedupFields(c.SpanIDKey, "spanId", "span_id")
	p.otlpFlags = dedupFields(c.TraceFlagsKey, "traceFlags", "trace_flags", "flags")

	if err := p.registerMetrics(s.Telemetry); err != nil {
		return nil, err
	}
	return p, nil
}

func dedupFields(keys ...string) []field {
	var out []field
	seen := map[string]bool{}
	for _, k := range keys {
		if k == "" {
			continue
		}
		f := newField(k)
		if !seen[f.path.String()] {
			seen[f.path.String()] = true
			out = append(out, f)
		}
	}
	return out
}

func (p *processor) registerMetrics(tel *pipelines.Telemetry) error {
	var reg prometheus.Registerer
	if tel != nil {
		reg = tel.Registerer
	}
	found, err := counterVec(reg, "weft_trace_context_found_total",
		"Events in which trace_context found a valid trace ID, by form.", "form")
	if err != nil {
		return err
	}
	inv, err := counterVec(reg, "weft_trace_context_invalid_ids_total",
		"ID-looking values trace_context ignored because they were invalid (wrong length, not hex, all zeros), by form.", "form")
	if err != nil {
		return err
	}
	missing := prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_trace_context_missing_total",
		Help: "Events in which trace_context found no valid trace ID."})
	if reg != nil {
		if err := reg.Register(missing); err != nil {
			var are prometheus.AlreadyRegisteredError
			old, ok := prometheus.Counter(nil), false
			if errors.As(err, &are) {
				old, ok = are.ExistingCollector.(prometheus.Counter)
			}
			if !ok {
				return fmt.Errorf("registering weft_trace_context_missing_total: %w", err)
			}
			missing = old
		}
	}
	// Children are resolved once: a label lookup per event would cost a
	// hash and a lock.
	for i := range labelNames {
		p.foundC[i] = found.WithLabelValues(labelNames[i])
		p.invalidC[i] = inv.WithLabelValues(labelNames[i])
	}
	p.missingC = missing
	return nil
}

// counterVec registers a component counter vector, or returns the one
// already registered under the same name (a component recreated by a
// reload keeps counting on the same series).
func counterVec(reg prometheus.Registerer, name, help string, labels ...string) (*prometheus.CounterVec, error) {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	if reg == nil {
		return cv, nil
	}
	if err := reg.Register(cv); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return old, nil
			}
		}
		return nil, fmt.Errorf("registering %s: %w", name, err)
	}
	return cv, nil
}

// counts accumulates one batch's metrics, added to the counters once per
// batch so that workers do not contend on them per event.
type counts struct {
	found, invalid [numLabels]int
	missing        int
}

// Process finds the trace context of every event.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	var c counts
	for _, ev := range events {
		p.handle(ev, &c)
	}
	for i := range c.found {
		if c.found[i] > 0 {
			p.foundC[i].Add(float64(c.found[i]))
		}
		if c.invalid[i] > 0 {
			p.invalidC[i].Add(float64(c.invalid[i]))
		}
	}
	if c.missing > 0 {
		p.missingC.Add(float64(c.missing))
	}
	return events
}

// state holds the lazily computed scans of one event, shared by the forms
// that use them.
type state struct {
	text          textScan
	textDone      bool
	hdrW3C, hdrB3 found
	hdrDone       bool
}

func (p *processor) handle(ev *event.Event, c *counts) {
	fields := ev.Fields()
	var r found
	form := formID(numLabels)
	if !p.overwrite && p.keepsExisting(fields) {
		if p.want[fOTLP] {
			r, form = p.otlp(fields), fOTLP
		} else {
			r, form = p.existing(fields), fExisting
		}
		c.invalid[form] += r.invalid
	} else {
		var st state
		for _, f := range p.order {
			var fr found
			switch f {
			case fOTLP:
				fr = p.otlp(fields)
			case fPython:
				p.scanText(fields, &st)
				fr = st.text.py
			case fW3C:
				p.scanHeaders(fields, &st)
				fr = st.hdrW3C
				if fr.trace == "" {
					p.scanText(fields, &st)
					fr = merge(fr, st.text.w3)
				}
			case fB3:
				p.scanHeaders(fields, &st)
				fr = st.hdrB3
				if fr.trace == "" {
					p.scanText(fields, &st)
					fr = merge(fr, st.text.b3)
				}
			case fExtra:
				fr = p.extra(fields)
			}
			c.invalid[f] += fr.invalid
			r.invalid += fr.invalid
			if fr.trace != "" {
				fr.invalid = r.invalid
				r, form = fr, f
				break
			}
		}
	}
	if r.invalid > 0 {
		ev.AddTags(p.tagsInvalid...)
	}
	if form == numLabels {
		c.missing++
		return
	}
	c.found[form]++
	if len(p.tagsFound) > 0 {
		ev.AddTags(p.tagsFound...)
	}
	p.apply(ev, &r)
}

// merge adds the invalid count of a form's field result to its text
// result.
func merge(fields, text found) found {
	text.invalid += fields.invalid
	return text
}

func (p *processor) scanText(fields map[string]any, st *state) {
	if st.textDone {
		return
	}
	st.textDone = true
	ts := &st.text
	ts.want, ts.stop = p.want, p.stop
	for i := range p.messages {
		v, ok := p.messages[i].get(fields)
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			continue
		}
		if ts.scan(s) {
			return
		}
		// B3 headers are taken from one message field, not pieced together
		// from several.
		if ts.b3.trace != "" {
			ts.b3Frozen = true
		}
	}
}

func (p *processor) scanHeaders(fields map[string]any, st *state) {
	if st.hdrDone {
		return
	}
	st.hdrDone = true
	headerForms(fields, &st.hdrW3C, &st.hdrB3)
	if !p.want[fW3C] {
		st.hdrW3C = found{}
	}
	if !p.want[fB3] {
		st.hdrB3 = found{}
	}
}

// keepsExisting reports whether trace_id_key already holds a valid ID
// (which overwrite: false protects).
func (p *processor) keepsExisting(fields map[string]any) bool {
	v, ok := p.traceKey.get(fields)
	if !ok {
		return false
	}
	_, st := traceValue(v, false, true)
	return st == valid
}

// otlp reads IDs that are already fields, as OTLP log records carry them:
// hex, or base64 as protobuf's JSON mapping writes bytes.
func (p *processor) otlp(fields map[string]any) (r found) {
	for i := range p.otlpTrace {
		v, ok := p.otlpTrace[i].get(fields)
		if !ok {
			continue
		}
		id, st := traceValue(v, false, true)
		if st == invalid {
			r.invalid++
		}
		if st == valid {
			r.trace = id
			break
		}
	}
	if r.trace == "" {
		return r
	}
	for i := range p.otlpSpan {
		v, ok := p.otlpSpan[i].get(fields)
		if !ok {
			continue
		}
		id, st := spanValue(v, true)
		if st == invalid {
			r.invalid++
		}
		if st == valid {
			r.span = id
			break
		}
	}
	for i := range p.otlpFlags {
		if v, ok := p.otlpFlags[i].get(fields); ok {
			if f, ok := flagsValue(v); ok {
				r.flags = f
				break
			}
		}
	}
	return r
}

// existing reads the IDs at the output keys (the otlp form is off).
func (p *processor) existing(fields map[string]any) (r found) {
	v, _ := p.traceKey.get(fields)
	r.trace, _ = traceValue(v, false, true)
	if v, ok := p.spanKey.get(fields); ok {
		id, st := spanValue(v, true)
		if st == invalid {
			r.invalid++
		}
		r.span = id
	}
	return r
}

// extra tries the user's paths, then the user's patterns on the message
// fields.
func (p *processor) extra(fields map[string]any) (r found) {
	for i := range p.paths {
		pp := &p.paths[i]
		v, ok := pp.trace.get(fields)
		if !ok {
			continue
		}
		id, st := traceValue(v, true, true)
		if st == invalid {
			r.invalid++
		}
		if st != valid {
			continue
		}
		r.trace = id
		if pp.hasSpan {
			if v, ok := pp.span.get(fields); ok {
				sid, st := spanValue(v, true)
				if st == invalid {
					r.invalid++
				}
				r.span = sid
			}
		}
		return r
	}
	for _, pat := range p.patterns {
		for i := range p.messages {
			v, _ := p.messages[i].get(fields)
			s, ok := v.(string)
			if !ok {
				continue
			}
			loc := pat.re.FindStringSubmatchIndex(s)
			if loc == nil {
				continue
			}
			id, st := traceID(group(s, loc, pat.trace), true, false)
			if st == invalid {
				r.invalid++
			}
			if st != valid {
				continue
			}
			r.trace = id
			if pat.span >= 0 {
				r.setSpan(group(s, loc, pat.span))
			}
			if pat.flagsG >= 0 {
				r.flags, _ = flagsHex(group(s, loc, pat.flagsG))
			}
			return r
		}
	}
	return r
}

func group(s string, loc []int, g int) string {
	if 2*g+1 >= len(loc) || loc[2*g] < 0 {
		return ""
	}
	return s[loc[2*g]:loc[2*g+1]]
}

// traceValue validates a field value as a trace ID. A non-string value
// (a number, an object) where an ID belongs is invalid.
func traceValue(v any, short, b64 bool) (string, status) {
	switch x := v.(type) {
	case nil:
		return "", absent
	case string:
		return traceID(x, short, b64)
	}
	return "", invalid
}

func spanValue(v any, b64 bool) (string, status) {
	switch x := v.(type) {
	case nil:
		return "", absent
	case string:
		return spanID(x, b64)
	}
	return "", invalid
}

// flagsValue reads trace flags from a field: "01", or a number (OTLP log
// records' flags field, whose low byte is the W3C trace flags).
func flagsValue(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		return flagsHex(x)
	case int64:
		if x >= 0 {
			return flagStrings[x&0xff], true
		}
	case float64:
		if x >= 0 && x < 1<<32 && x == float64(int64(x)) {
			return flagStrings[int64(x)&0xff], true
		}
	}
	return nil, false
}

// apply writes what was found. Values that are already in place are not
// written again, so an event whose IDs are already normalised is not
// copied when it shares its fields with a clone.
func (p *processor) apply(ev *event.Event, r *found) {
	f := ev.Fields()
	needTrace := !holds(&p.traceKey, f, r.trace)
	needSpan := r.span != "" && !holds(&p.spanKey, f, r.span)
	needFlags := false
	if p.flagsOn && r.flags != nil {
		needFlags = !holds(&p.flagsKey, f, r.flags.(string))
	}
	needSvc := false
	if p.svcOn && r.service != "" {
		v, ok := p.svcKey.get(f)
		needSvc = !ok || v == nil || v == ""
	}
	if !needTrace && !needSpan && !needFlags && !needSvc {
		return
	}
	// A failed set (a value on the way is not an object) leaves the event
	// as it was: the configuration points the output somewhere impossible
	// for this event, and the other outputs are still useful.
	m := ev.Mutable()
	if needTrace {
		p.traceKey.set(m, r.trace)
	}
	if needSpan {
		p.spanKey.set(m, r.span)
	}
	if needFlags {
		p.flagsKey.set(m, r.flags)
	}
	if needSvc {
		p.svcKey.set(m, r.service)
	}
}

func holds(k *field, m map[string]any, want string) bool {
	v, ok := k.get(m)
	if !ok {
		return false
	}
	s, ok := v.(string)
	return ok && s == want
}
