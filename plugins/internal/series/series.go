// Package series is the label-combination table behind the processors that
// keep Prometheus metrics per event (span_metrics, log_metrics): a label
// key encoding, and a map from keys to resolved metric children that the
// hot path reads without locking or allocating.
package series

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// AppendValue appends one label value to a key, prefixed with its length
// so that a key is unambiguous whatever the values hold.
func AppendValue(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendBytes is AppendValue for a value held as bytes.
func AppendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Values splits a key back into its label values. Values that are not
// valid UTF-8 are repaired (U+FFFD): Prometheus refuses them as labels.
func Values(key []byte) []string {
	var vals []string
	for len(key) > 0 {
		n, w := binary.Uvarint(key)
		key = key[w:]
		v := string(key[:n])
		if !utf8.ValidString(v) {
			v = strings.ToValidUTF8(v, "\uFFFD")
		}
		vals = append(vals, v)
		key = key[n:]
	}
	return vals
}

// Table maps label keys to series S. Get reads an immutable snapshot, so
// the hot path takes no lock and allocates nothing; new series are added
// under the table's lock and published in a new snapshot once enough
// lookups missed it — at once while the table is small, then after a
// number of misses proportional to its size, so copying stays amortized
// O(1) per series.
type Table[S any] struct {
	snap atomic.Pointer[map[string]S]
	// Full is for the owner's cap: set once no new combination gets its
	// own series, so lookups can go to the overflow series without the
	// lock.
	Full atomic.Bool

	mu     sync.Mutex
	all    map[string]S
	misses int
}

// NewTable returns an empty table.
func NewTable[S any]() *Table[S] {
	t := &Table[S]{all: map[string]S{}}
	empty := map[string]S{}
	t.snap.Store(&empty)
	return t
}

// Get looks key up in the snapshot.
func (t *Table[S]) Get(key []byte) (S, bool) {
	s, ok := (*t.snap.Load())[string(key)]
	return s, ok
}

// Lock and Unlock guard the methods whose names end in Locked.
func (t *Table[S]) Lock()   { t.mu.Lock() }
func (t *Table[S]) Unlock() { t.mu.Unlock() }

// FindLocked looks key up in the table itself (a series may not be in the
// snapshot yet); a hit counts as a miss of the snapshot.
func (t *Table[S]) FindLocked(key []byte) (S, bool) {
	s, ok := t.all[string(key)]
	if ok {
		t.noteMiss()
	}
	return s, ok
}

// AddLocked adds a series.
func (t *Table[S]) AddLocked(key []byte, s S) {
	t.all[string(key)] = s
	t.noteMiss()
}

// LenLocked is the number of series in the table.
func (t *Table[S]) LenLocked() int { return len(t.all) }

// PublishLocked makes every series visible to Get now.
func (t *Table[S]) PublishLocked() {
	m := make(map[string]S, len(t.all))
	for k, v := range t.all {
		m[k] = v
	}
	t.snap.Store(&m)
	t.misses = 0
}

func (t *Table[S]) noteMiss() {
	t.misses++
	if len(t.all) > 1024 && t.misses*8 < len(t.all) {
		return
	}
	t.PublishLocked()
}
