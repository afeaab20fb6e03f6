package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tailPodLog is a file name as the kubelet writes it under
// /var/log/containers.
const tailPodLog = "checkout-5d8f_shop_app-" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + ".log"

func tailCRILine(n int, stream, tag, msg string) string {
	ts := time.Date(2025, 11, 23, 8, 0, 0, n, time.UTC).Format(time.RFC3339Nano)
	return fmt.Sprintf("%s %s %s %s\n", ts, stream, tag, msg)
}

func tailConfig(t *testing.T, dir, out, db string) string {
	t.Helper()
	cfg := filepath.Join(dir, "pipelines.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
tail-pipeline:
  delay: 20
  source:
    tail:
      paths: [%q]
      read_from_head: true
      poll_interval: 20ms
      refresh_interval: 50ms
      close_removed_after: 500ms
      db: %q
  processor:
    - parse_json:
        handle_failed_events: skip_silently
  sink:
    - file: {path: %q, append: true}
`, filepath.Join(dir, "logs", "*.log"), db, out))
	return cfg
}

// tailAppend appends to a file, creating it.
func tailAppend(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

func tailDocs(t *testing.T, out string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	// the last line may be being written
	s := string(data)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i+1]
	} else {
		return nil
	}
	return parseNDJSON(t, s)
}

// tailCheckNumbers checks that the documents carry n = 0 … total-1 (from
// parse_json) exactly once each.
func tailCheckNumbers(t *testing.T, docs []map[string]any, total int) {
	t.Helper()
	count := make([]int, total)
	for _, d := range docs {
		n, ok := d["n"].(float64)
		if !ok || int(n) < 0 || int(n) >= total {
			t.Fatalf("unexpected document %v", d)
		}
		count[int(n)]++
	}
	var missing, repeated []int
	for i, c := range count {
		if c == 0 {
			missing = append(missing, i)
		} else if c > 1 {
			repeated = append(repeated, i)
		}
	}
	if len(missing)+len(repeated) > 0 {
		t.Fatalf("%d documents for %d lines: %d missing (%v…), %d repeated (%v…)", len(docs), total,
			len(missing), missing[:min(len(missing), 10)], len(repeated), repeated[:min(len(repeated), 10)])
	}
}

// The CRI fixture (with a message split over P, P, F lines) and JSON
// application lines, tailed from a kubelet-named file, through parse_json
// into a file.
func TestTailCRIToFile(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	out := filepath.Join(dir, "out.ndjson")
	fixtureData, err := os.ReadFile(fixture("cri-containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "logs", tailPodLog)
	json := `{"level":"info","msg":"order placed","n":1}`
	tailAppend(t, logPath, string(fixtureData)+
		tailCRILine(100, "stdout", "P", json[:20])+
		tailCRILine(101, "stdout", "F", json[20:]))
	p := startWeft(t, tailConfig(t, dir, out, filepath.Join(dir, "tail.db")), nil)
	p.waitReady(20 * time.Second)
	eventually(t, 20*time.Second, "5 documents", func() bool { return len(tailDocs(t, out)) >= 5 })
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	docs := readNDJSON(t, out)
	if len(docs) != 5 {
		t.Fatalf("%d documents, want 5: %v", len(docs), docs)
	}
	lines := strings.Split(strings.TrimSpace(string(fixtureData)), "\n")
	part := func(l string) string { return strings.SplitN(l, " ", 4)[3] }
	if want := part(lines[2]) + part(lines[3]) + part(lines[4]); docs[2]["message"] != want {
		t.Errorf("joined message %q, want %q", docs[2]["message"], want)
	}
	if docs[2]["stream"] != "stdout" || docs[2]["time"] != "2025-11-23T08:00:09.000000000Z" || docs[3]["stream"] != "stderr" {
		t.Errorf("stream/time: %v / %v", docs[2], docs[3])
	}
	if docs[4]["level"] != "info" || docs[4]["msg"] != "order placed" || docs[4]["n"] != 1.0 {
		t.Errorf("parse_json did not parse the joined JSON message: %v", docs[4])
	}
	k, _ := docs[0]["kubernetes"].(map[string]any)
	if k["pod_name"] != "checkout-5d8f" || k["namespace_name"] != "shop" || k["container_name"] != "app" || docs[0]["file"] != logPath {
		t.Errorf("metadata %v", docs[0])
	}
}

// tailWriter appends numbered JSON lines in CRI format, rotating by rename.
type tailWriter struct {
	t     *testing.T
	path  string
	f     *os.File
	n     int
	rotNo int
}

func (w *tailWriter) open() {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Error(err)
		return
	}
	w.f = f
}

func (w *tailWriter) write() {
	// every 10th message is split into a partial and a final line
	msg := fmt.Sprintf(`{"n":%d,"msg":"line %d"}`, w.n, w.n)
	var s string
	if w.n%10 == 0 {
		s = tailCRILine(w.n, "stdout", "P", msg[:5]) + tailCRILine(w.n, "stdout", "F", msg[5:])
	} else {
		s = tailCRILine(w.n, "stdout", "F", msg)
	}
	if _, err := w.f.WriteString(s); err != nil {
		w.t.Error(err)
	}
	w.n++
}

// rotate renames the file away (out of the glob), writes a few more lines
// into it as a writer that reopens late does, then reopens the path.
func (w *tailWriter) rotate() {
	w.rotNo++
	if err := os.Rename(w.path, fmt.Sprintf("%s.%d", w.path, w.rotNo)); err != nil {
		w.t.Error(err)
	}
	for range 3 {
		w.write()
	}
	w.f.Close()
	w.open()
}

func TestTailRotationWhileWriting(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	out := filepath.Join(dir, "out.ndjson")
	w := &tailWriter{t: t, path: filepath.Join(dir, "logs", "app.log")}
	w.open()
	p := startWeft(t, tailConfig(t, dir, out, filepath.Join(dir, "tail.db")), nil)
	p.waitReady(20 * time.Second)
	first := 0 // first line of the current file
	for w.n < 3000 {
		w.write()
		if w.n%400 == 0 {
			// A file renamed out of the glob before the agent ever saw it
			// cannot be followed: rotate once the agent has read the
			// current file's first line (it still lags behind the writer,
			// so the rest of the file is read through the old handle).
			eventually(t, 30*time.Second, "the current file to be followed", func() bool { return len(tailDocs(t, out)) > first })
			w.rotate()
			first = w.n
		}
		if w.n%20 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	w.f.Close()
	total := w.n
	eventually(t, 30*time.Second, fmt.Sprintf("%d documents", total), func() bool { return len(tailDocs(t, out)) >= total })
	if r := p.metric("weft_tail_rotations_total", `kind="rename"`); r < 7 {
		t.Errorf("rename rotations %v, want 7", r)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	tailCheckNumbers(t, readNDJSON(t, out), total)
}

// The agent is stopped (SIGTERM) in the middle of a file that keeps being
// written, and started again with the same checkpoint: every line reaches
// the output exactly once.
func TestTailRestartMidFile(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	out := filepath.Join(dir, "out.ndjson")
	db := filepath.Join(dir, "state", "tail.db")
	cfg := tailConfig(t, dir, out, db)
	w := &tailWriter{t: t, path: filepath.Join(dir, "logs", "app.log")}
	w.open()
	// The writer goes on through every stop and start.
	var mu sync.Mutex // guards w while the writer runs
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			w.write()
			n := w.n
			mu.Unlock()
			if n%2 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for run := 1; run <= 3; run++ {
		p := startWeft(t, cfg, nil)
		p.waitReady(20 * time.Second)
		before := len(tailDocs(t, out))
		eventually(t, 30*time.Second, "more documents", func() bool { return len(tailDocs(t, out)) >= before+500 })
		if run == 3 {
			close(stop)
			<-done
			eventually(t, 30*time.Second, fmt.Sprintf("%d documents", w.n), func() bool { return len(tailDocs(t, out)) >= w.n })
			time.Sleep(200 * time.Millisecond) // nothing more may come
		}
		p.signal(syscall.SIGTERM)
		if code := p.wait(30 * time.Second); code != 0 {
			t.Fatalf("run %d: exit %d", run, code)
		}
	}
	total := w.n
	w.f.Close()
	tailCheckNumbers(t, readNDJSON(t, out), total)
}
