package stdin

import (
	"time"

	"github.com/weft-agent/weft/config"
)

// Config is the stdin source's options.
type Config struct {
	Format        string        `yaml:"format" enum:"plain,json" doc:"plain: each line becomes the field message; json: each line is decoded as a JSON object"`
	TagsOnFailure []string      `yaml:"tags_on_failure" doc:"tags added to a line that is not a JSON object (format json); it is kept as message"`
	MaxLineSize   int           `yaml:"max_line_size" min:"1" max:"1073741824" doc:"longest line in bytes; longer lines are cut, tagged _truncated and counted"`
	BatchSize     int           `yaml:"batch_size" min:"1" max:"100000" doc:"most events per write into the pipeline's buffer"`
	FlushInterval time.Duration `yaml:"flush_interval" min:"1ms" doc:"longest time read events wait for a batch to fill before they are written"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		Format:        FormatPlain,
		TagsOnFailure: []string{"_jsonparsefailure"},
		MaxLineSize:   1 << 20,
		BatchSize:     100,
		FlushInterval: 200 * time.Millisecond,
	}
}

// Validate checks what tags cannot.
func (c *Config) Validate() error {
	for _, t := range c.TagsOnFailure {
		if t == "" {
			return &config.FieldError{Key: "tags_on_failure", Msg: "tags must not be empty"}
		}
	}
	return nil
}
