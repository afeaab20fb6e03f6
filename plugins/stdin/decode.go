package stdin

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

// Formats a line source understands.
const (
	FormatPlain = "plain"
	FormatJSON  = "json"
)

// TruncatedTag marks an event whose line was cut at max_line_size.
const TruncatedTag = "_truncated"

// messageKey is where a plain line goes, as in Data Prepper's line sources.
const messageKey = "message"

// LineDecoder turns lines into log events. It is used by one goroutine.
type LineDecoder struct {
	json          bool
	tagsOnFailure []string
	meta          []metaKV
	log           *logrus.Entry
	truncated     prometheus.Counter
	parseFailures prometheus.Counter
	parseLog      RateLimitedLog
	truncLog      RateLimitedLog
}

type metaKV struct {
	key string
	val any
}

// NewLineDecoder returns a decoder for format (plain or json) that sets the
// given metadata (key, value pairs) on every event and counts truncated and
// unparseable lines on the component's registerer.
func NewLineDecoder(s pipelines.Settings, format string, tagsOnFailure []string, meta ...any) (*LineDecoder, error) {
	if format != FormatPlain && format != FormatJSON {
		return nil, fmt.Errorf("unknown format %q", format)
	}
	d := &LineDecoder{json: format == FormatJSON, tagsOnFailure: tagsOnFailure, log: s.Logger,
		parseLog: RateLimitedLog{Every: 10 * time.Second}, truncLog: RateLimitedLog{Every: 10 * time.Second}}
	for i := 0; i+1 < len(meta); i += 2 {
		d.meta = append(d.meta, metaKV{key: meta[i].(string), val: meta[i+1]})
	}
	var err error
	d.truncated, err = Counter(s.Telemetry.Registerer, "weft_source_lines_truncated_total",
		"Lines longer than max_line_size, cut and tagged _truncated.")
	if err != nil {
		return nil, err
	}
	d.parseFailures, err = Counter(s.Telemetry.Registerer, "weft_source_json_parse_failures_total",
		"Lines that were not a JSON object, kept as a message event tagged with tags_on_failure.")
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Decode returns the event for one line, or nil for an empty line (which
// carries nothing to keep). The line's bytes are copied.
func (d *LineDecoder) Decode(line []byte, truncated bool, now time.Time) *event.Event {
	if len(line) == 0 || d.json && isBlank(line) {
		return nil
	}
	var ev *event.Event
	if d.json {
		m, err := event.DecodeJSONObject(line)
		if err != nil {
			// Never drop a line: keep it as text and mark it, so the
			// pipeline can route or fix it.
			ev = event.New(event.KindLog, now, map[string]any{messageKey: string(line)})
			ev.AddTags(d.tagsOnFailure...)
			d.parseFailures.Inc()
			if ok, suppressed := d.parseLog.Allow(now); ok {
				d.log.WithError(err).WithFields(logrus.Fields{"line": excerpt(line), "similar_suppressed": suppressed}).
					Warn("line is not a JSON object; kept as message and tagged")
			}
		} else {
			ev = event.New(event.KindLog, now, m)
		}
	} else {
		m := make(map[string]any, 2)
		m[messageKey] = string(line)
		ev = event.New(event.KindLog, now, m)
	}
	if truncated {
		ev.AddTags(TruncatedTag)
		d.truncated.Inc()
		if ok, suppressed := d.truncLog.Allow(now); ok {
			d.log.WithFields(logrus.Fields{"line": excerpt(line), "similar_suppressed": suppressed}).
				Warn("line longer than max_line_size was truncated and tagged " + TruncatedTag)
		}
	}
	for _, kv := range d.meta {
		ev.SetMetadata(kv.key, kv.val)
	}
	return ev
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// excerpt keeps log lines short whatever the input.
func excerpt(b []byte) string {
	const n = 256
	if len(b) <= n {
		return string(b)
	}
	return string(cutUTF8(b, n)) + "…"
}

// RateLimitedLog lets one message through per Every, counting the ones it
// holds back so the next message can say how many were suppressed.
type RateLimitedLog struct {
	Every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Allow reports whether to log now, and how many calls were suppressed
// since the last one that was allowed.
func (r *RateLimitedLog) Allow(now time.Time) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.last.IsZero() && now.Sub(r.last) < r.Every {
		r.suppressed++
		return false, 0
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	return true, n
}

// Counter registers a component counter, or returns the one already
// registered under the same name and labels (a component recreated by a
// reload keeps counting on the same series).
func Counter(reg prometheus.Registerer, name, help string) (prometheus.Counter, error) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(prometheus.Counter); ok {
				return old, nil
			}
		}
		return nil, fmt.Errorf("registering %s: %w", name, err)
	}
	return c, nil
}
