package opensearch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// recorded is one request the fake cluster received (body decompressed).
type recorded struct {
	Method string
	Path   string // with query
	Header http.Header
	Raw    []byte // body as sent
	Body   []byte // body after gzip decoding
	PeerCN string // common name of the client certificate (TLS)
}

// bulkItem is one document of a bulk request.
type bulkItem struct {
	Action string         // index, create, update, delete
	Meta   map[string]any // _index, _id, routing
	Source map[string]any // nil for delete
	Line   string         // the source line as sent
}

// bulkReply answers one bulk request: per-item status codes (and error
// types), or a whole-request status.
type bulkReply struct {
	Status int    // whole-request status; 0 means 200 with items
	Body   string // whole-request body (non-200)
	Items  []itemReply
}

type itemReply struct {
	Status int
	Type   string
	Reason string
}

// fakeOS stands in for OpenSearch.
type fakeOS struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []recorded
	bulks    [][]bulkItem
	indexed  map[string]map[string]any // _index/_id (or seq) -> doc
	seq      int
	// bulk decides the answer to a bulk request; nil: every item 201.
	bulk func(n int, items []bulkItem) bulkReply
	// routes answers other requests by "METHOD /path" (path without query).
	routes map[string]func(body []byte) (int, string)
	// down makes the server drop connections without answering.
	down atomic.Bool
	// block, when set, holds bulk requests until it is closed.
	block chan struct{}
}

func newFake(t *testing.T) *fakeOS { return newFakeWith(t, nil) }

// newFakeWith starts the fake with TLS when tlsCfg is not nil (the
// server's certificate is httptest's, valid for 127.0.0.1).
func newFakeWith(t *testing.T, tlsCfg *tls.Config) *fakeOS {
	f := &fakeOS{t: t, indexed: map[string]map[string]any{}, routes: map[string]func([]byte) (int, string){}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	if tlsCfg != nil {
		f.srv.TLS = tlsCfg
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(func() {
		f.mu.Lock()
		if f.block != nil {
			select {
			case <-f.block:
			default:
				close(f.block)
			}
		}
		f.mu.Unlock()
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

func (f *fakeOS) URL() string { return f.srv.URL }

func (f *fakeOS) serve(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		hj, ok := w.(http.Hijacker)
		if ok {
			c, _, err := hj.Hijack()
			if err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	raw, _ := io.ReadAll(r.Body)
	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
		body, err = io.ReadAll(zr)
		if err != nil {
			http.Error(w, "bad gzip", 400)
			return
		}
	}
	rec := recorded{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Raw: raw, Body: body}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		rec.PeerCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	block := f.block
	f.mu.Unlock()

	if r.URL.Path == "/_bulk" {
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		f.serveBulk(w, body)
		return
	}
	f.mu.Lock()
	h := f.routes[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	if h == nil {
		switch {
		case r.Method == "GET" && r.URL.Path == "/":
			w.Write([]byte(`{"version":{"number":"2.19.1"}}`))
			return
		case r.Method == "GET":
			w.WriteHeader(404)
			w.Write([]byte(`{}`))
			return
		}
		w.Write([]byte(`{"acknowledged":true}`))
		return
	}
	status, resp := h(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(resp))
}

func (f *fakeOS) serveBulk(w http.ResponseWriter, body []byte) {
	items, err := parseBulk(body)
	if err != nil {
		f.t.Errorf("fake: bad bulk body: %v\n%s", err, body)
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	n := len(f.bulks)
	f.bulks = append(f.bulks, items)
	decide := f.bulk
	f.mu.Unlock()
	reply := bulkReply{}
	if decide != nil {
		reply = decide(n, items)
	}
	if reply.Status != 0 && reply.Status != 200 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(reply.Status)
		w.Write([]byte(reply.Body))
		return
	}
	var out bytes.Buffer
	anyErr := false
	out.WriteString(`{"items":[`)
	for i, it := range items {
		ir := itemReply{Status: 201}
		if i < len(reply.Items) && reply.Items[i].Status != 0 {
			ir = reply.Items[i]
		}
		if i > 0 {
			out.WriteByte(',')
		}
		if ir.Status >= 300 && !(ir.Status == 404 && it.Action == "delete" && ir.Type == "") {
			anyErr = true
			fmt.Fprintf(&out, `{%q:{"status":%d,"error":{"type":%q,"reason":%q}}}`, it.Action, ir.Status, ir.Type, ir.Reason)
			continue
		}
		fmt.Fprintf(&out, `{%q:{"status":%d}}`, it.Action, ir.Status)
		if ir.Status < 300 {
			f.store(it)
		}
	}
	out.WriteString(`]}`)
	resp := fmt.Sprintf(`{"errors":%v,%s`, anyErr, out.String()[1:])
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(resp))
}

func (f *fakeOS) store(it bulkItem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, _ := it.Meta["_id"].(string)
	if id == "" {
		f.seq++
		id = fmt.Sprintf("auto-%d", f.seq)
	}
	key := fmt.Sprint(it.Meta["_index"]) + "/" + id
	switch it.Action {
	case "delete":
		delete(f.indexed, key)
	case "update":
		f.indexed[key], _ = it.Source["doc"].(map[string]any)
	default:
		f.indexed[key] = it.Source
	}
}

func parseBulk(body []byte) ([]bulkItem, error) {
	var items []bulkItem
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	if len(body) > 0 && body[len(body)-1] != '\n' {
		return nil, fmt.Errorf("the body does not end with a newline")
	}
	for sc.Scan() {
		var action map[string]map[string]any
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			return nil, fmt.Errorf("action line %q: %w", sc.Text(), err)
		}
		if len(action) != 1 {
			return nil, fmt.Errorf("action line %q has %d keys", sc.Text(), len(action))
		}
		var it bulkItem
		for k, v := range action {
			it.Action, it.Meta = k, v
		}
		if it.Action != "delete" {
			if !sc.Scan() {
				return nil, fmt.Errorf("no source line after %v", action)
			}
			it.Line = sc.Text()
			if err := json.Unmarshal(sc.Bytes(), &it.Source); err != nil {
				return nil, fmt.Errorf("source line %q: %w", sc.Text(), err)
			}
		}
		items = append(items, it)
	}
	return items, sc.Err()
}

func (f *fakeOS) Requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func (f *fakeOS) Bulks() [][]bulkItem {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]bulkItem(nil), f.bulks...)
}

func (f *fakeOS) Indexed() map[string]map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]map[string]any, len(f.indexed))
	for k, v := range f.indexed {
		out[k] = v
	}
	return out
}

