package event

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds weft's hot-path JSON codec for field trees. It does not use
// reflection: the decoder walks the input once with an index and builds
// map[string]any / []any / string / int64 / float64 / bool / nil values; the
// encoder switches on the concrete types a field tree holds.
//
// Deliberate differences from encoding/json (decode into any, Marshal):
//
//   - Integers without fraction or exponent that fit in int64 decode as int64
//     (encoding/json gives float64 and loses precision above 2^53). The one
//     exception is "-0", which decodes as float64 negative zero so that it
//     re-encodes as "-0".
//   - Nesting deeper than MaxJSONDepth (512) is an error (encoding/json allows
//     10000).
//   - Numbers outside float64's range (1e400) are an error, as they are for
//     json.Unmarshal into any, although json.Valid accepts them.
//   - Error offsets are the 0-based index of the offending byte, or len(data)
//     when the input ends early (json.SyntaxError.Offset counts the bytes read,
//     which is usually one more).
//   - AppendJSON never fails: NaN and ±Inf encode as null, time.Time as
//     RFC 3339 (nanoseconds) in UTC, error and fmt.Stringer values as their
//     string (so time.Duration encodes as "1.5s", not as nanoseconds; a nil
//     pointer whose String method panics as "<nil>"), an invalid json.Number
//     as a JSON string, and a value encoding/json cannot encode as null.
//     Types implementing json.Marshaler or encoding.TextMarshaler go through
//     encoding/json so that their own encoding is used. HTML characters are
//     not escaped. Containers nested deeper than 1000 levels (only possible
//     with a cyclic tree) are written as null.

// MaxJSONDepth is the deepest nesting of objects and arrays the decoder accepts.
const MaxJSONDepth = 512

// maxEncodeDepth bounds the encoder's recursion so that a cyclic tree
// (m["self"] = m) produces bounded, valid output instead of a stack overflow.
const maxEncodeDepth = 1000

// JSONError is a JSON decoding error: bad syntax, nesting deeper than
// MaxJSONDepth, or a number out of float64's range. Offset is the 0-based
// index of the byte where the problem was found (len(input) when the input
// ended early).
type JSONError struct {
	Offset int
	Msg    string
}

func (e *JSONError) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// DecodeJSONObject parses one JSON object; whitespace may surround it but
// nothing else may follow it.
func DecodeJSONObject(data []byte) (map[string]any, error) {
	d := getDecoder(data)
	d.skipWS()
	var m map[string]any
	var err error
	switch {
	case d.i >= len(data):
		err = d.eof("expected '{' to start a JSON object")
	case data[d.i] != '{':
		err = d.errAt(d.i, "expected '{' to start a JSON object, found "+describeByte(data[d.i]))
	default:
		m, err = d.parseObject()
		if err == nil {
			err = d.end()
		}
	}
	putDecoder(d)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeJSON parses any JSON value; whitespace may surround it but nothing
// else may follow it.
func DecodeJSON(data []byte) (any, error) {
	d := getDecoder(data)
	v, err := d.parseValue()
	if err == nil {
		err = d.end()
	}
	putDecoder(d)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeJSONArray calls fn for every element of a top-level JSON array as it
// is parsed, without materialising the array (Fluent Bit's http output posts
// `[{...},{...}]`). It stops at the first syntax error, returned as a
// *JSONError with its offset, or at the first error fn returns, which is
// returned unchanged. Elements before a syntax error have already been passed
// to fn.
func DecodeJSONArray(data []byte, fn func(elem any) error) error {
	d := getDecoder(data)
	err := d.parseArrayStream(fn)
	putDecoder(d)
	return err
}

// AppendJSON appends the JSON encoding of v to dst. Map keys are written in
// sorted order. See the package notes above for the supported types; any
// other type is encoded with encoding/json (HTML escaping off), and null is
// written if that fails.
func AppendJSON(dst []byte, v any) []byte {
	var e encoder
	return e.value(dst, v)
}

// AppendJSON appends the event's fields as a JSON object ({} when empty).
func (e *Event) AppendJSON(dst []byte) []byte {
	var enc encoder
	if e.fields == nil {
		return append(dst, '{', '}')
	}
	if e.order != nil && len(e.fields) > 16 {
		return enc.hintedObject(dst, e.fields, e.order)
	}
	return enc.object(dst, e.fields)
}

// MarshalJSON encodes the event's fields as a JSON object.
func (e *Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 256)), nil
}

