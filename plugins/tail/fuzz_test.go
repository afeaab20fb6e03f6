package tail

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"
	"unicode/utf8"
)

func addFixtureLines(f *testing.F, name string) {
	data, err := os.ReadFile(fixture(name))
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range bytes.Split(data, []byte("\n")) {
		f.Add(l)
	}
}

// FuzzParseCRI: any line is either rejected or parsed into parts that
// rebuild it exactly, parse again to the same parts, and carry the time
// time.Parse reads from the timestamp.
func FuzzParseCRI(f *testing.F) {
	addFixtureLines(f, "cri-containerd.log")
	for _, s := range []string{
		"2025-11-23T08:00:00Z stdout F", "2025-11-23T08:00:00Z stderr P ", "2025-11-23T08:00:00.123+05:30 stdout F:x y",
		"2024-02-29T23:59:59.999999999-00:00 stdout F leap", "2025-11-23T08:00:00,5Z stdout F comma",
		"2025-11-23t08:00:00Z stdout F lower", "2025-11-23T08:00:00Z  stdout F", "x", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c, ok := ParseCRI(line)
		if !ok {
			return
		}
		if !(0 < c.TimeEnd && c.TimeEnd < c.TagStart && c.TagStart < c.TagEnd && c.TagEnd <= len(line) && c.MsgStart <= len(line)) {
			t.Fatalf("offsets %+v for %q", c, line)
		}
		rebuilt := string(line[:c.TimeEnd]) + " " + streamNames[c.Stream] + " " + string(line[c.TagStart:c.TagEnd])
		if c.TagEnd < len(line) {
			rebuilt += " " + string(line[c.MsgStart:])
		}
		if rebuilt != string(line) {
			t.Fatalf("rebuilt %q from %q", rebuilt, line)
		}
		c2, ok := ParseCRI([]byte(rebuilt))
		if !ok || !c2.Time.Equal(c.Time) {
			t.Fatalf("parse again: %+v %v, want %+v", c2, ok, c)
		}
		c2.Time = c.Time
		if c2 != c {
			t.Fatalf("parse again: %+v %v, want %+v", c2, ok, c)
		}
		if c.Partial != (line[c.TagStart] == 'P') {
			t.Fatalf("partial %v for tag %q", c.Partial, line[c.TagStart:c.TagEnd])
		}
		want, err := time.Parse(time.RFC3339Nano, string(line[:c.TimeEnd]))
		if err != nil || !want.Equal(c.Time) {
			t.Fatalf("time %v, time.Parse says %v %v for %q", c.Time, want, err, line[:c.TimeEnd])
		}
	})
}

// FuzzParseDocker: any line is either rejected or parsed into a record
// that, written back as Docker does, parses to the same record.
func FuzzParseDocker(f *testing.F) {
	addFixtureLines(f, "docker-json.log")
	for _, s := range []string{
		`{"log":"partial","stream":"stdout","time":"2025-11-23T08:00:00Z"}`, `{"log":"x\n"}`, `{"log":"\u00e9\ud83d\ude00\n","stream":"stderr"}`,
		`{"log":"a","log":"b"}`, `{"log":"","attrs":{"tag":"x"}}`, `{"log":1}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		d, ok := ParseDocker(line)
		if !ok {
			return
		}
		if d.HasTime && d.TimeStr == "" {
			t.Fatalf("time without its string: %+v", d)
		}
		if !utf8.ValidString(d.Log) || !utf8.ValidString(d.TimeStr) {
			return // re-encoding would replace the invalid bytes
		}
		rec := map[string]string{"log": d.Log}
		if !d.Partial {
			rec["log"] += "\n"
		}
		if d.Stream != streamNone {
			rec["stream"] = streamNames[d.Stream]
		}
		if d.TimeStr != "" {
			rec["time"] = d.TimeStr
		}
		enc, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		d2, ok := ParseDocker(enc)
		if !ok || d2.Log != d.Log || d2.Partial != d.Partial || d2.Stream != d.Stream || d2.TimeStr != d.TimeStr ||
			d2.HasTime != d.HasTime || !d2.Time.Equal(d.Time) {
			t.Fatalf("%s parses to %+v %v, want %+v (from %q)", enc, d2, ok, d, line)
		}
	})
}
