// Package tail is the `tail` source: it follows log files matched by globs
// — on a Kubernetes node, /var/log/containers/*.log — reads CRI (containerd,
// CRI-O), Docker json-file and plain lines, joins partial and multiline
// records, follows rotation by rename and by copy-truncate, and checkpoints
// positions that only advance once the events read up to them were
// acknowledged end to end.
package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterSource("tail", "follow log files by glob (container logs: CRI, Docker json-file, plain), with rotation, checkpoints and Kubernetes metadata from file names", NewConfig, New)
}

// TruncatedTag marks an event whose line or joined message was cut at
// max_line_size (the tag the file and stdin sources use).
const TruncatedTag = "_truncated"

const (
	readSize     = 256 << 10 // bytes per read
	roundBudget  = 1 << 20   // bytes read from one file before the others get a turn
	batchMax     = 1000      // most events per write into the pipeline
	eventBlock   = 256       // event headers allocated together
	saveInterval = time.Second
)

const (
	fmtAuto = iota
	fmtCRI
	fmtDocker
	fmtPlain
)

// Boxed once: putting them into a field map allocates nothing.
var (
	streamVals = [...]any{"stdout", "stderr"}
)

// Source tails the files matched by the configured globs.
//
// One goroutine (run) owns every file: it globs, checks for rotation,
// reads, parses and writes into the pipeline. Reads of regular files do
// not block indefinitely, so it notices Stop between reads. A second
// goroutine writes the checkpoint every second; acknowledgement callbacks,
// run by whichever goroutine finalizes the last copy of an event, only
// touch the store.
type Source struct {
	set    pipelines.Settings
	cfg    *Config
	format int
	re     *regexp.Regexp
	max    int
	dbPath string
	m      *metrics

	stop        chan struct{}
	done        chan struct{}
	saverDone   chan struct{}
	writeCtx    context.Context
	cancelWrite context.CancelFunc
	started     atomic.Bool
	stopOnce    sync.Once

	store *store // nil without checkpoints

	// Owned by the run goroutine (by Start before it runs).
	in        pipelines.Input
	files     map[fileID]*tailFile
	order     []*tailFile
	buf       []byte
	out       []*event.Event
	segs      []*segment
	outResume []int64 // per event of out (with checkpoints): where a restart re-reads it
	cur       *segment
	pool      []*event.Event
	now       time.Time
	loaded    map[fileID]dbEntry
	dbExisted bool
	failed    bool
	nLines    int
	nBytes    int
	nTrunc    int
	parseLog  *ratelog.Logger
	perr      lineError
	readLog   *ratelog.Logger
}

// tailFile is one watched file. Its fields belong to the run goroutine,
// except ck (guarded by the store's lock).
type tailFile struct {
	id      fileID
	path    string
	f       *os.File
	readOff int64 // where the descriptor stands: bytes read so far
	pos     int64 // offset just after the last complete line handled
	size    int64 // size at the last fstat
	// carry holds the bytes of the unfinished last line ([pos, readOff)),
	// or, while discarding, the head of an over-long line.
	carry      []byte
	discarding bool
	detachedAt time.Time // when the path stopped leading to it; zero while attached
	replaced   bool      // a new file was found at its path (rotation counted)
	fpLen      int
	fpHash     uint64
	lastReg    int64 // last position handed to the store
	streams    [3]streamState
	fileVal    any
	kube       map[string]any // template of the kubernetes field; nil without
	ck         ckState
}

func (tf *tailFile) detached() bool { return !tf.detachedAt.IsZero() }

// streamState holds the records being assembled for one stream of a file:
// partial lines waiting for their final part, and a multiline event waiting
// for its continuation lines.
type streamState struct {
	inPart    bool
	part      []byte
	partStart int64
	partTime  string
	partT     time.Time
	partHasT  bool
	partTrunc bool

	inML    bool
	ml      []byte
	mlStart int64
	mlTime  string
	mlT     time.Time
	mlHasT  bool
	mlTrunc bool
	mlLines int
	mlLast  time.Time
}

