package forward

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file is a MessagePack decoder for the subset the Forward protocol
// carries: nil, booleans, integers, floats, str, bin, arrays, maps and
// extensions (EventTime, type 0). It works on a complete message held in
// memory and never trusts a length header: capacities are bounded by the
// bytes that remain, so a header claiming 2^32 elements cannot make it
// allocate more than the input can back.
//
// Strings are not allocated one by one: a record's bytes are copied into one
// Go string and every key and string value of the record is a substring of
// it. A record therefore keeps only its own bytes alive, never the message.

// maxDepth is the deepest nesting of arrays and maps accepted in a record
// (the JSON decoder's limit).
const maxDepth = 512

// errShort is returned by the stream scanner when the buffer holds only the
// beginning of the next value.
var errShort = errors.New("msgpack: incomplete value")

// mpError is a malformed-message error with the byte offset where the
// problem was found.
type mpError struct {
	off int
	msg string
}

func (e *mpError) Error() string {
	return "invalid message at byte " + strconv.Itoa(e.off) + ": " + e.msg
}

// Kinds of values, as told by the first byte.
type kind uint8

const (
	kInvalid kind = iota
	kNil
	kBool
	kInt
	kUint
	kFloat
	kStr
	kBin
	kArray
	kMap
	kExt
)

func (k kind) String() string {
	return [...]string{"invalid", "nil", "bool", "int", "uint", "float", "str", "bin", "array", "map", "ext"}[k]
}

// kindOf classifies a first byte.
func kindOf(c byte) kind {
	switch {
	case c <= 0x7f, c >= 0xe0:
		return kInt
	case c <= 0x8f:
		return kMap
	case c <= 0x9f:
		return kArray
	case c <= 0xbf:
		return kStr
	}
	switch c {
	case 0xc0:
		return kNil
	case 0xc2, 0xc3:
		return kBool
	case 0xc4, 0xc5, 0xc6:
		return kBin
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return kExt
	case 0xca, 0xcb:
		return kFloat
	case 0xcc, 0xcd, 0xce, 0xcf:
		return kUint
	case 0xd0, 0xd1, 0xd2, 0xd3:
		return kInt
	case 0xd9, 0xda, 0xdb:
		return kStr
	case 0xdc, 0xdd:
		return kArray
	case 0xde, 0xdf:
		return kMap
	}
	return kInvalid // 0xc1
}

// header describes the value starting at b[0]: how many bytes its header
// takes, how many payload bytes follow (str, bin, ext, numbers) and how many
// child values follow (array elements, map keys and values). short reports
// that b ends inside the header.
func header(b []byte) (hdr int, payload uint64, children uint64, short bool, err error) {
	if len(b) == 0 {
		return 0, 0, 0, true, nil
	}
	c := b[0]
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return 1, 0, 0, false, nil
	case c <= 0x8f:
		return 1, 0, 2 * uint64(c&0x0f), false, nil
	case c <= 0x9f:
		return 1, 0, uint64(c & 0x0f), false, nil
	case c <= 0xbf:
		return 1, uint64(c & 0x1f), 0, false, nil
	}
	var size int // bytes of the length field
	switch c {
	case 0xc4, 0xc7, 0xd9, 0xcc, 0xd0:
		size = 1
	case 0xc5, 0xc8, 0xda, 0xcd, 0xd1, 0xdc, 0xde:
		size = 2
	case 0xc6, 0xc9, 0xdb, 0xce, 0xd2, 0xca, 0xdd, 0xdf:
		size = 4
	case 0xcf, 0xd3, 0xcb:
		size = 8
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext: type byte + 1..16 data bytes
		if len(b) < 2 {
			return 0, 0, 0, true, nil
		}
		return 2, 1 << (c - 0xd4), 0, false, nil
	default:
		return 0, 0, 0, false, &mpError{0, "byte 0xc1 is never used in MessagePack"}
	}
	switch c {
	case 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb:
		// numbers: the "length field" is the value itself
		return 1, uint64(size), 0, false, nil
	}
	if len(b) < 1+size {
		return 0, 0, 0, true, nil
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(b[1])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b[1:]))
	case 4:
		n = uint64(binary.BigEndian.Uint32(b[1:]))
	}
	switch c {
	case 0xdc, 0xdd:
		return 1 + size, 0, n, false, nil
	case 0xde, 0xdf:
		return 1 + size, 0, 2 * n, false, nil
	case 0xc7, 0xc8, 0xc9: // ext: length, type, data
		if len(b) < 2+size {
			return 0, 0, 0, true, nil
		}
		return 2 + size, n, 0, false, nil
	}
	return 1 + size, n, 0, false, nil
}

