package file

import (
	"strings"
	"time"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/template"
)

// Config is the file sink's options. path and append are Data Prepper's.
type Config struct {
	Path          template.Template `yaml:"path" required:"true" doc:"file to write; may contain %{yyyy.MM.dd}-style dates (event time, UTC) and ${/field} values"`
	Append        bool              `yaml:"append" doc:"append to existing files; false truncates each file the first time it is opened"`
	MissingValue  string            `yaml:"missing_value" doc:"written in the path for a ${/field} the event lacks, holds null or holds an empty string"`
	FlushInterval time.Duration     `yaml:"flush_interval" doc:"how often files with new lines are synced to disk (fsync); 0 leaves it to the OS. Lines are always written to the OS before their events are acknowledged"`
	MaxOpenFiles  int               `yaml:"max_open_files" min:"1" max:"65536" doc:"most files kept open; the least recently used is closed beyond that"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		Append:        true,
		MissingValue:  "unknown",
		FlushInterval: time.Second,
		MaxOpenFiles:  64,
	}
}

// Validate checks what tags cannot.
func (c *Config) Validate() error {
	if c.Path.String() == "" {
		return &config.FieldError{Key: "path", Msg: "must not be empty"}
	}
	// The missing value is put in paths like a field value, so it must not
	// be able to leave the directory either.
	if m := c.MissingValue; m == "" || m == "." || m == ".." || strings.ContainsAny(m, "/\\\x00") {
		return &config.FieldError{Key: "missing_value", Msg: "must be a non-empty file name without path separators, other than . and .."}
	}
	return nil
}
