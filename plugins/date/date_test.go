package date

import (
	"context"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// now is the clock of these tests: 2026-02-01 12:00 UTC.
var now = time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)

func newProcessor(t testing.TB, opts string) *processor {
	t.Helper()
	p, _, err := pipelinestest.Processor("date", opts)
	if err != nil {
		t.Fatalf("config %q: %v", opts, err)
	}
	pp := p.(*processor)
	pp.now = func() time.Time { return now }
	return pp
}

func run(p pipelines.Processor, fields map[string]any) *event.Event {
	ev := event.New(event.KindLog, time.Time{}, fields)
	p.Process(context.Background(), []*event.Event{ev})
	return ev
}

// utc builds a processor matching key "t" with one pattern, UTC in and out.
func utc(t *testing.T, pattern string) *processor {
	return newProcessor(t, `{source_timezone: UTC, destination_timezone: UTC, match: [{key: t, patterns: ['`+strings.ReplaceAll(pattern, "'", "''")+`']}]}`)
}

// Each supported pattern letter, parsed into the default ISO 8601 output.
func TestPatternLetters(t *testing.T) {
	tests := []struct {
		pattern, in, want string // want "" = no match
	}{
		// Data Prepper's documented examples.
		{"dd/MMM/yyyy:HH:mm:ss Z", "10/Oct/2000:13:55:36 -0700", "2000-10-10T20:55:36.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-05-14T09:21:07.123+02:00", "2024-05-14T07:21:07.123Z"},
		// years
		{"yyyy-MM-dd", "2024-05-14", "2024-05-14T00:00:00.000Z"},
		{"uuuu-MM-dd", "2024-05-14", "2024-05-14T00:00:00.000Z"},
		{"dd.MM.yy", "01.02.24", "2024-02-01T00:00:00.000Z"},
		{"dd.MM.yy", "01.02.99", "2099-02-01T00:00:00.000Z"},
		{"y-M-d", "2024-5-7", "2024-05-07T00:00:00.000Z"},
		{"yyyy-MM-dd", "24-05-14", ""},
		{"yyyy G", "2025 AD", "2025-02-01T00:00:00.000Z"},
		// months
		{"d MMM yyyy", "3 Nov 2025", "2025-11-03T00:00:00.000Z"},
		{"d MMM yyyy", "3 NOV 2025", "2025-11-03T00:00:00.000Z"},
		{"MMMM d, yyyy", "November 23, 2025", "2025-11-23T00:00:00.000Z"},
		{"d LLL yyyy", "3 Sep 2025", "2025-09-03T00:00:00.000Z"},
		{"MM/dd/yyyy", "13/01/2025", ""},
		{"MM/dd/yyyy", "1/01/2025", ""},
		{"M/d/yyyy", "1/2/2025", "2025-01-02T00:00:00.000Z"},
		// days
		{"yyyy-MM-d", "2025-11-23", "2025-11-23T00:00:00.000Z"},
		{"yyyy-DDD", "2025-327", "2025-11-23T00:00:00.000Z"},
		{"yyyy-D", "2024-366", "2024-12-31T00:00:00.000Z"},
		{"yyyy-D", "2025-366", ""},
		{"yyyy-MM-dd", "2024-02-30", "2024-02-29T00:00:00.000Z"}, // java.time SMART: moved back to the month's last day
		{"yyyy-MM-dd", "2024-02-32", ""},
		{"EEE, dd MMM yyyy HH:mm:ss z", "Sun, 23 Nov 2025 08:00:01 GMT", "2025-11-23T08:00:01.000Z"},
		{"EEE, dd MMM yyyy HH:mm:ss z", "Mon, 23 Nov 2025 08:00:01 GMT", ""}, // wrong day of week
		{"EEEE, MMMM d, yyyy", "Sunday, November 23, 2025", "2025-11-23T00:00:00.000Z"},
		// hours
		{"yyyy-MM-dd H:mm", "2025-11-23 9:05", "2025-11-23T09:05:00.000Z"},
		{"yyyy-MM-dd HH:mm", "2025-11-23 24:00", "2025-11-24T00:00:00.000Z"},
		{"yyyy-MM-dd HH:mm", "2025-11-23 24:01", ""},
		{"yyyy-MM-dd HH:mm", "2025-11-23 25:00", ""},
		{"yyyy-MM-dd hh:mm a", "2025-11-23 01:30 PM", "2025-11-23T13:30:00.000Z"},
		{"yyyy-MM-dd hh:mm a", "2025-11-23 12:30 AM", "2025-11-23T00:30:00.000Z"},
		{"yyyy-MM-dd hh:mm a", "2025-11-23 12:30 pm", "2025-11-23T12:30:00.000Z"},
		{"yyyy-MM-dd h:mm", "2025-11-23 7:30", "2025-11-23T07:30:00.000Z"},
		{"yyyy-MM-dd K:mm a", "2025-11-23 0:30 PM", "2025-11-23T12:30:00.000Z"},
		{"yyyy-MM-dd k:mm", "2025-11-23 24:30", "2025-11-23T00:30:00.000Z"},
		{"yyyy-MM-dd HH:mm:ss", "2025-11-23 08:00:60", ""},
		// fractions
		{"yyyy-MM-dd HH:mm:ss.S", "2025-11-23 08:00:01.5", "2025-11-23T08:00:01.500Z"},
		{"yyyy-MM-dd HH:mm:ss.SS", "2025-11-23 08:00:01.05", "2025-11-23T08:00:01.050Z"},
		{"yyyy-MM-dd HH:mm:ss.SSS", "2025-11-23 08:00:01.123", "2025-11-23T08:00:01.123Z"},
		{"yyyy-MM-dd HH:mm:ss.SSS", "2025-11-23 08:00:01.1234", ""},
		{"yyyy-MM-dd HH:mm:ss.SSSSSS", "2025-11-23 08:00:01.123456", "2025-11-23T08:00:01.123Z"},
		{"yyyy-MM-dd HH:mm:ss.SSSSSSSSS", "2025-11-23 08:00:01.123456789", "2025-11-23T08:00:01.123Z"},
		{"yyyy-MM-dd HH:mm:ss.n", "2025-11-23 08:00:01.123000000", "2025-11-23T08:00:01.123Z"},
		// offsets and zones
		{"yyyy-MM-dd'T'HH:mm:ssX", "2025-11-23T08:00:01Z", "2025-11-23T08:00:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ssX", "2025-11-23T08:00:01+05", "2025-11-23T03:00:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ssX", "2025-11-23T08:00:01+0530", "2025-11-23T02:30:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ssXX", "2025-11-23T08:00:01-0800", "2025-11-23T16:00:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ssXXX", "2025-11-23T08:00:01-08:00", "2025-11-23T16:00:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ssXXX", "2025-11-23T08:00:01-0800", ""},
		{"yyyy-MM-dd'T'HH:mm:ssxxx", "2025-11-23T08:00:01+00:00", "2025-11-23T08:00:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ssZ", "2025-11-23T08:00:01+0100", "2025-11-23T07:00:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ssZ", "2025-11-23T08:00:01Z", "2025-11-23T08:00:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ssZZZZZ", "2025-11-23T08:00:01+01:00", "2025-11-23T07:00:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ss O", "2025-11-23T08:00:01 GMT+1", "2025-11-23T07:00:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ss ZZZZ", "2025-11-23T08:00:01 GMT-03:30", "2025-11-23T11:30:01.000Z"},
		{"yyyy-MM-dd HH:mm:ss z", "2025-11-23 08:00:01 PST", "2025-11-23T16:00:01.000Z"},
		{"yyyy-MM-dd HH:mm:ss z", "2025-07-01 08:00:01 CEST", "2025-07-01T06:00:01.000Z"},
		{"yyyy-MM-dd HH:mm:ss z", "2025-07-01 08:00:01 America/New_York", "2025-07-01T12:00:01.000Z"},
		{"yyyy-MM-dd HH:mm:ss z", "2025-07-01 08:00:01 Nowhere", ""},
		{"yyyy-MM-dd'T'HH:mm:ss VV", "2025-07-01T12:00:00 Europe/Berlin", "2025-07-01T10:00:00.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ss VV", "2025-01-01T12:00:00 Europe/Berlin", "2025-01-01T11:00:00.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ss VV", "2025-01-01T12:00:00 +05:30", "2025-01-01T06:30:00.000Z"},
		// literals, quotes, optional sections, adjacent fields
		{"yyyy-MM-dd'T'HH:mm:ss''", "2025-11-23T08:00:01'", "2025-11-23T08:00:01.000Z"},
		{"'at' HH:mm 'on' yyyy-MM-dd", "at 08:00 on 2025-11-23", "2025-11-23T08:00:00.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ss[.SSSSSSSSS][.SSSSSS][.SSS]XXX", "2025-11-23T08:00:01Z", "2025-11-23T08:00:01.000Z"},
		{"yyyy-MM-dd'T'HH:mm:ss[.SSSSSSSSS][.SSSSSS][.SSS]XXX", "2025-11-23T08:00:01.5Z", ""},
		{"yyyy-MM-dd'T'HH:mm:ss[.SSSSSSSSS][.SSSSSS][.SSS]XXX", "2025-11-23T08:00:01.123456+01:00", "2025-11-23T07:00:01.123Z"},
		{"yyyy-MM-dd['T'][ ]HH:mm:ss", "2025-11-23 08:00:01", "2025-11-23T08:00:01.000Z"},
		{"yyyyMMddHHmmss", "20251123080001", "2025-11-23T08:00:01.000Z"},
		{"yyyyMMdd'T'HHmmss.SSSZ", "20251123T080001.250+0000", "2025-11-23T08:00:01.250Z"},
		// missing fields come from now (2026-02-01), as in Data Prepper
		{"MMM d HH:mm:ss", "Nov 3 08:00:01", "2026-11-03T08:00:01.000Z"},
		{"HH:mm", "08:30", "2026-02-01T08:30:00.000Z"},
		{"MMM d HH:mm:ss", "Nov  3 08:00:01", ""}, // Java does not skip the second blank
		{"MMM  d HH:mm:ss", "Nov  3 08:00:01", "2026-11-03T08:00:01.000Z"},
		// the whole text must match
		{"yyyy-MM-dd", "2025-11-23 extra", ""},
		{"yyyy-MM-dd", "", ""},
	}
	for _, tc := range tests {
		ev := run(utc(t, tc.pattern), map[string]any{"t": tc.in})
		got, _ := ev.Fields()["@timestamp"].(string)
		if got != tc.want {
			t.Errorf("%q on %q: got %q, want %q", tc.pattern, tc.in, got, tc.want)
			continue
		}
		if tc.want != "" {
			if want, _ := time.Parse(time.RFC3339Nano, tc.want); !ev.Time.Truncate(time.Millisecond).Equal(want) {
				t.Errorf("%q on %q: event time %v", tc.pattern, tc.in, ev.Time)
			}
		}
	}
}

