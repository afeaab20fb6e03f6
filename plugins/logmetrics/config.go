package logmetrics

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the log_metrics processor's configuration (weft's own plugin).
type Config struct {
	Name         string            `yaml:"name" required:"true" doc:"metric base name (Prometheus rules: [a-zA-Z_][a-zA-Z0-9_]*); the counter is <name>_total"`
	Help         string            `yaml:"help" doc:"help text of the counter (default: a generic one)"`
	Labels       map[string]string `yaml:"labels" doc:"label name → JSON pointer of the event field giving its value, e.g. {level: /level, namespace: /kubernetes/namespace_name}"`
	MissingValue string            `yaml:"missing_value" doc:"label value used when an event lacks the field (or holds null)"`
	MaxSeries    int               `yaml:"max_series" min:"1" max:"10000000" doc:"most label combinations; events of new ones beyond it are counted under __overflow__ in every label"`
	Histogram    Histogram         `yaml:"histogram" doc:"also observe a numeric field in a histogram (set field to enable)"`
	CountWhen    *expr.Expression  `yaml:"count_when" doc:"condition; only events for which it is true are counted and observed (default: every event)"`
}

// Histogram turns a numeric field into a histogram.
type Histogram struct {
	Field      string    `yaml:"field" doc:"JSON pointer of the numeric field to observe, e.g. /duration_ms; empty: no histogram"`
	Buckets    []float64 `yaml:"buckets" doc:"upper bounds of the buckets, increasing, in the unit after unit_scale"`
	UnitScale  float64   `yaml:"unit_scale" doc:"factor applied to the field's value before observing (0.001 turns milliseconds into seconds)"`
	NameSuffix string    `yaml:"name_suffix" doc:"appended to name for the histogram's name; give the base unit, e.g. _seconds or _bytes"`
	Help       string    `yaml:"help" doc:"help text of the histogram (default: a generic one)"`
}

// DefaultBuckets are Prometheus' default buckets.
var DefaultBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// DefaultMaxSeries is max_series' default.
const DefaultMaxSeries = 10_000

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{MaxSeries: DefaultMaxSeries,
		Histogram: Histogram{Buckets: append([]float64(nil), DefaultBuckets...), UnitScale: 1}}
}

// reservedLabels are added by Prometheus or by the engine.
var reservedLabels = map[string]string{
	"le":        "it is the histogram's bucket label",
	"quantile":  "it is the summaries' quantile label",
	"pipeline":  "weft adds it to every component metric",
	"component": "weft adds it to every component metric",
	"job":       "Prometheus sets it when scraping",
	"instance":  "Prometheus sets it when scraping",
}

func validName(s string, label bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return !label || !strings.HasPrefix(s, "__")
}

// Validate checks the names against Prometheus' rules and conventions.
func (c *Config) Validate() error {
	switch {
	case strings.Contains(c.Name, ":"):
		return &config.FieldError{Key: "name", Msg: fmt.Sprintf("%q: colons are reserved for recording rules", c.Name)}
	case !validName(c.Name, false):
		return &config.FieldError{Key: "name", Msg: fmt.Sprintf("%q is not a valid metric name ([a-zA-Z_][a-zA-Z0-9_]*)", c.Name)}
	case strings.HasPrefix(c.Name, "__"):
		return &config.FieldError{Key: "name", Msg: fmt.Sprintf("%q: names starting with __ are reserved", c.Name)}
	case strings.HasSuffix(c.Name, "_total"):
		return &config.FieldError{Key: "name", Msg: fmt.Sprintf("%q: leave out _total, the counter is named <name>_total (%s_total)", c.Name, strings.TrimSuffix(c.Name, "_total"))}
	}
	for _, suf := range []string{"_bucket", "_count", "_sum"} {
		if strings.HasSuffix(c.Name, suf) {
			return &config.FieldError{Key: "name", Msg: fmt.Sprintf("%q: the suffix %s is reserved for histograms and summaries", c.Name, suf)}
		}
	}
	names := make([]string, 0, len(c.Labels))
	for n := range c.Labels {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !validName(n, true) {
			return &config.FieldError{Key: "labels", Msg: fmt.Sprintf("%q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", n)}
		}
		if why, ok := reservedLabels[n]; ok {
			return &config.FieldError{Key: "labels", Msg: fmt.Sprintf("label %q is reserved: %s", n, why)}
		}
		if c.Labels[n] == "" {
			return &config.FieldError{Key: "labels", Msg: fmt.Sprintf("label %q: the JSON pointer is empty", n)}
		}
	}
	h := c.Histogram
	if h.Field == "" {
		if h.NameSuffix != "" || h.Help != "" || h.UnitScale != 1 || !slices.Equal(h.Buckets, DefaultBuckets) {
			return &config.FieldError{Key: "histogram", Msg: "histogram options are set but histogram.field (the field to observe) is not"}
		}
		return nil
	}
	full := c.Name + h.NameSuffix
	switch {
	case h.NameSuffix != "" && !validName("x"+h.NameSuffix, false):
		return &config.FieldError{Key: "histogram.name_suffix", Msg: fmt.Sprintf("%q makes an invalid metric name", h.NameSuffix)}
	case strings.HasSuffix(full, "_total"):
		return &config.FieldError{Key: "histogram.name_suffix", Msg: fmt.Sprintf("the histogram %s must not end in _total (that is for counters)", full)}
	case len(h.Buckets) == 0:
		return &config.FieldError{Key: "histogram.buckets", Msg: "must list at least one bucket"}
	case h.UnitScale <= 0:
		return &config.FieldError{Key: "histogram.unit_scale", Msg: "must be above 0"}
	}
	for i := 1; i < len(h.Buckets); i++ {
		if h.Buckets[i] <= h.Buckets[i-1] {
			return &config.FieldError{Key: "histogram.buckets", Msg: fmt.Sprintf("must increase: %v follows %v", h.Buckets[i], h.Buckets[i-1])}
		}
	}
	return nil
}
