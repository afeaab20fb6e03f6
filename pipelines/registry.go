package pipelines

import (
	"fmt"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/weft-agent/weft/config"
)

// Kind is a component's role.
type Kind string

const (
	KindSource    Kind = "source"
	KindProcessor Kind = "processor"
	KindSink      Kind = "sink"
)

// Factory creates one plugin's components from its typed config.
type Factory struct {
	Kind    Kind
	Name    string
	Aliases []string
	// Summary is one line for `weft plugins`.
	Summary string
	// NewConfig returns a pointer to the config struct holding the defaults.
	NewConfig func() any

	createSource    func(Settings, any) (Source, error)
	createProcessor func(Settings, any) (Processor, error)
	createSink      func(Settings, any) (Sink, error)
}

// Options describes the factory's options (name, type, default, meaning),
// read from the config struct.
func (f *Factory) Options() []config.OptionDoc { return config.Describe(f.NewConfig()) }

// The registry is weft's only global state: plugins add themselves from init.
var registry = struct {
	sync.RWMutex
	byKey map[string]*Factory
	all   []*Factory
}{byKey: map[string]*Factory{}}

func register(f *Factory) {
	registry.Lock()
	defer registry.Unlock()
	for _, n := range append([]string{f.Name}, f.Aliases...) {
		key := string(f.Kind) + "/" + n
		if _, dup := registry.byKey[key]; dup {
			panic(fmt.Sprintf("pipelines: %s %q registered twice", f.Kind, n))
		}
		registry.byKey[key] = f
	}
	registry.all = append(registry.all, f)
}

// RegisterSource adds a source plugin.
func RegisterSource[C any](name, summary string, newConfig func() *C, create func(Settings, *C) (Source, error), aliases ...string) {
	register(&Factory{Kind: KindSource, Name: name, Aliases: aliases, Summary: summary,
		NewConfig:    func() any { return newConfig() },
		createSource: func(s Settings, c any) (Source, error) { return create(s, c.(*C)) }})
}

// RegisterProcessor adds a processor plugin.
func RegisterProcessor[C any](name, summary string, newConfig func() *C, create func(Settings, *C) (Processor, error), aliases ...string) {
	register(&Factory{Kind: KindProcessor, Name: name, Aliases: aliases, Summary: summary,
		NewConfig:       func() any { return newConfig() },
		createProcessor: func(s Settings, c any) (Processor, error) { return create(s, c.(*C)) }})
}

// RegisterSink adds a sink plugin.
func RegisterSink[C any](name, summary string, newConfig func() *C, create func(Settings, *C) (Sink, error), aliases ...string) {
	register(&Factory{Kind: KindSink, Name: name, Aliases: aliases, Summary: summary,
		NewConfig:  func() any { return newConfig() },
		createSink: func(s Settings, c any) (Sink, error) { return create(s, c.(*C)) }})
}

// Lookup finds a factory by kind and name or alias.
func Lookup(kind Kind, name string) (*Factory, bool) {
	registry.RLock()
	defer registry.RUnlock()
	f, ok := registry.byKey[string(kind)+"/"+name]
	return f, ok
}

// Factories lists every registered factory, by kind then name.
func Factories() []*Factory {
	registry.RLock()
	defer registry.RUnlock()
	out := append([]*Factory(nil), registry.all...)
	order := map[Kind]int{KindSource: 0, KindProcessor: 1, KindSink: 2}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return order[out[i].Kind] < order[out[j].Kind]
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// names lists the registered names (with aliases) of a kind, for suggestions.
func names(kind Kind) []string {
	registry.RLock()
	defer registry.RUnlock()
	var out []string
	for _, f := range registry.all {
		if f.Kind == kind {
			out = append(out, f.Name)
			out = append(out, f.Aliases...)
		}
	}
	sort.Strings(out)
	return out
}

// TestSettings builds Settings outside a graph (for plugin tests; see
// pipelinestest).
func TestSettings(m *Metrics, reg prometheus.Registerer, log *logrus.Logger, pipeline, id string, host Host) Settings {
	entry := log.WithFields(logrus.Fields{"pipeline": pipeline, "component": id})
	tel := m.telemetry(pipeline, id, reg)
	tel.logger_ = entry
	return Settings{Pipeline: pipeline, ID: id, Plugin: id, Logger: entry, Telemetry: tel,
		Tracer: noop.NewTracerProvider().Tracer("weft"), Host: host}
}

// CreateProcessor creates a registered processor from a decoded config.
func CreateProcessor(name string, s Settings, cfg any) (Processor, error) {
	f, ok := Lookup(KindProcessor, name)
	if !ok {
		return nil, fmt.Errorf("unknown processor %q", name)
	}
	return f.createProcessor(s, cfg)
}

// CreateSource creates a registered source from a decoded config.
func CreateSource(name string, s Settings, cfg any) (Source, error) {
	f, ok := Lookup(KindSource, name)
	if !ok {
		return nil, fmt.Errorf("unknown source %q", name)
	}
	return f.createSource(s, cfg)
}

// CreateSink creates a registered sink from a decoded config.
func CreateSink(name string, s Settings, cfg any) (Sink, error) {
	f, ok := Lookup(KindSink, name)
	if !ok {
		return nil, fmt.Errorf("unknown sink %q", name)
	}
	return f.createSink(s, cfg)
}
