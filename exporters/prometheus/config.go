package prometheus

import (
	"fmt"
	"math"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/selfmetrics"
)

// Sources of what the sink sends.
const (
	SourceEvents   = "events"
	SourceGatherer = "gatherer"
)

// DefaultMetricsURL is weft's own /metrics at the default admin address,
// read by source gatherer when the agent does not hand the sink its
// registry.
const DefaultMetricsURL = selfmetrics.DefaultURL

// Config is the prometheus sink's options: Data Prepper's names, plus
// weft's own (source, scrape_interval, metrics_url, include_metrics,
// exclude_metrics, external_labels, backoff and buffer bounds).
type Config struct {
	URL            string            `yaml:"url" required:"true" doc:"remote write endpoint, e.g. https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-.../api/v1/remote_write or http://prometheus:9090/api/v1/write"`
	Insecure       bool              `yaml:"insecure" doc:"allow a plain http:// url (Data Prepper requires https:// otherwise)"`
	Authentication *Authentication   `yaml:"authentication" doc:"HTTP authentication: http_basic"`
	AWS            *AWSConfig        `yaml:"aws" doc:"sign every request with AWS SigV4 for Amazon Managed Service for Prometheus (service aps)"`
	Threshold      Threshold         `yaml:"threshold" doc:"when a remote write request is sent"`
	MaxRetries     int               `yaml:"max_retries" min:"0" max:"1000" doc:"retries of a request after its first attempt (HTTP 5xx, 429, connection errors) before its samples are given up"`
	InitialBackoff time.Duration     `yaml:"initial_backoff" min:"1ms" doc:"upper bound of the first retry's random wait; it doubles per retry (full jitter)"`
	MaxBackoff     time.Duration     `yaml:"max_backoff" min:"1ms" doc:"largest upper bound of a retry's random wait (a longer Retry-After is honoured up to it)"`
	OutOfOrder     time.Duration     `yaml:"out_of_order_window" doc:"how far behind the newest sample already sent for a series a sample may be and still be sent (for receivers with out-of-order ingestion); older ones are dropped as out_of_order"`
	Encoding       string            `yaml:"encoding" enum:"snappy" doc:"request compression; only snappy (accepted for Data Prepper compatibility)"`
	ContentType    string            `yaml:"content_type" enum:"application/x-protobuf" doc:"request content type; only application/x-protobuf (Data Prepper compatibility)"`
	RemoteWriteVer string            `yaml:"remote_write_version" enum:"0.1.0" doc:"X-Prometheus-Remote-Write-Version; only 0.1.0, remote write 1.0 (Data Prepper compatibility)"`
	RequestTimeout time.Duration     `yaml:"request_timeout" min:"1s" max:"10m" doc:"longest one request may take, response included"`
	ConnectTimeout time.Duration     `yaml:"connection_timeout" min:"1s" max:"10m" doc:"time to open a connection (TCP and TLS)"`
	IdleTimeout    time.Duration     `yaml:"idle_timeout" min:"1s" max:"10m" doc:"how long an idle keep-alive connection is kept open"`
	SanitizeNames  bool              `yaml:"sanitize_names" doc:"replace characters not allowed in metric and label names with _; false dead-letters such events"`
	DLQFile        string            `yaml:"dlq_file" doc:"NDJSON file receiving metric events refused for good (invalid, rejected by the receiver, out of order, out of retries); unset: logged and counted only"`
	MaxBuffered    int               `yaml:"max_buffered" min:"1" max:"10000000" doc:"metric events the sink holds (batching, in flight, retrying) before it blocks the pipeline"`
	ExternalLabels map[string]string `yaml:"external_labels" doc:"labels added to every series that does not already have them (like Prometheus' external_labels)"`

	Source         string        `yaml:"source" enum:"events,gatherer" doc:"events: send the metric events reaching the sink; gatherer: also read weft's own metrics every scrape_interval and send them (other events are then dropped as not_metric)"`
	ScrapeInterval time.Duration `yaml:"scrape_interval" min:"100ms" doc:"source gatherer: how often weft's metrics are read and sent"`
	MetricsURL     string        `yaml:"metrics_url" doc:"source gatherer: weft's /metrics to read; default: the agent's registry in process when available, else http://127.0.0.1:4900/metrics"`
	Include        []string      `yaml:"include_metrics" doc:"source gatherer: metric family names to send, as glob patterns (weft_span_*); default: all"`
	Exclude        []string      `yaml:"exclude_metrics" doc:"source gatherer: metric family names not to send, as glob patterns (go_*)"`
}

// Authentication is Data Prepper's authentication block.
type Authentication struct {
	HTTPBasic *BasicAuth `yaml:"http_basic" doc:"HTTP basic authentication"`
}

// BasicAuth holds basic-auth credentials.
type BasicAuth struct {
	Username string `yaml:"username" required:"true" doc:"user name"`
	Password string `yaml:"password" secret:"true" doc:"password"`
}

// AWSConfig is the aws block: SigV4 with the default credential chain,
// optionally assuming a role.
type AWSConfig struct {
	Region        string `yaml:"region" doc:"region of the workspace (default: the one in the url, else AWS_REGION / the shared config)"`
	STSRoleARN    string `yaml:"sts_role_arn" doc:"IAM role to assume (STS AssumeRole) with the default credentials"`
	STSExternalID string `yaml:"sts_external_id" doc:"external ID for assuming sts_role_arn"`
}