// ---------------------------------------------------------------------------
// Decoder

type kv struct {
	k string
	v any
}

const (
	internCacheSize = 256 // entries in each direct-mapped intern cache
	maxInterned     = 32  // longer strings are not interned
)

type decoder struct {
	data  []byte
	i     int
	depth int
	kvs   []kv   // stack of object members being parsed
	vals  []any  // stack of array elements being parsed
	buf   []byte // scratch for unescaping strings
	// Intern caches, kept across documents with the pooled decoder: object
	// keys and short string values (log levels, file names, Kubernetes
	// metadata) repeat from line to line, so a hit saves allocating the
	// string and, for values, its interface box. Entries are immutable.
	keys [internCacheSize]string
	strs [internCacheSize]any
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

func getDecoder(data []byte) *decoder {
	d := decoderPool.Get().(*decoder)
	d.data = data
	d.i = 0
	d.depth = 0
	return d
}

func putDecoder(d *decoder) {
	d.data = nil
	// Drop references so pooled scratch space does not pin decoded values.
	clear(d.kvs)
	d.kvs = d.kvs[:0]
	clear(d.vals)
	d.vals = d.vals[:0]
	if cap(d.kvs) > 4096 {
		d.kvs = nil
	}
	if cap(d.vals) > 4096 {
		d.vals = nil
	}
	if cap(d.buf) > 64<<10 {
		d.buf = nil
	}
	decoderPool.Put(d)
}

func (d *decoder) errAt(off int, msg string) error {
	return &JSONError{Offset: off, Msg: msg}
}

func (d *decoder) eof(expected string) error {
	msg := "unexpected end of input"
	if expected != "" {
		msg += ", " + expected
	}
	return &JSONError{Offset: len(d.data), Msg: msg}
}

// describeByte renders an offending input byte for an error message.
func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		if c == '\'' {
			return `"'"`
		}
		return "'" + string(rune(c)) + "'"
	}
	const hexd = "0123456789abcdef"
	return "byte 0x" + string([]byte{hexd[c>>4], hexd[c&0xf]})
}

func (d *decoder) skipWS() {
	data := d.data
	i := d.i
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	d.i = i
}

// end checks that only whitespace follows the top-level value.
func (d *decoder) end() error {
	d.skipWS()
	if d.i < len(d.data) {
		return d.errAt(d.i, "unexpected "+describeByte(d.data[d.i])+" after top-level value")
	}
	return nil
}

func (d *decoder) parseValue() (any, error) {
	data := d.data
	i := d.i
	// Inline whitespace skip: values usually follow ':' or ',' directly or
	// after one space.
	for i < len(data) && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r') {
		i++
	}
	d.i = i
	if i >= len(data) {
		return nil, d.eof("expected a JSON value")
	}
	switch c := data[i]; c {
	case '"':
		return d.parseStringValue()
	case '{':
		m, err := d.parseObject()
		if err != nil {
			return nil, err
		}
		return m, nil
	case '[':
		return d.parseArray()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return d.parseNumber()
	default:
		return nil, d.errAt(i, "unexpected "+describeByte(c)+", expected a JSON value")
	}
}

func (d *decoder) literal(lit string) error {
	data := d.data
	i := d.i
	for k := 1; k < len(lit); k++ {
		if i+k >= len(data) {
			return d.eof("expected '" + lit + "'")
		}
		if data[i+k] != lit[k] {
			return d.errAt(i+k, "unexpected "+describeByte(data[i+k])+" in literal, expected '"+lit+"'")
		}
	}
	d.i = i + len(lit)
	return nil
}

