// Package file is the `file` sink: events as JSON lines in files whose path
// may depend on the event's date and fields.
package file

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/template"
)

func init() {
	pipelines.RegisterSink("file", "events as JSON lines in files; the path may hold dates and event fields", NewConfig, New)
}

var errShutdown = errors.New("the file sink is shut down")

// Sink writes NDJSON files.
//
// Durability: each Write groups its events by file, writes every group with
// one write(2) on a file opened with O_APPEND, and delivers the events of a
// group only once its bytes are with the OS. Lines therefore never
// interleave between workers, and an acknowledged event survives a crash of
// the agent (flush_interval adds periodic fsync against a crash of the
// machine).
type Sink struct {
	set    pipelines.Settings
	cfg    *Config
	tpl    *template.Template
	opts   template.Options
	static bool

	mu     sync.Mutex
	files  map[string]*handle
	lru    list.List           // of *handle, most recently used first
	opened map[string]struct{} // append: false: paths opened (and truncated) once already
	closed bool

	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// handle is one open file. refs, elem and the map entry are guarded by
// Sink.mu; f, err and dirty by mu. A handle is closed once it has left the
// map (evicted, broken or shut down) and nobody uses it (refs == 0).
type handle struct {
	path string
	refs int
	elem *list.Element // nil once removed from the map

	mu     sync.Mutex // serializes writes to the file
	f      *os.File
	err    error       // why opening failed
	dirty  bool        // written since the last sync
	broken atomic.Bool // a write failed: reopen next time
}

// New creates the sink.
func New(s pipelines.Settings, c *Config) (pipelines.Sink, error) {
	sk := &Sink{set: s, cfg: c, tpl: &c.Path, static: c.Path.IsStatic(),
		files: make(map[string]*handle), opened: make(map[string]struct{}), stop: make(chan struct{})}
	missing := c.MissingValue
	sk.opts = template.Options{Missing: &missing, Sanitize: func(dst []byte, start int) []byte {
		return sanitize(dst, start, missing)
	}}
	return sk, nil
}

// sanitize rewrites a field value just appended at dst[start:] so that it
// stays inside one path component: separators and control characters
// become '_', so do "..", a lone "." and an empty value becomes missing.
// Rewriting in place keeps Expand allocation-free.
func sanitize(dst []byte, start int, missing string) []byte {
	v := dst[start:]
	if len(v) == 0 {
		return append(dst, missing...)
	}
	for i, c := range v {
		if c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
			v[i] = '_'
		}
	}
	for i := 0; i+1 < len(v); i++ {
		if v[i] == '.' && v[i+1] == '.' {
			v[i], v[i+1] = '_', '_'
			i++
		}
	}
	if len(v) == 1 && v[0] == '.' {
		v[0] = '_'
	}
	return dst
}

// Start launches the syncer when flush_interval is set.
func (s *Sink) Start(context.Context) error {
	if s.cfg.FlushInterval > 0 {
		s.wg.Add(1)
		go s.syncLoop()
	}
	return nil
}

// group is the part of one Write going to one file.
type group struct {
	path string
	buf  []byte
	ends []int // ends[i]: where evs[i]'s line ends in buf
	evs  []*event.Event
}

type scratch struct {
	groups  []group
	index   map[string]int
	pathBuf []byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{index: make(map[string]int)} }}

// maxPooled keeps one huge batch from pinning its buffers forever.
const maxPooled = 8 << 20

// Write appends the events to their files and finalizes each: delivered once
// its line is written, rejected ("write_error", or "shutdown" after
// Shutdown) otherwise. It returns the first error.
func (s *Sink) Write(_ context.Context, evs []*event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	sc := scratchPool.Get().(*scratch)
	groups := s.group(sc, evs)
	var errs []error
	for i := range groups {
		if err := s.writeGroup(&groups[i]); err != nil {
			errs = append(errs, err)
		}
	}
	// Hand the buffers back without the events, so the pool pins none.
	for i := range groups {
		g := &groups[i]
		clear(g.evs)
		if cap(g.buf) > maxPooled {
			g.buf = nil
		}
		g.buf, g.ends, g.evs = g.buf[:0], g.ends[:0], g.evs[:0]
	}
	sc.groups = groups[:0]
	clear(sc.index)
	scratchPool.Put(sc)
	return errors.Join(errs...)
}

