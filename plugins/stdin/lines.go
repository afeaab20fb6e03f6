package stdin

import (
	"bytes"
	"errors"
	"io"
	"unicode/utf8"
)

// This file holds the line handling shared with the file source: splitting a
// byte stream into lines with a size limit (LineReader) and turning lines into
// events (LineDecoder).

// LineReader splits a stream into lines on \n, dropping a \r before it. A line
// longer than the limit is cut at the limit (at a UTF-8 boundary) and the rest
// of it is skipped, so memory stays bounded whatever the input.
//
// It never reads on its own: Next returns lines already buffered and Fill does
// one Read. A caller whose reads may block (standard input) can therefore hand
// on what it has before blocking, and a follower (tail -F) can retry after
// io.EOF once the file has grown.
type LineReader struct {
	r   io.Reader
	max int
	buf []byte
	// buf[start:end] is unread; buf[start:start+scanned] is known to hold no
	// newline, so a long line is not rescanned on every Fill.
	start, end, scanned int
	// discard is set while skipping the rest of an over-long line whose head
	// is kept in head.
	discard bool
	head    []byte
	err     error // a read error to report on the next Fill
}

const initialLineBuffer = 64 << 10

// NewLineReader reads lines of at most maxLine bytes (excluding the newline).
func NewLineReader(r io.Reader, maxLine int) *LineReader {
	if maxLine < 1 {
		maxLine = 1
	}
	return &LineReader{r: r, max: maxLine, buf: make([]byte, min(initialLineBuffer, maxLine+2))}
}

// Reset makes l read from r, forgetting everything buffered.
func (l *LineReader) Reset(r io.Reader) {
	l.r = r
	l.start, l.end, l.scanned = 0, 0, 0
	l.discard, l.head, l.err = false, l.head[:0], nil
}

// Buffered reports how many unread bytes are held (a partial line included).
func (l *LineReader) Buffered() int { return l.end - l.start + len(l.head) }

// Next returns the next complete line held in the buffer, valid until the
// next Fill. truncated reports that the line was cut at the limit. ok is
// false when no complete line is buffered: call Fill.
func (l *LineReader) Next() (line []byte, truncated, ok bool) {
	data := l.buf[l.start:l.end]
	i := bytes.IndexByte(data[l.scanned:], '\n')
	if i < 0 {
		l.scanned = len(data)
		switch {
		case l.discard:
			// Still inside an over-long line: nothing of it is kept.
			l.start, l.end, l.scanned = 0, 0, 0
		case len(data) > l.max+1:
			// Longer than the limit even allowing for a \r: keep the head,
			// skip the rest up to the next newline. (+1 leaves room for the
			// \r of a CRLF line of exactly max bytes.)
			l.head = append(l.head[:0], cutUTF8(data, l.max)...)
			l.discard = true
			l.start, l.end, l.scanned = 0, 0, 0
		}
		return nil, false, false
	}
	i += l.scanned
	line = data[:i]
	l.start += i + 1
	l.scanned = 0
	if l.discard {
		l.discard = false
		return l.head, true, true
	}
	line = trimCR(line)
	if len(line) > l.max {
		return cutUTF8(line, l.max), true, true
	}
	return line, false, true
}

// Final returns the unterminated last line (at the end of the input), if
// any, and forgets it.
func (l *LineReader) Final() (line []byte, truncated, ok bool) {
	if l.discard {
		l.discard = false
		l.start, l.end, l.scanned = 0, 0, 0
		return l.head, true, true
	}
	if l.start == l.end {
		return nil, false, false
	}
	line = trimCR(l.buf[l.start:l.end])
	l.start, l.end, l.scanned = 0, 0, 0
	if len(line) > l.max {
		return cutUTF8(line, l.max), true, true
	}
	return line, false, true
}

// Fill reads once from the underlying reader into the buffer. It returns
// io.EOF at the end of the input (a follower may call it again later) and
// other errors as the reader reported them.
func (l *LineReader) Fill() error {
	if l.err != nil {
		err := l.err
		l.err = nil
		return err
	}
	if l.start > 0 {
		n := copy(l.buf, l.buf[l.start:l.end])
		l.start, l.end = 0, n
	}
	if l.end == len(l.buf) {
		// Only a partial line of at most max+1 bytes can fill the buffer
		// (Next switches to discarding beyond that), so growth is bounded.
		nb := make([]byte, min(2*len(l.buf), l.max+2))
		copy(nb, l.buf[:l.end])
		l.buf = nb
	}
	for tries := 0; tries < 100; tries++ {
		n, err := l.r.Read(l.buf[l.end:])
		l.end += n
		if n > 0 {
			l.err = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// IsEOF reports whether err means the input ended (for now).
func IsEOF(err error) bool { return errors.Is(err, io.EOF) }

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// cutUTF8 returns at most n bytes of b, backing off to a rune boundary so a
// truncated message stays valid UTF-8.
func cutUTF8(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	for k := n; k > 0 && n-k < utf8.UTFMax; k-- {
		if utf8.RuneStart(b[k]) {
			return b[:k]
		}
	}
	return b[:n]
}
