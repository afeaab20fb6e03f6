package pipelines

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's own series. They are created once per agent and
// survive reloads, so counters keep counting across them.
type Metrics struct {
	pipelineIn      *prometheus.CounterVec
	pipelineOut     *prometheus.CounterVec
	pipelineDropped *prometheus.CounterVec
	pipelineFailed  *prometheus.CounterVec
	pipelineCreated *prometheus.CounterVec
	bufferUsage     *prometheus.GaugeVec
	bufferCapacity  *prometheus.GaugeVec
	batchDuration   *prometheus.HistogramVec
	compIn          *prometheus.CounterVec
	compOut         *prometheus.CounterVec
	compDropped     *prometheus.CounterVec
	compFailed      *prometheus.CounterVec
}

// NewMetrics creates and registers the engine metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	pl := []string{"pipeline"}
	cl := []string{"pipeline", "component"}
	m := &Metrics{
		pipelineIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_pipeline_events_in_total",
			Help: "Events accepted into the pipeline's buffer."}, pl),
		pipelineOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_pipeline_events_out_total",
			Help: "Events handed to at least one sink (sinks then count delivered and failed)."}, pl),
		pipelineDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_pipeline_events_dropped_total",
			Help: "Events dropped on purpose (filters, unrouted), by reason."}, []string{"pipeline", "reason"}),
		pipelineFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_pipeline_events_failed_total",
			Help: "Events finally rejected by a sink (dead-lettered) or lost at shutdown, by reason."}, []string{"pipeline", "reason"}),
		pipelineCreated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_pipeline_events_created_total",
			Help: "Events created by processors (e.g. service-map documents)."}, pl),
		bufferUsage: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weft_buffer_events",
			Help: "Events currently held in the pipeline's buffer."}, pl),
		bufferCapacity: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weft_buffer_capacity_events",
			Help: "Capacity of the pipeline's buffer in events."}, pl),
		batchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weft_pipeline_batch_duration_seconds",
			Help:    "Time to run one batch through the processors and hand it to the sinks.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10)}, pl),
		compIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_component_events_received_total",
			Help: "Events that entered the component."}, cl),
		compOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_component_events_sent_total",
			Help: "Events the component passed on (processors) or delivered (sinks)."}, cl),
		compDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_component_events_dropped_total",
			Help: "Events the component dropped on purpose, by reason."}, []string{"pipeline", "component", "reason"}),
		compFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_component_events_failed_total",
			Help: "Events the component finally rejected, by reason."}, []string{"pipeline", "component", "reason"}),
	}
	reg.MustRegister(m.pipelineIn, m.pipelineOut, m.pipelineDropped, m.pipelineFailed, m.pipelineCreated,
		m.bufferUsage, m.bufferCapacity, m.batchDuration, m.compIn, m.compOut, m.compDropped, m.compFailed)
	return m
}

func (m *Metrics) telemetry(pipeline, component string, reg prometheus.Registerer) *Telemetry {
	return &Telemetry{
		Pipeline:   pipeline,
		Component:  component,
		Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": pipeline, "component": component}, reg),
		m:          m,
		in:         m.compIn.WithLabelValues(pipeline, component),
		out:        m.compOut.WithLabelValues(pipeline, component),
	}
}

// RegisterMetric registers a component's collector c on reg (nil: c stays
// unregistered) and returns it — or, when a collector of the same type is
// already registered in its place (a component recreated by a reload, or
// one of several instances sharing a series), that one.
func RegisterMetric[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old, nil
			}
		}
		var zero C
		return zero, fmt.Errorf("registering metrics (is the same name used with other labels or another type elsewhere?): %w", err)
	}
	return c, nil
}
