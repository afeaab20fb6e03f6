package renamekeys

import (
	"fmt"
	"regexp"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the rename_keys processor's configuration.
type Config struct {
	Entries []Entry `yaml:"entries" required:"true" doc:"the renames, applied in order to every event"`
}

// Entry is one rename.
type Entry struct {
	FromKey                string           `yaml:"from_key" doc:"field to rename: a key or JSON pointer (status, /status, kubernetes/pod_name)"`
	FromKeyRegex           string           `yaml:"from_key_regex" doc:"regular expression instead of from_key: top-level keys matching it entirely are renamed"`
	ToKey                  string           `yaml:"to_key" required:"true" doc:"the new key or JSON pointer"`
	OverwriteIfToKeyExists bool             `yaml:"overwrite_if_to_key_exists" doc:"rename even when to_key exists, replacing its value"`
	RenameWhen             *expr.Expression `yaml:"rename_when" doc:"condition; the rename applies only to events for which it is true"`
}

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{} }

// Validate rejects an explicitly empty entry list (a missing one is reported
// by the required tag).
func (c *Config) Validate() error {
	if c.Entries != nil && len(c.Entries) == 0 {
		return &config.FieldError{Key: "entries", Msg: "must list at least one entry"}
	}
	return nil
}

// Validate requires exactly one source and real fields on both ends.
func (e *Entry) Validate() error {
	switch {
	case e.FromKey != "" && e.FromKeyRegex != "":
		return &config.FieldError{Key: "from_key_regex", Msg: "give from_key or from_key_regex, not both"}
	case e.FromKey == "" && e.FromKeyRegex == "":
		return &config.FieldError{Key: "from_key", Msg: "one of from_key or from_key_regex is required"}
	case e.FromKey != "" && event.ParsePath(e.FromKey).IsRoot():
		return &config.FieldError{Key: "from_key", Msg: "must name a field, not the whole event"}
	}
	if e.FromKeyRegex != "" {
		if _, err := compileKeyRegex(e.FromKeyRegex); err != nil {
			return &config.FieldError{Key: "from_key_regex", Msg: err.Error()}
		}
	}
	if e.ToKey != "" && event.ParsePath(e.ToKey).IsRoot() {
		return &config.FieldError{Key: "to_key", Msg: "must name a field, not the whole event"}
	}
	return nil
}

// compileKeyRegex anchors the pattern: Data Prepper (Java's
// Matcher.matches) renames a key only when the whole key matches.
func compileKeyRegex(s string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + s + `)$`)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression: %w", err)
	}
	return re, nil
}
