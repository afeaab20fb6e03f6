package file

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func newSink(t testing.TB, yamlText string) (*Sink, *prometheus.Registry) {
	t.Helper()
	sk, reg, err := pipelinestest.Sink("file", yamlText)
	if err != nil {
		t.Fatal(err)
	}
	if err := sk.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sk.Shutdown(context.Background()) })
	return sk.(*Sink), reg
}

func ev(t time.Time, fields map[string]any) *event.Event { return event.New(event.KindLog, t, fields) }

// readLines returns the decoded lines of a file, failing on a partial line.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m, err := event.DecodeJSONObject(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// files lists the regular files under dir, relative to it.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func q(s string) string { return fmt.Sprintf("%q", s) }

func TestDateAndFieldTemplate(t *testing.T) {
	dir := t.TempDir()
	sk, reg := newSink(t, "path: "+q(dir+"/%{yyyy.MM.dd}/${/kubernetes/namespace_name}/app-%{HH}.log"))
	day1 := time.Date(2024, 5, 1, 23, 30, 0, 0, time.UTC)
	// 00:30 on May 2nd in UTC+2 is still May 1st, 22:30 UTC.
	day1b := time.Date(2024, 5, 2, 0, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	day2 := time.Date(2024, 5, 2, 1, 0, 0, 0, time.UTC)
	k8s := func(ns string) map[string]any {
		return map[string]any{"kubernetes": map[string]any{"namespace_name": ns}, "msg": ns}
	}
	evs := []*event.Event{
		ev(day1, k8s("payments")),
		ev(day1b, k8s("payments")),
		ev(day2, k8s("search")),
		ev(day1, map[string]any{"msg": "no namespace"}),
		ev(day1, k8s("")),
		ev(day1, map[string]any{"kubernetes": map[string]any{"namespace_name": nil}, "msg": "null"}),
		ev(day2, k8s("payments")),
	}
	if err := sk.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2024.05.01/payments/app-22.log",
		"2024.05.01/payments/app-23.log",
		"2024.05.01/unknown/app-23.log",
		"2024.05.02/payments/app-01.log",
		"2024.05.02/search/app-01.log",
	}
	if got := files(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("files %q, want %q", got, want)
	}
	if got := readLines(t, filepath.Join(dir, "2024.05.01/unknown/app-23.log")); len(got) != 3 || got[0]["msg"] != "no namespace" || got[1]["msg"] != "" || got[2]["msg"] != "null" {
		t.Errorf("unknown file: %v", got)
	}
	if got := readLines(t, filepath.Join(dir, "2024.05.02/search/app-01.log")); len(got) != 1 || !reflect.DeepEqual(got[0], k8s("search")) {
		t.Errorf("search file: %v", got)
	}
	if got := pipelinestest.CounterValue(reg, "weft_component_events_sent_total"); got != 7 {
		t.Errorf("sent %v, want 7", got)
	}
	// Directories 0755, files 0644 (modulo umask).
	st, err := os.Stat(filepath.Join(dir, "2024.05.01/payments/app-22.log"))
	if err != nil || st.Mode().Perm()&^0o644 != 0 {
		t.Errorf("file mode %v %v", st.Mode(), err)
	}
}

func TestCustomMissingValue(t *testing.T) {
	dir := t.TempDir()
	sk, _ := newSink(t, "{missing_value: none, path: "+q(dir+"/${/app}.log")+"}")
	if err := sk.Write(context.Background(), []*event.Event{ev(time.Now(), nil)}); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !reflect.DeepEqual(got, []string{"none.log"}) {
		t.Fatalf("files %q", got)
	}
}

func TestFieldValuesCannotEscape(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "out")
	sk, _ := newSink(t, "path: "+q(dir+"/${/ns}/${/name}.log"))
	hostile := []string{"..", "../..", "../../etc", "/etc/passwd", ".", "a/../../b", `..\..`, "x\x00y", "..."}
	var evs []*event.Event
	for _, h := range hostile {
		evs = append(evs, ev(time.Now(), map[string]any{"ns": h, "name": h}))
	}
	if err := sk.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	// Nothing outside dir, and one path component per field value.
	if got := files(t, base); len(got) == 0 {
		t.Fatal("no files written")
	} else {
		for _, f := range got {
			parts := strings.Split(f, "/")
			if len(parts) != 3 || parts[0] != "out" {
				t.Errorf("file %q escapes its place", f)
			}
			for _, p := range parts {
				if p == ".." || p == "." || p == "" {
					t.Errorf("file %q has component %q", f, p)
				}
			}
		}
	}
	total := 0
	for _, f := range files(t, dir) {
		total += len(readLines(t, filepath.Join(dir, f)))
	}
	if total != len(hostile) {
		t.Fatalf("%d lines written, want %d", total, len(hostile))
	}
}

