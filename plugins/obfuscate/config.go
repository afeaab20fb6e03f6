package obfuscate

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the obfuscate processor's configuration, as Data Prepper
// writes it.
type Config struct {
	Source             string           `yaml:"source" required:"true" doc:"field to obfuscate: a key or JSON pointer"`
	Target             string           `yaml:"target" doc:"field that receives the result, leaving source unchanged; default: source is updated in place"`
	Patterns           []Pattern        `yaml:"patterns" doc:"regular expressions, or predefined patterns such as %{EMAIL_ADDRESS}; only their matches are obfuscated, pattern after pattern; default: the whole value"`
	SingleWordOnly     bool             `yaml:"single_word_only" doc:"add \\b before and after every pattern, so only standalone words match"`
	Action             Action           `yaml:"action" doc:"mask or hash, as a one-key map: {mask: {mask_character: \"#\"}}, {hash: {salt: ...}}"`
	ObfuscateWhen      *expr.Expression `yaml:"obfuscate_when" doc:"condition; only events for which it is true are obfuscated"`
	TagsOnMatchFailure []string         `yaml:"tags_on_match_failure" doc:"tags added to an event whose value the action left unchanged"`
}

// Action is Data Prepper's action plugin model: a map with exactly one key,
// the action's name, whose value holds the action's options (or nothing,
// for its defaults).
type Action struct {
	Name string
	Mask MaskConfig
	Hash HashConfig
}

// MaskConfig holds the mask action's options.
type MaskConfig struct {
	MaskCharacter       string `yaml:"mask_character" enum:"*,#,!,%,&,@,$" doc:"character of the mask"`
	MaskCharacterLength int    `yaml:"mask_character_length" min:"1" max:"10" doc:"how many mask characters replace each match (or the whole value)"`
}

// HashConfig holds the hash action's options.
type HashConfig struct {
	Salt    string `yaml:"salt" secret:"true" doc:"salt prepended to every value before hashing; default: 64 random bytes per start (hashes then change on every restart)"`
	SaltKey string `yaml:"salt_key" doc:"field whose value is the salt for its event (padded or cut to 64 bytes, as Data Prepper does); events without it use salt"`
	Format  string `yaml:"format" enum:"SHA-512,SHA-256" doc:"digest, written in standard Base64"`
}

// Action names.
const (
	ActionMask = "mask"
	ActionHash = "hash"
)

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{Action: DefaultAction()} }

// DefaultAction is mask with Data Prepper's defaults: "***".
func DefaultAction() Action {
	return Action{
		Name: ActionMask,
		Mask: MaskConfig{MaskCharacter: "*", MaskCharacterLength: 3},
		Hash: HashConfig{Format: "SHA-512"},
	}
}

// String names the action (shown as the option's default).
func (a Action) String() string { return a.Name }

// DecodeNode reads `action: {mask: {...}}` or `action: {hash: {...}}`. The
// inner options are decoded strictly by the same decoder, so errors keep
// their file:line:column and the salt is redacted like every secret.
func (a *Action) DecodeNode(d *config.Decoder, n *yaml.Node, key string) error {
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.Fail(n, key, "expected a mapping with one action, mask or hash (e.g. action: {hash: {salt: \"...\"}}), got %s", describeNode(n))
		return nil
	}
	if len(n.Content) == 0 {
		d.Fail(n, key, "names no action; use mask or hash")
		return nil
	}
	if len(n.Content) > 2 {
		d.Fail(n.Content[2], key, "give one action, not several")
		return nil
	}
	k, v := n.Content[0], n.Content[1]
	switch k.Value {
	case ActionMask:
		a.Name = ActionMask
		d.DecodeValue(v, reflect.ValueOf(&a.Mask).Elem(), key+"."+ActionMask)
	case ActionHash:
		a.Name = ActionHash
		d.DecodeValue(v, reflect.ValueOf(&a.Hash).Elem(), key+"."+ActionHash)
	default:
		msg := fmt.Sprintf("unknown action %q; use mask or hash", k.Value)
		if s := config.Suggest(k.Value, []string{ActionMask, ActionHash}); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		d.Fail(k, key+"."+k.Value, "%s", msg)
	}
	return nil
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.SequenceNode:
		return "a list"
	}
	return "a YAML node"
}

// predefined are Data Prepper's named patterns (CommonPattern.java), in Go
// RE2 syntax (they need no change).
var predefined = map[string]string{
	"EMAIL_ADDRESS":      `[A-Za-z0-9+_.-]+@([\w-]+\.)+[\w-]{2,4}`,
	"IP_ADDRESS_V4":      `((25[0-5]|(2[0-4]|1\d|[1-9]|)\d)\.?\b){4}`,
	"BASE_NUMBER":        `[0-9]*\.?[0-9]+`,
	"CREDIT_CARD_NUMBER": `(\d[ -]*?){13,16}`,
	"US_PHONE_NUMBER":    `\+?\d?[\s-]?(\(\d{3}\)|\d{3})[\s-]?\d{3}[\s-]?\d{4}`,
	"US_SSN_NUMBER":      `[0-9]{3}-[0-9]{2}-[0-9]{4}`,
}

var predefinedRef = regexp.MustCompile(`^%\{([A-Z_0-9]+)}$`)

// compilePattern resolves a predefined pattern and applies single_word_only
// the way Data Prepper does: "\b" + pattern + "\b", without a group (so an
// alternation a|b becomes \ba|b\b — group it yourself if that matters).
func compilePattern(raw string, singleWord bool) (*regexp.Regexp, error) {
	if m := predefinedRef.FindStringSubmatch(raw); m != nil {
		expr, ok := predefined[m[1]]
		if !ok {
			names := make([]string, 0, len(predefined))
			for n := range predefined {
				names = append(names, "%{"+n+"}")
			}
			sort.Strings(names)
			return nil, fmt.Errorf("unknown predefined pattern %q (known: %s)", raw, strings.Join(names, ", "))
		}
		raw = expr
	}
	if singleWord {
		raw = `\b` + raw + `\b`
	}
	re, err := regexp.Compile(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern: %v", err)
	}
	return re, nil
}

// Pattern is one entry of patterns: a regular expression (Go RE2 syntax)
// or a predefined pattern %{NAME}. It is checked when decoded, so an error
// points at the list item.
type Pattern string

// UnmarshalText checks the pattern.
func (p *Pattern) UnmarshalText(b []byte) error {
	if _, err := compilePattern(string(b), false); err != nil {
		return err
	}
	*p = Pattern(b)
	return nil
}

// Validate checks the fields and compiles the patterns.
func (c *Config) Validate() error {
	if c.Source != "" && event.ParsePath(c.Source).IsRoot() {
		return &config.FieldError{Key: "source", Msg: "must name a field, not the whole event"}
	}
	if c.Target != "" && event.ParsePath(c.Target).IsRoot() {
		return &config.FieldError{Key: "target", Msg: "must name a field, not the whole event"}
	}
	for i, p := range c.Patterns {
		if _, err := compilePattern(string(p), c.SingleWordOnly); err != nil {
			return &config.FieldError{Key: fmt.Sprintf("patterns[%d]", i), Msg: err.Error()}
		}
	}
	return nil
}
