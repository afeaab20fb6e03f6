// Package template expands names built from an event: Data Prepper's date
// patterns (`logs-%{yyyy.MM.dd}`, evaluated on the event's time in UTC) and
// event-field references (`${/kubernetes/namespace_name}`). Sinks use it for
// file paths, index names, log group and stream names.
//
// A template is parsed once (at config time) and expanded per event into a
// caller-owned buffer: a static template costs one append and no allocation,
// and a date part is formatted once per second of event time.
package template

import (
	"github.com/weft-agent/weft/config"

	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// Template is a parsed name template. The zero value is the empty static
// template. A Template is safe for concurrent use.
type Template struct {
	raw    string
	parts  []part
	fields int
	dates  int
}

type partKind uint8

const (
	literalPart partKind = iota
	fieldPart
	datePart
)

type part struct {
	kind partKind
	lit  string
	path event.Path
	date *dateFormat
}

// ErrMissingField is matched (errors.Is) by the error Expand returns when an
// event lacks a referenced field.
var ErrMissingField = errors.New("field referenced by the template is missing")

// MissingFieldError names the field an event lacks.
type MissingFieldError struct {
	Field string
}

func (e *MissingFieldError) Error() string {
	return "field " + e.Field + " referenced by the template is missing"
}

// Is makes errors.Is(err, ErrMissingField) true.
func (e *MissingFieldError) Is(target error) bool { return target == ErrMissingField }

// Parse compiles s. `${/pointer}` references an event field (the leading
// slash is required: without it the config loader reads `${NAME}` as an
// environment variable), `%{pattern}` formats the event's time in UTC with
// Java-style letters (yyyy yy MM M dd d HH H mm m ss s S…, 'quoted' text).
// Everything else is literal.
func Parse(s string) (*Template, error) {
	t := &Template{raw: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{kind: literalPart, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if (c == '$' || c == '%') && i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return nil, fmt.Errorf("template %q: %c{ at offset %d is not closed by }", s, c, i)
			}
			ref := s[i+2 : i+2+end]
			if strings.Contains(ref, "${") || strings.Contains(ref, "%{") {
				return nil, fmt.Errorf("template %q: references cannot be nested (offset %d)", s, i)
			}
			flush()
			if c == '$' {
				p, err := parseField(ref)
				if err != nil {
					return nil, fmt.Errorf("template %q: %w", s, err)
				}
				t.parts = append(t.parts, p)
				t.fields++
			} else {
				df, err := parseDate(ref)
				if err != nil {
					return nil, fmt.Errorf("template %q: %w", s, err)
				}
				t.parts = append(t.parts, part{kind: datePart, date: df})
				t.dates++
			}
			i += 2 + end + 1
			continue
		}
		lit.WriteByte(c)
		i++
	}
	flush()
	return t, nil
}

// MustParse is Parse for templates written in code; it panics on error.
func MustParse(s string) *Template {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

func parseField(ref string) (part, error) {
	switch {
	case ref == "":
		return part{}, errors.New("empty field reference ${}")
	case config.IsEnvName(ref):
		return part{}, fmt.Errorf("${%s} is an environment variable reference, but it was not resolved; set %s or write ${/%s} for an event field", ref, ref, ref)
	case ref == "/":
		return part{}, errors.New("${/} would insert the whole event; name a field")
	case strings.ContainsAny(ref, "{"):
		return part{}, fmt.Errorf("invalid field reference ${%s}", ref)
	}
	return part{kind: fieldPart, path: event.ParsePath(ref)}, nil
}

// String returns the template as written.
func (t Template) String() string { return t.raw }

// MarshalText returns the template as written.
func (t Template) MarshalText() ([]byte, error) { return []byte(t.raw), nil }

// UnmarshalText parses text, so a config option of type Template decodes
// from a YAML string and is checked at load time.
func (t *Template) UnmarshalText(text []byte) error {
	p, err := Parse(string(text))
	if err != nil {
		return err
	}
	*t = *p
	return nil
}

// IsStatic reports whether the template has neither field nor date parts, so
// every event expands to the same text (String()).
func (t *Template) IsStatic() bool { return t.fields == 0 && t.dates == 0 }

// HasFields reports whether the template references event fields.
func (t *Template) HasFields() bool { return t.fields > 0 }

// HasDate reports whether the template formats the event's time.
func (t *Template) HasDate() bool { return t.dates > 0 }

// Options adjust Expand for a caller.
type Options struct {
	// Missing, when not nil, is written in place of a field the event lacks
	// (or holds null) instead of failing.
	Missing *string
	// Sanitize, when set, is called after each field value has been appended
	// at dst[start:] and returns dst with that value rewritten (e.g. the file
	// sink replaces path separators so a value cannot leave its directory).
	// It is not applied to literal text, dates or Missing.
	Sanitize func(dst []byte, start int) []byte
}

// Expand appends the template's text for e to dst. It fails with a
// *MissingFieldError when e lacks a referenced field (or holds null there),
// so the caller can choose its fallback.
func (t *Template) Expand(dst []byte, e *event.Event) ([]byte, error) {
	return t.ExpandWith(dst, e, nil)
}

// ExpandWith is Expand with options (nil means none).
func (t *Template) ExpandWith(dst []byte, e *event.Event, o *Options) ([]byte, error) {
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case literalPart:
			dst = append(dst, p.lit...)
		case datePart:
			dst = p.date.append(dst, e.Time)
		case fieldPart:
			v, ok := e.Get(p.path)
			if !ok || v == nil {
				if o != nil && o.Missing != nil {
					dst = append(dst, *o.Missing...)
					continue
				}
				return dst, &MissingFieldError{Field: p.path.String()}
			}
			start := len(dst)
			dst = appendValue(dst, v)
			if o != nil && o.Sanitize != nil {
				dst = o.Sanitize(dst, start)
			}
		}
	}
	return dst, nil
}

