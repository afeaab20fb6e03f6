package date

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Layout is a compiled java.time DateTimeFormatter pattern, such as
// "dd/MMM/yyyy:HH:mm:ss Z", that both parses and formats. It is
// written by hand rather than translated into a Go layout, which cannot
// express Java's variable-width fields, optional sections, adjacent value
// parsing or fraction widths.
type Layout struct {
	src     string
	items   []item
	hasYear bool // the pattern has y or u (else the current year is assumed)
}

type kind uint8

const (
	kLiteral kind = iota
	kNumber
	kReducedYear // yy: two digits, 2000–2099
	kFraction    // S…: exactly n digits of the second
	kText        // month and day names, AM/PM, era
	kOffset      // X, x, Z, O
	kZoneName    // z
	kZoneID      // VV
	kOptional    // [ … ]
)

type field uint8

const (
	fYear field = iota
	fMonth
	fDay
	fDayOfYear
	fHour      // H 0–23
	fClockHour // h 1–12
	fHourAmPm  // K 0–11
	fClockDay  // k 1–24
	fMinute
	fSecond
	fNano // n
	fDayOfWeek
	fAmPm
	fEra
)

// offset styles (Java's appendOffset patterns)
const (
	offHHmm       = iota // +HH, +HHmm
	offHHMM              // +HHMM
	offHH_MM             // +HH:MM
	offHHMMss            // +HHMM, +HHMMss
	offHH_MM_ss          // +HH:MM, +HH:MM:ss
	offLocalShort        // GMT+8
	offLocalFull         // GMT+08:00
)

type item struct {
	kind     kind
	field    field
	lit      string
	min, max int // digits (numbers); fraction width
	reserve  int // digits later adjacent fixed-width fields need
	names    []string
	offStyle int
	zeroText string // what a zero offset prints as ("Z", "+00:00" …)
	sub      []item // optional section
}

var (
	monthsFull  = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	monthsShort = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	monthsNarow = []string{"J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"}
	daysFull    = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	daysShort   = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	daysNarrow  = []string{"M", "T", "W", "T", "F", "S", "S"}
	ampm        = []string{"AM", "PM"}
	erasShort   = []string{"BC", "AD"}
	erasFull    = []string{"Before Christ", "Anno Domini"}
	erasNarrow  = []string{"B", "A"}
)

// Compile compiles a DateTimeFormatter pattern. Supported letters: G u y
// D M L d E a h K k H m s S n V z O X x Z, 'quoted text', ” and [optional
// sections]. Week-based fields (Y w W e c), quarters (Q q) and the rest are
// rejected with an error naming them.
func Compile(pattern string) (*Layout, error) {
	l := &Layout{src: pattern}
	items, rest, err := compileItems(pattern, 0, l)
	if err != nil {
		return nil, err
	}
	if rest != len(pattern) {
		return nil, fmt.Errorf("pattern %q: unbalanced ]", pattern)
	}
	computeReserve(items)
	l.items = items
	return l, nil
}

// String returns the pattern.
func (l *Layout) String() string { return l.src }

func compileItems(p string, i int, l *Layout) ([]item, int, error) {
	var items []item
	for i < len(p) {
		c := p[i]
		switch {
		case c == '\'':
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(p) {
					return nil, 0, fmt.Errorf("pattern %q: unterminated quote", p)
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(p[j])
				j++
			}
			if j == i+1 {
				items = append(items, item{kind: kLiteral, lit: "'"}) // ''
			} else {
				items = append(items, item{kind: kLiteral, lit: b.String()})
			}
			i = j + 1
		case c == '[':
			sub, j, err := compileItems(p, i+1, l)
			if err != nil {
				return nil, 0, err
			}
			if j >= len(p) || p[j] != ']' {
				return nil, 0, fmt.Errorf("pattern %q: unterminated [", p)
			}
			items = append(items, item{kind: kOptional, sub: sub})
			i = j + 1
		case c == ']':
			return items, i, nil
		case c == '{' || c == '}' || c == '#':
			return nil, 0, fmt.Errorf("pattern %q: %q is reserved", p, c)
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			n := 1
			for i+n < len(p) && p[i+n] == c {
				n++
			}
			it, err := letter(c, n)
			if err != nil {
				return nil, 0, fmt.Errorf("pattern %q: %v", p, err)
			}
			if c == 'y' || c == 'u' {
				l.hasYear = true
			}
			items = append(items, it)
			i += n
		default:
			// Any other character stands for itself (Java keeps a run of
			// them as one literal, which matches the same).
			j := i
			for j < len(p) && !strings.ContainsRune("'[]{}#", rune(p[j])) && !(p[j] >= 'a' && p[j] <= 'z' || p[j] >= 'A' && p[j] <= 'Z') {
				j++
			}
			items = append(items, item{kind: kLiteral, lit: p[i:j]})
			i = j
		}
	}
	return items, i, nil
}

