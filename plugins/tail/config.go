package tail

import (
	"path/filepath"
	"regexp"
	"time"

	"github.com/weft-agent/weft/config"
)

// Formats a line can be read as.
const (
	FormatAuto   = "auto"
	FormatCRI    = "cri"
	FormatDocker = "docker"
	FormatPlain  = "plain"
)

// Config is the tail source's options. The names follow Fluent Bit's tail
// input (paths, exclude, db, read_from_head, refresh_interval, multiline).
type Config struct {
	Paths             []string      `yaml:"paths" required:"true" doc:"glob patterns of the files to tail, e.g. /var/log/containers/*.log"`
	Exclude           []string      `yaml:"exclude" doc:"glob patterns of files not to tail (matched against the full path, and against the file name when the pattern has no /)"`
	Format            string        `yaml:"format" enum:"auto,cri,docker,plain" doc:"line format: auto detects Docker json-file, CRI (containerd, CRI-O) or plain text per line"`
	ReadFromHead      bool          `yaml:"read_from_head" doc:"read files present at start from their beginning; false: from their end (unless a checkpoint exists). Files appearing later are always read from their beginning"`
	DB                string        `yaml:"db" doc:"checkpoint file; empty: <data_dir>/tail-<pipeline>.db when the agent has a data directory, else no checkpoints"`
	Multiline         Multiline     `yaml:"multiline" doc:"join lines into one event: a line matching start_pattern begins a new event, other lines are appended"`
	MaxLineSize       int           `yaml:"max_line_size" min:"64" max:"1073741824" doc:"longest line (and longest joined message) in bytes; longer ones are cut, tagged _truncated and counted"`
	RefreshInterval   time.Duration `yaml:"refresh_interval" min:"1ms" doc:"how often the paths are globbed again for new files"`
	PollInterval      time.Duration `yaml:"poll_interval" min:"1ms" doc:"how often watched files are checked for appended data, rotation and truncation"`
	CloseRemovedAfter time.Duration `yaml:"close_removed_after" min:"0s" doc:"a file removed or rotated away is read to its end and closed once this long has passed since"`
	Kubernetes        bool          `yaml:"kubernetes" doc:"add pod, namespace, container name and ID parsed from the file name (/var/log/containers/... or /var/log/pods/...) as the field kubernetes"`
}

// Multiline holds the multiline rule.
type Multiline struct {
	StartPattern string        `yaml:"start_pattern" doc:"regular expression (RE2) a line matches when it begins a new event; empty: no multiline joining"`
	MaxLines     int           `yaml:"max_lines" min:"1" max:"100000" doc:"most lines joined into one event; the event is emitted when reached"`
	Timeout      time.Duration `yaml:"timeout" min:"1ms" doc:"an event still waiting for continuation lines is emitted once no line was added for this long"`

	re *regexp.Regexp
}

// Validate compiles the start pattern.
func (m *Multiline) Validate() error {
	if m.StartPattern == "" {
		m.re = nil
		return nil
	}
	re, err := regexp.Compile(m.StartPattern)
	if err != nil {
		return &config.FieldError{Key: "start_pattern", Msg: "invalid regular expression: " + err.Error()}
	}
	m.re = re
	return nil
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		Format:            FormatAuto,
		Multiline:         Multiline{MaxLines: 500, Timeout: time.Second},
		MaxLineSize:       1 << 20,
		RefreshInterval:   time.Second,
		PollInterval:      250 * time.Millisecond,
		CloseRemovedAfter: 5 * time.Second,
		Kubernetes:        true,
	}
}

// Validate checks what tags cannot.
func (c *Config) Validate() error {
	if len(c.Paths) == 0 {
		return &config.FieldError{Key: "paths", Msg: "must list at least one glob pattern"}
	}
	for _, p := range c.Paths {
		if p == "" {
			return &config.FieldError{Key: "paths", Msg: "patterns must not be empty"}
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return &config.FieldError{Key: "paths", Msg: "invalid glob " + p + ": " + err.Error()}
		}
	}
	for _, p := range c.Exclude {
		if _, err := filepath.Match(p, ""); p == "" || err != nil {
			return &config.FieldError{Key: "exclude", Msg: "invalid glob " + p}
		}
	}
	if c.Multiline.StartPattern != "" && c.Multiline.re == nil {
		return c.Multiline.Validate()
	}
	return nil
}