// segment is the events of one file in one write, with the acknowledgement
// handle that commits their end position.
type segment struct {
	tf    *tailFile
	acker *event.Acker
	seq   int64
	lo    int // index of its first event in Source.out
}

var _ pipelines.Source = (*Source)(nil)

// New creates the source; files are opened by Start.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	m, err := newMetrics(s.Telemetry.Registerer)
	if err != nil {
		return nil, err
	}
	src := &Source{set: s, cfg: c, max: c.MaxLineSize, m: m,
		stop: make(chan struct{}), done: make(chan struct{}), saverDone: make(chan struct{}),
		files:    map[fileID]*tailFile{},
		parseLog: ratelog.New(s.Logger, "lines not in the configured format were kept as plain messages"),
		readLog:  ratelog.New(s.Logger, "reading a tailed file failed"),
	}
	switch c.Format {
	case FormatCRI:
		src.format = fmtCRI
	case FormatDocker:
		src.format = fmtDocker
	case FormatPlain:
		src.format = fmtPlain
	default:
		src.format = fmtAuto
	}
	if c.Multiline.StartPattern != "" {
		if err := c.Multiline.Validate(); err != nil {
			return nil, err
		}
		src.re = c.Multiline.re
	}
	src.dbPath = c.DB
	if src.dbPath == "" && s.DataDir != "" {
		src.dbPath = filepath.Join(s.DataDir, "tail-"+safeName(s.Pipeline)+".db")
	}
	return src, nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// Start loads the checkpoint and opens the files matched now, then follows
// them in the background.
func (s *Source) Start(_ context.Context, in pipelines.Input) error {
	if s.started.Load() {
		return nil
	}
	s.in = in
	s.loaded = map[fileID]dbEntry{}
	if s.dbPath != "" {
		if err := os.MkdirAll(filepath.Dir(s.dbPath), 0o755); err != nil {
			return fmt.Errorf("creating the directory of the checkpoint file: %w", err)
		}
		entries, existed, err := loadDB(s.dbPath)
		if err != nil {
			// Prefer reading again to losing lines: files are read from
			// their beginning, as when the checkpoint file exists.
			s.set.Logger.WithError(err).Error("the tail checkpoint cannot be read; files without a position are read from their beginning")
		}
		s.loaded, s.dbExisted = entries, existed
		s.store = newStore(s.dbPath, s.set.Logger)
	}
	s.buf = make([]byte, readSize)
	s.now = time.Now()
	s.refresh(true)
	s.loaded = nil // entries of files not found now are dropped
	s.started.Store(true)
	// Writes outlive Start's ctx; Stop cancels them when its own ctx ends.
	s.writeCtx, s.cancelWrite = context.WithCancel(context.Background())
	if s.store != nil {
		if err := s.store.save(); err != nil {
			s.set.Logger.WithError(err).Error("writing the tail checkpoint failed")
		}
		go s.saver()
	} else {
		close(s.saverDone)
	}
	go s.run()
	return nil
}

// Stop stops reading, writes the complete records already read and
// returns. With checkpoints, records still being assembled (partial lines,
// multiline events) are not emitted: the checkpoint stays at their start,
// and a restart reads them again whole. The checkpoint is written now, and
// again once every event written was acknowledged (the pipeline drains
// after Stop).
func (s *Source) Stop(ctx context.Context) error {
	if !s.started.Load() {
		return nil
	}
	s.stopOnce.Do(func() {
		if s.store != nil {
			s.store.setStopping()
		}
		close(s.stop)
	})
	release := context.AfterFunc(ctx, s.cancelWrite)
	defer release()
	<-s.done // bounded: run checks stop between reads, and its writes end with ctx
	s.cancelWrite()
	<-s.saverDone
	if s.store != nil {
		if err := s.store.save(); err != nil {
			s.set.Logger.WithError(err).Error("writing the tail checkpoint failed")
		}
	}
	return nil
}

func (s *Source) saver() {
	defer close(s.saverDone)
	t := time.NewTicker(saveInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.store.save(); err != nil {
				s.set.Logger.WithError(err).Error("writing the tail checkpoint failed")
			}
		}
	}
}