func TestConcurrentWritersWriteWholeLines(t *testing.T) {
	dir := t.TempDir()
	sk, _ := newSink(t, "{flush_interval: 5ms, max_open_files: 2, path: "+q(dir+"/${/f}.log")+"}")
	const workers, batches, perBatch = 8, 40, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				evs := make([]*event.Event, perBatch)
				for i := range evs {
					evs[i] = ev(time.Now(), map[string]any{"f": fmt.Sprint((w + i) % 3), "w": int64(w), "b": int64(b), "i": int64(i),
						"pad": strings.Repeat("p", 1+i*37)})
				}
				if err := sk.Write(context.Background(), evs); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	if err := sk.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[[3]int64]bool{}
	for _, f := range []string{"0.log", "1.log", "2.log"} {
		for _, m := range readLines(t, filepath.Join(dir, f)) {
			if m["f"].(string)+".log" != f {
				t.Fatalf("line for %v in %s", m["f"], f)
			}
			seen[[3]int64{m["w"].(int64), m["b"].(int64), m["i"].(int64)}] = true
		}
	}
	if len(seen) != workers*batches*perBatch {
		t.Fatalf("%d distinct lines, want %d", len(seen), workers*batches*perBatch)
	}
}

func TestAcknowledgedAfterWrite(t *testing.T) {
	dir := t.TempDir()
	sk, _ := newSink(t, "path: "+q(dir+"/acked.log"))
	acked := make(chan bool, 1)
	a := event.NewAcker(func(ok bool) { acked <- ok })
	e := ev(time.Now(), map[string]any{"m": "x"})
	a.Track(e)
	a.Seal()
	select {
	case <-acked:
		t.Fatal("acknowledged before the sink took it")
	default:
	}
	if err := sk.Write(context.Background(), []*event.Event{e}); err != nil {
		t.Fatal(err)
	}
	select {
	case ok := <-acked:
		if !ok {
			t.Fatal("acknowledged with ok=false")
		}
	default:
		t.Fatal("not acknowledged after Write returned")
	}
	// The line is in the file by then.
	if got := readLines(t, filepath.Join(dir, "acked.log")); len(got) != 1 {
		t.Fatalf("lines %v", got)
	}
}

func TestWriteErrorRejects(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sk, reg := newSink(t, "path: "+q(dir+"/${/d}/x.log"))
	acked := make(chan bool, 2)
	good := ev(time.Now(), map[string]any{"d": "fine"})
	bad := ev(time.Now(), map[string]any{"d": "blocker"}) // blocker is a file, not a directory
	for _, e := range []*event.Event{good, bad} {
		a := event.NewAcker(func(ok bool) { acked <- ok })
		a.Track(e)
		a.Seal()
	}
	err := sk.Write(context.Background(), []*event.Event{good, bad})
	if err == nil || !strings.Contains(err.Error(), "blocker") {
		t.Fatalf("err = %v", err)
	}
	if got := []bool{<-acked, <-acked}; !reflect.DeepEqual(got, []bool{true, false}) {
		t.Fatalf("acks %v", got)
	}
	if got := pipelinestest.CounterValue(reg, "weft_component_events_failed_total", "reason", "write_error"); got != 1 {
		t.Errorf("failed{write_error} = %v", got)
	}
	// A later write retries the open.
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := sk.Write(context.Background(), []*event.Event{ev(time.Now(), map[string]any{"d": "blocker"})}); err != nil {
		t.Fatalf("retry: %v", err)
	}
}

