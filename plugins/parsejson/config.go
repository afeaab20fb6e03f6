package parsejson

import (
	"strings"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the parse_json processor's configuration.
type Config struct {
	Source                       string           `yaml:"source" doc:"field holding the JSON text: a key or JSON pointer"`
	Destination                  string           `yaml:"destination" doc:"field to store the parsed value in; empty merges the parsed object into the root of the event"`
	Pointer                      string           `yaml:"pointer" doc:"JSON pointer into the parsed JSON: keep only that value, under its last key (the whole JSON when the pointer matches nothing)"`
	Depth                        int              `yaml:"depth" min:"0" max:"10" doc:"levels of nested objects parsed into structure; objects deeper than this stay JSON strings (0: all levels)"`
	ParseWhen                    *expr.Expression `yaml:"parse_when" doc:"condition; only events for which it is true are parsed"`
	TagsOnFailure                []string         `yaml:"tags_on_failure" doc:"tags added to events whose source is not valid JSON (or not a JSON object when merging into the root)"`
	OverwriteIfDestinationExists bool             `yaml:"overwrite_if_destination_exists" doc:"replace existing fields (destination, or the root keys the JSON brings)"`
	DeleteSource                 bool             `yaml:"delete_source" doc:"delete the source field after a successful parse"`
	HandleFailedEvents           string           `yaml:"handle_failed_events" enum:"skip,skip_silently" doc:"failed events always continue; skip logs a warning (at most one line per 10s with a count), skip_silently does not"`
}

// NewConfig returns the defaults, those of Data Prepper.
func NewConfig() *Config {
	return &Config{
		Source:                       "message",
		OverwriteIfDestinationExists: true,
		HandleFailedEvents:           "skip",
	}
}

// Validate rejects sources and destinations that are not fields.
func (c *Config) Validate() error {
	if c.Source == "" || event.ParsePath(c.Source).IsRoot() {
		return &config.FieldError{Key: "source", Msg: "must name a field"}
	}
	if c.Destination != "" {
		if d := strings.TrimSpace(c.Destination); d == "" || d == "/" {
			return &config.FieldError{Key: "destination", Msg: "cannot be whitespace or / (leave it out to merge into the root)"}
		}
	}
	if c.Pointer != "" && strings.Trim(c.Pointer, "/") == "" {
		return &config.FieldError{Key: "pointer", Msg: "must point below the root of the JSON"}
	}
	return nil
}
