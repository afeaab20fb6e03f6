package http

import (
	"time"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/plugins/internal/listen"
)

// Config holds the options of the `http` source (Data Prepper's names).
type Config struct {
	Host             string        `yaml:"host" doc:"address to listen on"`
	Port             int           `yaml:"port" min:"0" max:"65535" doc:"TCP port (0 picks a free one)"`
	Path             string        `yaml:"path" doc:"URI path that accepts logs"`
	MaxRequestLength int64         `yaml:"max_request_length" min:"1" doc:"largest accepted body in bytes, after gzip decompression"`
	RequestTimeout   time.Duration `yaml:"request_timeout" doc:"longest time to read a request (bare numbers are milliseconds)"`
	BufferTimeout    time.Duration `yaml:"buffer_timeout" doc:"how long a request waits for room in a full pipeline buffer before it is answered 503 with Retry-After"`
	MaxPending       int           `yaml:"max_pending_requests" min:"1" doc:"requests handled at once; more are answered 429 with Retry-After"`
	DateKey          string        `yaml:"date_key" doc:"record field holding the record's time (Fluent Bit's json_date_key: epoch seconds or an RFC 3339 string); empty: time received"`
	HealthCheck      bool          `yaml:"health_check_service" doc:"answer GET /health with 200"`
	Compression      string        `yaml:"compression" enum:"none,gzip" doc:"accepted for Data Prepper compatibility; gzip bodies (Content-Encoding: gzip) are always accepted"`
	listen.TLS       `yaml:",inline"`
	Authentication   *listen.Auth `yaml:"authentication" doc:"how clients authenticate: http_basic, bearer_token or unauthenticated"`
}

// NewConfig returns the defaults: Data Prepper's port and path.
func NewConfig() *Config {
	return &Config{
		Host: "0.0.0.0", Port: 2021, Path: "/log/ingest", MaxRequestLength: 10 << 20,
		RequestTimeout: 10 * time.Second, BufferTimeout: 500 * time.Millisecond, MaxPending: 64,
		DateKey: "date", Compression: "none",
	}
}

// Validate checks options that belong together.
func (c *Config) Validate() error {
	if c.Path == "" || c.Path[0] != '/' {
		return &config.FieldError{Key: "path", Msg: "must start with /"}
	}
	if err := c.TLS.Validate(); err != nil {
		return &config.FieldError{Key: "ssl", Msg: err.Error()}
	}
	return nil
}