func TestAppendFalseTruncatesOnce(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.log", "b.log"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{\"old\":true}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// max_open_files 1 forces a close and reopen between the writes: the
	// reopen must append, not truncate again.
	sk, _ := newSink(t, "{append: false, max_open_files: 1, path: "+q(dir+"/${/f}.log")+"}")
	for i := 0; i < 3; i++ {
		evs := []*event.Event{ev(time.Now(), map[string]any{"f": "a", "n": int64(i)}), ev(time.Now(), map[string]any{"f": "b", "n": int64(i)})}
		if err := sk.Write(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		if n := sk.openCount(); n > 1 {
			t.Fatalf("%d files open, max_open_files is 1", n)
		}
	}
	for _, name := range []string{"a.log", "b.log"} {
		lines := readLines(t, filepath.Join(dir, name))
		if len(lines) != 3 || lines[0]["n"] != int64(0) || lines[2]["n"] != int64(2) {
			t.Errorf("%s: %v", name, lines)
		}
	}
}

func TestAppendTrueKeepsContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	if err := os.WriteFile(path, []byte("{\"old\":true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sk, _ := newSink(t, "path: "+q(path))
	if err := sk.Write(context.Background(), []*event.Event{ev(time.Now(), map[string]any{"new": true})}); err != nil {
		t.Fatal(err)
	}
	if lines := readLines(t, path); len(lines) != 2 || lines[0]["old"] != true || lines[1]["new"] != true {
		t.Fatalf("lines %v", lines)
	}
}

func TestShutdown(t *testing.T) {
	dir := t.TempDir()
	sk, reg := newSink(t, "{flush_interval: 1ms, path: "+q(dir+"/${/f}.log")+"}")
	for i := 0; i < 5; i++ {
		if err := sk.Write(context.Background(), []*event.Event{ev(time.Now(), map[string]any{"f": fmt.Sprint(i)})}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond) // let the syncer run
	if err := sk.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := sk.openCount(); n != 0 {
		t.Fatalf("%d files still open", n)
	}
	acked := make(chan bool, 1)
	late := ev(time.Now(), map[string]any{"f": "late"})
	a := event.NewAcker(func(ok bool) { acked <- ok })
	a.Track(late)
	a.Seal()
	if err := sk.Write(context.Background(), []*event.Event{late}); err == nil {
		t.Fatal("Write after Shutdown succeeded")
	}
	if ok := <-acked; ok {
		t.Fatal("late event acknowledged ok")
	}
	if got := pipelinestest.CounterValue(reg, "weft_component_events_failed_total", "reason", "shutdown"); got != 1 {
		t.Errorf("failed{shutdown} = %v", got)
	}
}

func TestConfig(t *testing.T) {
	for _, bad := range []string{"{}", "path: ''", "path: 'x-%{yyyy'", "path: 'x-%{YYYY}'", "{path: x, missing_value: '..'}",
		"{path: x, missing_value: 'a/b'}", "{path: x, max_open_files: 0}"} {
		if _, err := pipelinestest.DecodeConfig(pipelines.KindSink, "file", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSink, "file", "path: /tmp/x-%{yyyy}.log")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if !c.Append || c.MissingValue != "unknown" || c.FlushInterval != time.Second || c.MaxOpenFiles != 64 || c.Path.String() != "/tmp/x-%{yyyy}.log" {
		t.Fatalf("defaults %+v", c)
	}
	for _, o := range (&pipelines.Factory{NewConfig: func() any { return NewConfig() }}).Options() {
		if o.Name == "path" && o.Type != "template" {
			t.Errorf("path is described as %q", o.Type)
		}
	}
}

func benchEvents(n int) []*event.Event {
	evs := make([]*event.Event, n)
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range evs {
		// About 1 KiB of JSON per event.
		evs[i] = ev(t0.Add(time.Duration(i)*time.Millisecond), map[string]any{
			"message":    strings.Repeat("m", 900),
			"level":      "info",
			"n":          int64(i),
			"kubernetes": map[string]any{"namespace_name": fmt.Sprint("ns", i%4), "pod_name": "pod-12345"},
		})
	}
	return evs
}

func BenchmarkWrite(b *testing.B) {
	for _, c := range []struct{ name, path string }{
		{"static", "/app.log"},
		{"date+field", "/%{yyyy.MM.dd}/${/kubernetes/namespace_name}.log"},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			sk, _ := newSink(b, "{flush_interval: 0, path: "+q(dir+c.path)+"}")
			evs := benchEvents(1000)
			size := len(evs[0].AppendJSON(nil)) + 1
			b.SetBytes(int64(size * len(evs)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = sk.Write(context.Background(), evs)
				if i++; i%100 == 0 {
					// Keep the disk use bounded; O_APPEND writes go on at
					// the new end.
					b.StopTimer()
					for _, f := range files(b, dir) {
						_ = os.Truncate(filepath.Join(dir, f), 0)
					}
					b.StartTimer()
				}
			}
		})
	}
}
