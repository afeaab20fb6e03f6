package opensearch

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func bulkRequests(f *fakeOS) []recorded {
	var out []recorded
	for _, r := range f.Requests() {
		if strings.HasPrefix(r.Path, "/_bulk") {
			out = append(out, r)
		}
	}
	return out
}

func TestBulkRequestFormat(t *testing.T) {
	f := newFake(t)
	s, reg := newSink(t, f, `
index: "logs-%{yyyy.MM.dd}"
document_id: "${/id}"
routing: "${/tenant}"
flush_timeout: 10ms
`)
	var tr tracked
	evs := tr.events(3, func(i int) *event.Event {
		ev := logEvent(i)
		ev.Put(event.ParsePath("/tenant"), "t1")
		ev.Put(event.ParsePath("/msg"), "quote \" and \\ and \n and ü")
		return ev
	})
	want := make([]string, len(evs))
	for i, ev := range evs {
		want[i] = string(ev.AppendJSON(nil))
	}
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 3 })
	reqs := bulkRequests(f)
	if len(reqs) != 1 {
		t.Fatalf("%d bulk requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/_bulk?filter_path=errors,items.*.status,items.*.error" {
		t.Fatalf("request %s %s", r.Method, r.Path)
	}
	if r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("headers %v", r.Header)
	}
	if len(r.Raw) >= len(r.Body) {
		t.Fatalf("gzip body %d bytes is not smaller than %d", len(r.Raw), len(r.Body))
	}
	items := f.Bulks()[0]
	for i, it := range items {
		if it.Action != "index" || it.Meta["_index"] != "logs-2024.05.01" || it.Meta["_id"] != fmt.Sprintf("doc-%d", i) || it.Meta["routing"] != "t1" {
			t.Fatalf("item %d: %s %v", i, it.Action, it.Meta)
		}
		if it.Line != want[i] {
			t.Fatalf("item %d source\n got %s\nwant %s", i, it.Line, want[i])
		}
	}
	lines := strings.Split(string(r.Body), "\n")
	if lines[0] != `{"index":{"_index":"logs-2024.05.01","_id":"doc-0","routing":"t1"}}` {
		t.Fatalf("action line %s", lines[0])
	}
	if v := metric(reg, "weft_opensearch_documents_indexed_total"); v != 3 {
		t.Fatalf("indexed %v", v)
	}
	if v := metric(reg, "weft_opensearch_bulk_requests_total", "status", "200"); v != 1 {
		t.Fatalf("bulk requests{200} %v", v)
	}
	if v := metric(reg, "weft_opensearch_bytes_sent_total"); int(v) != len(r.Raw) {
		t.Fatalf("bytes sent %v, want %d", v, len(r.Raw))
	}
	shutdown(t, s)
	accounting(t, reg, 3)
}

func TestUncompressedAndBatchLimits(t *testing.T) {
	f := newFake(t)
	s, reg := newSink(t, f, `
index: logs
compression: false
max_documents: 4
max_inflight: 1
flush_timeout: 1h
`)
	var tr tracked
	s.Write(context.Background(), tr.events(10, logEvent))
	shutdown(t, s) // flushes the last, partial batch
	reqs := bulkRequests(f)
	if len(reqs) != 3 {
		t.Fatalf("%d bulk requests, want 3 (4+4+2)", len(reqs))
	}
	for _, r := range reqs {
		if r.Header.Get("Content-Encoding") != "" {
			t.Fatal("compressed although compression is false")
		}
	}
	sizes := []int{}
	for _, b := range f.Bulks() {
		sizes = append(sizes, len(b))
	}
	if fmt.Sprint(sizes) != "[4 4 2]" {
		t.Fatalf("bulk sizes %v", sizes)
	}
	if ok, _ := tr.counts(); ok != 10 {
		t.Fatalf("%d delivered", ok)
	}
	accounting(t, reg, 10)
}

