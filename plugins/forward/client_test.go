package forward

import (
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"

	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// These tests post with github.com/fluent/fluent-logger-golang, a real
// Forward client, in every mode it speaks. It sends Message mode
// ([tag, time, record, option]) with an option map that is empty unless
// RequestAck adds "chunk".

func newLogger(t *testing.T, s *Source, cfg fluent.Config) *fluent.Fluent {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.Addr())
	cfg.FluentHost = host
	cfg.FluentPort, _ = strconv.Atoi(port)
	cfg.Timeout = 5 * time.Second
	cfg.WriteTimeout = 5 * time.Second
	if cfg.RequestAck {
		cfg.ReadTimeout = 5 * time.Second
	}
	cfg.MaxRetry = 1
	l, err := fluent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func clientRecord(i int) map[string]any {
	return map[string]any{
		"msg":    fmt.Sprintf("record %d", i),
		"i":      i,
		"ratio":  float64(i) / 4,
		"ok":     i%2 == 0,
		"none":   nil,
		"labels": map[string]any{"app": "web", "pod": fmt.Sprintf("web-%d", i)},
		"list":   []any{"a", i, 1.5},
		"raw":    []byte("bytes"),
	}
}

// wantFields is clientRecord as weft's fields, in JSON.
func wantFields(t *testing.T, i int) map[string]any {
	m := clientRecord(i)
	m["raw"] = "bytes" // bin that is valid UTF-8 becomes a string
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

func TestFluentLoggerGolang(t *testing.T) {
	base := time.Date(2025, 11, 23, 8, 0, 0, 0, time.UTC)
	modes := []struct {
		name    string
		cfg     fluent.Config
		subsec  bool
		jsonish bool
	}{
		{name: "default", cfg: fluent.Config{}},
		{name: "RequestAck", cfg: fluent.Config{RequestAck: true}},
		{name: "SubSecondPrecision", cfg: fluent.Config{SubSecondPrecision: true}, subsec: true},
		{name: "SubSecondPrecision+RequestAck", cfg: fluent.Config{SubSecondPrecision: true, RequestAck: true}, subsec: true},
		{name: "Async", cfg: fluent.Config{Async: true}},
		{name: "Async+RequestAck+SubSecond", cfg: fluent.Config{Async: true, RequestAck: true, SubSecondPrecision: true}, subsec: true},
		{name: "MarshalAsJSON", cfg: fluent.Config{MarshalAsJSON: true}, jsonish: true},
		{name: "MarshalAsJSON+RequestAck", cfg: fluent.Config{MarshalAsJSON: true, RequestAck: true}, jsonish: true},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			in := &pipelinestest.Input{}
			s := start(t, "", in)
			l := newLogger(t, s, m.cfg)
			const n = 50
			for i := range n {
				tm := base.Add(time.Duration(i)*time.Second + time.Duration(i)*time.Millisecond + 7)
				if err := l.PostWithTime("app."+m.name, tm, clientRecord(i)); err != nil {
					t.Fatalf("post %d: %v", i, err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			evs := waitEvents(t, in, n)
			if len(evs) != n {
				t.Fatalf("%d events, want %d (each exactly once)", len(evs), n)
			}
			for i, ev := range evs {
				tm := base.Add(time.Duration(i)*time.Second + time.Duration(i)*time.Millisecond + 7)
				if !m.subsec {
					tm = tm.Truncate(time.Second)
				}
				if !ev.Time.Equal(tm) {
					t.Errorf("event %d time %v, want %v", i, ev.Time, tm)
				}
				if v, _ := ev.Metadata("tag"); v != "app."+m.name {
					t.Errorf("event %d tag %v", i, v)
				}
				var got map[string]any
				json.Unmarshal(ev.AppendJSON(nil), &got)
				want := wantFields(t, i)
				if m.jsonish {
					want["raw"] = "Ynl0ZXM=" // encoding/json writes []byte as base64
				}
				if !reflect.DeepEqual(got, want) {
					gb, _ := json.Marshal(got)
					wb, _ := json.Marshal(want)
					t.Errorf("event %d\n got %s\nwant %s", i, gb, wb)
				}
				if _, ok := ev.Fields()["i"].(int64); !ok {
					t.Errorf("event %d: i is %T, want int64", i, ev.Fields()["i"])
				}
			}
			if got := counter("ok"); got != n {
				t.Errorf("ok messages %v, want %d", got, n)
			}
		})
	}
}

// With acks, a full pipeline makes Post fail (no ack, connection closed)
// instead of losing the record silently; once there is room it succeeds.
func TestFluentLoggerGolangRetriesWithoutAck(t *testing.T) {
	gate := &gateInput{open: make(chan struct{})}
	s := start(t, ", buffer_timeout: 50ms", gate)
	l := newLogger(t, s, fluent.Config{RequestAck: true})
	defer l.Close()
	if err := l.Post("retry", map[string]any{"a": 1}); err == nil {
		t.Fatal("Post succeeded while the pipeline was full")
	}
	close(gate.open)
	if err := l.Post("retry", map[string]any{"a": 2}); err != nil {
		t.Fatalf("Post after room came back: %v", err)
	}
	if got := counter("unavailable"); got < 1 {
		t.Errorf("unavailable %v", got)
	}
}
