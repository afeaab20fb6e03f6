package fluentbit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// readNDJSON reads the file sink's output.
func readNDJSON(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

const endToEnd = `
weft:
  shutdown_timeout: 10s
fb:
  source:
    fluentbit: {tag_key: fluent_tag}
  processor:
    - add_entries:
        entries:
          - {key: via, value: weft}
          - {key: tag_copy, format: '${getMetadata("tag")}'}
  sink:
    - file: {path: "%[1]s/out-%{yyyy.MM.dd}.ndjson"}
    - fluentbit_test_capture: {name: %[2]s}
`

// Real chunk encodings through decode, the pipeline (add_entries) and the
// file sink, checked field by field.
func TestFlushThroughPipelineToFile(t *testing.T) {
	name, capt := newCapture(t)
	path, dir := writePipeline(t, strings.ReplaceAll(endToEnd, "%[2]s", name))
	x := open(t, path)

	c1 := chunk(
		v1(evTime(1700000000, 123000000), map[string]any{"log": "plain v1", "level": "info"}),
		v1(intTime(1700000001), map[string]any{"log": "int time", "kubernetes": map[string]any{"pod_name": "shop-1", "labels": map[string]any{"app": "shop"}}}),
	)
	c2 := chunk(
		v2(evTime(1700000002, 5), map[string]any{"stream": "stderr"}, map[string]any{"log": "v2", "bytes": []byte("as text"), "list": []any{int64(1), "two"}}),
	)
	if st := x.Flush("kube.app", c1); st != OK {
		t.Fatalf("flush 1: %v", st)
	}
	if st := x.Flush("kube.app2", c2); st != OK {
		t.Fatalf("flush 2: %v", st)
	}
	if lost := x.Close(); lost != 0 {
		t.Fatalf("%d lost", lost)
	}

	got := readNDJSON(t, filepath.Join(dir, "out-2023.11.14.ndjson"))
	want := []map[string]any{
		{"log": "plain v1", "level": "info", "fluent_tag": "kube.app", "via": "weft", "tag_copy": "kube.app"},
		{"log": "int time", "kubernetes": map[string]any{"pod_name": "shop-1", "labels": map[string]any{"app": "shop"}},
			"fluent_tag": "kube.app", "via": "weft", "tag_copy": "kube.app"},
		{"log": "v2", "bytes": "as text", "list": []any{1.0, "two"}, "fluent_tag": "kube.app2", "via": "weft", "tag_copy": "kube.app2"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records: %v", len(got), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("record %d\n got %v\nwant %v", i, got[i], want[i])
		}
	}

	evs := capt.snapshot()
	if len(evs) != 3 {
		t.Fatalf("captured %d", len(evs))
	}
	times := []time.Time{time.Unix(1700000000, 123000000), time.Unix(1700000001, 0), time.Unix(1700000002, 5)}
	for i, ev := range evs {
		if !ev.Time.Equal(times[i]) {
			t.Errorf("event %d: time %v, want %v", i, ev.Time, times[i])
		}
	}
	if m, _ := evs[2].Metadata("fluentbit_metadata"); !reflect.DeepEqual(m, map[string]any{"stream": "stderr"}) {
		t.Errorf("metadata %v", m)
	}
}

// Two [OUTPUT] sections, two pipeline files: two separate graphs.
func TestTwoInstancesHaveSeparatePipelines(t *testing.T) {
	const text = `
p:
  source: {fluentbit: {}}
  processor:
    - add_entries: {entries: [{key: instance, value: %s}]}
  sink:
    - file: {path: "%%[1]s/out.ndjson"}
`
	pa, da := writePipeline(t, fmt.Sprintf(text, "a"))
	pb, db := writePipeline(t, fmt.Sprintf(text, "b"))
	a, b := open(t, pa), open(t, pb)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if st := a.Flush("a", v1(intTime(1700000000), map[string]any{"n": int64(i)})); st != OK {
				t.Errorf("a: %v", st)
			}
		}()
		go func() {
			defer wg.Done()
			if st := b.Flush("b", v2(evTime(1700000000, 0), map[string]any{}, map[string]any{"n": int64(i)})); st != OK {
				t.Errorf("b: %v", st)
			}
		}()
	}
	wg.Wait()
	a.Close()
	b.Close()
	for dir, inst := range map[string]string{da: "a", db: "b"} {
		recs := readNDJSON(t, filepath.Join(dir, "out.ndjson"))
		if len(recs) != 20 {
			t.Errorf("instance %s: %d records", inst, len(recs))
		}
		seen := map[float64]bool{}
		for _, r := range recs {
			if r["instance"] != inst {
				t.Errorf("instance %s got %v", inst, r)
			}
			seen[r["n"].(float64)] = true
		}
		if len(seen) != 20 {
			t.Errorf("instance %s: %d distinct records", inst, len(seen))
		}
	}
}

