package forward

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// errTooLarge is returned when a message, or its entries after
// decompression, exceed max_message_size.
var errTooLarge = errors.New("message larger than max_message_size")

// errUnsupported marks messages weft understands but does not take
// (Fluent Bit metrics and traces).
var errUnsupported = errors.New("unsupported message")

// message is one decoded Forward message.
type message struct {
	tag    string
	chunk  string // option "chunk": the client wants {"ack": chunk}
	events []*event.Event
}

// decoder turns Forward messages into events. One decoder serves one
// connection (it is not safe for concurrent use) and reuses its gzip reader
// and decompression buffer between messages.
type decoder struct {
	maxSize int
	tagKey  string
	gz      *gzip.Reader
	inflate bytes.Buffer
	evs     []*event.Event // events of the current message, preallocated
	next    int            // how many of evs are used
	tagVal  any
	tag     string
}

func newDecoder(maxSize int, tagKey string) *decoder {
	return &decoder{maxSize: maxSize, tagKey: tagKey}
}

// options is what weft reads from a message's option map.
type options struct {
	chunk      string
	compressed bool
}

// decode interprets one complete MessagePack message (Message, Forward,
// PackedForward or CompressedPackedForward mode). now replaces missing or
// zero times. The events slice is the caller's until the next call.
func (d *decoder) decode(b []byte, now time.Time) (message, error) {
	r := &reader{b: b}
	if r.peek() == kNil && len(b) == 1 {
		return message{}, nil // Fluentd's reserved "heartbeat" message
	}
	n, err := r.arrayHeader()
	if err != nil {
		return message{}, err
	}
	if n < 2 || n > 4 {
		return message{}, r.failf("a message is an array of 2 to 4 elements, found %d", n)
	}
	if k := r.peek(); k != kStr && k != kBin {
		return message{}, r.failf("tag must be a string, found %s", k)
	}
	tagBytes, _, err := r.rawBytes()
	if err != nil {
		return message{}, err
	}
	if string(tagBytes) != d.tag || d.tagVal == nil {
		d.tag = string(tagBytes)
		d.tagVal = d.tag // boxed once, shared by the events of this tag
	}
	msg := message{tag: d.tag}
	d.evs, d.next = nil, 0
	switch r.peek() {
	case kArray: // Forward: [tag, [[time, record], ...], option?]
		if n > 3 {
			return message{}, r.fail("Forward mode message has more than 3 elements")
		}
		count, err := r.arrayHeader()
		if err != nil {
			return message{}, err
		}
		d.alloc(count, r.remaining()/3) // an entry takes at least 3 bytes
		for range count {
			if err := d.entry(r, now); err != nil {
				return message{}, err
			}
		}
		opt, err := d.options(r, n == 3)
		if err != nil {
			return message{}, err
		}
		if opt.compressed {
			return message{}, r.fail(`option "compressed" is only valid with packed entries`)
		}
		msg.chunk = opt.chunk
	case kStr, kBin: // PackedForward: [tag, <entries>, option?]
		if n > 3 {
			return message{}, r.fail("PackedForward mode message has more than 3 elements")
		}
		packed, _, err := r.rawBytes()
		if err != nil {
			return message{}, err
		}
		opt, err := d.options(r, n == 3)
		if err != nil {
			return message{}, err
		}
		msg.chunk = opt.chunk
		if opt.compressed {
			if packed, err = d.gunzip(packed); err != nil {
				return message{}, err
			}
		}
		if err := d.packed(packed, now); err != nil {
			return message{}, err
		}
	default: // Message: [tag, time, record, option?]
		if n < 3 {
			return message{}, r.fail("Message mode message needs a time and a record")
		}
		d.alloc(1, 1)
		if err := d.event(r, now); err != nil {
			return message{}, err
		}
		opt, err := d.options(r, n == 4)
		if err != nil {
			return message{}, err
		}
		if opt.compressed {
			return message{}, r.fail(`option "compressed" is only valid with packed entries`)
		}
		msg.chunk = opt.chunk
	}
	if !r.eof() {
		return message{}, r.fail("unexpected bytes after the message")
	}
	msg.events = d.evs[:d.next]
	return msg, nil
}

// alloc prepares n events (at most limit) in one allocation.
func (d *decoder) alloc(n, limit int) {
	d.evs = event.NewBatch(min(n, limit), event.KindLog, time.Time{})
}