func (d *decoder) parseObject() (map[string]any, error) {
	data := d.data
	start := d.i
	d.depth++
	if d.depth > MaxJSONDepth {
		return nil, d.errAt(start, "nesting deeper than "+strconv.Itoa(MaxJSONDepth)+" levels")
	}
	d.i++ // '{'
	d.skipWS()
	if d.i < len(data) && data[d.i] == '}' {
		d.i++
		d.depth--
		return make(map[string]any), nil
	}
	base := len(d.kvs)
	for {
		if d.i >= len(data) {
			return nil, d.eof("expected a string object key")
		}
		if data[d.i] != '"' {
			return nil, d.errAt(d.i, "unexpected "+describeByte(data[d.i])+", expected a string object key")
		}
		key, err := d.parseKey()
		if err != nil {
			return nil, err
		}
		if d.i < len(data) && data[d.i] == ':' {
			d.i++
		} else {
			d.skipWS()
			if d.i >= len(data) {
				return nil, d.eof("expected ':' after object key")
			}
			if data[d.i] != ':' {
				return nil, d.errAt(d.i, "expected ':' after object key")
			}
			d.i++
		}
		v, err := d.parseValue()
		if err != nil {
			return nil, err
		}
		d.kvs = append(d.kvs, kv{key, v})
		d.skipWS()
		if d.i >= len(data) {
			return nil, d.eof("expected ',' or '}' after object value")
		}
		c := data[d.i]
		d.i++
		if c == ',' {
			d.skipWS()
			continue
		}
		if c == '}' {
			break
		}
		return nil, d.errAt(d.i-1, "expected ',' or '}' after object value")
	}
	members := d.kvs[base:]
	m := make(map[string]any, len(members))
	for _, p := range members {
		m[p.k] = p.v // duplicate keys: last wins
	}
	clear(members)
	d.kvs = d.kvs[:base]
	d.depth--
	return m, nil
}

func (d *decoder) parseArray() (any, error) {
	data := d.data
	start := d.i
	d.depth++
	if d.depth > MaxJSONDepth {
		return nil, d.errAt(start, "nesting deeper than "+strconv.Itoa(MaxJSONDepth)+" levels")
	}
	d.i++ // '['
	d.skipWS()
	if d.i < len(data) && data[d.i] == ']' {
		d.i++
		d.depth--
		return make([]any, 0), nil
	}
	base := len(d.vals)
	for {
		v, err := d.parseValue()
		if err != nil {
			return nil, err
		}
		d.vals = append(d.vals, v)
		d.skipWS()
		if d.i >= len(data) {
			return nil, d.eof("expected ',' or ']' after array element")
		}
		c := data[d.i]
		d.i++
		if c == ',' {
			continue
		}
		if c == ']' {
			break
		}
		return nil, d.errAt(d.i-1, "expected ',' or ']' after array element")
	}
	elems := d.vals[base:]
	out := make([]any, len(elems))
	copy(out, elems)
	clear(elems)
	d.vals = d.vals[:base]
	d.depth--
	return out, nil
}

func (d *decoder) parseArrayStream(fn func(any) error) error {
	data := d.data
	d.skipWS()
	if d.i >= len(data) {
		return d.eof("expected '[' to start a JSON array")
	}
	if data[d.i] != '[' {
		return d.errAt(d.i, "expected '[' to start a JSON array, found "+describeByte(data[d.i]))
	}
	d.i++
	d.depth = 1
	d.skipWS()
	if d.i < len(data) && data[d.i] == ']' {
		d.i++
		return d.end()
	}
	for {
		v, err := d.parseValue()
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
		d.skipWS()
		if d.i >= len(data) {
			return d.eof("expected ',' or ']' after array element")
		}
		c := data[d.i]
		d.i++
		if c == ',' {
			continue
		}
		if c == ']' {
			return d.end()
		}
		return d.errAt(d.i-1, "expected ',' or ']' after array element")
	}
}

