package prometheus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func TestREADME(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindSink, "prometheus", "README.md")
}

// newSink builds the sink from YAML options (url first) and starts it.
func newSink(t *testing.T, url, opts string) (*Sink, *prometheus.Registry) {
	t.Helper()
	return newSinkHost(t, url, opts, nil)
}

func newSinkHost(t *testing.T, url, opts string, host pipelines.Host) (*Sink, *prometheus.Registry) {
	t.Helper()
	y := fmt.Sprintf("url: %q\ninsecure: true\n%s", url, opts)
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSink, "prometheus", y)
	if err != nil {
		t.Fatal(err)
	}
	s, reg := pipelinestest.Settings("metrics", "sink/0/prometheus")
	if host != nil {
		s.Host = host
	}
	sk, err := pipelines.CreateSink("prometheus", s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sk.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sk.Shutdown(ctx)
	})
	return sk.(*Sink), reg
}

// tracked makes events from JSON objects, each with its own
// acknowledgement handle; outcome(i) reports how event i ended.
type tracked struct {
	mu   sync.Mutex
	done map[int]bool
	evs  []*event.Event
}

func track(t *testing.T, docs ...string) *tracked {
	t.Helper()
	tr := &tracked{done: map[int]bool{}}
	for i, d := range docs {
		m, err := event.DecodeJSONObject([]byte(d))
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		ev := event.New(event.KindLog, time.Time{}, m)
		i := i
		a := event.NewAcker(func(ok bool) {
			tr.mu.Lock()
			tr.done[i] = ok
			tr.mu.Unlock()
		})
		a.Track(ev)
		a.Seal()
		tr.evs = append(tr.evs, ev)
	}
	return tr
}

// outcome: "delivered", "rejected" or "" (not finalized yet).
func (tr *tracked) outcome(i int) string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	ok, done := tr.done[i]
	switch {
	case !done:
		return ""
	case ok:
		return "delivered"
	}
	return "rejected"
}

func (tr *tracked) waitAll(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		tr.mu.Lock()
		n := len(tr.done)
		tr.mu.Unlock()
		if n == len(tr.evs) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("only %d of %d events finalized", len(tr.done), len(tr.evs))
}

func write(t *testing.T, sk *Sink, tr *tracked) {
	t.Helper()
	if err := sk.Write(context.Background(), tr.evs); err != nil {
		t.Fatal(err)
	}
	sk.batcher.Flush()
}

const fast = "threshold: {flush_interval: 10ms}\ninitial_backoff: 1ms\nmax_backoff: 2ms\n"

func TestRemoteWriteFormatAndHeaders(t *testing.T) {
	rcv := newFakeReceiver(t)
	sk, reg := newSink(t, rcv.url(), fast+"external_labels: {cluster: eks-1, region: \"\"}\n")
	tr := track(t,
		`{"name":"http_requests_total","kind":"counter","labels":{"service":"checkout","code":200,"Zone":"b"},"value":42,"timestamp":1700000000000}`,
		`{"name":"queue_depth","labels":{"cluster":"mine","empty":""},"value":3.5,"timestamp":"2023-11-14T22:13:21Z"}`,
		`{"name":"queue_size","labels":{"cluster":""},"value":1,"timestamp":"2023-11-14T22:13:21Z"}`,
		`{"name":"http.latency-ms","kind":"gauge","attributes":{"http.method":"GET","nested":{"k":"v"}},"value":"NaN","timestamp":1700000001}`,
	)
	write(t, sk, tr)
	tr.waitAll(t)
	for i := range tr.evs {
		if got := tr.outcome(i); got != "delivered" {
			t.Errorf("event %d: %s", i, got)
		}
	}
	reqs := rcv.reqs()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	h := reqs[0].header
	for k, want := range map[string]string{"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0"} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	want := map[string]Sample{
		// "Zone" sorts before "__name__" (byte order); the external label
		// cluster is added; the empty one is not.
		`{Zone="b",__name__="http_requests_total",cluster="eks-1",code="200",service="checkout"}`: {42, 1700000000000},
		// The event's own cluster wins over the external one; empty values are left out.
		`{__name__="queue_depth",cluster="mine"}`: {3.5, 1700000001000},
		// An empty label is no label: the external one applies.
		`{__name__="queue_size",cluster="eks-1"}`: {1, 1700000001000},
		// Names sanitized; nested maps flattened; seconds read as seconds.
		`{__name__="http_latency_ms",cluster="eks-1",http_method="GET",nested_k="v"}`: {math.NaN(), 1700000001000},
	}
	if len(rcv.keys()) != len(want) {
		t.Fatalf("series %v", rcv.keys())
	}
	for k, w := range want {
		got := rcv.samples(k)
		if len(got) != 1 || got[0].Timestamp != w.Timestamp || !(got[0].Value == w.Value || math.IsNaN(w.Value) && math.IsNaN(got[0].Value)) {
			t.Errorf("%s: got %v, want %v (series: %v)", k, got, w, rcv.keys())
		}
	}
	if v := pipelinestest.CounterValue(reg, "weft_prometheus_samples_total", "result", "sent"); v != 4 {
		t.Errorf("samples sent = %v", v)
	}
	if v := pipelinestest.CounterValue(reg, "weft_prometheus_remote_write_requests_total", "status", "204"); v != 1 {
		t.Errorf("requests{204} = %v", v)
	}
	if v := pipelinestest.CounterValue(reg, "weft_component_events_sent_total"); v != 4 {
		t.Errorf("events sent = %v", v)
	}
}

