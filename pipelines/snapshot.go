package pipelines

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// PipelineStatus is the JSON shape of one pipeline in GET /pipelines.
type PipelineStatus struct {
	Name           string            `json:"name"`
	State          string            `json:"state"`
	Upstream       []string          `json:"upstream,omitempty"`
	Downstream     []string          `json:"downstream,omitempty"`
	Workers        int               `json:"workers"`
	BufferSize     int               `json:"buffer_size"`
	BatchSize      int               `json:"batch_size"`
	BufferedEvents int               `json:"buffered_events"`
	EventsIn       float64           `json:"events_in"`
	EventsOut      float64           `json:"events_out"`
	Components     []ComponentStatus `json:"components"`
	Routes         []string          `json:"routes,omitempty"`
}

// ComponentStatus is one component in GET /pipelines.
type ComponentStatus struct {
	ID       string   `json:"id"`
	Kind     Kind     `json:"kind"`
	Plugin   string   `json:"plugin"`
	Received float64  `json:"received"`
	Sent     float64  `json:"sent"`
	Ready    *string  `json:"not_ready,omitempty"`
	Routes   []string `json:"routes,omitempty"`
}

// Status describes every pipeline, upstream first.
func (g *Graph) Status() []PipelineStatus {
	out := make([]PipelineStatus, 0, len(g.order))
	for _, p := range g.order {
		ps := PipelineStatus{Name: p.Name, State: State(p.state.Load()).String(), Upstream: p.upstream,
			Workers: p.cfg.Workers, BufferSize: p.cfg.BufferSize, BatchSize: p.cfg.BatchSize,
			BufferedEvents: p.buf.Len(),
			EventsIn:       counterValue(p.m.pipelineIn.WithLabelValues(p.Name)),
			EventsOut:      counterValue(p.m.pipelineOut.WithLabelValues(p.Name))}
		for _, r := range p.cfg.Routes {
			ps.Routes = append(ps.Routes, r.Name+": "+r.Expr)
		}
		comp := func(id string, kind Kind, plugin string, c any) ComponentStatus {
			cs := ComponentStatus{ID: id, Kind: kind, Plugin: plugin,
				Received: counterValue(p.m.compIn.WithLabelValues(p.Name, id)),
				Sent:     counterValue(p.m.compOut.WithLabelValues(p.Name, id))}
			if r, ok := c.(Readier); ok {
				if err := r.Ready(); err != nil {
					s := err.Error()
					cs.Ready = &s
				}
			}
			return cs
		}
		ps.Components = append(ps.Components, comp(p.sourceID, KindSource, p.cfg.Source.Plugin, p.source))
		for i, pr := range p.procs {
			ps.Components = append(ps.Components, comp(pr.id, KindProcessor, p.cfg.Processors[i].Plugin, pr.p))
		}
		for i, sk := range p.sinks {
			cs := comp(sk.id, KindSink, p.cfg.Sinks[i].Plugin, sk.s)
			cs.Routes = p.cfg.Sinks[i].Routes
			if c, ok := sk.s.(*connectorSink); ok {
				ps.Downstream = append(ps.Downstream, c.name)
			}
			ps.Components = append(ps.Components, cs)
		}
		out = append(out, ps)
	}
	return out
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}
