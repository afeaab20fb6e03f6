package tracecontext

import (
	"fmt"
	"regexp"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
)

// Form names, in the default order in which they are tried.
const (
	FormOTLP   = "otlp"
	FormPython = "python"
	FormW3C    = "w3c"
	FormB3     = "b3"
	FormExtra  = "extra"
)

// Config is the trace_context processor's configuration.
type Config struct {
	Formats       []string     `yaml:"formats" enum:"otlp,python,w3c,b3,extra" doc:"forms to look for, tried in the order given; the first that yields a valid trace ID wins"`
	MessageKeys   []string     `yaml:"message_keys" doc:"fields (keys or JSON pointers) whose text is scanned for IDs, in order"`
	Paths         []PathConfig `yaml:"paths" doc:"extra form: fields holding the IDs, tried in order"`
	Patterns      []string     `yaml:"patterns" doc:"extra form: regular expressions with named groups trace_id and optionally span_id and flags, matched against the message fields"`
	Overwrite     bool         `yaml:"overwrite" doc:"replace a valid ID already at trace_id_key; when false such an event keeps its ID"`
	TraceIDKey    string       `yaml:"trace_id_key" doc:"where the trace ID is written (key or JSON pointer)"`
	SpanIDKey     string       `yaml:"span_id_key" doc:"where the span ID is written"`
	TraceFlagsKey string       `yaml:"trace_flags_key" doc:"where the trace flags (2 hex digits) are written when known; empty to not write them"`
	ServiceKey    string       `yaml:"service_name_key" doc:"where a service name found in the Python format is written when the event has none; empty to not write it"`
	TagsOnInvalid []string     `yaml:"tags_on_invalid" doc:"tags added when an ID-looking value was found but was invalid (wrong length, not hex, all zeros)"`
	TagsOnFound   []string     `yaml:"tags_on_found" doc:"tags added when a valid trace ID was found"`
}

// PathConfig names the fields of one pair of IDs for the extra form.
type PathConfig struct {
	TraceID string `yaml:"trace_id" required:"true" doc:"key or JSON pointer of the trace ID (32 or 16 hex digits, or 24 base64 characters)"`
	SpanID  string `yaml:"span_id" doc:"key or JSON pointer of the span ID (16 hex digits or 12 base64 characters)"`
}

// NewConfig returns the defaults: every form, the usual message fields,
// OpenSearch Trace Analytics field names.
func NewConfig() *Config {
	return &Config{
		Formats:       []string{FormOTLP, FormPython, FormW3C, FormB3, FormExtra},
		MessageKeys:   []string{"message", "msg", "log"},
		TraceIDKey:    "traceId",
		SpanIDKey:     "spanId",
		TraceFlagsKey: "traceFlags",
		ServiceKey:    "serviceName",
		TagsOnInvalid: []string{"_invalid_trace_context"},
	}
}

// Validate checks the options against each other. It is also called by New,
// so a Config built in code gets the same checks as one decoded from YAML.
func (c *Config) Validate() error {
	if len(c.Formats) == 0 {
		return &config.FieldError{Key: "formats", Msg: "must list at least one form"}
	}
	seen := map[string]bool{}
	extra := false
	for i, f := range c.Formats {
		if _, ok := formIndex(f); !ok {
			// The enum tag catches this when decoding YAML; a Config made
			// in code reaches here.
			return &config.FieldError{Key: fmt.Sprintf("formats[%d]", i), Msg: fmt.Sprintf("%q is not one of otlp, python, w3c, b3, extra", f)}
		}
		if seen[f] {
			return &config.FieldError{Key: fmt.Sprintf("formats[%d]", i), Msg: fmt.Sprintf("%q is listed twice", f)}
		}
		seen[f] = true
		extra = extra || f == FormExtra
	}
	if !extra && (len(c.Paths) > 0 || len(c.Patterns) > 0) {
		// Silently ignoring configured paths would look like a bug in them.
		return &config.FieldError{Key: "formats", Msg: "paths and patterns are only used by the extra form; add extra to formats"}
	}
	for i, k := range c.MessageKeys {
		if k == "" || event.ParsePath(k).IsRoot() {
			return &config.FieldError{Key: fmt.Sprintf("message_keys[%d]", i), Msg: "must name a field, not the whole event"}
		}
	}
	for i, pc := range c.Paths {
		if pc.TraceID == "" || event.ParsePath(pc.TraceID).IsRoot() {
			return &config.FieldError{Key: fmt.Sprintf("paths[%d].trace_id", i), Msg: "must name a field, not the whole event"}
		}
		if pc.SpanID != "" && event.ParsePath(pc.SpanID).IsRoot() {
			return &config.FieldError{Key: fmt.Sprintf("paths[%d].span_id", i), Msg: "must name a field, not the whole event"}
		}
	}
	for i, s := range c.Patterns {
		if _, err := compilePattern(s); err != nil {
			return &config.FieldError{Key: fmt.Sprintf("patterns[%d]", i), Msg: err.Error()}
		}
	}
	for _, k := range []struct{ key, val string }{{"trace_id_key", c.TraceIDKey}, {"span_id_key", c.SpanIDKey}} {
		if k.val == "" || event.ParsePath(k.val).IsRoot() {
			return &config.FieldError{Key: k.key, Msg: "must name a field, not the whole event"}
		}
	}
	for _, k := range []struct{ key, val string }{{"trace_flags_key", c.TraceFlagsKey}, {"service_name_key", c.ServiceKey}} {
		if k.val != "" && event.ParsePath(k.val).IsRoot() {
			return &config.FieldError{Key: k.key, Msg: "must name a field, not the whole event"}
		}
	}
	outs := map[string]string{}
	for _, k := range []struct{ key, val string }{{"trace_id_key", c.TraceIDKey}, {"span_id_key", c.SpanIDKey},
		{"trace_flags_key", c.TraceFlagsKey}, {"service_name_key", c.ServiceKey}} {
		if k.val == "" {
			continue
		}
		p := event.ParsePath(k.val).String()
		if other, dup := outs[p]; dup {
			return &config.FieldError{Key: k.key, Msg: fmt.Sprintf("is the same field as %s", other)}
		}
		outs[p] = k.key
	}
	return nil
}

// pattern is a compiled user pattern with the indexes of its groups (-1
// when absent).
type pattern struct {
	re                  *regexp.Regexp
	trace, span, flagsG int
}

// compilePattern compiles a user pattern and finds its named groups. A
// pattern without a trace_id group could never produce anything, so it is
// rejected rather than ignored.
func compilePattern(s string) (*pattern, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %w", err)
	}
	p := &pattern{re: re, trace: re.SubexpIndex("trace_id"), span: re.SubexpIndex("span_id"), flagsG: re.SubexpIndex("flags")}
	if p.trace < 0 {
		return nil, fmt.Errorf("needs a named group (?P<trace_id>...)")
	}
	return p, nil
}
