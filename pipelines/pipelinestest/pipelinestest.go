// Package pipelinestest helps plugin tests build components outside a
// running agent.
package pipelinestest

import (
	"context"
	"io"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

// Settings returns factory settings for a component in a throw-away graph,
// with a silent logger and a private metrics registry (also returned, to
// read counters from).
func Settings(pipeline, id string) (pipelines.Settings, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	m := pipelines.NewMetrics(reg)
	log := logrus.New()
	log.SetOutput(io.Discard)
	return pipelines.TestSettings(m, reg, log, pipeline, id, &Host{}), reg
}

// Host is a minimal pipelines.Host.
type Host struct {
	mu     sync.Mutex
	shared map[string]any
	Inputs map[string]pipelines.Input
}

// Shared implements pipelines.Host.
func (h *Host) Shared(key string, mk func() any) any {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shared == nil {
		h.shared = map[string]any{}
	}
	if v, ok := h.shared[key]; ok {
		return v
	}
	v := mk()
	h.shared[key] = v
	return v
}

// PipelineInput implements pipelines.Host.
func (h *Host) PipelineInput(name string) (pipelines.Input, bool) {
	in, ok := h.Inputs[name]
	return in, ok
}

// DecodeConfig decodes YAML option text strictly into the plugin's config,
// as the engine would, returning the config and any errors.
func DecodeConfig(kind pipelines.Kind, plugin, yamlText string) (any, error) {
	f, ok := pipelines.Lookup(kind, plugin)
	if !ok {
		panic("pipelinestest: unknown plugin " + plugin)
	}
	cfg := f.NewConfig()
	d := &config.Decoder{File: "test.yaml", Component: plugin}
	node, err := config.ParseNode([]byte(yamlText))
	if err != nil {
		return nil, err
	}
	d.Decode(node, cfg)
	return cfg, d.Errs.Err()
}

// Processor builds a registered processor from YAML options.
func Processor(plugin, yamlText string) (pipelines.Processor, *prometheus.Registry, error) {
	cfg, err := DecodeConfig(pipelines.KindProcessor, plugin, yamlText)
	if err != nil {
		return nil, nil, err
	}
	s, reg := Settings("test", "processor/0/"+plugin)
	p, err := pipelines.CreateProcessor(plugin, s, cfg)
	return p, reg, err
}

// Input collects what a source writes.
type Input struct {
	mu     sync.Mutex
	Events []*event.Event
	// Notify, when set, receives the count after every write.
	Notify chan int
}

// Write implements pipelines.Input.
func (in *Input) Write(_ context.Context, evs []*event.Event) (int, error) {
	in.mu.Lock()
	in.Events = append(in.Events, evs...)
	n := len(in.Events)
	in.mu.Unlock()
	if in.Notify != nil {
		select {
		case in.Notify <- n:
		default:
		}
	}
	return len(evs), nil
}

// Snapshot returns the events written so far.
func (in *Input) Snapshot() []*event.Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]*event.Event(nil), in.Events...)
}
