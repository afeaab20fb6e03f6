// Package stdout is the `stdout` sink: every event as one JSON line (NDJSON)
// on standard output.
package stdout

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

func init() {
	pipelines.RegisterSink("stdout", "events as JSON lines (NDJSON) on standard output", NewConfig, New)
}

// Sink writes NDJSON to a writer (standard output in production).
type Sink struct {
	tel *pipelines.Telemetry
	mu  sync.Mutex // one Write call's lines stay together
	w   io.Writer
}

// New writes to standard output.
func New(s pipelines.Settings, c *Config) (pipelines.Sink, error) {
	return NewWriter(s, c, os.Stdout), nil
}

// NewWriter writes to w instead (for tests and embedding).
func NewWriter(s pipelines.Settings, _ *Config, w io.Writer) *Sink {
	return &Sink{tel: s.Telemetry, w: w}
}

// Start implements pipelines.Sink.
func (*Sink) Start(context.Context) error { return nil }

// Shutdown has nothing to flush: every Write is written before it returns.
func (*Sink) Shutdown(context.Context) error { return nil }

// scratch is one Write call's encoding buffer; ends[i] is where event i's
// line ends, to know which events a short write got out.
type scratch struct {
	buf  []byte
	ends []int
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 64<<10)} }}

// maxPooled keeps one huge batch from pinning its buffer forever.
const maxPooled = 4 << 20

// Write encodes the batch outside the lock (workers encode in parallel),
// writes it with one call, and delivers the events once the bytes are out.
func (s *Sink) Write(_ context.Context, evs []*event.Event) error {
	sc := scratchPool.Get().(*scratch)
	buf, ends := sc.buf[:0], sc.ends[:0]
	for _, ev := range evs {
		buf = ev.AppendJSON(buf)
		buf = append(buf, '\n')
		ends = append(ends, len(buf))
	}
	s.mu.Lock()
	n, err := s.w.Write(buf)
	s.mu.Unlock()
	if err == nil && n < len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		// The events whose whole line was written are out; the others are
		// refused.
		k := 0
		for k < len(ends) && ends[k] <= n {
			k++
		}
		s.tel.Deliver(evs[:k]...)
		for _, ev := range evs[k:] {
			s.tel.Reject(ev, "write_error")
		}
		err = fmt.Errorf("writing %d events to standard output: %w", len(evs)-k, err)
	} else {
		s.tel.Deliver(evs...)
	}
	if cap(buf) <= maxPooled {
		sc.buf, sc.ends = buf, ends
		scratchPool.Put(sc)
	}
	return err
}