func TestEncodingGoldenBytes(t *testing.T) {
	// One series {__name__="up", job="weft"} with samples (1, 1000) and
	// (0.5, 2000), encoded by hand from the proto definitions:
	// WriteRequest.timeseries (1, LEN) > TimeSeries.labels (1, LEN) >
	// Label.name (1, LEN) / Label.value (2, LEN); TimeSeries.samples (2, LEN)
	// > Sample.value (1, I64) / Sample.timestamp (2, VARINT).
	want := []byte{
		0x0a, 0x39, // timeseries, 57 bytes
		0x0a, 0x0e, 0x0a, 0x08, '_', '_', 'n', 'a', 'm', 'e', '_', '_', 0x12, 0x02, 'u', 'p',
		0x0a, 0x0b, 0x0a, 0x03, 'j', 'o', 'b', 0x12, 0x04, 'w', 'e', 'f', 't',
		0x12, 0x0c, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0xe8, 0x07, // 1.0 at 1000
		0x12, 0x0c, 0x09, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 0x10, 0xd0, 0x0f, // 0.5 at 2000
	}
	lbl := string(appendLabels(nil, Labels{{"job", "weft"}, {"__name__", "up"}}))
	got := appendSeries(nil, lbl, []Sample{{1, 1000}, {0.5, 2000}})
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding\n got %x\nwant %x", got, want)
	}
	// Block-format snappy (the format remote write uses): a varint of the
	// uncompressed length first, not the stream format's magic chunk.
	c := compress(nil, got)
	if bytes.HasPrefix(c, []byte("\xff\x06\x00\x00sNaPpY")) || c[0] != byte(len(want)) {
		t.Fatalf("not block format: %x", c[:8])
	}
	dec, err := snappy.Decode(nil, c)
	if err != nil || !bytes.Equal(dec, want) {
		t.Fatalf("snappy round trip: %v", err)
	}
}

