package fluentbit

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tinylib/msgp/msgp"

	"github.com/weft-agent/weft/pipelines/event"
)

// This file decodes the chunks Fluent Bit hands an output plugin: a
// concatenation of MessagePack entries, each either
//
//	[time, record]                 (Fluent Bit < 2.1, and the Forward protocol)
//	[[time, metadata], record]     (Fluent Bit >= 2.1, "v2" event format)
//
// where time is EventTime (extension type 0: uint32 seconds, uint32
// nanoseconds, big-endian), an integer or a float of seconds, and record a
// map with str or bin keys. Values are converted as the forward source does:
// bin becomes a string when it is valid UTF-8, else its base64 text;
// EventTime values become RFC 3339 strings; other extensions become null.
//
// The primitives come from tinylib/msgp; nothing here trusts a length
// header: capacities are bounded by the bytes that remain.

// maxDepth is the deepest nesting accepted in a record (the JSON decoder's
// and the forward source's limit).
const maxDepth = 512

// Fluent Bit >= 4.0 wraps records of OpenTelemetry inputs in groups whose
// start and end markers are entries with these times; they carry no record.
const (
	groupStart = -1
	groupEnd   = -2
)

// errDecode wraps every decoding failure: the chunk can never be delivered.
var errDecode = errors.New("undecodable Fluent Bit chunk")

type decodeError struct {
	entry int
	off   int
	msg   string
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("entry %d at byte %d: %s", e.entry, e.off, e.msg)
}

func (e *decodeError) Unwrap() error { return errDecode }

// chunkDecoder turns chunks into events.
type chunkDecoder struct {
	tagKey      string
	metadataKey string
}

// sourceName is the value of every event's "source" metadata; boxed once.
var sourceName any = "fluentbit"

// decode decodes every entry of a chunk. Entries with a nil record and group
// markers are skipped; now replaces a missing (nil or 0) time.
func (d *chunkDecoder) decode(data []byte, tag string, now time.Time) ([]*event.Event, error) {
	var tagVal any = tag
	var evs []*event.Event
	b := data
	for i := 0; len(b) > 0; i++ {
		off := len(data) - len(b)
		fail := func(format string, args ...any) error {
			return &decodeError{entry: i, off: off, msg: fmt.Sprintf(format, args...)}
		}
		n, rest, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return nil, fail("an entry must be an array: %v", err)
		}
		if n != 2 {
			return nil, fail("an entry is [time, record], found an array of %d elements", n)
		}
		b = rest
		var meta map[string]any
		if msgp.NextType(b) == msgp.ArrayType { // v2: [[time, metadata], record]
			hn, rest, err := msgp.ReadArrayHeaderBytes(b)
			if err != nil {
				return nil, fail("header: %v", err)
			}
			if hn != 2 {
				return nil, fail("the header is [time, metadata], found an array of %d elements", hn)
			}
			b = rest
			t, marker, rest, err := readTime(b)
			if err != nil {
				return nil, fail("time: %v", err)
			}
			b = rest
			if msgp.NextType(b) == msgp.NilType {
				b = b[1:]
			} else {
				var v any
				if v, b, err = readValue(b, 0); err != nil {
					return nil, fail("metadata: %v", err)
				}
				m, ok := v.(map[string]any)
				if !ok {
					return nil, fail("metadata must be a map, found %T", v)
				}
				if len(m) > 0 {
					meta = m
				}
			}
			if marker {
				if b, err = msgp.Skip(b); err != nil {
					return nil, fail("record: %v", err)
				}
				continue
			}
			evs, b, err = d.record(evs, b, t, now, tagVal, meta)
			if err != nil {
				return nil, fail("record: %v", err)
			}
			continue
		}
		t, marker, rest, err := readTime(b)
		if err != nil {
			return nil, fail("time: %v", err)
		}
		b = rest
		if marker {
			if b, err = msgp.Skip(b); err != nil {
				return nil, fail("record: %v", err)
			}
			continue
		}
		if evs, b, err = d.record(evs, b, t, now, tagVal, nil); err != nil {
			return nil, fail("record: %v", err)
		}
	}
	return evs, nil
}

