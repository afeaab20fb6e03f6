package copyvalues

import (
	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the copy_values processor's configuration.
type Config struct {
	Entries                 []Entry `yaml:"entries" required:"true" doc:"the copies, applied in order to every event"`
	FromList                string  `yaml:"from_list" doc:"list of objects to copy from; entries then name keys inside each object"`
	ToList                  string  `yaml:"to_list" doc:"where to store the list of new objects (one per object of from_list)"`
	OverwriteIfToListExists bool    `yaml:"overwrite_if_to_list_exists" doc:"replace to_list when it already exists"`
}

// Entry is one copy.
type Entry struct {
	FromKey                string           `yaml:"from_key" required:"true" doc:"field to copy: a key or JSON pointer (status, /status, kubernetes/pod_name)"`
	ToKey                  string           `yaml:"to_key" required:"true" doc:"key or JSON pointer to copy the value to"`
	OverwriteIfToKeyExists bool             `yaml:"overwrite_if_to_key_exists" doc:"copy even when to_key exists, replacing its value"`
	CopyWhen               *expr.Expression `yaml:"copy_when" doc:"condition; the copy applies only to events for which it is true"`
}

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{} }

// Validate checks that the list options come as a pair.
func (c *Config) Validate() error {
	switch {
	case c.Entries != nil && len(c.Entries) == 0:
		return &config.FieldError{Key: "entries", Msg: "must list at least one entry"}
	case c.FromList != "" && c.ToList == "":
		return &config.FieldError{Key: "to_list", Msg: "required with from_list"}
	case c.ToList != "" && c.FromList == "":
		return &config.FieldError{Key: "from_list", Msg: "required with to_list"}
	case c.OverwriteIfToListExists && c.ToList == "":
		return &config.FieldError{Key: "overwrite_if_to_list_exists", Msg: "only applies with from_list and to_list"}
	case c.FromList != "" && event.ParsePath(c.FromList).IsRoot():
		return &config.FieldError{Key: "from_list", Msg: "must name a field, not the whole event"}
	case c.ToList != "" && event.ParsePath(c.ToList).IsRoot():
		return &config.FieldError{Key: "to_list", Msg: "must name a field, not the whole event"}
	}
	return nil
}

// Validate requires real fields on both ends.
func (e *Entry) Validate() error {
	if e.FromKey != "" && event.ParsePath(e.FromKey).IsRoot() {
		return &config.FieldError{Key: "from_key", Msg: "must name a field, not the whole event"}
	}
	if e.ToKey != "" && event.ParsePath(e.ToKey).IsRoot() {
		return &config.FieldError{Key: "to_key", Msg: "must name a field, not the whole event"}
	}
	return nil
}
