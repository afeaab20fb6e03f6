// Package pipelines is weft's engine: the plugin registry, the component
// interfaces, bounded buffers, routing, and the pipeline graph that connects
// named pipelines. It knows no specific plugin.
package pipelines

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"

	"github.com/weft-agent/weft/pipelines/event"
)

// Input is where a source writes events: the pipeline's bounded buffer.
type Input interface {
	// Write enqueues events in order, blocking while the buffer is full. It
	// returns how many were accepted; when ctx ends first the rest stay the
	// caller's (it should answer its sender with a retryable error).
	Write(ctx context.Context, events []*event.Event) (int, error)
}

// ErrClosed is returned by Input.Write once the pipeline stopped accepting.
var ErrClosed = errors.New("pipeline is shutting down")

// Source produces events.
type Source interface {
	// Start begins producing into in and returns once the source is ready
	// (listening, files opened). Work runs in goroutines the source owns.
	Start(ctx context.Context, in Input) error
	// Stop ends production and returns when the source no longer writes.
	Stop(ctx context.Context) error
}

// FiniteSource is a source that can run out (stdin at EOF, a file read once).
// When every source of the agent is finite and finished, the agent drains and
// exits.
type FiniteSource interface {
	Source
	Done() <-chan struct{}
}

// Processor transforms batches. The same instance is called by every worker
// of the pipeline at once, so it must be safe for concurrent use.
//
// Process may modify events, return fewer (dropping with Telemetry.Drop) or
// more (new events, counted with Telemetry.Created). Stateful processors are
// also called with an empty batch every `delay` while the buffer is idle, so
// they can release held events.
type Processor interface {
	Process(ctx context.Context, events []*event.Event) []*event.Event
}

// Sink delivers events.
type Sink interface {
	Start(ctx context.Context) error
	// Write takes ownership of the events (not of the slice, which it must not
	// keep) and finalizes each exactly once, now or later: Telemetry.Deliver
	// when accepted, Telemetry.Reject when finally refused. Blocking pushes
	// back on the pipeline.
	Write(ctx context.Context, events []*event.Event) error
	// Shutdown flushes what it holds within ctx; what it cannot deliver is
	// rejected with reason "shutdown".
	Shutdown(ctx context.Context) error
}

// Starter and Shutdowner are optional lifecycle hooks for processors.
type Starter interface {
	Start(ctx context.Context) error
}

// Shutdowner releases a processor's resources.
type Shutdowner interface {
	Shutdown(ctx context.Context) error
}

// Flusher is implemented by processors that hold events (waiting for a
// trace root, a correlation window): at shutdown the engine calls Flush after
// the buffer is drained and sends what it returns to the sinks.
type Flusher interface {
	Flush(ctx context.Context) []*event.Event
}

// Readier is implemented by components that can be unready (a sink whose
// destination is unreachable and whose buffer is full, a source not
// listening). /readyz reports their errors.
type Readier interface {
	Ready() error
}

// Settings is what a factory gets besides its typed config.
type Settings struct {
	Pipeline string
	// ID names the component within the pipeline: "processor/1/grok".
	ID     string
	Plugin string
	Logger *logrus.Entry
	// Telemetry counts events and holds component metric registration.
	Telemetry *Telemetry
	Tracer    trace.Tracer
	Host      Host
	// DataDir is where components keep state (checkpoints, dead letters)
	// unless configured otherwise.
	DataDir string
}

// Host gives components access to what the engine shares between pipelines.
type Host interface {
	// Shared returns the object registered under key, creating it with mk on
	// first use. Named stores shared by pipelines (correlation) use it.
	Shared(key string, mk func() any) any
	// PipelineInput returns the buffer of the named pipeline.
	PipelineInput(name string) (Input, bool)
}

// PipelineRef is implemented by the config of the connector sink (the
// `pipeline` sink) so the graph can be checked without knowing the plugins.
type PipelineRef interface {
	PipelineName() string
}

// UpstreamRef is implemented by the config of the connector source: the
// pipelines whose `pipeline` sinks feed this pipeline.
type UpstreamRef interface {
	UpstreamNames() []string
}

// Telemetry counts one component's events and exposes its registerer.
type Telemetry struct {
	Pipeline   string
	Component  string
	Registerer prometheus.Registerer
	logger_    *logrus.Entry
	m          *Metrics
	in, out    prometheus.Counter
}

// Received counts events that entered the component.
func (t *Telemetry) Received(n int) { t.in.Add(float64(n)) }

// Created counts new events a processor made (not derived from an input one).
func (t *Telemetry) Created(n int) {
	t.m.pipelineCreated.WithLabelValues(t.Pipeline).Add(float64(n))
}

// Drop finalizes an event dropped on purpose and counts it by reason.
func (t *Telemetry) Drop(ev *event.Event, reason string) {
	ev.Finalize(event.Dropped)
	t.m.compDropped.WithLabelValues(t.Pipeline, t.Component, reason).Inc()
	t.m.pipelineDropped.WithLabelValues(t.Pipeline, reason).Inc()
}

// Deliver finalizes events a sink delivered.
func (t *Telemetry) Deliver(evs ...*event.Event) {
	for _, ev := range evs {
		ev.Finalize(event.Delivered)
	}
	t.out.Add(float64(len(evs)))
}

// DeliveredCount counts n delivered events whose finalization the caller
// did itself (or that carry no acknowledgement).
func (t *Telemetry) DeliveredCount(n int) { t.out.Add(float64(n)) }

// Reject finalizes an event a sink finally refused (dead-lettered, or lost at
// shutdown) and counts it by reason.
func (t *Telemetry) Reject(ev *event.Event, reason string) {
	ev.Finalize(event.Rejected)
	t.m.compFailed.WithLabelValues(t.Pipeline, t.Component, reason).Inc()
	t.m.pipelineFailed.WithLabelValues(t.Pipeline, reason).Inc()
}

// Passed counts events a component handed on (processors' output).
func (t *Telemetry) Passed(n int) { t.out.Add(float64(n)) }
