package cloudwatch

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// fakeCW is an in-process CloudWatch Logs (JSON 1.1 protocol, the way the
// real SDK client speaks it) that checks every PutLogEvents rule and
// records what it received. Faults are injected through hooks.
type fakeCW struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	groups    map[string]*fakeGroup
	calls     []fakeCall
	violation []string
	inStream  map[string]int

	// fault, when set, may answer a call instead of the fake (status,
	// error type); it sees the operation and the request body.
	fault func(op string, body map[string]any) (status int, errType string)
	// reject, when set, returns rejectedLogEventsInfo for a PutLogEvents
	// call (nil: none); the events are stored anyway except those named.
	reject func(events []fakeEvent) map[string]int
	// delay is slept inside every PutLogEvents call.
	delay time.Duration

	headers atomic.Pointer[http.Header]
}

type fakeGroup struct {
	retention int
	streams   map[string][]fakeEvent
}

type fakeEvent struct {
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

type fakeCall struct {
	Op     string
	Group  string
	Stream string
	Events []fakeEvent
	Status int
}

func newFakeCW(t *testing.T) *fakeCW {
	f := &fakeCW{t: t, groups: map[string]*fakeGroup{}, inStream: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCW) serve(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Clone()
	f.headers.Store(&h)
	target := r.Header.Get("X-Amz-Target")
	op := strings.TrimPrefix(target, "Logs_20140328.")
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		writeErr(w, 400, "SerializationException", err.Error())
		return
	}
	group, _ := body["logGroupName"].(string)
	stream, _ := body["logStreamName"].(string)
	if f.fault != nil {
		if status, typ := f.fault(op, body); status != 0 {
			f.record(fakeCall{Op: op, Group: group, Stream: stream, Status: status})
			writeErr(w, status, typ, "injected "+typ)
			return
		}
	}
	switch op {
	case "CreateLogGroup":
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, fakeCall{Op: op, Group: group})
		if _, ok := f.groups[group]; ok {
			writeErr(w, 400, "ResourceAlreadyExistsException", "The specified log group already exists")
			return
		}
		f.groups[group] = &fakeGroup{streams: map[string][]fakeEvent{}}
		w.Write([]byte("{}"))
	case "PutRetentionPolicy":
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, fakeCall{Op: op, Group: group})
		g, ok := f.groups[group]
		if !ok {
			writeErr(w, 400, "ResourceNotFoundException", "The specified log group does not exist.")
			return
		}
		days, _ := body["retentionInDays"].(float64)
		g.retention = int(days)
		w.Write([]byte("{}"))
	case "CreateLogStream":
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, fakeCall{Op: op, Group: group, Stream: stream})
		g, ok := f.groups[group]
		if !ok {
			writeErr(w, 400, "ResourceNotFoundException", "The specified log group does not exist.")
			return
		}
		if _, ok := g.streams[stream]; ok {
			writeErr(w, 400, "ResourceAlreadyExistsException", "The specified log stream already exists")
			return
		}
		g.streams[stream] = []fakeEvent{}
		w.Write([]byte("{}"))
	case "PutLogEvents":
		f.putLogEvents(w, group, stream, body)
	default:
		writeErr(w, 400, "UnknownOperationException", op)
	}
}

