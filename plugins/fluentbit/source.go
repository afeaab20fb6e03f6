// Package fluentbit is the `fluentbit` source: it receives the records of a
// Fluent Bit output plugin running weft in-process (the C side lives in
// ./cmd/weft-fluentbit, built with -buildmode=c-shared). Everything but the
// cgo glue is here, testable without Fluent Bit: Open builds the graph of a
// pipeline file whose source is `fluentbit`, Flush decodes one Fluent Bit
// chunk and writes its events into that source's pipeline, Close drains.
package fluentbit

import (
	"context"
	"sync"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

func init() {
	pipelines.RegisterSource("fluentbit",
		"records of Fluent Bit, when weft runs inside it as the Go output plugin `weft`", NewConfig, New)
}

// sharedKey names the graph-shared endpoint through which an Instance finds
// the fluentbit sources of the graph it built.
const sharedKey = "fluentbit/endpoint"

// endpoint connects an Instance and the fluentbit sources of one graph.
type endpoint struct {
	mu      sync.Mutex
	sources []*Source
}

func (e *endpoint) add(s *Source) {
	e.mu.Lock()
	e.sources = append(e.sources, s)
	e.mu.Unlock()
}

func (e *endpoint) list() []*Source {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Source(nil), e.sources...)
}

// Source is the fluentbit source. It produces nothing by itself: an
// Instance writes the chunks Fluent Bit flushes through it.
type Source struct {
	set pipelines.Settings
	cfg *Config

	mu sync.Mutex
	in pipelines.Input // nil before Start and after Stop
}

// New creates the source and makes it known to the graph's endpoint.
func New(s pipelines.Settings, cfg *Config) (pipelines.Source, error) {
	src := &Source{set: s, cfg: cfg}
	if s.Host != nil {
		s.Host.Shared(sharedKey, func() any { return &endpoint{} }).(*endpoint).add(src)
	}
	return src, nil
}

// Start makes the source accept writes.
func (s *Source) Start(_ context.Context, in pipelines.Input) error {
	s.mu.Lock()
	s.in = in
	s.mu.Unlock()
	return nil
}

// Stop makes later writes fail with pipelines.ErrClosed. A write in progress
// ends on its own (the buffer closes after Stop).
func (s *Source) Stop(context.Context) error {
	s.mu.Lock()
	s.in = nil
	s.mu.Unlock()
	return nil
}

// write enqueues events into the pipeline's buffer, blocking at most until
// ctx ends; it returns how many were accepted.
func (s *Source) write(ctx context.Context, evs []*event.Event) (int, error) {
	s.mu.Lock()
	in := s.in
	s.mu.Unlock()
	if in == nil {
		return 0, pipelines.ErrClosed
	}
	s.set.Telemetry.Received(len(evs))
	n, err := in.Write(ctx, evs)
	s.set.Telemetry.Passed(n)
	return n, err
}
