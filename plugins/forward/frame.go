package forward

import (
	"errors"
	"io"
)

// framer cuts a connection's byte stream into complete messages. It reads
// into one buffer that grows to the size of the largest message (bounded by
// max_message_size) and shrinks back once a large message is handled.
type framer struct {
	r          io.Reader
	max        int
	buf        []byte
	start, end int // buffered bytes: buf[start:end]
	mode       int // 0 unknown, modeMsgpack or modeJSON, set by the first byte
	mp         scanner
	js         jsonScanner
}

const (
	modeMsgpack = 1
	modeJSON    = 2

	initialBuffer = 32 << 10
	keepBuffer    = 1 << 20 // larger buffers are dropped between messages
	minRead       = 4 << 10
)

// errTruncated is returned when the connection ends inside a message.
var errTruncated = errors.New("connection closed in the middle of a message")

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// next returns the next complete message, valid until the following call.
// io.EOF means the connection ended between messages.
func (f *framer) next() ([]byte, int, error) {
	if f.start == f.end {
		f.start, f.end = 0, 0
		if len(f.buf) > keepBuffer {
			f.buf = nil
		}
	}
	for {
		need := 1
		if f.mode == modeJSON {
			for f.start < f.end && isJSONSpace(f.buf[f.start]) {
				f.start++
			}
		}
		if f.end > f.start {
			if f.mode == 0 {
				if c := f.buf[f.start]; c == '[' || c == '{' {
					f.mode = modeJSON
				} else {
					f.mode = modeMsgpack
				}
			}
			data := f.buf[f.start:f.end]
			var n int
			var err error
			if f.mode == modeJSON {
				if c := data[0]; c != '[' && c != '{' {
					return nil, 0, &mpError{0, "expected a JSON array"}
				}
				n, err = f.js.scan(data)
				need = len(data) + 1
			} else {
				n, need, err = f.mp.scan(data)
			}
			if err == nil && n > f.max {
				return nil, 0, errTooLarge
			}
			if err == nil {
				msg := data[:n:n]
				f.start += n
				return msg, f.mode, nil
			}
			if err != errShort {
				return nil, 0, err
			}
			if need > f.max {
				return nil, 0, errTooLarge
			}
		}
		if err := f.fill(need); err != nil {
			return nil, 0, err
		}
	}
}

// fill reads at least one more byte, making room for need buffered bytes.
func (f *framer) fill(need int) error {
	buffered := f.end - f.start
	want := max(need, buffered+minRead)
	if len(f.buf)-f.start < want {
		if len(f.buf) >= want && f.start > 0 {
			copy(f.buf, f.buf[f.start:f.end])
		} else {
			size := max(initialBuffer, 2*len(f.buf))
			size = min(size, f.max+minRead)
			size = max(size, want)
			nb := make([]byte, size)
			copy(nb, f.buf[f.start:f.end])
			f.buf = nb
		}
		f.start, f.end = 0, buffered
	}
	for range 100 {
		n, err := f.r.Read(f.buf[f.end:])
		f.end += n
		if n > 0 {
			return nil
		}
		if err == io.EOF {
			if f.end > f.start {
				return errTruncated
			}
			return io.EOF
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}
