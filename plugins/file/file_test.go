package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func start(t *testing.T, yamlText string) (*Source, *pipelinestest.Input) {
	t.Helper()
	src, _, err := pipelinestest.Source("file", yamlText)
	if err != nil {
		t.Fatal(err)
	}
	in := &pipelinestest.Input{}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Stop(context.Background()) })
	return src.(*Source), in
}

func messages(evs []*event.Event) []string {
	var out []string
	for _, e := range evs {
		s, _ := e.GetString(event.ParsePath("message"))
		out = append(out, s)
	}
	return out
}

// waitFor waits until the messages written are want.
func waitFor(t *testing.T, in *pipelinestest.Input, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := messages(in.Snapshot())
		if strings.Join(got, "|") == strings.Join(want, "|") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages %q, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func write(t *testing.T, path, data string, flag int) {
	t.Helper()
	f, err := os.OpenFile(path, flag|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, data string) { write(t, path, data, os.O_APPEND) }

func yamlPath(p string) string { return fmt.Sprintf("%q", p) }

func TestOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, "one\r\ntwo\n\nthree", os.O_TRUNC)
	src, in := start(t, "path: "+yamlPath(path))
	select {
	case <-src.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed at the end of the file")
	}
	evs := in.Snapshot()
	if got := messages(evs); strings.Join(got, "|") != "one|two|three" {
		t.Fatalf("messages %q", got)
	}
	for _, e := range evs {
		if v, _ := e.Metadata("path"); v != path {
			t.Errorf("metadata path = %v", v)
		}
		if v, _ := e.Metadata("source"); v != "file" {
			t.Errorf("metadata source = %v", v)
		}
		if e.Kind != event.KindLog || time.Since(e.Time) > time.Minute {
			t.Errorf("kind %v time %v", e.Kind, e.Time)
		}
	}
}

func TestOnceJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.json")
	write(t, path, `{"a":1}`+"\n"+`not json`+"\n"+strings.Repeat("x", 40)+"\n", os.O_TRUNC)
	src, in := start(t, "{format: json, record_type: string, max_line_size: 16, path: "+yamlPath(path)+"}")
	<-src.Done()
	evs := in.Snapshot()
	if len(evs) != 3 || evs[0].Fields()["a"] != int64(1) {
		t.Fatalf("events %v", messages(evs))
	}
	if !evs[1].HasTag("_jsonparsefailure") || evs[1].Fields()["message"] != "not json" {
		t.Errorf("malformed line: %v %v", evs[1].Fields(), evs[1].Tags())
	}
	if !evs[2].HasTag("_truncated") || !evs[2].HasTag("_jsonparsefailure") || evs[2].Fields()["message"] != strings.Repeat("x", 16) {
		t.Errorf("long line: %v %v", evs[2].Fields(), evs[2].Tags())
	}
}

func TestOnceStartAtEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, "old\n", os.O_TRUNC)
	src, in := start(t, "{start_at: end, path: "+yamlPath(path)+"}")
	<-src.Done()
	if n := len(in.Snapshot()); n != 0 {
		t.Fatalf("%d events from a file read from its end", n)
	}
}

func TestOnceMissingFile(t *testing.T) {
	src, _, err := pipelinestest.Source("file", "path: "+yamlPath(filepath.Join(t.TempDir(), "nope")))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background(), &pipelinestest.Input{}); err == nil {
		t.Fatal("Start succeeded on a missing file")
	}
}

func TestFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "a1\na2\n", os.O_TRUNC)
	src, in := start(t, "{mode: follow, poll_interval: 20ms, path: "+yamlPath(path)+"}")
	waitFor(t, in, "a1", "a2")

	// Appended lines flow; an unterminated line that stays unchanged for a
	// poll interval is read.
	appendTo(t, path, "a3\n")
	waitFor(t, in, "a1", "a2", "a3")
	appendTo(t, path, "no newline")
	waitFor(t, in, "a1", "a2", "a3", "no newline")

	// Copy-truncate rotation: read again from the beginning.
	write(t, path, "b1\n", os.O_TRUNC)
	waitFor(t, in, "a1", "a2", "a3", "no newline", "b1")

	// Rename rotation: lines appended to the old file before the switch are
	// read, then the new file from its beginning.
	rotated := filepath.Join(dir, "app.log.1")
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	appendTo(t, rotated, "b2\n")
	write(t, path+".tmp", "c1\nc2\n", os.O_TRUNC)
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, in, "a1", "a2", "a3", "no newline", "b1", "b2", "c1", "c2")
	appendTo(t, path, "c3\n")
	waitFor(t, in, "a1", "a2", "a3", "no newline", "b1", "b2", "c1", "c2", "c3")

	select {
	case <-src.Done():
		t.Fatal("a followed file reported done")
	default:
	}
	if err := src.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-src.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
}

// A line still being written is not split while its writer pauses for less
// than a poll interval.
func TestFollowPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, "", os.O_TRUNC)
	_, in := start(t, "{mode: follow, poll_interval: 500ms, path: "+yamlPath(path)+"}")
	appendTo(t, path, "part")
	time.Sleep(50 * time.Millisecond)
	appendTo(t, path, "ial\nnext\n")
	waitFor(t, in, "partial", "next")
}

func TestFollowStartAtEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, "old1\nold2\n", os.O_TRUNC)
	_, in := start(t, "{mode: follow, start_at: end, poll_interval: 10ms, path: "+yamlPath(path)+"}")
	time.Sleep(30 * time.Millisecond)
	appendTo(t, path, "new\n")
	waitFor(t, in, "new")
}

func TestFollowWaitsForTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	// start_at applies to the file present at start only.
	_, in := start(t, "{mode: follow, start_at: end, poll_interval: 10ms, path: "+yamlPath(path)+"}")
	time.Sleep(30 * time.Millisecond)
	write(t, path, "first\n", os.O_TRUNC)
	waitFor(t, in, "first")
}

func TestStopIsPrompt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	write(t, path, "x\n", os.O_TRUNC)
	src, in := start(t, "{mode: follow, poll_interval: 1h, path: "+yamlPath(path)+"}")
	waitFor(t, in, "x")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := src.Stop(ctx); err != nil || time.Since(t0) > time.Second {
		t.Fatalf("Stop: %v after %v", err, time.Since(t0))
	}
}

func TestConfig(t *testing.T) {
	for _, bad := range []string{"{}", "path: ''", "{path: x, mode: tail}", "{path: x, start_at: middle}", "{path: x, format: csv}", "{path: x, poll_interval: 0}"} {
		if _, err := pipelinestest.DecodeConfig(pipelines.KindSource, "file", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSource, "file", "path: /x")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if c.Mode != "once" || c.StartAt != "beginning" || c.Format != "plain" || c.PollInterval != 250*time.Millisecond {
		t.Fatalf("defaults %+v", c)
	}
}
