//go:build integration

// Integration tests of the opensearch sink against a real OpenSearch
// (test/opensearch/start.sh), through the built binary. They need
// WEFT_OPENSEARCH_URL and fail without it: scripts/test.sh starts the
// engine and sets it.
//
//	URL=$(test/opensearch/start.sh) && WEFT_OPENSEARCH_URL=$URL go test -race -count=1 -tags integration ./e2e/
package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// osURL is the engine's URL; the tests fail (never skip) without it.
func osURL(t *testing.T) string {
	t.Helper()
	u := strings.TrimRight(os.Getenv("WEFT_OPENSEARCH_URL"), "/")
	if u == "" {
		t.Fatal("WEFT_OPENSEARCH_URL is not set: run `URL=$(test/opensearch/start.sh)` and export WEFT_OPENSEARCH_URL=$URL (scripts/test.sh does both)")
	}
	return u
}

// runID makes index names unique to one test run on a shared engine.
func osRunID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func osRandHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// osREST talks to OpenSearch directly (not through weft) to prepare and
// check state.
type osREST struct {
	t    *testing.T
	base string
}

func newOS(t *testing.T) *osREST { return &osREST{t: t, base: osURL(t)} }

func (o *osREST) do(method, path, body string) (int, []byte) {
	o.t.Helper()
	req, err := http.NewRequest(method, o.base+path, strings.NewReader(body))
	if err != nil {
		o.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// json does a request that must answer 200/201 and decodes the answer.
func (o *osREST) json(method, path, body string, out any) {
	o.t.Helper()
	code, b := o.do(method, path, body)
	if code != 200 && code != 201 {
		o.t.Fatalf("%s %s: HTTP %d: %s", method, path, code, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			o.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

func (o *osREST) refresh(index string) {
	o.t.Helper()
	o.json("POST", "/"+index+"/_refresh", "", nil)
}

func (o *osREST) count(index, query string) int {
	o.t.Helper()
	if query == "" {
		query = `{"query":{"match_all":{}}}`
	}
	var r struct {
		Count int `json:"count"`
	}
	o.json("POST", "/"+index+"/_count", query, &r)
	return r.Count
}

// search returns the _source of the hits.
func (o *osREST) search(index, body string) []map[string]any {
	o.t.Helper()
	var r struct {
		Hits struct {
			Hits []struct {
				Index  string         `json:"_index"`
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	o.json("POST", "/"+index+"/_search", body, &r)
	var out []map[string]any
	for _, h := range r.Hits.Hits {
		h.Source["_index"], h.Source["_id"] = h.Index, h.ID
		out = append(out, h.Source)
	}
	return out
}

// indices lists the index names matching a pattern.
func (o *osREST) indices(pattern string) []string {
	o.t.Helper()
	var r []struct {
		Index string `json:"index"`
	}
	o.json("GET", "/_cat/indices/"+pattern+"?format=json&expand_wildcards=all", "", &r)
	var out []string
	for _, x := range r {
		out = append(out, x.Index)
	}
	sort.Strings(out)
	return out
}

// deleteAfter removes the test's indices when the test ends (the engine may
// be shared).
func (o *osREST) deleteAfter(pattern string) {
	o.t.Cleanup(func() {
		req, _ := http.NewRequest("DELETE", o.base+"/"+pattern+"?expand_wildcards=all", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
}

// fieldType returns the mapped type of a (dotted) field in an index.
func (o *osREST) fieldType(index, field string) string {
	o.t.Helper()
	var r map[string]struct {
		Mappings map[string]struct {
			FullName string                    `json:"full_name"`
			Mapping  map[string]map[string]any `json:"mapping"`
		} `json:"mappings"`
	}
	o.json("GET", "/"+index+"/_mapping/field/"+url.PathEscape(field), "", &r)
	for _, m := range r[index].Mappings {
		for _, v := range m.Mapping {
			s, _ := v["type"].(string)
			return s
		}
	}
	// objects and nested fields are not leaves: walk the whole mapping
	var full map[string]struct {
		Mappings map[string]any `json:"mappings"`
	}
	o.json("GET", "/"+index+"/_mapping", "", &full)
	node := full[index].Mappings
	for _, seg := range strings.Split(field, ".") {
		props, _ := node["properties"].(map[string]any)
		node, _ = props[seg].(map[string]any)
		if node == nil {
			return ""
		}
	}
	if s, _ := node["type"].(string); s != "" {
		return s
	}
	return "object"
}

// startWeftWithEnv is startWeft with extra environment variables for the child
// only (so tests using it can run in parallel).
func startWeftWithEnv(t *testing.T, configPath string, env []string) *agentProc {
	t.Helper()
	admin := freeAddr(t)
	cmd := exec.Command(weftBin, "run", "--admin", admin, "--data-dir", t.TempDir(), "-c", configPath)
	cmd.Env = append(os.Environ(), env...)
	p := &agentProc{t: t, cmd: cmd, admin: admin, stdout: &safeBuffer{}, stderr: &safeBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("weft stderr (last 6000 bytes):\n%s", osLogTail(p.stderr.String(), 6000))
		}
	})
	return p
}

func osLogTail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// stop sends SIGTERM and requires a clean exit.
func (p *agentProc) sigtermAndWait() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	if code := p.wait(60 * time.Second); code != 0 {
		p.t.Fatalf("weft exited with %d", code)
	}
}

// rssKiB is a process's resident set size.
func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return -1
}

func osAppend(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

// followPipeline is a pipeline from a followed JSON-lines file into one
// opensearch sink with the given options (YAML lines, indented 8).
func followPipeline(name, in, sinkOpts string) string {
	return fmt.Sprintf(`
%s:
  delay: 20
  source:
    file: {path: %q, format: json, mode: follow, poll_interval: 50ms, batch_size: 500}
  sink:
    - opensearch:
%s
`, name, in, sinkOpts)
}

func osIndent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.Trim(s, "\n"), "\n") {
		b.WriteString("        " + l + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

const osSink = `component="sink/0/opensearch"`

// 1. custom index with a date pattern and a field template: every document is
// searchable back, with its fields, in the index its fields name.
func TestOpenSearchCustomIndexDateAndFieldTemplate(t *testing.T) {
	os_ := newOS(t)
	prefix := "e2e-" + osRunID() + "-app"
	os_.deleteAfter(prefix + "-*")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	writeFile(t, in, "")
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, followPipeline("logs", in, osIndent(fmt.Sprintf(`
hosts: [%q]
index: "%s-${/service}-%%{yyyy.MM.dd}"
flush_timeout: 200ms
max_documents: 100
`, os_.base, prefix))))
	p := startWeftWithEnv(t, cfg, nil)
	p.waitReady(20 * time.Second)
	before := time.Now().UTC()

	services := []string{"web", "api", "db"}
	var b strings.Builder
	const n = 300
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"n":%d,"service":%q,"level":"info","msg":"request %d done","http":{"status":%d,"path":"/p/%d"},"tags":["a","b"]}`+"\n",
			i, services[i%3], i, 200+i%5, i)
	}
	osAppend(t, in, b.String())
	eventually(t, 60*time.Second, "300 documents indexed", func() bool {
		return p.metric("weft_opensearch_documents_indexed_total") >= n
	})
	after := time.Now().UTC()

	// the index names: one per service and (UTC) day
	os_.refresh(prefix + "-*")
	got := os_.indices(prefix + "-*")
	wantNames := func(day time.Time) []string {
		var w []string
		for _, s := range services {
			w = append(w, prefix+"-"+s+"-"+day.Format("2006.01.02"))
		}
		sort.Strings(w)
		return w
	}
	if fmt.Sprint(got) != fmt.Sprint(wantNames(before)) && fmt.Sprint(got) != fmt.Sprint(wantNames(after)) {
		t.Fatalf("indices %v, want %v", got, wantNames(before))
	}
	total := 0
	for _, idx := range got {
		svc := strings.Split(strings.TrimPrefix(idx, prefix+"-"), "-")[0]
		c := os_.count(idx, "")
		if c != n/3 {
			t.Errorf("%s holds %d documents, want %d", idx, c, n/3)
		}
		total += c
		docs := os_.search(idx, `{"size":200,"sort":[{"n":"asc"}]}`)
		if len(docs) != n/3 {
			t.Fatalf("%s: search returned %d documents", idx, len(docs))
		}
		for _, d := range docs {
			i := int(d["n"].(float64))
			h, _ := d["http"].(map[string]any)
			if d["service"] != svc || services[i%3] != svc || d["level"] != "info" || d["msg"] != fmt.Sprintf("request %d done", i) ||
				h == nil || h["status"] != float64(200+i%5) || h["path"] != fmt.Sprintf("/p/%d", i) || fmt.Sprint(d["tags"]) != "[a b]" {
				t.Fatalf("document in %s not as sent: %v", idx, d)
			}
		}
	}
	if total != n {
		t.Fatalf("%d documents in OpenSearch, want %d", total, n)
	}
	// a search across the indices by a field
	if c := os_.count(prefix+"-*", `{"query":{"term":{"http.status":204}}}`); c != n/5 {
		t.Fatalf("term query on http.status: %d, want %d", c, n/5)
	}

	// metrics: indexed == sent == read; nothing failed
	_, m := p.get("/metrics")
	for name, want := range map[string]float64{
		"weft_opensearch_documents_indexed_total":       n,
		"weft_opensearch_documents_failed_total":        0,
		"weft_opensearch_documents_dead_lettered_total": 0,
		"weft_opensearch_documents_retried_total":       0,
		"weft_pipeline_events_in_total":                 n,
		"weft_opensearch_inflight_requests":             0,
		"weft_opensearch_buffered_documents":            0,
	} {
		if got := sumMetric(m, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := sumMetric(m, "weft_component_events_sent_total", osSink); got != n {
		t.Errorf("sink component sent %v, want %d (= indexed)", got, n)
	}
	if sumMetric(m, "weft_opensearch_bulk_requests_total", `status="200"`) < 3 || sumMetric(m, "weft_opensearch_bytes_sent_total") <= 0 ||
		sumMetric(m, "weft_opensearch_bulk_duration_seconds_count") < 3 {
		t.Errorf("bulk request metrics missing:\n%s", osGrep(m, "weft_opensearch_"))
	}
	p.sigtermAndWait()
}

func osGrep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// 2. trace-analytics-raw and -service-map: weft installs the templates and
// the rollover alias, spans are keyed by spanId and service-map entries by
// hashId.
func TestOpenSearchTraceAnalytics(t *testing.T) {
	os_ := newOS(t)
	dir := t.TempDir()
	spansIn, smapIn := filepath.Join(dir, "spans.ndjson"), filepath.Join(dir, "smap.ndjson")
	writeFile(t, spansIn, "")
	writeFile(t, smapIn, "")
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, followPipeline("raw-pipeline", spansIn, osIndent(fmt.Sprintf(`
hosts: [%q]
index_type: trace-analytics-raw
flush_timeout: 100ms
`, os_.base)))+followPipeline("service-map-pipeline", smapIn, osIndent(fmt.Sprintf(`
hosts: [%q]
index_type: trace-analytics-service-map
flush_timeout: 100ms
`, os_.base))))
	p := startWeftWithEnv(t, cfg, nil)
	p.waitReady(30 * time.Second)

	traceID := osRandHex(32)
	spanIDs := []string{osRandHex(16), osRandHex(16), osRandHex(16), osRandHex(16)}
	span := func(i int, name string) string {
		parent := ""
		if i > 0 {
			parent = spanIDs[0]
		}
		start := time.Date(2026, 11, 23, 12, 0, i, 123456789, time.UTC)
		d := map[string]any{
			"traceId": traceID, "spanId": spanIDs[i], "parentSpanId": parent, "traceState": "",
			"name": name, "kind": "SPAN_KIND_SERVER",
			"startTime": start.Format(time.RFC3339Nano), "endTime": start.Add(1500 * time.Microsecond).Format(time.RFC3339Nano),
			"durationInNanos": 1500000, "serviceName": "checkout",
			"traceGroup": "GET /cart", "traceGroupFields": map[string]any{"endTime": start.Add(time.Second).Format(time.RFC3339Nano), "durationInNanos": 1000000000, "statusCode": 0},
			"status":                           map[string]any{"code": 0, "message": ""},
			"span.attributes.http@method":      "GET",
			"span.attributes.http@status_code": "200",
			"resource.attributes.service@name": "checkout",
			"instrumentationScope":             map[string]any{"name": "e2e", "version": "1"},
			"droppedAttributesCount":           0,
			"events": []any{
				map[string]any{"name": "cache-miss", "time": start.Add(time.Microsecond).Format(time.RFC3339Nano), "attributes": map[string]any{"key": "cart"}, "droppedAttributesCount": 0},
				map[string]any{"name": "db-call", "time": start.Add(2 * time.Microsecond).Format(time.RFC3339Nano), "attributes": map[string]any{"key": "orders"}, "droppedAttributesCount": 0},
			},
			"links": []any{},
		}
		b, _ := json.Marshal(d)
		return string(b) + "\n"
	}
	var b strings.Builder
	for i := range spanIDs {
		b.WriteString(span(i, fmt.Sprintf("span-%d", i)))
	}
	osAppend(t, spansIn, b.String())
	eventually(t, 60*time.Second, "4 spans indexed", func() bool {
		return p.metric("weft_opensearch_documents_indexed_total", `pipeline="raw-pipeline"`) >= 4
	})
	// the same span again (a resend): still one document, now with the new name
	osAppend(t, spansIn, span(0, "span-0-again"))
	eventually(t, 30*time.Second, "the repeated span indexed", func() bool {
		return p.metric("weft_opensearch_documents_indexed_total", `pipeline="raw-pipeline"`) >= 5
	})

	// service map: hashId is the document ID; a repeated hashId is one document
	h1, h2 := osRandHex(32), osRandHex(32)
	smap := func(hash, svc, dest string) string {
		return fmt.Sprintf(`{"serviceName":%q,"kind":"SPAN_KIND_CLIENT","traceGroupName":"GET /cart","destination":{"domain":%q,"resource":"GET /items"},"target":null,"hashId":%q}`+"\n", svc, dest, hash)
	}
	osAppend(t, smapIn, smap(h1, "checkout", "inventory")+smap(h2, "checkout", "payments")+smap(h1, "checkout", "inventory"))
	eventually(t, 60*time.Second, "3 service-map documents indexed", func() bool {
		return p.metric("weft_opensearch_documents_indexed_total", `pipeline="service-map-pipeline"`) >= 3
	})

	// the rollover alias over otel-v1-apm-span-000001, and it is the write index
	var aliases map[string]struct {
		Aliases map[string]struct {
			IsWriteIndex bool `json:"is_write_index"`
		} `json:"aliases"`
	}
	os_.json("GET", "/_alias/otel-v1-apm-span", "", &aliases)
	first, ok := aliases["otel-v1-apm-span-000001"]
	if !ok {
		t.Fatalf("alias otel-v1-apm-span is not on otel-v1-apm-span-000001: %v", aliases)
	}
	writeIndex := ""
	for idx, a := range aliases {
		if a.Aliases["otel-v1-apm-span"].IsWriteIndex {
			writeIndex = idx
		}
	}
	if len(aliases) == 1 && !first.Aliases["otel-v1-apm-span"].IsWriteIndex {
		t.Fatalf("otel-v1-apm-span-000001 is not the write index of otel-v1-apm-span: %v", aliases)
	}
	if writeIndex == "" {
		t.Fatalf("otel-v1-apm-span has no write index: %v", aliases)
	}

	// the template was installed and applied: read back the mapping
	for field, want := range map[string]string{
		"traceId": "keyword", "spanId": "keyword", "parentSpanId": "keyword", "serviceName": "keyword",
		"startTime": "date_nanos", "endTime": "date_nanos", "durationInNanos": "long",
		"events": "nested", "events.time": "date_nanos", "links": "nested",
		"span.attributes.http@method": "keyword", "span.attributes.http@status_code": "keyword",
		"resource.attributes.service@name": "keyword", "traceGroupFields.endTime": "date_nanos",
	} {
		for _, idx := range []string{"otel-v1-apm-span-000001", writeIndex} {
			if got := os_.fieldType(idx, field); got != want {
				t.Errorf("%s: field %s mapped as %q, want %q", idx, field, got, want)
			}
		}
	}
	if !templateCovers(os_, "otel-v1-apm-span-") || !templateCovers(os_, "otel-v1-apm-service-map") {
		t.Errorf("no index template covers otel-v1-apm-span-* / otel-v1-apm-service-map")
	}

	// spans: 4 documents for the trace, keyed by spanId, the resend overwrote
	os_.refresh("otel-v1-apm-span")
	q := fmt.Sprintf(`{"query":{"term":{"traceId":%q}}}`, traceID)
	if c := os_.count("otel-v1-apm-span", q); c != 4 {
		t.Fatalf("%d span documents for the trace, want 4 (the repeated span must be one document)", c)
	}
	var doc struct {
		Found  bool           `json:"found"`
		Index  string         `json:"_index"`
		Source map[string]any `json:"_source"`
	}
	os_.json("GET", "/otel-v1-apm-span/_doc/"+spanIDs[0], "", &doc)
	if !doc.Found || doc.Source["name"] != "span-0-again" || doc.Source["span.attributes.http@method"] != "GET" {
		t.Fatalf("span %s by _id: %+v", spanIDs[0], doc)
	}
	// the nested events are queryable one by one
	nq := fmt.Sprintf(`{"query":{"bool":{"filter":[{"term":{"traceId":%q}},{"nested":{"path":"events","query":{"bool":{"filter":[{"term":{"events.name":"db-call"}},{"term":{"events.attributes.key":"orders"}}]}}}}]}}}`, traceID)
	if c := os_.count("otel-v1-apm-span", nq); c != 4 {
		t.Errorf("nested events query matched %d spans, want 4", c)
	}
	// full nanosecond precision of startTime survives
	nsq := fmt.Sprintf(`{"query":{"bool":{"filter":[{"term":{"spanId":%q}},{"range":{"startTime":{"gte":"2026-11-23T12:00:00.123456789Z","lte":"2026-11-23T12:00:00.123456789Z"}}}]}}}`, spanIDs[0])
	if c := os_.count("otel-v1-apm-span", nsq); c != 1 {
		t.Errorf("startTime lost nanosecond precision (exact range matched %d)", c)
	}

	// service map: two documents, by hashId
	os_.refresh("otel-v1-apm-service-map")
	for _, h := range []string{h1, h2} {
		var d struct {
			Found  bool           `json:"found"`
			Source map[string]any `json:"_source"`
		}
		os_.json("GET", "/otel-v1-apm-service-map/_doc/"+h, "", &d)
		if !d.Found || d.Source["serviceName"] != "checkout" {
			t.Fatalf("service-map document %s: %+v", h, d)
		}
	}
	if c := os_.count("otel-v1-apm-service-map", fmt.Sprintf(`{"query":{"terms":{"hashId":[%q,%q]}}}`, h1, h2)); c != 2 {
		t.Fatalf("%d service-map documents, want 2", c)
	}
	if got := os_.fieldType("otel-v1-apm-service-map", "hashId"); got != "keyword" {
		t.Errorf("otel-v1-apm-service-map hashId mapped as %q, want keyword", got)
	}
	if got := p.metric("weft_opensearch_documents_failed_total"); got != 0 {
		t.Errorf("%v documents failed", got)
	}
	p.sigtermAndWait()
}

// templateCovers reports whether a legacy or composable template has an index
// pattern starting with prefix.
func templateCovers(o *osREST, prefix string) bool {
	o.t.Helper()
	var v1 map[string]struct {
		IndexPatterns []string `json:"index_patterns"`
	}
	o.json("GET", "/_template", "", &v1)
	for _, tpl := range v1 {
		for _, p := range tpl.IndexPatterns {
			if strings.HasPrefix(p, prefix) {
				return true
			}
		}
	}
	var v2 struct {
		IndexTemplates []struct {
			IndexTemplate struct {
				IndexPatterns []string `json:"index_patterns"`
			} `json:"index_template"`
		} `json:"index_templates"`
	}
	o.json("GET", "/_index_template", "", &v2)
	for _, tpl := range v2.IndexTemplates {
		for _, p := range tpl.IndexTemplate.IndexPatterns {
			if strings.HasPrefix(p, prefix) {
				return true
			}
		}
	}
	return false
}

// 3. A partially failing bulk request: the good documents are indexed, the
// one with a mapping conflict is dead-lettered with its reason, once.
func TestOpenSearchPartialBulkFailureDeadLetters(t *testing.T) {
	os_ := newOS(t)
	idx := "e2e-" + osRunID() + "-conflict"
	os_.deleteAfter(idx)
	// "code" becomes a number
	os_.json("PUT", "/"+idx+"/_doc/seed?refresh=true", `{"n":-1,"code":7}`, nil)

	dir := t.TempDir()
	in, dlq := filepath.Join(dir, "in.ndjson"), filepath.Join(dir, "dlq.ndjson")
	writeFile(t, in, "")
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, followPipeline("p", in, osIndent(fmt.Sprintf(`
hosts: [%q]
index: %s
dlq_file: %q
flush_timeout: 300ms
max_retries: 3
initial_backoff: 10ms
max_backoff: 50ms
`, os_.base, idx, dlq))))
	p := startWeftWithEnv(t, cfg, nil)
	p.waitReady(20 * time.Second)

	var b strings.Builder
	for i := 0; i < 10; i++ {
		if i == 5 {
			b.WriteString(`{"n":5,"code":{"major":4,"minor":"x"},"bad":true}` + "\n")
			continue
		}
		fmt.Fprintf(&b, `{"n":%d,"code":%d}`+"\n", i, 200+i)
	}
	osAppend(t, in, b.String())
	eventually(t, 60*time.Second, "10 documents ended (indexed or dead-lettered)", func() bool {
		return p.metric("weft_opensearch_documents_indexed_total")+p.metric("weft_opensearch_documents_dead_lettered_total") >= 10
	})
	time.Sleep(300 * time.Millisecond) // let any (wrong) retry show up

	os_.refresh(idx)
	if c := os_.count(idx, ""); c != 10 {
		t.Errorf("%d documents in %s, want 10 (seed + 9 good)", c, idx)
	}
	if c := os_.count(idx, `{"query":{"term":{"n":5}}}`); c != 0 {
		t.Errorf("the conflicting document was indexed")
	}
	for _, d := range os_.search(idx, `{"size":20}`) {
		if _, isNum := d["code"].(float64); !isNum {
			t.Errorf("indexed document with a non-numeric code: %v", d)
		}
	}

	lines := readNDJSON(t, dlq)
	if len(lines) != 1 {
		t.Fatalf("dead-letter file has %d lines, want 1:\n%s", len(lines), mustRead(t, dlq))
	}
	dl := lines[0]
	doc, _ := dl["document"].(map[string]any)
	errObj, _ := dl["error"].(map[string]any)
	reason, _ := errObj["reason"].(string)
	if doc == nil || doc["n"] != 5.0 || doc["bad"] != true || dl["index"] != idx || dl["status"] != 400.0 ||
		errObj["type"] != "mapper_parsing_exception" || !strings.Contains(reason, "[code]") {
		t.Fatalf("dead letter: %v", dl)
	}
	if ts, _ := dl["time"].(string); ts == "" {
		t.Errorf("dead letter without time: %v", dl)
	} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("dead letter time %q: %v", ts, err)
	}

	_, m := p.get("/metrics")
	for name, want := range map[string]float64{
		"weft_opensearch_documents_indexed_total":       9,
		"weft_opensearch_documents_dead_lettered_total": 1,
		"weft_opensearch_documents_failed_total":        1,
		// a mapping conflict is final: it is not retried
		"weft_opensearch_documents_retried_total": 0,
	} {
		if got := sumMetric(m, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := sumMetric(m, "weft_pipeline_events_failed_total", `reason="dead_letter"`); got != 1 ||
		sumMetric(m, "weft_pipeline_events_failed_total") != 1 {
		t.Errorf(`weft_pipeline_events_failed_total{reason="dead_letter"} = %v, want 1 (and no other failure):\n%s`, got, osGrep(m, "events_failed_total"))
	}
	if got := sumMetric(m, "weft_component_events_failed_total", osSink); got != 1 {
		t.Errorf("sink component failed = %v, want 1", got)
	}
	if got := sumMetric(m, "weft_component_events_sent_total", osSink); got != 9 {
		t.Errorf("sink component sent = %v, want 9", got)
	}
	p.sigtermAndWait()
}

// 4. Faults between weft and OpenSearch (429, 503, dropped connections,
// per-item rejections, slow answers) for a few seconds while 20,000 documents
// flow: once the proxy recovers every document is indexed exactly once.
func TestOpenSearchFaultsNothingLostNothingDuplicated(t *testing.T) {
	t.Run("document_id", func(t *testing.T) {
		// With IDs even an ambiguous failure (OpenSearch indexed the bulk but
		// the answer was lost) may be resent without creating a duplicate.
		faultRun(t, true, faultPlan{ItemReject: 0.25, Delay: 20 * time.Millisecond,
			Sequence: []string{"503", "partial", "drop-after", "429", "", "drop", "partial", "503", "drop-after", "429", "partial", "drop"}})
	})
	t.Run("no_document_id", func(t *testing.T) {
		// Without IDs OpenSearch would index a resent document twice, so the
		// count proves only failed items are resent (no ambiguous faults
		// here: those are at-least-once by nature).
		faultRun(t, false, faultPlan{ItemReject: 0.25, Delay: 20 * time.Millisecond,
			Sequence: []string{"503", "partial", "drop", "429", "", "partial", "503", "drop", "429", "partial"}})
	})
}

func faultRun(t *testing.T, withID bool, plan faultPlan) {
	os_ := newOS(t)
	idx := "e2e-" + osRunID() + "-faults"
	os_.deleteAfter(idx)
	proxy := newFaultProxy(t, os_.base, nil)
	dir := t.TempDir()
	in, dlq := filepath.Join(dir, "in.ndjson"), filepath.Join(dir, "dlq.ndjson")
	writeFile(t, in, "")
	docID := ""
	if withID {
		docID = `document_id: "${/n}"`
	}
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
p:
  delay: 20
  workers: 2
  buffer: {bounded_blocking: {buffer_size: 4000, batch_size: 250}}
  source:
    file: {path: %q, format: json, mode: follow, poll_interval: 50ms, batch_size: 500}
  sink:
    - opensearch:
        hosts: [%q]
        index: %s
        %s
        max_documents: 250
        flush_timeout: 100ms
        max_inflight: 4
        max_buffered: 2000
        max_retries: 1000
        initial_backoff: 20ms
        max_backoff: 400ms
        dlq_file: %q
`, in, proxy.URL, idx, docID, dlq))
	p := startWeftWithEnv(t, cfg, nil)
	p.waitReady(20 * time.Second)

	const n = 20000
	proxy.setPlan(plan)
	faultStart := time.Now()
	for c := 0; c < 4; c++ {
		var b strings.Builder
		for i := c * n / 4; i < (c+1)*n/4; i++ {
			fmt.Fprintf(&b, `{"n":%d,"chunk":%d,"msg":"document number %d of the fault test"}`+"\n", i, c, i)
		}
		osAppend(t, in, b.String())
		time.Sleep(750 * time.Millisecond)
	}
	// faults for at least 4 s, and until every kind was injected (a loaded
	// machine sends fewer bulk requests)
	time.Sleep(time.Until(faultStart.Add(4 * time.Second)))
	var stats proxyStats
	allKinds := func() bool {
		stats, _ = proxy.snapshot()
		return stats.S429 > 0 && stats.S503 > 0 && stats.Drops > 0 && stats.Partial > 0 &&
			(!osHas(plan.Sequence, "drop-after") || stats.DropsAfter > 0)
	}
	eventually(t, 60*time.Second, "every kind of fault injected", allKinds)
	indexedDuringFaults := p.metric("weft_opensearch_documents_indexed_total")
	proxy.recover()
	t.Logf("faults for %v: %+v; %v documents indexed meanwhile", time.Since(faultStart).Round(time.Millisecond), stats, indexedDuringFaults)

	eventually(t, 120*time.Second, "20,000 documents indexed after recovery", func() bool {
		return p.metric("weft_opensearch_documents_indexed_total")+p.metric("weft_opensearch_documents_dead_lettered_total") >= n
	})
	recovered := time.Since(faultStart)
	time.Sleep(500 * time.Millisecond) // anything still being (wrongly) resent

	os_.refresh(idx)
	count := os_.count(idx, "")
	var agg struct {
		Aggregations struct {
			Dups struct {
				Buckets []struct {
					Key      float64 `json:"key"`
					DocCount int     `json:"doc_count"`
				} `json:"buckets"`
			} `json:"dups"`
			Distinct struct {
				Value float64 `json:"value"`
			} `json:"distinct"`
			Min struct{ Value float64 } `json:"min"`
			Max struct{ Value float64 } `json:"max"`
		} `json:"aggregations"`
	}
	os_.json("POST", "/"+idx+"/_search", `{"size":0,"aggs":{
		"dups":{"terms":{"field":"n","min_doc_count":2,"size":20}},
		"distinct":{"cardinality":{"field":"n","precision_threshold":40000}},
		"min":{"min":{"field":"n"}},"max":{"max":{"field":"n"}}}}`, &agg)
	a := agg.Aggregations
	if len(a.Dups.Buckets) > 0 {
		t.Errorf("duplicated documents (n: count): %v", a.Dups.Buckets)
	}
	if count != n || a.Min.Value != 0 || a.Max.Value != n-1 {
		t.Errorf("%d documents with n in [%v, %v], want %d in [0, %d]", count, a.Min.Value, a.Max.Value, n, n-1)
	}
	if count == n && len(a.Dups.Buckets) == 0 {
		// n integer, no duplicates, n documents, all in [0, n-1]: each n once
		t.Logf("all %d documents once (cardinality estimate %v)", n, a.Distinct.Value)
	} else {
		missing := []int{}
		for _, chunkStart := range []int{0, n / 4, n / 2, 3 * n / 4} {
			c := os_.count(idx, fmt.Sprintf(`{"query":{"range":{"n":{"gte":%d,"lt":%d}}}}`, chunkStart, chunkStart+n/4))
			missing = append(missing, n/4-c)
		}
		t.Errorf("per chunk of %d, missing (negative: extra): %v", n/4, missing)
	}
	if withID {
		// the IDs are the n values
		var d struct {
			Found bool `json:"found"`
		}
		os_.json("GET", "/"+idx+"/_doc/12345", "", &d)
		if !d.Found {
			t.Errorf("document _id 12345 not found: document_id ${/n} not applied")
		}
	}

	_, m := p.get("/metrics")
	indexed := sumMetric(m, "weft_opensearch_documents_indexed_total")
	retried := sumMetric(m, "weft_opensearch_documents_retried_total")
	t.Logf("recovered and complete %v after the faults began; indexed=%v retried=%v; mean bulk latency %.3fs; requests: %s", recovered.Round(time.Millisecond), indexed, retried,
		sumMetric(m, "weft_opensearch_bulk_duration_seconds_sum")/sumMetric(m, "weft_opensearch_bulk_duration_seconds_count"),
		strings.ReplaceAll(osGrep(m, "weft_opensearch_bulk_requests_total"), "\n", "; "))
	if indexed != n {
		t.Errorf("weft_opensearch_documents_indexed_total = %v, want %d", indexed, n)
	}
	if dl := sumMetric(m, "weft_opensearch_documents_dead_lettered_total"); dl != 0 {
		t.Errorf("%v documents dead-lettered: %s", dl, osLogTail(osReadIfExists(dlq), 2000))
	}
	if f := sumMetric(m, "weft_opensearch_documents_failed_total"); f != 0 {
		t.Errorf("%v documents failed", f)
	}
	if retried < float64(stats.ItemsRejected) {
		t.Errorf("retried = %v, but the proxy rejected %d items alone", retried, stats.ItemsRejected)
	}
	for _, status := range []string{"429", "503", "error"} {
		if sumMetric(m, "weft_opensearch_bulk_requests_total", `status="`+status+`"`) == 0 {
			t.Errorf(`weft_opensearch_bulk_requests_total{status=%q} is 0`, status)
		}
	}
	if sumMetric(m, "weft_opensearch_buffered_documents") != 0 || sumMetric(m, "weft_opensearch_inflight_requests") != 0 {
		t.Errorf("sink not idle after delivering everything: %s", osGrep(m, "weft_opensearch_buffered_documents"))
	}
	p.sigtermAndWait()
}

func osReadIfExists(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// 4b. OpenSearch down for a while with a small max_buffered: the sink pushes
// back on the pipeline instead of growing, memory stays bounded, and
// everything is delivered once it is back.
func TestOpenSearchDownPushesBackWithBoundedMemory(t *testing.T) {
	os_ := newOS(t)
	idx := "e2e-" + osRunID() + "-down"
	os_.deleteAfter(idx)
	// the padding is stored, not analysed: OpenSearch catches up faster
	os_.json("PUT", "/"+idx, `{"mappings":{"properties":{"n":{"type":"long"},"pad":{"type":"object","enabled":false}}}}`, nil)
	proxy := newFaultProxy(t, os_.base, nil)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	writeFile(t, in, "")
	const bufferSize, batchSize, maxBuffered = 1000, 200, 500
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
p:
  delay: 20
  workers: 1
  buffer: {bounded_blocking: {buffer_size: %d, batch_size: %d}}
  source:
    file: {path: %q, format: json, mode: follow, poll_interval: 50ms, batch_size: 100}
  sink:
    - opensearch:
        hosts: [%q]
        index: %s
        max_documents: 250
        flush_timeout: 100ms
        max_inflight: 2
        max_buffered: %d
        max_retries: 1000
        initial_backoff: 50ms
        max_backoff: 500ms
`, bufferSize, batchSize, in, proxy.URL, idx, maxBuffered))
	p := startWeftWithEnv(t, cfg, nil)
	p.waitReady(20 * time.Second)
	pid := p.cmd.Process.Pid
	baseRSS := rssKiB(pid)

	// OpenSearch goes away (connections dropped, every request)
	proxy.setPlan(faultPlan{AllPaths: true, Down: true})
	// 30,000 documents of ~1 KiB: 30 MB, far more than the limits hold
	const n = 30000
	pad := strings.Repeat("x", 1000)
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"n":%d,"pad":"%s-%d"}`+"\n", i, pad, i)
	}
	osAppend(t, in, b.String())
	b = strings.Builder{}

	maxRSS, maxIn, maxBuf, maxHeap := 0, 0.0, 0.0, 0.0
	readyDown := false
	downFor := 8 * time.Second
	deadline := time.Now().Add(downFor)
	for time.Now().Before(deadline) {
		if r := rssKiB(pid); r > maxRSS {
			maxRSS = r
		}
		_, m := p.get("/metrics")
		if v := sumMetric(m, "weft_pipeline_events_in_total"); v > maxIn {
			maxIn = v
		}
		if v := sumMetric(m, "weft_opensearch_buffered_documents"); v > maxBuf {
			maxBuf = v
		}
		if v := sumMetric(m, "go_memstats_heap_inuse_bytes"); v > maxHeap {
			maxHeap = v
		}
		if code, _ := p.get("/readyz"); code != 200 {
			readyDown = true
		}
		time.Sleep(200 * time.Millisecond)
	}
	stats, _ := proxy.snapshot()
	t.Logf("down for %v: RSS %d KiB at start, at most %d KiB (Go heap in use at most %.1f MiB); at most %v events read, %v held by the sink; proxy %+v",
		downFor, baseRSS, maxRSS, maxHeap/(1<<20), maxIn, maxBuf, stats)
	if stats.Drops == 0 {
		t.Fatal("no request reached the proxy while it was down")
	}
	// what can be held: the buffer, one worker batch and the sink's buffer
	// (1,700), plus slack for a source batch the buffer accepts whole
	if limit := float64(bufferSize + batchSize + maxBuffered + 300); maxIn > limit {
		t.Errorf("the source read %v events while OpenSearch was down; at most %v fit (no push-back)", maxIn, limit)
	}
	if maxBuf > maxBuffered {
		t.Errorf("the sink held %v documents, max_buffered is %d", maxBuf, maxBuffered)
	}
	// The binary is built with the race detector, whose shadow memory is
	// most of the RSS (~50 MiB idle); the Go heap is the sink's own share.
	// Without push-back the 30 MB read would take well over 100 MiB of heap.
	// RSS under the race detector varies with its shadow memory and the GC's
	// timing; a generous bound still catches unbounded growth (30 MB read
	// whole would be far above it), and the heap bound below is the tight one.
	if maxRSS > 256*1024 {
		t.Errorf("RSS reached %d KiB while OpenSearch was down (limit 256 MiB under -race)", maxRSS)
	}
	if maxHeap > 64<<20 {
		t.Errorf("Go heap in use reached %.1f MiB while OpenSearch was down (limit 64 MiB)", maxHeap/(1<<20))
	}
	if !readyDown {
		t.Errorf("/readyz stayed 200 for %v while OpenSearch was unreachable", downFor)
	}

	// back: everything is delivered, once
	proxy.recover()
	back := time.Now()
	eventually(t, 180*time.Second, "30,000 documents indexed after OpenSearch came back", func() bool {
		return p.metric("weft_opensearch_documents_indexed_total") >= n
	})
	t.Logf("caught up %v after OpenSearch came back", time.Since(back).Round(time.Millisecond))
	eventually(t, 30*time.Second, "/readyz 200 again", func() bool { c, _ := p.get("/readyz"); return c == 200 })
	os_.refresh(idx)
	if c := os_.count(idx, ""); c != n {
		t.Errorf("%d documents indexed, want %d", c, n)
	}
	if r := rssKiB(pid); r > 256*1024 {
		t.Errorf("RSS %d KiB after catching up (limit 256 MiB under -race)", r)
	}
	_, m := p.get("/metrics")
	if h := sumMetric(m, "go_memstats_heap_inuse_bytes"); h > 64<<20 {
		t.Errorf("Go heap in use %.1f MiB after catching up (limit 64 MiB)", h/(1<<20))
	}
	if sumMetric(m, "weft_opensearch_documents_retried_total") == 0 || sumMetric(m, "weft_opensearch_bulk_requests_total", `status="error"`) == 0 {
		t.Errorf("retries not counted: %s", osGrep(m, "weft_opensearch_"))
	}
	if f := sumMetric(m, "weft_opensearch_documents_failed_total"); f != 0 {
		t.Errorf("%v documents failed", f)
	}
	p.sigtermAndWait()
}

// 5. TLS with a self-signed CA, basic auth and SigV4, checked at the proxy.
func TestOpenSearchTLSAndAuth(t *testing.T) {
	base := osURL(t)
	rid := osRunID()
	dir := t.TempDir()
	ca := newTestCA(t, dir, "e2e-ca")
	otherCA := newTestCA(t, dir, "other-ca")
	serverCert := ca.serverCert(t)
	os_ := newOS(t)
	os_.deleteAfter("e2e-" + rid + "-*")

	// run starts weft with the sink options against proxy, writes 20
	// documents and returns the agent.
	run := func(t *testing.T, name string, proxy *faultProxy, opts string, env []string) (*agentProc, string, string) {
		idx := "e2e-" + rid + "-" + name
		d := t.TempDir()
		in, dlq := filepath.Join(d, "in.ndjson"), filepath.Join(d, "dlq.ndjson")
		var b strings.Builder
		for i := 0; i < 20; i++ {
			fmt.Fprintf(&b, `{"n":%d,"case":%q}`+"\n", i, name)
		}
		writeFile(t, in, b.String())
		cfg := filepath.Join(d, "p.yaml")
		writeFile(t, cfg, followPipeline("p", in, osIndent(fmt.Sprintf(`
hosts: [%q]
index: %s
flush_timeout: 100ms
dlq_file: %q
%s`, proxy.URL, idx, dlq, opts))))
		return startWeftWithEnv(t, cfg, env), idx, dlq
	}
	delivered := func(t *testing.T, p *agentProc, idx string) {
		t.Helper()
		p.waitReady(30 * time.Second)
		eventually(t, 60*time.Second, "20 documents indexed", func() bool {
			return p.metric("weft_opensearch_documents_indexed_total") >= 20
		})
		os_ := newOS(t)
		os_.refresh(idx)
		if c := os_.count(idx, ""); c != 20 {
			t.Fatalf("%d documents in %s, want 20", c, idx)
		}
	}
	// bulkHeaders returns the headers of the bulk requests the proxy saw.
	bulkHeaders := func(t *testing.T, proxy *faultProxy) []http.Header {
		t.Helper()
		_, reqs := proxy.snapshot()
		var hs []http.Header
		for _, r := range reqs {
			if strings.HasSuffix(r.Path, "/_bulk") {
				hs = append(hs, r.Header)
			}
		}
		if len(hs) == 0 {
			t.Fatalf("the proxy saw no bulk request: %v", reqs)
		}
		return hs
	}

	t.Run("tls_with_ca", func(t *testing.T) {
		t.Parallel()
		proxy := newFaultProxy(t, base, &serverCert)
		p, idx, _ := run(t, "tlsca", proxy, fmt.Sprintf("cert: %q\n", ca.PEMPath), nil)
		delivered(t, p, idx)
		if !strings.HasPrefix(proxy.URL, "https://") {
			t.Fatal("proxy is not HTTPS")
		}
		p.sigtermAndWait()
	})
	t.Run("tls_insecure", func(t *testing.T) {
		t.Parallel()
		proxy := newFaultProxy(t, base, &serverCert)
		p, idx, _ := run(t, "tlsinsecure", proxy, "insecure: true\n", nil)
		delivered(t, p, idx)
		p.sigtermAndWait()
	})
	t.Run("tls_wrong_ca", func(t *testing.T) {
		t.Parallel()
		proxy := newFaultProxy(t, base, &serverCert)
		p, idx, dlq := run(t, "tlswrongca", proxy, fmt.Sprintf("cert: %q\nmax_retries: 2\ninitial_backoff: 10ms\nmax_backoff: 50ms\n", otherCA.PEMPath), nil)
		// not delivered: either the agent refuses to start, or it holds
		// the documents with the cluster counted unreachable, or they end
		// in the dead-letter file after their retries; never in
		// OpenSearch, and no HTTP request gets through the TLS handshake.
		outcome := ""
		deadline := time.Now().Add(30 * time.Second)
		for outcome == "" && time.Now().Before(deadline) {
			select {
			case <-p.done:
				outcome = fmt.Sprintf("exited with %d", p.cmd.ProcessState.ExitCode())
				p.done <- nil // for the cleanup
			default:
			}
			if outcome == "" && len(strings.TrimSpace(osReadIfExists(dlq))) > 0 {
				eventually(t, 30*time.Second, "20 dead letters", func() bool { return countLines(dlq) == 20 })
				outcome = "dead-lettered"
			}
			time.Sleep(100 * time.Millisecond)
		}
		if outcome == "" {
			// held: the sink counts the cluster as unreachable and keeps
			// the documents (readiness stays up while its buffer absorbs
			// the outage)
			if _, body := p.get("/metrics"); strings.Contains(body, "weft_opensearch_reachable") && sumMetric(body, "weft_opensearch_reachable") == 0 {
				outcome = fmt.Sprintf("held as unreachable (%v documents buffered)", sumMetric(body, "weft_opensearch_buffered_documents"))
			}
		}
		if outcome == "" {
			t.Fatalf("with a CA that did not sign the server's certificate, weft neither failed, nor dead-lettered, nor counted the cluster unreachable")
		}
		t.Logf("wrong CA: %s", outcome)
		if !strings.Contains(p.stderr.String(), "certificate") {
			t.Errorf("the log does not explain the certificate problem:\n%s", osLogTail(p.stderr.String(), 3000))
		}
		if stats, _ := proxy.snapshot(); stats.Requests != 0 {
			t.Errorf("%d requests got through a TLS handshake that should fail", stats.Requests)
		}
		if outcome == "dead-lettered" {
			// after max_retries (2) resends each: never answered (status 0)
			for _, dl := range readNDJSON(t, dlq) {
				if dl["index"] != idx || dl["document"] == nil || dl["status"] != 0.0 {
					t.Fatalf("dead letter: %v", dl)
				}
			}
			if r := p.metric("weft_opensearch_documents_retried_total"); r != 40 {
				t.Errorf("retried = %v, want 40 (20 documents, max_retries 2)", r)
			}
			if dl := p.metric("weft_opensearch_documents_dead_lettered_total"); dl != 20 {
				t.Errorf("dead-lettered = %v, want 20", dl)
			}
			p.sigtermAndWait()
		}
		if code, _ := newOS(t).do("GET", "/"+idx+"/_count", ""); code != 404 {
			t.Errorf("index %s exists: something was delivered", idx)
		}
	})
	t.Run("basic_auth", func(t *testing.T) {
		t.Parallel()
		proxy := newFaultProxy(t, base, &serverCert)
		proxy.setAuthHandling(true, false)
		p, idx, _ := run(t, "basic", proxy, fmt.Sprintf("cert: %q\nusername: weft-writer\npassword: \"${E2E_OS_PASSWORD}\"\n", ca.PEMPath),
			[]string{"E2E_OS_PASSWORD=s3cr3t:pa ss"})
		delivered(t, p, idx)
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("weft-writer:s3cr3t:pa ss"))
		_, reqs := proxy.snapshot()
		for _, r := range reqs {
			if got := r.Header.Get("Authorization"); got != want {
				t.Fatalf("%s %s: Authorization %q, want %q", r.Method, r.Path, got, want)
			}
		}
		bulkHeaders(t, proxy)
		if strings.Contains(p.stderr.String(), "s3cr3t") {
			t.Errorf("the password appears in the log")
		}
		p.sigtermAndWait()
	})
	sigv4 := func(t *testing.T, name, opts, service string) {
		proxy := newFaultProxy(t, base, &serverCert)
		proxy.setAuthHandling(true, true)
		const keyID, secret = "AKIAE2ETESTKEY000001", "e2eSecretKey/with+chars0000000000000000"
		env := []string{
			"AWS_ACCESS_KEY_ID=" + keyID, "AWS_SECRET_ACCESS_KEY=" + secret,
			"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_REGION=", "AWS_DEFAULT_REGION=",
			"AWS_CONFIG_FILE=" + filepath.Join(dir, "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "no-aws-credentials"),
			"AWS_EC2_METADATA_DISABLED=true",
		}
		p, idx, _ := run(t, name, proxy, fmt.Sprintf("cert: %q\n%s", ca.PEMPath, opts), env)
		delivered(t, p, idx)
		authRe := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=` + keyID + `/(\d{8})/us-east-1/` + service + `/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)
		_, reqs := proxy.snapshot()
		bulks := 0
		for _, r := range reqs {
			auth := r.Header.Get("Authorization")
			m := authRe.FindStringSubmatch(auth)
			if m == nil {
				t.Fatalf("%s %s: Authorization %q is not a SigV4 header for %s in us-east-1", r.Method, r.Path, auth, service)
			}
			amzDate := r.Header.Get("X-Amz-Date")
			if !regexp.MustCompile(`^\d{8}T\d{6}Z$`).MatchString(amzDate) || amzDate[:8] != m[1] {
				t.Fatalf("%s %s: X-Amz-Date %q does not match the credential date %s", r.Method, r.Path, amzDate, m[1])
			}
			signed := strings.Split(m[2], ";")
			if !osHas(signed, "host") || !osHas(signed, "x-amz-date") {
				t.Fatalf("%s %s: SignedHeaders %q lack host or x-amz-date", r.Method, r.Path, m[2])
			}
			if ts, _ := time.Parse("20060102T150405Z", amzDate); time.Since(ts) > 10*time.Minute || time.Until(ts) > 5*time.Minute {
				t.Fatalf("X-Amz-Date %s is not now", amzDate)
			}
			// the signed payload hash is the body that arrived (gzip included)
			if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
				if sum := sha256.Sum256(r.Body); h != hex.EncodeToString(sum[:]) {
					t.Fatalf("%s %s: X-Amz-Content-Sha256 %s is not the body's hash", r.Method, r.Path, h)
				}
			} else if service == "aoss" {
				t.Fatalf("%s %s: no X-Amz-Content-Sha256 (OpenSearch Serverless requires it)", r.Method, r.Path)
			}
			// the signature is right: recompute it from what arrived
			if want := sigV4Signature(r, m[2], secret, "us-east-1", service); want != m[3] {
				t.Fatalf("%s %s: signature %s, recomputed %s (SignedHeaders %s)", r.Method, r.Path, m[3], want, m[2])
			}
			if strings.HasSuffix(r.Path, "/_bulk") {
				bulks++
			}
		}
		if bulks == 0 {
			t.Fatal("no bulk request reached the proxy")
		}
		p.sigtermAndWait()
	}
	t.Run("sigv4_es", func(t *testing.T) {
		t.Parallel()
		sigv4(t, "sigv4es", "aws: {region: us-east-1}\n", "es")
	})
	t.Run("sigv4_serverless", func(t *testing.T) {
		t.Parallel()
		sigv4(t, "sigv4aoss", "aws: {region: us-east-1, serverless: true}\n", "aoss")
	})
}

func osHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sigV4Signature recomputes an AWS Signature Version 4 from a request as it
// arrived (headers and body), for the headers it signed.
func sigV4Signature(r recordedRequest, signedHeaders, secret, region, service string) string {
	amzDate := r.Header.Get("X-Amz-Date")
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		sum := sha256.Sum256(r.Body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	// canonical query: keys and values URI-encoded, sorted
	q, _ := url.ParseQuery(r.Query)
	var qs []string
	for k, vs := range q {
		for _, v := range vs {
			qs = append(qs, awsEscape(k)+"="+awsEscape(v))
		}
	}
	sort.Strings(qs)
	var ch strings.Builder
	for _, h := range strings.Split(signedHeaders, ";") {
		var v string
		if h == "host" {
			v = r.Host
		} else {
			v = strings.Join(r.Header.Values(h), ",")
		}
		ch.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	path := r.Path
	if path == "" {
		path = "/"
	}
	var segs []string
	for _, s := range strings.Split(path, "/") {
		segs = append(segs, awsEscape(s))
	}
	canonical := strings.Join([]string{r.Method, strings.Join(segs, "/"), strings.Join(qs, "&"), ch.String(), signedHeaders, payloadHash}, "\n")
	day := amzDate[:8]
	scope := day + "/" + region + "/" + service + "/aws4_request"
	ch256 := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(ch256[:])
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+secret), day)
	k = mac(k, region)
	k = mac(k, service)
	k = mac(k, "aws4_request")
	return hex.EncodeToString(mac(k, toSign))
}

func awsEscape(s string) string {
	var b bytes.Buffer
	for _, c := range []byte(s) {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
