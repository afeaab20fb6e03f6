// Package dropevents implements the drop_events processor, compatible with
// OpenSearch Data Prepper's processor of the same name: it drops the events
// for which a condition holds.
package dropevents

import (
	"context"
	"errors"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterProcessor("drop_events",
		"drops the events for which drop_when is true",
		NewConfig, New)
}

// Drop reasons, the reason label of weft_component_events_dropped_total.
const (
	reasonMatched = "drop_when"
	reasonFailed  = "drop_when_error"
)

// processor is immutable after New (ratelog.Logger is atomic), so workers share
// it without locking.
type processor struct {
	when        *expr.Expression
	tel         *pipelines.Telemetry
	dropFailed  bool // drop events on which the condition fails
	logFailures bool
	failures    *ratelog.Logger
}

// New creates a drop_events processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if c.DropWhen == nil {
		return nil, errors.New("drop_when: required option is missing")
	}
	p := &processor{when: c.DropWhen, tel: s.Telemetry}
	msg := "drop_events: drop_when could not be evaluated; the events were kept"
	switch c.HandleFailedEvents {
	case "drop", "":
		p.dropFailed, p.logFailures = true, true
		msg = "drop_events: drop_when could not be evaluated; the events were dropped"
	case "drop_silently":
		p.dropFailed = true
	case "skip":
		p.logFailures = true
	case "skip_silently":
	default:
		return nil, errors.New("handle_failed_events: must be drop, drop_silently, skip or skip_silently")
	}
	p.failures = ratelog.New(s.Logger, msg)
	return p, nil
}

// Process returns the events to keep, in order, in the input's backing
// array. Dropped events are finalized (acknowledged as dropped) and counted.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	out := events[:0]
	for _, ev := range events {
		drop, err := p.when.EvalBool(ev)
		if err != nil {
			if p.logFailures {
				p.failures.Record(err)
			}
			if p.dropFailed {
				p.tel.Drop(ev, reasonFailed)
				continue
			}
			drop = false
		}
		if drop {
			p.tel.Drop(ev, reasonMatched)
			continue
		}
		out = append(out, ev)
	}
	return out
}

// Shutdown reports the failures counted since the last warning.
func (p *processor) Shutdown(context.Context) error {
	if p.logFailures {
		p.failures.Flush()
	}
	return nil
}
