package otlp

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/weft-agent/weft/config"
)

// Acknowledgement modes.
const (
	// AckAccepted answers the client once the events are in the pipeline's
	// buffer.
	AckAccepted = "accepted"
	// AckDelivered answers once every sink delivered them (or ack_timeout).
	AckDelivered = "delivered"
)

// ServerOptions are the options every OTLP listener shares. The TLS,
// authentication and limit options keep Data Prepper's names.
type ServerOptions struct {
	Host                       string         `yaml:"host" doc:"address to listen on"`
	SSL                        bool           `yaml:"ssl" doc:"serve TLS with sslKeyCertChainFile and sslKeyFile (Data Prepper defaults to true; weft to false)"`
	SSLKeyCertChainFile        string         `yaml:"sslKeyCertChainFile" doc:"PEM certificate chain of the server (ssl)"`
	SSLKeyFile                 string         `yaml:"sslKeyFile" doc:"PEM private key of the server (ssl)"`
	SSLClientCA                string         `yaml:"ssl_client_ca" doc:"PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS; needs ssl)"`
	Authentication             Authentication `yaml:"authentication" doc:"how clients authenticate: one of http_basic, bearer_token, unauthenticated"`
	UnauthenticatedHealthCheck bool           `yaml:"unauthenticated_health_check" doc:"health checks need no credentials even when authentication is set"`
	HealthCheckService         bool           `yaml:"health_check_service" doc:"serve the gRPC health service (grpc.health.v1) and, over HTTP, GET /health"`
	ProtoReflectionService     bool           `yaml:"proto_reflection_service" doc:"serve gRPC server reflection (for grpcurl and similar tools)"`
	MaxRequestLength           ByteSize       `yaml:"max_request_length" doc:"largest request body, checked both as received and after decompression (e.g. 10mb, 512kb)"`
	RequestTimeout             time.Duration  `yaml:"request_timeout" min:"1ms" doc:"longest time to read and handle one request (a bare number is milliseconds, as in Data Prepper)"`
	Compression                string         `yaml:"compression" enum:"none,gzip" doc:"accepted for Data Prepper compatibility: gzip-compressed requests are always accepted"`
	MaxConnectionCount         int            `yaml:"max_connection_count" min:"1" doc:"most open connections per listening port; more wait to be accepted"`
	BufferTimeout              time.Duration  `yaml:"buffer_timeout" min:"1ms" doc:"how long a request waits for room in a full pipeline buffer before the client is told to retry (gRPC UNAVAILABLE, HTTP 503)"`
	RetryInfo                  RetryInfo      `yaml:"retry_info" doc:"retry delay suggested to clients when the buffer is full; it doubles while the buffer stays full"`
	AckMode                    string         `yaml:"ack_mode" enum:"accepted,delivered" doc:"accepted: answer once the spans or log records are in the pipeline's buffer; delivered: once every sink delivered them"`
	AckTimeout                 time.Duration  `yaml:"ack_timeout" min:"1ms" doc:"ack_mode delivered: longest wait for the sinks before answering UNAVAILABLE / 503"`
}

// DefaultServerOptions returns the shared defaults.
func DefaultServerOptions() ServerOptions {
	return ServerOptions{
		Host:               "0.0.0.0",
		MaxRequestLength:   10 * MiB,
		RequestTimeout:     10 * time.Second,
		Compression:        "none",
		MaxConnectionCount: 500,
		BufferTimeout:      500 * time.Millisecond,
		RetryInfo:          RetryInfo{MinDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second},
		AckMode:            AckAccepted,
		AckTimeout:         30 * time.Second,
	}
}

// Validate checks what tags cannot.
func (o *ServerOptions) Validate() error {
	if o.Host == "" {
		return &config.FieldError{Key: "host", Msg: "must not be empty (0.0.0.0 listens on every interface)"}
	}
	if o.SSL {
		if o.SSLKeyCertChainFile == "" {
			return &config.FieldError{Key: "sslKeyCertChainFile", Msg: "required when ssl is true"}
		}
		if o.SSLKeyFile == "" {
			return &config.FieldError{Key: "sslKeyFile", Msg: "required when ssl is true"}
		}
	} else if o.SSLClientCA != "" {
		return &config.FieldError{Key: "ssl_client_ca", Msg: "mutual TLS needs ssl: true"}
	}
	if o.MaxRequestLength < 1 || o.MaxRequestLength > math.MaxInt32 {
		return &config.FieldError{Key: "max_request_length", Msg: "must be between 1b and 2gb"}
	}
	if o.RetryInfo.MaxDelay < o.RetryInfo.MinDelay {
		return &config.FieldError{Key: "retry_info.max_delay", Msg: "must not be below min_delay"}
	}
	return o.Authentication.validate()
}

// Authentication is Data Prepper's authentication block: at most one of
// http_basic, bearer_token (weft's) and unauthenticated.
type Authentication struct {
	HTTPBasic       *BasicAuth  `yaml:"http_basic" doc:"require HTTP basic credentials (gRPC: in the authorization metadata)"`
	BearerToken     *BearerAuth `yaml:"bearer_token" doc:"require Authorization: Bearer <token> (gRPC: in the authorization metadata)"`
	Unauthenticated *struct{}   `yaml:"unauthenticated" doc:"accept every request (the default)"`
}

