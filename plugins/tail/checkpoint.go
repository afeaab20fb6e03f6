package tail

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// fileID is a file's identity: it survives renames, and a checkpoint keyed
// by it follows the file through rename rotation.
type fileID struct{ Dev, Ino uint64 }

// fingerprintSize is how much of a file's head the checkpoint hashes, to
// tell a file from a later one that got the same inode.
const fingerprintSize = 1024

// dbEntry is one file's committed position in the checkpoint file.
type dbEntry struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	// FPLen bytes at the head of the file hash (FNV-1a 64, hex) to FP.
	FPLen int    `json:"fingerprint_len"`
	FP    string `json:"fingerprint"`
}

type dbFile struct {
	Version int       `json:"version"`
	Saved   time.Time `json:"saved"`
	Files   []dbEntry `json:"files"`
}

const dbVersion = 1

// loadDB reads the checkpoint file. existed is false when there is none.
func loadDB(path string) (entries map[fileID]dbEntry, existed bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[fileID]dbEntry{}, false, nil
	}
	if err != nil {
		return map[fileID]dbEntry{}, true, err
	}
	var db dbFile
	if err := json.Unmarshal(data, &db); err != nil {
		return map[fileID]dbEntry{}, true, fmt.Errorf("checkpoint file %s is corrupt: %w", path, err)
	}
	if db.Version != dbVersion {
		return map[fileID]dbEntry{}, true, fmt.Errorf("checkpoint file %s has version %d, want %d", path, db.Version, dbVersion)
	}
	entries = make(map[fileID]dbEntry, len(db.Files))
	for _, e := range db.Files {
		entries[fileID{e.Dev, e.Ino}] = e
	}
	return entries, true, nil
}

// fingerprint hashes the first n bytes of f.
func fingerprint(f io.ReaderAt, n int) (uint64, bool) {
	buf := make([]byte, n)
	if k, err := f.ReadAt(buf, 0); k != n {
		_ = err
		return 0, false
	}
	h := fnv.New64a()
	h.Write(buf)
	return h.Sum64(), true
}

// matches reports whether the entry describes the file f of the given size:
// the fingerprinted head is there and unchanged.
func (e dbEntry) matches(f io.ReaderAt, size int64) bool {
	if e.FPLen < 0 || e.FPLen > fingerprintSize || int64(e.FPLen) > size {
		return false
	}
	h, ok := fingerprint(f, e.FPLen)
	return ok && strconv.FormatUint(h, 16) == e.FP
}

// Queue entry states.
const (
	pending uint8 = iota
	acked
	failed
)

type qent struct {
	off   int64
	state uint8
}

// ckState is one file's checkpoint state, guarded by store.mu.
type ckState struct {
	path      string
	committed int64
	fpLen     int
	fpHash    uint64
	// q holds, in read order, the end offsets of chunks not committed yet;
	// q[0] has sequence number base. An offset becomes committed when its
	// chunk and every chunk before it were acknowledged.
	q    []qent
	base int64
	// blocked is set when events of this file were not accepted by the
	// pipeline (the source is stopping): nothing after them may commit.
	blocked bool
}

// store keeps the committed positions and writes them to the checkpoint
// file. Positions advance only when the events read up to them were
// acknowledged end to end.
type store struct {
	path string
	log  *logrus.Entry

	mu          sync.Mutex
	files       map[*tailFile]struct{}
	dirty       bool
	outstanding int  // chunks written and not acknowledged yet
	stopping    bool // Stop was called: a rejected chunk is not committed
	lastSave    time.Time
	saves       int

	saveMu sync.Mutex // one writer of the file at a time
}

func newStore(path string, log *logrus.Entry) *store {
	return &store{path: path, log: log, files: map[*tailFile]struct{}{}}
}

// track adds a file whose committed position is off.
func (st *store) track(tf *tailFile, off int64) {
	st.mu.Lock()
	tf.ck = ckState{path: tf.path, committed: off, fpLen: tf.fpLen, fpHash: tf.fpHash}
	st.files[tf] = struct{}{}
	st.dirty = true
	st.mu.Unlock()
}

// forget drops a closed file: nothing can resume it.
func (st *store) forget(tf *tailFile) {
	st.mu.Lock()
	delete(st.files, tf)
	st.dirty = true
	st.mu.Unlock()
}

// update copies the file's path and fingerprint.
func (st *store) update(tf *tailFile) {
	st.mu.Lock()
	tf.ck.path, tf.ck.fpLen, tf.ck.fpHash = tf.path, tf.fpLen, tf.fpHash
	st.dirty = true
	st.mu.Unlock()
}

