package stdin

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// newSource builds the source from YAML options, reading r.
func newSource(t testing.TB, yamlText string, r io.Reader) (*Source, *prometheus.Registry) {
	t.Helper()
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSource, "stdin", yamlText)
	if err != nil {
		t.Fatal(err)
	}
	s, reg := pipelinestest.Settings("test", "source/stdin")
	src, err := NewReader(s, cfg.(*Config), r)
	if err != nil {
		t.Fatal(err)
	}
	return src, reg
}

// run reads r to the end and returns what was written.
func run(t *testing.T, yamlText string, r io.Reader) ([]*event.Event, *prometheus.Registry) {
	t.Helper()
	src, reg := newSource(t, yamlText, r)
	in := &pipelinestest.Input{}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	select {
	case <-src.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done was not closed at the end of the input")
	}
	if err := src.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	return in.Snapshot(), reg
}

func messages(evs []*event.Event) []string {
	var out []string
	for _, e := range evs {
		s, _ := e.GetString(event.ParsePath("message"))
		out = append(out, s)
	}
	return out
}

func counter(reg *prometheus.Registry, name string) float64 {
	return pipelinestest.CounterValue(reg, name, "pipeline", "test", "component", "source/stdin")
}

func TestPlainLines(t *testing.T) {
	input := "first\r\nsecond\n\nthird with \r inside\nlast without newline"
	want := []string{"first", "second", "third with \r inside", "last without newline"}
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return strings.NewReader(input) },
		"one-byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(input)) },
		"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(input)) },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			before := time.Now()
			evs, reg := run(t, "", mk())
			if got := messages(evs); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("messages %q, want %q", got, want)
			}
			for _, e := range evs {
				if e.Kind != event.KindLog || e.Time.Before(before) || e.Time.After(time.Now()) {
					t.Errorf("kind %v time %v", e.Kind, e.Time)
				}
				if v, _ := e.Metadata("source"); v != "stdin" {
					t.Errorf("metadata source = %v", v)
				}
				if len(e.Fields()) != 1 || len(e.Tags()) != 0 {
					t.Errorf("fields %v tags %v", e.Fields(), e.Tags())
				}
			}
			if got := pipelinestest.CounterValue(reg, "weft_component_events_sent_total"); got != 4 {
				t.Errorf("sent counter %v, want 4", got)
			}
		})
	}
}

func TestJSONLines(t *testing.T) {
	input := `{"level":"info","n":1}` + "\n" +
		`{"broken": ` + "\n" +
		`[1,2]` + "\r\n" +
		"   \n" +
		`{"nested":{"a":[true,null]}}`
	evs, reg := run(t, "format: json", strings.NewReader(input))
	if len(evs) != 4 {
		t.Fatalf("got %d events, want 4: %v", len(evs), messages(evs))
	}
	if evs[0].Fields()["level"] != "info" || evs[0].Fields()["n"] != int64(1) || len(evs[0].Tags()) != 0 {
		t.Errorf("event 0: %v %v", evs[0].Fields(), evs[0].Tags())
	}
	for i, want := range []string{`{"broken": `, `[1,2]`} {
		e := evs[1+i]
		if m, _ := e.GetString(event.ParsePath("message")); m != want || !e.HasTag("_jsonparsefailure") {
			t.Errorf("malformed line %d: message %q tags %v", i, m, e.Tags())
		}
	}
	if _, ok := evs[3].Get(event.ParsePath("/nested/a/0")); !ok {
		t.Errorf("event 3: %v", evs[3].Fields())
	}
	if got := counter(reg, "weft_source_json_parse_failures_total"); got != 2 {
		t.Errorf("parse failure counter %v, want 2", got)
	}
}

func TestTagsOnFailure(t *testing.T) {
	evs, _ := run(t, "{format: json, tags_on_failure: [bad, worse]}", strings.NewReader("nope\n"))
	if len(evs) != 1 || !evs[0].HasTag("bad") || !evs[0].HasTag("worse") || evs[0].HasTag("_jsonparsefailure") {
		t.Fatalf("tags %v", evs[0].Tags())
	}
}

func TestLongLines(t *testing.T) {
	long := strings.Repeat("x", 25)
	// é is two bytes: a cut in its middle backs off to keep UTF-8 valid.
	utf := strings.Repeat("a", 9) + "é" + "tail"
	exact := strings.Repeat("y", 10)
	huge := strings.Repeat("z", 300<<10) // spans many buffer fills
	input := long + "\nok\n" + utf + "\n" + exact + "\r\n" + huge + "\n" + long
	for name, r := range map[string]io.Reader{
		"whole": strings.NewReader(input),
		"half":  iotest.HalfReader(strings.NewReader(input)),
	} {
		t.Run(name, func(t *testing.T) {
			evs, reg := run(t, "max_line_size: 10", r)
			want := []string{"xxxxxxxxxx", "ok", "aaaaaaaaa", exact, "zzzzzzzzzz", "xxxxxxxxxx"}
			truncated := []bool{true, false, true, false, true, true}
			got := messages(evs)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("messages %q, want %q", got, want)
			}
			for i, e := range evs {
				if e.HasTag(TruncatedTag) != truncated[i] {
					t.Errorf("line %d: tags %v", i, e.Tags())
				}
			}
			if got := counter(reg, "weft_source_lines_truncated_total"); got != 4 {
				t.Errorf("truncated counter %v, want 4", got)
			}
		})
	}
}

