package keyvalue

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Config is the key_value processor's configuration: Data Prepper's options.
type Config struct {
	Source                       string           `yaml:"source" doc:"field holding the text: a key or JSON pointer"`
	Destination                  string           `yaml:"destination" doc:"object field that receives the pairs; null (or empty) writes them to the root of the event"`
	FieldSplitCharacters         string           `yaml:"field_split_characters" doc:"characters that separate pairs, each one a delimiter (regular expression characters must be escaped with \\)"`
	FieldDelimiterRegex          string           `yaml:"field_delimiter_regex" doc:"regular expression separating pairs, instead of field_split_characters"`
	ValueSplitCharacters         string           `yaml:"value_split_characters" doc:"characters that separate a key from its value, each one a delimiter"`
	KeyValueDelimiterRegex       string           `yaml:"key_value_delimiter_regex" doc:"regular expression separating a key from its value, instead of value_split_characters"`
	NonMatchValue                any              `yaml:"non_match_value" doc:"value given to a key that has no value-split delimiter (default null)"`
	Prefix                       string           `yaml:"prefix" doc:"prepended to every parsed key"`
	DeleteKeyRegex               string           `yaml:"delete_key_regex" doc:"regular expression whose matches are deleted from keys"`
	DeleteValueRegex             string           `yaml:"delete_value_regex" doc:"regular expression whose matches are deleted from values"`
	IncludeKeys                  []string         `yaml:"include_keys" doc:"keep only these parsed keys (as parsed, before prefix and transformations)"`
	ExcludeKeys                  []string         `yaml:"exclude_keys" doc:"drop these parsed keys"`
	DefaultValues                map[string]any   `yaml:"default_values" doc:"keys and values added when the text does not have them"`
	TransformKey                 string           `yaml:"transform_key" doc:"lowercase, uppercase or capitalize keys (none: leave them)"`
	Whitespace                   string           `yaml:"whitespace" enum:"lenient,strict" doc:"strict trims blanks after keys and before values; lenient keeps them"`
	SkipDuplicateValues          bool             `yaml:"skip_duplicate_values" doc:"a repeated key keeps each distinct value once"`
	RemoveBrackets               bool             `yaml:"remove_brackets" doc:"delete brackets [] () <> from values"`
	ValueGrouping                bool             `yaml:"value_grouping" doc:"keep values in quotes, brackets, braces or http(s):// URLs whole even when they contain delimiters"`
	StringLiteralCharacter       string           `yaml:"string_literal_character" doc:"with value_grouping: text quoted with this character (\" or ') is never parsed as pairs"`
	StrictGrouping               bool             `yaml:"strict_grouping" doc:"with value_grouping: a group without its closing character fails the event"`
	Recursive                    bool             `yaml:"recursive" doc:"parse values in brackets [] () <> as nested pairs, into nested objects"`
	DropKeysWithNoValue          bool             `yaml:"drop_keys_with_no_value" doc:"drop keys whose value is null"`
	NormalizeKeys                bool             `yaml:"normalize_keys" doc:"replace characters other than letters, digits and . - _ @ / [ ] in keys by _"`
	OverwriteIfDestinationExists bool             `yaml:"overwrite_if_destination_exists" doc:"replace an existing destination (or, in the root, existing keys)"`
	TagsOnFailure                []string         `yaml:"tags_on_failure" doc:"tags added to events whose source could not be parsed"`
	KeyValueWhen                 *expr.Expression `yaml:"key_value_when" doc:"condition; only events for which it is true are parsed"`

	// Which delimiter options were written (to reject both forms of one).
	fieldSplitGiven, valueSplitGiven bool
}

// Data Prepper's defaults.
const (
	DefaultDestination = "parsed_message"
	defaultFieldSplit  = "&"
	defaultValueSplit  = "="
)

// NewConfig returns the defaults, Data Prepper's.
func NewConfig() *Config {
	return &Config{
		Source:                       "message",
		Destination:                  DefaultDestination,
		FieldSplitCharacters:         defaultFieldSplit,
		ValueSplitCharacters:         defaultValueSplit,
		Whitespace:                   "lenient",
		OverwriteIfDestinationExists: true,
	}
}

type plainConfig Config

// DecodeNode decodes the options strictly; `destination: null`, as Data
// Prepper writes "into the root", is told apart from a missing option.
func (c *Config) DecodeNode(d *config.Decoder, n *yaml.Node, key string) error {
	before := len(d.Errs)
	d.DecodeValue(n, reflect.ValueOf((*plainConfig)(c)).Elem(), key)
	if len(d.Errs) > before || n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "destination":
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				c.Destination = ""
			}
		case "field_split_characters":
			c.fieldSplitGiven = true
		case "value_split_characters":
			c.valueSplitGiven = true
		}
	}
	if err := c.Validate(); err != nil {
		fe, ok := err.(*config.FieldError)
		at := n
		if ok {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == fe.Key {
					at = n.Content[i+1]
				}
			}
			d.Fail(at, join(key, fe.Key), "%s", fe.Msg)
		} else {
			d.Fail(at, key, "%v", err)
		}
	}
	return nil
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// Validate checks the options together, as Data Prepper does.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// compiled holds what the options compile to.
type compiled struct {
	field, value         *splitter
	groupDelims          string // value_grouping splits at these characters as they are
	deleteKey, deleteVal *regexp.Regexp
	transform            func(string) string
	include, exclude     map[string]bool
}

