package opensearch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// spanEvent is a Trace Analytics span document as the trace processors
// produce it.
func spanEvent(i int) *event.Event {
	start := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC).Add(time.Duration(i) * time.Millisecond)
	return event.New(event.KindSpan, start, map[string]any{
		"traceId":         "7b084bbca0bade97bdc76741c3973ed6",
		"spanId":          fmt.Sprintf("c1f63e34%08x", i),
		"parentSpanId":    "",
		"name":            "GET /checkout",
		"kind":            "SPAN_KIND_SERVER",
		"serviceName":     "checkout",
		"traceGroup":      "GET /checkout",
		"startTime":       start.Format(time.RFC3339Nano),
		"endTime":         start.Add(1500 * time.Microsecond).Format(time.RFC3339Nano),
		"durationInNanos": int64(1500000),
		"status":          map[string]any{"code": int64(0)},
		"traceGroupFields": map[string]any{
			"endTime": start.Add(1500 * time.Microsecond).Format(time.RFC3339Nano), "durationInNanos": int64(1500000), "statusCode": int64(0),
		},
		"events": []any{map[string]any{"name": "exception", "time": start.Format(time.RFC3339Nano),
			"attributes": map[string]any{"exception@type": "ValueError"}}},
		"links":                            []any{},
		"span.attributes.http@method":      "GET",
		"span.attributes.http@status_code": int64(200),
		"resource.attributes.service@name": "checkout",
	})
}

func findRequest(reqs []recorded, method, path string) *recorded {
	for i := range reqs {
		if reqs[i].Method == method && reqs[i].Path == path {
			return &reqs[i]
		}
	}
	return nil
}

func decodeBody(t *testing.T, r *recorded) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s %s body %q: %v", r.Method, r.Path, r.Body, err)
	}
	return m
}

func noISM(f *fakeOS) {
	f.route("PUT /_plugins/_ism/policies/raw-span-policy", func([]byte) (int, string) {
		return 400, `{"error":"no handler found for uri [/_plugins/_ism/policies/raw-span-policy] and method [PUT]"}`
	})
}

func TestTraceRawBootstrap(t *testing.T) {
	f := newFake(t)
	noISM(f)
	s, reg := newSink(t, f, "index_type: trace-analytics-raw\nflush_timeout: 5ms\n")
	reqs := f.Requests()
	var order []string
	for _, r := range reqs {
		order = append(order, r.Method+" "+r.Path)
	}
	want := []string{
		"PUT /_plugins/_ism/policies/raw-span-policy",
		"GET /_template/otel-v1-apm-span-index-template",
		"PUT /_template/otel-v1-apm-span-index-template",
		"GET /_alias/otel-v1-apm-span",
		"PUT /otel-v1-apm-span-000001",
	}
	if strings.Join(order, "\n") != strings.Join(want, "\n") {
		t.Fatalf("start-up requests\n%s\nwant\n%s", strings.Join(order, "\n"), strings.Join(want, "\n"))
	}
	tmpl := decodeBody(t, findRequest(reqs, "PUT", "/_template/otel-v1-apm-span-index-template"))
	if fmt.Sprint(tmpl["index_patterns"]) != "[otel-v1-apm-span-*]" || tmpl["version"] != 1.0 {
		t.Fatalf("template %v", tmpl)
	}
	if _, ok := tmpl["settings"]; ok {
		t.Fatalf("rollover setting without ISM: %v", tmpl["settings"])
	}
	props := tmpl["mappings"].(map[string]any)["properties"].(map[string]any)
	typeOf := func(path ...string) any {
		m := props
		for _, p := range path[:len(path)-1] {
			m = m[p].(map[string]any)["properties"].(map[string]any)
		}
		return m[path[len(path)-1]].(map[string]any)["type"]
	}
	for _, c := range []struct {
		path []string
		typ  string
	}{
		{[]string{"traceId"}, "keyword"}, {[]string{"spanId"}, "keyword"}, {[]string{"parentSpanId"}, "keyword"},
		{[]string{"name"}, "keyword"}, {[]string{"kind"}, "keyword"}, {[]string{"serviceName"}, "keyword"},
		{[]string{"traceGroup"}, "keyword"}, {[]string{"traceState"}, "keyword"},
		{[]string{"startTime"}, "date_nanos"}, {[]string{"endTime"}, "date_nanos"}, {[]string{"durationInNanos"}, "long"},
		{[]string{"status", "code"}, "integer"},
		{[]string{"traceGroupFields", "endTime"}, "date_nanos"}, {[]string{"traceGroupFields", "durationInNanos"}, "long"},
		{[]string{"traceGroupFields", "statusCode"}, "integer"},
		{[]string{"events"}, "nested"}, {[]string{"links"}, "nested"},
	} {
		if got := typeOf(c.path...); got != c.typ {
			t.Errorf("%s: %v, want %s", strings.Join(c.path, "."), got, c.typ)
		}
	}
	dyn, _ := json.Marshal(tmpl["mappings"].(map[string]any)["dynamic_templates"])
	for _, p := range []string{"span.attributes.*", "resource.attributes.*", "events.attributes.*"} {
		if !strings.Contains(string(dyn), `"path_match":"`+p+`"`) {
			t.Errorf("dynamic_templates lack %s: %s", p, dyn)
		}
	}
	alias := decodeBody(t, findRequest(reqs, "PUT", "/otel-v1-apm-span-000001"))
	if b, _ := json.Marshal(alias); string(b) != `{"aliases":{"otel-v1-apm-span":{"is_write_index":true}}}` {
		t.Fatalf("alias bootstrap body %s", b)
	}

	var tr tracked
	s.Write(context.Background(), tr.events(2, spanEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 2 })
	it := f.Bulks()[0][1]
	if it.Action != "index" || it.Meta["_index"] != "otel-v1-apm-span" || it.Meta["_id"] != "c1f63e3400000001" {
		t.Fatalf("span action %v", it.Meta)
	}
	if it.Source["span.attributes.http@method"] != "GET" {
		t.Fatalf("span source %v", it.Source)
	}
	shutdown(t, s)
	accounting(t, reg, 2)
}

