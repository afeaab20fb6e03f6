// Package file is the `file` source: one event per line of a file, read once
// (to the end, then finished) or followed like `tail -F`.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/stdin"
)

func init() {
	pipelines.RegisterSource("file", "lines of a file, read once or followed like tail -F, as plain text or JSON objects", NewConfig, New)
}

// Source reads one file. A single goroutine reads and writes: reads of a
// regular file do not block indefinitely, so it can check for Stop between
// reads and needs no separate flusher (it writes what it has whenever it
// reaches the end of the file).
type Source struct {
	set pipelines.Settings
	cfg *Config
	dec *stdin.LineDecoder

	f *os.File // opened by Start; then owned by the run goroutine

	stop        chan struct{}
	done        chan struct{}
	writeCtx    context.Context
	cancelWrite context.CancelFunc
	started     atomic.Bool
	stopOnce    sync.Once
}

var _ pipelines.FiniteSource = (*Source)(nil)

// New creates the source; the file is opened by Start.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	dec, err := stdin.NewLineDecoder(s, c.Format, c.TagsOnFailure, "source", "file", "path", c.Path)
	if err != nil {
		return nil, err
	}
	return &Source{set: s, cfg: c, dec: dec, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Start opens the file. In once mode a file that cannot be opened is an
// error; in follow mode the source waits for it to appear, as tail -F does.
func (s *Source) Start(_ context.Context, in pipelines.Input) error {
	if s.started.Load() {
		return nil
	}
	f, err := os.Open(s.cfg.Path)
	switch {
	case err == nil:
		if s.cfg.StartAt == StartEnd {
			if _, err := f.Seek(0, io.SeekEnd); err != nil {
				f.Close()
				return fmt.Errorf("seeking to the end of %s: %w", s.cfg.Path, err)
			}
		}
	case s.cfg.Mode == ModeFollow:
		s.set.Logger.WithError(err).Warn("file cannot be opened yet; waiting for it to appear")
		f = nil
	default:
		return fmt.Errorf("opening %s: %w", s.cfg.Path, err)
	}
	s.f = f
	s.started.Store(true)
	// Writes outlive Start's ctx; Stop cancels them when its own ctx ends.
	s.writeCtx, s.cancelWrite = context.WithCancel(context.Background())
	go s.run(in)
	return nil
}

// Done is closed in once mode when the whole file has been written into the
// pipeline, in either mode when the source has stopped.
func (s *Source) Done() <-chan struct{} { return s.done }

// Stop stops reading, writes the lines already read and returns; when ctx
// ends first the pending write is abandoned (and logged).
func (s *Source) Stop(ctx context.Context) error {
	if !s.started.Load() {
		return nil
	}
	s.stopOnce.Do(func() { close(s.stop) })
	release := context.AfterFunc(ctx, s.cancelWrite)
	defer release()
	<-s.done // bounded: the goroutine checks stop between reads, and its writes end with ctx
	s.cancelWrite()
	return nil
}

// reader is the run goroutine's state.
type reader struct {
	s      *Source
	in     pipelines.Input
	f      *os.File
	offset int64 // bytes read from f: where its descriptor stands
	lr     *stdin.LineReader
	batch  []*event.Event
	failed bool // the pipeline stopped accepting events
}

// Read counts what the line reader takes from the file.
func (r *reader) Read(p []byte) (int, error) {
	if r.f == nil {
		return 0, io.EOF
	}
	n, err := r.f.Read(p)
	r.offset += int64(n)
	return n, err
}

func (s *Source) run(in pipelines.Input) {
	defer close(s.done)
	r := &reader{s: s, in: in, f: s.f, batch: make([]*event.Event, 0, s.cfg.BatchSize)}
	s.f = nil
	if r.f != nil {
		if off, err := r.f.Seek(0, io.SeekCurrent); err == nil {
			r.offset = off
		}
	}
	r.lr = stdin.NewLineReader(r, s.cfg.MaxLineSize)
	defer func() {
		if r.f != nil {
			r.f.Close()
		}
	}()

	// A final line without newline is emitted once it has not grown for a
	// whole poll interval: partialAt is the offset it was seen at.
	partialAt := int64(-1)
	replaced := false
	ticker := time.NewTicker(s.cfg.PollInterval)
	defer ticker.Stop()
	for {
		if !r.readAvailable() {
			r.flushBuffered()
			return
		}
		if s.cfg.Mode == ModeOnce {
			r.final()
			r.flush()
			return
		}
		if replaced {
			// The old file has been read to its end: finish its last line
			// and go on with the file now at the path, from its beginning.
			r.final()
			r.open(false)
			replaced, partialAt = false, -1
			continue
		}
		switch {
		case r.lr.Buffered() == 0:
			partialAt = -1
		case partialAt == r.offset:
			r.final()
			partialAt = -1
		default:
			partialAt = r.offset
		}
		if !r.flush() {
			return
		}
		select {
		case <-s.stop:
			return
		case <-ticker.C:
		}
		replaced = r.checkFile()
	}
}

// readAvailable decodes lines up to the end of the file, writing full
// batches. It returns false when the source should end (stopped, or the
// pipeline closed).
func (r *reader) readAvailable() bool {
	for {
		line, trunc, ok := r.lr.Next()
		if ok {
			r.add(line, trunc)
			if len(r.batch) == cap(r.batch) && !r.flush() {
				return false
			}
			continue
		}
		select {
		case <-r.s.stop:
			return false
		default:
		}
		err := r.lr.Fill()
		switch {
		case err == nil:
		case stdin.IsEOF(err):
			return true
		default:
			// The file stays open; follow mode retries at the next poll.
			r.s.set.Logger.WithError(err).Error("reading the file failed")
			return true
		}
	}
}

func (r *reader) add(line []byte, trunc bool) {
	if ev := r.s.dec.Decode(line, trunc, time.Now()); ev != nil {
		r.s.set.Telemetry.Received(1)
		r.batch = append(r.batch, ev)
	}
}

// final emits the unterminated last line, if any.
func (r *reader) final() {
	if line, trunc, ok := r.lr.Final(); ok {
		r.add(line, trunc)
	}
}

// flushBuffered writes, at Stop, the complete lines already read from disk
// along with the batch.
func (r *reader) flushBuffered() {
	for !r.failed {
		line, trunc, ok := r.lr.Next()
		if !ok {
			break
		}
		r.add(line, trunc)
		if len(r.batch) == cap(r.batch) {
			r.flush()
		}
	}
	r.flush()
}

// flush writes the batch; false means the pipeline no longer accepts events.
func (r *reader) flush() bool {
	if r.failed {
		return false
	}
	if len(r.batch) == 0 {
		return true
	}
	n, err := r.in.Write(r.s.writeCtx, r.batch)
	r.s.set.Telemetry.Passed(n)
	if err != nil {
		r.failed = true
		r.s.set.Logger.WithError(err).WithField("events", len(r.batch)-n).
			Error("lines read from the file were not written: the pipeline did not accept them")
	}
	clear(r.batch)
	r.batch = r.batch[:0]
	return err == nil
}

// checkFile looks at the path: a different file there means the one being
// read was replaced (rotated), a shorter one that it was truncated (copy-
// truncate rotation). It reports replacement, which the caller handles after
// reading the old file to its end.
func (r *reader) checkFile() bool {
	log := r.s.set.Logger
	if r.f == nil {
		r.open(true)
		return false
	}
	st, err := os.Stat(r.s.cfg.Path)
	if err != nil {
		// Removed (or being rotated): keep reading what is open until a new
		// file appears.
		if !errors.Is(err, fs.ErrNotExist) {
			log.WithError(err).Warn("cannot stat the file")
		}
		return false
	}
	cur, err := r.f.Stat()
	if err != nil {
		log.WithError(err).Warn("cannot stat the open file")
		return false
	}
	if !os.SameFile(st, cur) {
		log.Info("the file was replaced; reading the new one from its beginning")
		return true
	}
	if cur.Size() < r.offset {
		log.WithFields(logrus.Fields{"size": cur.Size(), "offset": r.offset}).Info("the file was truncated; reading it from its beginning")
		r.final()
		if _, err := r.f.Seek(0, io.SeekStart); err != nil {
			log.WithError(err).Error("cannot seek to the beginning of the truncated file")
			return false
		}
		r.offset = 0
		r.lr.Reset(r)
	}
	return false
}

// open (re)opens the path from its beginning, closing the current file.
// When quiet, a missing file is not logged (it is polled for).
func (r *reader) open(quiet bool) {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	r.offset = 0
	r.lr.Reset(r)
	f, err := os.Open(r.s.cfg.Path)
	if err != nil {
		if !quiet || !errors.Is(err, fs.ErrNotExist) {
			r.s.set.Logger.WithError(err).Warn("cannot open the file; will retry")
		}
		return
	}
	r.f = f
}