func (c *Config) compile() (*compiled, error) {
	fail := func(key, format string, args ...any) (*compiled, error) {
		return nil, &config.FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if c.Source == "" || event.ParsePath(c.Source).IsRoot() {
		return fail("source", "must name a field")
	}
	if strings.TrimSpace(c.Destination) != c.Destination {
		return fail("destination", "must not start or end with blanks")
	}
	out := &compiled{}
	var err error
	switch {
	case c.FieldDelimiterRegex != "" && c.fieldSplitGiven && c.FieldSplitCharacters != "":
		return fail("field_delimiter_regex", "cannot be used with field_split_characters")
	case c.FieldDelimiterRegex != "" && c.ValueGrouping:
		return fail("field_delimiter_regex", "cannot be used with value_grouping (which splits on field_split_characters)")
	case c.FieldDelimiterRegex != "":
		if out.field, err = regexSplitter(c.FieldDelimiterRegex); err != nil {
			return fail("field_delimiter_regex", "%v", err)
		}
	default:
		chars := c.FieldSplitCharacters
		if chars == "" {
			chars = defaultFieldSplit
		}
		if c.Recursive && len([]rune(chars)) != 1 {
			return fail("field_split_characters", "must be one character with recursive")
		}
		if out.field, err = charSplitter(chars); err != nil {
			return fail("field_split_characters", "%v", err)
		}
		out.groupDelims = chars
	}
	switch {
	case c.KeyValueDelimiterRegex != "" && c.valueSplitGiven && c.ValueSplitCharacters != "":
		return fail("key_value_delimiter_regex", "cannot be used with value_split_characters")
	case c.KeyValueDelimiterRegex != "":
		if out.value, err = regexSplitter(c.KeyValueDelimiterRegex); err != nil {
			return fail("key_value_delimiter_regex", "%v", err)
		}
	default:
		chars := c.ValueSplitCharacters
		if chars == "" {
			chars = defaultValueSplit
		}
		if c.Recursive && len([]rune(chars)) != 1 {
			return fail("value_split_characters", "must be one character with recursive")
		}
		if out.value, err = charSplitter(chars); err != nil {
			return fail("value_split_characters", "%v", err)
		}
	}
	if c.Recursive {
		for _, s := range []*splitter{out.field, out.value} {
			for _, b := range "[]()<>" {
				if s.isDelim(b) {
					return fail("recursive", "the delimiters cannot be brackets, which mark the levels")
				}
			}
		}
		if c.RemoveBrackets {
			return fail("remove_brackets", "cannot be used with recursive, which needs the brackets")
		}
	}
	if c.DeleteKeyRegex != "" {
		if out.deleteKey, err = regexp.Compile(c.DeleteKeyRegex); err != nil {
			return fail("delete_key_regex", "%v", err)
		}
	}
	if c.DeleteValueRegex != "" {
		if out.deleteVal, err = regexp.Compile(c.DeleteValueRegex); err != nil {
			return fail("delete_value_regex", "%v", err)
		}
	}
	switch c.TransformKey {
	case "", "none":
	case "lowercase":
		out.transform = strings.ToLower
	case "uppercase":
		out.transform = strings.ToUpper
	case "capitalize":
		out.transform = capitalize
	default:
		msg := fmt.Sprintf("%q is not one of none, lowercase, uppercase, capitalize", c.TransformKey)
		if s := config.Suggest(c.TransformKey, []string{"none", "lowercase", "uppercase", "capitalize"}); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return fail("transform_key", "%s", msg)
	}
	switch c.StringLiteralCharacter {
	case "":
	case `"`, "'":
		if !c.ValueGrouping {
			return fail("string_literal_character", "needs value_grouping: true")
		}
	default:
		return fail("string_literal_character", `must be " or '`)
	}
	out.include = set(c.IncludeKeys)
	out.exclude = set(c.ExcludeKeys)
	for _, k := range c.IncludeKeys {
		if out.exclude[k] {
			return fail("exclude_keys", "%q is also in include_keys", k)
		}
	}
	for k := range c.DefaultValues {
		if out.exclude[k] {
			return fail("exclude_keys", "%q has a default value: a default key cannot be excluded", k)
		}
		if k == "" {
			return fail("default_values", "a key cannot be empty")
		}
	}
	return out, nil
}

func set(keys []string) map[string]bool {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
