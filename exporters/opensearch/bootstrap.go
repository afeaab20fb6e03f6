package opensearch

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/weft-agent/weft/pipelines/event"
)

//go:embed templates/*.json
var embedded embed.FS

// rolloverAliasSetting tells ISM's rollover action which alias to roll.
const rolloverAliasSetting = "plugins.index_state_management.rollover_alias"

// permanentError is a start-up request the cluster refused for good (a bad
// template, a name clash): retrying cannot help.
type permanentError struct {
	what   string
	status int
	reason string
}

func (e *permanentError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.what, e.status, e.reason)
}

// bootstrap is what the sink puts in place before its first bulk request:
// an ISM policy, an index template, and the span write alias or the
// service-map index. Every step is idempotent, so a failed run is simply
// run again.
type bootstrap struct {
	serverless bool

	policyName    string
	policy        []byte // nil: none
	policyDefault bool   // weft's own policy, not the user's: quieter when ISM is missing

	templateName string
	templateType string         // v1 or index-template
	template     map[string]any // as in the file: mappings, settings, maybe index_patterns
	patterns     []string

	writeAlias  string // trace-analytics-raw: alias over SpanFirstIndex
	createIndex string // service map: create the index if missing

	ismAvailable atomic.Int32 // 0 unknown, 1 yes, 2 no
	warnedISM    atomic.Bool
}

func newBootstrap(c *Config) (*bootstrap, error) {
	b := &bootstrap{serverless: c.AWS != nil && c.AWS.Serverless, templateType: c.TemplateType}
	if b.serverless {
		// OpenSearch Serverless has only composable templates.
		b.templateType = "index-template"
	}
	var tmpl []byte
	var err error
	prefix := staticPrefix(c.Index.String())
	switch c.IndexType {
	case IndexTypeTraceRaw:
		tmpl, _ = embedded.ReadFile("templates/otel-v1-apm-span-index-template.json")
		b.templateName = spanTemplateName
		b.patterns = []string{SpanAlias + "-*"}
		if !b.serverless {
			b.writeAlias = SpanAlias
		}
		b.policyName = spanPolicyName
		if c.ISMPolicyFile == "" {
			b.policy, _ = embedded.ReadFile("templates/raw-span-policy.json")
			b.policyDefault = true
		}
	case IndexTypeServiceMap:
		tmpl, _ = embedded.ReadFile("templates/otel-v1-apm-service-map-index-template.json")
		b.templateName = smapTemplateName
		b.patterns = []string{ServiceMapIndex}
		b.policyName = ServiceMapIndex + "-policy"
		if !b.serverless {
			b.createIndex = ServiceMapIndex
		}
	default:
		name := strings.TrimRight(prefix, "-_.")
		b.templateName = name + "-index-template"
		b.policyName = name + "-policy"
		if prefix != "" {
			b.patterns = []string{prefix + "*"}
		}
		if c.TemplateFile != "" {
			if tmpl, err = os.ReadFile(c.TemplateFile); err != nil {
				return nil, fmt.Errorf("template_file: %w", err)
			}
		}
	}
	if tmpl != nil {
		if b.template, err = parseObject(tmpl); err != nil {
			return nil, fmt.Errorf("template_file %s: %w", c.TemplateFile, err)
		}
		if _, ok := b.template["index_patterns"]; !ok && len(b.patterns) == 0 {
			return nil, fmt.Errorf("template_file %s: the index %q starts with a template reference, so the file must give index_patterns", c.TemplateFile, c.Index.String())
		}
		if b.templateName == "-index-template" {
			b.templateName = "weft-index-template"
		}
	}
	if c.ISMPolicyFile != "" {
		p, err := os.ReadFile(c.ISMPolicyFile)
		if err != nil {
			return nil, fmt.Errorf("ism_policy_file: %w", err)
		}
		m, err := parseObject(p)
		if err != nil {
			return nil, fmt.Errorf("ism_policy_file %s: %w", c.ISMPolicyFile, err)
		}
		if _, ok := m["policy"]; !ok {
			m = map[string]any{"policy": m}
		}
		if b.policy, err = json.Marshal(m); err != nil {
			return nil, err
		}
		if b.policyName == "-policy" {
			b.policyName = "weft-policy"
		}
	}
	if b.serverless && b.policy != nil {
		// Serverless has no ISM.
		b.policy = nil
	}
	return b, nil
}

// staticPrefix is the part of an index template before its first %{ or ${.
func staticPrefix(s string) string {
	i := len(s)
	if j := strings.Index(s, "%{"); j >= 0 && j < i {
		i = j
	}
	if j := strings.Index(s, "${"); j >= 0 && j < i {
		i = j
	}
	return s[:i]
}

func parseObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// empty reports whether there is nothing to put in place.
func (b *bootstrap) empty() bool {
	return b.policy == nil && b.template == nil && b.writeAlias == "" && b.createIndex == ""
}

// run performs every step once. Errors are *permanentError (refused for
// good) or anything else (retry later).
func (b *bootstrap) run(ctx context.Context, s *Sink) error {
	if b.policy != nil {
		if err := b.installPolicy(ctx, s); err != nil {
			return err
		}
	}
	if b.template != nil {
		if err := b.installTemplate(ctx, s); err != nil {
			return err
		}
	}
	if b.writeAlias != "" {
		if err := b.ensureAlias(ctx, s); err != nil {
			return err
		}
	}
	if b.createIndex != "" {
		if err := b.ensureIndex(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// call sends one start-up request; a missing answer or a status worth
// retrying is a plain error.
func (b *bootstrap) call(ctx context.Context, s *Sink, method, path string, body []byte) (int, []byte, error) {
	var resp []byte
	status, host, err := s.cl.do(ctx, request{method: method, path: path, body: body}, &resp)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status >= 500 || status == 429 || status == 401 || status == 403 {
		// Unavailable, overloaded, or credentials not (yet) accepted:
		// worth trying again.
		f := responseFailure(status, resp)
		return status, resp, fmt.Errorf("%s %s on %s: HTTP %d: %s", method, path, host, status, f.reason)
	}
	s.markReachable()
	return status, resp, nil
}

func (b *bootstrap) installPolicy(ctx context.Context, s *Sink) error {
	path := "/_plugins/_ism/policies/" + url.PathEscape(b.policyName)
	status, resp, err := b.call(ctx, s, "PUT", path, b.policy)
	if err != nil {
		return err
	}
	log := s.set.Logger.WithField("policy", b.policyName)
	switch {
	case status == 200 || status == 201:
		b.ismAvailable.Store(1)
		log.Info("installed the ISM policy")
	case status == 409:
		b.ismAvailable.Store(1)
		log.Info("the ISM policy already exists; left unchanged")
	case status == 404 || (status == 400 && bytes.Contains(resp, []byte("no handler found"))):
		b.ismAvailable.Store(2)
		if b.warnedISM.CompareAndSwap(false, true) {
			if b.policyDefault {
				log.Info("the cluster has no ISM plugin (Index State Management): the span index is not rolled over automatically")
			} else {
				log.Warn("the cluster has no ISM plugin (Index State Management): ism_policy_file is not installed")
			}
		}
	default:
		f := responseFailure(status, resp)
		if b.policyDefault {
			log.WithField("reason", f.reason).Warn("could not install weft's ISM policy; continuing without it")
			return nil
		}
		return &permanentError{what: "installing ism_policy_file as " + b.policyName, status: status, reason: f.reason}
	}
	return nil
}

// templateBody builds the request body for the configured template API.
func (b *bootstrap) templateBody() ([]byte, error) {
	src := b.template
	version := src["version"]
	var settings, mappings, aliases any
	var patterns any = b.patterns
	if p, ok := src["index_patterns"]; ok {
		patterns = p
	}
	inner, composable := src["template"].(map[string]any)
	if composable {
		settings, mappings, aliases = inner["settings"], inner["mappings"], inner["aliases"]
	} else {
		settings, mappings, aliases = src["settings"], src["mappings"], src["aliases"]
	}
	if b.writeAlias != "" && b.ismAvailable.Load() == 1 {
		sm, _ := settings.(map[string]any)
		merged := make(map[string]any, len(sm)+1)
		for k, v := range sm {
			merged[k] = v
		}
		merged[rolloverAliasSetting] = b.writeAlias
		settings = merged
	}
	out := map[string]any{"index_patterns": patterns}
	if version != nil {
		out["version"] = version
	}
	if b.templateType == "index-template" {
		t := map[string]any{}
		if composable {
			for k, v := range inner {
				t[k] = v
			}
			for _, k := range []string{"priority", "composed_of", "data_stream", "_meta"} {
				if v, ok := src[k]; ok {
					out[k] = v
				}
			}
		} else if order, ok := src["order"]; ok {
			out["priority"] = order
		}
		if settings != nil {
			t["settings"] = settings
		}
		if mappings != nil {
			t["mappings"] = mappings
		}
		if aliases != nil {
			t["aliases"] = aliases
		}
		out["template"] = t
	} else {
		if !composable {
			for k, v := range src {
				out[k] = v
			}
			out["index_patterns"] = patterns
		} else if p, ok := src["priority"]; ok {
			out["order"] = p
		}
		if settings != nil {
			out["settings"] = settings
		}
		if mappings != nil {
			out["mappings"] = mappings
		}
		if aliases != nil {
			out["aliases"] = aliases
		}
	}
	return json.Marshal(out)
}

func (b *bootstrap) templatePath() string {
	if b.templateType == "index-template" {
		return "/_index_template/" + url.PathEscape(b.templateName)
	}
	return "/_template/" + url.PathEscape(b.templateName)
}

func (b *bootstrap) installTemplate(ctx context.Context, s *Sink) error {
	log := s.set.Logger.WithField("template", b.templateName)
	ours, hasOurs := versionOf(b.template["version"])
	if hasOurs {
		status, resp, err := b.call(ctx, s, "GET", b.templatePath(), nil)
		if err != nil {
			return err
		}
		if status == 200 {
			if theirs, ok := b.existingVersion(resp); ok && theirs >= ours {
				log.WithField("version", theirs).Debug("the index template is up to date")
				return nil
			}
		}
	}
	body, err := b.templateBody()
	if err != nil {
		return err
	}
	status, resp, err := b.call(ctx, s, "PUT", b.templatePath(), body)
	if err != nil {
		return err
	}
	if status != 200 && status != 201 {
		f := responseFailure(status, resp)
		return &permanentError{what: "installing the index template " + b.templateName, status: status, reason: f.reason}
	}
	log.WithField("api", b.templateType).Info("installed the index template")
	return nil
}

func versionOf(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case int64:
		return x, true
	case float64:
		return int64(x), true
	}
	return 0, false
}

// existingVersion reads the version of the installed template.
func (b *bootstrap) existingVersion(resp []byte) (int64, bool) {
	v, err := event.DecodeJSON(resp)
	if err != nil {
		return 0, false
	}
	m, _ := v.(map[string]any)
	if b.templateType == "index-template" {
		list, _ := m["index_templates"].([]any)
		for _, it := range list {
			e, _ := it.(map[string]any)
			if e["name"] == b.templateName {
				t, _ := e["index_template"].(map[string]any)
				return versionOf(t["version"])
			}
		}
		return 0, false
	}
	t, _ := m[b.templateName].(map[string]any)
	return versionOf(t["version"])
}

// ensureAlias creates the first rollover index with the write alias unless
// the alias exists.
func (b *bootstrap) ensureAlias(ctx context.Context, s *Sink) error {
	aliasPath := "/_alias/" + url.PathEscape(b.writeAlias)
	status, _, err := b.call(ctx, s, "GET", aliasPath, nil)
	if err != nil {
		return err
	}
	if status == 200 {
		return nil
	}
	idx := map[string]any{"aliases": map[string]any{b.writeAlias: map[string]any{"is_write_index": true}}}
	if b.ismAvailable.Load() == 1 {
		idx["settings"] = map[string]any{rolloverAliasSetting: b.writeAlias}
	}
	body, _ := json.Marshal(idx)
	status, resp, err := b.call(ctx, s, "PUT", "/"+url.PathEscape(SpanFirstIndex), body)
	if err != nil {
		return err
	}
	if status == 200 || status == 201 {
		s.set.Logger.WithFields(map[string]any{"index": SpanFirstIndex, "alias": b.writeAlias}).Info("created the first span index with its write alias")
		return nil
	}
	f := responseFailure(status, resp)
	if f.typ == "resource_already_exists_exception" {
		// Another agent created it meanwhile; check it carries the alias.
		if status, _, err := b.call(ctx, s, "GET", aliasPath, nil); err != nil {
			return err
		} else if status == 200 {
			return nil
		}
		return &permanentError{what: "bootstrapping the alias " + b.writeAlias, status: status,
			reason: SpanFirstIndex + " exists without the alias " + b.writeAlias + "; add it with is_write_index: true"}
	}
	reason := f.reason
	if f.typ == "invalid_alias_name_exception" {
		reason += " (an index named " + b.writeAlias + " exists, probably auto-created by writes before the alias; delete or reindex it)"
	}
	return &permanentError{what: "bootstrapping the alias " + b.writeAlias, status: status, reason: reason}
}

// ensureIndex creates an index (with the template applied) if missing.
func (b *bootstrap) ensureIndex(ctx context.Context, s *Sink) error {
	status, resp, err := b.call(ctx, s, "PUT", "/"+url.PathEscape(b.createIndex), nil)
	if err != nil {
		return err
	}
	if status == 200 || status == 201 {
		return nil
	}
	f := responseFailure(status, resp)
	if f.typ == "resource_already_exists_exception" {
		return nil
	}
	return &permanentError{what: "creating the index " + b.createIndex, status: status, reason: f.reason}
}