func (s *Source) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

func (s *Source) run() {
	defer close(s.done)
	defer s.closeAll()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	nextRefresh := time.Now().Add(s.cfg.RefreshInterval)
	for {
		s.now = time.Now()
		if !s.now.Before(nextRefresh) {
			s.refresh(false)
			nextRefresh = s.now.Add(s.cfg.RefreshInterval)
		}
		more := s.round()
		if s.stopped() {
			if s.store == nil {
				// Nothing will resume them: emit what is being assembled.
				for _, tf := range s.order {
					s.flushStreams(tf)
				}
			}
			s.endRound()
			return
		}
		if !s.endRound() {
			return
		}
		if more {
			continue
		}
		select {
		case <-s.stop:
		case <-poll.C:
		}
	}
}

// round checks and reads every file once. It reports whether some file
// has more to read right away.
func (s *Source) round() (more bool) {
	for _, tf := range slices.Clone(s.order) {
		if s.stopped() || s.failed {
			return false
		}
		if s.files[tf.id] != tf {
			continue // closed during this round
		}
		s.check(tf)
		if tf.size > tf.readOff && s.readFile(tf, roundBudget) {
			more = true
		}
		if s.failed {
			return false
		}
		if tf.fpLen < fingerprintSize && tf.readOff > int64(tf.fpLen) {
			s.updateFingerprint(tf)
		}
		if s.re != nil {
			for i := range tf.streams {
				st := &tf.streams[i]
				if st.inML && s.now.Sub(st.mlLast) >= s.cfg.Multiline.Timeout {
					s.flushML(tf, st, i)
				}
			}
		}
		if tf.detached() && tf.readOff >= tf.size && s.now.Sub(tf.detachedAt) >= s.cfg.CloseRemovedAfter {
			s.closeFile(tf, true)
		}
	}
	return more
}

// refresh globs the paths, opens files not watched yet and re-attaches
// watched files found under a (new) matching name.
func (s *Source) refresh(initial bool) {
	seen := map[fileID]bool{}
	for _, pat := range s.cfg.Paths {
		matches, err := filepath.Glob(pat)
		if err != nil {
			continue // validated at load
		}
		for _, p := range matches {
			if s.excluded(p) {
				continue
			}
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			id, ok := idOf(fi)
			if !ok || seen[id] {
				continue
			}
			seen[id] = true
			if tf := s.files[id]; tf != nil {
				if tf.detached() {
					tf.detachedAt = time.Time{}
					s.setPath(tf, p)
				}
				continue
			}
			s.open(p, initial)
		}
	}
	s.m.watched.Set(float64(len(s.files)))
}

func (s *Source) excluded(p string) bool {
	base := filepath.Base(p)
	for _, pat := range s.cfg.Exclude {
		if ok, _ := filepath.Match(pat, p); ok {
			return true
		}
		if !strings.ContainsRune(pat, '/') {
			if ok, _ := filepath.Match(pat, base); ok {
				return true
			}
		}
	}
	return false
}

func (s *Source) setPath(tf *tailFile, p string) {
	tf.path = p
	tf.fileVal = p
	tf.kube = nil
	if s.cfg.Kubernetes {
		tf.kube = kubeFields(p)
	}
	if s.store != nil {
		s.store.update(tf)
	}
}

