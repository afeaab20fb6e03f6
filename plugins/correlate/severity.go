package correlate

import "strings"

// Log severities are kept as OpenTelemetry severity numbers (1–24); the
// name written to spans is that of the number's range.
var severityNames = [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

func severityName(n uint8) string {
	if n < 1 || n > 24 {
		return ""
	}
	return severityNames[(n-1)/4]
}

// severityKeys are the fields a log's severity is read from, in order.
var severityKeys = [...]string{"level", "severity", "severityText", "severityNumber"}

// logSeverity returns the severity number of a log (0 when unknown): a
// name such as "error" or "Warning" in level, severity or severityText, or
// an OTLP severityNumber.
func logSeverity(f map[string]any) uint8 {
	for _, k := range severityKeys {
		switch v := f[k].(type) {
		case string:
			if n := severityFromText(v); n > 0 {
				return n
			}
		case int64:
			if v >= 1 && v <= 24 {
				return uint8(v)
			}
		case float64:
			if v >= 1 && v <= 24 {
				return uint8(v)
			}
		}
	}
	return 0
}

func severityFromText(s string) uint8 {
	if len(s) == 0 || len(s) > 11 {
		return 0
	}
	switch strings.ToLower(s) {
	case "trace", "finest", "finer":
		return 1
	case "debug", "fine", "config":
		return 5
	case "info", "information", "informational", "notice":
		return 9
	case "warn", "warning":
		return 13
	case "error", "err", "severe":
		return 17
	case "fatal", "critical", "crit", "panic", "alert", "emerg", "emergency":
		return 21
	}
	return 0
}