func letter(c byte, n int) (item, error) {
	num := func(f field, maxLetters int) (item, error) {
		switch {
		case n == 1:
			return item{kind: kNumber, field: f, min: 1, max: 19}, nil
		case n == 2 && maxLetters >= 2:
			return item{kind: kNumber, field: f, min: 2, max: 2}, nil
		case n == 3 && maxLetters >= 3:
			return item{kind: kNumber, field: f, min: 3, max: 3}, nil
		}
		return item{}, fmt.Errorf("too many pattern letters: %s", strings.Repeat(string(c), n))
	}
	text := func(f field, short, full, narrow []string) (item, error) {
		switch {
		case n <= 3:
			return item{kind: kText, field: f, names: short}, nil
		case n == 4:
			return item{kind: kText, field: f, names: full}, nil
		case n == 5:
			return item{kind: kText, field: f, names: narrow}, nil
		}
		return item{}, fmt.Errorf("too many pattern letters: %s", strings.Repeat(string(c), n))
	}
	switch c {
	case 'y', 'u':
		switch {
		case n == 2:
			return item{kind: kReducedYear, field: fYear, min: 2, max: 2}, nil
		case n == 1:
			return item{kind: kNumber, field: fYear, min: 1, max: 19}, nil
		}
		return item{kind: kNumber, field: fYear, min: n, max: 19}, nil
	case 'M', 'L':
		if n <= 2 {
			return num(fMonth, 2)
		}
		return text(fMonth, monthsShort, monthsFull, monthsNarow)
	case 'd':
		return num(fDay, 2)
	case 'D':
		switch n {
		case 1:
			return item{kind: kNumber, field: fDayOfYear, min: 1, max: 3}, nil
		case 2:
			return item{kind: kNumber, field: fDayOfYear, min: 2, max: 3}, nil
		}
		return num(fDayOfYear, 3)
	case 'H':
		return num(fHour, 2)
	case 'h':
		return num(fClockHour, 2)
	case 'K':
		return num(fHourAmPm, 2)
	case 'k':
		return num(fClockDay, 2)
	case 'm':
		return num(fMinute, 2)
	case 's':
		return num(fSecond, 2)
	case 'n':
		return item{kind: kNumber, field: fNano, min: n, max: 19}, nil
	case 'S':
		if n > 9 {
			return item{}, fmt.Errorf("too many pattern letters: %s", strings.Repeat("S", n))
		}
		return item{kind: kFraction, min: n, max: n}, nil
	case 'E':
		return text(fDayOfWeek, daysShort, daysFull, daysNarrow)
	case 'a':
		if n > 1 {
			return item{}, fmt.Errorf("too many pattern letters: %s", strings.Repeat("a", n))
		}
		return item{kind: kText, field: fAmPm, names: ampm}, nil
	case 'G':
		return text(fEra, erasShort, erasFull, erasNarrow)
	case 'V':
		if n != 2 {
			return item{}, errors.New("pattern letter V must be written VV")
		}
		return item{kind: kZoneID}, nil
	case 'z':
		if n > 4 {
			return item{}, fmt.Errorf("too many pattern letters: %s", strings.Repeat("z", n))
		}
		return item{kind: kZoneName, min: n}, nil
	case 'O':
		switch n {
		case 1:
			return item{kind: kOffset, offStyle: offLocalShort}, nil
		case 4:
			return item{kind: kOffset, offStyle: offLocalFull}, nil
		}
		return item{}, errors.New("pattern letter O must be written O or OOOO")
	case 'X', 'x':
		if n > 5 {
			return item{}, fmt.Errorf("too many pattern letters: %s", strings.Repeat(string(c), n))
		}
		styles := []int{offHHmm, offHHMM, offHH_MM, offHHMMss, offHH_MM_ss}
		zero := "Z"
		if c == 'x' {
			zero = []string{"+00", "+0000", "+00:00", "+0000", "+00:00"}[n-1]
		}
		return item{kind: kOffset, offStyle: styles[n-1], zeroText: zero}, nil
	case 'Z':
		switch {
		case n <= 3:
			return item{kind: kOffset, offStyle: offHHMM, zeroText: "+0000"}, nil
		case n == 4:
			return item{kind: kOffset, offStyle: offLocalFull}, nil
		case n == 5:
			return item{kind: kOffset, offStyle: offHH_MM_ss, zeroText: "Z"}, nil
		}
		return item{}, fmt.Errorf("too many pattern letters: %s", strings.Repeat("Z", n))
	}
	names := map[byte]string{'Y': "week-based year", 'w': "week of year", 'W': "week of month", 'e': "localized day of week",
		'c': "localized day of week", 'Q': "quarter", 'q': "quarter", 'F': "aligned week", 'A': "milli of day", 'N': "nano of day",
		'v': "generic zone name", 'B': "period of day", 'p': "pad"}
	if what, ok := names[c]; ok {
		return item{}, fmt.Errorf("pattern letter %c (%s) is not supported", c, what)
	}
	return item{}, fmt.Errorf("unknown pattern letter %c", c)
}

