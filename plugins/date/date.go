// Package date implements the date processor, compatible with OpenSearch
// Data Prepper's: it parses a timestamp field with java.time patterns (or
// epoch numbers), writes it to a destination field in an output format, and
// makes it the event's time.
package date

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zone names resolve without the host's zoneinfo (distroless images)

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

func init() {
	pipelines.RegisterProcessor("date",
		"parses a timestamp field with java.time patterns or epoch numbers into @timestamp and the event time",
		NewConfig, New)
}

// DefaultOutputFormat is Data Prepper's output format (ISO 8601).
const DefaultOutputFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"

// MetaOriginationTime is the metadata attribute to_origination_metadata sets.
const MetaOriginationTime = "external_origination_time"

// Config is the date processor's configuration: Data Prepper's options
// plus set_event_time and tags_on_match_failure.
type Config struct {
	Match                 []Match          `yaml:"match" doc:"the field to parse and its patterns, tried in order (not with from_time_received)"`
	FromTimeReceived      bool             `yaml:"from_time_received" doc:"write the time the event was received instead of parsing a field (not with match)"`
	ToOriginationMetadata bool             `yaml:"to_origination_metadata" alias:"origination_timestamp_to_metadata" doc:"also store the parsed time in the event metadata (external_origination_time)"`
	Destination           string           `yaml:"destination" doc:"field that receives the formatted time"`
	SourceTimezone        string           `yaml:"source_timezone" doc:"zone of times without an offset or zone (default: the system's)"`
	DestinationTimezone   string           `yaml:"destination_timezone" doc:"zone the output is written in (default: the system's)"`
	Locale                string           `yaml:"locale" doc:"language of month and day names; English only (ROOT, en, en-US …)"`
	OutputFormat          string           `yaml:"output_format" doc:"java.time pattern of the output, or epoch_second, epoch_milli, epoch_micro, epoch_nano"`
	DateWhen              *expr.Expression `yaml:"date_when" doc:"condition; only events for which it is true are processed"`
	TagsOnMatchFailure    []string         `yaml:"tags_on_match_failure" doc:"tags added to events whose field is present but matches no pattern"`
	SetEventTime          bool             `yaml:"set_event_time" doc:"make the parsed time the event's own time (weft's option)"`
}

// Match names the field to parse and its patterns.
type Match struct {
	Key      string   `yaml:"key" required:"true" doc:"field holding the timestamp: a key or JSON pointer"`
	Patterns []string `yaml:"patterns" required:"true" doc:"java.time DateTimeFormatter patterns, or epoch_second, epoch_milli, epoch_micro, epoch_nano"`
}

// NewConfig returns the defaults, Data Prepper's.
func NewConfig() *Config {
	return &Config{Destination: "@timestamp", OutputFormat: DefaultOutputFormat, SetEventTime: true}
}

var epochNames = map[string]int{"epoch_second": 0, "epoch_milli": 3, "epoch_micro": 6, "epoch_nano": 9}

// source is one match entry compiled.
type source struct {
	path     event.Path
	layouts  []*Layout
	epoch    [10]bool // by digits of precision: 0 s, 3 ms, 6 µs, 9 ns
	anyEpoch bool
}

type compiled struct {
	sources   []source
	srcLoc    *time.Location
	dstLoc    *time.Location
	dstZoneID string
	out       *Layout
	outEpoch  int // -1: not epoch
	dest      event.Path
}

// Validate checks the options together, as Data Prepper does.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

func (c *Config) compile() (*compiled, error) {
	fail := func(key, format string, args ...any) (*compiled, error) {
		return nil, &config.FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if c.FromTimeReceived == (len(c.Match) > 0) {
		return fail("match", "give either match or from_time_received: true")
	}
	if strings.Trim(c.Destination, "/") == "" {
		return fail("destination", "must name a field")
	}
	out := &compiled{dest: event.ParsePath(c.Destination), outEpoch: -1}
	var err error
	if out.srcLoc, _, err = zone(c.SourceTimezone); err != nil {
		return fail("source_timezone", "%v", err)
	}
	if out.dstLoc, out.dstZoneID, err = zone(c.DestinationTimezone); err != nil {
		return fail("destination_timezone", "%v", err)
	}
	if l := strings.ToLower(c.Locale); l != "" && l != "root" && l != "en" && !strings.HasPrefix(l, "en-") && !strings.HasPrefix(l, "en_") {
		return fail("locale", "%q: only English month and day names are supported (ROOT, en, en-US, en_GB …)", c.Locale)
	}
	if p, ok := epochNames[c.OutputFormat]; ok {
		out.outEpoch = p
	} else if out.out, err = Compile(c.OutputFormat); err != nil {
		return fail("output_format", "%v", err)
	}
	for i, m := range c.Match {
		key := fmt.Sprintf("match[%d]", i)
		if strings.Trim(m.Key, "/") == "" {
			return fail(key+".key", "must name a field")
		}
		if len(m.Patterns) == 0 {
			return fail(key+".patterns", "needs at least one pattern")
		}
		src := source{path: event.ParsePath(m.Key)}
		for j, p := range m.Patterns {
			if prec, ok := epochNames[p]; ok {
				src.epoch[prec], src.anyEpoch = true, true
				continue
			}
			if strings.HasPrefix(p, "epoch_") {
				return fail(fmt.Sprintf("%s.patterns[%d]", key, j), "%q: use epoch_second, epoch_milli, epoch_micro or epoch_nano", p)
			}
			l, err := Compile(p)
			if err != nil {
				return fail(fmt.Sprintf("%s.patterns[%d]", key, j), "%v", err)
			}
			src.layouts = append(src.layouts, l)
		}
		out.sources = append(out.sources, src)
	}
	return out, nil
}

// zone resolves a time zone option; "" is the system's zone.
func zone(name string) (*time.Location, string, error) {
	if name == "" {
		id := "Local"
		if tz := time.Local.String(); tz != "Local" {
			id = tz
		}
		return time.Local, id, nil
	}
	l, err := LoadZone(name)
	return l, name, err
}

type processor struct {
	*compiled
	fromReceived bool
	toMeta       bool
	setTime      bool
	tags         []string
	when         *expr.Expression
	now          func() time.Time
	results      *prometheus.CounterVec
}

// New creates a date processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	comp, err := c.compile()
	if err != nil {
		return nil, err
	}
	p := &processor{
		compiled:     comp,
		fromReceived: c.FromTimeReceived,
		toMeta:       c.ToOriginationMetadata,
		setTime:      c.SetEventTime,
		tags:         c.TagsOnMatchFailure,
		when:         c.DateWhen,
		now:          time.Now,
	}
	if s.Telemetry != nil && s.Telemetry.Registerer != nil {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_date_events_total",
			Help: "Events the date processor examined, by result: parsed, failed (no pattern matched), missing (no field)."}, []string{"result"})
		cv, err := pipelines.RegisterMetric(s.Telemetry.Registerer, cv)
		if err != nil {
			return nil, err
		}
		p.results = cv
	}
	return p, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64); return &b }}

