// Package grok implements the grok processor, compatible with OpenSearch
// Data Prepper's: named patterns (%{IPORHOST:clientip}) expanded into
// regular expressions whose captures become event fields.
//
// Each pattern is compiled once, when the pipeline is built, into Go
// regular expressions (RE2: matching time is linear in the length of the
// line, whatever the pattern, so no input can make grok run away the way a
// backtracking engine can). Matching reads submatch positions and slices the
// line; it builds no map per match.
package grok

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterProcessor("grok",
		"extracts fields from text with named grok patterns (%{COMMONAPACHELOG}, %{IP:client} …)",
		NewConfig, New)
}

// Metadata attributes written with performance_metadata (Data Prepper's names).
const (
	MetaPatternsAttempted = "_total_grok_patterns_attempted"
	MetaProcessingTime    = "_total_grok_processing_time"
)

type source struct {
	path     event.Path
	patterns []*Pattern
}

// processor is immutable after New; workers share it without locking.
type processor struct {
	sources      []source
	breakOnMatch bool
	keepEmpty    bool
	overwrite    map[string]bool
	target       event.Path
	hasTarget    bool
	timeout      time.Duration
	failTags     []string
	timeoutTags  []string
	when         *expr.Expression
	perfMeta     bool
	now          func() time.Time
	timeouts     *ratelog.Logger
	results      *prometheus.CounterVec
}

// New creates a grok processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	// Decoding compiled and checked everything already (Config.DecodeNode);
	// a Config built in code gets the same errors from here.
	if len(c.Match.Entries) == 0 {
		return nil, errors.New(`option "match": needs at least one field with patterns`)
	}
	if c.TargetKey != "" && strings.Trim(c.TargetKey, "/") == "" {
		return nil, errors.New(`option "target_key": must name a field`)
	}
	lib, err := NewLibrary(c.PatternDefinitions, c.PatternsDirectories, c.PatternsFilesGlob)
	if err != nil {
		return nil, err
	}
	p := &processor{
		breakOnMatch: c.BreakOnMatch,
		keepEmpty:    c.KeepEmptyCaptures,
		timeout:      time.Duration(c.TimeoutMillis) * time.Millisecond,
		failTags:     c.TagsOnMatchFailure,
		timeoutTags:  c.TagsOnTimeout,
		when:         c.GrokWhen,
		perfMeta:     c.PerformanceMetadata,
		now:          time.Now,
		timeouts:     ratelog.New(s.Logger, "grok: events ran out of time (timeout_millis) and were left unparsed"),
	}
	if len(p.timeoutTags) == 0 {
		p.timeoutTags = p.failTags
	}
	if len(c.KeysToOverwrite) > 0 {
		p.overwrite = make(map[string]bool, len(c.KeysToOverwrite))
		for _, k := range c.KeysToOverwrite {
			p.overwrite[k] = true
		}
	}
	if c.TargetKey != "" {
		p.target, p.hasTarget = event.ParsePath(c.TargetKey), true
	}
	for _, e := range c.Match.Entries {
		src := source{path: event.ParsePath(e.Key)}
		for _, text := range e.Patterns {
			pat, err := lib.Compile(text, c.NamedCapturesOnly)
			if err != nil {
				return nil, fmt.Errorf("option \"match.%s\": %w", e.Key, err)
			}
			src.patterns = append(src.patterns, pat)
		}
		p.sources = append(p.sources, src)
	}
	if s.Telemetry != nil {
		p.results, err = register(s.Telemetry, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weft_grok_events_total",
			Help: "Events the grok processor examined, by result: matched (something captured), unmatched, timeout.",
		}, []string{"result"}))
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// register registers c, or returns the collector already registered under
// its name (a processor recreated by a reload keeps counting on it).
func register(tel *pipelines.Telemetry, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	return pipelines.RegisterMetric(tel.Registerer, c)
}

// capture is one captured value on its way to the event.
type capture struct {
	f   *field
	val any
}

// scratch is per-call working memory.
type scratch struct {
	acc []capture // captures of the event so far
	per []capture // captures of the current pattern
}

type outcome uint8

const (
	outMatched outcome = iota
	outUnmatched
	outTimeout
	outSkipped
)