// computeReserve gives each variable-width number the width of the
// fixed-width numbers right after it ("yyyyMMdd": yyyy leaves 4 digits),
// as Java's adjacent value parsing does.
func computeReserve(items []item) {
	for i := range items {
		if items[i].kind == kOptional {
			computeReserve(items[i].sub)
			continue
		}
		if items[i].kind != kNumber || items[i].min == items[i].max {
			continue
		}
		r := 0
		for j := i + 1; j < len(items); j++ {
			it := items[j]
			if (it.kind == kNumber || it.kind == kReducedYear || it.kind == kFraction) && it.min == it.max {
				r += it.min
				continue
			}
			break
		}
		items[i].reserve = r
	}
}

// fields is what parsing collected.
type fields struct {
	set                                    uint32 // 1 << field
	year, month, day, yday, hour, min, sec int
	nano                                   int
	clockHour, hourAmPm, clockDay          int
	ampm, dow, era                         int
	offset                                 int // seconds
	hasOffset                              bool
	loc                                    *time.Location
}

func (f *fields) put(fl field, v int) bool {
	bit := uint32(1) << fl
	var p *int
	switch fl {
	case fYear:
		p = &f.year
	case fMonth:
		p = &f.month
	case fDay:
		p = &f.day
	case fDayOfYear:
		p = &f.yday
	case fHour:
		p = &f.hour
	case fClockHour:
		p = &f.clockHour
	case fHourAmPm:
		p = &f.hourAmPm
	case fClockDay:
		p = &f.clockDay
	case fMinute:
		p = &f.min
	case fSecond:
		p = &f.sec
	case fNano:
		p = &f.nano
	case fDayOfWeek:
		p = &f.dow
	case fAmPm:
		p = &f.ampm
	case fEra:
		p = &f.era
	}
	if f.set&bit != 0 && *p != v {
		return false // the same field twice with different values
	}
	*p = v
	f.set |= bit
	return true
}

func (f *fields) has(fl field) bool { return f.set&(1<<fl) != 0 }

var errNoMatch = errors.New("does not match the pattern")

// Parse parses s, which must match the whole pattern. Fields the pattern
// does not have are filled as Data Prepper does: the current year (when
// the pattern has no y or u), month and day from now in loc, and midnight;
// loc is also the zone when the text has no offset or zone.
func (l *Layout) Parse(s string, loc *time.Location, now time.Time) (time.Time, error) {
	var f fields
	pos, ok := parseItems(l.items, s, 0, &f)
	if !ok || pos != len(s) {
		return time.Time{}, errNoMatch
	}
	return f.resolve(l.hasYear, loc, now)
}

