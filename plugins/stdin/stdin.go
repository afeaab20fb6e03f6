// Package stdin is the `stdin` source: one event per line of standard input,
// as plain text (field message) or as a JSON object.
package stdin

import (
	"context"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

func init() {
	pipelines.RegisterSource("stdin", "lines from standard input, as plain text (message) or JSON objects", NewConfig, New)
}

// Source reads lines from a reader (standard input in production).
//
// Two goroutines: the reader, which may block in Read for as long as the
// input is idle, and the writer, which batches events into the pipeline and
// owns the flush timer. Splitting them lets a slow trickle flow (the writer
// flushes while the reader waits) and lets Stop finish promptly even when the
// read cannot be interrupted.
type Source struct {
	set pipelines.Settings
	cfg *Config
	r   io.Reader
	dec *LineDecoder

	chunks     chan []*event.Event
	stop       chan struct{}
	done       chan struct{} // closed by the writer when it ends
	readerDone chan struct{}

	// mu guards the hand-over at Stop: whether the reader is inside a Read
	// (then nothing it holds is unsent) and whether Stop was requested.
	mu      sync.Mutex
	inRead  bool
	stopped bool
	reads   int // Reads started, for tests

	writeCtx    context.Context
	cancelWrite context.CancelFunc
	started     atomic.Bool
	stopOnce    sync.Once
}

var _ pipelines.FiniteSource = (*Source)(nil)

// New reads standard input.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	return NewReader(s, c, os.Stdin)
}

// NewReader reads r instead of standard input (for tests and embedding).
func NewReader(s pipelines.Settings, c *Config, r io.Reader) (*Source, error) {
	dec, err := NewLineDecoder(s, c.Format, c.TagsOnFailure, "source", "stdin")
	if err != nil {
		return nil, err
	}
	return &Source{set: s, cfg: c, r: r, dec: dec,
		chunks: make(chan []*event.Event), stop: make(chan struct{}),
		done: make(chan struct{}), readerDone: make(chan struct{})}, nil
}

// Start launches the reader and the writer.
func (s *Source) Start(_ context.Context, in pipelines.Input) error {
	if !s.started.CompareAndSwap(false, true) {
		return nil
	}
	// Writes outlive Start's ctx; Stop cancels them when its own ctx ends.
	s.writeCtx, s.cancelWrite = context.WithCancel(context.Background())
	go s.read()
	go s.write(in)
	return nil
}

// Done is closed once everything read up to the end of the input has been
// written (or the source was stopped).
func (s *Source) Done() <-chan struct{} { return s.done }

// Stop stops reading, writes what was read and returns. When ctx ends first
// the pending write is abandoned (and logged).
//
// A Read of standard input that is already blocked cannot be interrupted
// (the file is in blocking mode; making it non-blocking would leak into the
// shell that shares it), so Stop does not wait for it: what that Read
// returns is not written, and is logged with its count.
func (s *Source) Stop(ctx context.Context) error {
	if !s.started.Load() {
		return nil
	}
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		close(s.stop)
	})
	release := context.AfterFunc(ctx, s.cancelWrite)
	defer release()
	interrupted := false
	if d, ok := s.r.(interface{ SetReadDeadline(time.Time) error }); ok && s.r != io.Reader(os.Stdin) {
		interrupted = d.SetReadDeadline(time.Now()) == nil
	}
	<-s.done // bounded: the writer's writes end when ctx does
	if interrupted {
		select {
		case <-s.readerDone:
		case <-ctx.Done():
		}
	}
	s.cancelWrite()
	return nil
}

