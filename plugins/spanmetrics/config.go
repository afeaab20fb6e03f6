package spanmetrics

import (
	"fmt"
	"strings"

	"github.com/weft-agent/weft/config"
)

// Config is the span_metrics processor's configuration (weft's own plugin).
type Config struct {
	Buckets    []float64 `yaml:"buckets" doc:"upper bounds of the duration histogram's buckets, in seconds, increasing"`
	MaxSeries  int       `yaml:"max_series" min:"1" doc:"most label combinations; spans of new ones beyond it are counted under operation=\"__overflow__\""`
	Dimensions []string  `yaml:"dimensions" doc:"span (or resource) attribute keys added as labels, e.g. http.method → http_method"`
}

// DefaultBuckets are Prometheus' default latency buckets, in seconds.
var DefaultBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// DefaultMaxSeries is max_series' default.
const DefaultMaxSeries = 10_000

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{Buckets: append([]float64(nil), DefaultBuckets...), MaxSeries: DefaultMaxSeries}
}

// fixedLabels are the labels every series has (and the ones the engine
// adds), which dimensions must not reuse.
var fixedLabels = []string{"service", "operation", "span_kind", "status_code"}

var reservedLabels = map[string]bool{"service": true, "operation": true, "span_kind": true,
	"status_code": true, "pipeline": true, "component": true, "le": true}

// labelName turns an attribute key into a Prometheus label name.
func labelName(key string) string {
	var b strings.Builder
	for i, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Validate checks the buckets and the dimensions' label names.
func (c *Config) Validate() error {
	if c.Buckets != nil && len(c.Buckets) == 0 {
		return &config.FieldError{Key: "buckets", Msg: "must list at least one bucket"}
	}
	for i := 1; i < len(c.Buckets); i++ {
		if c.Buckets[i] <= c.Buckets[i-1] {
			return &config.FieldError{Key: "buckets", Msg: fmt.Sprintf("must increase: %v follows %v", c.Buckets[i], c.Buckets[i-1])}
		}
	}
	seen := map[string]string{}
	for _, d := range c.Dimensions {
		name := labelName(d)
		switch {
		case d == "" || strings.Trim(name, "_") == "":
			return &config.FieldError{Key: "dimensions", Msg: fmt.Sprintf("%q is not an attribute key", d)}
		case strings.HasPrefix(name, "__"):
			return &config.FieldError{Key: "dimensions", Msg: fmt.Sprintf("%q gives the label %q; names starting with __ are reserved", d, name)}
		case reservedLabels[name]:
			return &config.FieldError{Key: "dimensions", Msg: fmt.Sprintf("%q gives the label %q, which span_metrics already uses", d, name)}
		case seen[name] != "":
			return &config.FieldError{Key: "dimensions", Msg: fmt.Sprintf("%q and %q give the same label %q", seen[name], d, name)}
		}
		seen[name] = d
	}
	return nil
}