func (d *decoder) parseNumber() (any, error) {
	data := d.data
	start := d.i
	i := start
	neg := false
	if data[i] == '-' {
		neg = true
		i++
		if i >= len(data) {
			return nil, d.eof("expected digit after '-'")
		}
	}
	var u uint64
	digits := 0
	switch c := data[i]; {
	case c == '0':
		i++
		if i < len(data) && isDigit(data[i]) {
			return nil, d.errAt(i, "leading zero in number")
		}
		digits = 1
	case c >= '1' && c <= '9':
		for i < len(data) && isDigit(data[i]) {
			if digits < 19 {
				u = u*10 + uint64(data[i]-'0')
			}
			digits++
			i++
		}
	default:
		return nil, d.errAt(i, "unexpected "+describeByte(c)+", expected digit after '-'")
	}
	isInt := true
	if i < len(data) && data[i] == '.' {
		isInt = false
		i++
		if i >= len(data) {
			return nil, d.eof("expected digit after decimal point")
		}
		if !isDigit(data[i]) {
			return nil, d.errAt(i, "unexpected "+describeByte(data[i])+", expected digit after decimal point")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		isInt = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) {
			return nil, d.eof("expected digit in exponent")
		}
		if !isDigit(data[i]) {
			return nil, d.errAt(i, "unexpected "+describeByte(data[i])+", expected digit in exponent")
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	d.i = i
	if isInt && digits <= 19 {
		// 19 digits always fit in uint64; check the int64 range.
		if neg && u == 0 {
			return math.Copysign(0, -1), nil // "-0": keep the sign, as encoding/json does
		}
		if !neg && u <= math.MaxInt64 {
			return int64(u), nil
		}
		if neg && u <= 1<<63 {
			return -int64(u), nil // -(1<<63) wraps to MinInt64, as intended
		}
	}
	f, err := strconv.ParseFloat(string(data[start:i]), 64)
	if err != nil {
		return nil, d.errAt(start, "number "+string(data[start:i])+" is out of range for float64")
	}
	return f, nil
}

func isDigit(c byte) bool { return c-'0' <= 9 }

// plainByte reports bytes that can be copied verbatim inside a JSON string in
// both directions: printable ASCII other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialMask has the high bit set in the lowest byte of x that is < 0x20,
// '"', '\\' or >= 0x80 (higher flagged bytes may be false positives).
func specialMask(x uint64) uint64 {
	ctl := (x - lsb*0x20) &^ x
	q := x ^ (lsb * '"')
	q = (q - lsb) &^ q
	b := x ^ (lsb * '\\')
	b = (b - lsb) &^ b
	return (ctl | q | b | x) & msb
}

// scanPlain returns the index of the first byte at or after j that is not a
// plain string byte, or len(data).
func scanPlain(data []byte, j int) int {
	for j+8 <= len(data) {
		if m := specialMask(binary.LittleEndian.Uint64(data[j:])); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(data) && plainByte[data[j]] {
		j++
	}
	return j
}

// scanString finds the end of the string starting at the quote d.i. If it
// needs no unescaping it returns the content bounds and ok; otherwise end is
// where the slow path must take over.
func (d *decoder) scanString() (start, end int, ok bool, err error) {
	data := d.data
	start = d.i + 1
	j := start
	for {
		j = scanPlain(data, j)
		if j >= len(data) {
			return start, j, false, d.eof("unterminated string")
		}
		c := data[j]
		switch {
		case c == '"':
			d.i = j + 1
			return start, j, true, nil
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(data[j:])
			if r == utf8.RuneError && size == 1 {
				return start, j, false, nil
			}
			j += size
		case c == '\\':
			return start, j, false, nil
		default:
			return start, j, false, d.errAt(j, "invalid control character "+describeByte(c)+" in string")
		}
	}
}

// parseStringValue parses a string value, boxed. Short strings come from the
// intern cache when they were seen recently.
func (d *decoder) parseStringValue() (any, error) {
	start, end, ok, err := d.scanString()
	if err != nil {
		return nil, err
	}
	b := d.data[start:end]
	if !ok {
		if err := d.unescape(start, end); err != nil {
			return nil, err
		}
		b = d.buf
	}
	if len(b) == 0 || len(b) > maxInterned {
		return string(b), nil
	}
	h := internHash(b)
	if v := d.strs[h]; v != nil {
		if s := v.(string); s == string(b) {
			return v, nil
		}
	}
	var v any = string(b)
	d.strs[h] = v
	return v, nil
}

// parseKey parses an object key and the whitespace after it, interning short
// keys so that the same key in many documents is one string.
func (d *decoder) parseKey() (string, error) {
	start, end, ok, err := d.scanString()
	if err != nil {
		return "", err
	}
	var k string
	if ok {
		k = d.intern(d.data[start:end])
	} else {
		if err := d.unescape(start, end); err != nil {
			return "", err
		}
		k = d.intern(d.buf)
	}
	if d.i < len(d.data) && d.data[d.i] == ' ' {
		d.i++
	}
	return k, nil
}

func (d *decoder) intern(b []byte) string {
	if len(b) == 0 || len(b) > maxInterned {
		return string(b)
	}
	h := internHash(b)
	if s := d.keys[h]; s == string(b) {
		return s
	}
	s := string(b)
	d.keys[h] = s
	return s
}

// internHash maps a non-empty string of up to maxInterned bytes to a cache
// slot. It looks at up to 16 bytes and the length; collisions only cost a
// cache miss.
func internHash(b []byte) uint64 {
	n := len(b)
	var x uint64
	switch {
	case n >= 8:
		x = binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[n-8:]), 29)
	case n >= 4:
		x = uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32
	default:
		x = uint64(b[0]) | uint64(b[n>>1])<<8 | uint64(b[n-1])<<16
	}
	x ^= uint64(n) << 58
	return (x * 0x9E3779B97F4A7C15) >> (64 - 8) // internCacheSize == 1<<8
}

// unescape decodes the string whose content starts at start into d.buf;
// data[start:j] is already known to be plain. It sets d.i past the closing
// quote. Invalid UTF-8 and unpaired surrogate escapes become U+FFFD, exactly
// as encoding/json does.
func (d *decoder) unescape(start, j int) error {
	data := d.data
	buf := append(d.buf[:0], data[start:j]...)
	for {
		k := scanPlain(data, j)
		buf = append(buf, data[j:k]...)
		j = k
		if j >= len(data) {
			return d.eof("unterminated string")
		}
		c := data[j]
		switch {
		case c == '"':
			d.i = j + 1
			d.buf = buf
			return nil
		case c == '\\':
			if j+1 >= len(data) {
				return d.eof("unterminated string")
			}
			switch e := data[j+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, err := d.hex4(j)
				if err != nil {
					return err
				}
				j += 6
				if utf16.IsSurrogate(r) {
					if j+6 <= len(data) && data[j] == '\\' && data[j+1] == 'u' {
						if r2, ok := hex4(data[j+2 : j+6]); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								buf = utf8.AppendRune(buf, dec)
								j += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				return d.errAt(j, "invalid escape sequence '\\"+string(rune(e))+"' in string")
			}
			j += 2
		case c < 0x20:
			return d.errAt(j, "invalid control character "+describeByte(c)+" in string")
		default: // non-ASCII: copy valid UTF-8, replace each invalid byte
			r, size := utf8.DecodeRune(data[j:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, "\uFFFD"...)
			} else {
				buf = append(buf, data[j:j+size]...)
			}
			j += size
		}
	}
}

// hex4 decodes the four hex digits of the \u escape whose backslash is at j.
func (d *decoder) hex4(j int) (rune, error) {
	data := d.data
	for k := j + 2; k < j+6; k++ {
		if k >= len(data) {
			return 0, d.eof("unterminated string")
		}
		if hexVal(data[k]) < 0 {
			return 0, d.errAt(j, "invalid \\u escape in string, expected 4 hex digits")
		}
	}
	r, _ := hex4(data[j+2 : j+6])
	return r, nil
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		v := hexVal(c)
		if v < 0 {
			return 0, false
		}
		r = r<<4 | v
	}
	return r, true
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// ---------------------------------------------------------------------------
// Encoder

type encoder struct {
	depth int
	// tooDeep is set once maxEncodeDepth was exceeded (a cyclic tree); from
	// then on containers encode as null so the output stays bounded.
	tooDeep bool
}

func (e *encoder) value(dst []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendString(dst, t)
	case map[string]any:
		if t == nil {
			return append(dst, "null"...)
		}
		return e.object(dst, t)
	case []any:
		if t == nil {
			return append(dst, "null"...)
		}
		if !e.enter() {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i, x := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.value(dst, x)
		}
		e.depth--
		return append(dst, ']')
	case int64:
		return strconv.AppendInt(dst, t, 10)
	case float64:
		return appendFloat(dst, t, 64)
	case bool:
		if t {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case int:
		return strconv.AppendInt(dst, int64(t), 10)
	case int8:
		return strconv.AppendInt(dst, int64(t), 10)
	case int16:
		return strconv.AppendInt(dst, int64(t), 10)
	case int32:
		return strconv.AppendInt(dst, int64(t), 10)
	case uint:
		return strconv.AppendUint(dst, uint64(t), 10)
	case uint8:
		return strconv.AppendUint(dst, uint64(t), 10)
	case uint16:
		return strconv.AppendUint(dst, uint64(t), 10)
	case uint32:
		return strconv.AppendUint(dst, uint64(t), 10)
	case uint64:
		return strconv.AppendUint(dst, t, 10)
	case uintptr:
		return strconv.AppendUint(dst, uint64(t), 10)
	case float32:
		return appendFloat(dst, float64(t), 32)
	case []byte:
		if t == nil {
			return append(dst, "null"...)
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, t)
		return append(dst, '"')
	case time.Time:
		dst = append(dst, '"')
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	case json.Number:
		if t == "" {
			return append(dst, '0') // as encoding/json
		}
		if validNumber(string(t)) {
			return append(dst, t...)
		}
		return appendString(dst, string(t))
	case []string:
		if t == nil {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i, s := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']')
	case map[string]string:
		if t == nil {
			return append(dst, "null"...)
		}
		return appendStringMap(dst, t)
	case []map[string]any:
		if t == nil {
			return append(dst, "null"...)
		}
		if !e.enter() {
			return append(dst, "null"...)
		}
		dst = append(dst, '[')
		for i, m := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.value(dst, m)
		}
		e.depth--
		return append(dst, ']')
	case map[string][]string:
		if t == nil {
			return append(dst, "null"...)
		}
		return appendStringsMap(dst, t)
	case json.Marshaler, encoding.TextMarshaler:
		// The type chose its own JSON (or text) form; let encoding/json
		// apply it, with its validation and compaction.
		return appendReflect(dst, v)
	case error:
		return appendString(dst, safeString(t.Error))
	case fmt.Stringer:
		return appendString(dst, safeString(t.String))
	default:
		return appendReflect(dst, v)
	}
}

// enter accounts for one more level of nesting and reports whether the
// container may be written.
func (e *encoder) enter() bool {
	if e.tooDeep {
		return false
	}
	if e.depth >= maxEncodeDepth {
		e.tooDeep = true
		return false
	}
	e.depth++
	return true
}

// member is one map entry being sorted for output.
type member struct {
	k string
	v any
}

// object writes a non-nil map with its keys sorted. Maps of up to 16 keys are
// sorted in a stack array without allocating; larger ones are written in a
// remembered order when their key set was seen before (see keyorder.go).
func (e *encoder) object(dst []byte, m map[string]any) []byte {
	if len(m) == 0 {
		return append(dst, '{', '}')
	}
	if !e.enter() {
		return append(dst, "null"...)
	}
	out, _ := e.objectOrdered(dst, m)
	return out
}

// objectOrdered is object after enter; it also returns the remembered key
// order it used, if any.
func (e *encoder) objectOrdered(dst []byte, m map[string]any) ([]byte, *keyOrder) {
	var stack [16]member
	var ms []member
	var sig uint64
	if len(m) <= len(stack) {
		ms = stack[:0]
	} else {
		if len(m) <= maxKeyOrderKeys {
			sig = keySignature(m)
			if ko := lookupKeyOrder(sig, len(m)); ko != nil {
				if out, ok := e.objectKnownOrder(dst, m, ko); ok {
					e.depth--
					return out, ko
				}
			}
		}
		ms = make([]member, 0, len(m))
	}
	for k, v := range m {
		ms = append(ms, member{k, v})
	}
	if len(ms) <= len(stack) {
		for i := 1; i < len(ms); i++ {
			for j := i; j > 0 && ms[j].k < ms[j-1].k; j-- {
				ms[j], ms[j-1] = ms[j-1], ms[j]
			}
		}
	} else {
		slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.k, b.k) })
		if len(ms) <= maxKeyOrderKeys {
			rememberKeyOrder(sig, ms)
		}
	}
	dst = append(dst, '{')
	for i := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, ms[i].k)
		dst = append(dst, ':')
		dst = e.value(dst, ms[i].v)
	}
	e.depth--
	return append(dst, '}'), nil
}

