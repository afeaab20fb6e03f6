package cloudwatch

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weft-agent/weft/pipelines/event"
)

// item is one log event on its way: the message CloudWatch Logs receives,
// its timestamp in milliseconds, and the weft event it finalizes.
type item struct {
	ev  *event.Event
	msg string
	ts  int64
}

// size is the item's size in CloudWatch Logs' accounting.
func (it item) size() int { return len(it.msg) + EventOverhead }

// keySep separates the log group and stream in a batch key (neither name
// can hold a NUL).
const keySep = "\x00"

func splitKey(key string) (group, stream string) {
	i := strings.Index(key, keySep)
	if i < 0 {
		return key, ""
	}
	return key[:i], key[i+1:]
}

// appendMessage appends the event's message: the event as JSON, or the
// configured field as text (strings as they are, other values as JSON; an
// event without the field is sent as JSON).
func (s *Sink) appendMessage(dst []byte, ev *event.Event) []byte {
	if s.cfg.Message == MessageJSON {
		return ev.AppendJSON(dst)
	}
	v, ok := ev.Get(s.cfg.messagePath)
	if !ok || v == nil {
		return ev.AppendJSON(dst)
	}
	if str, ok := v.(string); ok {
		return append(dst, str...)
	}
	return event.AppendJSON(dst, v)
}

// timestamp returns the event's CloudWatch timestamp in milliseconds: the
// timestamp_field when set and readable, else the event's time, else now.
func (s *Sink) timestamp(ev *event.Event, now time.Time) int64 {
	if len(s.cfg.timestampPath.Segments()) > 0 {
		if v, ok := ev.Get(s.cfg.timestampPath); ok {
			if ms, ok := parseTimestamp(v); ok {
				return ms
			}
		}
	}
	if ev.Time.IsZero() {
		return now.UnixMilli()
	}
	return ev.Time.UnixMilli()
}

// parseTimestamp reads RFC 3339 text (with or without fractions, 'T' or a
// space between date and time, no zone meaning UTC) or a number: epoch
// seconds (Fluent Bit's `date`, fractions allowed) below 10^11, epoch
// milliseconds from there on (10^11 s is the year 5138, 10^11 ms 1973).
func parseTimestamp(v any) (int64, bool) {
	switch x := v.(type) {
	case string:
		x = strings.TrimSpace(x)
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UnixMilli(), true
			}
		}
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return numberTimestamp(f)
		}
	case int64:
		return numberTimestamp(float64(x))
	case int:
		return numberTimestamp(float64(x))
	case float64:
		return numberTimestamp(x)
	case time.Time:
		return x.UnixMilli(), true
	}
	return 0, false
}

// secondsBelow separates epoch seconds from epoch milliseconds.
const secondsBelow = 1e11

func numberTimestamp(f float64) (int64, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e15 {
		return 0, false
	}
	if f < secondsBelow {
		return int64(math.Round(f * 1000)), true
	}
	return int64(f), true
}

// validUTF8 returns b[start:] as valid UTF-8 (CloudWatch Logs requires it
// and measures messages in UTF-8), replacing invalid bytes with U+FFFD.
func validUTF8(b []byte, start int) []byte {
	if utf8.Valid(b[start:]) {
		return b
	}
	fixed := strings.ToValidUTF8(string(b[start:]), "\uFFFD")
	return append(b[:start], fixed...)
}

// truncateUTF8 returns the longest prefix of s of at most n bytes that ends
// at a UTF-8 character boundary (s is valid UTF-8).
func truncateUTF8(s []byte, n int) []byte {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return s[:0]
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
