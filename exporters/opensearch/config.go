package opensearch

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/template"
)

// Index types.
const (
	IndexTypeCustom     = "custom"
	IndexTypeTraceRaw   = "trace-analytics-raw"
	IndexTypeServiceMap = "trace-analytics-service-map"
)

// Fixed names of the trace-analytics indices (as OpenSearch Dashboards'
// Trace Analytics expects them).
const (
	SpanAlias        = "otel-v1-apm-span"
	SpanFirstIndex   = "otel-v1-apm-span-000001"
	ServiceMapIndex  = "otel-v1-apm-service-map"
	spanPolicyName   = "raw-span-policy"
	spanTemplateName = "otel-v1-apm-span-index-template"
	smapTemplateName = "otel-v1-apm-service-map-index-template"
)

// Actions.
const (
	ActionIndex  = "index"
	ActionCreate = "create"
	ActionUpsert = "upsert"
	ActionDelete = "delete"
)

// Config is the opensearch sink's options; the names are Data Prepper's.
type Config struct {
	Hosts      []string   `yaml:"hosts" required:"true" doc:"OpenSearch endpoints (http:// or https://, with port); on a connection error the next one is tried"`
	Username   string     `yaml:"username" doc:"user for HTTP basic authentication"`
	Password   string     `yaml:"password" secret:"true" doc:"password for HTTP basic authentication"`
	Insecure   bool       `yaml:"insecure" doc:"skip verifying the server's TLS certificate (testing only)"`
	Cert       string     `yaml:"cert" doc:"PEM file of the CA certificate(s) to trust for the server's TLS certificate (default: the system roots)"`
	ClientCert string     `yaml:"client_cert" doc:"PEM file of a client certificate for mutual TLS (with client_key)"`
	ClientKey  string     `yaml:"client_key" doc:"PEM file of the client certificate's private key"`
	AWS        *AWSConfig `yaml:"aws" doc:"sign every request with AWS SigV4 (Amazon OpenSearch Service or Serverless)"`

	ConnectTimeout time.Duration `yaml:"connect_timeout" min:"1ms" doc:"time to open a connection (TCP and TLS) to a host before trying the next"`
	SocketTimeout  time.Duration `yaml:"socket_timeout" min:"1ms" doc:"longest a single request (a bulk request, a template installation) may take; a request running longer counts as a connection error"`

	Index         template.Template `yaml:"index" doc:"index (or alias) name: %{yyyy.MM.dd}-style dates (event time, UTC) and ${/field} values; required for index_type custom"`
	IndexType     string            `yaml:"index_type" enum:"custom,trace-analytics-raw,trace-analytics-service-map" doc:"custom, or one of the Trace Analytics layouts (fixed index names, templates and document IDs)"`
	TemplateFile  string            `yaml:"template_file" doc:"JSON file with an index template (mappings, settings) to install or update at start"`
	TemplateType  string            `yaml:"template_type" enum:"v1,index-template" doc:"v1: legacy _template API; index-template: composable _index_template API"`
	ISMPolicyFile string            `yaml:"ism_policy_file" doc:"JSON file with an ISM policy to install at start (skipped with a warning when the cluster has no ISM plugin)"`

	DocumentID template.Template `yaml:"document_id" alias:"document_id_field" doc:"document _id: a template such as ${/id}, or a bare field name; default: none (OpenSearch assigns one), spanId for trace-analytics-raw, hashId for the service map"`
	Routing    template.Template `yaml:"routing" alias:"routing_field" doc:"shard routing value: a template such as ${/tenant}, or a bare field name"`
	Action     string            `yaml:"action" enum:"index,create,upsert,delete" doc:"bulk action for every document; upsert and delete need a document_id"`

	BulkSize     float64       `yaml:"bulk_size" min:"0.001" max:"1024" doc:"largest bulk request body in MiB (before compression); a larger single document is sent alone"`
	MaxDocuments int           `yaml:"max_documents" min:"1" max:"100000" doc:"most documents in one bulk request"`
	FlushTimeout time.Duration `yaml:"flush_timeout" doc:"longest a document waits for its bulk request to fill; 0 sends every pipeline batch at once"`
	Compression  bool          `yaml:"compression" doc:"gzip request bodies (Content-Encoding: gzip)"`
	MaxInflight  int           `yaml:"max_inflight" min:"1" max:"64" doc:"concurrent bulk requests"`
	MaxBuffered  int           `yaml:"max_buffered" min:"1" max:"10000000" doc:"documents held by the sink (batching, in flight, waiting for a retry) before it blocks the pipeline"`

	MaxRetries     int           `yaml:"max_retries" min:"0" max:"1000" doc:"retries of a document after its first attempt (429, 5xx, connection errors) before it is dead-lettered"`
	InitialBackoff time.Duration `yaml:"initial_backoff" min:"1ms" doc:"upper bound of the first retry's random wait; it doubles per retry (full jitter)"`
	MaxBackoff     time.Duration `yaml:"max_backoff" min:"1ms" doc:"largest upper bound of a retry's random wait"`
	DLQFile        string        `yaml:"dlq_file" doc:"NDJSON file receiving documents refused for good (document, index, status, error, time); unset: they are logged and counted only"`
}

