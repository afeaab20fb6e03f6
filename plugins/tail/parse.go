package tail

import (
	"bytes"
	"strings"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// Streams a line can come from. streamNone is for plain lines.
const (
	streamStdout = 0
	streamStderr = 1
	streamNone   = 2
)

var streamNames = [...]string{"stdout", "stderr", ""}

// CRILine is one parsed line of the CRI log format written by containerd
// and CRI-O: `<RFC3339Nano time> <stdout|stderr> <P|F>[:more tags] <message>`.
// The offsets index the parsed line.
type CRILine struct {
	Time     time.Time
	TimeEnd  int // line[:TimeEnd] is the timestamp as written
	Stream   int // streamStdout or streamStderr
	TagStart int // line[TagStart:TagEnd] is the tag field (P, F, or P/F with ':'-separated extras)
	TagEnd   int
	MsgStart int // line[MsgStart:] is the message (len(line) when the line ends after the tag)
	Partial  bool
}

// ParseCRI parses a CRI log line (without its newline). It allocates
// nothing when the timestamp is in the usual RFC 3339 form.
func ParseCRI(line []byte) (c CRILine, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 20 { // the shortest timestamp is 2006-01-02T15:04:05Z
		return c, false
	}
	t, ok := parseTime(line[:sp])
	if !ok {
		return c, false
	}
	rest := line[sp+1:]
	switch {
	case len(rest) >= 7 && string(rest[:7]) == "stdout ":
		c.Stream = streamStdout
	case len(rest) >= 7 && string(rest[:7]) == "stderr ":
		c.Stream = streamStderr
	default:
		return c, false
	}
	c.TagStart = sp + 8
	tag := line[c.TagStart:]
	end := bytes.IndexByte(tag, ' ')
	if end < 0 {
		end = len(tag)
	}
	tag = tag[:end]
	if len(tag) == 0 || (tag[0] != 'P' && tag[0] != 'F') || (len(tag) > 1 && tag[1] != ':') {
		return c, false
	}
	c.Time, c.TimeEnd, c.Partial = t, sp, tag[0] == 'P'
	c.TagEnd = c.TagStart + end
	c.MsgStart = min(c.TagEnd+1, len(line))
	return c, true
}

// DockerLine is one parsed line of Docker's json-file log driver:
// {"log":"text\n","stream":"stdout","time":"2025-11-23T08:00:00.02Z"}.
type DockerLine struct {
	// Log is the log text without its trailing newline.
	Log string
	// Partial is set when the text had no trailing newline: Docker split a
	// long line (at 16 KiB) and the rest follows in the next lines.
	Partial bool
	Stream  int    // streamStdout, streamStderr or streamNone
	TimeStr string // "" when absent
	Time    time.Time
	HasTime bool
}

// ParseDocker parses a Docker json-file line. It needs a JSON object with a
// string "log"; "stream" and "time" are optional.
func ParseDocker(line []byte) (d DockerLine, ok bool) {
	if len(line) < 2 || line[0] != '{' {
		return d, false
	}
	m, err := event.DecodeJSONObject(line)
	if err != nil {
		return d, false
	}
	log, ok := m["log"].(string)
	if !ok {
		return d, false
	}
	d.Log, d.Partial = strings.CutSuffix(log, "\n")
	d.Partial = !d.Partial
	d.Stream = streamNone
	switch m["stream"] {
	case "stdout":
		d.Stream = streamStdout
	case "stderr":
		d.Stream = streamStderr
	}
	if ts, ok := m["time"].(string); ok {
		d.TimeStr = ts
		d.Time, d.HasTime = parseTimeString(ts)
	}
	return d, true
}

func parseTimeString(s string) (time.Time, bool) {
	if t, ok := parseRFC3339(s); ok {
		return t, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// parseTime parses an RFC 3339 timestamp: by hand in the common forms
// (no allocation), with time.Parse for anything else it accepts.
func parseTime(b []byte) (time.Time, bool) {
	if t, ok := parseRFC3339(b); ok {
		return t, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	return t, err == nil
}

// parseRFC3339 parses YYYY-MM-DDTHH:MM:SS[.F{1,9}](Z|±HH:MM), the form every
// container runtime writes, returning a UTC time.
func parseRFC3339[T string | []byte](b T) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if b[i] == '.' {
		i++
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if n == 9 {
				return time.Time{}, false
			}
			nsec = nsec*10 + int(b[i]-'0')
			i++
			n++
		}
		if n == 0 {
			return time.Time{}, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	if i >= len(b) {
		return time.Time{}, false
	}
	offset := 0
	switch b[i] {
	case 'Z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return time.Time{}, false
		}
		oh, ok1 := digits(b[i+1 : i+3])
		om, ok2 := digits(b[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return time.Time{}, false
	}
	if i != len(b) {
		return time.Time{}, false
	}
	secs := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - int64(offset)
	return time.Unix(secs, int64(nsec)).UTC(), true
}

func digits[T string | []byte](b T) (int, bool) {
	n := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch is Howard Hinnant's days_from_civil.
func daysSinceEpoch(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
