package stdout

// Config is the stdout sink's options: it has none, like Data Prepper's.
type Config struct{}

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{} }
