package file

import (
	"time"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/plugins/stdin"
)

// Modes and start positions.
const (
	ModeOnce       = "once"
	ModeFollow     = "follow"
	StartBeginning = "beginning"
	StartEnd       = "end"
)

// Config is the file source's options. path, format and record_type are
// Data Prepper's names.
type Config struct {
	Path          string        `yaml:"path" required:"true" doc:"the file to read"`
	Format        string        `yaml:"format" enum:"plain,json" doc:"plain: each line becomes the field message; json: each line is decoded as a JSON object"`
	RecordType    string        `yaml:"record_type" enum:"event,string" doc:"accepted for Data Prepper compatibility; weft always produces events"`
	Mode          string        `yaml:"mode" enum:"once,follow" doc:"once: read to the end, then finish; follow: keep reading appended lines like tail -F"`
	StartAt       string        `yaml:"start_at" enum:"beginning,end" doc:"where to start in the file present at start (a file that replaces it is read from its beginning)"`
	PollInterval  time.Duration `yaml:"poll_interval" min:"1ms" doc:"follow: how often to look for appended lines, truncation and replacement"`
	TagsOnFailure []string      `yaml:"tags_on_failure" doc:"tags added to a line that is not a JSON object (format json); it is kept as message"`
	MaxLineSize   int           `yaml:"max_line_size" min:"1" max:"1073741824" doc:"longest line in bytes; longer lines are cut, tagged _truncated and counted"`
	BatchSize     int           `yaml:"batch_size" min:"1" max:"100000" doc:"most events per write into the pipeline's buffer"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		Format:        stdin.FormatPlain,
		RecordType:    "event",
		Mode:          ModeOnce,
		StartAt:       StartBeginning,
		PollInterval:  250 * time.Millisecond,
		TagsOnFailure: []string{"_jsonparsefailure"},
		MaxLineSize:   1 << 20,
		BatchSize:     100,
	}
}

// Validate checks what tags cannot.
func (c *Config) Validate() error {
	if c.Path == "" {
		return &config.FieldError{Key: "path", Msg: "must not be empty"}
	}
	for _, t := range c.TagsOnFailure {
		if t == "" {
			return &config.FieldError{Key: "tags_on_failure", Msg: "tags must not be empty"}
		}
	}
	return nil
}