func TestBulkSizeLimit(t *testing.T) {
	f := newFake(t)
	// 0.001 MiB = 1048 bytes: a few small documents per request.
	s, _ := newSink(t, f, `
index: logs
bulk_size: 0.001
flush_timeout: 1h
`)
	var tr tracked
	s.Write(context.Background(), tr.events(20, logEvent))
	shutdown(t, s)
	for _, r := range bulkRequests(f) {
		if len(r.Body) > 1048 {
			t.Fatalf("bulk body of %d bytes exceeds bulk_size", len(r.Body))
		}
	}
	if n := len(bulkRequests(f)); n < 2 {
		t.Fatalf("%d bulk requests for 20 documents over ~1 KiB", n)
	}
	if ok, _ := tr.counts(); ok != 20 {
		t.Fatalf("%d delivered", ok)
	}
}

func TestPartialFailureRetriesOnlyFailedItems(t *testing.T) {
	f := newFake(t)
	dlq := dlqPath(t)
	f.setBulk(func(n int, items []bulkItem) bulkReply {
		if n == 0 {
			return bulkReply{Items: []itemReply{
				{Status: 201},
				{Status: 400, Type: "mapper_parsing_exception", Reason: "failed to parse field [n] of type [long]"},
				{Status: 429, Type: "es_rejected_execution_exception", Reason: "queue full"},
				{Status: 503, Type: "unavailable_shards_exception", Reason: "primary shard is not active"},
				{Status: 409, Type: "version_conflict_engine_exception", Reason: "document already exists"},
				{Status: 200},
			}}
		}
		return bulkReply{}
	})
	s, reg := newSink(t, f, `
index: logs
action: create
document_id: id
flush_timeout: 10ms
initial_backoff: 1ms
max_backoff: 2ms
dlq_file: `+dlq+`
`)
	var tr tracked
	s.Write(context.Background(), tr.events(6, logEvent))
	waitFor(t, "all finalized", func() bool { ok, fail := tr.counts(); return ok+fail == 6 })
	bulks := f.Bulks()
	if len(bulks) != 2 {
		t.Fatalf("%d bulk requests, want 2", len(bulks))
	}
	var resent []string
	for _, it := range bulks[1] {
		resent = append(resent, it.Meta["_id"].(string))
	}
	if fmt.Sprint(resent) != "[doc-2 doc-3]" {
		t.Fatalf("resent %v, want only the 429 and 503 items", resent)
	}
	ok, fail := tr.counts()
	if ok != 4 || fail != 2 {
		t.Fatalf("delivered %d, rejected %d; want 4 and 2", ok, fail)
	}
	recs := readDLQ(t, dlq)
	if len(recs) != 2 {
		t.Fatalf("%d dead letters: %v", len(recs), recs)
	}
	byID := map[string]map[string]any{}
	for _, r := range recs {
		byID[r["id"].(string)] = r
	}
	r := byID["doc-1"]
	if r == nil || r["status"] != 400.0 || r["index"] != "logs" || r["error"].(map[string]any)["type"] != "mapper_parsing_exception" ||
		!strings.Contains(r["error"].(map[string]any)["reason"].(string), "failed to parse field") {
		t.Fatalf("dead letter for doc-1: %v", r)
	}
	if d := r["document"].(map[string]any); d["message"] != "line 1" {
		t.Fatalf("dead letter document %v", d)
	}
	if _, err := time.Parse(time.RFC3339Nano, r["time"].(string)); err != nil {
		t.Fatal(err)
	}
	if r := byID["doc-4"]; r == nil || r["status"] != 409.0 || r["error"].(map[string]any)["type"] != "version_conflict_engine_exception" {
		t.Fatalf("dead letter for doc-4: %v", r)
	}
	for name, want := range map[string]float64{
		"weft_opensearch_documents_indexed_total":       4,
		"weft_opensearch_documents_retried_total":       2,
		"weft_opensearch_documents_dead_lettered_total": 2,
		"weft_opensearch_documents_failed_total":        2,
	} {
		if v := metric(reg, name); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	if v := metric(reg, "weft_component_events_failed_total", "reason", "dead_letter"); v != 2 {
		t.Fatalf("failed{dead_letter} %v", v)
	}
	shutdown(t, s)
	accounting(t, reg, 6)
}

func TestWholeRequestRetries(t *testing.T) {
	for _, status := range []int{429, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := newFake(t)
			f.setBulk(func(n int, items []bulkItem) bulkReply {
				if n < 2 {
					return bulkReply{Status: status, Body: `{"error":{"type":"x","reason":"busy"},"status":` + fmt.Sprint(status) + `}`}
				}
				return bulkReply{}
			})
			s, reg := newSink(t, f, "index: logs\ndocument_id: id\nflush_timeout: 5ms\ninitial_backoff: 1ms\nmax_backoff: 2ms\n")
			var tr tracked
			s.Write(context.Background(), tr.events(5, logEvent))
			waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 5 })
			if v := metric(reg, "weft_opensearch_bulk_requests_total", "status", fmt.Sprint(status)); v != 2 {
				t.Fatalf("requests{%d} = %v", status, v)
			}
			if v := metric(reg, "weft_opensearch_documents_retried_total"); v != 10 {
				t.Fatalf("retried %v, want 2x5", v)
			}
			if len(f.Indexed()) != 5 {
				t.Fatalf("indexed %d documents", len(f.Indexed()))
			}
		})
	}
}

