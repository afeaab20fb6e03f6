package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-agent/weft/agent"
	_ "github.com/weft-agent/weft/plugins/all"
)

// The poster retries what the agent pushes back, honouring Retry-After,
// and counts what it gives up.
func TestPosterRetriesAndCounts(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path != "/log/ingest" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s", r.URL.Path, r.Header.Get("Content-Type"))
		}
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var recs []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&recs); err != nil {
			t.Error(err)
		}
		if len(recs) > 500 {
			t.Errorf("request of %d records", len(recs))
		}
		mu.Lock()
		got = append(got, recs...)
		mu.Unlock()
	}))
	defer srv.Close()
	p := newPoster(srv.URL+"/log/ingest", time.Hour)
	for i := 0; i < 1200; i++ {
		p.add([]map[string]any{{"n": i}})
	}
	p.flush(context.Background())
	if p.posted.Load() != 1200 || p.rejected.Load() != 0 || len(got) != 1200 || got[1199]["n"] != 1199.0 {
		t.Fatalf("posted %d rejected %d received %d", p.posted.Load(), p.rejected.Load(), len(got))
	}
	if calls.Load() != 4 { // 503, then 500 + 500 + 200
		t.Errorf("%d requests", calls.Load())
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "record 0 is not an object", http.StatusBadRequest)
	}))
	defer bad.Close()
	p = newPoster(bad.URL, time.Hour)
	p.add([]map[string]any{{"a": 1}, {"a": 2}})
	p.flush(context.Background())
	if p.posted.Load() != 0 || p.rejected.Load() != 2 || !strings.Contains(p.lastErr.Load().(string), "record 0 is not an object") {
		t.Fatalf("400: posted %d rejected %d (%v)", p.posted.Load(), p.rejected.Load(), p.lastErr.Load())
	}

	// Unreachable: given up when the flush's context ends.
	p = newPoster("http://"+freePort(t)+"/log/ingest", time.Hour)
	p.add([]map[string]any{{"a": 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	p.flush(ctx)
	if p.rejected.Load() != 1 {
		t.Fatalf("unreachable: rejected %d", p.rejected.Load())
	}

	// Bounded while nobody takes them.
	p = newPoster("http://unused", time.Hour)
	for i := 0; i < maxPending+10; i++ {
		p.add([]map[string]any{{"n": i}})
	}
	if len(p.pending) != maxPending || p.rejected.Load() != 10 || p.pending[0]["n"] != 10 {
		t.Fatalf("pending %d rejected %d", len(p.pending), p.rejected.Load())
	}
}

// Stopping the poster while it posts finishes that request: a batch in
// flight is delivered, not lost.
func TestPosterStopFinishesTheRequestInFlight(t *testing.T) {
	started := make(chan struct{}, 1)
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var recs []map[string]any
		json.NewDecoder(r.Body).Decode(&recs)
		select {
		case started <- struct{}{}:
		default:
		}
		time.Sleep(300 * time.Millisecond)
		received.Add(int64(len(recs)))
	}))
	defer srv.Close()
	p := newPoster(srv.URL, 10*time.Millisecond)
	p.add([]map[string]any{{"a": 1}, {"a": 2}})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(context.Background(), stop)
	}()
	<-started
	p.add([]map[string]any{{"a": 3}}) // after the tick: for the final flush
	close(stop)
	<-done
	p.flush(context.Background())
	if p.posted.Load() != 3 || p.rejected.Load() != 0 || received.Load() != 3 {
		t.Fatalf("posted %d rejected %d received %d", p.posted.Load(), p.rejected.Load(), received.Load())
	}
}

func TestGeneratorRejectsBadConfig(t *testing.T) {
	for _, c := range []GeneratorConfig{{Rate: 0}, {Rate: 1, FailureRate: 1.5}, {Rate: 1, FailureRate: -1}} {
		if _, err := NewGenerator(context.Background(), c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The whole demo in-process: the agent on the built-in default, the
// generator, the summaries, the drain; every span and log the generator
// produced is a document in the data directory.
func TestRunWritesEveryDocument(t *testing.T) {
	cfg, err := os.ReadFile("../deploy/pipelines/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := func() string { _, p, _ := net.SplitHostPort(freePort(t)); return p }
	t.Setenv("WEFT_DATA_DIR", dir)
	t.Setenv("MASK_KEY", "test-key")
	t.Setenv("WEFT_HOST", "127.0.0.1")
	t.Setenv("WEFT_OTLP_GRPC_PORT", port())
	t.Setenv("WEFT_OTLP_HTTP_PORT", port())
	t.Setenv("WEFT_OTEL_TRACE_PORT", port())
	t.Setenv("WEFT_HTTP_PORT", port())
	admin := freePort(t)
	var out bytes.Buffer
	err = Run(context.Background(), Options{
		Agent: agent.Options{EmbeddedName: "default.yaml", Embedded: cfg, DataDir: dir, AdminAddress: admin,
			LogLevel: "warn", LogOutput: &bytes.Buffer{}},
		Endpoints: EndpointsFrom(os.LookupEnv, admin),
		Duration:  3 * time.Second, Rate: 10, FailureRate: 0.5, Interval: time.Second, Seed: 42, Out: &out,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	if !strings.Contains(text, "events/s") || !strings.Contains(text, "logs correlated") { // ticks may be missed on a loaded machine
		t.Errorf("no live summaries:\n%s", text)
	}
	m := regexp.MustCompile(`(\d+) checkouts \((\d+) failed in payment\): (\d+) spans, (\d+) OTLP log records, (\d+) log records posted, (\d+) metric points\n`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no final summary:\n%s", text)
	}
	n := make([]int, len(m))
	for i := 1; i < len(m); i++ {
		n[i], _ = strconv.Atoi(m[i])
	}
	checkouts, failed, spans, otlpLogs, posted, points := n[1], n[2], n[3], n[4], n[5], n[6]
	if checkouts < 20 || failed == 0 || failed == checkouts || spans != 5*checkouts {
		t.Fatalf("generator: %v", m[0])
	}
	if strings.Contains(text, "NO (") {
		t.Errorf("unbalanced pipeline:\n%s", text)
	}
	day := time.Now().UTC().Format("2006.01.02")
	if got := countLines(t, filepath.Join(dir, "otel-v1-apm-span-"+day+".ndjson")); got != spans {
		t.Errorf("%d span documents, generator ended %d spans", got, spans)
	}
	if got := countLines(t, filepath.Join(dir, "logs-"+day+".ndjson")); got != otlpLogs+posted {
		t.Errorf("%d log documents, generator sent %d", got, otlpLogs+posted)
	}
	if got := countLines(t, filepath.Join(dir, "metrics-otel-v1-"+day+".ndjson")); got != points || points < 2 {
		t.Errorf("%d metric documents, generator exported %d points", got, points)
	}
	if countLines(t, filepath.Join(dir, "otel-v1-apm-service-map.ndjson")) == 0 {
		t.Error("no service-map documents")
	}
	if !strings.Contains(text, `"traceCorrelated": true`) {
		t.Errorf("no sample document:\n%s", text)
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	n := 0
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("%s: line %d: %v", path, n+1, err)
		}
		n++
	}
	return n
}
