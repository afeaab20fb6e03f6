package tracecontext

// This file validates and normalises ID values by hand: a table lookup per
// byte, no regular expressions, and no allocation when the value is
// already lowercase hex (the result is then a substring of the input).

// status says what a value looked like.
type status uint8

const (
	absent  status = iota // nothing, or a "no context" marker such as Python's 0
	valid                 // a usable ID, normalised
	invalid               // looked like an ID but was not one
)

const (
	chHex   = 1 << iota // 0-9 a-f A-F
	chAlnum             // 0-9 a-z A-Z
	chKey               // characters that continue a key: alnum _ - .
	chUpper             // A-F
)

var (
	chClass [256]uint8
	hexVal  [256]uint8 // 0xff for non-hex bytes
	// flagStrings holds every byte value as two lowercase hex digits, boxed
	// once so that storing flags in an event allocates nothing.
	flagStrings [256]any
)

const hexDigits = "0123456789abcdef"

func init() {
	for i := range hexVal {
		hexVal[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		hexVal[c] = byte(c - '0')
		chClass[c] |= chHex | chAlnum | chKey
	}
	for c := 'a'; c <= 'z'; c++ {
		chClass[c] |= chAlnum | chKey
		chClass[c-32] |= chAlnum | chKey
		if c <= 'f' {
			hexVal[c] = byte(c-'a') + 10
			hexVal[c-32] = byte(c-'a') + 10
			chClass[c] |= chHex
			chClass[c-32] |= chHex | chUpper
		}
	}
	for _, c := range "_-." {
		chClass[c] |= chKey
	}
	for i := range flagStrings {
		flagStrings[i] = string([]byte{hexDigits[i>>4], hexDigits[i&15]})
	}
}

func isAlnum(c byte) bool   { return chClass[c]&chAlnum != 0 }
func isKeyChar(c byte) bool { return chClass[c]&chKey != 0 }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if chClass[s[i]]&chHex == 0 {
			return false
		}
	}
	return true
}

// noContext reports the values loggers print when there is no active span
// (Python's logging instrumentation writes trace_id=0): not an ID, but not a
// broken one either, so they are neither emitted nor reported as invalid.
func noContext(s string) bool {
	switch len(s) {
	case 0:
		return true
	case 1:
		return s[0] == '0' || s[0] == '-'
	case 3:
		return eqFold(s, "nil")
	case 4:
		return eqFold(s, "none") || eqFold(s, "null")
	case 9:
		return eqFold(s, "undefined")
	}
	return false
}

// normHex checks that s is exactly n hex digits, not all zero, and returns
// it in lowercase. It allocates only when s holds uppercase digits.
func normHex(s string, n int) (string, status) {
	if len(s) != n {
		return "", invalid
	}
	var nonZero, upper uint8
	for i := 0; i < len(s); i++ {
		c := s[i]
		v := hexVal[c]
		if v == 0xff {
			return "", invalid
		}
		nonZero |= v
		upper |= chClass[c] & chUpper
	}
	if nonZero == 0 {
		return "", invalid
	}
	if upper == 0 {
		return s, valid
	}
	b := make([]byte, n)
	for i := 0; i < n; i++ {
		b[i] = hexDigits[hexVal[s[i]]]
	}
	return string(b), valid
}

const zeros16 = "0000000000000000"

// traceID validates a trace ID: 32 hex digits; 16 hex digits (64-bit B3 and
// Jaeger IDs, left-padded with zeros as Zipkin does when it widens them) when
// short is set; 24 base64 characters (16 bytes, as OTLP/JSON encoders
// following the protobuf JSON mapping write bytes) when b64 is set.
func traceID(s string, short, b64 bool) (string, status) {
	if noContext(s) {
		return "", absent
	}
	switch len(s) {
	case 32:
		return normHex(s, 32)
	case 16:
		if short {
			id, st := normHex(s, 16)
			if st != valid {
				return "", st
			}
			return zeros16 + id, valid
		}
	case 24:
		if b64 {
			return base64Hex(s, 16)
		}
	}
	return "", invalid
}

// spanID validates a span ID: 16 hex digits, or 12 base64 characters when
// b64 is set.
func spanID(s string, b64 bool) (string, status) {
	if noContext(s) {
		return "", absent
	}
	if len(s) == 12 && b64 {
		return base64Hex(s, 8)
	}
	return normHex(s, 16)
}

// flagsHex normalises trace flags given as two hex digits ("01") or as a
// decimal or boolean sampling decision ("1", "0", "true", "d" for B3 debug).
func flagsHex(s string) (any, bool) {
	switch len(s) {
	case 1:
		switch s[0] {
		case '1', 'd', 'D':
			return flagStrings[1], true
		case '0':
			return flagStrings[0], true
		}
	case 2:
		hi, lo := hexVal[s[0]], hexVal[s[1]]
		if hi < 16 && lo < 16 {
			return flagStrings[hi<<4|lo], true
		}
	case 4:
		if eqFold(s, "true") {
			return flagStrings[1], true
		}
	case 5:
		if eqFold(s, "false") {
			return flagStrings[0], true
		}
	}
	return nil, false
}

// base64Hex decodes n bytes (16 or 8) written as standard or URL-safe
// base64 with padding and returns them as lowercase hex.
func base64Hex(s string, n int) (string, status) {
	// 16 bytes are 22 characters plus "==", 8 bytes 11 plus "=".
	chars := (n*8 + 5) / 6
	if len(s) != (n+2)/3*4 {
		return "", invalid
	}
	for i := chars; i < len(s); i++ {
		if s[i] != '=' {
			return "", invalid
		}
	}
	var out [16]byte
	var acc uint32
	bitsN, o := 0, 0
	for i := 0; i < chars; i++ {
		v := b64Val(s[i])
		if v == 0xff {
			return "", invalid
		}
		acc = acc<<6 | uint32(v)
		bitsN += 6
		if bitsN >= 8 {
			bitsN -= 8
			out[o] = byte(acc >> bitsN)
			o++
			acc &= 1<<bitsN - 1
		}
	}
	if acc != 0 { // non-canonical trailing bits: not something an encoder wrote
		return "", invalid
	}
	var buf [32]byte
	var nonZero byte
	for i := 0; i < n; i++ {
		nonZero |= out[i]
		buf[2*i] = hexDigits[out[i]>>4]
		buf[2*i+1] = hexDigits[out[i]&15]
	}
	if nonZero == 0 {
		return "", invalid
	}
	return string(buf[:2*n]), valid
}

func b64Val(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '+' || c == '-':
		return 62
	case c == '/' || c == '_':
		return 63
	}
	return 0xff
}

// eqFold reports whether s equals lower (given in lowercase) ignoring ASCII
// case.
func eqFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// headerEq is eqFold for header names: '_' in s also matches '-' in lower
// (x_b3_traceid), as some loggers and proxies rewrite header names so.
func headerEq(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasPrefixFold is eqFold on the start of s.
func hasPrefixFold(s, lower string) bool {
	return len(s) >= len(lower) && eqFold(s[:len(lower)], lower)
}
