package agent

import (
	"fmt"
	"io"
	"time"

	"github.com/sirupsen/logrus"
)

// NewLogger returns the agent's logger: JSON lines by default, or text.
func NewLogger(w io.Writer, level, format string) (*logrus.Logger, error) {
	log := logrus.New()
	log.SetOutput(w)
	if err := ConfigureLogger(log, level, format); err != nil {
		return nil, err
	}
	return log, nil
}

// ConfigureLogger applies a level and format to log.
func ConfigureLogger(log *logrus.Logger, level, format string) error {
	if level != "" {
		lv, err := logrus.ParseLevel(level)
		if err != nil {
			return fmt.Errorf("log level: %w", err)
		}
		log.SetLevel(lv)
	}
	switch format {
	case "", "json":
		log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	case "text":
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339Nano})
	default:
		return fmt.Errorf("log format %q: expected json or text", format)
	}
	return nil
}
