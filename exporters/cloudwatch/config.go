package cloudwatch

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/template"
)

// PutLogEvents limits (CloudWatch Logs API reference).
const (
	// MaxBatchEvents is the most events in one PutLogEvents call.
	MaxBatchEvents = 10000
	// MaxBatchBytes is the largest PutLogEvents call: the sum of every
	// event's UTF-8 message plus EventOverhead.
	MaxBatchBytes = 1048576
	// EventOverhead is the size CloudWatch Logs adds to each event's message
	// when it measures a call (and an event).
	EventOverhead = 26
	// MaxEventSize is the largest event, overhead included.
	MaxEventSize = 256 * 1024
	// MaxBatchSpan is the longest time between the first and the last
	// event of one call.
	MaxBatchSpan = 24 * time.Hour
	// MaxAge and MaxAhead bound an event's time, relative to now.
	MaxAge   = 14 * 24 * time.Hour
	MaxAhead = 2 * time.Hour
)

// Oversize policies.
const (
	OversizeTruncate   = "truncate"
	OversizeDeadLetter = "dead_letter"
)

// MessageJSON sends the whole event as JSON.
const MessageJSON = "json"

// retentionDays are the values CloudWatch Logs accepts for a retention
// policy.
var retentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// Config is the cloudwatch_logs sink's options; the names are Data
// Prepper's where it has them.
type Config struct {
	AWS             *AWSConfig        `yaml:"aws" doc:"AWS region and role; credentials come from the standard chain (environment, shared config, IRSA web identity, container and instance roles)"`
	Endpoint        string            `yaml:"endpoint" doc:"CloudWatch Logs endpoint URL replacing the regional one (VPC endpoint, emulator)"`
	LogGroup        template.Template `yaml:"log_group" required:"true" doc:"log group name: a template over event fields such as /aws/containerinsights/${cluster}/application"`
	LogStream       template.Template `yaml:"log_stream" required:"true" doc:"log stream name: a template over event fields such as ${/kubernetes/pod_name}"`
	Threshold       Threshold         `yaml:"threshold" doc:"batching and retry limits"`
	CreateLogGroup  bool              `yaml:"create_log_group" doc:"create a missing log group (with log_group_retention_days)"`
	CreateLogStream bool              `yaml:"create_log_stream" doc:"create a missing log stream"`
	RetentionDays   int               `yaml:"log_group_retention_days" min:"0" max:"3653" doc:"retention set on log groups the sink creates (0: never expire); one of CloudWatch's values 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"`
	HeaderOverrides map[string]string `yaml:"header_overrides" doc:"extra HTTP headers sent (and signed) with every request"`
	DLQFile         string            `yaml:"dlq_file" doc:"NDJSON file receiving events refused for good (event, log group, log stream, reason, time); unset: they are logged and counted only"`
	OversizeEvents  string            `yaml:"oversize_events" enum:"truncate,dead_letter" doc:"an event larger than threshold.max_event_size: truncate its message (at a UTF-8 boundary) or dead-letter it."`
	Message         string            `yaml:"message" alias:"message_field" doc:"json: send the event as JSON; a field (/log, message): send that field's value as plain text"`
	TimestampField  string            `yaml:"timestamp_field" doc:"field holding the event's time (RFC 3339 text, epoch seconds such as Fluent Bit's date, or epoch milliseconds) for the CloudWatch timestamp; default: the event's own time"`
	MaxInflight     int               `yaml:"max_inflight" min:"1" max:"64" doc:"concurrent PutLogEvents calls (always to different streams: one stream's calls are sequential)"`
	MaxBuffered     int               `yaml:"max_buffered" min:"1" max:"10000000" doc:"events held by the sink (batching, in flight, waiting for a retry) before it blocks the pipeline"`
	RequestTimeout  time.Duration     `yaml:"request_timeout" min:"1ms" doc:"longest a single API call may take before it counts as a network error"`

	messagePath   event.Path
	timestampPath event.Path
}

