//go:build integration

// Integration tests against a real OpenSearch. They need the engine's URL
// in WEFT_OPENSEARCH_URL and fail without it (they are never skipped):
//
//	WEFT_OPENSEARCH_URL=$(test/opensearch/start.sh) go test -tags integration ./exporters/opensearch/
package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func engineURL(t *testing.T) string {
	t.Helper()
	u := strings.TrimRight(os.Getenv("WEFT_OPENSEARCH_URL"), "/")
	if u == "" {
		t.Fatal("WEFT_OPENSEARCH_URL is not set: start the engine with URL=$(test/opensearch/start.sh) and export WEFT_OPENSEARCH_URL=$URL")
	}
	return u
}

// osCall sends a request to the engine and decodes the JSON answer.
func osCall(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, m
}

// search refreshes index and returns the hits of query (a JSON body).
func search(t *testing.T, base, index, query string) []map[string]any {
	t.Helper()
	osCall(t, "POST", base+"/"+index+"/_refresh", "")
	status, m := osCall(t, "POST", base+"/"+index+"/_search?size=1000", query)
	if status != 200 {
		t.Fatalf("search %s: %d %v", index, status, m)
	}
	var out []map[string]any
	for _, h := range m["hits"].(map[string]any)["hits"].([]any) {
		out = append(out, h.(map[string]any))
	}
	return out
}

func startSink(t *testing.T, yaml string) (*Sink, *prometheus.Registry) {
	t.Helper()
	sk, reg, err := pipelinestest.Sink("opensearch", "hosts: ["+engineURL(t)+"]\n"+yaml)
	if err != nil {
		t.Fatal(err)
	}
	s := sk.(*Sink)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, reg
}

// deleteAfter removes what a test created in the shared engine.
func deleteAfter(t *testing.T, base string, paths ...string) {
	t.Cleanup(func() {
		for _, p := range paths {
			req, _ := http.NewRequest("DELETE", base+p, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	})
}

func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

func TestIntegrationCustomDateIndex(t *testing.T) {
	base := engineURL(t)
	prefix := uniq("weft-it-logs")
	deleteAfter(t, base, "/"+prefix+"-*")
	s, _ := startSink(t, "index: \""+prefix+"-%{yyyy.MM.dd}\"\ndocument_id: ${/id}\nflush_timeout: 10ms\n")
	day1 := time.Date(2024, 5, 1, 23, 59, 59, 0, time.UTC)
	day2 := day1.Add(2 * time.Second)
	var tr tracked
	evs := tr.events(6, func(i int) *event.Event {
		at := day1
		if i >= 4 {
			at = day2
		}
		return event.New(event.KindLog, at, map[string]any{
			"id": fmt.Sprintf("d%d", i), "message": fmt.Sprintf("line %d", i), "level": "info",
			"kubernetes": map[string]any{"namespace_name": "shop"}, "n": int64(i),
		})
	})
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 6 })
	if _, fail := tr.counts(); fail != 0 {
		t.Fatalf("%d rejected", fail)
	}
	first := search(t, base, prefix+"-2024.05.01", `{"query":{"match_all":{}},"sort":[{"n":"asc"}]}`)
	second := search(t, base, prefix+"-2024.05.02", `{"query":{"match_all":{}}}`)
	if len(first) != 4 || len(second) != 2 {
		t.Fatalf("hits per day: %d and %d, want 4 and 2", len(first), len(second))
	}
	h := first[1]
	src := h["_source"].(map[string]any)
	if h["_id"] != "d1" || src["message"] != "line 1" || src["kubernetes"].(map[string]any)["namespace_name"] != "shop" || src["n"] != 1.0 {
		t.Fatalf("hit %v", h)
	}
	// A field query finds it too.
	if hits := search(t, base, prefix+"-*", `{"query":{"term":{"id.keyword":"d5"}}}`); len(hits) != 1 {
		t.Fatalf("term query: %d hits", len(hits))
	}
}