func TestMaxRetriesThenDeadLetter(t *testing.T) {
	f := newFake(t)
	dlq := dlqPath(t)
	f.setBulk(func(int, []bulkItem) bulkReply {
		return bulkReply{Items: []itemReply{{Status: 429, Type: "es_rejected_execution_exception", Reason: "rejected execution"}}}
	})
	s, reg := newSink(t, f, "index: logs\nflush_timeout: 5ms\ninitial_backoff: 1ms\nmax_backoff: 2ms\nmax_retries: 2\ndlq_file: "+dlq+"\n")
	var tr tracked
	s.Write(context.Background(), tr.events(1, logEvent))
	waitFor(t, "the dead letter", func() bool { _, fail := tr.counts(); return fail == 1 })
	if n := len(f.Bulks()); n != 3 {
		t.Fatalf("%d attempts, want 1 + max_retries 2", n)
	}
	recs := readDLQ(t, dlq)
	if len(recs) != 1 || recs[0]["status"] != 429.0 || recs[0]["error"].(map[string]any)["type"] != "es_rejected_execution_exception" {
		t.Fatalf("dead letters %v", recs)
	}
	if v := metric(reg, "weft_opensearch_documents_retried_total"); v != 2 {
		t.Fatalf("retried %v", v)
	}
}

func TestRequestRefusedGoesToDLQ(t *testing.T) {
	f := newFake(t)
	dlq := dlqPath(t)
	f.setBulk(func(int, []bulkItem) bulkReply {
		return bulkReply{Status: 400, Body: `{"error":{"root_cause":[],"type":"illegal_argument_exception","reason":"bad body"},"status":400}`}
	})
	s, reg := newSink(t, f, "index: logs\nflush_timeout: 5ms\ndlq_file: "+dlq+"\n")
	var tr tracked
	s.Write(context.Background(), tr.events(3, logEvent))
	waitFor(t, "dead letters", func() bool { _, fail := tr.counts(); return fail == 3 })
	if n := len(f.Bulks()); n != 1 {
		t.Fatalf("a 400 was retried: %d attempts", n)
	}
	recs := readDLQ(t, dlq)
	if len(recs) != 3 || recs[0]["error"].(map[string]any)["reason"] != "bad body" {
		t.Fatalf("dead letters %v", recs)
	}
	shutdown(t, s)
	accounting(t, reg, 3)
}