func TestTraceRawBootstrapWithISM(t *testing.T) {
	f := newFake(t)
	f.route("PUT /_plugins/_ism/policies/raw-span-policy", func([]byte) (int, string) { return 201, `{"_id":"raw-span-policy"}` })
	f.route("GET /_alias/otel-v1-apm-span", func([]byte) (int, string) { return 404, `{"error":"alias [otel-v1-apm-span] missing","status":404}` })
	newSink(t, f, "index_type: trace-analytics-raw\n")
	reqs := f.Requests()
	pol := decodeBody(t, findRequest(reqs, "PUT", "/_plugins/_ism/policies/raw-span-policy"))
	if _, ok := pol["policy"].(map[string]any)["states"]; !ok {
		t.Fatalf("policy body %v", pol)
	}
	tmpl := decodeBody(t, findRequest(reqs, "PUT", "/_template/otel-v1-apm-span-index-template"))
	if s := tmpl["settings"].(map[string]any); s[rolloverAliasSetting] != "otel-v1-apm-span" {
		t.Fatalf("template settings %v", s)
	}
	idx := decodeBody(t, findRequest(reqs, "PUT", "/otel-v1-apm-span-000001"))
	if s := idx["settings"].(map[string]any); s[rolloverAliasSetting] != "otel-v1-apm-span" {
		t.Fatalf("index settings %v", s)
	}
}

func TestTemplateUpToDateAndAliasPresent(t *testing.T) {
	f := newFake(t)
	noISM(f)
	f.route("GET /_template/otel-v1-apm-span-index-template", func([]byte) (int, string) {
		return 200, `{"otel-v1-apm-span-index-template":{"order":0,"version":1,"index_patterns":["otel-v1-apm-span-*"]}}`
	})
	f.route("GET /_alias/otel-v1-apm-span", func([]byte) (int, string) {
		return 200, `{"otel-v1-apm-span-000003":{"aliases":{"otel-v1-apm-span":{"is_write_index":true}}}}`
	})
	newSink(t, f, "index_type: trace-analytics-raw\n")
	for _, r := range f.Requests() {
		if r.Method == "PUT" && r.Path != "/_plugins/_ism/policies/raw-span-policy" {
			t.Fatalf("unexpected %s %s", r.Method, r.Path)
		}
	}
}

