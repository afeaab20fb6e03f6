// Package keyvalue implements the key_value processor, compatible with
// OpenSearch Data Prepper's: it parses "k1=v1&k2=v2"-style text into an
// object of keys and values.
package keyvalue

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterProcessor("key_value",
		"parses key=value pairs from a text field into an object or the root of the event",
		NewConfig, New)
}

type processor struct {
	*compiled
	source      event.Path
	dest        event.Path
	toRoot      bool
	nonMatch    any
	prefix      string
	defaults    map[string]any
	strict      bool
	skipDup     bool
	removeBr    bool
	grouping    bool
	literal     byte // string_literal_character, 0 if none
	strictGroup bool
	recursive   bool
	dropNoValue bool
	normalize   bool
	overwrite   bool
	tags        []string
	when        *expr.Expression
	failures    *ratelog.Logger
	results     *prometheus.CounterVec
}

// New creates a key_value processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	comp, err := c.compile()
	if err != nil {
		return nil, err
	}
	p := &processor{
		compiled:    comp,
		source:      event.ParsePath(c.Source),
		toRoot:      c.Destination == "" || strings.Trim(c.Destination, "/") == "",
		nonMatch:    c.NonMatchValue,
		prefix:      c.Prefix,
		defaults:    c.DefaultValues,
		strict:      c.Whitespace == "strict",
		skipDup:     c.SkipDuplicateValues,
		removeBr:    c.RemoveBrackets,
		grouping:    c.ValueGrouping,
		strictGroup: c.StrictGrouping,
		recursive:   c.Recursive,
		dropNoValue: c.DropKeysWithNoValue,
		normalize:   c.NormalizeKeys,
		overwrite:   c.OverwriteIfDestinationExists,
		tags:        c.TagsOnFailure,
		when:        c.KeyValueWhen,
		failures:    ratelog.New(s.Logger, "key_value: events could not be parsed; they continue unparsed"),
	}
	if !p.toRoot {
		p.dest = event.ParsePath(c.Destination)
	}
	if c.StringLiteralCharacter != "" {
		p.literal = c.StringLiteralCharacter[0]
	}
	if s.Telemetry != nil && s.Telemetry.Registerer != nil {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_key_value_events_total",
			Help: "Events the key_value processor parsed, by result: parsed, failed."}, []string{"result"})
		cv, err := pipelines.RegisterMetric(s.Telemetry.Registerer, cv)
		if err != nil {
			return nil, err
		}
		p.results = cv
	}
	return p, nil
}

var (
	errNotString = errors.New("the source field is not a string")
	errBlocked   = errors.New("a value on the way to the destination is not an object")
)

// Process parses the source of every event the condition selects. Events
// never leave here: a failure tags the event.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	parsed, failed := 0, 0
	for _, ev := range events {
		if p.when != nil && !p.when.Bool(ev) {
			continue
		}
		raw, ok := ev.Get(p.source)
		if !ok || raw == nil {
			continue // nothing to parse is not a failure
		}
		var err error
		if text, ok := raw.(string); !ok {
			err = errNotString
		} else {
			err = p.parseInto(ev, text)
		}
		if err != nil {
			failed++
			ev.AddTags(p.tags...)
			p.failures.Record(err)
		} else {
			parsed++
		}
	}
	if p.results != nil {
		if parsed > 0 {
			p.results.WithLabelValues("parsed").Add(float64(parsed))
		}
		if failed > 0 {
			p.results.WithLabelValues("failed").Add(float64(failed))
		}
	}
	return events
}

// pairs is an ordered map: the parsed keys in the order of the text.
type pairs struct {
	keys []string
	vals map[string]any
}

func (ps *pairs) has(k string) bool { _, ok := ps.vals[k]; return ok }

func (ps *pairs) set(k string, v any) {
	if ps.vals == nil {
		ps.vals = make(map[string]any, 8)
	}
	if _, ok := ps.vals[k]; !ok {
		ps.keys = append(ps.keys, k)
	}
	ps.vals[k] = v
}