// scanner finds where one MessagePack value ends in a stream. It is
// resumable: when the buffer ends early it keeps its position, so feeding
// more bytes and calling scan again costs only the new bytes (a message
// arriving one byte at a time is scanned in linear time).
type scanner struct {
	pos     int    // offset of the next header to read
	pending uint64 // values still to read; 0 before the first call
	started bool
}

// scan reports the length of the value at the start of b. When b holds only
// part of it, it returns errShort and need, the total length known to be
// required so far (len(b)+1 when unknown).
func (s *scanner) scan(b []byte) (n, need int, err error) {
	if !s.started {
		s.started, s.pending, s.pos = true, 1, 0
	}
	for s.pending > 0 {
		hdr, payload, children, short, err := header(b[s.pos:])
		if err != nil {
			return 0, 0, &mpError{s.pos, err.(*mpError).msg}
		}
		if short {
			return 0, len(b) + 1, errShort
		}
		end := uint64(s.pos) + uint64(hdr) + payload
		if end > uint64(len(b)) {
			if end > math.MaxInt32 {
				return 0, math.MaxInt32, errShort
			}
			return 0, int(end), errShort
		}
		s.pos = int(end)
		s.pending += children - 1
		if s.pending > math.MaxInt64 {
			// more values announced than any buffer can hold
			return 0, math.MaxInt32, errShort
		}
	}
	n = s.pos
	*s = scanner{}
	return n, 0, nil
}

// skipValue returns the length of the complete value at the start of b.
func skipValue(b []byte) (int, error) {
	var s scanner
	n, _, err := s.scan(b)
	if err == errShort {
		return 0, &mpError{len(b), "value is truncated"}
	}
	return n, err
}

// reader decodes values from a complete message. For string values it needs
// str, a string copy of b[base:base+len(str)]: strings are cut from it.
type reader struct {
	b    []byte
	i    int
	str  string
	base int
}

func (r *reader) fail(msg string) error { return &mpError{r.i, msg} }

func (r *reader) failf(format string, args ...any) error {
	return &mpError{r.i, fmt.Sprintf(format, args...)}
}

func (r *reader) eof() bool { return r.i >= len(r.b) }

// peek returns the kind of the next value.
func (r *reader) peek() kind {
	if r.i >= len(r.b) {
		return kInvalid
	}
	return kindOf(r.b[r.i])
}

func (r *reader) need(n int) error {
	if len(r.b)-r.i < n {
		r.i = len(r.b)
		return r.fail("message is truncated")
	}
	return nil
}

// remaining returns the bytes left, a bound for any element count.
func (r *reader) remaining() int { return len(r.b) - r.i }

// arrayHeader reads an array header and returns the element count.
func (r *reader) arrayHeader() (int, error) {
	if err := r.need(1); err != nil {
		return 0, err
	}
	c := r.b[r.i]
	var n int
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = int(c & 0x0f)
		r.i++
	case c == 0xdc:
		if err := r.need(3); err != nil {
			return 0, err
		}
		n = int(binary.BigEndian.Uint16(r.b[r.i+1:]))
		r.i += 3
	case c == 0xdd:
		if err := r.need(5); err != nil {
			return 0, err
		}
		n = int(binary.BigEndian.Uint32(r.b[r.i+1:]))
		r.i += 5
	default:
		return 0, r.failf("expected an array, found %s", kindOf(c))
	}
	if n > r.remaining() {
		return 0, r.failf("array of %d elements in %d bytes", n, r.remaining())
	}
	return n, nil
}

