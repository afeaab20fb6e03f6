package weftmetrics

import (
	"fmt"
	"net/url"
	"time"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/selfmetrics"
)

// Config is the weft_metrics source's configuration (weft's own plugin).
type Config struct {
	Interval       time.Duration `yaml:"interval" min:"100ms" doc:"how often weft's metrics are read and emitted (one metric event per series)"`
	IncludeMetrics []string      `yaml:"include_metrics" doc:"metric family names to emit, as glob patterns (weft_span_*); default: all"`
	ExcludeMetrics []string      `yaml:"exclude_metrics" doc:"metric family names not to emit (go_*, process_*)"`
	MetricsURL     string        `yaml:"metrics_url" doc:"weft's /metrics to read when the agent does not hand its registry to components; default: in process, else http://127.0.0.1:4900/metrics"`
}

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{Interval: time.Minute} }

// Validate checks the patterns and the URL.
func (c *Config) Validate() error {
	if err := (selfmetrics.Filter{Include: c.IncludeMetrics}).Check(); err != nil {
		return &config.FieldError{Key: "include_metrics", Msg: err.Error()}
	}
	if err := (selfmetrics.Filter{Exclude: c.ExcludeMetrics}).Check(); err != nil {
		return &config.FieldError{Key: "exclude_metrics", Msg: err.Error()}
	}
	if c.MetricsURL != "" {
		u, err := url.Parse(c.MetricsURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &config.FieldError{Key: "metrics_url", Msg: fmt.Sprintf("%q is not an http(s) URL", c.MetricsURL)}
		}
	}
	return nil
}
