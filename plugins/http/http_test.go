package http

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	nethttp "net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

const fixture = "../../../shared/fixtures/fluentbit-http-payload.json"

var lastRegistry *prometheus.Registry

func start(t *testing.T, opts string, in pipelines.Input) (*Source, func(body io.Reader, hdr ...string) (int, string, nethttp.Header)) {
	t.Helper()
	src, reg, err := pipelinestest.Source("http", "{host: 127.0.0.1, port: 0"+opts+"}")
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*Source)
	lastRegistry = reg
	if err := s.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	post := func(body io.Reader, hdr ...string) (int, string, nethttp.Header) {
		req, _ := nethttp.NewRequest("POST", "http://"+s.Addr()+"/log/ingest", body)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := nethttp.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	return s, post
}

func TestFluentBitPayload(t *testing.T) {
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	in := &pipelinestest.Input{}
	_, post := start(t, "", in)
	if code, body, _ := post(bytes.NewReader(data)); code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	got := in.Snapshot()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i, ev := range got {
		var m map[string]any
		json.Unmarshal(ev.AppendJSON(nil), &m)
		wb, _ := json.Marshal(want[i])
		gb, _ := json.Marshal(m)
		if string(wb) != string(gb) {
			t.Errorf("record %d:\n got %s\nwant %s", i, gb, wb)
		}
		sec := int64(want[i]["date"].(float64))
		if ev.Time.Unix() != sec {
			t.Errorf("record %d time %v, want epoch %d from the date key", i, ev.Time, sec)
		}
		if v, _ := ev.Metadata("source"); v != "http" {
			t.Errorf("metadata source = %v", v)
		}
	}
}

func TestNDJSONAndGzip(t *testing.T) {
	in := &pipelinestest.Input{}
	_, post := start(t, "", in)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.Write([]byte("{\"a\":1}\n\n{\"a\":2}\n{\"date\":\"2025-11-23T08:00:00.5Z\",\"a\":3}\n"))
	gz.Close()
	if code, body, _ := post(&buf, "Content-Encoding", "gzip"); code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	got := in.Snapshot()
	if len(got) != 3 {
		t.Fatalf("%d events", len(got))
	}
	if v, _ := got[2].Get(event.ParsePath("a")); v != int64(3) || got[2].Time.UnixMilli() != time.Date(2025, 11, 23, 8, 0, 0, 5e8, time.UTC).UnixMilli() {
		t.Fatalf("third event: %v at %v", got[2].Fields(), got[2].Time)
	}
}

func TestRejections(t *testing.T) {
	in := &pipelinestest.Input{}
	_, post := start(t, ", max_request_length: 1000", in)
	reg := lastRegistry
	cases := []struct {
		name string
		body io.Reader
		hdr  []string
		code int
		msg  string
	}{
		{"malformed array", strings.NewReader(`[{"a":1},{"a":]`), nil, 400, "malformed body"},
		{"not objects", strings.NewReader(`[1,2]`), nil, 400, "record 1 is not a JSON object"},
		{"bad ndjson line", strings.NewReader("{\"a\":1}\n{oops}\n"), nil, 400, "line 2"},
		{"too large", strings.NewReader("[" + strings.Repeat(`{"a":1},`, 200) + `{"a":1}]`), nil, 413, "max_request_length"},
		{"gzip bomb", gzipOf(bytes.Repeat([]byte(" "), 10<<20)), []string{"Content-Encoding", "gzip"}, 413, "max_request_length"},
		{"bad gzip", strings.NewReader("not gzip"), []string{"Content-Encoding", "gzip"}, 400, "invalid gzip"},
		{"unknown encoding", strings.NewReader("{}"), []string{"Content-Encoding", "br"}, 400, "unsupported Content-Encoding"},
	}
	for _, c := range cases {
		code, body, _ := post(c.body, c.hdr...)
		if code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, code, body, c.code, c.msg)
		}
	}
	if n := len(in.Snapshot()); n != 0 {
		t.Fatalf("%d events accepted from rejected requests", n)
	}
	// still serving
	if code, _, _ := post(strings.NewReader(`[{"ok":true}]`)); code != 200 || len(in.Snapshot()) != 1 {
		t.Fatalf("the source must keep serving after bad requests")
	}
	if got := pipelinestest.CounterValue(reg, "weft_http_requests_total", "result", "invalid"); got != 5 {
		t.Errorf("invalid requests counted %v, want 5", got)
	}
	if got := pipelinestest.CounterValue(reg, "weft_http_requests_total", "result", "too_large"); got != 2 {
		t.Errorf("too_large requests counted %v, want 2", got)
	}
}

func gzipOf(b []byte) io.Reader {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.Write(b)
	gz.Close()
	return &buf
}

func TestAuthentication(t *testing.T) {
	in := &pipelinestest.Input{}
	_, post := start(t, ", authentication: {http_basic: {username: fb, password: s3cret}}", in)
	if code, _, hdr := post(strings.NewReader(`[{}]`)); code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("no credentials: %d", code)
	}
	if code, _, _ := post(strings.NewReader(`[{}]`), "Authorization", "Basic ZmI6d3Jvbmc="); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if code, _, _ := post(strings.NewReader(`[{}]`), "Authorization", "Basic ZmI6czNjcmV0"); code != 200 {
		t.Fatalf("right password: %d", code)
	}
	in2 := &pipelinestest.Input{}
	_, post2 := start(t, ", authentication: {bearer_token: {token: tok}}", in2)
	if code, _, _ := post2(strings.NewReader(`[{}]`), "Authorization", "Bearer nope"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _, _ := post2(strings.NewReader(`[{}]`), "Authorization", "Bearer tok"); code != 200 {
		t.Fatalf("right token: %d", code)
	}
}

// blockingInput never has room: the pipeline is full.
type blockingInput struct{}

func (blockingInput) Write(ctx context.Context, evs []*event.Event) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

func TestBackPressureAnswers503WithRetryAfter(t *testing.T) {
	_, post := start(t, ", buffer_timeout: 50ms", blockingInput{})
	code, body, hdr := post(strings.NewReader(`[{"a":1}]`))
	if code != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "0 of 1 records accepted") {
		t.Fatalf("full buffer: %d %q Retry-After=%q", code, body, hdr.Get("Retry-After"))
	}
}

func TestConfigErrors(t *testing.T) {
	for opts, want := range map[string]string{
		"{path: log}":   `option "path": must start with /`,
		"{ssl: true}":   `ssl needs ssl_certificate_file and ssl_key_file`,
		"{prot: 1}":     `did you mean "port"?`,
		"{port: 70000}": `above the maximum 65535`,
		"{authentication: {http_basic: {username: a, password: b}, bearer_token: {token: c}}}": "choose one of",
	} {
		_, err := pipelinestest.DecodeConfig(pipelines.KindSource, "http", opts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", opts, err, want)
		}
	}
}

func TestReadme(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindSource, "http", "README.md")
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`[{"date":1.5,"log":"x"}]`))
	f.Add([]byte("{\"a\":1}\n{\"b\":[1,2]}\n"))
	f.Add([]byte(`[{"date":"2025-11-23T08:00:00Z"}]`))
	s := &Source{cfg: NewConfig()}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := s.decode(body, time.Unix(0, 0))
		if err == nil {
			for _, ev := range evs {
				if ev.Fields() == nil {
					t.Fatal("event without fields")
				}
			}
		}
	})
}