func TestHistogramAndSummaryEvents(t *testing.T) {
	rcv := newFakeReceiver(t)
	sk, _ := newSink(t, rcv.url(), fast)
	tr := track(t,
		// Prometheus shape: cumulative buckets by le (+Inf added from count).
		`{"name":"rpc_seconds","kind":"histogram","labels":{"svc":"a"},"buckets":[{"le":0.1,"count":2},{"le":1,"count":5}],"count":7,"sum":3.25,"timestamp":1700000001000}`,
		// OpenTelemetry / Data Prepper shape: per-bucket counts.
		`{"name":"db_seconds","kind":"HISTOGRAM","explicitBounds":[0.5,2],"bucketCountsList":[1,2,3],"count":6,"sum":9,"time":"1970-01-01T00:00:02Z"}`,
		`{"name":"gc_seconds","kind":"summary","quantiles":[{"quantile":0.5,"value":0.01},{"quantile":0.99,"value":0.2}],"count":10,"sum":0.5,"timestamp":1700000003000}`,
	)
	write(t, sk, tr)
	tr.waitAll(t)
	want := map[string]float64{
		`{__name__="rpc_seconds_bucket",le="0.1",svc="a"}`:  2,
		`{__name__="rpc_seconds_bucket",le="1",svc="a"}`:    5,
		`{__name__="rpc_seconds_bucket",le="+Inf",svc="a"}`: 7,
		`{__name__="rpc_seconds_sum",svc="a"}`:              3.25,
		`{__name__="rpc_seconds_count",svc="a"}`:            7,
		`{__name__="db_seconds_bucket",le="0.5"}`:           1,
		`{__name__="db_seconds_bucket",le="2"}`:             3,
		`{__name__="db_seconds_bucket",le="+Inf"}`:          6,
		`{__name__="db_seconds_sum"}`:                       9,
		`{__name__="db_seconds_count"}`:                     6,
		`{__name__="gc_seconds",quantile="0.5"}`:            0.01,
		`{__name__="gc_seconds",quantile="0.99"}`:           0.2,
		`{__name__="gc_seconds_sum"}`:                       0.5,
		`{__name__="gc_seconds_count"}`:                     10,
	}
	for k, v := range want {
		got := rcv.samples(k)
		if len(got) != 1 || got[0].Value != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if len(rcv.keys()) != len(want) {
		t.Errorf("series: %v", rcv.keys())
	}
}

func TestInvalidEventsDeadLettered(t *testing.T) {
	rcv := newFakeReceiver(t)
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	sk, reg := newSink(t, rcv.url(), fast+"sanitize_names: false\ndlq_file: "+dlq+"\n")
	tr := track(t,
		`{"message":"a log line, not a metric"}`,
		`{"name":"ok_metric","value":1}`,
		`{"name":"bad name","value":1}`,
		`{"name":"no_value"}`,
		`{"name":"h","kind":"histogram","buckets":[{"le":1,"count":5},{"le":0.5,"count":6}]}`,
		`{"name":"k","kind":"exponential_histogram","value":1}`,
		`{"name":"m","labels":{"bad-label":"x"},"value":1}`,
	)
	write(t, sk, tr)
	tr.waitAll(t)
	for i := range tr.evs {
		want := "rejected"
		if i == 1 {
			want = "delivered"
		}
		if got := tr.outcome(i); got != want {
			t.Errorf("event %d: %s, want %s", i, got, want)
		}
	}
	data, err := os.ReadFile(dlq)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d dead letters:\n%s", len(lines), data)
	}
	var dl struct {
		Document map[string]any `json:"document"`
		URL      string         `json:"url"`
		Error    struct{ Type, Reason string }
	}
	if err := json.Unmarshal([]byte(lines[1]), &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Error.Type != "invalid_metric" || !strings.Contains(dl.Error.Reason, `"bad name" is not a valid`) || dl.Document["name"] != "bad name" || dl.URL != rcv.url() {
		t.Errorf("dead letter: %+v", dl)
	}
	if v := pipelinestest.CounterValue(reg, "weft_component_events_failed_total", "reason", "dead_letter"); v != 6 {
		t.Errorf("failed{dead_letter} = %v", v)
	}
	if v := pipelinestest.CounterValue(reg, "weft_prometheus_events_dead_lettered_total"); v != 6 {
		t.Errorf("dead_lettered = %v", v)
	}
}

func TestOrderingDuplicatesAndOutOfOrder(t *testing.T) {
	rcv := newFakeReceiver(t)
	sk, reg := newSink(t, rcv.url(), fast)
	// One request: samples of a series arrive out of order and with a
	// repeated timestamp; they are sent sorted, the later duplicate wins.
	tr := track(t,
		`{"name":"g","value":3,"timestamp":1700000003000}`,
		`{"name":"g","value":1,"timestamp":1700000001000}`,
		`{"name":"g","value":2,"timestamp":1700000002000}`,
		`{"name":"g","value":9,"timestamp":1700000002000}`,
	)
	write(t, sk, tr)
	tr.waitAll(t)
	got := rcv.samples(`{__name__="g"}`)
	want := []Sample{{1, 1700000001000}, {9, 1700000002000}, {3, 1700000003000}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("samples %v, want %v", got, want)
	}
	// Later requests: a sample older than the newest sent is dropped here
	// (never sent: Prometheus would refuse the whole request), one at the
	// same time is a duplicate (delivered, not sent again), a newer one is
	// sent.
	tr2 := track(t,
		`{"name":"g","value":0.5,"timestamp":1700000000500}`,
		`{"name":"g","value":3,"timestamp":1700000003000}`,
		`{"name":"g","value":4,"timestamp":1700000004000}`,
	)
	write(t, sk, tr2)
	tr2.waitAll(t)
	if o := []string{tr2.outcome(0), tr2.outcome(1), tr2.outcome(2)}; fmt.Sprint(o) != "[rejected delivered delivered]" {
		t.Errorf("outcomes %v", o)
	}
	got = rcv.samples(`{__name__="g"}`)
	if len(got) != 4 || got[3] != (Sample{4, 1700000004000}) {
		t.Errorf("samples %v", got)
	}
	for res, n := range map[string]float64{"sent": 4, "duplicate": 2, "out_of_order": 1} {
		if v := pipelinestest.CounterValue(reg, "weft_prometheus_samples_total", "result", res); v != n {
			t.Errorf("samples{%s} = %v, want %v", res, v, n)
		}
	}
}

func TestOutOfOrderWindow(t *testing.T) {
	rcv := newFakeReceiver(t)
	sk, _ := newSink(t, rcv.url(), fast+"out_of_order_window: 10s\n")
	write(t, sk, track(t, `{"name":"g","value":1,"timestamp":1700000060000}`))
	tr := track(t, `{"name":"g","value":2,"timestamp":1700000055000}`, `{"name":"g","value":3,"timestamp":1700000040000}`)
	write(t, sk, tr)
	tr.waitAll(t)
	if tr.outcome(0) != "delivered" || tr.outcome(1) != "rejected" {
		t.Errorf("outcomes %s %s", tr.outcome(0), tr.outcome(1))
	}
}

func TestRetries5xxAnd429Only(t *testing.T) {
	rcv := newFakeReceiver(t)
	statuses := []int{503, 429, 500, 204}
	rcv.respond = func(n int, _ []decodedSeries) (int, string) {
		if n < len(statuses) {
			return statuses[n], "try later"
		}
		return 204, ""
	}
	sk, reg := newSink(t, rcv.url(), fast)
	tr := track(t, `{"name":"a","value":1,"timestamp":1700000001000}`, `{"name":"b","value":2,"timestamp":1700000001000}`)
	write(t, sk, tr)
	tr.waitAll(t)
	if tr.outcome(0) != "delivered" || tr.outcome(1) != "delivered" {
		t.Fatalf("outcomes %s %s", tr.outcome(0), tr.outcome(1))
	}
	if n := len(rcv.reqs()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
	for _, st := range []string{"503", "429", "500", "204"} {
		if v := pipelinestest.CounterValue(reg, "weft_prometheus_remote_write_requests_total", "status", st); v != 1 {
			t.Errorf("requests{%s} = %v", st, v)
		}
	}
	if v := pipelinestest.CounterValue(reg, "weft_prometheus_events_retried_total"); v != 2 {
		t.Errorf("events retried = %v", v)
	}
}

func TestPermanentErrorsNotRetried(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 422} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			rcv := newFakeReceiver(t)
			rcv.respond = func(int, []decodedSeries) (int, string) { return status, "no" }
			dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
			sk, reg := newSink(t, rcv.url(), fast+"dlq_file: "+dlq+"\n")
			tr := track(t, `{"name":"a","value":1,"timestamp":1700000001000}`, `{"name":"b","value":1,"timestamp":1700000001000}`)
			write(t, sk, tr)
			tr.waitAll(t)
			if n := len(rcv.reqs()); n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
			if tr.outcome(0) != "rejected" || tr.outcome(1) != "rejected" {
				t.Errorf("outcomes %s %s", tr.outcome(0), tr.outcome(1))
			}
			if v := pipelinestest.CounterValue(reg, "weft_prometheus_samples_total", "result", "rejected"); v != 2 {
				t.Errorf("samples{rejected} = %v", v)
			}
			data, _ := os.ReadFile(dlq)
			if !strings.Contains(string(data), fmt.Sprintf(`"status":%d,"error":{"type":"http_%d","reason":"no"}`, status, status)) {
				t.Errorf("dead letters: %s", data)
			}
		})
	}
}

