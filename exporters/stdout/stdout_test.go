package stdout

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func newSink(t *testing.T, w *syncWriter) (*Sink, func(name string, labels ...string) float64) {
	t.Helper()
	s, reg := pipelinestest.Settings("test", "sink/0/stdout")
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSink, "stdout", "")
	if err != nil {
		t.Fatal(err)
	}
	return NewWriter(s, cfg.(*Config), w), func(name string, labels ...string) float64 {
		return pipelinestest.CounterValue(reg, name, labels...)
	}
}

type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	err error
	max int // accept at most max bytes per Write when err is set
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		n := min(w.max, len(p))
		w.buf.Write(p[:n])
		return n, w.err
	}
	return w.buf.Write(p)
}

func sample() []map[string]any {
	return []map[string]any{
		{"message": "hello \"world\"\n", "n": int64(42), "f": 1.5, "ok": true, "nil": nil},
		{"nested": map[string]any{"list": []any{"a", int64(-1), map[string]any{"x": "y"}}}, "unicode": "héllo ☃"},
		{},
	}
}

func TestNDJSON(t *testing.T) {
	w := &syncWriter{}
	sk, count := newSink(t, w)
	var evs []*event.Event
	for _, f := range sample() {
		evs = append(evs, event.New(event.KindLog, time.Now(), event.DeepCopyMap(f)))
	}
	if err := sk.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasSuffix(w.buf.String(), "\n") {
		t.Fatalf("output %q", w.buf.String())
	}
	for i, line := range lines {
		got, err := event.DecodeJSONObject([]byte(line))
		if err != nil {
			t.Fatalf("line %d %q: %v", i, line, err)
		}
		if !reflect.DeepEqual(got, sample()[i]) {
			t.Errorf("line %d: %v, want %v", i, got, sample()[i])
		}
	}
	if got := count("weft_component_events_sent_total"); got != 3 {
		t.Errorf("sent %v, want 3", got)
	}
}

func TestConcurrentWritesKeepLinesWhole(t *testing.T) {
	w := &syncWriter{}
	sk, _ := newSink(t, w)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for b := 0; b < 50; b++ {
				evs := make([]*event.Event, 20)
				for i := range evs {
					evs[i] = event.New(event.KindLog, time.Now(), map[string]any{"g": int64(g), "pad": strings.Repeat("x", 500)})
				}
				if err := sk.Write(context.Background(), evs); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	sc := bufio.NewScanner(&w.buf)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		if _, err := event.DecodeJSONObject(sc.Bytes()); err != nil {
			t.Fatalf("line %d is not whole: %v", n, err)
		}
		n++
	}
	if n != 8*50*20 {
		t.Fatalf("%d lines", n)
	}
}

func TestWriteErrorRejects(t *testing.T) {
	first := event.New(event.KindLog, time.Now(), map[string]any{"a": "b"}) // {"a":"b"}\n is 10 bytes
	w := &syncWriter{err: errors.New("broken pipe"), max: 12}
	sk, count := newSink(t, w)
	var acked []bool
	var mu sync.Mutex
	evs := []*event.Event{first, event.New(event.KindLog, time.Now(), map[string]any{"c": "d"})}
	for _, e := range evs {
		a := event.NewAcker(func(ok bool) { mu.Lock(); acked = append(acked, ok); mu.Unlock() })
		a.Track(e)
		a.Seal()
	}
	err := sk.Write(context.Background(), evs)
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("err = %v", err)
	}
	if !reflect.DeepEqual(acked, []bool{true, false}) {
		t.Fatalf("acks %v, want the written event delivered and the other rejected", acked)
	}
	if got := count("weft_component_events_failed_total", "reason", "write_error"); got != 1 {
		t.Errorf("failed{write_error} = %v, want 1", got)
	}
	if got := count("weft_component_events_sent_total"); got != 1 {
		t.Errorf("sent = %v, want 1", got)
	}
}

func BenchmarkWrite(b *testing.B) {
	s, _ := pipelinestest.Settings("test", "sink/0/stdout")
	sk := NewWriter(s, NewConfig(), discard{})
	evs := make([]*event.Event, 1000)
	for i := range evs {
		evs[i] = event.New(event.KindLog, time.Now(), map[string]any{"message": strings.Repeat("x", 1000), "n": int64(i)})
	}
	b.ReportAllocs()
	b.SetBytes(1000 * 1024)
	for b.Loop() {
		_ = sk.Write(context.Background(), evs)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
