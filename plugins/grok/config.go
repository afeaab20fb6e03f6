package grok

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the grok processor's configuration, Data Prepper's options.
type Config struct {
	Match               Map               `yaml:"match" required:"true" doc:"source field → list of grok patterns, tried in order (the fields in the order given)"`
	BreakOnMatch        bool              `yaml:"break_on_match" doc:"stop at the first pattern that captures something; false tries every pattern of every field and merges the captures"`
	KeepEmptyCaptures   bool              `yaml:"keep_empty_captures" doc:"keep captures whose group did not take part in the match, as null"`
	NamedCapturesOnly   bool              `yaml:"named_captures_only" doc:"keep only %{PATTERN:name} captures; false also captures each %{PATTERN} under the pattern's name"`
	KeysToOverwrite     []string          `yaml:"keys_to_overwrite" doc:"existing fields that a capture of the same name replaces (others become a list of the old and new values)"`
	PatternDefinitions  map[string]string `yaml:"pattern_definitions" doc:"extra named patterns: name → regular expression (may use %{} references)"`
	PatternsDirectories []string          `yaml:"patterns_directories" doc:"directories of pattern files (lines of NAME regex), read at load"`
	PatternsFilesGlob   string            `yaml:"patterns_files_glob" doc:"which files of patterns_directories to read (shell glob, {a,b} allowed)"`
	TargetKey           string            `yaml:"target_key" doc:"object field that receives the captures; default: the root of the event"`
	TimeoutMillis       int               `yaml:"timeout_millis" min:"0" doc:"time budget per event in ms, checked between patterns (0: none)"`
	TagsOnMatchFailure  []string          `yaml:"tags_on_match_failure" doc:"tags added to events from which no pattern captured anything"`
	TagsOnTimeout       []string          `yaml:"tags_on_timeout" doc:"tags added to events that ran out of time (default: tags_on_match_failure)"`
	GrokWhen            *expr.Expression  `yaml:"grok_when" doc:"condition; only events for which it is true are matched"`
	PerformanceMetadata bool              `yaml:"performance_metadata" alias:"include_performance_metadata" doc:"add _total_grok_patterns_attempted and _total_grok_processing_time (ms) to the event metadata"`
}

// NewConfig returns the defaults: Data Prepper's, except that a failed match
// is tagged _grokparsefailure (Logstash's tag) unless configured otherwise.
func NewConfig() *Config {
	return &Config{
		BreakOnMatch:       true,
		NamedCapturesOnly:  true,
		PatternsFilesGlob:  "*",
		TimeoutMillis:      30000,
		TagsOnMatchFailure: []string{"_grokparsefailure"},
	}
}

// MapEntry is one source field and its patterns.
type MapEntry struct {
	Key      string
	Patterns []string
	nodes    []*yaml.Node // for error positions
}

// Map is the `match` option: an ordered mapping of field → patterns.
type Map struct {
	Entries []MapEntry
}

// String shows the mapping (for `weft plugins`; empty by default).
func (m Map) String() string {
	var parts []string
	for _, e := range m.Entries {
		parts = append(parts, fmt.Sprintf("%s: %q", e.Key, e.Patterns))
	}
	return strings.Join(parts, ", ")
}

// DecodeNode reads `match: {field: [pattern, …]}` keeping the order of the
// fields (it decides which field break_on_match stops at) and the position
// of every pattern, so a bad pattern is reported at its line and column.
func (m *Map) DecodeNode(d *config.Decoder, n *yaml.Node, key string) error {
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.Fail(n, key, `expected a mapping of field → list of patterns, e.g. match: {message: ["%%{COMMONAPACHELOG}"]}`)
		return nil
	}
	m.Entries = nil
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		fkey := key + "." + k.Value
		if seen[k.Value] {
			d.Fail(k, fkey, "given more than once")
			continue
		}
		seen[k.Value] = true
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		e := MapEntry{Key: k.Value}
		items := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			items = v.Content
		}
		for j, it := range items {
			ikey := fmt.Sprintf("%s[%d]", fkey, j)
			var s string
			before := len(d.Errs)
			d.DecodeValue(it, reflect.ValueOf(&s).Elem(), ikey)
			if len(d.Errs) > before {
				continue
			}
			e.Patterns = append(e.Patterns, s)
			e.nodes = append(e.nodes, it)
		}
		if len(e.Patterns) == 0 && len(items) == 0 || v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			d.Fail(v, fkey, "needs at least one pattern")
			continue
		}
		m.Entries = append(m.Entries, e)
	}
	return nil
}

// plainConfig has Config's fields without its methods, for the default
// strict decoding inside Config.DecodeNode.
type plainConfig Config

// DecodeNode decodes the options strictly, then compiles every pattern so
// that an unknown pattern name or a bad regular expression is reported at
// the pattern's own file:line:column (with the closest pattern name).
func (c *Config) DecodeNode(d *config.Decoder, n *yaml.Node, key string) error {
	before := len(d.Errs)
	d.DecodeValue(n, reflect.ValueOf((*plainConfig)(c)).Elem(), key)
	if len(d.Errs) > before {
		return nil
	}
	var matchNode *yaml.Node
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "match" {
				matchNode = n.Content[i+1]
			}
		}
	}
	c.check(func(at *yaml.Node, k, msg string) {
		if at == nil {
			at = matchNode
		}
		if at == nil {
			at = n
		}
		d.Fail(at, k, "%s", msg)
	})
	return nil
}

// Validate checks what decoding cannot (used when a Config is built in
// code): the first problem is returned.
func (c *Config) Validate() error {
	var first error
	c.check(func(_ *yaml.Node, k, msg string) {
		if first == nil {
			first = &config.FieldError{Key: k, Msg: msg}
		}
	})
	return first
}

func (c *Config) check(fail func(at *yaml.Node, key, msg string)) {
	if len(c.Match.Entries) == 0 {
		fail(nil, "match", "needs at least one field with patterns")
		return
	}
	lib, err := NewLibrary(c.PatternDefinitions, c.PatternsDirectories, c.PatternsFilesGlob)
	if err != nil {
		k := "patterns_directories"
		if strings.HasPrefix(err.Error(), "pattern name") {
			k = "pattern_definitions"
		}
		fail(nil, k, err.Error())
		return
	}
	for _, e := range c.Match.Entries {
		if strings.Trim(e.Key, "/") == "" {
			fail(nil, "match."+e.Key, "the source must name a field")
		}
		for j, p := range e.Patterns {
			if _, err := lib.Compile(p, c.NamedCapturesOnly); err != nil {
				var at *yaml.Node
				if j < len(e.nodes) {
					at = e.nodes[j]
				}
				fail(at, fmt.Sprintf("match.%s[%d]", e.Key, j), err.Error())
			}
		}
	}
	// pattern_definitions that no pattern uses are still compiled, so that
	// a typo in one is not silently ignored.
	names := make([]string, 0, len(c.PatternDefinitions))
	for name := range c.PatternDefinitions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := lib.Compile("%{"+name+"}", true); err != nil {
			fail(nil, "pattern_definitions."+name, err.Error())
		}
	}
	if strings.TrimSpace(c.TargetKey) != c.TargetKey || c.TargetKey != "" && strings.Trim(c.TargetKey, "/") == "" {
		fail(nil, "target_key", "must name a field (leave it out to write to the root)")
	}
}