// Process dates every event the condition selects. Events never leave
// here: one whose field matches no pattern gets tags_on_match_failure.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	var counts [3]int // parsed, failed, missing
	var now time.Time
	for _, ev := range events {
		if p.when != nil && !p.when.Bool(ev) {
			continue
		}
		if p.fromReceived {
			t := ev.Time
			if t.IsZero() {
				if now.IsZero() {
					now = p.now()
				}
				t = now
			}
			p.write(ev, t)
			continue
		}
		if now.IsZero() {
			now = p.now()
		}
		t, found, ok := p.parse(ev, now)
		switch {
		case ok:
			counts[0]++
			p.write(ev, t)
			if p.setTime {
				ev.Time = t
			}
			if p.toMeta {
				ev.SetMetadata(MetaOriginationTime, t)
			}
		case found:
			counts[1]++
			ev.AddTags(p.tags...)
		default:
			counts[2]++
		}
	}
	if p.results != nil {
		for i, name := range [3]string{"parsed", "failed", "missing"} {
			if counts[i] > 0 {
				p.results.WithLabelValues(name).Add(float64(counts[i]))
			}
		}
	}
	return events
}

// parse tries the match entries in order; found reports whether any of
// their fields was there.
func (p *processor) parse(ev *event.Event, now time.Time) (t time.Time, found, ok bool) {
	for i := range p.sources {
		src := &p.sources[i]
		raw, present := ev.Get(src.path)
		if !present || raw == nil {
			continue
		}
		found = true
		var s string
		switch v := raw.(type) {
		case string:
			s = v
		case int64:
			s = strconv.FormatInt(v, 10)
		case float64:
			if v != float64(int64(v)) {
				continue
			}
			s = strconv.FormatInt(int64(v), 10)
		default:
			continue
		}
		if src.anyEpoch {
			if t, ok := src.parseEpoch(s); ok {
				return t, true, true
			}
		}
		for _, l := range src.layouts {
			if t, err := l.Parse(s, p.srcLoc, now); err == nil {
				return t, true, true
			}
		}
	}
	return time.Time{}, found, false
}

// parseEpoch reads an integer number of seconds, or of milli-, micro- or
// nanoseconds, told apart by its number of digits as Data Prepper does: up
// to 10 digits are seconds, 11 to 13 milliseconds, more are micro- or
// nanoseconds; the unit must be among the configured patterns (seconds
// are always accepted once any epoch pattern is).
func (src *source) parseEpoch(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	digits := len(strings.TrimLeft(s, "+-"))
	switch {
	case digits <= 10:
		return time.Unix(n, 0), true
	case digits <= 13:
		if src.epoch[3] {
			return time.UnixMilli(n), true
		}
	case digits <= 16 && src.epoch[6]:
		return time.UnixMicro(n), true
	default:
		if src.epoch[9] {
			return time.Unix(0, n), true
		}
	}
	return time.Time{}, false
}

func (p *processor) write(ev *event.Event, t time.Time) {
	t = t.In(p.dstLoc)
	var s string
	if p.outEpoch >= 0 {
		switch p.outEpoch {
		case 0:
			s = strconv.FormatInt(t.Unix(), 10)
		case 3:
			s = strconv.FormatInt(t.UnixMilli(), 10)
		case 6:
			s = strconv.FormatInt(t.UnixMicro(), 10)
		default:
			s = strconv.FormatInt(t.UnixNano(), 10)
		}
	} else {
		bp := bufPool.Get().(*[]byte)
		b := p.out.AppendFormat((*bp)[:0], t, p.dstZoneID)
		s = string(b)
		*bp = b
		bufPool.Put(bp)
	}
	ev.Put(p.dest, s)
}