// AWSConfig is the aws block: SigV4 signing with the default credential
// chain, optionally assuming a role.
type AWSConfig struct {
	Region     string `yaml:"region" doc:"AWS region of the domain or collection (default: AWS_REGION / the shared config)"`
	STSRoleARN string `yaml:"sts_role_arn" doc:"IAM role to assume (STS AssumeRole) with the default credentials"`
	Serverless bool   `yaml:"serverless" doc:"sign for OpenSearch Serverless (service aoss) instead of OpenSearch Service (es)"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		ConnectTimeout: 10 * time.Second,
		SocketTimeout:  60 * time.Second,
		IndexType:      IndexTypeCustom,
		TemplateType:   "v1",
		Action:         ActionIndex,
		BulkSize:       5,
		MaxDocuments:   1000,
		FlushTimeout:   time.Second,
		Compression:    true,
		MaxInflight:    2,
		MaxBuffered:    10000,
		MaxRetries:     10,
		InitialBackoff: 100 * time.Millisecond,
		MaxBackoff:     10 * time.Second,
	}
}

// Validate checks what tags cannot.
func (c *Config) Validate() error {
	if len(c.Hosts) == 0 {
		return &config.FieldError{Key: "hosts", Msg: "at least one host is required"}
	}
	for i, h := range c.Hosts {
		u, err := url.Parse(h)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &config.FieldError{Key: "hosts", Msg: fmt.Sprintf("host %d %q is not an http:// or https:// URL", i, h)}
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return &config.FieldError{Key: "hosts", Msg: fmt.Sprintf("host %q must not have a query or fragment", h)}
		}
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		return &config.FieldError{Key: "client_cert", Msg: "client_cert and client_key go together"}
	}
	if c.AWS != nil && (c.Username != "" || c.Password != "") {
		return &config.FieldError{Key: "aws", Msg: "use either aws (SigV4) or username/password, not both"}
	}
	if c.Password != "" && c.Username == "" {
		return &config.FieldError{Key: "username", Msg: "password is set but username is not"}
	}
	switch c.IndexType {
	case IndexTypeCustom:
		if c.Index.String() == "" {
			return &config.FieldError{Key: "index", Msg: "required when index_type is custom"}
		}
	case IndexTypeTraceRaw, IndexTypeServiceMap:
		fixed := SpanAlias
		if c.IndexType == IndexTypeServiceMap {
			fixed = ServiceMapIndex
		}
		if s := c.Index.String(); s != "" && s != fixed {
			return &config.FieldError{Key: "index", Msg: fmt.Sprintf("index_type %s always writes to %s; remove index", c.IndexType, fixed)}
		}
		if c.TemplateFile != "" {
			return &config.FieldError{Key: "template_file", Msg: fmt.Sprintf("index_type %s installs weft's own template", c.IndexType)}
		}
	}
	var err error
	if c.DocumentID, err = fieldName(c.DocumentID); err != nil {
		return &config.FieldError{Key: "document_id", Msg: err.Error()}
	}
	if c.Routing, err = fieldName(c.Routing); err != nil {
		return &config.FieldError{Key: "routing", Msg: err.Error()}
	}
	if (c.Action == ActionUpsert || c.Action == ActionDelete) && c.DocumentID.String() == "" && c.IndexType == IndexTypeCustom {
		return &config.FieldError{Key: "action", Msg: fmt.Sprintf("action %s needs document_id", c.Action)}
	}
	if c.MaxBackoff < c.InitialBackoff {
		return &config.FieldError{Key: "max_backoff", Msg: "must not be below initial_backoff"}
	}
	return nil
}

// fieldName turns a static document_id/routing value (Data Prepper's
// document_id_field: a field name, not a template) into a field reference:
// a constant ID would make every document overwrite the previous one.
func fieldName(t template.Template) (template.Template, error) {
	s := t.String()
	if s == "" || !t.IsStatic() {
		return t, nil
	}
	name := strings.TrimPrefix(strings.TrimSpace(s), "/")
	if name == "" || strings.ContainsAny(name, "{}") {
		return t, fmt.Errorf("%q is neither a field name nor a template such as ${/id}", s)
	}
	p, err := template.Parse("${/" + name + "}")
	if err != nil {
		return t, err
	}
	return *p, nil
}
