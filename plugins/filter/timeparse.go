package filter

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dates are read the way OpenSearch's default date format
// (strict_date_optional_time||epoch_millis) reads them, in UTC unless the
// text has an offset:
//
//	yyyy[-MM[-dd]][Thh[:mm[:ss[.fraction]]]][Z|±hh[:mm]|±hhmm]
//
// weft also accepts a space instead of the T. The parser allocates
// nothing, so range queries can try every string value as a date.

// Precision of a parsed date: which components the text had.
const (
	precYear = iota + 1
	precMonth
	precDay
	precHour
	precMinute
	precSecond
	precFraction
)

func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := i; k < i+n; k++ {
		c := s[k]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDate parses an ISO-8601 date. With roundUp, missing time-of-day
// components are filled with their largest value (23:59:59.999999999), as
// OpenSearch does for the gt and lte bounds of a range; missing month and
// day are always 01.
func parseDate(s string, roundUp bool) (time.Time, int, bool) {
	if len(s) < 4 || len(s) > 64 {
		return time.Time{}, 0, false
	}
	year, ok := digits(s, 0, 4)
	if !ok {
		return time.Time{}, 0, false
	}
	month, day, hour, minute, sec, nsec := 1, 1, 0, 0, 0, 0
	prec := precYear
	i := 4
	if i < len(s) && s[i] == '-' {
		if month, ok = digits(s, i+1, 2); !ok || month < 1 || month > 12 {
			return time.Time{}, 0, false
		}
		prec, i = precMonth, i+3
		if i < len(s) && s[i] == '-' {
			if day, ok = digits(s, i+1, 2); !ok || day < 1 || day > daysIn(month, year) {
				return time.Time{}, 0, false
			}
			prec, i = precDay, i+3
		}
	}
	if i < len(s) && (s[i] == 'T' || s[i] == ' ') && prec == precDay {
		if hour, ok = digits(s, i+1, 2); !ok || hour > 23 {
			return time.Time{}, 0, false
		}
		prec, i = precHour, i+3
		if i < len(s) && s[i] == ':' {
			if minute, ok = digits(s, i+1, 2); !ok || minute > 59 {
				return time.Time{}, 0, false
			}
			prec, i = precMinute, i+3
			if i < len(s) && s[i] == ':' {
				if sec, ok = digits(s, i+1, 2); !ok || sec > 59 {
					return time.Time{}, 0, false
				}
				prec, i = precSecond, i+3
				if i < len(s) && (s[i] == '.' || s[i] == ',') {
					j := i + 1
					scale := 100000000
					for j < len(s) && s[j] >= '0' && s[j] <= '9' {
						if j-i > 9 {
							return time.Time{}, 0, false
						}
						nsec += int(s[j]-'0') * scale
						scale /= 10
						j++
					}
					if j == i+1 {
						return time.Time{}, 0, false
					}
					prec, i = precFraction, j
				}
			}
		}
	}
	offset := 0
	if i < len(s) {
		switch s[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			if prec < precHour {
				return time.Time{}, 0, false
			}
			sign := 1
			if s[i] == '-' {
				sign = -1
			}
			oh, ok := digits(s, i+1, 2)
			if !ok || oh > 18 {
				return time.Time{}, 0, false
			}
			i += 3
			om := 0
			if i < len(s) && s[i] == ':' {
				if om, ok = digits(s, i+1, 2); !ok {
					return time.Time{}, 0, false
				}
				i += 3
			} else if i+2 <= len(s) {
				if om, ok = digits(s, i, 2); !ok {
					return time.Time{}, 0, false
				}
				i += 2
			}
			if om > 59 {
				return time.Time{}, 0, false
			}
			offset = sign * (oh*3600 + om*60)
		default:
			return time.Time{}, 0, false
		}
	}
	if i != len(s) {
		return time.Time{}, 0, false
	}
	if roundUp {
		if prec < precHour {
			hour = 23
		}
		if prec < precMinute {
			minute = 59
		}
		if prec < precSecond {
			sec = 59
		}
		if prec < precFraction {
			nsec = 999999999
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t, prec, true
}

// dateMath is OpenSearch's date math: an anchor ("now", or a date followed
// by "||") and operations: +N<unit>, -N<unit>, /<unit> (round), with units
// y M w d h H m s.
type dateMath struct {
	now    bool
	anchor time.Time
	ops    []dmOp
}

type dmOp struct {
	round bool
	n     int
	unit  byte
}

// isDateMath reports whether s is date math rather than a plain value.
func isDateMath(s string) bool {
	return strings.HasPrefix(s, "now") || strings.Contains(s, "||")
}

// parseDateMath parses s; roundUp selects the rounding of gt and lte.
func parseDateMath(s string, roundUp bool) (*dateMath, error) {
	dm := &dateMath{}
	var rest string
	if strings.HasPrefix(s, "now") {
		dm.now, rest = true, s[3:]
	} else {
		i := strings.Index(s, "||")
		t, _, ok := parseDate(s[:i], roundUp)
		if !ok {
			return nil, fmt.Errorf("%q: the date before || is not an ISO-8601 date", s)
		}
		dm.anchor, rest = t, s[i+2:]
	}
	for len(rest) > 0 {
		op := dmOp{}
		switch rest[0] {
		case '/':
			op.round = true
			rest = rest[1:]
		case '+', '-':
			sign := 1
			if rest[0] == '-' {
				sign = -1
			}
			rest = rest[1:]
			j := 0
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			op.n = 1
			if j > 0 {
				n, err := strconv.Atoi(rest[:j])
				if err != nil || n > 1000000 {
					return nil, fmt.Errorf("%q: number out of range in date math", s)
				}
				op.n = n
			}
			op.n *= sign
			rest = rest[j:]
		default:
			return nil, fmt.Errorf("%q: expected +, - or / in date math at %q", s, rest)
		}
		if len(rest) == 0 || !strings.ContainsRune("yMwdhHms", rune(rest[0])) {
			return nil, fmt.Errorf("%q: expected a unit (y, M, w, d, h, H, m or s) in date math", s)
		}
		op.unit = rest[0]
		rest = rest[1:]
		dm.ops = append(dm.ops, op)
	}
	return dm, nil
}

// eval computes the time, rounding up (to the last nanosecond of the unit)
// or down.
func (dm *dateMath) eval(now time.Time, roundUp bool) time.Time {
	t := dm.anchor
	if dm.now {
		t = now.UTC()
	}
	for _, op := range dm.ops {
		if op.round {
			start := truncate(t, op.unit)
			if roundUp {
				t = add(start, 1, op.unit).Add(-time.Nanosecond)
			} else {
				t = start
			}
			continue
		}
		t = add(t, op.n, op.unit)
	}
	return t
}

func add(t time.Time, n int, unit byte) time.Time {
	switch unit {
	case 'y':
		return t.AddDate(n, 0, 0)
	case 'M':
		return t.AddDate(0, n, 0)
	case 'w':
		return t.AddDate(0, 0, 7*n)
	case 'd':
		return t.AddDate(0, 0, n)
	case 'h', 'H':
		return t.Add(time.Duration(n) * time.Hour)
	case 'm':
		return t.Add(time.Duration(n) * time.Minute)
	}
	return t.Add(time.Duration(n) * time.Second)
}

func truncate(t time.Time, unit byte) time.Time {
	y, mo, d := t.Date()
	switch unit {
	case 'y':
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	case 'M':
		return time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC)
	case 'w': // ISO weeks start on Monday
		wd := (int(t.Weekday()) + 6) % 7
		return time.Date(y, mo, d-wd, 0, 0, 0, 0, time.UTC)
	case 'd':
		return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	case 'h', 'H':
		return time.Date(y, mo, d, t.Hour(), 0, 0, 0, time.UTC)
	case 'm':
		return time.Date(y, mo, d, t.Hour(), t.Minute(), 0, 0, time.UTC)
	}
	return time.Date(y, mo, d, t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}
