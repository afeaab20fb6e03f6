package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// fixture returns the path of a shared fixture.
func fixture(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "fixtures", name))
	return p
}

// sink is an Input that records events and, when ack is set, finalizes
// them as delivered (as a sink would), so checkpoints advance.
type sink struct {
	mu     sync.Mutex
	events []*event.Event
	ack    bool
	held   []*event.Event // not finalized (ack false)
}

func (k *sink) Write(_ context.Context, evs []*event.Event) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range evs {
		k.events = append(k.events, e)
		if k.ack {
			e.Finalize(event.Delivered)
		} else {
			k.held = append(k.held, e)
		}
	}
	return len(evs), nil
}

func (k *sink) snapshot() []*event.Event {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*event.Event(nil), k.events...)
}

// deliverHeld finalizes the events held so far.
func (k *sink) deliverHeld() {
	k.mu.Lock()
	held := k.held
	k.held = nil
	k.mu.Unlock()
	for _, e := range held {
		e.Finalize(event.Delivered)
	}
}

func msgs(evs []*event.Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		s, _ := e.Fields()["message"].(string)
		out = append(out, s)
	}
	return out
}

type env struct {
	t   testing.TB
	src *Source
	reg *prometheus.Registry
	in  *sink
}

// newTail builds a tail source from YAML options with an optional data dir.
func newTail(t testing.TB, yamlText, dataDir string) (*Source, *prometheus.Registry) {
	t.Helper()
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSource, "tail", yamlText)
	if err != nil {
		t.Fatal(err)
	}
	s, reg := pipelinestest.Settings("test", "source/tail")
	s.DataDir = dataDir
	src, err := New(s, cfg.(*Config))
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Source), reg
}

// start starts a tail source writing into a sink that acknowledges.
func start(t testing.TB, yamlText string) *env {
	t.Helper()
	return startWith(t, yamlText, &sink{ack: true})
}

func startWith(t testing.TB, yamlText string, in *sink) *env {
	t.Helper()
	src, reg := newTail(t, yamlText, "")
	if err := src.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, src: src, reg: reg, in: in}
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *env) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.src.Stop(ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) metric(name string, labels ...string) float64 {
	return pipelinestest.CounterValue(e.reg, name, labels...)
}

// waitN waits until at least n events were written and returns them.
func (e *env) waitN(n int, timeout time.Duration) []*event.Event {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		evs := e.in.snapshot()
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d events after %v, want %d: %q", len(evs), timeout, n, lastN(msgs(evs), 5))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
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

func q(s string) string { return strconv.Quote(s) }

// criLine formats a CRI line.
func criLine(n int, stream, tag, msg string) string {
	ts := time.Date(2025, 11, 23, 8, 0, 0, n, time.UTC).Format(time.RFC3339Nano)
	return fmt.Sprintf("%s %s %s %s\n", ts, stream, tag, msg)
}

// checkExactlyOnce checks that the messages are "line <i>" for every i in
// [0, n) exactly once (in any order).
func checkExactlyOnce(t testing.TB, messages []string, n int) {
	t.Helper()
	count := make([]int, n)
	for _, m := range messages {
		i, err := strconv.Atoi(strings.TrimPrefix(m, "line "))
		if err != nil || i < 0 || i >= n {
			t.Errorf("unexpected message %q", m)
			continue
		}
		count[i]++
	}
	var missing, dup []int
	for i, c := range count {
		switch {
		case c == 0:
			missing = append(missing, i)
		case c > 1:
			dup = append(dup, i)
		}
	}
	if len(missing) > 0 || len(dup) > 0 {
		sort.Ints(missing)
		t.Fatalf("%d messages for %d lines: missing %v (%d), repeated %v (%d)", len(messages), n, head(missing), len(missing), head(dup), len(dup))
	}
}

func head(s []int) []int {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}