// open starts watching the file at path. A file with a matching
// checkpoint resumes there; otherwise a file found at start is read from
// its end unless read_from_head (or a checkpoint file exists: then it
// appeared while the agent was stopped), and any later file from its head.
func (s *Source) open(path string, initial bool) *tailFile {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.set.Logger.WithError(err).WithField("path", path).Warn("cannot open a file to tail")
		}
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil
	}
	id, ok := idOf(fi)
	if !ok || s.files[id] != nil {
		f.Close()
		return nil
	}
	size := fi.Size()
	off := int64(0)
	how := "head"
	if e, ok := s.loaded[id]; ok {
		delete(s.loaded, id)
		if e.Offset <= size && e.matches(f, size) {
			off, how = e.Offset, "checkpoint"
		} else {
			how = "head (checkpoint does not match: truncated or another file)"
		}
	} else if initial && !s.cfg.ReadFromHead && !s.dbExisted {
		off, how = size, "end"
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			s.set.Logger.WithError(err).WithField("path", path).Warn("cannot seek in a file to tail")
			f.Close()
			return nil
		}
	}
	tf := &tailFile{id: id, f: f, readOff: off, pos: off, size: size, lastReg: off}
	tf.path, tf.fileVal = path, path
	if s.cfg.Kubernetes {
		tf.kube = kubeFields(path)
	}
	if size > 0 {
		tf.fpLen = int(min(size, fingerprintSize))
		tf.fpHash, _ = fingerprint(f, tf.fpLen)
	} else {
		tf.fpHash, _ = fingerprint(f, 0)
	}
	// A new file where a watched one was: rotation by rename (counted once
	// per old file, whether the path was seen empty in between or not).
	for _, old := range s.order {
		if old.path == path && old.detached() {
			s.replaced(old)
		}
	}
	s.files[id] = tf
	s.order = append(s.order, tf)
	if s.store != nil {
		s.store.track(tf, off)
	}
	s.m.watched.Set(float64(len(s.files)))
	s.set.Logger.WithFields(logrus.Fields{"path": path, "offset": off, "from": how}).Info("tailing file")
	return tf
}

func (s *Source) updateFingerprint(tf *tailFile) {
	n := int(min(tf.readOff, fingerprintSize))
	if h, ok := fingerprint(tf.f, n); ok {
		tf.fpLen, tf.fpHash = n, h
		if s.store != nil {
			s.store.update(tf)
		}
	}
}

// check looks at the file and its path: truncation (copy-truncate
// rotation) starts it over from 0; the path now leading to another file
// (rename rotation) or to none (removal) detaches it — it is then read to
// its end and closed close_removed_after later — and a new file at the path
// is read from its head.
func (s *Source) check(tf *tailFile) {
	fi, err := tf.f.Stat()
	if err != nil {
		s.readLog.Record(err)
		return
	}
	tf.size = fi.Size()
	if tf.size < tf.readOff {
		s.truncated(tf)
	}
	if tf.detached() {
		return
	}
	if removed(fi) {
		tf.detachedAt = s.now
		return
	}
	pfi, err := os.Stat(tf.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			tf.detachedAt = s.now
		}
		return
	}
	if id, ok := idOf(pfi); ok && id != tf.id {
		tf.detachedAt = s.now
		s.replaced(tf)
		if s.files[id] == nil && !s.excluded(tf.path) {
			s.open(tf.path, false)
		}
	}
}

// replaced counts the rotation of a file by rename, once.
func (s *Source) replaced(tf *tailFile) {
	if !tf.replaced {
		tf.replaced = true
		s.m.rotRename.Inc()
	}
}

// truncated starts a file over from its beginning.
func (s *Source) truncated(tf *tailFile) {
	s.set.Logger.WithFields(logrus.Fields{"path": tf.path, "size": tf.size, "offset": tf.readOff}).Info("file truncated (copy-truncate rotation); reading it from its beginning")
	s.m.rotTruncate.Inc()
	s.finish(tf)
	if _, err := tf.f.Seek(0, io.SeekStart); err != nil {
		s.readLog.Record(err)
		return
	}
	if s.cur != nil && s.cur.tf == tf {
		s.closeSeg()
	}
	tf.readOff, tf.pos, tf.lastReg = 0, 0, 0
	tf.carry, tf.discarding = tf.carry[:0], false
	tf.fpLen = 0
	tf.fpHash, _ = fingerprint(tf.f, 0)
	if s.store != nil {
		s.store.reset(tf, 0)
	}
}

// finish emits everything a file holds: its unfinished last line and the
// records being assembled. Used when the file ends (closed, truncated).
func (s *Source) finish(tf *tailFile) {
	if len(tf.carry) > 0 {
		line, trunc := tf.carry, tf.discarding
		start := tf.pos
		tf.pos = tf.readOff
		if !trunc {
			line = trimCR(line)
			if len(line) > s.max {
				line, trunc = cutUTF8(line, s.max), true
			}
		}
		s.line(tf, line, start, trunc)
		tf.carry, tf.discarding = tf.carry[:0], false
	}
	s.flushStreams(tf)
}