// mapHeader reads a map header and returns the number of pairs.
func (r *reader) mapHeader() (int, error) {
	if err := r.need(1); err != nil {
		return 0, err
	}
	c := r.b[r.i]
	var n int
	switch {
	case c >= 0x80 && c <= 0x8f:
		n = int(c & 0x0f)
		r.i++
	case c == 0xde:
		if err := r.need(3); err != nil {
			return 0, err
		}
		n = int(binary.BigEndian.Uint16(r.b[r.i+1:]))
		r.i += 3
	case c == 0xdf:
		if err := r.need(5); err != nil {
			return 0, err
		}
		n = int(binary.BigEndian.Uint32(r.b[r.i+1:]))
		r.i += 5
	default:
		return 0, r.failf("expected a map, found %s", kindOf(c))
	}
	if n > r.remaining()/2 {
		return 0, r.failf("map of %d pairs in %d bytes", n, r.remaining())
	}
	return n, nil
}

// rawBytes reads a str or bin value and returns its bytes (a sub-slice of
// the message: copy before keeping). isStr tells which it was.
func (r *reader) rawBytes() (b []byte, isStr bool, err error) {
	if err := r.need(1); err != nil {
		return nil, false, err
	}
	c := r.b[r.i]
	var n, hdr int
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n, hdr, isStr = int(c&0x1f), 1, true
	case c == 0xd9 || c == 0xc4:
		if err := r.need(2); err != nil {
			return nil, false, err
		}
		n, hdr, isStr = int(r.b[r.i+1]), 2, c == 0xd9
	case c == 0xda || c == 0xc5:
		if err := r.need(3); err != nil {
			return nil, false, err
		}
		n, hdr, isStr = int(binary.BigEndian.Uint16(r.b[r.i+1:])), 3, c == 0xda
	case c == 0xdb || c == 0xc6:
		if err := r.need(5); err != nil {
			return nil, false, err
		}
		n, hdr, isStr = int(binary.BigEndian.Uint32(r.b[r.i+1:])), 5, c == 0xdb
	default:
		return nil, false, r.failf("expected a string, found %s", kindOf(c))
	}
	if err := r.need(hdr + n); err != nil {
		return nil, false, err
	}
	start := r.i + hdr
	r.i = start + n
	return r.b[start:r.i:r.i], isStr, nil
}

// stringValue reads a str or bin value as a new Go string.
func (r *reader) stringValue() (string, error) {
	b, _, err := r.rawBytes()
	return string(b), err
}

// skip moves past one value.
func (r *reader) skip() error {
	n, err := skipValue(r.b[r.i:])
	if err != nil {
		if e, ok := err.(*mpError); ok {
			e.off += r.i
		}
		r.i = len(r.b)
		return err
	}
	r.i += n
	return nil
}

// integer reads any integer as int64; a uint64 above MaxInt64 fails
// (used for times and options).
func (r *reader) integer() (int64, error) {
	v, err := r.number()
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x), nil
		}
	}
	return 0, r.fail("integer out of range")
}

// number reads an int, uint or float: int64 when it fits, else float64.
func (r *reader) number() (any, error) {
	if err := r.need(1); err != nil {
		return nil, err
	}
	c := r.b[r.i]
	switch {
	case c <= 0x7f:
		r.i++
		return int64(c), nil
	case c >= 0xe0:
		r.i++
		return int64(int8(c)), nil
	}
	size := 0
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2, 0xca:
		size = 4
	case 0xcf, 0xd3, 0xcb:
		size = 8
	default:
		return nil, r.failf("expected a number, found %s", kindOf(c))
	}
	if err := r.need(1 + size); err != nil {
		return nil, err
	}
	p := r.b[r.i+1:]
	r.i += 1 + size
	switch c {
	case 0xcc:
		return int64(p[0]), nil
	case 0xcd:
		return int64(binary.BigEndian.Uint16(p)), nil
	case 0xce:
		return int64(binary.BigEndian.Uint32(p)), nil
	case 0xcf:
		u := binary.BigEndian.Uint64(p)
		if u > math.MaxInt64 {
			return float64(u), nil
		}
		return int64(u), nil
	case 0xd0:
		return int64(int8(p[0])), nil
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(p))), nil
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(p))), nil
	case 0xd3:
		return int64(binary.BigEndian.Uint64(p)), nil
	case 0xca:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p))), nil
	default: // 0xcb
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	}
}