func TestOutOfOrderRefusalSplitsRequest(t *testing.T) {
	// Prometheus refuses a whole request (400) when one sample is out of
	// order; the sink splits it until the offending series is alone, so
	// the others are stored, and never retries the refused one.
	rcv := newFakeReceiver(t)
	rcv.respond = func(_ int, series []decodedSeries) (int, string) {
		for _, s := range series {
			if s.key() == `{__name__="bad"}` {
				return 400, "out of order sample"
			}
		}
		return 204, ""
	}
	sk, reg := newSink(t, rcv.url(), fast)
	docs := []string{}
	for i := 0; i < 7; i++ {
		docs = append(docs, fmt.Sprintf(`{"name":"ok%d","value":%d,"timestamp":1700000001000}`, i, i))
	}
	docs = append(docs, `{"name":"bad","value":1,"timestamp":1700000001000}`)
	tr := track(t, docs...)
	write(t, sk, tr)
	tr.waitAll(t)
	for i := 0; i < 7; i++ {
		if tr.outcome(i) != "delivered" {
			t.Errorf("ok%d: %s", i, tr.outcome(i))
		}
	}
	if tr.outcome(7) != "rejected" {
		t.Errorf("bad: %s", tr.outcome(7))
	}
	if len(rcv.keys()) != 7 {
		t.Errorf("stored %v", rcv.keys())
	}
	if n := len(rcv.reqs()); n > 1+2*3 {
		t.Errorf("%d requests for 8 series", n)
	}
	if v := pipelinestest.CounterValue(reg, "weft_prometheus_samples_total", "result", "out_of_order"); v != 1 {
		t.Errorf("samples{out_of_order} = %v", v)
	}
}

