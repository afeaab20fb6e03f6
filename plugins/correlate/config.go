package correlate

import (
	"strings"
	"time"

	"github.com/weft-agent/weft/config"
)

// Config is the correlate processor's configuration.
type Config struct {
	Store            string        `yaml:"store" required:"true" doc:"name of the correlation store; every correlate processor naming the same store shares it (spans feed it, logs are enriched from it)"`
	TreatAs          string        `yaml:"treat_as" enum:"auto,span,log" doc:"auto: span events feed the store and log events are enriched; span or log: treat every event as a span document or as a log (span documents read from a file are log events)"`
	MaxTraces        int           `yaml:"max_traces" min:"1" max:"100000000" doc:"most traces the store tracks; beyond it the least recently fed trace is evicted"`
	MaxSpansPerTrace int           `yaml:"max_spans_per_trace" min:"1" max:"1000000" doc:"most spans indexed per trace; later spans still count for the trace's status"`
	TraceTTL         time.Duration `yaml:"trace_ttl" min:"1s" doc:"traces no span was fed for this long are evicted"`
	MaxWait          time.Duration `yaml:"max_wait" min:"0s" max:"1h" doc:"longest a log waits for its trace's spans (and an event for its trace's outcome when sampling) before it is released with what is known"`
	MaxHeldLogs      int           `yaml:"max_held_logs" min:"0" doc:"most events this processor holds; beyond it the oldest are released early"`
	MaxHeldBytes     int64         `yaml:"max_held_bytes" min:"0" doc:"most bytes (estimated) of events this processor holds; beyond it the oldest are released early"`
	Target           string        `yaml:"target" doc:"object (key or JSON pointer) the enrichment fields are written into; empty: the top level of the log"`
	AnnotateSpans    bool          `yaml:"annotate_spans" doc:"hold spans for span_wait and write logCount and maxLogSeverity of the logs correlated with each"`
	SpanWait         time.Duration `yaml:"span_wait" min:"0s" max:"1h" doc:"annotate_spans: how long spans wait for their logs"`
	Sampling         Sampling      `yaml:"sampling" doc:"trace-aware sampling; with the defaults (rate 1) everything is kept"`
}

// Sampling configures trace-aware sampling.
type Sampling struct {
	Rate                 float64       `yaml:"rate" min:"0" max:"1" doc:"share of traces kept that are neither failed nor slow, decided by a hash of the trace ID"`
	KeepErrors           bool          `yaml:"keep_errors" doc:"keep every span and log of a trace in which any span has status code 2"`
	LatencyThreshold     time.Duration `yaml:"latency_threshold" min:"0s" doc:"keep every span and log of a trace whose root span took longer; 0s: off"`
	LogsWithoutTraceRate float64       `yaml:"logs_without_trace_rate" min:"0" max:"1" doc:"share of logs without trace context kept (every n-th, not by content)"`
	HashSeed             uint64        `yaml:"hash_seed" doc:"seed of the trace ID hash; processes with the same seed decide every trace the same way"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		TreatAs:          "auto",
		MaxTraces:        100_000,
		MaxSpansPerTrace: 1000,
		TraceTTL:         5 * time.Minute,
		MaxWait:          3 * time.Second,
		MaxHeldLogs:      100_000,
		MaxHeldBytes:     64 << 20,
		SpanWait:         5 * time.Second,
		Sampling:         Sampling{Rate: 1, KeepErrors: true, LogsWithoutTraceRate: 1},
	}
}

// Validate checks what the tags cannot.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.Store) == "" {
		return &config.FieldError{Key: "store", Msg: "must name a store"}
	}
	return nil
}

func (c *Config) storeOptions() storeOptions {
	return storeOptions{maxTraces: c.MaxTraces, maxSpans: c.MaxSpansPerTrace, ttl: c.TraceTTL}
}