func (f *fakeCW) putLogEvents(w http.ResponseWriter, group, stream string, body map[string]any) {
	var evs []fakeEvent
	b, _ := json.Marshal(body["logEvents"])
	json.Unmarshal(b, &evs)
	key := group + "/" + stream
	f.mu.Lock()
	f.inStream[key]++
	if f.inStream[key] > 1 {
		f.violation = append(f.violation, "concurrent PutLogEvents calls for "+key)
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inStream[key]--
		f.mu.Unlock()
	}()
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	// The rules of the API reference.
	size := 0
	var bad string
	for i, e := range evs {
		size += len(e.Message) + EventOverhead
		if !utf8.ValidString(e.Message) {
			bad = "invalid UTF-8"
		}
		if len(e.Message)+EventOverhead > MaxEventSize {
			bad = fmt.Sprintf("event %d is %d bytes", i, len(e.Message)+EventOverhead)
		}
		if i > 0 && e.Timestamp < evs[i-1].Timestamp {
			bad = "Log events in a single PutLogEvents request must be in chronological order."
		}
	}
	switch {
	case len(evs) == 0:
		bad = "no events"
	case len(evs) > MaxBatchEvents:
		bad = fmt.Sprintf("%d events", len(evs))
	case size > MaxBatchBytes:
		bad = fmt.Sprintf("%d bytes", size)
	case evs[len(evs)-1].Timestamp-evs[0].Timestamp >= MaxBatchSpan.Milliseconds():
		bad = "A batch of log events in a single PutLogEvents request cannot span more than 24 hours."
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fakeCall{Op: "PutLogEvents", Group: group, Stream: stream, Events: evs}
	if bad != "" {
		f.violation = append(f.violation, bad)
		call.Status = 400
		f.calls = append(f.calls, call)
		writeErr(w, 400, "InvalidParameterException", bad)
		return
	}
	g, ok := f.groups[group]
	if !ok {
		call.Status = 400
		f.calls = append(f.calls, call)
		writeErr(w, 400, "ResourceNotFoundException", "The specified log group does not exist.")
		return
	}
	if _, ok := g.streams[stream]; !ok {
		call.Status = 400
		f.calls = append(f.calls, call)
		writeErr(w, 400, "ResourceNotFoundException", "The specified log stream does not exist.")
		return
	}
	call.Status = 200
	f.calls = append(f.calls, call)
	var rej map[string]int
	if f.reject != nil {
		rej = f.reject(evs)
	}
	for i, e := range evs {
		if v, ok := rej["tooOldLogEventEndIndex"]; ok && i <= v {
			continue
		}
		if v, ok := rej["expiredLogEventEndIndex"]; ok && i <= v {
			continue
		}
		if v, ok := rej["tooNewLogEventStartIndex"]; ok && i >= v {
			continue
		}
		g.streams[stream] = append(g.streams[stream], e)
	}
	resp := map[string]any{"nextSequenceToken": "49"}
	if len(rej) > 0 {
		resp["rejectedLogEventsInfo"] = rej
	}
	json.NewEncoder(w).Encode(resp)
}

func writeErr(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Errortype", typ)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
}

func (f *fakeCW) record(c fakeCall) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

// Calls returns the calls of one operation ("" for all).
func (f *fakeCW) Calls(op string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Events returns a stream's stored events.
func (f *fakeCW) Events(group, stream string) []fakeEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[group]
	if g == nil {
		return nil
	}
	return append([]fakeEvent(nil), g.streams[stream]...)
}

func (f *fakeCW) Violations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.violation...)
}

func (f *fakeCW) addStream(group, stream string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[group]
	if g == nil {
		g = &fakeGroup{streams: map[string][]fakeEvent{}}
		f.groups[group] = g
	}
	if g.streams[stream] == nil {
		g.streams[stream] = []fakeEvent{}
	}
}

// awsTestEnv gives the SDK static credentials and no shared config or
// instance metadata, so it never looks beyond the test.
func awsTestEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// newTestSink builds the sink from YAML options (the endpoint and region
// are added) against the fake.
func newTestSink(t *testing.T, f *fakeCW, opts string) (*Sink, *prometheus.Registry) {
	t.Helper()
	return newSinkAt(t, f.srv.URL, opts)
}

// newSinkAt builds and starts the sink against endpoint.
func newSinkAt(t *testing.T, endpoint, opts string) (*Sink, *prometheus.Registry) {
	t.Helper()
	awsTestEnv(t)
	y := fmt.Sprintf("endpoint: %s\naws: {region: us-east-1}\n%s", endpoint, opts)
	sk, reg, err := pipelinestest.Sink("cloudwatch_logs", y)
	if err != nil {
		t.Fatal(err)
	}
	s := sk.(*Sink)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	return s, reg
}

// tracked counts how the events it made were finalized.
type tracked struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
}

func (tr *tracked) event(ts time.Time, fields map[string]any) *event.Event {
	ev := event.New(event.KindLog, ts, fields)
	a := event.NewAcker(func(ok bool) {
		if ok {
			tr.ok.Add(1)
		} else {
			tr.failed.Add(1)
		}
	})
	a.Track(ev)
	a.Seal()
	return ev
}

func (tr *tracked) counts() (int64, int64) { return tr.ok.Load(), tr.failed.Load() }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func metric(reg prometheus.Gatherer, name string, labels ...string) float64 {
	return pipelinestest.CounterValue(reg, name, labels...)
}
