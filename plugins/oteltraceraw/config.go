package oteltraceraw

import (
	"time"
)

// Config is the otel_trace_raw processor's configuration. The first three
// options are Data Prepper's; a bare number in a duration is seconds, as
// in Data Prepper.
type Config struct {
	TraceFlushInterval     time.Duration `yaml:"trace_flush_interval" unit:"s" min:"1ms" doc:"how long spans wait for their trace's root span before they are released without a trace group"`
	TraceGroupCacheTTL     time.Duration `yaml:"trace_group_cache_ttl" unit:"s" min:"1ms" doc:"how long a root span's trace group is remembered for spans arriving after it"`
	TraceGroupCacheMaxSize int           `yaml:"trace_group_cache_max_size" min:"1" doc:"most trace groups remembered; beyond it the oldest are forgotten"`
	MaxHeldSpans           int           `yaml:"max_held_spans" min:"1" doc:"most spans held waiting for their root; beyond it the oldest traces are released without a trace group"`
}

// Defaults, as in Data Prepper (max_held_spans is weft's).
const (
	DefaultTraceFlushInterval     = 180 * time.Second
	DefaultTraceGroupCacheTTL     = 15 * time.Second
	DefaultTraceGroupCacheMaxSize = 1_000_000
	DefaultMaxHeldSpans           = 500_000
)

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		TraceFlushInterval:     DefaultTraceFlushInterval,
		TraceGroupCacheTTL:     DefaultTraceGroupCacheTTL,
		TraceGroupCacheMaxSize: DefaultTraceGroupCacheMaxSize,
		MaxHeldSpans:           DefaultMaxHeldSpans,
	}
}