func TestNoDLQFileRejectsAndCounts(t *testing.T) {
	f := newFake(t)
	f.setBulk(func(int, []bulkItem) bulkReply {
		return bulkReply{Items: []itemReply{{Status: 400, Type: "mapper_parsing_exception", Reason: "bad"}}}
	})
	s, reg := newSink(t, f, "index: logs\nflush_timeout: 5ms\n")
	var tr tracked
	s.Write(context.Background(), tr.events(2, logEvent))
	waitFor(t, "rejections", func() bool { _, fail := tr.counts(); return fail == 1 })
	ok, fail := tr.counts()
	if ok != 1 || fail != 1 {
		t.Fatalf("ok %d fail %d", ok, fail)
	}
	if v := metric(reg, "weft_opensearch_documents_failed_total"); v != 1 {
		t.Fatalf("failed %v", v)
	}
	if v := metric(reg, "weft_opensearch_documents_dead_lettered_total"); v != 0 {
		t.Fatalf("dead-lettered %v without a dlq_file", v)
	}
	if v := metric(reg, "weft_component_events_failed_total", "reason", "dead_letter"); v != 1 {
		t.Fatalf("failed{dead_letter} %v", v)
	}
}

func TestTooLargeRequestIsSplit(t *testing.T) {
	f := newFake(t)
	f.setBulk(func(_ int, items []bulkItem) bulkReply {
		if len(items) > 2 {
			return bulkReply{Status: 413, Body: `{"error":"request too large"}`}
		}
		return bulkReply{}
	})
	s, _ := newSink(t, f, "index: logs\ndocument_id: id\nflush_timeout: 5ms\n")
	var tr tracked
	s.Write(context.Background(), tr.events(7, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 7 })
	if len(f.Indexed()) != 7 {
		t.Fatalf("indexed %d", len(f.Indexed()))
	}
}

func TestIndexTemplateWithFields(t *testing.T) {
	f := newFake(t)
	dlq := dlqPath(t)
	s, reg := newSink(t, f, `
index: "app-${/kubernetes/namespace_name}-%{yyyy.MM}"
flush_timeout: 5ms
dlq_file: `+dlq+`
`)
	var tr tracked
	evs := tr.events(3, func(i int) *event.Event {
		ev := logEvent(i)
		if i != 1 {
			ev.Put(event.ParsePath("/kubernetes/namespace_name"), fmt.Sprintf("ns%d", i))
		}
		return ev
	})
	s.Write(context.Background(), evs)
	waitFor(t, "all finalized", func() bool { ok, fail := tr.counts(); return ok+fail == 3 })
	var indices []string
	for _, it := range f.Bulks()[0] {
		indices = append(indices, it.Meta["_index"].(string))
	}
	if fmt.Sprint(indices) != "[app-ns0-2024.05 app-ns2-2024.05]" {
		t.Fatalf("indices %v", indices)
	}
	recs := readDLQ(t, dlq)
	if len(recs) != 1 {
		t.Fatalf("dead letters %v", recs)
	}
	e := recs[0]["error"].(map[string]any)
	if e["type"] != "index_template" || !strings.HasPrefix(e["reason"].(string), "index_template") ||
		!strings.Contains(e["reason"].(string), "/kubernetes/namespace_name") || recs[0]["status"] != 0.0 {
		t.Fatalf("dead letter %v", recs[0])
	}
	if recs[0]["document"].(map[string]any)["id"] != "doc-1" {
		t.Fatalf("dead letter document %v", recs[0]["document"])
	}
	if v := metric(reg, "weft_opensearch_documents_dead_lettered_total"); v != 1 {
		t.Fatalf("dead-lettered %v", v)
	}
	shutdown(t, s)
	accounting(t, reg, 3)
}