// Process matches every event the condition selects. Events never leave
// here: an event nothing matched in gets tags_on_match_failure.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	var sc scratch
	var counts [3]int
	for _, ev := range events {
		if o := p.grok(ev, &sc); o != outSkipped {
			counts[o]++
		}
	}
	if p.results != nil {
		for o, name := range [3]string{"matched", "unmatched", "timeout"} {
			if counts[o] > 0 {
				p.results.WithLabelValues(name).Add(float64(counts[o]))
			}
		}
	}
	return events
}

func (p *processor) grok(ev *event.Event, sc *scratch) outcome {
	if p.when != nil && !p.when.Bool(ev) {
		return outSkipped
	}
	var start time.Time
	if p.timeout > 0 || p.perfMeta {
		start = p.now()
	}
	sc.acc = sc.acc[:0]
	attempted := 0
	timedOut := false
sources:
	for si := range p.sources {
		src := &p.sources[si]
		for _, pat := range src.patterns {
			// A single match cannot be interrupted (and is linear in the
			// line's length); the budget is checked before each further
			// pattern.
			if attempted > 0 && p.timeout > 0 && p.now().Sub(start) > p.timeout {
				timedOut = true
				break sources
			}
			raw, ok := ev.Get(src.path)
			if !ok {
				break
			}
			text, ok := raw.(string)
			if !ok || text == "" {
				break
			}
			attempted++
			p.matchInto(pat, text, sc)
			if len(sc.acc) > 0 && p.breakOnMatch {
				break sources
			}
		}
	}
	if p.perfMeta {
		addMeta(ev, MetaPatternsAttempted, int64(attempted))
		addMeta(ev, MetaProcessingTime, p.now().Sub(start).Milliseconds())
	}
	if timedOut {
		ev.AddTags(p.timeoutTags...)
		p.timeouts.Record(errTimeout)
		return outTimeout
	}
	ok := p.apply(ev, sc.acc)
	clear(sc.acc) // drop references to the line
	if !ok || len(sc.acc) == 0 {
		ev.AddTags(p.failTags...)
		return outUnmatched
	}
	return outMatched
}

var errTimeout = errors.New("timeout_millis exceeded")

func addMeta(ev *event.Event, key string, n int64) {
	if old, ok := ev.Metadata(key); ok {
		if o, ok := old.(int64); ok {
			n += o
		}
	}
	ev.SetMetadata(key, n)
}

// matchInto matches one pattern and merges its captures into sc.acc the way
// Data Prepper does: within a pattern, a name captured twice becomes a list;
// across patterns, values for a name already captured are appended to a
// list, unless the name is in keys_to_overwrite.
func (p *processor) matchInto(pat *Pattern, text string, sc *scratch) {
	v, loc := pat.match(text)
	if v == nil {
		return
	}
	sc.per = sc.per[:0]
	for i, fi := range v.groups {
		if fi < 0 {
			continue
		}
		f := &pat.fields[fi]
		var val any
		a, b := loc[2*i+2], loc[2*i+3]
		if a < 0 {
			if !p.keepEmpty {
				continue
			}
		} else {
			val = convert(f, text[a:b], &sc.per)
		}
		sc.per = appendCapture(sc.per, capture{f: f, val: val}, false)
	}
	for _, c := range sc.per {
		sc.acc = appendCapture(sc.acc, c, p.overwrite[c.f.key])
	}
	clear(sc.per)
}

// appendCapture adds c to cs, turning an earlier value of the same name into
// a list (or replacing it when overwrite).
func appendCapture(cs []capture, c capture, overwrite bool) []capture {
	for i := range cs {
		if cs[i].f.key != c.f.key {
			continue
		}
		if overwrite {
			cs[i].val = c.val
		} else {
			cs[i].val = appendValues(cs[i].val, c.val)
		}
		return cs
	}
	return append(cs, c)
}

// appendValues returns old and v as one new list (never writing into old's
// backing array, which may be shared with a clone of the event).
func appendValues(old, v any) []any {
	var out []any
	if l, ok := old.([]any); ok {
		out = make([]any, len(l), len(l)+2)
		copy(out, l)
	} else {
		out = []any{old}
	}
	if l, ok := v.([]any); ok {
		return append(out, l...)
	}
	return append(out, v)
}

