package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is a loaded set of pipeline files.
type Config struct {
	Files     []string
	Agent     Agent
	AgentPos  Pos
	Pipelines []*Pipeline
	// Secrets are nodes whose value must never be printed.
	Secrets map[*yaml.Node]bool

	docs      []*yaml.Node
	agentNode *yaml.Node
}

// Pipeline is one named pipeline as written.
type Pipeline struct {
	Name       string
	Pos        Pos
	File       string
	Workers    int
	Delay      time.Duration
	BufferSize int
	BatchSize  int
	Source     *Component
	Processors []*Component
	Sinks      []*Component
	Routes     []Route
}

// Route is a named condition sinks can subscribe to.
type Route struct {
	Name string
	Expr string
	Pos  Pos
}

// Component is one source, processor or sink entry.
type Component struct {
	Plugin   string
	Role     string // "source", "processor", "sink"
	Index    int
	Pipeline string
	Pos      Pos
	File     string
	// Settings is the component's option mapping (nil when written bare).
	Settings *yaml.Node
	// Routes (sinks only) lists the route names this sink receives.
	Routes    []string
	RoutesPos Pos
}

// Label names the component in messages: `processor[1] "grok"`.
func (c *Component) Label() string {
	if c.Role == "source" {
		return fmt.Sprintf("source %q", c.Plugin)
	}
	return fmt.Sprintf("%s[%d] %q", c.Role, c.Index, c.Plugin)
}

// ID is a stable identifier for metrics and logs: "processor/1/grok".
func (c *Component) ID() string {
	if c.Role == "source" {
		return "source/" + c.Plugin
	}
	return fmt.Sprintf("%s/%d/%s", c.Role, c.Index, c.Plugin)
}

// Decoder returns a strict decoder labelled for this component.
func (c *Component) Decoder(secrets map[*yaml.Node]bool) *Decoder {
	return &Decoder{File: c.File, Pipeline: c.Pipeline, Component: c.Label(), Secrets: secrets}
}

// Defaults for pipelines, as in Data Prepper.
const (
	DefaultBufferSize = 12800
	DefaultBatchSize  = 200
	DefaultWorkers    = 1
	DefaultDelay      = 3 * time.Second
)

// Reserved top-level keys that are not pipelines.
const agentKey = "weft"

var pipelineKeys = []string{"source", "processor", "sink", "buffer", "workers", "delay", "route", "routes"}

// Load reads a file or every *.yaml / *.yml in a directory. It returns the
// config and every error found (a config.Errors), not just the first.
func Load(path string) (*Config, error) {
	return LoadWith(path, os.LookupEnv)
}

// LoadWith is Load with an explicit environment lookup (for tests).
func LoadWith(path string, env func(string) (string, bool)) (*Config, error) {
	files, err := listFiles(path)
	if err != nil {
		return nil, err
	}
	cfg := &Config{Files: files, Agent: DefaultAgent(), Secrets: map[*yaml.Node]bool{}}
	var errs Errors
	seen := map[string]Pos{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		errs = append(errs, cfg.parseFile(f, data, env, seen)...)
	}
	if len(cfg.Pipelines) == 0 && len(errs) == 0 {
		errs = append(errs, &Error{Pos: Pos{File: path, Line: 1, Col: 1}, Msg: "no pipelines defined"})
	}
	return cfg, errs.Err()
}

// Parse loads configuration from bytes (name is used in messages).
func Parse(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	cfg := &Config{Files: []string{name}, Agent: DefaultAgent(), Secrets: map[*yaml.Node]bool{}}
	errs := cfg.parseFile(name, data, env, map[string]Pos{})
	if len(cfg.Pipelines) == 0 && len(errs) == 0 {
		errs = append(errs, &Error{Pos: Pos{File: name, Line: 1, Col: 1}, Msg: "no pipelines defined"})
	}
	return cfg, errs.Err()
}

func listFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("reading config directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("config directory %s has no *.yaml or *.yml files", path)
	}
	return files, nil
}

func (cfg *Config) parseFile(file string, data []byte, env func(string) (string, bool), seen map[string]Pos) Errors {
	var errs Errors
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			return append(errs, yamlError(file, err))
		}
		cfg.docs = append(cfg.docs, &doc)
		errs = append(errs, substitute(file, &doc, env, cfg.Secrets)...)
		root := &doc
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		if root.Kind != yaml.MappingNode {
			errs = append(errs, &Error{Pos: posOf(file, root), Msg: "expected a mapping of pipeline names to pipelines"})
			continue
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			switch k.Value {
			case agentKey:
				if cfg.agentNode != nil {
					errs = append(errs, &Error{Pos: posOf(file, k), Msg: fmt.Sprintf("agent settings given twice (first at %s)", cfg.AgentPos)})
					continue
				}
				cfg.agentNode, cfg.AgentPos = v, posOf(file, k)
				d := &Decoder{File: file, Component: "agent settings (weft)", Secrets: cfg.Secrets}
				d.Decode(v, &cfg.Agent)
				errs = append(errs, d.Errs...)
				continue
			case "version":
				// Data Prepper's optional `version: "2"` header.
				continue
			}
			if first, dup := seen[k.Value]; dup {
				errs = append(errs, &Error{Pos: posOf(file, k), Pipeline: k.Value, Msg: fmt.Sprintf("pipeline defined twice (first at %s)", first)})
				continue
			}
			seen[k.Value] = posOf(file, k)
			p, perrs := parsePipeline(file, k, v)
			errs = append(errs, perrs...)
			if p != nil {
				cfg.Pipelines = append(cfg.Pipelines, p)
			}
		}
	}
	return errs
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