func parseItems(items []item, s string, pos int, f *fields) (int, bool) {
	for i := range items {
		it := &items[i]
		switch it.kind {
		case kLiteral:
			if !strings.HasPrefix(s[pos:], it.lit) {
				return pos, false
			}
			pos += len(it.lit)
		case kOptional:
			saved := *f
			if p, ok := parseItems(it.sub, s, pos, f); ok {
				pos = p
			} else {
				*f = saved
			}
		case kNumber, kReducedYear:
			digits := 0
			for pos+digits < len(s) && s[pos+digits] >= '0' && s[pos+digits] <= '9' {
				digits++
			}
			n := min(digits-it.reserve, it.max)
			if n < it.min || n > 18 {
				return pos, false
			}
			v, _ := strconv.Atoi(s[pos : pos+n])
			if it.kind == kReducedYear {
				v += 2000
			}
			if !f.put(it.field, v) {
				return pos, false
			}
			pos += n
		case kFraction:
			if pos+it.min > len(s) {
				return pos, false
			}
			v := 0
			for k := 0; k < it.min; k++ {
				c := s[pos+k]
				if c < '0' || c > '9' {
					return pos, false
				}
				v = v*10 + int(c-'0')
			}
			for k := it.min; k < 9; k++ {
				v *= 10
			}
			if !f.put(fNano, v) {
				return pos, false
			}
			pos += it.min
		case kText:
			best, bestLen := -1, 0
			for k, name := range it.names {
				if len(name) > bestLen && len(s)-pos >= len(name) && strings.EqualFold(s[pos:pos+len(name)], name) {
					best, bestLen = k, len(name)
				}
			}
			if best < 0 {
				return pos, false
			}
			v := best
			if it.field == fMonth {
				v++
			} else if it.field == fDayOfWeek {
				v = (best + 1) % 7 // time.Weekday: Sunday 0
			}
			if !f.put(it.field, v) {
				return pos, false
			}
			pos += bestLen
		case kOffset:
			off, n, ok := parseOffset(s[pos:], it)
			if !ok || f.hasOffset && f.offset != off {
				return pos, false
			}
			f.offset, f.hasOffset = off, true
			pos += n
		case kZoneName, kZoneID:
			loc, off, isOff, n, ok := parseZone(s[pos:], it.kind == kZoneID)
			if !ok {
				return pos, false
			}
			if isOff {
				f.offset, f.hasOffset = off, true
			} else {
				f.loc = loc
			}
			pos += n
		}
	}
	return pos, true
}