// flushStreams emits the records being assembled, as they are.
func (s *Source) flushStreams(tf *tailFile) {
	for i := range tf.streams {
		st := &tf.streams[i]
		if st.inPart {
			st.inPart = false
			s.record(tf, st, i, st.part, st.partTime, nil, st.partT, st.partHasT, st.partTrunc, st.partStart)
		}
		if st.inML {
			s.flushML(tf, st, i)
		}
	}
}

// closeFile stops watching a file (read to its end after removal or
// rotation, or at Stop). forget drops its checkpoint entry.
func (s *Source) closeFile(tf *tailFile, forget bool) {
	if forget {
		s.finish(tf)
	}
	if s.cur != nil && s.cur.tf == tf {
		s.closeSeg()
	}
	if s.store != nil && forget {
		s.advanceFile(tf)
		s.store.forget(tf)
	}
	tf.f.Close()
	delete(s.files, tf.id)
	if i := slices.Index(s.order, tf); i >= 0 {
		s.order = slices.Delete(s.order, i, i+1)
	}
	s.m.watched.Set(float64(len(s.files)))
	if forget {
		s.set.Logger.WithField("path", tf.path).Info("closed a removed or rotated file after reading it to its end")
	}
}

func (s *Source) closeAll() {
	for _, tf := range slices.Clone(s.order) {
		s.closeFile(tf, false)
	}
}

// readFile reads from tf up to budget bytes, handling every complete line.
// It reports whether the budget ran out before the end of the file.
func (s *Source) readFile(tf *tailFile, budget int) bool {
	for budget > 0 {
		n := 0
		if !tf.discarding {
			n = len(tf.carry)
			if len(s.buf) < n+readSize/4 {
				s.buf = make([]byte, n+readSize)
			}
			copy(s.buf, tf.carry)
		}
		m, err := tf.f.Read(s.buf[n:])
		if m <= 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				s.readLog.Record(fmt.Errorf("%s: %w", tf.path, err))
			}
			return false
		}
		tf.readOff += int64(m)
		if tf.readOff > tf.size {
			tf.size = tf.readOff
		}
		budget -= m
		s.nBytes += m
		data := s.buf[:n+m]
		base := tf.readOff - int64(len(data))
		if tf.discarding {
			i := indexNL(data)
			if i < 0 {
				continue
			}
			start := tf.pos
			tf.pos = base + int64(i) + 1
			tf.discarding = false
			s.line(tf, tf.carry, start, true)
			tf.carry = tf.carry[:0]
			data = data[i+1:]
			base = tf.pos
		}
		p := 0
		for {
			i := indexNL(data[p:])
			if i < 0 {
				break
			}
			line := data[p : p+i]
			start := base + int64(p)
			p += i + 1
			tf.pos = base + int64(p)
			trunc := false
			if k := len(line); k > 0 && line[k-1] == '\r' {
				line = line[:k-1]
			}
			if len(line) > s.max {
				line, trunc = cutUTF8(line, s.max), true
			}
			s.line(tf, line, start, trunc)
			if len(s.out) >= batchMax && !s.flushOut() {
				return false
			}
		}
		rest := data[p:]
		if cap(tf.carry) > 64<<10 && len(rest) < 4<<10 {
			tf.carry = nil // do not keep a large buffer for a file of short lines
		}
		if len(rest) > s.max+1 {
			// Longer than the limit even allowing for a \r: keep its head,
			// skip the rest up to the next newline.
			tf.carry = append(tf.carry[:0], cutUTF8(rest, s.max)...)
			tf.discarding = true
		} else {
			tf.carry = append(tf.carry[:0], rest...)
		}
	}
	return true
}