func TestActions(t *testing.T) {
	cases := []struct {
		action string
		check  func(t *testing.T, it bulkItem)
	}{
		{"index", func(t *testing.T, it bulkItem) {
			if it.Action != "index" || it.Source["message"] == nil {
				t.Fatalf("%v", it)
			}
		}},
		{"create", func(t *testing.T, it bulkItem) {
			if it.Action != "create" || it.Source["message"] == nil {
				t.Fatalf("%v", it)
			}
		}},
		{"upsert", func(t *testing.T, it bulkItem) {
			doc, _ := it.Source["doc"].(map[string]any)
			if it.Action != "update" || doc["message"] == nil || it.Source["doc_as_upsert"] != true || it.Meta["_id"] != "doc-0" {
				t.Fatalf("%v %v", it.Meta, it.Source)
			}
		}},
		{"delete", func(t *testing.T, it bulkItem) {
			if it.Action != "delete" || it.Source != nil || it.Meta["_id"] != "doc-0" {
				t.Fatalf("%v", it)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.action, func(t *testing.T) {
			f := newFake(t)
			if c.action == "delete" {
				// Deleting a missing document is not an error.
				f.setBulk(func(int, []bulkItem) bulkReply { return bulkReply{Items: []itemReply{{Status: 404}}} })
			}
			s, _ := newSink(t, f, "index: logs\ndocument_id: ${/id}\naction: "+c.action+"\nflush_timeout: 5ms\n")
			var tr tracked
			s.Write(context.Background(), tr.events(1, logEvent))
			waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 1 })
			c.check(t, f.Bulks()[0][0])
		})
	}
}

func TestDocumentIDFieldAlias(t *testing.T) {
	f := newFake(t)
	s, _ := newSink(t, f, "index: logs\ndocument_id_field: id\nrouting_field: /n\nflush_timeout: 5ms\n")
	var tr tracked
	s.Write(context.Background(), tr.events(2, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 2 })
	it := f.Bulks()[0][1]
	if it.Meta["_id"] != "doc-1" || it.Meta["routing"] != "1" {
		t.Fatalf("meta %v", it.Meta)
	}
}

func TestMissingDocumentIDGoesToDLQ(t *testing.T) {
	f := newFake(t)
	dlq := dlqPath(t)
	s, _ := newSink(t, f, "index: logs\ndocument_id: ${/nope}\nflush_timeout: 5ms\ndlq_file: "+dlq+"\n")
	var tr tracked
	s.Write(context.Background(), tr.events(1, logEvent))
	waitFor(t, "rejection", func() bool { _, fail := tr.counts(); return fail == 1 })
	recs := readDLQ(t, dlq)
	if len(recs) != 1 || recs[0]["error"].(map[string]any)["type"] != "document_id" {
		t.Fatalf("dead letters %v", recs)
	}
	if len(bulkRequests(f)) != 0 {
		t.Fatal("a bulk request was sent")
	}
}

func TestBasicAuth(t *testing.T) {
	f := newFake(t)
	s, _ := newSink(t, f, "index: logs\nusername: admin\npassword: s3cret\nflush_timeout: 5ms\n")
	var tr tracked
	s.Write(context.Background(), tr.events(1, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 1 })
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:s3cret"))
	if got := bulkRequests(f)[0].Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization %q, want %q", got, want)
	}
}

func setAWSEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

var sigV4 = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/(\d{8})/([a-z0-9-]+)/([a-z]+)/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