func digitsAt(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := 0; k < n; k++ {
		c := s[i+k]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseOffset reads an offset in the item's style; "Z" is accepted for
// zero in every style.
func parseOffset(s string, it *item) (int, int, bool) {
	if it.zeroText != "" && strings.HasPrefix(s, it.zeroText) && it.zeroText != "Z" {
		return 0, len(it.zeroText), true
	}
	if strings.HasPrefix(s, "Z") {
		return 0, 1, true
	}
	i := 0
	if it.offStyle == offLocalShort || it.offStyle == offLocalFull {
		if !strings.HasPrefix(s, "GMT") {
			return 0, 0, false
		}
		i = 3
		if i == len(s) || s[i] != '+' && s[i] != '-' {
			return 0, 3, true // "GMT"
		}
	}
	if i >= len(s) || s[i] != '+' && s[i] != '-' {
		return 0, 0, false
	}
	sign := 1
	if s[i] == '-' {
		sign = -1
	}
	i++
	var h, m, sec int
	var ok bool
	switch it.offStyle {
	case offLocalShort, offLocalFull:
		// GMT+8, GMT+08, GMT+8:30, GMT+08:00[:ss]
		w := 1
		if i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			w = 2
		}
		if h, ok = digitsAt(s, i, w); !ok {
			return 0, 0, false
		}
		i += w
		if i < len(s) && s[i] == ':' {
			if m, ok = digitsAt(s, i+1, 2); !ok {
				return 0, 0, false
			}
			i += 3
			if i < len(s) && s[i] == ':' {
				if sec, ok = digitsAt(s, i+1, 2); ok {
					i += 3
				}
			}
		}
	default:
		if h, ok = digitsAt(s, i, 2); !ok {
			return 0, 0, false
		}
		i += 2
		colon := it.offStyle == offHH_MM || it.offStyle == offHH_MM_ss
		next := func() (int, bool) {
			j := i
			if colon {
				if j >= len(s) || s[j] != ':' {
					return 0, false
				}
				j++
			}
			v, ok := digitsAt(s, j, 2)
			if ok {
				i = j + 2
			}
			return v, ok
		}
		switch it.offStyle {
		case offHHmm:
			m, _ = next()
		case offHHMM, offHH_MM:
			if m, ok = next(); !ok {
				return 0, 0, false
			}
		case offHHMMss, offHH_MM_ss:
			if m, ok = next(); !ok {
				return 0, 0, false
			}
			sec, _ = next()
		}
	}
	if h > 18 || m > 59 || sec > 59 {
		return 0, 0, false
	}
	return sign * (h*3600 + m*60 + sec), i, true
}

// zoneAbbrevs are the zone names a z field may carry, as fixed offsets
// (a name such as PST says the offset even in summer).
var zoneAbbrevs = map[string]int{
	"UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 3600, "BST": 3600, "CET": 3600, "CEST": 7200, "MET": 3600, "MEST": 7200,
	"EET": 7200, "EEST": 10800, "MSK": 10800, "IST": 19800, "PKT": 18000, "ICT": 25200, "WIB": 25200, "SGT": 28800, "HKT": 28800,
	"CST": -21600, "CDT": -18000, "EST": -18000, "EDT": -14400, "MST": -25200, "MDT": -21600, "PST": -28800, "PDT": -25200,
	"AKST": -32400, "AKDT": -28800, "HST": -36000, "AST": -14400, "ADT": -10800, "NST": -12600, "NDT": -9000,
	"JST": 32400, "KST": 32400, "AWST": 28800, "ACST": 34200, "ACDT": 37800, "AEST": 36000, "AEDT": 39600, "NZST": 43200, "NZDT": 46800,
}

var zoneCache sync.Map // string → *time.Location (nil: unknown)

// LoadZone resolves a zone the way Java's ZoneId.of does: a region ID
// ("America/New_York", "US/Pacific"), UTC/GMT/UT/Z, or an offset
// ("+05:30", "-0800", "UTC+01:00", "GMT-3").
func LoadZone(name string) (*time.Location, error) {
	if v, ok := zoneCache.Load(name); ok {
		if v == nil {
			return nil, fmt.Errorf("unknown time zone %q", name)
		}
		return v.(*time.Location), nil
	}
	loc, err := loadZone(name)
	if err != nil {
		zoneCache.Store(name, nil)
		return nil, err
	}
	zoneCache.Store(name, loc)
	return loc, nil
}

func loadZone(name string) (*time.Location, error) {
	switch name {
	case "":
		return nil, errors.New("empty time zone")
	case "Z", "UTC", "GMT", "UT", "UCT":
		return time.UTC, nil
	}
	rest := name
	for _, p := range []string{"UTC", "GMT", "UT"} {
		if strings.HasPrefix(rest, p) && len(rest) > len(p) && (rest[len(p)] == '+' || rest[len(p)] == '-') {
			rest = rest[len(p):]
			break
		}
	}
	if rest[0] == '+' || rest[0] == '-' {
		it := item{offStyle: offLocalShort}
		if off, n, ok := parseOffset("GMT"+rest, &it); ok && n == len(rest)+3 {
			return time.FixedZone(name, off), nil
		}
		it = item{offStyle: offHHMMss}
		if off, n, ok := parseOffset(rest, &it); ok && n == len(rest) {
			return time.FixedZone(name, off), nil
		}
		return nil, fmt.Errorf("invalid zone offset %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// parseZone reads a zone name (z) or region ID (VV).
func parseZone(s string, id bool) (loc *time.Location, off int, isOff bool, n int, ok bool) {
	for n < len(s) {
		c := s[n]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '_' || id && (c >= '0' && c <= '9' || c == '-' || c == '+' || c == ':') {
			n++
			continue
		}
		break
	}
	if n == 0 {
		return nil, 0, false, 0, false
	}
	name := s[:n]
	if !id {
		if o, ok := zoneAbbrevs[name]; ok {
			// GMT+02:00 and the like: the offset follows the name.
			if (name == "GMT" || name == "UTC" || name == "UT") && n < len(s) && (s[n] == '+' || s[n] == '-') {
				it := item{offStyle: offLocalShort}
				if o2, m, ok := parseOffset("GMT"+s[n:], &it); ok {
					return nil, o2, true, n + m - 3, true
				}
			}
			return nil, o, true, n, true
		}
	}
	l, err := LoadZone(name)
	if err != nil {
		return nil, 0, false, 0, false
	}
	return l, 0, false, n, true
}

var errInvalid = errors.New("not a valid date or time")

// resolve turns the fields into a time, as java.time's SMART resolver
// does: a day-of-month past the end of the month is moved back to its last
// day; 24:00 is midnight of the next day.
func (f *fields) resolve(hasYear bool, loc *time.Location, now time.Time) (time.Time, error) {
	today := now.In(loc)
	year := today.Year()
	if f.has(fYear) {
		year = f.year
		if f.has(fEra) && f.era == 0 {
			year = 1 - year // BC
		}
	} else if hasYear {
		return time.Time{}, errInvalid
	}
	month, day := int(today.Month()), today.Day()
	if f.has(fDayOfYear) {
		if f.yday < 1 || f.yday > 366 || f.yday == 366 && !leap(year) {
			return time.Time{}, errInvalid
		}
		d := time.Date(year, 1, f.yday, 0, 0, 0, 0, time.UTC)
		month, day = int(d.Month()), d.Day()
		if f.has(fMonth) && f.month != month || f.has(fDay) && f.day != day {
			return time.Time{}, errInvalid
		}
	} else {
		if f.has(fMonth) {
			month = f.month
		}
		if f.has(fDay) {
			day = f.day
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return time.Time{}, errInvalid
	}
	if last := daysIn(year, month); day > last {
		day = last
	}
	hour := 0
	switch {
	case f.has(fHour):
		hour = f.hour
		if hour > 24 {
			return time.Time{}, errInvalid
		}
	case f.has(fClockDay):
		if f.clockDay < 1 || f.clockDay > 24 {
			return time.Time{}, errInvalid
		}
		hour = f.clockDay % 24
	case f.has(fClockHour):
		if f.clockHour < 1 || f.clockHour > 12 {
			return time.Time{}, errInvalid
		}
		hour = f.clockHour % 12
		if f.has(fAmPm) {
			hour += 12 * f.ampm
		}
	case f.has(fHourAmPm):
		if f.hourAmPm > 11 {
			return time.Time{}, errInvalid
		}
		hour = f.hourAmPm
		if f.has(fAmPm) {
			hour += 12 * f.ampm
		}
	}
	if f.has(fHour) && f.has(fAmPm) && hour < 24 && hour/12 != f.ampm {
		return time.Time{}, errInvalid
	}
	if f.min > 59 || f.sec > 59 || f.nano > 999_999_999 {
		return time.Time{}, errInvalid
	}
	nextDay := false
	if hour == 24 {
		if f.min != 0 || f.sec != 0 || f.nano != 0 {
			return time.Time{}, errInvalid
		}
		hour, nextDay = 0, true
	}
	zone := loc
	if f.loc != nil {
		zone = f.loc
	}
	if f.hasOffset {
		zone = fixedZone(f.offset)
	}
	t := time.Date(year, time.Month(month), day, hour, f.min, f.sec, f.nano, zone)
	if nextDay {
		t = t.AddDate(0, 0, 1)
	}
	if f.has(fDayOfWeek) && int(t.Weekday()) != f.dow {
		return time.Time{}, errInvalid // Java checks the day of week too
	}
	return t, nil
}

func leap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if leap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// AppendFormat appends t, in its own location, formatted by the layout.
// zoneID is what VV prints.
func (l *Layout) AppendFormat(b []byte, t time.Time, zoneID string) []byte {
	return appendItems(b, l.items, t, zoneID)
}

func appendItems(b []byte, items []item, t time.Time, zoneID string) []byte {
	for i := range items {
		it := &items[i]
		switch it.kind {
		case kLiteral:
			b = append(b, it.lit...)
		case kOptional:
			b = appendItems(b, it.sub, t, zoneID)
		case kNumber:
			v := 0
			switch it.field {
			case fYear:
				v = t.Year()
				if v <= 0 {
					v = 1 - v // year of era
				}
			case fMonth:
				v = int(t.Month())
			case fDay:
				v = t.Day()
			case fDayOfYear:
				v = t.YearDay()
			case fHour:
				v = t.Hour()
			case fClockHour:
				v = t.Hour() % 12
				if v == 0 {
					v = 12
				}
			case fHourAmPm:
				v = t.Hour() % 12
			case fClockDay:
				v = t.Hour()
				if v == 0 {
					v = 24
				}
			case fMinute:
				v = t.Minute()
			case fSecond:
				v = t.Second()
			case fNano:
				v = t.Nanosecond()
			}
			b = appendPadded(b, v, it.min)
		case kReducedYear:
			b = appendPadded(b, t.Year()%100, 2)
		case kFraction:
			v := t.Nanosecond()
			for k := it.min; k < 9; k++ {
				v /= 10
			}
			b = appendPadded(b, v, it.min)
		case kText:
			switch it.field {
			case fMonth:
				b = append(b, it.names[t.Month()-1]...)
			case fDayOfWeek:
				b = append(b, it.names[(int(t.Weekday())+6)%7]...)
			case fAmPm:
				b = append(b, it.names[t.Hour()/12]...)
			case fEra:
				era := 1
				if t.Year() <= 0 {
					era = 0
				}
				b = append(b, it.names[era]...)
			}
		case kOffset:
			_, off := t.Zone()
			b = appendOffset(b, off, it)
		case kZoneName:
			name, off := t.Zone()
			if name == "" || name[0] == '+' || name[0] == '-' {
				b = appendOffset(b, off, &item{offStyle: offLocalFull})
			} else {
				b = append(b, name...)
			}
		case kZoneID:
			b = append(b, zoneID...)
		}
	}
	return b
}

func appendPadded(b []byte, v, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for k := len(s); k < width; k++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func appendOffset(b []byte, off int, it *item) []byte {
	if off == 0 && it.zeroText != "" {
		return append(b, it.zeroText...)
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	h, m, s := off/3600, off/60%60, off%60
	switch it.offStyle {
	case offLocalShort, offLocalFull:
		b = append(b, "GMT"...)
		if off == 0 {
			return b
		}
		b = append(b, sign)
		if it.offStyle == offLocalShort {
			b = strconv.AppendInt(b, int64(h), 10)
			if m != 0 || s != 0 {
				b = appendPadded(append(b, ':'), m, 2)
			}
		} else {
			b = appendPadded(b, h, 2)
			b = appendPadded(append(b, ':'), m, 2)
		}
		if s != 0 {
			b = appendPadded(append(b, ':'), s, 2)
		}
		return b
	}
	b = appendPadded(append(b, sign), h, 2)
	colon := it.offStyle == offHH_MM || it.offStyle == offHH_MM_ss
	switch it.offStyle {
	case offHHmm:
		if m != 0 {
			b = appendPadded(b, m, 2)
		}
	case offHHMM, offHH_MM:
		if colon {
			b = append(b, ':')
		}
		b = appendPadded(b, m, 2)
	case offHHMMss, offHH_MM_ss:
		if colon {
			b = append(b, ':')
		}
		b = appendPadded(b, m, 2)
		if s != 0 {
			if colon {
				b = append(b, ':')
			}
			b = appendPadded(b, s, 2)
		}
	}
	return b
}

var fixedZones sync.Map // offset seconds → *time.Location

// fixedZone returns a shared location for an offset (time.FixedZone
// allocates).
func fixedZone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	if l, ok := fixedZones.Load(off); ok {
		return l.(*time.Location)
	}
	l, _ := fixedZones.LoadOrStore(off, time.FixedZone("", off))
	return l.(*time.Location)
}