// line handles one physical line (without its newline) that started at
// file offset start. The bytes are only valid during the call.
func (s *Source) line(tf *tailFile, raw []byte, start int64, trunc bool) {
	s.nLines++
	if len(raw) == 0 {
		// Empty lines carry nothing, except inside a plain multiline event.
		if st := &tf.streams[streamNone]; st.inML {
			s.record(tf, st, streamNone, raw, "", nil, s.now, false, trunc, start)
		}
		return
	}
	switch s.format {
	case fmtCRI:
		if c, ok := ParseCRI(raw); ok {
			s.cri(tf, raw, c, start, trunc)
			return
		}
		s.parseError(FormatCRI, raw)
	case fmtDocker:
		if d, ok := ParseDocker(raw); ok {
			s.docker(tf, d, start, trunc)
			return
		}
		s.parseError(FormatDocker, raw)
	case fmtAuto:
		if len(raw) > 0 {
			switch c := raw[0]; {
			case c == '{':
				if d, ok := ParseDocker(raw); ok {
					s.docker(tf, d, start, trunc)
					return
				}
			case c >= '0' && c <= '9':
				if c, ok := ParseCRI(raw); ok {
					s.cri(tf, raw, c, start, trunc)
					return
				}
			}
		}
	}
	st := &tf.streams[streamNone]
	if s.re == nil {
		if len(raw) > 0 {
			s.emit(tf, string(raw), "", s.now, false, streamNone, trunc, start)
		}
		return
	}
	s.record(tf, st, streamNone, raw, "", nil, s.now, false, trunc, start)
}

func (s *Source) parseError(format string, raw []byte) {
	if format == FormatCRI {
		s.m.criErrors.Inc()
	} else {
		s.m.dockerErrors.Inc()
	}
	// Formatted only when the rate-limited log writes it, during Record.
	s.perr.format, s.perr.line = format, raw
	s.parseLog.Record(&s.perr)
	s.perr.line = nil
}

// lineError describes a line that is not in the configured format.
type lineError struct {
	format string
	line   []byte
}

func (e *lineError) Error() string {
	return fmt.Sprintf("not a %s line: %q", e.format, cutUTF8(e.line, 200))
}

func (s *Source) cri(tf *tailFile, raw []byte, c CRILine, start int64, trunc bool) {
	st := &tf.streams[c.Stream]
	msg := raw[c.MsgStart:]
	if !c.Partial && !st.inPart {
		if s.re == nil {
			if len(msg) > 0 {
				// One allocation holds both the time and the message.
				str := string(raw)
				s.emit(tf, str[c.MsgStart:], str[:c.TimeEnd], c.Time, true, c.Stream, trunc, start)
			}
			return
		}
		s.record(tf, st, c.Stream, msg, "", raw[:c.TimeEnd], c.Time, true, trunc, start)
		return
	}
	if !st.inPart {
		st.inPart, st.partStart, st.part, st.partTrunc = true, start, st.part[:0], false
		st.partTime, st.partT, st.partHasT = string(raw[:c.TimeEnd]), c.Time, true
	}
	st.partTrunc = s.appendBounded(&st.part, msg) || st.partTrunc || trunc
	if c.Partial {
		return
	}
	st.inPart = false
	s.record(tf, st, c.Stream, st.part, st.partTime, nil, st.partT, true, st.partTrunc, st.partStart)
	st.releasePart()
}

// releasePart drops a large join buffer once its record is out.
func (st *streamState) releasePart() {
	if cap(st.part) > 64<<10 {
		st.part = nil
	}
}

func (s *Source) docker(tf *tailFile, d DockerLine, start int64, trunc bool) {
	st := &tf.streams[d.Stream]
	if !d.Partial && !st.inPart {
		if s.re == nil {
			if d.Log != "" {
				t := d.Time
				if !d.HasTime {
					t = s.now
				}
				s.emit(tf, d.Log, d.TimeStr, t, d.HasTime, d.Stream, trunc, start)
			}
			return
		}
		st.part = append(st.part[:0], d.Log...)
		s.record(tf, st, d.Stream, st.part, d.TimeStr, nil, d.Time, d.HasTime, trunc, start)
		return
	}
	if !st.inPart {
		st.inPart, st.partStart, st.part, st.partTrunc = true, start, st.part[:0], false
		st.partTime, st.partT, st.partHasT = d.TimeStr, d.Time, d.HasTime
	}
	st.partTrunc = s.appendBounded(&st.part, []byte(d.Log)) || st.partTrunc || trunc
	if d.Partial {
		return
	}
	st.inPart = false
	s.record(tf, st, d.Stream, st.part, st.partTime, nil, st.partT, st.partHasT, st.partTrunc, st.partStart)
	st.releasePart()
}