// packed decodes a stream of concatenated [time, record] entries.
func (d *decoder) packed(b []byte, now time.Time) error {
	// Count the entries first so that the events are allocated at once.
	count := 0
	for off := 0; off < len(b); count++ {
		n, err := skipValue(b[off:])
		if err != nil {
			return fmt.Errorf("packed entries: %w", err)
		}
		off += n
	}
	d.alloc(count, count)
	r := &reader{b: b}
	for !r.eof() {
		if err := d.entry(r, now); err != nil {
			return fmt.Errorf("packed entries: %w", err)
		}
	}
	return nil
}

// entry decodes [time, record].
func (d *decoder) entry(r *reader, now time.Time) error {
	n, err := r.arrayHeader()
	if err != nil {
		return err
	}
	if n != 2 {
		return r.failf("an entry is [time, record], found an array of %d", n)
	}
	return d.event(r, now)
}

// event decodes a time followed by a record and appends the event. A nil
// record is skipped, as Fluentd does.
func (d *decoder) event(r *reader, now time.Time) error {
	t, zero, err := r.eventTime()
	if err != nil {
		return err
	}
	if zero {
		t = now
	}
	if r.peek() == kNil {
		r.i++
		return nil
	}
	if r.peek() != kMap {
		return r.failf("record must be a map, found %s", r.peek())
	}
	fields, err := r.record()
	if err != nil {
		return err
	}
	d.add(t, fields)
	return nil
}

// add appends an event for a record, using the preallocated events first.
func (d *decoder) add(t time.Time, fields map[string]any) {
	if d.tagKey != "" {
		fields[d.tagKey] = d.tagVal
	}
	var ev *event.Event
	if d.next < len(d.evs) {
		ev = d.evs[d.next]
		ev.Time = t
		ev.SetFields(fields)
	} else {
		ev = event.New(event.KindLog, t, fields)
		d.evs = append(d.evs, ev)
	}
	d.next++
	ev.SetMetadata("tag", d.tagVal)
	ev.SetMetadata("source", sourceName)
}

// sourceName is the value of every event's "source" metadata; boxed once.
var sourceName any = "forward"

// options reads the option map when present.
func (d *decoder) options(r *reader, present bool) (options, error) {
	var o options
	if !present || r.peek() == kNil {
		if present {
			r.i++
		}
		return o, nil
	}
	n, err := r.mapHeader()
	if err != nil {
		return o, fmt.Errorf("option: %w", err)
	}
	for range n {
		k, _, err := r.rawBytes()
		if err != nil {
			return o, fmt.Errorf("option key: %w", err)
		}
		switch string(k) {
		case "chunk":
			if o.chunk, err = r.stringValue(); err != nil {
				return o, fmt.Errorf("option chunk: %w", err)
			}
		case "compressed":
			c, err := r.stringValue()
			if err != nil {
				return o, fmt.Errorf("option compressed: %w", err)
			}
			switch c {
			case "gzip":
				o.compressed = true
			case "text", "":
			default:
				return o, fmt.Errorf("option compressed: unsupported compression %q", c)
			}
		case "fluent_signal":
			// Fluent Bit: 0 logs, 1 metrics, 2 traces (encoded with its own
			// formats, which weft does not read).
			sig, err := r.integer()
			if err != nil {
				return o, fmt.Errorf("option fluent_signal: %w", err)
			}
			if sig != 0 {
				return o, fmt.Errorf("%w: fluent_signal %d (Fluent Bit metrics or traces); only logs are accepted", errUnsupported, sig)
			}
		default: // "size", Fluent Bit's extra options, ...
			if err := r.skip(); err != nil {
				return o, err
			}
		}
	}
	return o, nil
}

// gunzip decompresses CompressedPackedForward entries: one or more
// concatenated gzip members. The result is cut off at max_message_size.
func (d *decoder) gunzip(b []byte) ([]byte, error) {
	src := bytes.NewReader(b)
	if d.gz == nil {
		gz, err := gzip.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("compressed entries: %w", err)
		}
		d.gz = gz
	} else if err := d.gz.Reset(src); err != nil {
		return nil, fmt.Errorf("compressed entries: %w", err)
	}
	d.inflate.Reset()
	_, err := d.inflate.ReadFrom(io.LimitReader(d.gz, int64(d.maxSize)+1))
	if err != nil {
		return nil, fmt.Errorf("compressed entries: %w", err)
	}
	if d.inflate.Len() > d.maxSize {
		return nil, errTooLarge
	}
	return d.inflate.Bytes(), nil
}

// release drops buffers grown by a large message.
func (d *decoder) release() {
	if d.inflate.Cap() > 1<<20 {
		d.inflate = bytes.Buffer{}
	}
	d.evs, d.next = nil, 0
}