func TestAliasNameTakenByIndexFailsStart(t *testing.T) {
	f := newFake(t)
	noISM(f)
	f.route("PUT /otel-v1-apm-span-000001", func([]byte) (int, string) {
		return 400, `{"error":{"type":"invalid_alias_name_exception","reason":"Invalid alias name [otel-v1-apm-span], an index exists with the same name as the alias"},"status":400}`
	})
	sk, _, err := pipelinestest.Sink("opensearch", "hosts: ["+f.URL()+"]\nindex_type: trace-analytics-raw\n")
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Shutdown(context.Background())
	err = sk.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "auto-created") {
		t.Fatalf("Start = %v", err)
	}
}

func TestAliasCreatedConcurrently(t *testing.T) {
	f := newFake(t)
	noISM(f)
	gets := 0
	f.route("GET /_alias/otel-v1-apm-span", func([]byte) (int, string) {
		gets++
		if gets == 1 {
			return 404, `{}`
		}
		return 200, `{"otel-v1-apm-span-000001":{"aliases":{"otel-v1-apm-span":{}}}}`
	})
	f.route("PUT /otel-v1-apm-span-000001", func([]byte) (int, string) {
		return 400, `{"error":{"type":"resource_already_exists_exception","reason":"index [otel-v1-apm-span-000001] already exists"},"status":400}`
	})
	newSink(t, f, "index_type: trace-analytics-raw\n")
}