// appendBounded appends b to *dst up to max_line_size bytes and reports
// whether something was cut.
func (s *Source) appendBounded(dst *[]byte, b []byte) bool {
	room := s.max - len(*dst)
	if len(b) <= room {
		*dst = append(*dst, b...)
		return false
	}
	if room > 0 {
		*dst = append(*dst, cutUTF8(b, room)...)
	}
	return true
}

// record handles one logical line (partial lines joined): emitted at once,
// or gathered by the multiline rule. msg is only valid during the call;
// the time is timeStr, or timeB when timeStr is empty.
func (s *Source) record(tf *tailFile, st *streamState, stream int, msg []byte, timeStr string, timeB []byte, t time.Time, hasT, trunc bool, start int64) {
	if timeStr == "" && len(timeB) > 0 {
		timeStr = string(timeB)
	}
	if !hasT {
		t = s.now
	}
	if s.re == nil {
		if len(msg) > 0 {
			s.emit(tf, string(msg), timeStr, t, hasT, stream, trunc, start)
		}
		return
	}
	starts := s.re.Match(msg)
	if st.inML && !starts {
		st.mlTrunc = s.appendBounded(&st.ml, []byte{'\n'}) || st.mlTrunc
		st.mlTrunc = s.appendBounded(&st.ml, msg) || st.mlTrunc || trunc
		st.mlLines++
		st.mlLast = s.now
		if st.mlLines >= s.cfg.Multiline.MaxLines {
			s.flushML(tf, st, stream)
		}
		return
	}
	if st.inML {
		s.flushML(tf, st, stream)
	}
	st.inML, st.mlStart, st.ml, st.mlTrunc = true, start, st.ml[:0], trunc
	st.mlTrunc = s.appendBounded(&st.ml, msg) || st.mlTrunc
	st.mlTime, st.mlT, st.mlHasT = timeStr, t, hasT
	st.mlLines, st.mlLast = 1, s.now
	if st.mlLines >= s.cfg.Multiline.MaxLines {
		s.flushML(tf, st, stream)
	}
}

func (s *Source) flushML(tf *tailFile, st *streamState, stream int) {
	st.inML = false
	if len(st.ml) > 0 {
		s.emit(tf, string(st.ml), st.mlTime, st.mlT, st.mlHasT, stream, st.mlTrunc, st.mlStart)
	}
	if cap(st.ml) > 64<<10 {
		st.ml = nil // do not keep a large buffer for an idle stream
	}
}

// emit makes the event of one record.
//
// start is the offset of the record's first line: a restart that must emit
// this event again resumes there (or earlier, at a record still being
// assembled).
func (s *Source) emit(tf *tailFile, msg, timeStr string, t time.Time, hasT bool, stream int, trunc bool, start int64) {
	if len(s.pool) == 0 {
		s.pool = event.NewBatch(eventBlock, event.KindLog, time.Time{})
	}
	ev := s.pool[0]
	s.pool[0] = nil
	s.pool = s.pool[1:]
	m := make(map[string]any, 8)
	m["message"] = msg
	if stream != streamNone {
		m["stream"] = streamVals[stream]
	}
	if hasT && timeStr != "" {
		m["time"] = timeStr
	}
	m["file"] = tf.fileVal
	if tf.kube != nil {
		// Cloning copies the template's memory without hashing a key.
		m["kubernetes"] = maps.Clone(tf.kube)
	}
	ev.SetFields(m)
	ev.Time = t
	if trunc {
		ev.AddTags(TruncatedTag)
		s.nTrunc++
	}
	if s.store != nil {
		if s.cur == nil || s.cur.tf != tf {
			s.closeSeg()
			s.cur = &segment{tf: tf, lo: len(s.out)}
			seg := s.cur
			st := s.store
			seg.acker = event.NewAcker(func(ok bool) { st.ack(seg.tf, seg.seq, ok) })
			s.segs = append(s.segs, seg)
		}
		s.cur.acker.Track(ev)
		s.outResume = append(s.outResume, min(start, s.safeOffset(tf)))
	}
	s.out = append(s.out, ev)
}

