package servicemapstateful

import "time"

// Config is the service_map_stateful processor's configuration.
// window_duration is Data Prepper's (a bare number is seconds, as there);
// max_window_spans is weft's.
type Config struct {
	WindowDuration time.Duration `yaml:"window_duration" unit:"s" min:"1ms" doc:"the fixed window at the end of which relationships are evaluated and emitted"`
	MaxWindowSpans int           `yaml:"max_window_spans" min:"1" doc:"most spans recorded in one window; reaching it ends the window early"`
}

// Defaults.
const (
	DefaultWindowDuration = 180 * time.Second
	DefaultMaxWindowSpans = 250_000
)

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{WindowDuration: DefaultWindowDuration, MaxWindowSpans: DefaultMaxWindowSpans}
}
