package weftmetrics

import (
	"fmt"
	"net/url"
	"path"
	"time"

	"github.com/weft-agent/weft/config"
)

// Config is the weft_metrics source's configuration (weft's own plugin).
type Config struct {
	Interval       time.Duration `yaml:"interval" min:"100ms" doc:"how often weft's metrics are read and emitted (one metric event per series)"`
	IncludeMetrics []string      `yaml:"include_metrics" doc:"metric family names to emit, as glob patterns (weft_span_*); default: all"`
	ExcludeMetrics []string      `yaml:"exclude_metrics" doc:"metric family names not to emit (go_*, process_*)"`
	MetricsURL     string        `yaml:"metrics_url" doc:"weft's /metrics to read when the agent does not hand its registry to components; default: in process, else http://127.0.0.1:4900/metrics"`
}

// DefaultMetricsURL is the admin server's default /metrics.
const DefaultMetricsURL = "http://127.0.0.1:4900/metrics"

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{Interval: time.Minute} }

// Validate checks the patterns and the URL.
func (c *Config) Validate() error {
	for _, l := range []struct {
		key  string
		pats []string
	}{{"include_metrics", c.IncludeMetrics}, {"exclude_metrics", c.ExcludeMetrics}} {
		for _, p := range l.pats {
			if _, err := path.Match(p, ""); err != nil {
				return &config.FieldError{Key: l.key, Msg: fmt.Sprintf("%q is not a glob pattern: %v", p, err)}
			}
		}
	}
	if c.MetricsURL != "" {
		u, err := url.Parse(c.MetricsURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &config.FieldError{Key: "metrics_url", Msg: fmt.Sprintf("%q is not an http(s) URL", c.MetricsURL)}
		}
	}
	return nil
}