// safeOffset is where a restart must resume the file: after the last line
// handled, or at the start of a record still being assembled.
func (s *Source) safeOffset(tf *tailFile) int64 {
	off := tf.pos
	for i := range tf.streams {
		st := &tf.streams[i]
		if st.inPart && st.partStart < off {
			off = st.partStart
		}
		if st.inML && st.mlStart < off {
			off = st.mlStart
		}
	}
	return off
}

// closeSeg hands the current segment's end position to the store.
func (s *Source) closeSeg() {
	if s.cur == nil {
		return
	}
	off := s.safeOffset(s.cur.tf)
	s.cur.seq = s.store.register(s.cur.tf, off)
	s.cur.tf.lastReg = off
	s.cur = nil
}

// advanceFile moves the checkpoint of a file that made no events since its
// last segment (empty lines, data consumed into records still pending).
func (s *Source) advanceFile(tf *tailFile) {
	if off := s.safeOffset(tf); off > tf.lastReg {
		s.store.advance(tf, off)
		tf.lastReg = off
	}
}

// endRound writes the events made and moves every file's position.
func (s *Source) endRound() bool {
	if s.store != nil {
		s.closeSeg()
		for _, tf := range s.order {
			s.advanceFile(tf)
		}
	}
	ok := s.flushOut()
	s.m.lines.Add(float64(s.nLines))
	s.m.bytes.Add(float64(s.nBytes))
	s.m.truncated.Add(float64(s.nTrunc))
	s.nLines, s.nBytes, s.nTrunc = 0, 0, 0
	return ok
}

// flushOut writes the events made so far; false means the pipeline no
// longer accepts events.
func (s *Source) flushOut() bool {
	if s.store != nil {
		s.closeSeg()
	}
	if len(s.out) == 0 {
		return !s.failed
	}
	s.set.Telemetry.Received(len(s.out))
	n := 0
	var err error
	if !s.failed {
		n, err = s.in.Write(s.writeCtx, s.out)
		s.set.Telemetry.Passed(n)
	} else {
		err = pipelines.ErrClosed
	}
	if err != nil {
		if !s.failed {
			s.set.Logger.WithError(err).WithField("events", len(s.out)-n).
				Error("lines read were not written: the pipeline did not accept them (with checkpoints they are read again after a restart)")
		}
		s.failed = true
		if s.store != nil {
			for _, seg := range s.segs {
				switch hi := s.segEnd(seg); {
				case hi <= n: // accepted whole
				case seg.lo < n:
					s.store.notAccepted(seg.tf, seg.seq, s.outResume[n])
				default:
					s.store.notAccepted(seg.tf, seg.seq, -1)
				}
			}
		}
		// Never in the pipeline: they end here without counting as
		// rejected, their chunks are held back above.
		for _, ev := range s.out[n:] {
			ev.Finalize(event.Dropped)
		}
	}
	for _, seg := range s.segs {
		seg.acker.Seal()
	}
	clear(s.out)
	s.out = s.out[:0]
	s.outResume = s.outResume[:0]
	clear(s.segs)
	s.segs = s.segs[:0]
	return err == nil
}

// segEnd is the index in out after seg's last event.
func (s *Source) segEnd(seg *segment) int {
	for i, x := range s.segs[:len(s.segs)-1] {
		if x == seg {
			return s.segs[i+1].lo
		}
	}
	return len(s.out)
}

func indexNL(b []byte) int { return bytes.IndexByte(b, '\n') }

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