func TestOutOfRetriesDeadLetters(t *testing.T) {
	rcv := newFakeReceiver(t)
	rcv.respond = func(int, []decodedSeries) (int, string) { return 503, "down" }
	sk, reg := newSink(t, rcv.url(), fast+"max_retries: 2\n")
	tr := track(t, `{"name":"a","value":1}`)
	write(t, sk, tr)
	tr.waitAll(t)
	if tr.outcome(0) != "rejected" || len(rcv.reqs()) != 3 {
		t.Errorf("outcome %s after %d requests", tr.outcome(0), len(rcv.reqs()))
	}
	if v := pipelinestest.CounterValue(reg, "weft_prometheus_samples_total", "result", "failed"); v != 1 {
		t.Errorf("samples{failed} = %v", v)
	}
}

func TestConnectionErrorsRetriedThenShutdownDrops(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens: every attempt is a connection error
	sk, reg := newSink(t, url+"/api/v1/write", "threshold: {flush_interval: 10ms}\ninitial_backoff: 50ms\nmax_backoff: 50ms\nmax_retries: 1000\n")
	tr := track(t, `{"name":"a","value":1}`)
	write(t, sk, tr)
	time.Sleep(150 * time.Millisecond)
	if tr.outcome(0) != "" {
		t.Fatalf("finalized while retrying: %s", tr.outcome(0))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	sk.Shutdown(ctx)
	tr.waitAll(t)
	if tr.outcome(0) != "rejected" {
		t.Errorf("outcome %s", tr.outcome(0))
	}
	if v := pipelinestest.CounterValue(reg, "weft_component_events_failed_total", "reason", "shutdown"); v != 1 {
		t.Errorf("failed{shutdown} = %v", v)
	}
	if v := pipelinestest.CounterValue(reg, "weft_prometheus_remote_write_requests_total", "status", "error"); v < 2 {
		t.Errorf("requests{error} = %v", v)
	}
}

func TestBasicAuth(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		got = u + ":" + p
		w.WriteHeader(204)
	}))
	defer srv.Close()
	sk, _ := newSink(t, srv.URL, fast+"authentication: {http_basic: {username: weft, password: s3cret}}\n")
	tr := track(t, `{"name":"a","value":1}`)
	write(t, sk, tr)
	tr.waitAll(t)
	if got != "weft:s3cret" {
		t.Errorf("basic auth %q", got)
	}
}