func (s *Source) read() {
	defer close(s.readerDone)
	defer close(s.chunks)
	lr := NewLineReader(s.r, s.cfg.MaxLineSize)
	chunk := make([]*event.Event, 0, s.cfg.BatchSize)
	now := time.Now()
	send := func() bool {
		if len(chunk) == 0 {
			return true
		}
		s.set.Telemetry.Received(len(chunk))
		select {
		case s.chunks <- chunk:
			chunk = make([]*event.Event, 0, s.cfg.BatchSize)
			return true
		case <-s.done:
			s.lost(len(chunk), "the source had stopped writing")
			return false
		}
	}
	for {
		line, trunc, ok := lr.Next()
		if ok {
			if ev := s.dec.Decode(line, trunc, now); ev != nil {
				chunk = append(chunk, ev)
				if len(chunk) == cap(chunk) && !send() {
					return
				}
			}
			continue
		}
		// The next Read may block: hand on what is decoded first.
		if !send() {
			return
		}
		if !s.enterRead() {
			return
		}
		err := lr.Fill()
		if s.leaveRead() {
			// This Read was under way when Stop came: the writer is not
			// waiting for its data any more.
			if n := lr.Buffered(); n > 0 {
				s.set.Logger.WithField("bytes", n).Error("input read while the source stopped was not written")
			}
			return
		}
		now = time.Now()
		if err != nil {
			if !IsEOF(err) {
				s.set.Logger.WithError(err).Error("reading standard input failed; treating it as the end of the input")
			}
			if line, trunc, ok := lr.Final(); ok {
				if ev := s.dec.Decode(line, trunc, now); ev != nil {
					chunk = append(chunk, ev)
				}
			}
			send()
			return
		}
	}
}

func (s *Source) write(in pipelines.Input) {
	defer close(s.done)
	size := s.cfg.BatchSize
	pending := make([]*event.Event, 0, size)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false

	// flush writes pending in batches of at most size events; with all it
	// also writes a last partial batch. It reports false when the pipeline
	// no longer accepts events (what is left is logged as lost).
	flush := func(all bool) bool {
		off := 0
		for len(pending)-off >= size || all && off < len(pending) {
			batch := pending[off:min(off+size, len(pending))]
			n, err := in.Write(s.writeCtx, batch)
			s.set.Telemetry.Passed(n)
			off += n
			if err != nil {
				s.lost(len(pending)-off, "the pipeline did not accept them: "+err.Error())
				clear(pending)
				pending = pending[:0]
				return false
			}
		}
		rest := copy(pending, pending[off:])
		clear(pending[rest:])
		pending = pending[:rest]
		return true
	}

	for {
		select {
		case c, ok := <-s.chunks:
			if !ok { // end of input
				flush(true)
				return
			}
			pending = append(pending, c...)
			if !flush(false) {
				return
			}
			if len(pending) > 0 && !armed {
				timer.Reset(s.cfg.FlushInterval)
				armed = true
			}
		case <-timer.C:
			armed = false
			if !flush(true) {
				return
			}
		case <-s.stop:
			timer.Stop()
			s.drain(&pending)
			flush(true)
			return
		}
	}
}

// enterRead marks the reader as entering a Read; false means stop instead.
func (s *Source) enterRead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.inRead = true
	s.reads++
	return true
}

// leaveRead marks the Read as over and reports whether Stop came meanwhile.
func (s *Source) leaveRead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inRead = false
	return s.stopped
}

// drain takes the chunks the reader still decodes from what it had read
// before Stop. A reader inside a Read holds nothing unsent (it sends before
// reading), so then there is nothing to wait for; otherwise it sends what it
// holds and, at its next Read, sees the stop and closes the channel.
func (s *Source) drain(pending *[]*event.Event) {
	s.mu.Lock()
	inRead := s.inRead
	s.mu.Unlock()
	if inRead {
		return
	}
	for {
		select {
		case c, ok := <-s.chunks:
			if !ok {
				return
			}
			*pending = append(*pending, c...)
		case <-s.writeCtx.Done():
			return
		}
	}
}

func (s *Source) lost(n int, why string) {
	if n > 0 {
		s.set.Logger.WithFields(logrus.Fields{"events": n}).Error("lines from standard input were not written: " + why)
	}
}
