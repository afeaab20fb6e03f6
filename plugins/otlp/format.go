package otlp

// Hand-written formatting for the hot path: IDs as lowercase hex and
// timestamps as ISO-8601 UTC with nine fractional digits, without fmt or
// time.Format.

const hexDigits = "0123456789abcdef"

// appendHex appends b as lowercase hex.
func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return dst
}

// HexID returns b as lowercase hex ("" for no bytes).
func HexID(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var buf [64]byte
	return string(appendHex(buf[:0], b))
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// timeLen is the length of a formatted timestamp: 2025-11-23T08:00:00.005000000Z.
const timeLen = 30

// appendTime appends the Unix time ns (nanoseconds) as
// YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ. uint64 nanoseconds reach the year 2554, so
// the year always has four digits.
func appendTime(dst []byte, ns uint64) []byte {
	secs := ns / 1e9
	nanos := ns % 1e9
	days := secs / 86400
	rem := secs % 86400
	y, m, d := civil(days)
	hh, mm, ss := rem/3600, rem/60%60, rem%60
	dst = append(dst,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-',
		byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+hh/10), byte('0'+hh%10), ':',
		byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10), '.')
	var frac [9]byte
	for i := 8; i >= 0; i-- {
		frac[i] = byte('0' + nanos%10)
		nanos /= 10
	}
	dst = append(dst, frac[:]...)
	return append(dst, 'Z')
}

// FormatTime returns the Unix time ns as ISO-8601 UTC with nanoseconds.
func FormatTime(ns uint64) string {
	var buf [timeLen]byte
	return string(appendTime(buf[:0], ns))
}

// civil converts days since 1970-01-01 into a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse, for non-negative days).
func civil(days uint64) (year, month, day uint64) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