func TestBatchLimits(t *testing.T) {
	rcv := newFakeReceiver(t)
	sk, _ := newSink(t, rcv.url(), "threshold: {max_events: 10, flush_interval: 10ms}\n")
	var docs []string
	for i := 0; i < 35; i++ {
		docs = append(docs, fmt.Sprintf(`{"name":"m","labels":{"i":"%d"},"value":1,"timestamp":1700000001000}`, i))
	}
	tr := track(t, docs...)
	write(t, sk, tr)
	tr.waitAll(t)
	reqs := rcv.reqs()
	if len(reqs) != 4 || len(reqs[0].series) != 10 || len(reqs[3].series) != 5 {
		t.Errorf("%d requests", len(reqs))
	}
}

func TestGathererInProcess(t *testing.T) {
	rcv := newFakeReceiver(t)
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_span_requests_total", Help: "h"}, []string{"service"})
	c.WithLabelValues("checkout").Add(5)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weft_x_seconds", Help: "h", Buckets: []float64{0.1, 1}})
	h.Observe(0.05)
	h.Observe(0.5)
	s := prometheus.NewSummary(prometheus.SummaryOpts{Name: "weft_y_seconds", Help: "h", Objectives: map[float64]float64{0.5: 0.05}})
	s.Observe(2)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "go_goroutines", Help: "h"})
	reg.MustRegister(c, h, s, g)
	host := &gathererHost{g: reg}
	sk, sreg := newSinkHost(t, rcv.url(), "source: gatherer\nscrape_interval: 100ms\nexclude_metrics: [go_*]\nexternal_labels: {agent: node-1}\n", host)
	deadline := time.Now().Add(5 * time.Second)
	for len(rcv.keys()) < 8 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	want := map[string]float64{
		`{__name__="weft_span_requests_total",agent="node-1",service="checkout"}`: 5,
		`{__name__="weft_x_seconds_bucket",agent="node-1",le="0.1"}`:              1,
		`{__name__="weft_x_seconds_bucket",agent="node-1",le="1"}`:                2,
		`{__name__="weft_x_seconds_bucket",agent="node-1",le="+Inf"}`:             2,
		`{__name__="weft_x_seconds_sum",agent="node-1"}`:                          0.55,
		`{__name__="weft_x_seconds_count",agent="node-1"}`:                        2,
		`{__name__="weft_y_seconds",agent="node-1",quantile="0.5"}`:               2,
		`{__name__="weft_y_seconds_sum",agent="node-1"}`:                          2,
		`{__name__="weft_y_seconds_count",agent="node-1"}`:                        1,
	}
	for k, v := range want {
		got := rcv.samples(k)
		if len(got) == 0 || got[0].Value != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	for _, k := range rcv.keys() {
		if strings.Contains(k, "go_goroutines") {
			t.Errorf("excluded family sent: %s", k)
		}
	}
	// Every gathering sends a newer sample per series; log events reaching
	// the sink in this mode are not metrics: dropped, counted.
	tr := track(t, `{"message":"hello"}`)
	if err := sk.Write(context.Background(), tr.evs); err != nil {
		t.Fatal(err)
	}
	if tr.outcome(0) != "delivered" { // dropped on purpose is not a rejection
		t.Errorf("log event: %s", tr.outcome(0))
	}
	if v := pipelinestest.CounterValue(sreg, "weft_component_events_dropped_total", "reason", "not_metric"); v != 1 {
		t.Errorf("dropped{not_metric} = %v", v)
	}
	time.Sleep(150 * time.Millisecond)
	got := rcv.samples(`{__name__="weft_span_requests_total",agent="node-1",service="checkout"}`)
	if len(got) < 2 || got[1].Timestamp <= got[0].Timestamp {
		t.Errorf("samples %v", got)
	}
}

type gathererHost struct {
	pipelinestest.Host
	g prometheus.Gatherer
}

func (h *gathererHost) Gatherer() prometheus.Gatherer { return h.g }

