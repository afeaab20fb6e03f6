package emf

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/weft-agent/weft/config"
)

// Config is the emf processor's configuration (weft's own plugin).
type Config struct {
	Namespace         string            `yaml:"namespace" doc:"CloudWatch metric namespace of every metric (1 to 255 characters, not starting with a colon)"`
	Dimensions        []string          `yaml:"dimensions" doc:"label names used as dimensions, in this order, when a metric has them; default: every label of the metric (sorted by name)"`
	ExcludeDimensions []string          `yaml:"exclude_dimensions" doc:"label names never used as dimensions (they are still written into the document, for CloudWatch Logs Insights)"`
	MaxDimensions     int               `yaml:"max_dimensions" min:"1" max:"30" doc:"most dimensions per metric (EMF allows 30); further labels are written into the document but are not dimensions"`
	Units             map[string]string `yaml:"units" doc:"metric name glob → CloudWatch unit (Seconds, Milliseconds, Bytes, Count, Percent, None, ...), overriding the unit inferred from the name suffix or the OpenTelemetry unit"`
	StorageResolution int               `yaml:"storage_resolution" min:"1" max:"60" doc:"60 (standard resolution) or 1 (high resolution, per-second metrics in CloudWatch)"`
	InitialValue      string            `yaml:"initial_value" enum:"auto,drop,keep" doc:"what the first reading of a cumulative counter or histogram series gives: drop (it is only the baseline of the deltas), keep (its whole value is one delta), auto (keep when the event's startTime is at or after the processor's start, else drop)"`
	MaxSeries         int               `yaml:"max_series" min:"1" max:"10000000" doc:"most cumulative series whose last reading is remembered for the deltas; events of further series are dropped (reason emf_series_limit)"`
	SeriesTTL         time.Duration     `yaml:"series_ttl" min:"1s" doc:"a cumulative series not seen for this long is forgotten (its next reading is a new baseline)"`
	NonMetric         string            `yaml:"non_metric" enum:"pass,drop" doc:"what happens to events that are not metric events: pass (unchanged) or drop (reason emf_not_metric)"`
}

// Defaults.
const (
	DefaultNamespace  = "weft"
	DefaultMaxSeries  = 100_000
	DefaultSeriesTTL  = 15 * time.Minute
	maxMetricsPerDoc  = 100 // EMF: at most 100 metric definitions per directive
	maxValuesPerArray = 100 // EMF: at most 100 values per array
	maxDims           = 30  // EMF: at most 30 dimensions per dimension set
	maxDimValueLen    = 1024
	maxDimNameLen     = 255
)

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{Namespace: DefaultNamespace, MaxDimensions: maxDims, StorageResolution: 60,
		InitialValue: "auto", MaxSeries: DefaultMaxSeries, SeriesTTL: DefaultSeriesTTL, NonMetric: "pass"}
}

// Units are the CloudWatch units (MetricDatum's Unit).
var Units = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
	"Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent",
	"Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
	"Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
	"Terabits/Second", "Count/Second", "None"}

func validUnit(u string) bool {
	for _, x := range Units {
		if x == u {
			return true
		}
	}
	return false
}

// Validate checks the namespace, the units and the dimension names.
func (c *Config) Validate() error {
	if c.Namespace == "" || len(c.Namespace) > 255 || strings.HasPrefix(c.Namespace, ":") {
		return &config.FieldError{Key: "namespace", Msg: fmt.Sprintf("%q must be 1 to 255 characters and not start with a colon", c.Namespace)}
	}
	for _, r := range c.Namespace {
		if r < 0x20 || r > 0x7e {
			return &config.FieldError{Key: "namespace", Msg: fmt.Sprintf("%q: CloudWatch namespaces are printable ASCII", c.Namespace)}
		}
	}
	if c.StorageResolution != 1 && c.StorageResolution != 60 {
		return &config.FieldError{Key: "storage_resolution", Msg: fmt.Sprintf("%d is neither 1 nor 60", c.StorageResolution)}
	}
	globs := make([]string, 0, len(c.Units))
	for g := range c.Units {
		globs = append(globs, g)
	}
	sort.Strings(globs)
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return &config.FieldError{Key: "units", Msg: fmt.Sprintf("%q is not a glob pattern: %v", g, err)}
		}
		if !validUnit(c.Units[g]) {
			return &config.FieldError{Key: "units", Msg: fmt.Sprintf("%q: %q is not a CloudWatch unit (%s)", g, c.Units[g], strings.Join(Units, ", "))}
		}
	}
	seen := map[string]bool{}
	for _, d := range c.Dimensions {
		switch {
		case d == "" || len(d) > maxDimNameLen:
			return &config.FieldError{Key: "dimensions", Msg: fmt.Sprintf("%q must be 1 to 255 characters", d)}
		case d == "_aws":
			return &config.FieldError{Key: "dimensions", Msg: `"_aws" is EMF's metadata member`}
		case seen[d]:
			return &config.FieldError{Key: "dimensions", Msg: fmt.Sprintf("%q is listed twice", d)}
		}
		seen[d] = true
	}
	if len(c.Dimensions) > maxDims {
		return &config.FieldError{Key: "dimensions", Msg: fmt.Sprintf("lists %d labels; EMF allows at most %d dimensions", len(c.Dimensions), maxDims)}
	}
	return nil
}
