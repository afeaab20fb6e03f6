package date

import (
	"testing"
	"time"
)

// FuzzLayout compiles arbitrary patterns and parses arbitrary text with
// them: errors are fine, panics are not, and what parses formats.
func FuzzLayout(f *testing.F) {
	for _, s := range [][2]string{
		{"dd/MMM/yyyy:HH:mm:ss Z", "10/Oct/2000:13:55:36 -0700"},
		{"yyyy-MM-dd'T'HH:mm:ss[.SSSSSSSSS][.SSS]XXX", "2025-11-23T08:00:01.123Z"},
		{"yyyyMMddHHmmssSSS", "20251123080001123"},
		{"EEE, d MMM yyyy HH:mm:ss z", "Sun, 23 Nov 2025 08:00:01 GMT+02:00"},
		{"h:mm a VV", "7:05 PM America/New_York"},
		{"[[[y]]]", ""}, {"''''", "'"}, {"O OOOO ZZZZ x xxxxx", "GMT+5 GMT-05:30 GMT Z +00:00"},
	} {
		f.Add(s[0], s[1])
	}
	loc, _ := LoadZone("Europe/Berlin")
	f.Fuzz(func(t *testing.T, pattern, text string) {
		l, err := Compile(pattern)
		if err != nil {
			return
		}
		tm, err := l.Parse(text, loc, now)
		if err != nil {
			return
		}
		_ = l.AppendFormat(nil, tm, "Europe/Berlin")
		_ = l.AppendFormat(nil, time.Time{}, "")
	})
}
