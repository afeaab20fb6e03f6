package forward

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// Fluentd's in_forward also reads messages serialized as JSON when a
// connection's first byte is '[' or '{' (fluent-logger-golang's
// MarshalAsJSON). Only Message and Forward modes exist in JSON.

var errJSONDepth = errors.New("JSON nesting deeper than 512 levels")

// jsonScanner finds where one JSON array or object ends in a stream. Like
// scanner it is resumable, so a message arriving in pieces is scanned once.
type jsonScanner struct {
	pos   int
	depth int
	inStr bool
	esc   bool
}

// scan reports the length of the JSON value at the start of b (which starts
// with '[' or '{'), or errShort.
func (s *jsonScanner) scan(b []byte) (int, error) {
	for ; s.pos < len(b); s.pos++ {
		c := b[s.pos]
		if s.inStr {
			switch {
			case s.esc:
				s.esc = false
			case c == '\\':
				s.esc = true
			case c == '"':
				s.inStr = false
			}
			continue
		}
		switch c {
		case '"':
			s.inStr = true
		case '[', '{':
			s.depth++
			if s.depth > maxDepth {
				return 0, errJSONDepth
			}
		case ']', '}':
			s.depth--
			if s.depth <= 0 {
				n := s.pos + 1
				*s = jsonScanner{}
				return n, nil
			}
		}
	}
	return 0, errShort
}

// decodeJSON interprets a JSON message: [tag, time, record, option?] or
// [tag, [[time, record], ...], option?].
func (d *decoder) decodeJSON(b []byte, now time.Time) (message, error) {
	v, err := event.DecodeJSON(b)
	if err != nil {
		return message{}, err
	}
	a, ok := v.([]any)
	if !ok || len(a) < 2 || len(a) > 4 {
		return message{}, errors.New("a message is an array of 2 to 4 elements")
	}
	tag, ok := a[0].(string)
	if !ok {
		return message{}, errors.New("tag must be a string")
	}
	if tag != d.tag || d.tagVal == nil {
		d.tag, d.tagVal = tag, tag
	}
	msg := message{tag: tag}
	var opt any
	d.evs, d.next = nil, 0
	if entries, ok := a[1].([]any); ok {
		if len(a) > 3 {
			return message{}, errors.New("Forward mode message has more than 3 elements")
		}
		d.alloc(len(entries), len(entries))
		for i, e := range entries {
			pair, ok := e.([]any)
			if !ok || len(pair) != 2 {
				return message{}, fmt.Errorf("entry %d is not [time, record]", i)
			}
			if err := d.jsonEvent(pair[0], pair[1], now); err != nil {
				return message{}, fmt.Errorf("entry %d: %w", i, err)
			}
		}
		if len(a) == 3 {
			opt = a[2]
		}
	} else {
		if len(a) < 3 {
			return message{}, errors.New("Message mode message needs a time and a record")
		}
		d.alloc(1, 1)
		if err := d.jsonEvent(a[1], a[2], now); err != nil {
			return message{}, err
		}
		if len(a) == 4 {
			opt = a[3]
		}
	}
	switch o := opt.(type) {
	case nil:
	case map[string]any:
		if c, ok := o["chunk"]; ok {
			s, ok := c.(string)
			if !ok {
				return message{}, errors.New("option chunk must be a string")
			}
			msg.chunk = s
		}
		if c, ok := o["compressed"]; ok && c != "text" {
			return message{}, errors.New("option compressed is not valid in JSON messages")
		}
	default:
		return message{}, errors.New("option must be an object")
	}
	msg.events = d.evs[:d.next]
	return msg, nil
}

func (d *decoder) jsonEvent(tv, rv any, now time.Time) error {
	var t time.Time
	switch x := tv.(type) {
	case nil:
	case int64:
		if x != 0 {
			t = time.Unix(x, 0).UTC()
		}
	case float64:
		if math.IsNaN(x) || x <= math.MinInt64 || x >= math.MaxInt64 {
			return errors.New("time out of range")
		}
		if sec := math.Floor(x); sec != 0 {
			t = time.Unix(int64(sec), int64((x-sec)*1e9)).UTC()
		}
	default:
		return errors.New("time must be a number")
	}
	if t.IsZero() {
		t = now
	}
	if rv == nil {
		return nil
	}
	fields, ok := rv.(map[string]any)
	if !ok {
		return errors.New("record must be an object")
	}
	d.add(t, fields)
	return nil
}