// reset starts the file over at off (it was truncated): chunks of the old
// content still in flight no longer matter.
func (st *store) reset(tf *tailFile, off int64) {
	st.mu.Lock()
	c := &tf.ck
	c.base += int64(len(c.q))
	c.q = nil
	c.committed, c.fpLen, c.fpHash = off, tf.fpLen, tf.fpHash
	st.dirty = true
	st.mu.Unlock()
}

// register queues a chunk of events ending at off and returns its sequence
// number for ack.
func (st *store) register(tf *tailFile, off int64) int64 {
	st.mu.Lock()
	c := &tf.ck
	seq := c.base + int64(len(c.q))
	state := pending
	if c.blocked {
		state = failed
	}
	c.q = append(c.q, qent{off: off, state: state})
	st.outstanding++
	st.mu.Unlock()
	return seq
}

// advance moves the position to off without events (lines that made none:
// empty lines, parts still being joined are not included by the caller).
func (st *store) advance(tf *tailFile, off int64) {
	st.mu.Lock()
	c := &tf.ck
	if c.blocked {
		st.mu.Unlock()
		return
	}
	if len(c.q) == 0 {
		if off != c.committed {
			c.committed = off
			st.dirty = true
		}
	} else {
		c.q = append(c.q, qent{off: off, state: acked})
	}
	st.mu.Unlock()
}

// ack is the acknowledgement of chunk seq of tf. A chunk rejected after
// Stop (lost at the shutdown deadline) is not committed: it is read again
// after a restart. A chunk rejected while running was dead-lettered or
// counted as failed by the pipeline and is committed.
func (st *store) ack(tf *tailFile, seq int64, ok bool) {
	st.mu.Lock()
	c := &tf.ck
	if i := seq - c.base; i >= 0 && i < int64(len(c.q)) {
		state := acked
		if !ok && st.stopping {
			state = failed
		}
		if c.q[i].state != failed {
			c.q[i].state = state
		}
		for len(c.q) > 0 && c.q[0].state == acked {
			c.committed = c.q[0].off
			c.q = c.q[1:]
			c.base++
			st.dirty = true
		}
	}
	st.outstanding--
	saveNow := st.stopping && st.dirty && (st.outstanding == 0 || time.Since(st.lastSave) >= time.Second)
	st.mu.Unlock()
	if saveNow {
		if err := st.save(); err != nil {
			st.log.WithError(err).Error("writing the tail checkpoint failed")
		}
	}
}

// notAccepted handles chunk seq of tf when the pipeline did not accept all
// of its events: with resume >= 0 it accepted the first ones and the chunk
// commits only up to resume (the start of the first event not accepted);
// with resume < 0 it accepted none and the chunk never commits. Either way
// nothing after it commits during this run.
func (st *store) notAccepted(tf *tailFile, seq int64, resume int64) {
	st.mu.Lock()
	c := &tf.ck
	if i := seq - c.base; i >= 0 && i < int64(len(c.q)) {
		if resume >= 0 {
			c.q[i].off = resume
		} else {
			c.q[i].state = failed
		}
		for j := i + 1; j < int64(len(c.q)); j++ {
			c.q[j].state = failed
		}
	}
	c.blocked = true
	st.mu.Unlock()
}

func (st *store) setStopping() {
	st.mu.Lock()
	st.stopping = true
	st.mu.Unlock()
}

// committed returns the file's committed position (for tests).
func (st *store) committed(tf *tailFile) int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return tf.ck.committed
}

// save writes the committed positions atomically (temporary file, fsync,
// rename) when they changed since the last save.
func (st *store) save() error {
	st.saveMu.Lock()
	defer st.saveMu.Unlock()
	st.mu.Lock()
	if !st.dirty {
		st.mu.Unlock()
		return nil
	}
	db := dbFile{Version: dbVersion, Saved: time.Now().UTC(), Files: make([]dbEntry, 0, len(st.files))}
	for tf := range st.files {
		c := &tf.ck
		db.Files = append(db.Files, dbEntry{Dev: tf.id.Dev, Ino: tf.id.Ino, Path: c.path, Offset: c.committed,
			FPLen: c.fpLen, FP: strconv.FormatUint(c.fpHash, 16)})
	}
	st.dirty = false
	st.lastSave = time.Now()
	st.mu.Unlock()

	err := writeAtomic(st.path, db)
	st.mu.Lock()
	if err != nil {
		st.dirty = true
	} else {
		st.saves++
	}
	st.mu.Unlock()
	return err
}

func writeAtomic(path string, db dbFile) error {
	data, err := json.Marshal(db)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
