package mask

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/plugins/mask/detect"
)

// Config is the mask processor's configuration.
type Config struct {
	Rules            []Rule            `yaml:"rules" doc:"field rules: mask the whole value at a path (wildcards * and **); a rule's match is not scanned by the detectors"`
	Detectors        []string          `yaml:"detectors" doc:"detectors that scan free text; [] turns scanning off"`
	DetectorActions  map[string]string `yaml:"detector_actions" doc:"action per detector (redact, hash or partial); default redact for aws_access_key, bearer_token, url_password, secret_pair and hash for the others"`
	DetectorKeepLast int               `yaml:"detector_keep_last" min:"0" doc:"characters a detector's partial action keeps at the end"`
	ScanKeys         []string          `yaml:"scan_keys" doc:"paths whose string values the detectors scan (wildcards allowed); default every string in the event"`
	SkipKeys         []string          `yaml:"skip_keys" doc:"paths the detectors never scan (wildcards allowed); rules still apply"`
	RedactToken      string            `yaml:"redact_token" doc:"what the redact action writes"`
	Key              string            `yaml:"key" secret:"true" doc:"HMAC key of the hash action, typically \"${MASK_KEY}\"; required (or key_file) when any action is hash"`
	KeyFile          string            `yaml:"key_file" doc:"file holding the HMAC key, read at start (a trailing newline is dropped); instead of key"`
}

// Rule masks the value at a path.
type Rule struct {
	Path        string `yaml:"path" required:"true" doc:"JSON pointer; a segment * is any one key or list element, ** any number of levels (/customer/*, /**/password)"`
	Action      string `yaml:"action" required:"true" enum:"redact,hash,partial,pattern" doc:"redact, hash, partial or pattern"`
	KeepLast    *int   `yaml:"keep_last" min:"0" doc:"partial: characters kept at the end (default 4); a value no longer than this is masked whole"`
	Pattern     string `yaml:"pattern" doc:"pattern: regular expression (Go RE2 syntax) whose matches are replaced"`
	Replacement string `yaml:"replacement" doc:"pattern: replacement text; $1 or ${name} insert groups"`
}

// The actions.
const (
	actRedact  = "redact"
	actHash    = "hash"
	actPartial = "partial"
	actPattern = "pattern"
)

// DefaultSkipKeys are the trace-correlation fields, which the detectors
// must never change.
var DefaultSkipKeys = []string{"/**/traceId", "/**/spanId", "/**/parentSpanId", "/**/traceGroup"}

// DefaultRedactToken is what redact writes unless redact_token says
// otherwise: the same three asterisks as the obfuscate processor's default
// mask, so masked values look alike whichever processor masked them.
const DefaultRedactToken = "***"

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		Detectors:        detect.Names(),
		DetectorKeepLast: 4,
		SkipKeys:         append([]string(nil), DefaultSkipKeys...),
		RedactToken:      DefaultRedactToken,
	}
}

// defaultAction is a detector's action unless detector_actions says
// otherwise: secrets are redacted (a hash of a password is still a
// password verifier); identifiers are hashed so that they stay joinable.
func defaultAction(k detect.Kind) string {
	if k.Secret() {
		return actRedact
	}
	return actHash
}

// Validate checks the rules, detector names and actions, and that the hash
// action has exactly one key source.
func (c *Config) Validate() error {
	seen := map[string]bool{}
	for i, name := range c.Detectors {
		if _, ok := detect.ParseKind(name); !ok {
			return &config.FieldError{Key: fmt.Sprintf("detectors[%d]", i), Msg: unknownDetector(name)}
		}
		if seen[name] {
			return &config.FieldError{Key: fmt.Sprintf("detectors[%d]", i), Msg: fmt.Sprintf("%q is listed twice", name)}
		}
		seen[name] = true
	}
	for _, name := range sortedKeys(c.DetectorActions) {
		key := "detector_actions." + name
		if _, ok := detect.ParseKind(name); !ok {
			return &config.FieldError{Key: key, Msg: unknownDetector(name)}
		}
		if !seen[name] {
			return &config.FieldError{Key: key, Msg: fmt.Sprintf("detector %q is not in detectors", name)}
		}
		switch a := c.DetectorActions[name]; a {
		case actRedact, actHash, actPartial:
		default:
			return &config.FieldError{Key: key, Msg: fmt.Sprintf("%q is not one of redact, hash, partial", a)}
		}
	}
	for i, p := range c.ScanKeys {
		if _, err := compilePattern(p); err != nil {
			return &config.FieldError{Key: fmt.Sprintf("scan_keys[%d]", i), Msg: err.Error()}
		}
	}
	for i, p := range c.SkipKeys {
		if _, err := compilePattern(p); err != nil {
			return &config.FieldError{Key: fmt.Sprintf("skip_keys[%d]", i), Msg: err.Error()}
		}
	}
	if c.Key != "" && c.KeyFile != "" {
		return &config.FieldError{Key: "key_file", Msg: "give key or key_file, not both"}
	}
	if users := c.hashUsers(); len(users) > 0 && c.Key == "" && c.KeyFile == "" {
		return &config.FieldError{Key: "key", Msg: fmt.Sprintf(
			"required (or key_file) because the hash action is used by %s; set key: \"${MASK_KEY}\" or change the action",
			strings.Join(users, ", "))}
	}
	return nil
}

// hashUsers names the rules and detectors whose action is hash.
func (c *Config) hashUsers() []string {
	var out []string
	for i, r := range c.Rules {
		if r.Action == actHash {
			out = append(out, fmt.Sprintf("rules[%d]", i))
		}
	}
	for _, name := range c.Detectors {
		k, ok := detect.ParseKind(name)
		if !ok {
			continue
		}
		if c.detectorAction(k) == actHash {
			out = append(out, "detector "+name)
		}
	}
	return out
}

func (c *Config) detectorAction(k detect.Kind) string {
	if a, ok := c.DetectorActions[k.String()]; ok {
		return a
	}
	return defaultAction(k)
}

// Validate checks one rule.
func (r *Rule) Validate() error {
	if r.Path != "" {
		if _, err := compilePattern(r.Path); err != nil {
			return &config.FieldError{Key: "path", Msg: err.Error()}
		}
	}
	if r.Action == actPattern {
		if r.Pattern == "" {
			return &config.FieldError{Key: "pattern", Msg: "required for action pattern"}
		}
		if _, err := regexp.Compile(r.Pattern); err != nil {
			return &config.FieldError{Key: "pattern", Msg: "invalid regular expression: " + err.Error()}
		}
	} else {
		if r.Pattern != "" {
			return &config.FieldError{Key: "pattern", Msg: "only applies to action pattern"}
		}
		if r.Replacement != "" {
			return &config.FieldError{Key: "replacement", Msg: "only applies to action pattern"}
		}
	}
	if r.KeepLast != nil && r.Action != actPartial {
		return &config.FieldError{Key: "keep_last", Msg: "only applies to action partial"}
	}
	return nil
}

func unknownDetector(name string) string {
	msg := fmt.Sprintf("unknown detector %q (known: %s)", name, strings.Join(detect.Names(), ", "))
	if s := config.Suggest(name, detect.Names()); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