// A full buffer behind a blocked sink: the flush answers FLB_RETRY after
// buffer_timeout; once the sink moves, the retried chunk is accepted and
// nothing is lost (records accepted before the retry are duplicated).
func TestRetryWhenPipelinePushesBack(t *testing.T) {
	name, c := newCapture(t)
	path, _ := writePipeline(t, `
p:
  buffer: {bounded_blocking: {buffer_size: 2, batch_size: 1}}
  source: {fluentbit: {buffer_timeout: 50ms}}
  sink:
    - fluentbit_test_capture: {name: `+name+`, block: true}
`)
	x := open(t, path)
	ch := chunk(
		v1(intTime(1), map[string]any{"n": int64(0)}), v1(intTime(1), map[string]any{"n": int64(1)}),
		v1(intTime(1), map[string]any{"n": int64(2)}), v1(intTime(1), map[string]any{"n": int64(3)}),
		v1(intTime(1), map[string]any{"n": int64(4)}),
	)
	start := time.Now()
	if st := x.Flush("t", ch); st != Retry {
		t.Fatalf("flush into a full pipeline: %v, want retry", st)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
		t.Errorf("flush answered after %v", d)
	}
	c.release()
	// Fluent Bit retries the same chunk.
	deadline := time.Now().Add(10 * time.Second)
	for x.Flush("t", ch) != OK {
		if time.Now().After(deadline) {
			t.Fatal("retried chunk never accepted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lost := x.Close(); lost != 0 {
		t.Fatalf("%d lost", lost)
	}
	seen := map[int64]int{}
	for _, ev := range c.snapshot() {
		seen[ev.Fields()["n"].(int64)]++
	}
	for n := range int64(5) {
		if seen[n] == 0 {
			t.Errorf("record %d lost", n)
		}
	}
	if got := pipelinestest.CounterValue(x.registry(), "weft_fluentbit_chunks_total", "status", "retry"); got < 1 {
		t.Errorf("retry counter %v", got)
	}
}

func TestGarbageIsAnError(t *testing.T) {
	path, _ := writePipeline(t, "p:\n  source: {fluentbit: {}}\n  sink: [file: {path: \"%[1]s/o.ndjson\"}]\n")
	x := open(t, path)
	if st := x.Flush("t", []byte("\x93garbage that Fluent Bit never writes")); st != Error {
		t.Fatalf("garbage: %v", st)
	}
	if st := x.Flush("t", nil); st != OK {
		t.Fatalf("empty chunk: %v", st)
	}
	x.Close()
	if st := x.Flush("t", v1(intTime(1), map[string]any{})); st != Retry {
		t.Fatalf("after close: %v, want retry", st)
	}
}

func TestWaitForDelivery(t *testing.T) {
	for _, reject := range []bool{false, true} {
		t.Run(fmt.Sprint("reject=", reject), func(t *testing.T) {
			name, c := newCapture(t)
			path, _ := writePipeline(t, fmt.Sprintf(`
p:
  source: {fluentbit: {wait_for_delivery: true, delivery_timeout: 5s}}
  sink:
    - fluentbit_test_capture: {name: %q, reject: %v}
    - file: {path: "%%[1]s/o.ndjson"}
`, name, reject))
			x := open(t, path)
			st := x.Flush("t", chunk(v1(intTime(1), map[string]any{"a": int64(1)}), v1(intTime(2), map[string]any{"a": int64(2)})))
			want := OK
			if reject {
				want = Retry
			}
			if st != want {
				t.Fatalf("flush: %v, want %v", st, want)
			}
			if n := len(c.snapshot()); n != 2 {
				t.Fatalf("sink got %d events before the answer", n)
			}
		})
	}
}

func TestWaitForDeliveryTimesOut(t *testing.T) {
	name, c := newCapture(t)
	path, _ := writePipeline(t, `
p:
  source: {fluentbit: {wait_for_delivery: true, delivery_timeout: 100ms}}
  sink:
    - fluentbit_test_capture: {name: `+name+`, block: true}
`)
	x := open(t, path)
	if st := x.Flush("t", v1(intTime(1), map[string]any{"a": int64(1)})); st != Retry {
		t.Fatalf("flush: %v, want retry", st)
	}
	c.release()
}

// Exit flush: everything accepted before Close reaches the sink.
func TestCloseDrainsEverything(t *testing.T) {
	path, dir := writePipeline(t, `
weft: {shutdown_timeout: 30s}
p:
  workers: 2
  buffer: {bounded_blocking: {buffer_size: 20000, batch_size: 100}}
  source: {fluentbit: {}}
  processor:
    - add_entries: {entries: [{key: via, value: weft}]}
  sink:
    - file: {path: "%[1]s/all.ndjson"}
`)
	x := open(t, path)
	const chunks, per = 50, 100
	for c := range chunks {
		var entries [][]byte
		for i := range per {
			entries = append(entries, v2(evTime(1700000000, uint32(i)), map[string]any{}, map[string]any{"c": int64(c), "i": int64(i)}))
		}
		if st := x.Flush("t", chunk(entries...)); st != OK {
			t.Fatalf("chunk %d: %v", c, st)
		}
	}
	if lost := x.Close(); lost != 0 {
		t.Fatalf("%d lost", lost)
	}
	if got := len(readNDJSON(t, filepath.Join(dir, "all.ndjson"))); got != chunks*per {
		t.Fatalf("%d records, want %d", got, chunks*per)
	}
}

func TestOpenErrors(t *testing.T) {
	none, _ := writePipeline(t, "p:\n  source: {stdin: {}}\n  sink: [file: {path: \"%[1]s/o\"}]\n")
	two, _ := writePipeline(t, "a:\n  source: {fluentbit: {}}\n  sink: [file: {path: \"%[1]s/a\"}]\nb:\n  source: {fluentbit: {}}\n  sink: [file: {path: \"%[1]s/b\"}]\n")
	bad, _ := writePipeline(t, "p:\n  source: {fluentbit: {buffer_timeot: 1s}}\n  sink: [file: {path: \"%[1]s/o\"}]\n")
	for name, path := range map[string]string{"no property": "", "missing": "/nonexistent/weft.yaml", "no fluentbit source": none,
		"two fluentbit sources": two, "unknown option": bad} {
		if x, err := Open(path, Options{LogOutput: io.Discard}); err == nil {
			x.Close()
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestREADMEListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindSource, "fluentbit", "README.md")
}
