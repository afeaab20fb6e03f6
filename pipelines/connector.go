package pipelines

import (
	"context"
	"fmt"

	"github.com/weft-agent/weft/pipelines/event"
)

// The `pipeline` source and sink connect named pipelines, as in Data
// Prepper: `sink: [- pipeline: {name: raw-pipeline}]` in one pipeline and
// `source: {pipeline: {name: entry-pipeline}}` in the other. They belong to
// the engine, which checks both ends agree.

// ConnectorConfig names the pipeline at the other end.
type ConnectorConfig struct {
	Name string `yaml:"name" required:"true" doc:"the pipeline at the other end of the connection"`
}

// PipelineName implements PipelineRef.
func (c *ConnectorConfig) PipelineName() string { return c.Name }

// SourceConnectorConfig names the upstream pipeline; weft also accepts a
// list, so several pipelines can feed one (fan-in), which Data Prepper
// cannot express.
type SourceConnectorConfig struct {
	Name []string `yaml:"name" required:"true" doc:"the pipeline (or list of pipelines) whose pipeline sink feeds this one"`
}

// UpstreamNames implements UpstreamRef.
func (c *SourceConnectorConfig) UpstreamNames() []string { return c.Name }

func init() {
	RegisterSource("pipeline", "events from other pipelines' `pipeline` sinks",
		func() *SourceConnectorConfig { return &SourceConnectorConfig{} },
		func(s Settings, c *SourceConnectorConfig) (Source, error) { return connectorSource{}, nil })
	RegisterSink("pipeline", "events into another pipeline (whose source is `pipeline` naming this one)",
		func() *ConnectorConfig { return &ConnectorConfig{} },
		func(s Settings, c *ConnectorConfig) (Sink, error) {
			return &connectorSink{name: c.Name, host: s.Host, tel: s.Telemetry}, nil
		})
}

// connectorSource does nothing itself: upstream connector sinks write into
// this pipeline's buffer.
type connectorSource struct{}

func (connectorSource) Start(context.Context, Input) error { return nil }
func (connectorSource) Stop(context.Context) error         { return nil }

type connectorSink struct {
	name   string
	host   Host
	tel    *Telemetry
	target Input
}

func (c *connectorSink) Start(context.Context) error {
	in, ok := c.host.PipelineInput(c.name)
	if !ok {
		return fmt.Errorf("no pipeline named %q", c.name)
	}
	c.target = in
	return nil
}

// Write hands events to the downstream buffer, blocking while it is full, so
// back-pressure travels upstream. Ownership (and acknowledgement) passes on.
func (c *connectorSink) Write(ctx context.Context, evs []*event.Event) error {
	n, err := c.target.Write(ctx, evs)
	c.tel.DeliveredCount(n)
	for _, ev := range evs[n:] {
		c.tel.Reject(ev, "shutdown")
	}
	if err != nil {
		return fmt.Errorf("pipeline %q did not accept %d events: %w", c.name, len(evs)-n, err)
	}
	return nil
}

func (c *connectorSink) Shutdown(context.Context) error { return nil }
