package addentries

import (
	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the add_entries processor's configuration.
type Config struct {
	Entries []Entry `yaml:"entries" required:"true" doc:"the entries to add, applied in order to every event"`
}

// Entry is one field or metadata attribute to add.
type Entry struct {
	Key                  string           `yaml:"key" doc:"field to set: a key or JSON pointer (status, /status, kubernetes/pod_name); may contain ${/pointer} references resolved per event"`
	MetadataKey          string           `yaml:"metadata_key" doc:"metadata attribute to set instead of a field (a literal name, not a pointer)"`
	Value                any              `yaml:"value" doc:"literal value: string, number, boolean, list or object"`
	Format               string           `yaml:"format" doc:"string template; each ${/pointer} is replaced by that field's value (\"${/a}-${/b}\")"`
	ValueExpression      *expr.Expression `yaml:"value_expression" doc:"expression whose result is the value (/other_key, length(/message))"`
	AddWhen              *expr.Expression `yaml:"add_when" doc:"condition; the entry is added only to events for which it is true"`
	OverwriteIfKeyExists bool             `yaml:"overwrite_if_key_exists" doc:"replace the value when the key already exists"`
	AppendIfKeyExists    bool             `yaml:"append_if_key_exists" doc:"when the key already exists, append the value to it, making a list if it is not one"`
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

// Validate checks the rules Data Prepper enforces on an entry: one target,
// one value source, and not both overwrite and append.
func (e *Entry) Validate() error {
	switch {
	case e.Key != "" && e.MetadataKey != "":
		return &config.FieldError{Key: "metadata_key", Msg: "give key or metadata_key, not both"}
	case e.Key == "" && e.MetadataKey == "":
		return &config.FieldError{Key: "key", Msg: "one of key or metadata_key is required"}
	}
	if e.Key != "" {
		if _, err := parseTemplate(e.Key); err != nil {
			return &config.FieldError{Key: "key", Msg: err.Error()}
		}
		if event.ParsePath(e.Key).IsRoot() {
			return &config.FieldError{Key: "key", Msg: "must name a field, not the whole event"}
		}
	}
	given := make([]string, 0, 3)
	if e.Value != nil {
		given = append(given, "value")
	}
	if e.Format != "" {
		given = append(given, "format")
	}
	if e.ValueExpression != nil {
		given = append(given, "value_expression")
	}
	switch len(given) {
	case 0:
		return &config.FieldError{Key: "value", Msg: "one of value, format or value_expression is required"}
	case 1:
	default:
		return &config.FieldError{Key: given[1], Msg: "give only one of value, format or value_expression (" + given[0] + " is set too)"}
	}
	if e.Format != "" {
		if _, err := parseTemplate(e.Format); err != nil {
			return &config.FieldError{Key: "format", Msg: err.Error()}
		}
	}
	if e.OverwriteIfKeyExists && e.AppendIfKeyExists {
		return &config.FieldError{Key: "append_if_key_exists", Msg: "cannot be combined with overwrite_if_key_exists"}
	}
	return nil
}