// AWSConfig is the aws block.
type AWSConfig struct {
	Region        string `yaml:"region" doc:"AWS region (default: AWS_REGION / the shared config)"`
	STSRoleARN    string `yaml:"sts_role_arn" doc:"IAM role to assume (STS AssumeRole) with the default credentials"`
	STSExternalID string `yaml:"sts_external_id" doc:"external ID for the AssumeRole call"`
}

// Threshold is Data Prepper's threshold block.
type Threshold struct {
	BatchSize       int           `yaml:"batch_size" min:"1" max:"10000" doc:"most events in one PutLogEvents call"`
	MaxEventSize    ByteSize      `yaml:"max_event_size" doc:"largest event, message plus 26 bytes (at most 256kb); larger ones follow oversize_events"`
	MaxRequestSize  ByteSize      `yaml:"max_request_size" doc:"largest PutLogEvents call, counting each message plus 26 bytes (at most 1mb)"`
	RetryCount      int           `yaml:"retry_count" min:"0" max:"1000" doc:"retries of a call after its first attempt (throttling, 5xx, network errors) before its events are dead-lettered"`
	BackOffTime     time.Duration `yaml:"back_off_time" min:"1ms" doc:"upper bound of the first retry's random wait; it doubles per retry (full jitter)"`
	MaxBackOffTime  time.Duration `yaml:"max_back_off_time" min:"1ms" doc:"largest upper bound of a retry's random wait"`
	LogSendInterval time.Duration `yaml:"log_send_interval" doc:"longest an event waits for its call to fill; 0 sends every pipeline batch at once"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		Threshold: Threshold{
			BatchSize:       MaxBatchEvents,
			MaxEventSize:    MaxEventSize,
			MaxRequestSize:  MaxBatchBytes,
			RetryCount:      10,
			BackOffTime:     500 * time.Millisecond,
			MaxBackOffTime:  10 * time.Second,
			LogSendInterval: time.Second,
		},
		CreateLogGroup:  true,
		CreateLogStream: true,
		OversizeEvents:  OversizeTruncate,
		Message:         MessageJSON,
		MaxInflight:     4,
		MaxBuffered:     20000,
		RequestTimeout:  30 * time.Second,
	}
}

// Validate checks what tags cannot.
func (c *Config) Validate() error {
	if c.LogGroup.String() == "" {
		return &config.FieldError{Key: "log_group", Msg: "must not be empty"}
	}
	if c.LogStream.String() == "" {
		return &config.FieldError{Key: "log_stream", Msg: "must not be empty"}
	}
	if c.LogGroup.IsStatic() {
		if err := checkGroupName(c.LogGroup.String()); err != nil {
			return &config.FieldError{Key: "log_group", Msg: err.Error()}
		}
	}
	if c.LogStream.IsStatic() {
		if err := checkStreamName(c.LogStream.String()); err != nil {
			return &config.FieldError{Key: "log_stream", Msg: err.Error()}
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &config.FieldError{Key: "endpoint", Msg: fmt.Sprintf("%q is not an http:// or https:// URL", c.Endpoint)}
		}
	}
	t := &c.Threshold
	if t.MaxEventSize <= EventOverhead || t.MaxEventSize > MaxEventSize {
		return &config.FieldError{Key: "threshold.max_event_size", Msg: fmt.Sprintf("must be above %d bytes (the per-event overhead) and at most 256kb", EventOverhead)}
	}
	if t.MaxRequestSize < t.MaxEventSize || t.MaxRequestSize > MaxBatchBytes {
		return &config.FieldError{Key: "threshold.max_request_size", Msg: "must be at least threshold.max_event_size and at most 1mb (1048576 bytes)"}
	}
	if t.MaxBackOffTime < t.BackOffTime {
		return &config.FieldError{Key: "threshold.max_back_off_time", Msg: "must not be below threshold.back_off_time"}
	}
	if c.RetentionDays != 0 && !slices.Contains(retentionDays, c.RetentionDays) {
		return &config.FieldError{Key: "log_group_retention_days", Msg: fmt.Sprintf("%d is not a retention CloudWatch Logs accepts; use one of %s", c.RetentionDays, joinInts(retentionDays))}
	}
	for k := range c.HeaderOverrides {
		if !validHeaderName(k) {
			return &config.FieldError{Key: "header_overrides", Msg: fmt.Sprintf("%q is not a valid HTTP header name", k)}
		}
	}
	m := strings.TrimSpace(c.Message)
	switch {
	case m == "" || m == MessageJSON:
		c.Message = MessageJSON
	case m == "/":
		return &config.FieldError{Key: "message", Msg: `"/" is the whole event: use json`}
	default:
		c.messagePath = event.ParsePath(m)
	}
	if ts := strings.TrimSpace(c.TimestampField); ts != "" {
		if ts == "/" {
			return &config.FieldError{Key: "timestamp_field", Msg: "name a field"}
		}
		c.timestampPath = event.ParsePath(ts)
	}
	return nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// checkGroupName applies CloudWatch Logs' rule for log group names: 1 to
// 512 characters among a-z, A-Z, 0-9, '_', '-', '/', '.' and '#'.
func checkGroupName(s string) error {
	if s == "" {
		return fmt.Errorf("log group name is empty")
	}
	if len(s) > 512 {
		return fmt.Errorf("log group name is %d characters long (at most 512)", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '/' || c == '.' || c == '#') {
			return fmt.Errorf("log group name %q has the character %q (allowed: a-z A-Z 0-9 _ - / . #)", s, rune(c))
		}
	}
	return nil
}

// checkStreamName applies CloudWatch Logs' rule for log stream names: 1 to
// 512 characters, no ':' or '*'.
func checkStreamName(s string) error {
	if s == "" {
		return fmt.Errorf("log stream name is empty")
	}
	if len(s) > 512 {
		return fmt.Errorf("log stream name is %d characters long (at most 512)", len(s))
	}
	if i := strings.IndexAny(s, ":*"); i >= 0 {
		return fmt.Errorf("log stream name %q has the character %q (':' and '*' are not allowed)", s, s[i])
	}
	return nil
}

// ByteSize is a size in bytes written as Data Prepper's byte counts: a
// number with an optional unit b, kb or mb (powers of 1024; kib and mib are
// accepted too). A bare number is bytes.
type ByteSize int64

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(t []byte) error {
	s := strings.ToLower(strings.TrimSpace(string(t)))
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == '_') {
		i++
	}
	num, unit := strings.ReplaceAll(s[:i], "_", ""), strings.TrimSpace(s[i:])
	x, err := strconv.ParseFloat(num, 64)
	if num == "" || err != nil {
		return fmt.Errorf("invalid byte size %q (use e.g. 256kb, 1mb or 1048576)", string(t))
	}
	mult := map[string]float64{"": 1, "b": 1, "kb": 1 << 10, "kib": 1 << 10, "k": 1 << 10, "mb": 1 << 20, "mib": 1 << 20, "m": 1 << 20, "gb": 1 << 30, "gib": 1 << 30, "g": 1 << 30}
	m, ok := mult[unit]
	if !ok {
		return fmt.Errorf("invalid byte size %q: unknown unit %q (use b, kb or mb)", string(t), unit)
	}
	v := x * m
	if v > math.MaxInt64/2 || v != math.Trunc(v) {
		return fmt.Errorf("byte size %q is not a whole number of bytes in range", string(t))
	}
	*b = ByteSize(v)
	return nil
}

// String writes the size with the largest unit that divides it.
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%(1<<20) == 0:
		return strconv.FormatInt(int64(b>>20), 10) + "mb"
	case b != 0 && b%(1<<10) == 0:
		return strconv.FormatInt(int64(b>>10), 10) + "kb"
	}
	return strconv.FormatInt(int64(b), 10) + "b"
}