// convert applies the capture's type; a value that does not convert stays
// a string and "<name>_grokfailure" says why, as java-grok does.
func convert(f *field, s string, per *[]capture) any {
	var val any
	var err error
	switch f.typ {
	case tString:
		return cleanString(s)
	case tInt, tLong, tShort, tByte:
		bits := 64
		switch f.typ {
		case tInt:
			bits = 32
		case tShort:
			bits = 16
		case tByte:
			bits = 8
		}
		var n int64
		if n, err = strconv.ParseInt(s, 10, bits); err == nil {
			val = n
		}
	case tFloat:
		var x float64
		if x, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			if x != x || x > 1.7976931348623157e308 || x < -1.7976931348623157e308 {
				err = errors.New("not a finite number")
			} else {
				val = x
			}
		}
	case tBool:
		return strings.EqualFold(s, "true")
	}
	if err != nil {
		ff := &field{key: f.key + "_grokfailure", path: failurePath(f)}
		*per = append(*per, capture{f: ff, val: "cannot convert " + strconv.Quote(clip(s)) + " to " + typeName(f.typ)})
		return cleanString(s)
	}
	return val
}

func failurePath(f *field) event.Path {
	segs := f.path.Segments()
	var b strings.Builder
	for i, s := range segs {
		b.WriteByte('/')
		if i == len(segs)-1 {
			s += "_grokfailure"
		}
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s))
	}
	return event.ParsePath(b.String())
}

func typeName(t valueType) string {
	switch t {
	case tInt:
		return "int"
	case tLong:
		return "long"
	case tShort:
		return "short"
	case tByte:
		return "byte"
	case tFloat:
		return "float"
	case tBool:
		return "boolean"
	}
	return "string"
}

// cleanString removes the quotes around a value quoted with " or ' (and
// containing no other such quote), as java-grok, and so Data Prepper, does:
// %{QS:agent} yields the agent without its quotes.
func cleanString(s string) string {
	if len(s) == 0 {
		return s
	}
	q := s[0]
	if (q != '"' && q != '\'') || s[len(s)-1] != q {
		return s
	}
	if len(s) <= 2 {
		return ""
	}
	if strings.IndexByte(s[1:len(s)-1], q) >= 0 {
		return s
	}
	return s[1 : len(s)-1]
}

// apply writes the captures to the event: into target_key as one object,
// or into the root, where an existing field becomes a list of its value and
// the captured ones unless keys_to_overwrite names it.
func (p *processor) apply(ev *event.Event, acc []capture) bool {
	if p.hasTarget {
		obj := make(map[string]any, len(acc))
		for _, c := range acc {
			c.f.path.Set(obj, c.val)
		}
		// Data Prepper writes the (possibly empty) object even when
		// nothing matched.
		return ev.Put(p.target, obj)
	}
	ok := true
	for _, c := range acc {
		val := c.val
		if old, exists := ev.Get(c.f.path); exists && !p.overwrite[c.f.key] {
			val = appendValues(old, val)
		}
		if !ev.Put(c.f.path, val) {
			ok = false
		}
	}
	return ok
}

// match finds the leftmost match of the pattern, as one regular expression
// would: the variant that matches at the earliest position, the first one
// in order among those matching there.
func (p *Pattern) match(s string) (*variant, []int) {
	for _, lit := range p.required {
		if !strings.Contains(s, lit) {
			return nil, nil
		}
	}
	if p.anchorFirst {
		for i := range p.variants {
			v := &p.variants[i]
			if v.head != nil && !v.head.MatchString(s) {
				continue
			}
			if loc := v.anchored.FindStringSubmatchIndex(s); loc != nil {
				return v, loc
			}
		}
	}
	var best *variant
	var bestLoc []int
	for i := range p.variants {
		v := &p.variants[i]
		if loc := v.re.FindStringSubmatchIndex(s); loc != nil && (best == nil || loc[0] < bestLoc[0]) {
			best, bestLoc = v, loc
		}
	}
	return best, bestLoc
}

// Shutdown reports the timeouts counted since the last warning.
func (p *processor) Shutdown(context.Context) error {
	p.timeouts.Flush()
	return nil
}
