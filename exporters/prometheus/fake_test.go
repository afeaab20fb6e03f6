package prometheus

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// decodedSeries is one TimeSeries decoded independently of the encoder.
type decodedSeries struct {
	Labels  []Label
	Samples []Sample
}

// key writes the labels as name="value" pairs in their wire order.
func (d decodedSeries) key() string {
	parts := make([]string, len(d.Labels))
	for i, l := range d.Labels {
		parts[i] = fmt.Sprintf("%s=%q", l.Name, l.Value)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// decodeWriteRequest decodes a raw (uncompressed) WriteRequest with
// protowire, rejecting anything the format does not allow.
func decodeWriteRequest(b []byte) ([]decodedSeries, error) {
	var out []decodedSeries
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType {
			return nil, fmt.Errorf("WriteRequest: unexpected field %d type %d", num, typ)
		}
		msg, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		ts, err := decodeTimeSeries(msg)
		if err != nil {
			return nil, err
		}
		out = append(out, ts)
	}
	return out, nil
}

func decodeTimeSeries(b []byte) (decodedSeries, error) {
	var ts decodedSeries
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return ts, fmt.Errorf("TimeSeries: bad tag %d/%d", num, typ)
		}
		b = b[n:]
		msg, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return ts, protowire.ParseError(n)
		}
		b = b[n:]
		switch num {
		case 1:
			var l Label
			for len(msg) > 0 {
				f, t, n := protowire.ConsumeTag(msg)
				if n < 0 || t != protowire.BytesType {
					return ts, fmt.Errorf("Label: bad tag")
				}
				msg = msg[n:]
				v, n := protowire.ConsumeString(msg)
				if n < 0 {
					return ts, protowire.ParseError(n)
				}
				msg = msg[n:]
				switch f {
				case 1:
					l.Name = v
				case 2:
					l.Value = v
				default:
					return ts, fmt.Errorf("Label: unexpected field %d", f)
				}
			}
			ts.Labels = append(ts.Labels, l)
		case 2:
			var s Sample
			for len(msg) > 0 {
				f, t, n := protowire.ConsumeTag(msg)
				if n < 0 {
					return ts, protowire.ParseError(n)
				}
				msg = msg[n:]
				switch {
				case f == 1 && t == protowire.Fixed64Type:
					v, n := protowire.ConsumeFixed64(msg)
					if n < 0 {
						return ts, protowire.ParseError(n)
					}
					s.Value = math.Float64frombits(v)
					msg = msg[n:]
				case f == 2 && t == protowire.VarintType:
					v, n := protowire.ConsumeVarint(msg)
					if n < 0 {
						return ts, protowire.ParseError(n)
					}
					s.Timestamp = int64(v)
					msg = msg[n:]
				default:
					return ts, fmt.Errorf("Sample: unexpected field %d type %d", f, t)
				}
			}
			ts.Samples = append(ts.Samples, s)
		default:
			return ts, fmt.Errorf("TimeSeries: unexpected field %d", num)
		}
	}
	return ts, nil
}

// checkSpec verifies what the remote write 1.0 specification requires of
// one request's series: labels sorted, unique, with __name__; samples by
// time.
func checkSpec(series []decodedSeries) error {
	for _, s := range series {
		if !sort.SliceIsSorted(s.Labels, func(i, j int) bool { return s.Labels[i].Name < s.Labels[j].Name }) {
			return fmt.Errorf("labels not sorted: %s", s.key())
		}
		hasName := false
		for i, l := range s.Labels {
			if i > 0 && s.Labels[i-1].Name == l.Name {
				return fmt.Errorf("label %s repeated: %s", l.Name, s.key())
			}
			if l.Value == "" {
				return fmt.Errorf("empty label value: %s", s.key())
			}
			if l.Name == "__name__" {
				hasName = true
			}
		}
		if !hasName {
			return fmt.Errorf("no __name__: %s", s.key())
		}
		for i := 1; i < len(s.Samples); i++ {
			if s.Samples[i].Timestamp <= s.Samples[i-1].Timestamp {
				return fmt.Errorf("samples not strictly ordered by time: %s %v", s.key(), s.Samples)
			}
		}
	}
	return nil
}

// fakeReceiver is a remote write endpoint that decodes every request and
// answers as respond says (default 204).
type fakeReceiver struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	requests []fakeRequest
	stored   map[string][]Sample // accepted samples by series key
	respond  func(n int, series []decodedSeries) (int, string)
}

type fakeRequest struct {
	header http.Header
	series []decodedSeries
	status int
}

func newFakeReceiver(t testing.TB) *fakeReceiver {
	f := &fakeReceiver{t: t, stored: map[string][]Sample{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeReceiver) url() string { return f.srv.URL + "/api/v1/write" }

func (f *fakeReceiver) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		f.t.Errorf("request body is not block-format snappy: %v", err)
		http.Error(w, "bad snappy", 400)
		return
	}
	series, err := decodeWriteRequest(raw)
	if err == nil {
		err = checkSpec(series)
	}
	if err != nil {
		f.t.Errorf("request violates the format: %v", err)
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	n := len(f.requests)
	respond := f.respond
	f.mu.Unlock()
	status, msg := 204, ""
	if respond != nil {
		status, msg = respond(n, series)
	}
	f.mu.Lock()
	f.requests = append(f.requests, fakeRequest{header: r.Header.Clone(), series: series, status: status})
	if status/100 == 2 {
		for _, s := range series {
			f.stored[s.key()] = append(f.stored[s.key()], s.Samples...)
		}
	}
	f.mu.Unlock()
	if status == 429 {
		w.Header().Set("Retry-After", "0")
	}
	if status/100 == 2 {
		w.WriteHeader(status)
		return
	}
	http.Error(w, msg, status)
}

func (f *fakeReceiver) reqs() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

func (f *fakeReceiver) samples(key string) []Sample {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Sample(nil), f.stored[key]...)
}

func (f *fakeReceiver) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.stored {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