func TestSigV4Signing(t *testing.T) {
	for _, c := range []struct {
		yaml, service string
	}{
		{"aws: {region: eu-west-1}", "es"},
		{"aws: {region: eu-west-1, serverless: true}", "aoss"},
	} {
		t.Run(c.service, func(t *testing.T) {
			setAWSEnv(t)
			f := newFake(t)
			s, _ := newSink(t, f, "index: logs\nflush_timeout: 5ms\n"+c.yaml+"\n")
			var tr tracked
			s.Write(context.Background(), tr.events(2, logEvent))
			waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 2 })
			r := bulkRequests(f)[0]
			auth := r.Header.Get("Authorization")
			m := sigV4.FindStringSubmatch(auth)
			if m == nil {
				t.Fatalf("Authorization %q is not a SigV4 header", auth)
			}
			if m[2] != "eu-west-1" || m[3] != c.service {
				t.Fatalf("scope region %s service %s", m[2], m[3])
			}
			for _, h := range []string{"host", "x-amz-date", "x-amz-content-sha256"} {
				if !strings.Contains(";"+m[4]+";", ";"+h+";") {
					t.Fatalf("SignedHeaders %q lacks %s", m[4], h)
				}
			}
			date := r.Header.Get("X-Amz-Date")
			if !strings.HasPrefix(date, m[1]) || len(date) != 16 {
				t.Fatalf("X-Amz-Date %q vs scope date %s", date, m[1])
			}
			sum := sha256.Sum256(r.Raw)
			if got := r.Header.Get("X-Amz-Content-Sha256"); got != hex.EncodeToString(sum[:]) {
				t.Fatalf("X-Amz-Content-Sha256 %q is not the hash of the (gzipped) body", got)
			}
			if r.Header.Get("Content-Encoding") != "gzip" {
				t.Fatal("not compressed")
			}
		})
	}
}

func TestSigV4RegionFromEnvironment(t *testing.T) {
	setAWSEnv(t)
	t.Setenv("AWS_REGION", "ap-southeast-2")
	f := newFake(t)
	s, _ := newSink(t, f, "index: logs\nflush_timeout: 5ms\naws: {}\n")
	var tr tracked
	s.Write(context.Background(), tr.events(1, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 1 })
	m := sigV4.FindStringSubmatch(bulkRequests(f)[0].Header.Get("Authorization"))
	if m == nil || m[2] != "ap-southeast-2" || m[3] != "es" {
		t.Fatalf("Authorization %v", m)
	}
}

func TestSigV4NeedsRegion(t *testing.T) {
	setAWSEnv(t)
	_, _, err := pipelinestest.Sink("opensearch", "hosts: [http://127.0.0.1:1]\nindex: logs\naws: {}\n")
	if err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("err = %v", err)
	}
}

func TestFailoverToNextHost(t *testing.T) {
	f := newFake(t)
	dead := "http://127.0.0.1:1" // nothing listens on port 1
	s, reg := newSink(t, f, "hosts: ["+dead+", "+f.URL()+"]\nindex: logs\nflush_timeout: 5ms\n")
	var tr tracked
	s.Write(context.Background(), tr.events(2, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 2 })
	if v := metric(reg, "weft_opensearch_bulk_requests_total", "status", "200"); v != 1 {
		t.Fatalf("requests{200} %v", v)
	}
	// The host that answered stays current.
	s.Write(context.Background(), tr.events(1, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 3 })
	if v := metric(reg, "weft_opensearch_bulk_requests_total", "status", "error"); v != 0 {
		t.Fatalf("requests{error} %v", v)
	}
}

func TestConnectionErrorsRetriedThenDeadLettered(t *testing.T) {
	f := newFake(t)
	f.down.Store(true)
	dlq := dlqPath(t)
	s, reg := newSink(t, f, "index: logs\nflush_timeout: 5ms\ninitial_backoff: 1ms\nmax_backoff: 2ms\nmax_retries: 2\ndlq_file: "+dlq+"\n")
	var tr tracked
	s.Write(context.Background(), tr.events(2, logEvent))
	waitFor(t, "dead letters", func() bool { _, fail := tr.counts(); return fail == 2 })
	if v := metric(reg, "weft_opensearch_bulk_requests_total", "status", "error"); v != 3 {
		t.Fatalf("requests{error} %v, want 3", v)
	}
	recs := readDLQ(t, dlq)
	if len(recs) != 2 || recs[0]["error"].(map[string]any)["type"] != "connection_error" || recs[0]["status"] != 0.0 {
		t.Fatalf("dead letters %v", recs)
	}
}

