package tail

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

const fastOpts = "poll_interval: 5ms, refresh_interval: 20ms, close_removed_after: 200ms"

// writer appends numbered CRI lines ("line <i>") to a file it keeps open,
// as a container runtime does.
type writer struct {
	t    *testing.T
	path string
	f    *os.File
	n    int
}

func newWriter(t *testing.T, path string) *writer {
	w := &writer{t: t, path: path}
	w.reopen()
	return w
}

func (w *writer) reopen() {
	if w.f != nil {
		w.f.Close()
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Error(err)
		return
	}
	w.f = f
}

func (w *writer) line() {
	if _, err := w.f.WriteString(criLine(w.n, "stdout", "F", fmt.Sprintf("line %d", w.n))); err != nil {
		w.t.Error(err)
	}
	w.n++
}

func (w *writer) close() { w.f.Close() }

func TestRotateByRenameWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, podLog)
	w := newWriter(t, path)
	w.line()
	e := start(t, "{paths: ["+q(filepath.Join(dir, "*.log"))+"], read_from_head: true, "+fastOpts+"}")
	const total, every = 6000, 500
	rot, first := 0, 0
	for w.n < total {
		w.line()
		if w.n%every == 0 {
			// A file renamed out of the glob before the tailer ever saw it
			// cannot be followed (nothing leads to it): wait until the
			// tailer has the current one open, which it has once it read
			// its first line. It still lags behind the writer, so the rest
			// of the file is read through the old handle.
			e.waitN(first+1, 10*time.Second)
			// Rotate: rename the file away (out of the glob), go on
			// writing a few lines into the renamed file as a writer that
			// reopens late does, then reopen the path.
			rot++
			if err := os.Rename(path, fmt.Sprintf("%s.%d", path, rot)); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				w.line()
			}
			w.reopen()
			first = w.n
		}
		if w.n%20 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	w.close()
	e.waitN(w.n, 20*time.Second)
	time.Sleep(50 * time.Millisecond)
	checkExactlyOnce(t, msgs(e.in.snapshot()), w.n)
	if r := e.metric("weft_tail_rotations_total", "kind", "rename"); r != float64(rot) {
		t.Errorf("rename rotations counted: %v, want %d", r, rot)
	}
	// The rotated files are closed once read and close_removed_after passed.
	eventually(t, 15*time.Second, "rotated files closed", func() bool { return e.metric("weft_tail_files_watched") == 1 })
}

func TestCopyTruncateWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := newWriter(t, path)
	w.line()
	e := start(t, "{paths: ["+q(filepath.Join(dir, "*.log"))+"], read_from_head: true, "+fastOpts+"}")
	const total, every = 3000, 500
	truncations := 0
	for w.n < total {
		w.line()
		if w.n%every == 0 {
			// copy-truncate has an inherent race: lines written between
			// the copy and the truncation are in the copy only, and a
			// tailer that has not read them yet loses them. So the writer
			// pauses until the tailer caught up, the file is copied and
			// truncated, and writing resumes once the tailer noticed the
			// truncation (else more lines than it had read could be
			// written first, hiding it).
			e.waitN(w.n, 15*time.Second)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, fmt.Sprintf("%s.%d", path, w.n), string(data))
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			truncations++
			eventually(t, 15*time.Second, "truncation noticed", func() bool {
				return e.metric("weft_tail_rotations_total", "kind", "truncate") == float64(truncations)
			})
		}
	}
	w.close()
	e.waitN(total, 10*time.Second)
	time.Sleep(50 * time.Millisecond)
	checkExactlyOnce(t, msgs(e.in.snapshot()), total)
}

func TestNewFilesPickedUpAndExcluded(t *testing.T) {
	dir := t.TempDir()
	e := start(t, "{paths: ["+q(filepath.Join(dir, "*.log"))+"], exclude: ['skip-*', "+q(filepath.Join(dir, "also-skipped.log"))+"], "+fastOpts+"}")
	writeFile(t, filepath.Join(dir, "skip-me.log"), "no\n")
	writeFile(t, filepath.Join(dir, "also-skipped.log"), "no\n")
	writeFile(t, filepath.Join(dir, "later.log"), "first\nsecond\n") // read from its head
	evs := e.waitN(2, 15*time.Second)
	time.Sleep(50 * time.Millisecond)
	if got := msgs(e.in.snapshot()); strings.Join(got, "|") != "first|second" {
		t.Fatalf("messages %q", got)
	}
	if f := evs[0].Fields()["file"]; f != filepath.Join(dir, "later.log") {
		t.Errorf("file %v", f)
	}
	if n := e.metric("weft_tail_files_watched"); n != 1 {
		t.Errorf("files watched %v", n)
	}
}

