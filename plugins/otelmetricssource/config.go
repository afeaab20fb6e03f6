package otelmetricssource

import (
	"strings"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/plugins/otlp"
)

// Config is the otel_metrics_source's options: Data Prepper's names and
// defaults, except ssl (false here), the conversion options of Data
// Prepper's otel_metrics processor (applied here, as weft has no separate
// processor) and weft's additions (host, ssl_client_ca, bearer_token,
// buffer_timeout, ack_mode, ack_timeout).
type Config struct {
	Port             int    `yaml:"port" min:"1" max:"65535" doc:"port serving OTLP/gRPC (and, with unframed_requests, OTLP/HTTP)"`
	Path             string `yaml:"path" doc:"serve Export at this path instead of /opentelemetry.proto.collector.metrics.v1.MetricsService/Export (gRPC and unframed HTTP); ${pipelineName} is replaced by the pipeline's name"`
	UnframedRequests bool   `yaml:"unframed_requests" doc:"also accept OTLP/HTTP (protobuf and JSON POSTs, no gRPC framing) on the same port"`
	OutputFormat     string `yaml:"output_format" enum:"opensearch" doc:"accepted for Data Prepper compatibility; data points are always OpenSearch metric documents"`
	ThreadCount      int    `yaml:"thread_count" min:"1" doc:"accepted for Data Prepper compatibility and ignored: requests are served by goroutines"`
	otlp.ServerOptions
	otlp.MetricsOptions
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{Port: 21891, OutputFormat: "opensearch", ThreadCount: 200,
		ServerOptions: otlp.DefaultServerOptions(), MetricsOptions: otlp.DefaultMetricsOptions()}
}

// Validate checks what tags cannot.
func (c *Config) Validate() error {
	if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
		return &config.FieldError{Key: "path", Msg: "must start with /"}
	}
	return c.ServerOptions.Validate()
}