// ext reads an extension value: its type and data.
func (r *reader) ext() (int8, []byte, error) {
	hdr, payload, _, short, err := header(r.b[r.i:])
	if err != nil || short || kindOf(r.b[r.i]) != kExt {
		return 0, nil, r.fail("invalid extension value")
	}
	if err := r.need(hdr + int(payload)); err != nil {
		return 0, nil, err
	}
	typ := int8(r.b[r.i+hdr-1])
	data := r.b[r.i+hdr : r.i+hdr+int(payload)]
	r.i += hdr + int(payload)
	return typ, data, nil
}

// extTime decodes EventTime (type 0: uint32 seconds, uint32 nanoseconds,
// big-endian) and the MessagePack timestamp extension (type -1).
func extTime(typ int8, d []byte) (sec, nsec int64, ok bool) {
	switch {
	case typ == 0 && len(d) == 8:
		return int64(binary.BigEndian.Uint32(d)), int64(binary.BigEndian.Uint32(d[4:])), true
	case typ == -1 && len(d) == 4:
		return int64(binary.BigEndian.Uint32(d)), 0, true
	case typ == -1 && len(d) == 8:
		v := binary.BigEndian.Uint64(d)
		return int64(v & (1<<34 - 1)), int64(v >> 34), true
	case typ == -1 && len(d) == 12:
		return int64(binary.BigEndian.Uint64(d[4:])), int64(binary.BigEndian.Uint32(d)), true
	}
	return 0, 0, false
}

// eventTime reads an entry's time: integer or float seconds, EventTime, a
// MessagePack timestamp, nil, or Fluent Bit's [time, metadata] pair. zero
// reports "no time" (nil or 0), which the caller replaces by the time
// received, as Fluentd does.
func (r *reader) eventTime() (t time.Time, zero bool, err error) {
	switch r.peek() {
	case kNil:
		r.i++
		return time.Time{}, true, nil
	case kInt, kUint:
		sec, err := r.integer()
		if err != nil {
			return time.Time{}, false, err
		}
		if sec == 0 {
			return time.Time{}, true, nil
		}
		return time.Unix(sec, 0).UTC(), false, nil
	case kFloat:
		v, err := r.number()
		if err != nil {
			return time.Time{}, false, err
		}
		f := v.(float64)
		if math.IsNaN(f) || f <= math.MinInt64 || f >= math.MaxInt64 {
			return time.Time{}, false, r.fail("time out of range")
		}
		sec := math.Floor(f)
		if sec == 0 {
			return time.Time{}, true, nil
		}
		return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), false, nil
	case kExt:
		typ, d, err := r.ext()
		if err != nil {
			return time.Time{}, false, err
		}
		sec, nsec, ok := extTime(typ, d)
		if !ok {
			return time.Time{}, false, r.failf("time is an extension of type %d and %d bytes, not EventTime", typ, len(d))
		}
		if sec == 0 {
			return time.Time{}, true, nil
		}
		return time.Unix(sec, nsec).UTC(), false, nil
	case kArray:
		// Fluent Bit's event format: [[time, {metadata}], record]
		n, err := r.arrayHeader()
		if err != nil {
			return time.Time{}, false, err
		}
		if n != 2 || r.peek() == kArray {
			return time.Time{}, false, r.fail("time is an array but not [time, metadata]")
		}
		t, zero, err := r.eventTime()
		if err != nil {
			return t, zero, err
		}
		return t, zero, r.skip()
	}
	return time.Time{}, false, r.failf("time must be an integer or EventTime, found %s", r.peek())
}