func TestRecoversAfterOutageWithoutLossOrDuplicates(t *testing.T) {
	f := newFake(t)
	var calls atomic.Int32
	f.setBulk(func(n int, items []bulkItem) bulkReply {
		switch calls.Add(1) {
		case 1:
			return bulkReply{Status: 503, Body: `{"error":"unavailable"}`}
		case 2:
			return bulkReply{Status: 429, Body: `{"error":"busy"}`}
		}
		return bulkReply{}
	})
	f.down.Store(true)
	s, reg := newSink(t, f, "index: logs\ndocument_id: id\nflush_timeout: 5ms\ninitial_backoff: 5ms\nmax_backoff: 20ms\nmax_retries: 100\n")
	var tr tracked
	s.Write(context.Background(), tr.events(50, logEvent))
	waitFor(t, "connection errors", func() bool { return metric(reg, "weft_opensearch_bulk_requests_total", "status", "error") >= 2 })
	f.down.Store(false)
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 50 })
	if n := len(f.Indexed()); n != 50 {
		t.Fatalf("%d documents indexed, want 50", n)
	}
	shutdown(t, s)
	accounting(t, reg, 50)
}

func TestWriteBlocksWhenBufferFull(t *testing.T) {
	f := newFake(t)
	f.block = make(chan struct{})
	s, reg := newSink(t, f, "index: logs\nmax_buffered: 100\nmax_documents: 10\nmax_inflight: 2\nflush_timeout: 1ms\n")
	var tr tracked
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- s.Write(ctx, tr.events(150, logEvent)) }()
	waitFor(t, "the buffer to fill", func() bool { return metric(reg, "weft_opensearch_buffered_documents") == 100 })
	select {
	case err := <-done:
		t.Fatalf("Write returned (%v) with a full buffer and a blocked cluster", err)
	case <-time.After(50 * time.Millisecond):
	}
	waitFor(t, "max_inflight requests", func() bool { return metric(reg, "weft_opensearch_inflight_requests") == 2 })
	time.Sleep(20 * time.Millisecond)
	if v := metric(reg, "weft_opensearch_inflight_requests"); v != 2 {
		t.Fatalf("inflight %v, want max_inflight 2", v)
	}
	if n := len(bulkRequests(f)); n != 2 {
		t.Fatalf("%d bulk requests with max_inflight 2 and a blocked cluster", n)
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("unready although the cluster answers (slowly): %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %v", err)
	}
	if _, fail := tr.counts(); fail != 50 {
		t.Fatalf("%d events rejected when Write gave up, want the 50 not taken", fail)
	}
	close(f.block)
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 100 })
	shutdown(t, s)
	accounting(t, reg, 150)
	if v := metric(reg, "weft_opensearch_buffered_documents"); v != 0 {
		t.Fatalf("buffered %v after shutdown", v)
	}
}