// group encodes the events into one buffer per destination file, in order.
func (s *Sink) group(sc *scratch, evs []*event.Event) []group {
	groups := sc.groups[:0]
	add := func(path []byte) *group {
		if gi, ok := sc.index[string(path)]; ok {
			return &groups[gi]
		}
		if len(groups) < cap(groups) {
			groups = groups[:len(groups)+1]
		} else {
			groups = append(groups, group{})
		}
		g := &groups[len(groups)-1]
		g.path = string(path)
		sc.index[g.path] = len(groups) - 1
		return g
	}
	var g *group
	if s.static {
		g = add(append(sc.pathBuf[:0], s.tpl.String()...))
	}
	for _, ev := range evs {
		if !s.static {
			// With a fallback for missing fields, expanding cannot fail.
			sc.pathBuf, _ = s.tpl.ExpandWith(sc.pathBuf[:0], ev, &s.opts)
			g = add(sc.pathBuf)
		}
		g.buf = ev.AppendJSON(g.buf)
		g.buf = append(g.buf, '\n')
		g.ends = append(g.ends, len(g.buf))
		g.evs = append(g.evs, ev)
	}
	return groups
}

func (s *Sink) writeGroup(g *group) error {
	h, err := s.acquire(g.path)
	if err != nil {
		reason := "write_error"
		if errors.Is(err, errShutdown) {
			reason = "shutdown"
		}
		for _, ev := range g.evs {
			s.set.Telemetry.Reject(ev, reason)
		}
		return fmt.Errorf("%d events for %s: %w", len(g.evs), g.path, err)
	}
	n, err := h.f.Write(g.buf)
	if n > 0 {
		h.dirty = true
	}
	if err != nil {
		// Whatever failed (disk full, file system gone), a fresh open is
		// the best next try.
		h.broken.Store(true)
	}
	h.mu.Unlock()
	s.release(h)
	if err == nil {
		s.set.Telemetry.Deliver(g.evs...)
		return nil
	}
	// The events whose whole line reached the file are delivered; the rest
	// are refused.
	k := 0
	for k < len(g.ends) && g.ends[k] <= n {
		k++
	}
	s.set.Telemetry.Deliver(g.evs[:k]...)
	for _, ev := range g.evs[k:] {
		s.set.Telemetry.Reject(ev, "write_error")
	}
	return fmt.Errorf("writing %d events to %s: %w", len(g.evs)-k, g.path, err)
}

// acquire returns the open handle for path, locked for writing, opening the
// file if needed.
func (s *Sink) acquire(path string) (*handle, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errShutdown
	}
	if h := s.files[path]; h != nil {
		h.refs++
		s.lru.MoveToFront(h.elem)
		s.mu.Unlock()
		h.mu.Lock() // waits while another worker opens it
		if h.f == nil {
			err := h.err
			h.mu.Unlock()
			s.release(h)
			return nil, err
		}
		return h, nil
	}
	h := &handle{path: path, refs: 1}
	h.mu.Lock() // nobody else has it yet: this cannot block under s.mu
	h.elem = s.lru.PushFront(h)
	s.files[path] = h
	_, seen := s.opened[path]
	if !s.cfg.Append && !seen {
		// Only needed to truncate once; the set grows with the paths seen.
		s.opened[path] = struct{}{}
	}
	victims := s.evictLocked()
	s.mu.Unlock()
	s.closeAll(victims)

	h.f, h.err = openFile(path, !s.cfg.Append && !seen)
	if h.err != nil {
		err := h.err
		s.mu.Lock()
		if !s.cfg.Append && !seen {
			delete(s.opened, path) // nothing was truncated yet
		}
		s.removeLocked(h)
		s.mu.Unlock()
		h.mu.Unlock()
		s.release(h)
		return nil, err
	}
	return h, nil
}

