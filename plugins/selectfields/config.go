package selectfields

import (
	"fmt"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the select_fields (alias select_entries) processor's
// configuration.
type Config struct {
	Include     []string         `yaml:"include" doc:"JSON pointers of the fields to keep (with their parents); * is one level, ** any number of levels; everything else is removed"`
	Exclude     []string         `yaml:"exclude" doc:"JSON pointers of the fields to remove, same syntax; applied after include"`
	IncludeKeys []string         `yaml:"include_keys" doc:"Data Prepper's name for include (select_entries); give one of the two"`
	SelectWhen  *expr.Expression `yaml:"select_when" doc:"condition; fields are selected only in events for which it is true"`
}

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{} }

// Validate requires something to select and compiles every pattern.
func (c *Config) Validate() error {
	if c.Include != nil && c.IncludeKeys != nil {
		return &config.FieldError{Key: "include_keys", Msg: "give include or include_keys (its Data Prepper name), not both"}
	}
	if c.Include == nil && c.IncludeKeys == nil && c.Exclude == nil {
		return &config.FieldError{Key: "include", Msg: "give include (or include_keys), exclude, or both"}
	}
	for _, l := range []struct {
		key  string
		pats []string
	}{{"include", c.Include}, {"include_keys", c.IncludeKeys}, {"exclude", c.Exclude}} {
		if l.pats != nil && len(l.pats) == 0 {
			return &config.FieldError{Key: l.key, Msg: "must list at least one path"}
		}
		for i, p := range l.pats {
			if _, err := compilePattern(p); err != nil {
				return &config.FieldError{Key: fmt.Sprintf("%s[%d]", l.key, i), Msg: err.Error()}
			}
		}
	}
	return nil
}

// includes returns the include patterns under either name.
func (c *Config) includes() []string {
	if c.Include != nil {
		return c.Include
	}
	return c.IncludeKeys
}