func (p *processor) parseInto(ev *event.Event, text string) error {
	var raw pairs
	var err error
	if p.recursive {
		raw = p.recurse(text)
	} else {
		var groups []string
		if p.grouping {
			groups, err = p.splitGrouped(text)
			if err != nil {
				return err
			}
		} else {
			groups = p.field.split(text)
		}
		raw = p.pairs(groups)
	}
	out := p.finish(&raw)
	if p.toRoot {
		// Keys are top-level keys, whatever characters they contain.
		m := ev.Mutable()
		for _, k := range out.keys {
			if _, exists := m[k]; exists && !p.overwrite {
				continue
			}
			m[k] = out.vals[k]
		}
		return nil
	}
	if _, exists := ev.Get(p.dest); exists && !p.overwrite {
		return nil
	}
	obj := make(map[string]any, len(out.keys))
	for _, k := range out.keys {
		obj[k] = out.vals[k]
	}
	if !ev.Put(p.dest, obj) {
		return errBlocked
	}
	return nil
}

// pairs splits each group into key and value (Data Prepper's
// createNonRecursedMap). A key seen again collects its values in a list.
func (p *processor) pairs(groups []string) pairs {
	var out pairs
	for _, g := range groups {
		if p.literal != 0 && len(g) > 0 && g[0] == p.literal && g[len(g)-1] == p.literal {
			// A quoted literal is not parsed: it is a key without value.
			if p.valid(g, nil) {
				out.set(g, nil)
			}
			continue
		}
		var key string
		var val any
		if a, b, ok := p.value.first(g); ok {
			key, val = g[:a], g[b:]
		} else {
			key, val = g, p.nonMatch
		}
		if !out.has(key) {
			if p.valid(key, val) {
				out.set(key, val)
			}
			continue
		}
		list, isList := out.vals[key].([]any)
		if !isList {
			list = []any{out.vals[key]}
		}
		if !p.skipDup || !contains(list, val) {
			list = append(list, val)
		}
		out.set(key, list)
	}
	return out
}

func (p *processor) valid(key string, val any) bool {
	return key != "" && !(p.dropNoValue && val == nil)
}

func contains(list []any, v any) bool {
	for _, x := range list {
		if equal(x, v) {
			return true
		}
	}
	return false
}

// equal compares parsed values: strings, nulls, configured scalars, lists.
func equal(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		return false
	}
	if _, ok := b.([]any); ok {
		return false
	}
	if _, ok := b.(map[string]any); ok {
		return false
	}
	return a == b
}

// finish applies the key and value options and the defaults (Data
// Prepper's executeConfigs), in Data Prepper's order.
func (p *processor) finish(in *pairs) pairs {
	var out pairs
	for _, key := range in.keys {
		val := in.vals[key]
		if p.include != nil && !p.include[key] || p.exclude[key] {
			continue
		}
		if p.deleteKey != nil {
			key = p.deleteKey.ReplaceAllString(key, "")
		}
		key = p.prefix + key
		if s, ok := val.(string); ok && p.deleteVal != nil {
			val = p.deleteVal.ReplaceAllString(s, "")
		}
		if p.strict {
			key = strings.TrimRightFunc(key, unicode.IsSpace)
			val = mapStrings(val, func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) })
		}
		if p.transform != nil {
			key = p.transform(key)
		}
		if p.removeBr {
			val = mapStrings(val, removeBrackets)
		}
		if p.normalize {
			key = normalizeKey(key)
		}
		p.add(&out, key, val)
	}
	for k, v := range p.defaults {
		if out.has(k) || !p.valid(k, v) {
			continue
		}
		if p.normalize {
			k = normalizeKey(k)
		}
		out.set(k, event.DeepCopy(v))
	}
	return out
}