func TestIntegrationTraceAnalyticsRaw(t *testing.T) {
	base := engineURL(t)
	s, _ := startSink(t, "index_type: trace-analytics-raw\nflush_timeout: 10ms\n")

	// The alias exists and points at a write index.
	status, aliases := osCall(t, "GET", base+"/_alias/otel-v1-apm-span", "")
	if status != 200 {
		t.Fatalf("GET _alias/otel-v1-apm-span: %d %v", status, aliases)
	}
	writeIndex := ""
	for idx, v := range aliases {
		a := v.(map[string]any)["aliases"].(map[string]any)["otel-v1-apm-span"].(map[string]any)
		if a["is_write_index"] == true {
			writeIndex = idx
		}
	}
	if !strings.HasPrefix(writeIndex, "otel-v1-apm-span-") {
		t.Fatalf("no write index behind the alias: %v", aliases)
	}

	traceID := fmt.Sprintf("%032x", time.Now().UnixNano())
	mk := func(i int) *event.Event {
		ev := spanEvent(i)
		ev.Put(event.ParsePath("/traceId"), traceID)
		return ev
	}
	var tr tracked
	s.Write(context.Background(), tr.events(3, mk))
	// The same span again, as a retried request would send it.
	s.Write(context.Background(), tr.events(1, mk))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 4 })

	hits := search(t, base, "otel-v1-apm-span", `{"query":{"term":{"traceId":"`+traceID+`"}}}`)
	if len(hits) != 3 {
		t.Fatalf("%d span documents for 3 distinct span IDs (one sent twice)", len(hits))
	}
	for _, h := range hits {
		if h["_id"] != h["_source"].(map[string]any)["spanId"] {
			t.Fatalf("document _id %v is not the span ID", h["_id"])
		}
	}
	// Nested events are queryable as such.
	nested := search(t, base, "otel-v1-apm-span", `{"query":{"bool":{"filter":[{"term":{"traceId":"`+traceID+`"}},
		{"nested":{"path":"events","query":{"term":{"events.name":"exception"}}}}]}}}`)
	if len(nested) != 3 {
		t.Fatalf("nested query: %d hits", len(nested))
	}
	// date_nanos keeps the nanoseconds.
	exact := search(t, base, "otel-v1-apm-span", `{"query":{"bool":{"filter":[{"term":{"traceId":"`+traceID+`"}},
		{"term":{"startTime":"2024-05-01T10:00:00.123456789Z"}}]}}}`)
	if len(exact) != 1 {
		t.Fatalf("exact date_nanos query: %d hits", len(exact))
	}

	status, mapping := osCall(t, "GET", base+"/otel-v1-apm-span/_mapping", "")
	if status != 200 {
		t.Fatalf("_mapping: %d", status)
	}
	props := mapping[writeIndex].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
	typeAt := func(path ...string) any {
		m := props
		for i, p := range path {
			f, ok := m[p].(map[string]any)
			if !ok {
				return nil
			}
			if i == len(path)-1 {
				return f["type"]
			}
			m, _ = f["properties"].(map[string]any)
		}
		return nil
	}
	for _, c := range []struct {
		path []string
		typ  string
	}{
		{[]string{"traceId"}, "keyword"},
		{[]string{"spanId"}, "keyword"},
		{[]string{"serviceName"}, "keyword"},
		{[]string{"startTime"}, "date_nanos"},
		{[]string{"endTime"}, "date_nanos"},
		{[]string{"durationInNanos"}, "long"},
		{[]string{"status", "code"}, "integer"},
		{[]string{"traceGroupFields", "endTime"}, "date_nanos"},
		{[]string{"events"}, "nested"},
		{[]string{"links"}, "nested"},
		// Dots in "span.attributes.http@method" make objects; the dynamic
		// template maps the leaf as keyword.
		{[]string{"span", "attributes", "http@method"}, "keyword"},
		{[]string{"span", "attributes", "http@status_code"}, "keyword"},
		{[]string{"resource", "attributes", "service@name"}, "keyword"},
		{[]string{"events", "attributes", "exception@type"}, "keyword"},
	} {
		if got := typeAt(c.path...); got != c.typ {
			t.Errorf("mapping of %s: %v, want %s", strings.Join(c.path, "."), got, c.typ)
		}
	}
}

func TestIntegrationServiceMap(t *testing.T) {
	base := engineURL(t)
	s, _ := startSink(t, "index_type: trace-analytics-service-map\nflush_timeout: 10ms\n")
	hash := uniq("hash")
	var tr tracked
	for round := 0; round < 2; round++ {
		s.Write(context.Background(), tr.events(1, func(int) *event.Event {
			return event.New(event.KindLog, time.Now(), map[string]any{
				"hashId": hash, "serviceName": "frontend", "kind": "SPAN_KIND_CLIENT", "traceGroupName": "GET /",
				"destination": map[string]any{"domain": "checkout", "resource": "/pay"},
				"target":      map[string]any{"domain": "checkout", "resource": "POST /pay"},
			})
		}))
	}
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 2 })
	if hits := search(t, base, ServiceMapIndex, `{"query":{"term":{"hashId":"`+hash+`"}}}`); len(hits) != 1 {
		t.Fatalf("%d documents for one hashId sent twice", len(hits))
	}
	_, mapping := osCall(t, "GET", base+"/"+ServiceMapIndex+"/_mapping", "")
	props := mapping[ServiceMapIndex].(map[string]any)["mappings"].(map[string]any)["properties"].(map[string]any)
	if props["destination"].(map[string]any)["properties"].(map[string]any)["domain"].(map[string]any)["type"] != "keyword" {
		t.Fatalf("destination.domain mapping %v", props["destination"])
	}
}

