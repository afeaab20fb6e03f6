package dropevents

import "github.com/weft-agent/weft/pipelines/expr"

// Config is the drop_events processor's configuration.
type Config struct {
	DropWhen           *expr.Expression `yaml:"drop_when" required:"true" doc:"condition; events for which it is true are dropped (\"true\" drops every event)"`
	HandleFailedEvents string           `yaml:"handle_failed_events" enum:"drop,drop_silently,skip,skip_silently" doc:"what to do with an event on which drop_when fails: drop or keep it (skip), with a rate-limited warning or silently"`
}

// NewConfig returns the defaults, those of Data Prepper's documentation.
func NewConfig() *Config { return &Config{HandleFailedEvents: "drop"} }
