package deleteentries

import (
	"fmt"
	"regexp"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the delete_entries processor's configuration: either one rule
// given inline or a list of rules in entries.
type Config struct {
	// Rule's options are flattened into this level (an embedded struct
	// without a yaml tag), as Data Prepper writes them.
	Rule
	Entries []Rule `yaml:"entries" doc:"rules with their own condition, applied in order; instead of the options above"`
}

// Rule names fields to delete and when.
type Rule struct {
	WithKeys          []string         `yaml:"with_keys" doc:"keys or JSON pointers of the fields to delete (status, /status, kubernetes/pod_name)"`
	WithKeysRegex     []string         `yaml:"with_keys_regex" doc:"regular expressions; top-level keys that match one of them entirely are deleted"`
	ExcludeFromDelete []string         `yaml:"exclude_from_delete" doc:"top-level keys that with_keys_regex never deletes"`
	DeleteWhen        *expr.Expression `yaml:"delete_when" doc:"condition; fields are deleted only from events for which it is true"`
}

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{} }

// Validate requires exactly one way of naming the fields: the inline
// options or entries.
func (c *Config) Validate() error {
	inline := c.WithKeys != nil || c.WithKeysRegex != nil || c.ExcludeFromDelete != nil || c.DeleteWhen != nil
	switch {
	case c.Entries != nil && inline:
		return &config.FieldError{Key: "entries", Msg: "use either entries or with_keys/with_keys_regex/exclude_from_delete/delete_when, not both"}
	case c.Entries != nil && len(c.Entries) == 0:
		return &config.FieldError{Key: "entries", Msg: "must list at least one entry"}
	case c.Entries != nil:
		return nil // each entry validated itself
	}
	return c.Rule.Validate()
}

// Validate checks one rule.
func (r *Rule) Validate() error {
	if r.WithKeys == nil && r.WithKeysRegex == nil {
		return &config.FieldError{Key: "with_keys", Msg: "one of with_keys or with_keys_regex is required"}
	}
	if r.WithKeys != nil && len(r.WithKeys) == 0 {
		return &config.FieldError{Key: "with_keys", Msg: "must list at least one key"}
	}
	for i, k := range r.WithKeys {
		if event.ParsePath(k).IsRoot() {
			return &config.FieldError{Key: fmt.Sprintf("with_keys[%d]", i), Msg: "must name a field, not the whole event"}
		}
	}
	if r.WithKeysRegex != nil && len(r.WithKeysRegex) == 0 {
		return &config.FieldError{Key: "with_keys_regex", Msg: "must list at least one pattern"}
	}
	for i, re := range r.WithKeysRegex {
		if _, err := compileKeyRegex(re); err != nil {
			return &config.FieldError{Key: fmt.Sprintf("with_keys_regex[%d]", i), Msg: err.Error()}
		}
	}
	if len(r.ExcludeFromDelete) > 0 && len(r.WithKeysRegex) == 0 {
		return &config.FieldError{Key: "exclude_from_delete", Msg: "only applies with with_keys_regex"}
	}
	return nil
}

// compileKeyRegex anchors the pattern: Data Prepper (Java's
// Matcher.matches) deletes a key only when the whole key matches.
func compileKeyRegex(s string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + s + `)$`)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %w", err)
	}
	return re, nil
}