// appendValue writes a field value as text: strings as they are, numbers and
// booleans in their JSON spelling, objects and arrays as JSON.
func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(dst, x...)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case float64:
		return strconv.AppendFloat(dst, x, 'f', -1, 64)
	case bool:
		return strconv.AppendBool(dst, x)
	default:
		return event.AppendJSON(dst, v)
	}
}

// dateFormat is a compiled `%{...}` pattern.
type dateFormat struct {
	elems []dateElem
	// perSecond is true when the pattern has no fraction of a second, so
	// the text can be cached per second of event time.
	perSecond bool
	cache     atomic.Pointer[dateEntry]
}

type dateEntry struct {
	sec  int64
	text []byte
}

type dateElem struct {
	letter byte // 0 for literal text
	width  int
	lit    string
}

const dateLetters = "yyyy yy MM M dd d HH H mm m ss s S (1-9 for fractions)"

func parseDate(p string) (*dateFormat, error) {
	if p == "" {
		return nil, errors.New("empty date pattern %{}")
	}
	df := &dateFormat{perSecond: true}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			df.elems = append(df.elems, dateElem{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			// 'text' is literal; '' is a quote, as in Java.
			if i+1 < len(p) && p[i+1] == '\'' {
				lit.WriteByte('\'')
				i += 2
				continue
			}
			i++
			for {
				if i >= len(p) {
					return nil, fmt.Errorf("date pattern %%{%s}: unclosed quote", p)
				}
				if p[i] == '\'' {
					if i+1 < len(p) && p[i+1] == '\'' {
						lit.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				lit.WriteByte(p[i])
				i++
			}
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			n := 1
			for i+n < len(p) && p[i+n] == c {
				n++
			}
			if !validWidth(c, n) {
				return nil, fmt.Errorf("date pattern %%{%s}: %q is not supported (use %s, and quote literal letters as 'T')", p, p[i:i+n], dateLetters)
			}
			flush()
			df.elems = append(df.elems, dateElem{letter: c, width: n})
			if c == 'S' {
				df.perSecond = false
			}
			i += n
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return df, nil
}

func validWidth(c byte, n int) bool {
	switch c {
	case 'y':
		return n == 2 || n == 4
	case 'M', 'd', 'H', 'm', 's':
		return n <= 2
	case 'S':
		return n <= 9
	}
	return false
}

// append formats t (in UTC), from the per-second cache when possible.
func (df *dateFormat) append(dst []byte, t time.Time) []byte {
	if !df.perSecond {
		return df.format(dst, t.UTC())
	}
	sec := t.Unix()
	if c := df.cache.Load(); c != nil && c.sec == sec {
		return append(dst, c.text...)
	}
	start := len(dst)
	dst = df.format(dst, t.UTC())
	df.cache.Store(&dateEntry{sec: sec, text: append([]byte(nil), dst[start:]...)})
	return dst
}

func (df *dateFormat) format(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	for _, e := range df.elems {
		switch e.letter {
		case 0:
			dst = append(dst, e.lit...)
		case 'y':
			if e.width == 2 {
				dst = appendPadded(dst, year%100, 2)
			} else {
				dst = appendPadded(dst, year, 4)
			}
		case 'M':
			dst = appendPadded(dst, int(month), e.width)
		case 'd':
			dst = appendPadded(dst, day, e.width)
		case 'H':
			dst = appendPadded(dst, hour, e.width)
		case 'm':
			dst = appendPadded(dst, minute, e.width)
		case 's':
			dst = appendPadded(dst, second, e.width)
		case 'S':
			frac := t.Nanosecond()
			for k := e.width; k < 9; k++ {
				frac /= 10
			}
			dst = appendPadded(dst, frac, e.width)
		}
	}
	return dst
}

// appendPadded writes n with at least width digits (zero-padded).
func appendPadded(dst []byte, n, width int) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n >= 10 || width > 1 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	b[i] = byte('0' + n)
	return append(dst, b[i:]...)
}