func yamlError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &line)
	}
	return &Error{Pos: Pos{File: file, Line: line, Col: 1}, Msg: "invalid YAML: " + msg}
}

func parsePipeline(file string, k, v *yaml.Node) (*Pipeline, Errors) {
	name := k.Value
	p := &Pipeline{Name: name, Pos: posOf(file, k), File: file, Workers: DefaultWorkers, Delay: DefaultDelay,
		BufferSize: DefaultBufferSize, BatchSize: DefaultBatchSize}
	fail := func(n *yaml.Node, key, format string, args ...any) *Error {
		return &Error{Pos: posOf(file, n), Pipeline: name, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	var errs Errors
	if name == "" {
		errs = append(errs, fail(k, "", "a pipeline needs a name"))
	}
	if v.Kind != yaml.MappingNode {
		return nil, append(errs, fail(v, "", "expected a mapping with source, processor and sink"))
	}
	var sawSource, sawSink bool
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := v.Content[i], v.Content[i+1]
		switch key.Value {
		case "source":
			sawSource = true
			comps, e := parseComponents(file, name, "source", val, false)
			errs = append(errs, e...)
			if len(comps) > 1 {
				errs = append(errs, fail(val, "source", "a pipeline has exactly one source, found %d", len(comps)))
			}
			if len(comps) > 0 {
				p.Source = comps[0]
			}
		case "processor", "processors":
			comps, e := parseComponents(file, name, "processor", val, true)
			errs = append(errs, e...)
			p.Processors = comps
		case "sink":
			sawSink = true
			comps, e := parseComponents(file, name, "sink", val, true)
			errs = append(errs, e...)
			p.Sinks = comps
		case "workers":
			d := &Decoder{File: file, Pipeline: name}
			var w struct {
				Workers int `yaml:"workers" min:"1" max:"1024"`
			}
			w.Workers = p.Workers
			d.decodeStruct(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{key, val}}, reflectValue(&w), "")
			errs = append(errs, d.Errs...)
			p.Workers = w.Workers
		case "delay":
			d := &Decoder{File: file, Pipeline: name}
			var w struct {
				Delay time.Duration `yaml:"delay" max:"1h"`
			}
			w.Delay = p.Delay
			d.decodeStruct(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{key, val}}, reflectValue(&w), "")
			errs = append(errs, d.Errs...)
			p.Delay = w.Delay
		case "buffer":
			errs = append(errs, parseBuffer(file, p, val)...)
		case "route", "routes":
			errs = append(errs, parseRoutes(file, p, val)...)
		default:
			errs = append(errs, fail(key, key.Value, "%s", strings.Replace(unknownKeyMsg(key.Value, pipelineKeys), "option", "pipeline key", 1)))
		}
	}
	if !sawSource || (p.Source == nil && len(errs) == 0) {
		errs = append(errs, fail(k, "source", "pipeline has no source"))
	}
	if !sawSink || (len(p.Sinks) == 0 && len(errs) == 0) {
		errs = append(errs, fail(k, "sink", "pipeline has no sink"))
	}
	return p, errs
}

func parseBuffer(file string, p *Pipeline, val *yaml.Node) Errors {
	type bounded struct {
		BufferSize int `yaml:"buffer_size" min:"1" max:"100000000" doc:"events the buffer holds before the source is pushed back"`
		BatchSize  int `yaml:"batch_size" min:"1" max:"1000000" doc:"events a worker takes from the buffer at once"`
	}
	var b struct {
		Bounded *bounded `yaml:"bounded_blocking"`
	}
	d := &Decoder{File: file, Pipeline: p.Name, Component: `buffer`}
	b.Bounded = &bounded{BufferSize: p.BufferSize, BatchSize: p.BatchSize}
	if !isNull(val) && val.Kind == yaml.MappingNode && len(val.Content) != 2 {
		d.Fail(val, "", "expected exactly one buffer type (bounded_blocking)")
		return d.Errs
	}
	d.Decode(val, &b)
	if b.Bounded != nil {
		p.BufferSize, p.BatchSize = b.Bounded.BufferSize, b.Bounded.BatchSize
		if p.BatchSize > p.BufferSize {
			d.Fail(val, "bounded_blocking.batch_size", "batch_size %d is larger than buffer_size %d", p.BatchSize, p.BufferSize)
		}
	}
	return d.Errs
}