func appendStringMap(dst []byte, m map[string]string) []byte {
	if len(m) == 0 {
		return append(dst, '{', '}')
	}
	var stack [16]string
	keys := sortedKeys(m, stack[:0])
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, m[k])
	}
	return append(dst, '}')
}

func appendStringsMap(dst []byte, m map[string][]string) []byte {
	if len(m) == 0 {
		return append(dst, '{', '}')
	}
	var stack [16]string
	keys := sortedKeys(m, stack[:0])
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		vs := m[k]
		if vs == nil {
			dst = append(dst, "null"...)
			continue
		}
		dst = append(dst, '[')
		for j, s := range vs {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// sortedKeys appends m's keys to keys (a stack buffer when it is big enough)
// and sorts them.
func sortedKeys[V any](m map[string]V, keys []string) []string {
	if len(m) > cap(keys) {
		keys = make([]string, 0, len(m))
	}
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) <= 16 {
		for i := 1; i < len(keys); i++ {
			for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
				keys[j], keys[j-1] = keys[j-1], keys[j]
			}
		}
	} else {
		slices.Sort(keys)
	}
	return keys
}

// safeString calls a String or Error method, writing "<nil>" like fmt when
// it panics on a nil receiver.
func safeString(f func() string) (s string) {
	defer func() {
		if recover() != nil {
			s = "<nil>"
		}
	}()
	return f()
}