// record decodes one record map and appends its event.
func (d *chunkDecoder) record(evs []*event.Event, b []byte, t, now time.Time, tag any, meta map[string]any) ([]*event.Event, []byte, error) {
	switch msgp.NextType(b) {
	case msgp.NilType:
		return evs, b[1:], nil
	case msgp.MapType:
	default:
		return evs, b, fmt.Errorf("a record must be a map, found %s", msgp.NextType(b))
	}
	v, rest, err := readValue(b, 0)
	if err != nil {
		return evs, b, err
	}
	fields := v.(map[string]any)
	if t.IsZero() {
		t = now
	}
	if d.tagKey != "" {
		fields[d.tagKey] = tag
	}
	if d.metadataKey != "" && meta != nil {
		fields[d.metadataKey] = meta
	}
	ev := event.New(event.KindLog, t, fields)
	ev.SetMetadata("tag", tag)
	ev.SetMetadata("source", sourceName)
	if meta != nil {
		ev.SetMetadata("fluentbit_metadata", meta)
	}
	return append(evs, ev), rest, nil
}

// readTime reads an entry's time. A zero time.Time means "no time" (nil or
// 0); marker reports a group start or end entry.
func readTime(b []byte) (t time.Time, marker bool, rest []byte, err error) {
	switch msgp.NextType(b) {
	case msgp.NilType:
		return time.Time{}, false, b[1:], nil
	case msgp.IntType, msgp.UintType:
		sec, rest, err := readInt(b)
		if err != nil {
			return time.Time{}, false, b, err
		}
		if sec == groupStart || sec == groupEnd {
			return time.Time{}, true, rest, nil
		}
		if sec == 0 {
			return time.Time{}, false, rest, nil
		}
		return time.Unix(sec, 0).UTC(), false, rest, nil
	case msgp.Float64Type, msgp.Float32Type:
		f, rest, err := msgp.ReadFloat64Bytes(b)
		if err != nil {
			return time.Time{}, false, b, err
		}
		if math.IsNaN(f) || f <= math.MinInt64 || f >= math.MaxInt64 {
			return time.Time{}, false, b, errors.New("time out of range")
		}
		sec := math.Floor(f)
		if sec == 0 {
			return time.Time{}, false, rest, nil
		}
		return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), false, rest, nil
	case msgp.ExtensionType, msgp.TimeType:
		typ, data, rest, err := readExt(b)
		if err != nil {
			return time.Time{}, false, b, err
		}
		sec, nsec, ok := extTime(typ, data)
		if !ok {
			return time.Time{}, false, b, fmt.Errorf("an extension of type %d and %d bytes is not EventTime", typ, len(data))
		}
		if typ == 0 && (sec == 1<<32+groupStart || sec == 1<<32+groupEnd) {
			// group markers written as EventTime (uint32 seconds)
			return time.Time{}, true, rest, nil
		}
		if sec == 0 && nsec == 0 {
			return time.Time{}, false, rest, nil
		}
		return time.Unix(sec, nsec).UTC(), false, rest, nil
	}
	return time.Time{}, false, b, fmt.Errorf("must be EventTime or a number, found %s", msgp.NextType(b))
}

// readInt reads any integer as int64 (a uint64 above MaxInt64 fails).
func readInt(b []byte) (int64, []byte, error) {
	if msgp.NextType(b) == msgp.UintType {
		u, rest, err := msgp.ReadUint64Bytes(b)
		if err != nil {
			return 0, b, err
		}
		if u > math.MaxInt64 {
			return 0, b, errors.New("integer out of range")
		}
		return int64(u), rest, nil
	}
	return msgp.ReadInt64Bytes(b)
}

// readExt reads an extension value's type and data.
func readExt(b []byte) (typ int8, data, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, b, msgp.ErrShortBytes
	}
	var hdr, n int
	switch c := b[0]; c {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		hdr, n = 2, 1<<(c-0xd4)
	case 0xc7:
		hdr, n = 3, int(b[1])
	case 0xc8:
		if len(b) < 4 {
			return 0, nil, b, msgp.ErrShortBytes
		}
		hdr, n = 4, int(binary.BigEndian.Uint16(b[1:]))
	case 0xc9:
		if len(b) < 6 {
			return 0, nil, b, msgp.ErrShortBytes
		}
		hdr, n = 6, int(binary.BigEndian.Uint32(b[1:]))
	default:
		return 0, nil, b, fmt.Errorf("not an extension: 0x%02x", c)
	}
	if len(b) < hdr || n > len(b)-hdr {
		return 0, nil, b, msgp.ErrShortBytes
	}
	return int8(b[hdr-1]), b[hdr : hdr+n], b[hdr+n:], nil
}