func TestGathererOverHTTP(t *testing.T) {
	rcv := newFakeReceiver(t)
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_log_events_total", Help: "h", ConstLabels: prometheus.Labels{"level": "error"}})
	c.Add(3)
	reg.MustRegister(c)
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer metrics.Close()
	sk, _ := newSink(t, rcv.url(), "source: gatherer\nscrape_interval: 1h\nmetrics_url: "+metrics.URL+"/metrics\n")
	// The final gathering at shutdown sends the latest values.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sk.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := rcv.samples(`{__name__="weft_log_events_total",level="error"}`)
	if len(got) != 1 || got[0].Value != 3 {
		t.Errorf("samples %v (series %v)", got, rcv.keys())
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`url: "http://x/api/v1/write"`, "needs insecure: true"},
		{`url: "ftp://x"`, "is not an http"},
		{"url: \"http://x\"\ninsecure: true\naws: {region: us-east-1}", "needs an https"},
		{"url: \"https://x\"\nencoding: gzip", "not one of snappy"},
		{"url: \"https://x\"\nthreshold: {max_events: 0}", "below the minimum"},
		{"url: \"https://x\"\nthreshold: {flush_interval: 2m}", "above the maximum"},
		{"url: \"https://x\"\nthreshold: {max_request_size: 10zb}", "unknown unit"},
		{"url: \"https://x\"\nexternal_labels: {__x: y}", "not a valid label name"},
		{"url: \"https://x\"\nmetrics_url: http://127.0.0.1:4900/metrics", "need source: gatherer"},
		{"url: \"https://x\"\nauthentication: {http_basic: {password: p}}", "required option is missing"},
		{"url: \"https://x\"\nauthentication: {http_basic: {username: u}}\naws: {region: us-east-1}", "not both"},
	} {
		_, err := pipelinestest.DecodeConfig(pipelines.KindSink, "prometheus", tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
	// Data Prepper's example decodes unchanged.
	_, err := pipelinestest.DecodeConfig(pipelines.KindSink, "prometheus", `
url: "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1111111-2222/api/v1/remote_write"
idle_timeout: PT10M
max_retries: 3
out_of_order_window: PT10S
threshold:
  max_events: 500
  flush_interval: PT10S
  max_request_size: 10mb
aws:
  region: us-east-1
  sts_role_arn: arn:aws:iam::123456789012:role/Data-Prepper
`)
	if err != nil {
		t.Errorf("Data Prepper example: %v", err)
	}
}

func TestRegionFromURL(t *testing.T) {
	if r := regionFromURL("https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"); r != "eu-west-1" {
		t.Errorf("region %q", r)
	}
	if r := regionFromURL("https://prometheus.example.com/api/v1/write"); r != "" {
		t.Errorf("region %q", r)
	}
}

// TestShutdownDeadlineWhileRetrying: a flush retrying against a dead
// receiver (and a gathering waiting for it) does not hold Shutdown past
// its deadline.
func TestShutdownDeadlineWhileRetrying(t *testing.T) {
	rcv := newFakeReceiver(t)
	rcv.respond = func(int, []decodedSeries) (int, string) { return 503, "down" }
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total", Help: "h"}))
	sk, sreg := newSinkHost(t, rcv.url(), "threshold: {flush_interval: 10ms}\ninitial_backoff: 200ms\nmax_backoff: 200ms\nmax_retries: 1000\nsource: gatherer\nscrape_interval: 100ms\n",
		&gathererHost{g: reg})
	tr := track(t, `{"name":"a","value":1}`)
	write(t, sk, tr)
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	sk.Shutdown(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with a 300ms deadline", d)
	}
	tr.waitAll(t)
	if tr.outcome(0) != "rejected" {
		t.Errorf("outcome %s", tr.outcome(0))
	}
	if v := pipelinestest.CounterValue(sreg, "weft_prometheus_samples_total", "result", "shutdown"); v < 1 {
		t.Errorf("samples{shutdown} = %v", v)
	}
}

func TestDataPrepperMetricEvent(t *testing.T) {
	rcv := newFakeReceiver(t)
	sk, _ := newSink(t, rcv.url(), fast)
	tr := track(t, `{"name":"http.server.duration","kind":"SUM","value":5,"time":"2024-05-01T10:00:00Z",
		"attributes":{"http.method":"GET"},"resource":{"attributes":{"service.name":"order"}},"scope":{"attributes":{"lib":"x"}}}`)
	write(t, sk, tr)
	tr.waitAll(t)
	k := `{__name__="http_server_duration",http_method="GET",resource_service_name="order",scope_lib="x"}`
	if got := rcv.samples(k); len(got) != 1 || got[0].Value != 5 || got[0].Timestamp != 1714557600000 {
		t.Errorf("%v (series %v)", got, rcv.keys())
	}
}