// appendReflect is the rare path for types the switch does not know.
func appendReflect(dst []byte, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return append(dst, "null"...)
	}
	return append(dst, bytes.TrimRight(b.Bytes(), "\n")...)
}

// appendFloat formats f as encoding/json does; NaN and ±Inf become null.
func appendFloat(dst []byte, f float64, bitSize int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bitSize)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// validNumber reports whether s is a JSON number.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s):
		return false
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i == len(s)
}

// scanPlainString is scanPlain for a string.
func scanPlainString(s string, j int) int {
	for j+8 <= len(s) {
		x := uint64(s[j]) | uint64(s[j+1])<<8 | uint64(s[j+2])<<16 | uint64(s[j+3])<<24 |
			uint64(s[j+4])<<32 | uint64(s[j+5])<<40 | uint64(s[j+6])<<48 | uint64(s[j+7])<<56
		if m := specialMask(x); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
		j += 8
	}
	for j < len(s) && plainByte[s[j]] {
		j++
	}
	return j
}

// appendString writes s as a JSON string the way encoding/json does with
// HTML escaping off: U+2028 and U+2029 are escaped and each invalid UTF-8
// byte becomes \ufffd.
func appendString(dst []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	i := 0
	for {
		i = scanPlainString(s, i)
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexd[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