// extTime decodes EventTime (type 0) and the MessagePack timestamp (type -1).
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

// readValue decodes any value into the event model: map[string]any, []any,
// string, int64 (float64 for a uint64 above MaxInt64), float64, bool, nil.
func readValue(b []byte, depth int) (any, []byte, error) {
	switch msgp.NextType(b) {
	case msgp.NilType:
		return nil, b[1:], nil
	case msgp.BoolType:
		return msgp.ReadBoolBytes(b)
	case msgp.IntType:
		return msgp.ReadInt64Bytes(b)
	case msgp.UintType:
		u, rest, err := msgp.ReadUint64Bytes(b)
		if err != nil {
			return nil, b, err
		}
		if u > math.MaxInt64 {
			return float64(u), rest, nil
		}
		return int64(u), rest, nil
	case msgp.Float32Type, msgp.Float64Type:
		return msgp.ReadFloat64Bytes(b)
	case msgp.StrType:
		s, rest, err := msgp.ReadStringZC(b)
		return string(s), rest, err
	case msgp.BinType:
		p, rest, err := msgp.ReadBytesZC(b)
		if err != nil {
			return nil, b, err
		}
		if utf8.Valid(p) {
			return string(p), rest, nil
		}
		return base64.StdEncoding.EncodeToString(p), rest, nil
	case msgp.ArrayType:
		if depth >= maxDepth {
			return nil, b, errors.New("nesting deeper than 512 levels")
		}
		n, rest, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return nil, b, err
		}
		if int64(n) > int64(len(rest)) {
			return nil, b, fmt.Errorf("array of %d elements in %d bytes", n, len(rest))
		}
		a := make([]any, n)
		for i := range a {
			if a[i], rest, err = readValue(rest, depth+1); err != nil {
				return nil, b, err
			}
		}
		return a, rest, nil
	case msgp.MapType:
		if depth >= maxDepth {
			return nil, b, errors.New("nesting deeper than 512 levels")
		}
		n, rest, err := msgp.ReadMapHeaderBytes(b)
		if err != nil {
			return nil, b, err
		}
		if int64(n) > int64(len(rest)/2) {
			return nil, b, fmt.Errorf("map of %d pairs in %d bytes", n, len(rest))
		}
		m := make(map[string]any, min(int(n), 64))
		for range n {
			var k string
			if k, rest, err = readKey(rest); err != nil {
				return nil, b, err
			}
			var v any
			if v, rest, err = readValue(rest, depth+1); err != nil {
				return nil, b, err
			}
			m[k] = v
		}
		return m, rest, nil
	case msgp.ExtensionType, msgp.TimeType:
		typ, data, rest, err := readExt(b)
		if err != nil {
			return nil, b, err
		}
		if sec, nsec, ok := extTime(typ, data); ok {
			return time.Unix(sec, nsec).UTC().Format(time.RFC3339Nano), rest, nil
		}
		return nil, rest, nil
	}
	if len(b) == 0 {
		return nil, b, msgp.ErrShortBytes
	}
	return nil, b, fmt.Errorf("unsupported MessagePack value (first byte 0x%02x)", b[0])
}

// readKey reads a map key: str or bin as is; numbers, booleans and nil as
// their text (as the forward source does); anything else fails.
func readKey(b []byte) (string, []byte, error) {
	switch msgp.NextType(b) {
	case msgp.StrType:
		s, rest, err := msgp.ReadStringZC(b)
		return string(s), rest, err
	case msgp.BinType:
		p, rest, err := msgp.ReadBytesZC(b)
		return string(p), rest, err
	case msgp.IntType, msgp.UintType, msgp.Float32Type, msgp.Float64Type:
		v, rest, err := readValue(b, 0)
		if err != nil {
			return "", b, err
		}
		if i, ok := v.(int64); ok {
			return strconv.FormatInt(i, 10), rest, nil
		}
		return strconv.FormatFloat(v.(float64), 'g', -1, 64), rest, nil
	case msgp.BoolType:
		v, rest, err := msgp.ReadBoolBytes(b)
		return strconv.FormatBool(v), rest, err
	case msgp.NilType:
		return "null", b[1:], nil
	}
	return "", b, fmt.Errorf("a map key must be a string, found %s", msgp.NextType(b))
}