// Threshold is Data Prepper's threshold block.
type Threshold struct {
	MaxEvents      int           `yaml:"max_events" min:"1" max:"10000" doc:"most metric events (source gatherer: series) in one request"`
	MaxRequestSize ByteSize      `yaml:"max_request_size" doc:"largest request body before compression (e.g. 1mb, 512kb)"`
	FlushInterval  time.Duration `yaml:"flush_interval" min:"1ms" max:"60s" doc:"longest an event waits for its request to fill"`
}

// NewConfig returns the defaults (Data Prepper's, except where noted in the
// README).
func NewConfig() *Config {
	return &Config{
		Threshold:      Threshold{MaxEvents: 1000, MaxRequestSize: MiB, FlushInterval: 10 * time.Second},
		MaxRetries:     5,
		InitialBackoff: 100 * time.Millisecond,
		MaxBackoff:     5 * time.Second,
		Encoding:       "snappy",
		ContentType:    "application/x-protobuf",
		RemoteWriteVer: "0.1.0",
		RequestTimeout: 60 * time.Second,
		ConnectTimeout: 60 * time.Second,
		IdleTimeout:    60 * time.Second,
		SanitizeNames:  true,
		MaxBuffered:    10000,
		Source:         SourceEvents,
		ScrapeInterval: 15 * time.Second,
	}
}

// Validate checks what tags cannot.
func (c *Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return &config.FieldError{Key: "url", Msg: fmt.Sprintf("%q is not an http:// or https:// URL", c.URL)}
	}
	if u.Scheme == "http" && !c.Insecure {
		return &config.FieldError{Key: "url", Msg: "a plain http:// url needs insecure: true (as in Data Prepper)"}
	}
	if u.Scheme == "http" && c.AWS != nil {
		return &config.FieldError{Key: "url", Msg: "AWS SigV4 signing needs an https:// url"}
	}
	if c.Authentication != nil && c.Authentication.HTTPBasic != nil && c.AWS != nil {
		return &config.FieldError{Key: "aws", Msg: "use either aws (SigV4) or authentication.http_basic, not both"}
	}
	if c.MaxBackoff < c.InitialBackoff {
		return &config.FieldError{Key: "max_backoff", Msg: "must not be below initial_backoff"}
	}
	if c.OutOfOrder < 0 {
		return &config.FieldError{Key: "out_of_order_window", Msg: "must not be negative"}
	}
	if c.Threshold.MaxRequestSize < 1024 {
		return &config.FieldError{Key: "threshold.max_request_size", Msg: "must be at least 1kb"}
	}
	for k := range c.ExternalLabels {
		if !validLabelName(k) || strings.HasPrefix(k, "__") {
			return &config.FieldError{Key: "external_labels", Msg: fmt.Sprintf("%q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", k)}
		}
	}
	for _, pats := range [][]string{c.Include, c.Exclude} {
		for _, p := range pats {
			if _, err := path.Match(p, ""); err != nil {
				return &config.FieldError{Key: "include_metrics", Msg: fmt.Sprintf("bad pattern %q: %v", p, err)}
			}
		}
	}
	if c.MetricsURL != "" {
		m, err := url.Parse(c.MetricsURL)
		if err != nil || m.Host == "" || (m.Scheme != "http" && m.Scheme != "https") {
			return &config.FieldError{Key: "metrics_url", Msg: fmt.Sprintf("%q is not an http:// or https:// URL", c.MetricsURL)}
		}
	}
	if c.Source != SourceGatherer && (c.MetricsURL != "" || len(c.Include) > 0 || len(c.Exclude) > 0) {
		return &config.FieldError{Key: "source", Msg: "metrics_url, include_metrics and exclude_metrics need source: gatherer"}
	}
	return nil
}

// ByteSize is a size in bytes written as Data Prepper's byte counts: a
// number with an optional unit b, kb, mb or gb (powers of 1024). A bare
// number is bytes.
type ByteSize int64

// Sizes.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
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
		return fmt.Errorf("invalid byte size %q (use e.g. 1mb, 512kb or 1048576)", string(t))
	}
	mult := map[string]float64{"": 1, "b": 1, "kb": 1 << 10, "kib": 1 << 10, "k": 1 << 10,
		"mb": 1 << 20, "mib": 1 << 20, "m": 1 << 20, "gb": 1 << 30, "gib": 1 << 30, "g": 1 << 30}
	m, ok := mult[unit]
	if !ok {
		return fmt.Errorf("invalid byte size %q: unknown unit %q (use b, kb, mb or gb)", string(t), unit)
	}
	if v := x * m; v < math.MaxInt32 {
		*b = ByteSize(v)
		return nil
	}
	return fmt.Errorf("byte size %q is too large", string(t))
}

// String writes the size with the largest unit that divides it.
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%MiB == 0:
		return strconv.FormatInt(int64(b/MiB), 10) + "mb"
	case b != 0 && b%KiB == 0:
		return strconv.FormatInt(int64(b/KiB), 10) + "kb"
	}
	return strconv.FormatInt(int64(b), 10)
}