// add is Data Prepper's addKeyValueToMap: a one-element list is unwrapped,
// and a key that arrives again (after key transformations merged two)
// collects a list.
func (p *processor) add(out *pairs, key string, val any) {
	if !p.valid(key, val) {
		return
	}
	if l, ok := val.([]any); ok && len(l) == 1 {
		val = l[0]
	}
	if !out.has(key) {
		out.set(key, val)
		return
	}
	old := out.vals[key]
	if list, ok := old.([]any); ok {
		if p.skipDup && contains(list, val) {
			return
		}
		out.set(key, append(list, val))
		return
	}
	if p.skipDup {
		for _, k := range out.keys {
			if equal(out.vals[k], val) {
				return
			}
		}
	}
	out.set(key, []any{old, val})
}

// mapStrings applies f to a string value, or to the strings of a list.
func mapStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mapStrings(e, f)
		}
		return out
	}
	return v
}

func removeBrackets(s string) string {
	if !strings.ContainsAny(s, "[]()<>") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune("[]()<>", r) {
			return -1
		}
		return r
	}, s)
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func normalizeKey(k string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_@/[]", r)) {
			return r
		}
		return '_'
	}, k)
}

// Shutdown reports the failures counted since the last warning.
func (p *processor) Shutdown(context.Context) error {
	p.failures.Flush()
	return nil
}

// splitter splits on a delimiter: any one of a set of characters (the
// common case, without a regular expression), or a regular expression.
type splitter struct {
	chars string
	re    *regexp.Regexp
	// one matches a single character against the expression (recursive
	// parsing looks at one character at a time).
	one *regexp.Regexp
}

const regexMeta = `\.+*?()|[]{}^$`

// charSplitter builds Data Prepper's delimiter from characters: each one
// is a delimiter, a backslash escapes the next one, and the characters
// are read as regular expression text (so "." must be written "\.").
func charSplitter(chars string) (*splitter, error) {
	if !strings.ContainsAny(chars, regexMeta) {
		return &splitter{chars: chars}, nil
	}
	var b strings.Builder
	for i, r := range chars {
		b.WriteRune(r)
		if r != '\\' && i+utf8.RuneLen(r) < len(chars) {
			b.WriteByte('|')
		}
	}
	return regexSplitter(b.String())
}

func regexSplitter(expr string) (*splitter, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	one, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, err
	}
	return &splitter{re: re, one: one}, nil
}

