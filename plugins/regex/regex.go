// Package regex implements weft's regex processor, after Fluent Bit's regex
// parser: regular expressions with named groups, the first that matches
// wins, and each named group becomes a field.
package regex

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

func init() {
	pipelines.RegisterProcessor("regex",
		"parses a text field with regular expressions whose named groups become fields (Fluent Bit's regex parser)",
		NewConfig, New)
}

// Config is the regex processor's configuration.
type Config struct {
	Source          string            `yaml:"source" doc:"field holding the text: a key or JSON pointer"`
	Patterns        []string          `yaml:"patterns" required:"true" doc:"regular expressions (Go RE2) with named groups (?P<name>…) or (?<name>…); the first that matches is used"`
	TargetKey       string            `yaml:"target_key" doc:"object field that receives the groups; default: the root of the event"`
	Types           map[string]string `yaml:"types" doc:"group → int, float, bool or string: convert the captured text"`
	SkipEmptyValues bool              `yaml:"skip_empty_values" doc:"leave out groups that captured empty text (groups that took no part are always left out)"`
	TagsOnFailure   []string          `yaml:"tags_on_failure" doc:"tags added to events no pattern matches (or whose source is not a string)"`
	RegexWhen       *expr.Expression  `yaml:"regex_when" doc:"condition; only events for which it is true are parsed"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{Source: "message", SkipEmptyValues: true}
}

type valueType uint8

const (
	tString valueType = iota
	tInt
	tFloat
	tBool
)

var typeNames = map[string]valueType{
	"string": tString, "int": tInt, "integer": tInt, "float": tFloat, "double": tFloat, "bool": tBool, "boolean": tBool,
}

type group struct {
	path event.Path
	typ  valueType
}

type pattern struct {
	re     *regexp.Regexp
	groups []*group // per submatch (index i for group i+1); nil: unnamed
}

// Validate compiles the patterns and checks the types.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

func (c *Config) compile() ([]pattern, error) {
	if c.Source == "" || event.ParsePath(c.Source).IsRoot() {
		return nil, &config.FieldError{Key: "source", Msg: "must name a field"}
	}
	if c.TargetKey != "" && strings.Trim(c.TargetKey, "/") == "" {
		return nil, &config.FieldError{Key: "target_key", Msg: "must name a field (leave it out to write to the root)"}
	}
	if len(c.Patterns) == 0 {
		return nil, &config.FieldError{Key: "patterns", Msg: "needs at least one regular expression"}
	}
	types := map[string]valueType{}
	for name, t := range c.Types {
		vt, ok := typeNames[strings.ToLower(t)]
		if !ok {
			msg := fmt.Sprintf("%q is not a type; use int, float, bool or string", t)
			if s := config.Suggest(strings.ToLower(t), []string{"int", "integer", "float", "double", "bool", "boolean", "string"}); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return nil, &config.FieldError{Key: "types." + name, Msg: msg}
		}
		types[name] = vt
	}
	seen := map[string]bool{}
	var pats []pattern
	for i, src := range c.Patterns {
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, &config.FieldError{Key: fmt.Sprintf("patterns[%d]", i), Msg: "invalid regular expression: " + err.Error()}
		}
		p := pattern{re: re, groups: make([]*group, re.NumSubexp())}
		named := false
		for j, name := range re.SubexpNames()[1:] {
			if name == "" {
				continue
			}
			named = true
			seen[name] = true
			p.groups[j] = &group{path: event.ParsePath(strings.TrimSuffix(c.TargetKey, "/") + "/" + name), typ: types[name]}
		}
		if !named {
			return nil, &config.FieldError{Key: fmt.Sprintf("patterns[%d]", i), Msg: "has no named group (?P<name>…): it would capture nothing"}
		}
		pats = append(pats, p)
	}
	names := make([]string, 0, len(types))
	for name := range types {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !seen[name] {
			all := make([]string, 0, len(seen))
			for s := range seen {
				all = append(all, s)
			}
			msg := fmt.Sprintf("no pattern has a group named %q", name)
			if s := config.Suggest(name, all); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return nil, &config.FieldError{Key: "types." + name, Msg: msg}
		}
	}
	return pats, nil
}

type processor struct {
	source    event.Path
	patterns  []pattern
	skipEmpty bool
	tags      []string
	when      *expr.Expression
	results   *prometheus.CounterVec
}

// New creates a regex processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	pats, err := c.compile()
	if err != nil {
		return nil, err
	}
	p := &processor{
		source:    event.ParsePath(c.Source),
		patterns:  pats,
		skipEmpty: c.SkipEmptyValues,
		tags:      c.TagsOnFailure,
		when:      c.RegexWhen,
	}
	if s.Telemetry != nil && s.Telemetry.Registerer != nil {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_regex_events_total",
			Help: "Events the regex processor parsed, by result: matched, unmatched."}, []string{"result"})
		cv, err := pipelines.RegisterMetric(s.Telemetry.Registerer, cv)
		if err != nil {
			return nil, err
		}
		p.results = cv
	}
	return p, nil
}

// Process parses the source of every event the condition selects. Events
// never leave here: one no pattern matches gets tags_on_failure.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	matched, unmatched := 0, 0
	for _, ev := range events {
		if p.when != nil && !p.when.Bool(ev) {
			continue
		}
		raw, ok := ev.Get(p.source)
		if !ok || raw == nil {
			continue // nothing to parse is not a failure
		}
		text, ok := raw.(string)
		if ok && p.parse(ev, text) {
			matched++
			continue
		}
		unmatched++
		ev.AddTags(p.tags...)
	}
	if p.results != nil {
		if matched > 0 {
			p.results.WithLabelValues("matched").Add(float64(matched))
		}
		if unmatched > 0 {
			p.results.WithLabelValues("unmatched").Add(float64(unmatched))
		}
	}
	return events
}

func (p *processor) parse(ev *event.Event, text string) bool {
	for i := range p.patterns {
		pat := &p.patterns[i]
		loc := pat.re.FindStringSubmatchIndex(text)
		if loc == nil {
			continue
		}
		ok := true
		for j, g := range pat.groups {
			a, b := loc[2*j+2], loc[2*j+3]
			if g == nil || a < 0 || a == b && p.skipEmpty {
				continue
			}
			if !ev.Put(g.path, convert(text[a:b], g.typ)) {
				ok = false // a value on the way is not an object
			}
		}
		return ok
	}
	return false
}

// convert returns s as the type asked for; text that does not convert
// stays a string.
func convert(s string, t valueType) any {
	switch t {
	case tInt:
		if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			return n
		}
	case tFloat:
		if x, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && x-x == 0 {
			return x
		}
	case tBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "on", "1":
			return true
		case "false", "no", "off", "0":
			return false
		}
	}
	return s
}
