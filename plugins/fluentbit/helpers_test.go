package fluentbit

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"

	// the plugins the test pipelines use
	_ "github.com/weft-agent/weft/exporters/file"
	_ "github.com/weft-agent/weft/plugins/addentries"
	_ "github.com/weft-agent/weft/plugins/stdin"
)

// Chunk encoding, as Fluent Bit writes it.

// evTime encodes EventTime: fixext 8, type 0, uint32 seconds, uint32 ns.
func evTime(sec, nsec uint32) []byte {
	b := []byte{0xd7, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[2:], sec)
	binary.BigEndian.PutUint32(b[6:], nsec)
	return b
}

func intTime(sec int64) []byte { return msgp.AppendInt64(nil, sec) }

func enc(v any) []byte {
	b, err := msgp.AppendIntf(nil, v)
	if err != nil {
		panic(err)
	}
	return b
}

// v1 is one [time, record] entry.
func v1(ts []byte, rec any) []byte {
	b := msgp.AppendArrayHeader(nil, 2)
	b = append(b, ts...)
	return append(b, enc(rec)...)
}

// v2 is one [[time, metadata], record] entry (Fluent Bit >= 2.1).
func v2(ts []byte, meta, rec any) []byte {
	b := msgp.AppendArrayHeader(nil, 2)
	b = msgp.AppendArrayHeader(b, 2)
	b = append(b, ts...)
	b = append(b, enc(meta)...)
	return append(b, enc(rec)...)
}

func chunk(entries ...[]byte) []byte {
	var b []byte
	for _, e := range entries {
		b = append(b, e...)
	}
	return b
}

// A test sink that captures events, and can block or reject.

type captureConfig struct {
	Name   string `yaml:"name" doc:"capture name"`
	Block  bool   `yaml:"block" doc:"block writes until released"`
	Reject bool   `yaml:"reject" doc:"reject every event"`
}

type capture struct {
	mu     sync.Mutex
	events []*event.Event
	gate   chan struct{}
}

var (
	capturesMu sync.Mutex
	captures   = map[string]*capture{}
	captureSeq int
)

func captureNamed(name string) *capture {
	capturesMu.Lock()
	defer capturesMu.Unlock()
	c, ok := captures[name]
	if !ok {
		c = &capture{gate: make(chan struct{})}
		captures[name] = c
	}
	return c
}

// newCapture returns a fresh capture and the unique name that the pipeline
// file's fluentbit_test_capture sink must use.
func newCapture(t *testing.T) (string, *capture) {
	capturesMu.Lock()
	captureSeq++
	name := fmt.Sprintf("c%d", captureSeq)
	capturesMu.Unlock()
	return name, captureNamed(name)
}

func (c *capture) release() { close(c.gate) }

func (c *capture) snapshot() []*event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*event.Event(nil), c.events...)
}

type captureSink struct {
	cfg *captureConfig
	set pipelines.Settings
	c   *capture
}

func init() {
	pipelines.RegisterSink("fluentbit_test_capture", "test sink", func() *captureConfig { return &captureConfig{} },
		func(s pipelines.Settings, cfg *captureConfig) (pipelines.Sink, error) {
			return &captureSink{cfg: cfg, set: s, c: captureNamed(cfg.Name)}, nil
		})
}

func (s *captureSink) Start(context.Context) error { return nil }

func (s *captureSink) Write(ctx context.Context, evs []*event.Event) error {
	if s.cfg.Block {
		select {
		case <-s.c.gate:
		case <-ctx.Done():
			for _, ev := range evs {
				s.set.Telemetry.Reject(ev, "shutdown")
			}
			return ctx.Err()
		}
	}
	s.c.mu.Lock()
	s.c.events = append(s.c.events, evs...)
	s.c.mu.Unlock()
	for _, ev := range evs {
		if s.cfg.Reject {
			s.set.Telemetry.Reject(ev, "test")
		} else {
			s.set.Telemetry.Deliver(ev)
		}
	}
	return nil
}

func (s *captureSink) Shutdown(context.Context) error { return nil }

// writePipeline writes a pipeline file into a temporary directory; every
// %[1]s in text is replaced by that directory.
func writePipeline(t *testing.T, text string) (path, dir string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "weft.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "%[1]s", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

func open(t *testing.T, path string) *Instance {
	t.Helper()
	x, err := Open(path, Options{Name: t.Name(), LogOutput: io.Discard, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}