func TestShutdownDropsWhatCannotBeSent(t *testing.T) {
	f := newFake(t)
	f.block = make(chan struct{})
	s, reg := newSink(t, f, "index: logs\nflush_timeout: 1ms\n")
	var tr tracked
	s.Write(context.Background(), tr.events(10, logEvent))
	waitFor(t, "a bulk request in flight", func() bool { return len(bulkRequests(f)) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	if ok, fail := tr.counts(); ok != 0 || fail != 10 {
		t.Fatalf("ok %d fail %d", ok, fail)
	}
	if v := metric(reg, "weft_component_events_failed_total", "reason", "shutdown"); v != 10 {
		t.Fatalf("failed{shutdown} %v", v)
	}
	// Writes after shutdown are refused the same way.
	if err := s.Write(context.Background(), tr.events(2, logEvent)); err == nil {
		t.Fatal("Write after Shutdown succeeded")
	}
	if v := metric(reg, "weft_component_events_failed_total", "reason", "shutdown"); v != 12 {
		t.Fatalf("failed{shutdown} %v", v)
	}
	accounting(t, reg, 12)
}

func TestShutdownFlushesPartialBatch(t *testing.T) {
	f := newFake(t)
	s, reg := newSink(t, f, "index: logs\nflush_timeout: 1h\n")
	var tr tracked
	s.Write(context.Background(), tr.events(7, logEvent))
	shutdown(t, s)
	if ok, _ := tr.counts(); ok != 7 {
		t.Fatalf("delivered %d", ok)
	}
	accounting(t, reg, 7)
}

func TestUnreachableAtStartBuffersThenDelivers(t *testing.T) {
	old := healthInterval
	healthInterval = 10 * time.Millisecond
	t.Cleanup(func() { healthInterval = old })
	f := newFake(t)
	f.down.Store(true)
	s, reg := newSink(t, f, `
index_type: trace-analytics-raw
max_buffered: 20
max_documents: 5
flush_timeout: 1ms
initial_backoff: 1ms
max_backoff: 5ms
`)
	waitFor(t, "the cluster seen as unreachable", func() bool { return metric(reg, "weft_opensearch_reachable") == 0 })
	if err := s.Ready(); err != nil {
		t.Fatalf("unready while the buffer still absorbs the outage: %v", err)
	}
	var tr tracked
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), tr.events(25, spanEvent)) }()
	waitFor(t, "a full buffer", func() bool { return metric(reg, "weft_opensearch_buffered_documents") == 20 })
	if len(bulkRequests(f)) != 0 {
		t.Fatal("bulk requests before the alias exists")
	}
	err := s.Ready()
	if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), "buffer is full") {
		t.Fatalf("Ready = %v", err)
	}
	f.down.Store(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 25 })
	waitFor(t, "readiness", func() bool { return s.Ready() == nil })
	waitFor(t, "reachable again", func() bool { return metric(reg, "weft_opensearch_reachable") == 1 })
	// The alias was created before the first bulk request.
	var sawAlias bool
	for _, r := range f.Requests() {
		if r.Method == "PUT" && r.Path == "/"+SpanFirstIndex {
			sawAlias = true
		}
		if strings.HasPrefix(r.Path, "/_bulk") && !sawAlias {
			t.Fatal("bulk request before the alias bootstrap")
		}
	}
	shutdown(t, s)
	accounting(t, reg, 25)
}

func TestNeverReachableShutdownDrops(t *testing.T) {
	f := newFake(t)
	f.down.Store(true)
	s, reg := newSink(t, f, "index_type: trace-analytics-raw\nflush_timeout: 1ms\ninitial_backoff: 1ms\nmax_backoff: 5ms\n")
	var tr tracked
	s.Write(context.Background(), tr.events(5, spanEvent))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s.Shutdown(ctx)
	if _, fail := tr.counts(); fail != 5 {
		t.Fatalf("rejected %d", fail)
	}
	if v := metric(reg, "weft_component_events_failed_total", "reason", "shutdown"); v != 5 {
		t.Fatalf("failed{shutdown} %v", v)
	}
}

func TestStartFailsOnRefusedTemplate(t *testing.T) {
	f := newFake(t)
	f.route("PUT /_template/otel-v1-apm-span-index-template", func([]byte) (int, string) {
		return 400, `{"error":{"type":"mapper_parsing_exception","reason":"bad mapping"},"status":400}`
	})
	sk, _, err := pipelinestest.Sink("opensearch", "hosts: ["+f.URL()+"]\nindex_type: trace-analytics-raw\n")
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Shutdown(context.Background())
	err = sk.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bad mapping") {
		t.Fatalf("Start = %v", err)
	}
}

func TestShutdownWithoutStart(t *testing.T) {
	sk, reg, err := newSinkErr("hosts: [http://127.0.0.1:1]\nindex_type: trace-analytics-raw\n")
	if err != nil {
		t.Fatal(err)
	}
	var tr tracked
	sk.Write(context.Background(), tr.events(3, spanEvent))
	done := make(chan error, 1)
	go func() { done <- sk.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown of a sink never started hangs")
	}
	if _, fail := tr.counts(); fail != 3 {
		t.Fatalf("rejected %d", fail)
	}
	accounting(t, reg, 3)
}
