package filter

import (
	"errors"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the filter processor's configuration.
type Config struct {
	Query      Query            `yaml:"query" required:"true" doc:"OpenSearch query DSL (a YAML mapping, or a string holding JSON) selecting documents; see the README for the supported clauses"`
	Mode       string           `yaml:"mode" enum:"keep,drop" doc:"keep: the matching events go on and the others are dropped; drop: the matching events are dropped."`
	FilterWhen *expr.Expression `yaml:"filter_when" doc:"condition; the query is applied only to events for which it is true, the others pass"`
}

// Modes.
const (
	ModeKeep = "keep"
	ModeDrop = "drop"
)

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{Mode: ModeKeep} }

// Query is a compiled query. It decodes from YAML (NodeDecoder) so that
// every error in the DSL keeps its file:line:column and clause path.
type Query struct {
	src string
	m   matcher
}

// Match reports whether the document (an event's fields) matches.
func (q *Query) Match(doc map[string]any) bool {
	if q.m == nil {
		return false
	}
	return q.m(doc)
}

// String returns the query as it was written (JSON text, or "<yaml>" for
// a mapping).
func (q Query) String() string { return q.src }

// CompileQuery compiles query DSL given as JSON text.
func CompileQuery(jsonText string) (*Query, error) {
	src := newJSONSource(jsonText)
	src.exact, src.baseLine, src.baseCol = true, 1, 1
	tree, err := fromJSON(src)
	if err != nil {
		var pe *posError
		if errors.As(err, &pe) {
			return nil, &compileError{pos: pe.pos, msg: pe.msg}
		}
		return nil, err
	}
	c := &compiler{}
	m := c.compileRoot(tree)
	if len(c.errs) > 0 {
		msgs := make([]string, len(c.errs))
		for i, e := range c.errs {
			msgs[i] = e.Error()
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	return &Query{src: jsonText, m: m}, nil
}

// DecodeNode reads the query: a mapping, or a string holding a JSON object.
func (q *Query) DecodeNode(d *config.Decoder, n *yaml.Node, key string) error {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		d.Fail(n, key, "required option is missing; give a query such as {match: {level: error}}")
		return nil
	}
	var tree *dnode
	var err error
	switch {
	case n.Kind == yaml.MappingNode:
		tree, err = fromYAML(n, 0)
		q.src = "<yaml>"
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str" && looksLikeJSON(n.Value):
		tree, err = fromJSON(jsonFromScalar(n))
		q.src = n.Value
	default:
		d.Fail(n, key, "expected a query: a mapping such as {match: {level: error}}, or a string holding a JSON object")
		return nil
	}
	if err != nil {
		var pe *posError
		if errors.As(err, &pe) {
			d.Fail(&yaml.Node{Line: pe.pos.line, Column: pe.pos.col}, key, "%s%s", pe.msg, pe.pos.suffix())
			return nil
		}
		return err
	}
	c := &compiler{}
	m := c.compileRoot(tree)
	for _, e := range c.errs {
		k := key
		if e.path != "" {
			k = key + "." + e.path
		}
		d.Fail(&yaml.Node{Line: e.pos.line, Column: e.pos.col}, k, "%s%s", e.msg, e.pos.suffix())
	}
	if len(c.errs) == 0 {
		q.m = m
	}
	return nil
}