func TestServiceMap(t *testing.T) {
	f := newFake(t)
	f.route("PUT /otel-v1-apm-service-map", func([]byte) (int, string) {
		return 400, `{"error":{"type":"resource_already_exists_exception","reason":"exists"},"status":400}`
	})
	s, _ := newSink(t, f, "index_type: trace-analytics-service-map\nflush_timeout: 5ms\n")
	reqs := f.Requests()
	tmpl := decodeBody(t, findRequest(reqs, "PUT", "/_template/otel-v1-apm-service-map-index-template"))
	if fmt.Sprint(tmpl["index_patterns"]) != "[otel-v1-apm-service-map]" {
		t.Fatalf("template %v", tmpl)
	}
	props := tmpl["mappings"].(map[string]any)["properties"].(map[string]any)
	for _, k := range []string{"hashId", "serviceName", "kind", "traceGroupName"} {
		if props[k].(map[string]any)["type"] != "keyword" {
			t.Fatalf("%s: %v", k, props[k])
		}
	}
	for _, k := range []string{"destination", "target"} {
		sub := props[k].(map[string]any)["properties"].(map[string]any)
		if sub["domain"].(map[string]any)["type"] != "keyword" || sub["resource"].(map[string]any)["type"] != "keyword" {
			t.Fatalf("%s: %v", k, sub)
		}
	}
	if findRequest(reqs, "PUT", "/_plugins/_ism/policies/otel-v1-apm-service-map-policy") != nil {
		t.Fatal("an ISM policy was installed without ism_policy_file")
	}
	var tr tracked
	s.Write(context.Background(), tr.events(1, func(int) *event.Event {
		return event.New(event.KindLog, time.Now(), map[string]any{
			"hashId": "h1", "serviceName": "frontend", "kind": "SPAN_KIND_CLIENT", "traceGroupName": "GET /",
			"destination": map[string]any{"domain": "checkout", "resource": "/pay"},
			"target":      nil,
		})
	}))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 1 })
	it := f.Bulks()[0][0]
	if it.Meta["_index"] != "otel-v1-apm-service-map" || it.Meta["_id"] != "h1" {
		t.Fatalf("service map action %v", it.Meta)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCustomTemplateFile(t *testing.T) {
	mappings := `{"properties":{"status":{"type":"integer"}}}`
	for _, c := range []struct {
		name, file, ttype, path, want string
	}{
		{"v1 from v1 file", `{"version":3,"settings":{"number_of_shards":1},"mappings":` + mappings + `}`, "v1",
			"/_template/logs-index-template",
			`{"index_patterns":["logs-*"],"mappings":{"properties":{"status":{"type":"integer"}}},"settings":{"number_of_shards":1},"version":3}`},
		{"composable from v1 file", `{"order":2,"mappings":` + mappings + `}`, "index-template",
			"/_index_template/logs-index-template",
			`{"index_patterns":["logs-*"],"priority":2,"template":{"mappings":{"properties":{"status":{"type":"integer"}}}}}`},
		{"composable from composable file", `{"index_patterns":["logs-x-*"],"priority":5,"template":{"mappings":` + mappings + `}}`, "index-template",
			"/_index_template/logs-index-template",
			`{"index_patterns":["logs-x-*"],"priority":5,"template":{"mappings":{"properties":{"status":{"type":"integer"}}}}}`},
		{"v1 from composable file", `{"template":{"mappings":` + mappings + `}}`, "v1",
			"/_template/logs-index-template",
			`{"index_patterns":["logs-*"],"mappings":{"properties":{"status":{"type":"integer"}}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			file := writeFile(t, "template.json", c.file)
			newSink(t, f, "index: logs-%{yyyy.MM.dd}\ntemplate_file: "+file+"\ntemplate_type: "+c.ttype+"\n")
			r := findRequest(f.Requests(), "PUT", c.path)
			if r == nil {
				t.Fatalf("no PUT %s in %v", c.path, f.Requests())
			}
			if string(r.Body) != c.want {
				t.Fatalf("body\n got %s\nwant %s", r.Body, c.want)
			}
		})
	}
}

func TestISMPolicyFile(t *testing.T) {
	f := newFake(t)
	f.route("PUT /_plugins/_ism/policies/app-policy", func([]byte) (int, string) {
		return 400, `{"error":"no handler found for uri [/_plugins/_ism/policies/app-policy] and method [PUT]"}`
	})
	file := writeFile(t, "policy.json", `{"description":"d","default_state":"hot","states":[{"name":"hot","actions":[],"transitions":[]}]}`)
	s, _ := newSink(t, f, "index: app-%{yyyy.MM.dd}\nism_policy_file: "+file+"\nflush_timeout: 5ms\n")
	r := findRequest(f.Requests(), "PUT", "/_plugins/_ism/policies/app-policy")
	if r == nil {
		t.Fatal("policy not installed")
	}
	if m := decodeBody(t, r); m["policy"].(map[string]any)["default_state"] != "hot" {
		t.Fatalf("policy body %v", m)
	}
	// Without ISM the sink carries on.
	var tr tracked
	s.Write(context.Background(), tr.events(1, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 1 })
}

func TestISMPolicyRefusedFailsStart(t *testing.T) {
	f := newFake(t)
	f.route("PUT /_plugins/_ism/policies/app-policy", func([]byte) (int, string) {
		return 400, `{"error":{"type":"parse_exception","reason":"bad policy"},"status":400}`
	})
	file := writeFile(t, "policy.json", `{"policy":{}}`)
	sk, _, err := pipelinestest.Sink("opensearch", "hosts: ["+f.URL()+"]\nindex: app\nism_policy_file: "+file+"\n")
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Shutdown(context.Background())
	if err := sk.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "bad policy") {
		t.Fatalf("Start = %v", err)
	}
}

func TestCustomIndexWithoutTemplateSendsNothingAtStart(t *testing.T) {
	f := newFake(t)
	newSink(t, f, "index: logs\n")
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("%d start-up requests", n)
	}
}

func TestBulkSpan(t *testing.T) {
	f := newFake(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSink, "opensearch", "hosts: ["+f.URL()+"]\nindex: logs\nflush_timeout: 5ms\n")
	if err != nil {
		t.Fatal(err)
	}
	set, _ := pipelinestest.Settings("test", "sink/0/opensearch")
	set.Tracer = tp.Tracer("weft")
	sk, err := pipelines.CreateSink("opensearch", set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := sk.(*Sink)
	s.Start(context.Background())
	var tr tracked
	s.Write(context.Background(), tr.events(3, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 3 })
	shutdown(t, s)
	var found bool
	for _, sp := range rec.Ended() {
		if sp.Name() != "weft.opensearch.bulk" {
			continue
		}
		found = true
		attrs := map[string]any{}
		for _, a := range sp.Attributes() {
			attrs[string(a.Key)] = a.Value.AsInterface()
		}
		if attrs["weft.documents"] != int64(3) || attrs["http.response.status_code"] != int64(200) {
			t.Fatalf("span attributes %v", attrs)
		}
	}
	if !found {
		t.Fatal("no weft.opensearch.bulk span")
	}
}