func parseRoutes(file string, p *Pipeline, val *yaml.Node) Errors {
	var errs Errors
	add := func(k, v *yaml.Node) {
		if v.Kind != yaml.ScalarNode {
			errs = append(errs, &Error{Pos: posOf(file, v), Pipeline: p.Name, Key: "route." + k.Value, Msg: "expected a condition expression string"})
			return
		}
		for _, r := range p.Routes {
			if r.Name == k.Value {
				errs = append(errs, &Error{Pos: posOf(file, k), Pipeline: p.Name, Key: "route." + k.Value, Msg: "route defined twice"})
				return
			}
		}
		p.Routes = append(p.Routes, Route{Name: k.Value, Expr: v.Value, Pos: posOf(file, v)})
	}
	switch val.Kind {
	case yaml.SequenceNode: // Data Prepper: `route: [ {name: expr}, ... ]`
		for _, item := range val.Content {
			if item.Kind != yaml.MappingNode {
				errs = append(errs, &Error{Pos: posOf(file, item), Pipeline: p.Name, Key: "route", Msg: "expected `name: condition` entries"})
				continue
			}
			for i := 0; i+1 < len(item.Content); i += 2 {
				add(item.Content[i], item.Content[i+1])
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(val.Content); i += 2 {
			add(val.Content[i], val.Content[i+1])
		}
	default:
		errs = append(errs, &Error{Pos: posOf(file, val), Pipeline: p.Name, Key: "route", Msg: "expected a list of `name: condition` entries"})
	}
	return errs
}

// parseComponents reads `source: {plugin: {...}}` or `sink: [- plugin: {...}]`.
func parseComponents(file, pipeline, role string, val *yaml.Node, list bool) ([]*Component, Errors) {
	var errs Errors
	var items []*yaml.Node
	switch {
	case val.Kind == yaml.SequenceNode:
		items = val.Content
	case val.Kind == yaml.MappingNode:
		items = []*yaml.Node{val}
	case isNull(val) && list:
		return nil, nil
	default:
		return nil, Errors{{Pos: posOf(file, val), Pipeline: pipeline, Key: role, Msg: fmt.Sprintf("expected a plugin mapping such as `%s: {plugin_name: {options}}`", role)}}
	}
	var out []*Component
	for _, item := range items {
		if item.Kind == yaml.ScalarNode && !isNull(item) {
			// `- otel_trace_raw` without a colon: a bare plugin name.
			out = append(out, &Component{Plugin: item.Value, Role: role, Index: len(out), Pipeline: pipeline, Pos: posOf(file, item), File: file})
			continue
		}
		if item.Kind != yaml.MappingNode || len(item.Content) == 0 {
			errs = append(errs, &Error{Pos: posOf(file, item), Pipeline: pipeline, Key: role, Msg: "expected `plugin_name: {options}`"})
			continue
		}
		if len(item.Content) != 2 {
			errs = append(errs, &Error{Pos: posOf(file, item.Content[2]), Pipeline: pipeline, Key: role,
				Msg: fmt.Sprintf("each %s entry names one plugin; found %q and %q (is the indentation of the options right?)", role, item.Content[0].Value, item.Content[2].Value)})
			continue
		}
		c := &Component{Plugin: item.Content[0].Value, Role: role, Index: len(out), Pipeline: pipeline, Pos: posOf(file, item.Content[0]), File: file, Settings: item.Content[1]}
		if isNull(c.Settings) {
			c.Settings = nil
		}
		if role == "sink" && c.Settings != nil && c.Settings.Kind == yaml.MappingNode {
			errs = append(errs, extractSinkRoutes(c)...)
		}
		out = append(out, c)
	}
	return out, errs
}

// extractSinkRoutes removes the common `routes` option from a sink's settings.
func extractSinkRoutes(c *Component) Errors {
	s := c.Settings
	for i := 0; i+1 < len(s.Content); i += 2 {
		if s.Content[i].Value != "routes" {
			continue
		}
		rv := s.Content[i+1]
		c.RoutesPos = posOf(c.File, rv)
		d := &Decoder{File: c.File, Pipeline: c.Pipeline, Component: c.Label()}
		var r struct {
			Routes []string `yaml:"routes"`
		}
		d.decodeStruct(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{s.Content[i], rv}}, reflectValue(&r), "")
		c.Routes = r.Routes
		cp := *s
		cp.Content = append(append([]*yaml.Node(nil), s.Content[:i]...), s.Content[i+2:]...)
		c.Settings = &cp
		return d.Errs
	}
	return nil
}

// Pipeline returns the pipeline named name.
func (cfg *Config) Pipeline(name string) *Pipeline {
	for _, p := range cfg.Pipelines {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// PipelineNames lists the defined pipeline names.
func (cfg *Config) PipelineNames() []string {
	names := make([]string, len(cfg.Pipelines))
	for i, p := range cfg.Pipelines {
		names[i] = p.Name
	}
	return names
}

// ParseNode parses YAML text into a node (for tests and tools).
func ParseNode(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	if doc.Kind == 0 {
		return nil, nil
	}
	return &doc, nil
}