func (f *fakeOS) route(key string, h func(body []byte) (int, string)) {
	f.mu.Lock()
	f.routes[key] = h
	f.mu.Unlock()
}

func (f *fakeOS) setBulk(h func(n int, items []bulkItem) bulkReply) {
	f.mu.Lock()
	f.bulk = h
	f.mu.Unlock()
}

// tracked is the outcome of events with acknowledgement handles.
type tracked struct {
	mu       sync.Mutex
	ok, fail int
	calls    int
}

func (tr *tracked) events(n int, mk func(i int) *event.Event) []*event.Event {
	evs := make([]*event.Event, n)
	for i := range evs {
		ev := mk(i)
		a := event.NewAcker(func(ok bool) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			tr.calls++
			if ok {
				tr.ok++
			} else {
				tr.fail++
			}
		})
		a.Track(ev)
		a.Seal()
		evs[i] = ev
	}
	return evs
}

func (tr *tracked) counts() (ok, fail int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.ok, tr.fail
}

// logEvent is a log record with a few fields.
func logEvent(i int) *event.Event {
	return event.New(event.KindLog, time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), map[string]any{
		"id": fmt.Sprintf("doc-%d", i), "message": fmt.Sprintf("line %d", i), "n": int64(i),
	})
}

// newSink builds the sink from YAML options (hosts defaulting to the fake)
// and starts it; it is shut down at the end of the test.
func newSink(t *testing.T, f *fakeOS, yaml string) (*Sink, *prometheus.Registry) {
	t.Helper()
	if f != nil && !strings.Contains(yaml, "hosts:") {
		yaml = "hosts: [" + f.URL() + "]\n" + yaml
	}
	sk, reg, err := pipelinestest.Sink("opensearch", yaml)
	if err != nil {
		t.Fatal(err)
	}
	s := sk.(*Sink)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, reg
}

func shutdown(t *testing.T, s *Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func metric(reg prometheus.Gatherer, name string, labels ...string) float64 {
	return pipelinestest.CounterValue(reg, name, labels...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// readDLQ returns the dead letters in path.
func readDLQ(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("dead letter %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func dlqPath(t *testing.T) string { return filepath.Join(t.TempDir(), "dlq.ndjson") }

// accounting checks that every one of n events was finalized exactly once
// by the sink's telemetry.
func accounting(t *testing.T, reg prometheus.Gatherer, n int) {
	t.Helper()
	sent := metric(reg, "weft_component_events_sent_total")
	failed := metric(reg, "weft_component_events_failed_total")
	if int(sent+failed) != n {
		t.Fatalf("events finalized: %v delivered + %v rejected, want %d in all", sent, failed, n)
	}
}

var _ pipelines.Readier = (*Sink)(nil)

func newSinkErr(yaml string) (pipelines.Sink, *prometheus.Registry, error) {
	return pipelinestest.Sink("opensearch", yaml)
}
