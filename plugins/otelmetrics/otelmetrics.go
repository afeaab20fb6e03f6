// Package otelmetrics is the `otel_metrics` processor (alias
// `otel_metrics_raw_processor`, its older name): in Data Prepper it turns
// the OTLP export requests of otel_metrics_source into metric documents.
// weft's OTLP sources already emit those documents, so this processor
// exists for Data Prepper pipeline files to run unchanged: it applies its
// options to the metric documents that pass through (removing the bucket
// lists the options turn off) and leaves every other event alone.
package otelmetrics

import (
	"context"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/otlp"
)

func init() {
	pipelines.RegisterProcessor("otel_metrics",
		"Data Prepper's OTLP metrics processor: weft's OTLP sources already emit metric documents; applies its bucket options to them",
		NewConfig, New, "otel_metrics_raw_processor")
}

// Config holds Data Prepper's otel_metrics options.
type Config struct {
	otlp.MetricsOptions
	FlattenAttributes bool `yaml:"flatten_attributes" doc:"accepted for Data Prepper compatibility; weft's metric documents always have their attributes as top-level fields, so only true is allowed"`
}

// NewConfig returns Data Prepper's defaults (flatten_attributes: weft's
// only layout).
func NewConfig() *Config {
	return &Config{MetricsOptions: otlp.DefaultMetricsOptions(), FlattenAttributes: true}
}

// Validate refuses what weft cannot do.
func (c *Config) Validate() error {
	if !c.FlattenAttributes {
		return &config.FieldError{Key: "flatten_attributes", Msg: "weft's metric documents always have their attributes as top-level fields (metric.attributes.<key>); remove the option or set it to true"}
	}
	return nil
}

type processor struct{ opts otlp.MetricsOptions }

// New creates the processor.
func New(_ pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &processor{opts: c.MetricsOptions}, nil
}

// Process removes from metric documents the bucket lists the options turn
// off; the sources' own options (with the same names and defaults) decide
// whether they were computed at all.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	for _, ev := range events {
		if ev.Kind != event.KindMetric {
			continue
		}
		f := ev.Fields()
		switch f[otlp.FieldKind] {
		case otlp.KindHistogram:
			if _, ok := f[otlp.FieldBuckets]; ok && !p.opts.CalculateHistogramBuckets {
				delete(ev.Mutable(), otlp.FieldBuckets)
			}
		case otlp.KindExponentialHistogram:
			_, has := f[otlp.FieldPositiveBuckets]
			scale, _ := f[otlp.FieldScale].(int64)
			if has && (!p.opts.CalculateExponentialHistogramBuckets || scale > int64(p.opts.ExponentialHistogramMaxAllowedScale)) {
				m := ev.Mutable()
				delete(m, otlp.FieldPositiveBuckets)
				delete(m, otlp.FieldNegativeBuckets)
			}
		}
	}
	return events
}