// batchInput records the size of every write.
type batchInput struct {
	pipelinestest.Input
	mu    sync.Mutex
	sizes []int
}

func (b *batchInput) Write(ctx context.Context, evs []*event.Event) (int, error) {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(evs))
	b.mu.Unlock()
	return b.Input.Write(ctx, evs)
}

func TestBatchSize(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 1000; i++ {
		sb.WriteString("line\n")
	}
	src, _ := newSource(t, "batch_size: 64", strings.NewReader(sb.String()))
	in := &batchInput{}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	<-src.Done()
	_ = src.Stop(context.Background())
	total := 0
	for _, n := range in.sizes {
		if n > 64 || n == 0 {
			t.Errorf("write of %d events", n)
		}
		total += n
	}
	if total != 1000 || len(in.Snapshot()) != 1000 {
		t.Fatalf("wrote %d events", total)
	}
}

// A line that arrives alone on an idle input is written within
// flush_interval, and Stop returns while a Read is blocked.
func TestTrickleAndStop(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	src, _ := newSource(t, "flush_interval: 20ms", pr)
	in := &pipelinestest.Input{Notify: make(chan int, 10)}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.Notify:
	case <-time.After(2 * time.Second):
		t.Fatal("a lone line was not flushed")
	}
	if got := messages(in.Snapshot()); len(got) != 1 || got[0] != "hello" {
		t.Fatalf("got %q", got)
	}
	stopped := make(chan error)
	go func() { stopped <- src.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Stop blocked on an idle input")
	}
	select {
	case <-src.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	pw.Close()
	<-src.readerDone
}

// Stop writes what was read before it, even when the pipeline is slow.
func TestStopWritesWhatWasRead(t *testing.T) {
	pr, pw := io.Pipe()
	src, _ := newSource(t, "{flush_interval: 1h, batch_size: 1000}", pr)
	in := &pipelinestest.Input{}
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	// io.Pipe's Write returns once the reader took the bytes.
	if _, err := pw.Write([]byte("a\nb\nc\n")); err != nil {
		t.Fatal(err)
	}
	// Wait until the reader is back in Read, so the lines are decoded.
	for {
		src.mu.Lock()
		again := src.inRead && src.reads == 2
		src.mu.Unlock()
		if again {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := src.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := messages(in.Snapshot()); strings.Join(got, "") != "abc" {
		t.Fatalf("got %q", got)
	}
	pw.Close()
	<-src.readerDone
}

func TestConfig(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSource, "stdin", "")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if c.Format != "plain" || c.MaxLineSize != 1<<20 || c.BatchSize != 100 || c.FlushInterval != 200*time.Millisecond ||
		len(c.TagsOnFailure) != 1 || c.TagsOnFailure[0] != "_jsonparsefailure" {
		t.Fatalf("defaults: %+v", c)
	}
	for _, bad := range []string{"format: xml", "max_line_size: 0", "batch_size: 0", "tags_on_failure: ['']", "colour: red"} {
		if _, err := pipelinestest.DecodeConfig(pipelines.KindSource, "stdin", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, _, err := pipelinestest.Source("stdin", "format: json"); err != nil {
		t.Fatal(err)
	}
}

type discardInput struct{}

func (discardInput) Write(_ context.Context, evs []*event.Event) (int, error) { return len(evs), nil }

func BenchmarkPlainLines(b *testing.B) {
	line := strings.Repeat("0123456789", 10) + "\n" // 101 bytes
	const lines = 20000
	input := []byte(strings.Repeat(line, lines))
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		src, _ := newSource(b, "batch_size: 1000", bytes.NewReader(input))
		_ = src.Start(context.Background(), discardInput{})
		<-src.Done()
		_ = src.Stop(context.Background())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}

func BenchmarkLineReader(b *testing.B) {
	input := []byte(strings.Repeat(strings.Repeat("0123456789", 10)+"\n", 20000))
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	lr := NewLineReader(nil, 1<<20)
	r := bytes.NewReader(input)
	for b.Loop() {
		r.Reset(input)
		lr.Reset(r)
		for {
			if _, _, ok := lr.Next(); ok {
				continue
			}
			if lr.Fill() != nil {
				break
			}
		}
	}
}
