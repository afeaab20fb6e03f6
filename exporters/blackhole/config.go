package blackhole

import "time"

// Config is the blackhole sink's options.
type Config struct {
	LogEvery time.Duration `yaml:"log_every" doc:"how often to log the events received and their rate; 0 never logs"`
}

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{} }