func TestReadFromHead(t *testing.T) {
	for _, head := range []bool{false, true} {
		t.Run(fmt.Sprint(head), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			writeFile(t, path, "old 1\nold 2\n")
			e := start(t, fmt.Sprintf("{paths: [%s], read_from_head: %v, %s}", q(filepath.Join(dir, "*.log")), head, fastOpts))
			appendFile(t, path, "new\n")
			want := "new"
			if head {
				want = "old 1|old 2|new"
			}
			e.waitN(strings.Count(want, "|")+1, 15*time.Second)
			time.Sleep(50 * time.Millisecond)
			if got := strings.Join(msgs(e.in.snapshot()), "|"); got != want {
				t.Fatalf("messages %q, want %q", got, want)
			}
		})
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting open files (weft's tests run on Linux): %v", err)
	}
	return len(ents)
}

func TestDeletedFileIsClosed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	writeFile(t, path, "a\n")
	before := openFDs(t)
	e := start(t, "{paths: ["+q(filepath.Join(dir, "*.log"))+"], read_from_head: true, poll_interval: 5ms, refresh_interval: 20ms, close_removed_after: 300ms}")
	e.waitN(1, 15*time.Second)
	if n := e.metric("weft_tail_files_watched"); n != 1 {
		t.Fatalf("files watched %v", n)
	}
	// A writer still holding the deleted file appends: read up to its end.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	f.WriteString("b\nunterminated")
	deleted := time.Now()
	e.waitN(3, 15*time.Second)
	eventually(t, 15*time.Second, "the deleted file closed", func() bool { return e.metric("weft_tail_files_watched") == 0 })
	if since := time.Since(deleted); since < 250*time.Millisecond {
		t.Errorf("closed %v after the deletion, before close_removed_after", since)
	}
	if got := strings.Join(msgs(e.in.snapshot()), "|"); got != "a|b|unterminated" {
		t.Errorf("messages %q", got)
	}
	f.Close()
	if after := openFDs(t); after > before {
		t.Errorf("%d descriptors open, %d before: the deleted file is still held", after, before)
	}
}

// --- checkpoints ---

func readDB(t *testing.T, path string) dbFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var db dbFile
	if err := json.Unmarshal(data, &db); err != nil {
		t.Fatal(err)
	}
	return db
}

func startDB(t *testing.T, yamlText string, in *sink) *env {
	t.Helper()
	src, reg := newTail(t, yamlText, "")
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, src: src, reg: reg, in: in}
}

func writeLines(t *testing.T, path string, from, to int) {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(criLine(i, "stdout", "F", fmt.Sprintf("line %d", i)))
	}
	appendFile(t, path, b.String())
}

func TestCheckpointRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	db := filepath.Join(dir, "state", "tail.db")
	opts := "{paths: [" + q(filepath.Join(dir, "*.log")) + "], db: " + q(db) + ", " + fastOpts + "}"
	writeLines(t, path, 0, 500)
	// A record being joined when the source stops is not emitted: the
	// checkpoint stays at its start and the next run reads it whole.
	appendFile(t, path, criLine(500, "stdout", "P", "line "))

	// read_from_head is false, but the checkpoint file does not exist yet:
	// the first run starts at the end of existing files…
	a := startDB(t, opts, &sink{ack: true})
	a.stop()
	if n := len(a.in.snapshot()); n != 0 {
		t.Fatalf("first run read %d events from a file present at start", n)
	}
	// …so start over with read_from_head to read the first half.
	os.RemoveAll(filepath.Dir(db))
	a = startDB(t, strings.Replace(opts, "}", ", read_from_head: true}", 1), &sink{ack: true})
	a.waitN(500, 15*time.Second)
	time.Sleep(30 * time.Millisecond)
	a.stop()
	first := msgs(a.in.snapshot())
	if len(first) != 500 {
		t.Fatalf("first run: %d events", len(first))
	}
	st := readDB(t, db)
	if len(st.Files) != 1 || st.Files[0].Path != path || st.Files[0].FPLen != fingerprintSize {
		t.Fatalf("checkpoint %+v", st)
	}
	size := fileSize(t, path)
	if st.Files[0].Offset != size-int64(len(criLine(500, "stdout", "P", "line "))) {
		t.Errorf("checkpoint offset %d, want the start of the partial line", st.Files[0].Offset)
	}

	// Written while stopped: the rest of the partial line and more lines.
	appendFile(t, path, criLine(501, "stdout", "F", "500"))
	writeLines(t, path, 501, 1000)
	writeFile(t, filepath.Join(dir, "while-down.log"), criLine(1, "stdout", "F", "line 1000")) // a new file: from its head

	b := startDB(t, opts, &sink{ack: true})
	b.waitN(500, 15*time.Second)
	time.Sleep(50 * time.Millisecond)
	b.stop()
	checkExactlyOnce(t, append(first, msgs(b.in.snapshot())...), 1001)
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// blockingSink accepts up to limit events, then blocks until the write is
// canceled (a full pipeline at shutdown).
type blockingSink struct {
	sink
	limit int
}

func (b *blockingSink) Write(ctx context.Context, evs []*event.Event) (int, error) {
	b.mu.Lock()
	room := b.limit - len(b.events)
	b.mu.Unlock()
	if room >= len(evs) {
		return b.sink.Write(ctx, evs)
	}
	n, _ := b.sink.Write(ctx, evs[:max(room, 0)])
	<-ctx.Done()
	return n, ctx.Err()
}

// A stop in the middle of a large file, while the pipeline is full: what
// was accepted is committed, the rest is read by the next run.
func TestCheckpointStopMidFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	db := filepath.Join(dir, "tail.db")
	const total = 50000
	writeLines(t, path, 0, total)
	opts := "{paths: [" + q(path) + "], db: " + q(db) + ", read_from_head: true, " + fastOpts + "}"
	bs := &blockingSink{sink: sink{ack: true}, limit: 12345}
	src, _ := newTail(t, opts, "")
	if err := src.Start(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the pipeline to fill", func() bool { return len(bs.snapshot()) == bs.limit })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := src.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	first := msgs(bs.snapshot())
	b := startDB(t, opts, &sink{ack: true})
	b.waitN(total-len(first), 10*time.Second)
	time.Sleep(50 * time.Millisecond)
	b.stop()
	checkExactlyOnce(t, append(first, msgs(b.in.snapshot())...), total)
}

func TestCheckpointWaitsForAcknowledgement(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	db := filepath.Join(dir, "tail.db")
	writeLines(t, path, 0, 10)
	in := &sink{} // holds events without finalizing them
	e := startDB(t, "{paths: ["+q(path)+"], db: "+q(db)+", read_from_head: true, "+fastOpts+"}", in)
	e.waitN(10, 15*time.Second)
	tf := e.src.files[mustID(t, path)]
	time.Sleep(1200 * time.Millisecond) // past a periodic save
	if c := e.src.store.committed(tf); c != 0 {
		t.Fatalf("committed %d with no event acknowledged", c)
	}
	if off := readDB(t, db).Files[0].Offset; off != 0 {
		t.Fatalf("checkpoint file offset %d with no event acknowledged", off)
	}
	in.deliverHeld()
	size := fileSize(t, path)
	eventually(t, 15*time.Second, "the checkpoint to advance", func() bool { return e.src.store.committed(tf) == size })
	eventually(t, 15*time.Second, "the checkpoint file to advance", func() bool { return readDB(t, db).Files[0].Offset == size })

	// The pipeline drains after its source stopped: events delivered then
	// are committed, and the checkpoint file written, after Stop returned.
	writeLines(t, path, 10, 20)
	e.waitN(20, 15*time.Second)
	e.stop()
	if off := readDB(t, db).Files[0].Offset; off != size {
		t.Fatalf("checkpoint moved to %d before acknowledgement", off)
	}
	in.deliverHeld()
	size = fileSize(t, path)
	if off := readDB(t, db).Files[0].Offset; off != size {
		t.Fatalf("events delivered after Stop: checkpoint file at %d, want %d", off, size)
	}

	// Events rejected after Stop (lost at the shutdown deadline) are not
	// committed.
	in = &sink{}
	e = startDB(t, "{paths: ["+q(path)+"], db: "+q(db)+", "+fastOpts+"}", in)
	writeLines(t, path, 20, 30)
	e.waitN(10, 15*time.Second)
	e.stop()
	in.mu.Lock()
	held := in.held
	in.held = nil
	in.mu.Unlock()
	for _, ev := range held[:5] {
		ev.Finalize(event.Delivered)
	}
	held[5].Finalize(event.Rejected)
	for _, ev := range held[6:] {
		ev.Finalize(event.Delivered)
	}
	if off := readDB(t, db).Files[0].Offset; off != size {
		t.Fatalf("a rejected chunk was committed: %d, want %d", off, size)
	}
}

