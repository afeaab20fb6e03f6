// Package filter implements weft's filter processor: it keeps (or drops)
// the events that an OpenSearch query selects, so that a document-level
// security rule such as {"match": {"day_of_week": "Sunday"}} selects the
// same documents at the agent as in OpenSearch.
//
// The query DSL is compiled once into a tree of closures; evaluating term,
// match, range and exists queries on existing fields allocates nothing.
package filter

import (
	"context"
	"errors"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

func init() {
	pipelines.RegisterProcessor("filter",
		"keeps or drops the events that an OpenSearch query (DSL) selects",
		NewConfig, New)
}

// reason is the label of weft_component_events_dropped_total.
const reason = "filter"

// processor is immutable after New, so workers share it.
type processor struct {
	query *Query
	keep  bool // mode keep: matching events pass
	when  *expr.Expression
	tel   *pipelines.Telemetry
}

// New creates a filter processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if c.Query.m == nil {
		return nil, errors.New("query: required option is missing")
	}
	p := &processor{query: &c.Query, when: c.FilterWhen, tel: s.Telemetry}
	switch c.Mode {
	case ModeKeep, "":
		p.keep = true
	case ModeDrop:
	default:
		return nil, errors.New("mode: must be keep or drop")
	}
	return p, nil
}

// Process returns the events that pass, in order, in the input's backing
// array; the others are finalized as dropped and counted.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	out := events[:0]
	for _, ev := range events {
		if p.when != nil && !p.when.Bool(ev) {
			out = append(out, ev)
			continue
		}
		if p.query.m(ev.Fields()) == p.keep {
			out = append(out, ev)
			continue
		}
		p.tel.Drop(ev, reason)
	}
	return out
}