// record decodes a map into a field tree. The record's bytes are copied
// into one string that all its keys and string values share.
func (r *reader) record() (map[string]any, error) {
	n, err := skipValue(r.b[r.i:])
	if err != nil {
		return nil, err
	}
	r.str, r.base = string(r.b[r.i:r.i+n]), r.i
	m, err := r.mapValue(0)
	r.str = ""
	return m, err
}

// str cuts the string for raw bytes of the current record (b must be a
// sub-slice of r.b inside the record).
func (r *reader) cut(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	start := r.i - len(b) - r.base
	return r.str[start : start+len(b)]
}

func (r *reader) mapValue(depth int) (map[string]any, error) {
	if depth >= maxDepth {
		return nil, r.fail("nesting deeper than 512 levels")
	}
	n, err := r.mapHeader()
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, min(n, 64))
	for range n {
		k, err := r.key()
		if err != nil {
			return nil, err
		}
		v, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}

// key reads a map key: str or bin as is; numbers, booleans and nil as their
// text; arrays, maps and extensions are rejected.
func (r *reader) key() (string, error) {
	switch r.peek() {
	case kStr, kBin:
		b, _, err := r.rawBytes()
		if err != nil {
			return "", err
		}
		return r.cut(b), nil
	case kInt, kUint, kFloat:
		v, err := r.number()
		if err != nil {
			return "", err
		}
		if i, ok := v.(int64); ok {
			return strconv.FormatInt(i, 10), nil
		}
		return strconv.FormatFloat(v.(float64), 'g', -1, 64), nil
	case kBool:
		r.i++
		return strconv.FormatBool(r.b[r.i-1] == 0xc3), nil
	case kNil:
		r.i++
		return "null", nil
	}
	return "", r.failf("map key must be a string, found %s", r.peek())
}

// value decodes any value into the event model.
func (r *reader) value(depth int) (any, error) {
	switch r.peek() {
	case kNil:
		r.i++
		return nil, nil
	case kBool:
		r.i++
		return r.b[r.i-1] == 0xc3, nil
	case kInt, kUint, kFloat:
		return r.number()
	case kStr:
		b, _, err := r.rawBytes()
		if err != nil {
			return nil, err
		}
		return r.cut(b), nil
	case kBin:
		b, _, err := r.rawBytes()
		if err != nil {
			return nil, err
		}
		if utf8.Valid(b) {
			return r.cut(b), nil
		}
		return base64.StdEncoding.EncodeToString(b), nil
	case kArray:
		if depth >= maxDepth {
			return nil, r.fail("nesting deeper than 512 levels")
		}
		n, err := r.arrayHeader()
		if err != nil {
			return nil, err
		}
		a := make([]any, n) // n <= remaining bytes
		for i := range a {
			if a[i], err = r.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return a, nil
	case kMap:
		return r.mapValue(depth)
	case kExt:
		typ, d, err := r.ext()
		if err != nil {
			return nil, err
		}
		if sec, nsec, ok := extTime(typ, d); ok {
			return time.Unix(sec, nsec).UTC().Format(time.RFC3339Nano), nil
		}
		return nil, nil
	}
	if r.eof() {
		return nil, r.fail("message is truncated")
	}
	return nil, r.fail("byte 0xc1 is never used in MessagePack")
}

// Encoding, for the server's replies (HELO, PONG, ack).

func appendArray(b []byte, n int) []byte {
	if n < 16 {
		return append(b, 0x90|byte(n))
	}
	return append(b, 0xdc, byte(n>>8), byte(n))
}

func appendMap(b []byte, n int) []byte {
	if n < 16 {
		return append(b, 0x80|byte(n))
	}
	return append(b, 0xde, byte(n>>8), byte(n))
}

func appendStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 1<<8:
		b = append(b, 0xd9, byte(n))
	case n < 1<<16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, s...)
}

func appendBin(b []byte, p []byte) []byte {
	switch n := len(p); {
	case n < 1<<8:
		b = append(b, 0xc4, byte(n))
	case n < 1<<16:
		b = append(b, 0xc5, byte(n>>8), byte(n))
	default:
		b = append(b, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, p...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}