func TestOutputFormats(t *testing.T) {
	in := "2025-11-23T08:00:01.123456789Z"
	tests := []struct{ format, zone, want string }{
		{DefaultOutputFormat, "UTC", "2025-11-23T08:00:01.123Z"},
		{DefaultOutputFormat, "Asia/Kolkata", "2025-11-23T13:30:01.123+05:30"},
		{DefaultOutputFormat, "America/Los_Angeles", "2025-11-23T00:00:01.123-08:00"},
		{"dd/MMM/yyyy:HH:mm:ss Z", "America/New_York", "23/Nov/2025:03:00:01 -0500"},
		{"EEEE, MMMM d, yyyy h:mm a", "UTC", "Sunday, November 23, 2025 8:00 AM"},
		{"EEE MMMMM yy D", "UTC", "Sun N 25 327"},
		{"yyyy-MM-dd HH:mm:ss.SSSSSSSSS", "UTC", "2025-11-23 08:00:01.123456789"},
		{"yyyy-MM-dd HH:mm:ss.SSSSSS", "UTC", "2025-11-23 08:00:01.123456"},
		{"yyyy-MM-dd HH:mm:ss.S n", "UTC", "2025-11-23 08:00:01.1 123456789"},
		{"HH:mm X|XX|XXX|XXXX|XXXXX|x|xx|xxx|Z|ZZZZ|ZZZZZ|O|OOOO", "UTC", "08:00 Z|Z|Z|Z|Z|+00|+0000|+00:00|+0000|GMT|Z|GMT|GMT"},
		{"HH:mm X|XX|XXX|x|xxx|Z|ZZZZ|ZZZZZ|O|OOOO", "Asia/Kolkata", "13:30 +0530|+0530|+05:30|+0530|+05:30|+0530|GMT+05:30|+05:30|GMT+5:30|GMT+05:30"},
		{"HH:mm z VV", "Europe/Berlin", "09:00 CET Europe/Berlin"},
		{"HH:mm z", "UTC", "08:00 UTC"},
		{"h K k H a", "UTC", "8 8 8 8 AM"},
		{"'quoted ''text''' [yyyy]", "UTC", "quoted 'text' 2025"},
		{"G yyy y", "UTC", "AD 2025 2025"},
		{"epoch_second", "UTC", "1763884801"},
		{"epoch_milli", "UTC", "1763884801123"},
		{"epoch_micro", "UTC", "1763884801123456"},
		{"epoch_nano", "UTC", "1763884801123456789"},
	}
	for _, tc := range tests {
		p := newProcessor(t, `{destination_timezone: "`+tc.zone+`", output_format: "`+tc.format+`", match: [{key: t, patterns: ["yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSX"]}]}`)
		ev := run(p, map[string]any{"t": in})
		if got := ev.Fields()["@timestamp"]; got != tc.want {
			t.Errorf("%q in %s: got %q, want %q", tc.format, tc.zone, got, tc.want)
		}
	}
	// Midnight and noon on a 12-hour clock.
	p := newProcessor(t, `{destination_timezone: UTC, output_format: "h:mm a K k", match: [{key: t, patterns: [HH:mm]}]}`)
	for in, want := range map[string]string{"00:05": "12:05 AM 0 24", "12:05": "12:05 PM 0 12", "23:05": "11:05 PM 11 23"} {
		if got := run(p, map[string]any{"t": in}).Fields()["@timestamp"]; got != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
}

func TestTimeZones(t *testing.T) {
	// A time without offset is in source_timezone (with its daylight
	// saving time); one with an offset ignores it.
	p := newProcessor(t, `{source_timezone: America/Los_Angeles, destination_timezone: UTC, match: [{key: t, patterns: ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ssXXX"]}]}`)
	for in, want := range map[string]string{
		"2025-07-01 12:00:00":       "2025-07-01T19:00:00.000Z",
		"2025-01-15 12:00:00":       "2025-01-15T20:00:00.000Z",
		"2025-07-01 12:00:00+02:00": "2025-07-01T10:00:00.000Z",
	} {
		if got := run(p, map[string]any{"t": in}).Fields()["@timestamp"]; got != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
	for _, z := range []string{"UTC", "Z", "GMT", "+05:30", "-0800", "UTC+01:00", "GMT-3", "US/Pacific", "Europe/Paris", "Asia/Tokyo"} {
		if _, err := LoadZone(z); err != nil {
			t.Errorf("zone %s: %v", z, err)
		}
	}
	for _, z := range []string{"Mars/Olympus", "+25:00", "Local", "GMT+"} {
		if _, err := LoadZone(z); err == nil {
			t.Errorf("zone %s accepted", z)
		}
	}
	// The defaults are the system's zone.
	p = newProcessor(t, `match: [{key: t, patterns: ["yyyy-MM-dd HH:mm:ss"]}]`)
	ev := run(p, map[string]any{"t": "2025-07-01 12:00:00"})
	if want := time.Date(2025, 7, 1, 12, 0, 0, 0, time.Local); !ev.Time.Equal(want) {
		t.Errorf("local: %v, want %v", ev.Time, want)
	}
}

func TestEpoch(t *testing.T) {
	tests := []struct {
		patterns string
		in       any
		want     string
	}{
		{"[epoch_second]", "1700000000", "2023-11-14T22:13:20.000Z"},
		{"[epoch_second]", int64(1700000000), "2023-11-14T22:13:20.000Z"},
		{"[epoch_second]", 1700000000.0, "2023-11-14T22:13:20.000Z"},
		{"[epoch_second]", 1700000000.5, ""},
		{"[epoch_milli]", "1700000000123", "2023-11-14T22:13:20.123Z"},
		{"[epoch_milli]", "1700000000", "2023-11-14T22:13:20.000Z"}, // ten digits are seconds, as in Data Prepper
		{"[epoch_second]", "1700000000123", ""},                     // milliseconds without epoch_milli
		{"[epoch_micro]", "1700000000123456", "2023-11-14T22:13:20.123Z"},
		{"[epoch_nano]", "1700000000123456789", "2023-11-14T22:13:20.123Z"},
		// Without epoch_micro, 16 digits are nanoseconds (Data Prepper's rule).
		{"[epoch_nano]", "1700000000123456", "1970-01-20T16:13:20.000Z"},
		{"[epoch_milli, epoch_nano]", "1700000000123456789", "2023-11-14T22:13:20.123Z"},
		{"[epoch_second, 'yyyy-MM-dd']", "2025-11-23", "2025-11-23T00:00:00.000Z"},
		{"[epoch_second]", "not a number", ""},
		{"[epoch_second]", "0", "1970-01-01T00:00:00.000Z"},
	}
	for _, tc := range tests {
		p := newProcessor(t, `{source_timezone: UTC, destination_timezone: UTC, tags_on_match_failure: [bad], match: [{key: t, patterns: `+tc.patterns+`}]}`)
		ev := run(p, map[string]any{"t": tc.in})
		got, _ := ev.Fields()["@timestamp"].(string)
		if got != tc.want || (tc.want == "") != ev.HasTag("bad") {
			t.Errorf("%s on %v: got %q (tags %v), want %q", tc.patterns, tc.in, got, ev.Tags(), tc.want)
		}
	}
}

func TestBehaviour(t *testing.T) {
	// First pattern that parses wins; the destination and event time are set.
	p := newProcessor(t, `{destination: /meta/ts, source_timezone: UTC, destination_timezone: UTC, match: [{key: /raw/time, patterns: ["yyyy-MM-dd", "dd/MM/yyyy"]}]}`)
	ev := run(p, map[string]any{"raw": map[string]any{"time": "23/11/2025"}})
	if got := ev.Fields()["meta"]; !reflect.DeepEqual(got, map[string]any{"ts": "2025-11-23T00:00:00.000Z"}) {
		t.Errorf("destination %v", got)
	}
	// Failure tags only when the field is there and matches nothing.
	p = newProcessor(t, `{tags_on_match_failure: [_dateparsefailure], match: [{key: t, patterns: ["yyyy-MM-dd"]}]}`)
	ev = run(p, map[string]any{"t": "yesterday"})
	if !ev.HasTag("_dateparsefailure") || len(ev.Fields()) != 1 || !ev.Time.IsZero() {
		t.Errorf("failure: %v %v %v", ev.Tags(), ev.Fields(), ev.Time)
	}
	ev = run(p, map[string]any{"other": 1})
	if len(ev.Tags()) != 0 || len(ev.Fields()) != 1 {
		t.Errorf("missing field: %v %v", ev.Tags(), ev.Fields())
	}
	// set_event_time: false leaves the event's time alone.
	p = newProcessor(t, `{set_event_time: false, match: [{key: t, patterns: ["yyyy-MM-dd"]}]}`)
	if ev = run(p, map[string]any{"t": "2025-11-23"}); !ev.Time.IsZero() || ev.Fields()["@timestamp"] == nil {
		t.Errorf("set_event_time false: %v %v", ev.Time, ev.Fields())
	}
	// to_origination_metadata.
	p = newProcessor(t, `{to_origination_metadata: true, source_timezone: UTC, match: [{key: t, patterns: ["yyyy-MM-dd"]}]}`)
	ev = run(p, map[string]any{"t": "2025-11-23"})
	if m, _ := ev.Metadata(MetaOriginationTime); m != time.Date(2025, 11, 23, 0, 0, 0, 0, time.UTC) {
		t.Errorf("origination metadata %v", m)
	}
	// date_when.
	p = newProcessor(t, `{date_when: '/kind == "x"', match: [{key: t, patterns: ["yyyy-MM-dd"]}]}`)
	if ev = run(p, map[string]any{"t": "2025-11-23", "kind": "y"}); ev.Fields()["@timestamp"] != nil {
		t.Error("date_when ignored")
	}
	// Several match entries: the first whose field parses.
	p = newProcessor(t, `{destination_timezone: UTC, source_timezone: UTC, match: [{key: a, patterns: ["yyyy"]}, {key: b, patterns: ["yyyy-MM-dd"]}]}`)
	if ev = run(p, map[string]any{"a": "bad", "b": "2025-11-23"}); ev.Fields()["@timestamp"] != "2025-11-23T00:00:00.000Z" {
		t.Errorf("second entry: %v", ev.Fields())
	}
	// from_time_received: the event's time (its receive time), or now.
	p = newProcessor(t, `{from_time_received: true, destination_timezone: UTC}`)
	ev = event.New(event.KindLog, time.Date(2025, 11, 23, 8, 0, 1, 0, time.UTC), map[string]any{})
	p.Process(context.Background(), []*event.Event{ev})
	if got := ev.Fields()["@timestamp"]; got != "2025-11-23T08:00:01.000Z" {
		t.Errorf("from_time_received: %v", got)
	}
	if got := run(p, map[string]any{}).Fields()["@timestamp"]; got != "2026-02-01T12:00:00.000Z" {
		t.Errorf("from_time_received without time: %v", got)
	}
}

// Formatting a time with a complete pattern and parsing it back gives the
// same instant.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	loc, _ := LoadZone("America/New_York")
	for _, pattern := range []string{
		DefaultOutputFormat, "dd/MMM/yyyy:HH:mm:ss.SSSSSSSSS Z", "EEEE, MMMM d, yyyy h:mm:ss.SSS a xxx", "yyyyMMddHHmmssSSSSSSSSSXX",
		"yyyy-DDD HH:mm:ss.SSSSSSSSS VV", "uuuu-MM-dd'T'HH:mm:ss.nnnnnnnnn OOOO", "G yyyy-MM-dd KK:mm:ss.SSSSSSSSS a ZZZZZ",
	} {
		l, err := Compile(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 500; i++ {
			tm := time.Unix(rng.Int63n(4e9), rng.Int63n(1e9)).In(loc)
			text := string(l.AppendFormat(nil, tm, "America/New_York"))
			back, err := l.Parse(text, time.UTC, now)
			want := tm
			switch {
			case strings.Contains(pattern, "SSSSSSSSS") || strings.Contains(pattern, "nnnnnnnnn"):
			case strings.Contains(pattern, "SSS"):
				want = tm.Truncate(time.Millisecond)
			default:
				want = tm.Truncate(time.Second)
			}
			if err != nil || !back.Equal(want) {
				t.Fatalf("%q: %v → %q → %v (%v)", pattern, tm, text, back, err)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`destination: x`, `give either match or from_time_received`},
		{`{from_time_received: true, match: [{key: t, patterns: [yyyy]}]}`, `give either match or from_time_received`},
		{`match: [{key: t, patterns: ["YYYY-ww"]}]`, `option "match[0].patterns[0]"`},
		{`match: [{key: t, patterns: ["YYYY-ww"]}]`, `pattern letter Y (week-based year) is not supported`},
		{`match: [{key: t, patterns: ["yyyy-MM-dd'T"]}]`, `unterminated quote`},
		{`match: [{key: t, patterns: ["yyyy]"]}]`, `unbalanced ]`},
		{`match: [{key: t, patterns: ["MMMMMM"]}]`, `too many pattern letters`},
		{`match: [{key: t, patterns: ["epoch_hour"]}]`, `use epoch_second, epoch_milli`},
		{`match: [{key: t, patterns: []}]`, `needs at least one pattern`},
		{`match: [{patterns: [yyyy]}]`, `option "match[0].key": required option is missing`},
		{`{source_timezone: Mars/Base, match: [{key: t, patterns: [yyyy]}]}`, `option "source_timezone": unknown time zone "Mars/Base"`},
		{`{destination_timezone: "+99:00", match: [{key: t, patterns: [yyyy]}]}`, `option "destination_timezone"`},
		{`{locale: fr-FR, match: [{key: t, patterns: [yyyy]}]}`, `only English month and day names`},
		{`{output_format: "yyyy-MM-dd'", match: [{key: t, patterns: [yyyy]}]}`, `option "output_format"`},
		{`{destination: "/", match: [{key: t, patterns: [yyyy]}]}`, `option "destination": must name a field`},
		{`{mach: [{key: t, patterns: [yyyy]}]}`, `did you mean "match"?`},
	} {
		_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "date", tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.opts, err, tc.want)
		}
	}
	for _, ok := range []string{`{locale: en-US, match: [{key: t, patterns: [yyyy]}]}`, `{locale: ROOT, from_time_received: true}`,
		`{to_origination_metadata: true, from_time_received: true}`, `{origination_timestamp_to_metadata: true, from_time_received: true}`} {
		if _, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "date", ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := NewConfig()
	if c.Destination != "@timestamp" || c.OutputFormat != "yyyy-MM-dd'T'HH:mm:ss.SSSXXX" || !c.SetEventTime || c.FromTimeReceived {
		t.Errorf("defaults %+v", c)
	}
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "date", "README.md")
}

func BenchmarkDate(b *testing.B) {
	for _, bc := range []struct{ name, opts, in string }{
		{"apache", `{source_timezone: UTC, destination_timezone: UTC, match: [{key: t, patterns: ["dd/MMM/yyyy:HH:mm:ss Z"]}]}`, "10/Oct/2000:13:55:36 -0700"},
		{"iso8601", `{destination_timezone: UTC, match: [{key: t, patterns: ["yyyy-MM-dd'T'HH:mm:ss.SSSXXX"]}]}`, "2024-05-14T09:21:07.123+02:00"},
		{"epoch_milli", `{destination_timezone: UTC, match: [{key: t, patterns: [epoch_milli]}]}`, "1700000000123"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := newProcessor(b, bc.opts)
			evs := make([]*event.Event, 1)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				evs[0] = event.New(event.KindLog, time.Time{}, map[string]any{"t": bc.in})
				p.Process(context.Background(), evs)
			}
		})
	}
}