func openFile(path string, truncate bool) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating the directory: %w", err)
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if truncate {
		flag |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening: %w", err)
	}
	return f, nil
}

// release drops a reference taken by acquire (after h.mu was unlocked).
func (s *Sink) release(h *handle) {
	s.mu.Lock()
	h.refs--
	if h.broken.Load() && h.elem != nil {
		s.removeLocked(h)
	}
	var victims []*handle
	if h.refs == 0 && h.elem == nil {
		victims = append(victims, h)
	}
	victims = append(victims, s.evictLocked()...)
	s.mu.Unlock()
	s.closeAll(victims)
}

// removeLocked takes h out of the map and the LRU list.
func (s *Sink) removeLocked(h *handle) {
	if h.elem == nil {
		return
	}
	s.lru.Remove(h.elem)
	h.elem = nil
	if s.files[h.path] == h {
		delete(s.files, h.path)
	}
}

// evictLocked removes least recently used idle handles while more than
// max_open_files are open, returning them for closing outside the lock.
// Handles in use are skipped, so the limit can be exceeded briefly by the
// number of concurrent writers.
func (s *Sink) evictLocked() []*handle {
	var victims []*handle
	for e := s.lru.Back(); e != nil && len(s.files) > s.cfg.MaxOpenFiles; {
		prev := e.Prev()
		if h := e.Value.(*handle); h.refs == 0 {
			s.removeLocked(h)
			victims = append(victims, h)
		}
		e = prev
	}
	return victims
}

// closeAll closes handles nobody uses any more, first syncing those with
// unsynced lines when flush_interval asks for syncs.
func (s *Sink) closeAll(hs []*handle) error {
	var errs []error
	for _, h := range hs {
		h.mu.Lock()
		if h.f != nil {
			if s.cfg.FlushInterval > 0 && h.dirty && !h.broken.Load() {
				if err := h.f.Sync(); err != nil {
					errs = append(errs, fmt.Errorf("syncing %s: %w", h.path, err))
				}
			}
			if err := h.f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing %s: %w", h.path, err))
			}
			h.f = nil
		}
		h.mu.Unlock()
	}
	err := errors.Join(errs...)
	if err != nil {
		s.set.Logger.WithError(err).Warn("closing files")
	}
	return err
}

// syncLoop fsyncs files with new lines every flush_interval.
func (s *Sink) syncLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.syncAll()
		}
	}
}

func (s *Sink) syncAll() {
	s.mu.Lock()
	hs := make([]*handle, 0, len(s.files))
	for _, h := range s.files {
		h.refs++ // keeps it open while syncing
		hs = append(hs, h)
	}
	s.mu.Unlock()
	for _, h := range hs {
		h.mu.Lock()
		f, dirty := h.f, h.dirty && !h.broken.Load()
		h.dirty = false
		h.mu.Unlock()
		// Sync outside h.mu so writers are not held up by the disk; the
		// reference keeps f open.
		if dirty && f != nil {
			if err := f.Sync(); err != nil {
				s.set.Logger.WithError(err).WithField("path", h.path).Warn("syncing the file failed")
			}
		}
		s.release(h)
	}
}

// Shutdown stops the syncer and closes (after syncing) every file. Writes
// after it are rejected with reason "shutdown".
func (s *Sink) Shutdown(context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	s.mu.Lock()
	s.closed = true
	var idle []*handle
	for _, h := range s.files {
		s.removeLocked(h)
		if h.refs == 0 {
			idle = append(idle, h)
		}
	}
	s.mu.Unlock()
	if err := s.closeAll(idle); err != nil {
		return fmt.Errorf("file sink shutdown: %w", err)
	}
	return nil
}

// openCount reports how many files are open (for tests).
func (s *Sink) openCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files)
}