func mustID(t *testing.T, path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := idOf(fi)
	return id
}

// Inode reuse: a checkpoint whose fingerprint does not match the file is
// not applied.
func TestCheckpointFingerprint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	db := filepath.Join(dir, "tail.db")
	writeLines(t, path, 0, 3)
	id := mustID(t, path)
	st := dbFile{Version: dbVersion, Files: []dbEntry{{Dev: id.Dev, Ino: id.Ino, Path: path, Offset: 10, FPLen: 5, FP: "1234"}}}
	if err := writeAtomic(db, st); err != nil {
		t.Fatal(err)
	}
	e := startDB(t, "{paths: ["+q(path)+"], db: "+q(db)+", "+fastOpts+"}", &sink{ack: true})
	defer e.stop()
	e.waitN(3, 15*time.Second)
	checkExactlyOnce(t, msgs(e.in.snapshot()), 3)
}

// The default checkpoint file lives in the agent's data directory.
func TestDefaultDB(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, filepath.Join(dir, "a.log"), 0, 1)
	src, _ := newTail(t, "{paths: ["+q(filepath.Join(dir, "*.log"))+"]}", filepath.Join(dir, "data"))
	if err := src.Start(context.Background(), &sink{ack: true}); err != nil {
		t.Fatal(err)
	}
	src.Stop(context.Background())
	if st := readDB(t, filepath.Join(dir, "data", "tail-test.db")); len(st.Files) != 1 {
		t.Fatalf("checkpoint %+v", st)
	}
	// Without a data directory and db there is no checkpoint.
	src, _ = newTail(t, "{paths: ["+q(filepath.Join(dir, "*.log"))+"]}", "")
	if src.dbPath != "" {
		t.Fatalf("db %q", src.dbPath)
	}
}

func TestStopIsPromptWhenThePipelineIsFull(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, filepath.Join(dir, "a.log"), 0, 5000)
	bs := &blockingSink{limit: 10}
	src, _ := newTail(t, "{paths: ["+q(filepath.Join(dir, "*.log"))+"], read_from_head: true, "+fastOpts+"}", "")
	if err := src.Start(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the pipeline to fill", func() bool { return len(bs.snapshot()) == 10 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	src.Stop(ctx)
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("Stop took %v", d)
	}
}

// Many files are read concurrently, each in order.
func TestManyFiles(t *testing.T) {
	dir := t.TempDir()
	e := start(t, "{paths: ["+q(filepath.Join(dir, "*.log"))+"], "+fastOpts+"}")
	var wg sync.WaitGroup
	const files, per = 20, 300
	for f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWriter(t, filepath.Join(dir, fmt.Sprintf("f%d.log", f)))
			w.n = f * per
			for range per {
				w.line()
			}
			w.close()
		}()
	}
	wg.Wait()
	e.waitN(files*per, 10*time.Second)
	time.Sleep(50 * time.Millisecond)
	checkExactlyOnce(t, msgs(e.in.snapshot()), files*per)
	if n := e.metric("weft_tail_files_watched"); n != files {
		t.Errorf("files watched %v", n)
	}
}

var _ io.Writer = (*os.File)(nil)