// split cuts s at every delimiter, as Java's String.split (empty pieces
// at the end are dropped; the callers drop empty keys anyway).
func (s *splitter) split(str string) []string {
	var out []string
	if s.re == nil {
		for {
			i := strings.IndexAny(str, s.chars)
			if i < 0 {
				break
			}
			out = append(out, str[:i])
			_, n := utf8.DecodeRuneInString(str[i:])
			str = str[i+n:]
		}
		out = append(out, str)
	} else {
		last := 0
		for _, m := range s.re.FindAllStringIndex(str, -1) {
			if m[1] == 0 {
				continue // no empty leading piece for an empty match at 0
			}
			out = append(out, str[last:m[0]])
			last = m[1]
		}
		out = append(out, str[last:])
	}
	for len(out) > 1 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// first returns the first delimiter in str.
func (s *splitter) first(str string) (int, int, bool) {
	if s.re == nil {
		i := strings.IndexAny(str, s.chars)
		if i < 0 {
			return 0, 0, false
		}
		_, n := utf8.DecodeRuneInString(str[i:])
		return i, i + n, true
	}
	for _, m := range s.re.FindAllStringIndex(str, 2) {
		if m[1] == 0 {
			continue
		}
		return m[0], m[1], true
	}
	return 0, 0, false
}

func (s *splitter) isDelim(r rune) bool {
	if s.re == nil {
		return strings.ContainsRune(s.chars, r)
	}
	return s.one.MatchString(string(r))
}

// The groups of value_grouping: an opening string, and what closes it.
var groupStarts = []struct {
	open  string
	close byte
}{{`"`, '"'}, {`'`, '\''}, {"(", ')'}, {"[", ']'}, {"<", '>'}, {"{", '}'}, {"http://", ' '}, {"https://", ' '}}

var errUnclosed = errors.New("a value group has no closing character (strict_grouping)")

// splitGrouped splits at the characters of field_split_characters (taken
// as they are, not as a regular expression), but skips over quoted,
// bracketed and URL values in which a delimiter does not count (Data
// Prepper's parseWithValueGrouping).
func (p *processor) splitGrouped(str string) ([]string, error) {
	var parts []string
	addPart := func(a, b int) {
		if part := strings.TrimFunc(str[a:b], func(r rune) bool { return r <= ' ' }); part != "" {
			parts = append(parts, part)
		}
	}
	start, i := 0, 0
	for i < len(str) {
		if isEscapedQuote(str, i) {
			i++
			continue
		}
		skipped := false
		if g := groupAt(str, i); g >= 0 {
			// Only values are grouped: the piece so far must contain a
			// key-value delimiter (or open a string literal).
			_, _, hasValue := p.value.first(str[start : i+1])
			if hasValue || p.literal != 0 && groupStarts[g].open[0] == p.literal {
				end, err := p.skipGroup(str, i+1, groupStarts[g].close)
				if err != nil {
					return nil, err
				}
				i, skipped = end, true
			}
		}
		r, n := utf8.DecodeRuneInString(str[i:])
		if strings.ContainsRune(p.groupDelims, r) {
			if skipped {
				i += n // the closing character is part of the value
			}
			addPart(start, i)
			if !skipped {
				i += n
			}
			start = i
		} else {
			i += n
		}
	}
	if start < len(str) {
		addPart(start, len(str))
	}
	return parts, nil
}

func isEscapedQuote(s string, i int) bool {
	return i > 0 && (s[i] == '"' || s[i] == '\'') && s[i-1] == '\\'
}

func groupAt(s string, i int) int {
	for g, st := range groupStarts {
		if !strings.HasPrefix(s[i:], st.open) {
			continue
		}
		if g <= 1 && i > 0 && s[i-1] == '\\' {
			continue
		}
		return g
	}
	return -1
}

// skipGroup returns the index of the closing character from i on (an
// escaped quote does not close), or the last index when there is none.
func (p *processor) skipGroup(s string, i int, closing byte) (int, error) {
	for ; i < len(s); i++ {
		if isEscapedQuote(s, i) {
			continue
		}
		if s[i] == closing {
			return i, nil
		}
	}
	if p.strictGroup {
		return 0, errUnclosed
	}
	return len(s) - 1, nil
}

var closers = map[byte]byte{'[': ']', '(': ')', '<': '>'}

// recurse parses text whose values may be bracketed lists of pairs, one
// bracket kind per level (Data Prepper's recursive mode): "a=1&b=[c=2&d=<e=3>]".
func (p *processor) recurse(text string) pairs {
	var out pairs
	var stack []byte
	var chunks []string
	start := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if _, open := closers[c]; open {
			stack = append(stack, c)
		} else if len(stack) > 0 && closers[stack[len(stack)-1]] == c {
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			if r, n := utf8.DecodeRuneInString(text[i:]); p.field.isDelim(r) {
				chunks = append(chunks, text[start:i])
				start = i + n
				i += n - 1
			}
		}
	}
	chunks = append(chunks, text[start:])
	for _, pair := range chunks {
		a, b, ok := p.value.first(pair)
		key := ""
		if ok {
			key = strings.TrimRightFunc(pair[:a], unicode.IsSpace)
		}
		if strings.TrimSpace(key) == "" {
			continue // no key: nothing to store
		}
		val := strings.TrimLeft(pair[b:], " ")
		if len(val) > 0 {
			if closing, open := closers[val[0]]; open {
				if val[len(val)-1] == closing {
					inner := p.recurse(strings.TrimLeftFunc(val[1:len(val)-1], unicode.IsSpace))
					obj := make(map[string]any, len(inner.keys))
					for _, k := range inner.keys {
						obj[k] = inner.vals[k]
					}
					out.set(key, obj)
				}
				continue // an unclosed group is dropped, as in Data Prepper
			}
		}
		out.set(key, val)
	}
	return out
}