func TestIntegrationPartialFailureDeadLetters(t *testing.T) {
	base := engineURL(t)
	index := uniq("weft-it-conflict")
	deleteAfter(t, base, "/"+index, "/_template/"+index+"-index-template")
	tmpl := writeFile(t, "template.json", `{"version":1,"mappings":{"properties":{"n":{"type":"long"},"id":{"type":"keyword"}}}}`)
	dlq := dlqPath(t)
	s, reg := startSink(t, "index: "+index+"\ntemplate_file: "+tmpl+"\ndocument_id: id\nflush_timeout: 20ms\ndlq_file: "+dlq+"\n")
	var tr tracked
	evs := tr.events(5, func(i int) *event.Event {
		var n any = int64(i)
		if i == 2 {
			n = "not a number" // conflicts with the long mapping
		}
		return event.New(event.KindLog, time.Now(), map[string]any{"id": fmt.Sprintf("p%d", i), "n": n})
	})
	s.Write(context.Background(), evs)
	waitFor(t, "all finalized", func() bool { ok, fail := tr.counts(); return ok+fail == 5 })
	if ok, fail := tr.counts(); ok != 4 || fail != 1 {
		t.Fatalf("indexed %d, refused %d; want 4 and 1", ok, fail)
	}
	hits := search(t, base, index, `{"query":{"match_all":{}}}`)
	if len(hits) != 4 {
		t.Fatalf("%d documents indexed, want the 4 good ones", len(hits))
	}
	for _, h := range hits {
		if h["_id"] == "p2" {
			t.Fatal("the bad document was indexed")
		}
	}
	recs := readDLQ(t, dlq)
	if len(recs) != 1 {
		t.Fatalf("%d dead letters, want exactly the bad one: %v", len(recs), recs)
	}
	r := recs[0]
	e := r["error"].(map[string]any)
	if r["id"] != "p2" || r["index"] != index || r["status"] != 400.0 || e["type"] != "mapper_parsing_exception" ||
		!strings.Contains(e["reason"].(string), "failed to parse field [n]") {
		t.Fatalf("dead letter %v", r)
	}
	if r["document"].(map[string]any)["n"] != "not a number" {
		t.Fatalf("dead letter document %v", r["document"])
	}
	if v := metric(reg, "weft_opensearch_documents_dead_lettered_total"); v != 1 {
		t.Fatalf("dead-lettered %v", v)
	}
	// The template was installed once; a second start leaves it alone.
	status, got := osCall(t, "GET", base+"/_template/"+index+"-index-template", "")
	if status != 200 || got[index+"-index-template"].(map[string]any)["version"] != 1.0 {
		t.Fatalf("template: %d %v", status, got)
	}
}

func TestIntegrationCreateConflictAndComposableTemplate(t *testing.T) {
	base := engineURL(t)
	index := uniq("weft-it-create")
	deleteAfter(t, base, "/"+index, "/_index_template/"+index+"-index-template")
	tmpl := writeFile(t, "template.json", `{"mappings":{"properties":{"id":{"type":"keyword"}}}}`)
	dlq := dlqPath(t)
	s, _ := startSink(t, "index: "+index+"\ntemplate_file: "+tmpl+"\ntemplate_type: index-template\naction: create\ndocument_id: id\nflush_timeout: 10ms\ndlq_file: "+dlq+"\n")
	var tr tracked
	mk := func(int) *event.Event { return event.New(event.KindLog, time.Now(), map[string]any{"id": "same"}) }
	s.Write(context.Background(), tr.events(1, mk))
	waitFor(t, "first", func() bool { ok, _ := tr.counts(); return ok == 1 })
	s.Write(context.Background(), tr.events(1, mk))
	waitFor(t, "conflict", func() bool { _, fail := tr.counts(); return fail == 1 })
	recs := readDLQ(t, dlq)
	if len(recs) != 1 || recs[0]["status"] != 409.0 || recs[0]["error"].(map[string]any)["type"] != "version_conflict_engine_exception" {
		t.Fatalf("dead letters %v", recs)
	}
	status, m := osCall(t, "GET", base+"/_index_template/"+index+"-index-template", "")
	if status != 200 || len(m["index_templates"].([]any)) != 1 {
		t.Fatalf("composable template: %d %v", status, m)
	}
}