// BasicAuth holds HTTP basic credentials.
type BasicAuth struct {
	Username string `yaml:"username" required:"true" doc:"user name clients must send"`
	Password string `yaml:"password" required:"true" secret:"true" doc:"password clients must send"`
}

// BearerAuth holds a bearer token.
type BearerAuth struct {
	Token string `yaml:"token" required:"true" secret:"true" doc:"token clients must send"`
}

func (a *Authentication) validate() error {
	n := 0
	for _, set := range []bool{a.HTTPBasic != nil, a.BearerToken != nil, a.Unauthenticated != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return &config.FieldError{Key: "authentication", Msg: "give only one of http_basic, bearer_token and unauthenticated"}
	}
	if a.HTTPBasic != nil && (a.HTTPBasic.Username == "" || a.HTTPBasic.Password == "") {
		return &config.FieldError{Key: "authentication.http_basic", Msg: "username and password must not be empty"}
	}
	if a.BearerToken != nil && a.BearerToken.Token == "" {
		return &config.FieldError{Key: "authentication.bearer_token.token", Msg: "must not be empty"}
	}
	return nil
}

// RetryInfo is Data Prepper's retry_info: the delay suggested to clients
// pushed back by a full buffer (gRPC google.rpc.RetryInfo, HTTP Retry-After).
type RetryInfo struct {
	MinDelay time.Duration `yaml:"min_delay" doc:"first suggested delay"`
	MaxDelay time.Duration `yaml:"max_delay" doc:"largest suggested delay"`
}

// ByteSize is a size in bytes written as Data Prepper's byte counts: a
// number with an optional unit b, kb, mb or gb (powers of 1024; kib, mib and
// gib are accepted too). A bare number is bytes.
type ByteSize int64

// Sizes.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(t []byte) error {
	s := strings.ToLower(strings.TrimSpace(string(t)))
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	x, err := strconv.ParseFloat(num, 64)
	if num == "" || err != nil {
		return fmt.Errorf("invalid byte size %q (use e.g. 10mb, 512kb or 1048576)", string(t))
	}
	mult := map[string]ByteSize{"": 1, "b": 1, "kb": KiB, "kib": KiB, "k": KiB, "mb": MiB, "mib": MiB, "m": MiB, "gb": GiB, "gib": GiB, "g": GiB}
	m, ok := mult[unit]
	if !ok {
		return fmt.Errorf("invalid byte size %q: unknown unit %q (use b, kb, mb or gb)", string(t), unit)
	}
	v := x * float64(m)
	if v > math.MaxInt64/2 {
		return fmt.Errorf("byte size %q is too large", string(t))
	}
	*b = ByteSize(v)
	return nil
}

// String writes the size with the largest unit that divides it.
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%GiB == 0:
		return strconv.FormatInt(int64(b/GiB), 10) + "gb"
	case b != 0 && b%MiB == 0:
		return strconv.FormatInt(int64(b/MiB), 10) + "mb"
	case b != 0 && b%KiB == 0:
		return strconv.FormatInt(int64(b/KiB), 10) + "kb"
	}
	return strconv.FormatInt(int64(b), 10) + "b"
}

// Config is the `otlp` source's options: the OTLP standard listeners.
type Config struct {
	GRPCPort int      `yaml:"grpc_port" min:"0" max:"65535" doc:"port of the OTLP/gRPC listener (0 disables it)"`
	HTTPPort int      `yaml:"http_port" min:"0" max:"65535" doc:"port of the OTLP/HTTP listener, paths /v1/traces, /v1/logs and /v1/metrics (0 disables it)"`
	Signals  []string `yaml:"signals" doc:"the OTLP signals accepted, any of traces, logs, metrics; the others answer 404 (HTTP) and UNIMPLEMENTED (gRPC)"`
	ServerOptions
	MetricsOptions
}

// AllSignals are the signals the `otlp` source accepts by default.
var AllSignals = []string{SignalTraces, SignalLogs, SignalMetrics}

// NewConfig returns the `otlp` source's defaults.
func NewConfig() *Config {
	return &Config{GRPCPort: 4317, HTTPPort: 4318, Signals: append([]string(nil), AllSignals...),
		ServerOptions: DefaultServerOptions(), MetricsOptions: DefaultMetricsOptions()}
}

// Validate checks what tags cannot.
func (c *Config) Validate() error {
	if c.GRPCPort == 0 && c.HTTPPort == 0 {
		return &config.FieldError{Key: "grpc_port", Msg: "grpc_port and http_port are both 0: nothing would listen"}
	}
	if c.GRPCPort == c.HTTPPort {
		return &config.FieldError{Key: "http_port", Msg: "grpc_port and http_port must differ"}
	}
	if len(c.Signals) == 0 {
		return &config.FieldError{Key: "signals", Msg: "must list at least one of traces, logs, metrics"}
	}
	seen := map[string]bool{}
	for _, sig := range c.Signals {
		switch {
		case sig != SignalTraces && sig != SignalLogs && sig != SignalMetrics:
			return &config.FieldError{Key: "signals", Msg: fmt.Sprintf("%q is not one of traces, logs, metrics", sig)}
		case seen[sig]:
			return &config.FieldError{Key: "signals", Msg: fmt.Sprintf("%q is listed twice", sig)}
		}
		seen[sig] = true
	}
	return c.ServerOptions.Validate()
}
