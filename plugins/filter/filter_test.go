package filter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// fixedNow is the clock of date math in the tests.
var fixedNow = time.Date(2024, 3, 20, 15, 30, 0, 0, time.UTC)

func init() { now = func() time.Time { return fixedNow } }

func has(list []string, s string) bool { return slices.Contains(list, s) }

// hasPhrase reports whether terms holds phrase consecutively.
func hasPhrase(terms, phrase []string) bool {
	for i := 0; i+len(phrase) <= len(terms); i++ {
		if slices.Equal(terms[i:i+len(phrase)], phrase) {
			return true
		}
	}
	return false
}

func statusIs(d tdoc, codes ...int64) bool {
	return d.StatusKind != 0 && slices.Contains(codes, d.Status)
}

func anyOrder(d tdoc, f func(order) bool) bool { return slices.ContainsFunc(d.Orders, f) }

// queryCase is a query and the hand-written predicate that says which
// documents it selects.
type queryCase struct {
	name  string
	query string // JSON
	want  func(d tdoc) bool
	// trivial: the selection may be empty or everything (match_all,
	// match_none); otherwise the test insists on a proper subset, so that
	// every case can fail.
	trivial bool
}

var queryCases = []queryCase{
	{name: "brief: match day_of_week Sunday (analyzed, any case)",
		query: `{"match": {"day_of_week": "Sunday"}}`,
		want:  func(d tdoc) bool { return strings.ToLower(d.Day) == "sunday" }},
	{name: "term is exact and case-sensitive",
		query: `{"term": {"level": "error"}}`,
		want:  func(d tdoc) bool { return d.Level == "error" }},
	{name: "term case_insensitive",
		query: `{"term": {"level": {"value": "Error", "case_insensitive": true}}}`,
		want:  func(d tdoc) bool { return strings.EqualFold(d.Level, "error") }},
	{name: "terms on numbers also matches numeric strings",
		query: `{"terms": {"status": [500, 503]}}`,
		want:  func(d tdoc) bool { return statusIs(d, 500, 503) }},
	{name: "terms on strings",
		query: `{"terms": {"kubernetes.namespace_name": ["dev", "prod-search-eu"], "boost": 2}}`,
		want:  func(d tdoc) bool { return d.HasK8s && (d.NS == "dev" || d.NS == "prod-search-eu") }},
	{name: "range on numbers, gte and lt",
		query: `{"range": {"status": {"gte": 400, "lt": 500}}}`,
		want:  func(d tdoc) bool { return d.StatusKind != 0 && d.Status >= 400 && d.Status < 500 }},
	{name: "range on floats, gt",
		query: `{"range": {"latency_ms": {"gt": 250.5}}}`,
		want:  func(d tdoc) bool { return d.HasLatency && d.Latency > 250.5 }},
	{name: "range on ISO dates with offsets",
		query: `{"range": {"timestamp": {"gte": "2024-02-01T00:00:00Z", "lt": "2024-03-01T00:00:00+00:00"}}}`,
		want: func(d tdoc) bool {
			return d.HasTime && !d.Time.Before(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) && d.Time.Before(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
		}},
	{name: "range lte a date includes the whole day (OpenSearch rounds up)",
		query: `{"range": {"timestamp": {"lte": "2024-01-15"}}}`,
		want: func(d tdoc) bool {
			return d.HasTime && d.Time.Before(time.Date(2024, 1, 16, 0, 0, 0, 0, time.UTC))
		}},
	{name: "range gt a date excludes the whole day",
		query: `{"range": {"timestamp": {"gt": "2024-03-15"}}}`,
		want: func(d tdoc) bool {
			return d.HasTime && !d.Time.Before(time.Date(2024, 3, 16, 0, 0, 0, 0, time.UTC))
		}},
	{name: "range with date math now-7d/d",
		query: `{"range": {"timestamp": {"gte": "now-7d/d"}}}`,
		want: func(d tdoc) bool {
			return d.HasTime && !d.Time.Before(time.Date(2024, 3, 13, 0, 0, 0, 0, time.UTC))
		}},
	{name: "range on epoch milliseconds with a date bound",
		query: `{"range": {"ts_ms": {"lt": "2024-01-20T12:00:00Z"}}}`,
		want: func(d tdoc) bool {
			return d.HasTime && d.Time.Before(time.Date(2024, 1, 20, 12, 0, 0, 0, time.UTC))
		}},
	{name: "range on strings is lexicographic",
		query: `{"range": {"kubernetes.labels.app": {"gte": "cart", "lt": "mailer"}}}`,
		want:  func(d tdoc) bool { return d.HasK8s && d.App >= "cart" && d.App < "mailer" }},
	{name: "exists: null is not a value",
		query: `{"exists": {"field": "customer.email"}}`,
		want:  func(d tdoc) bool { return d.HasCust && d.Email != "" && !d.EmailNull }},
	{name: "must_not exists: absent, [] and [null] have no value",
		query: `{"bool": {"must_not": {"exists": {"field": "tags"}}}}`,
		want:  func(d tdoc) bool { return d.TagsKind != 1 }},
	{name: "term on an array matches any element",
		query: `{"term": {"tags": "beta"}}`,
		want:  func(d tdoc) bool { return d.TagsKind == 1 && has(d.Tags, "beta") }},
	{name: "prefix on nested and flattened keys",
		query: `{"prefix": {"kubernetes.pod_name": "checkout-"}}`,
		want:  func(d tdoc) bool { return d.HasK8s && strings.HasPrefix(d.Pod, "checkout-") }},
	{name: "prefix case_insensitive",
		query: `{"prefix": {"kubernetes.pod_name": {"value": "CHECKOUT", "case_insensitive": true}}}`,
		want:  func(d tdoc) bool { return d.HasK8s && strings.HasPrefix(strings.ToLower(d.Pod), "checkout") }},
	{name: "wildcard with * and ?",
		query: `{"wildcard": {"kubernetes.namespace_name": "prod-*-e?"}}`,
		want: func(d tdoc) bool {
			return d.HasK8s && strings.HasPrefix(d.NS, "prod-") && len(d.NS) >= len("prod--eu") && d.NS[len(d.NS)-3:len(d.NS)-1] == "-e"
		}},
	{name: "wildcard case_insensitive",
		query: `{"wildcard": {"tags": {"value": "B*A", "case_insensitive": true}}}`,
		want: func(d tdoc) bool {
			return d.TagsKind == 1 && slices.ContainsFunc(d.Tags, func(t string) bool { return strings.EqualFold(t, "beta") })
		}},
	{name: "match: any term (or)",
		query: `{"match": {"message": "Payment DECLINED"}}`,
		want:  func(d tdoc) bool { return has(d.Terms, "payment") || has(d.Terms, "declined") }},
	{name: "match operator and",
		query: `{"match": {"message": {"query": "payment declined", "operator": "and"}}}`,
		want:  func(d tdoc) bool { return has(d.Terms, "payment") && has(d.Terms, "declined") }},
	{name: "match minimum_should_match 2 of 3",
		query: `{"match": {"message": {"query": "card timeout cache", "minimum_should_match": 2}}}`,
		want: func(d tdoc) bool {
			n := 0
			for _, t := range []string{"card", "timeout", "cache"} {
				if has(d.Terms, t) {
					n++
				}
			}
			return n >= 2
		}},
	{name: "match: a host name and an IP address are single terms",
		query: `{"match": {"message": "API.example.com 10.0.0.1"}}`,
		want:  func(d tdoc) bool { return has(d.Terms, "api.example.com") || has(d.Terms, "10.0.0.1") }},
	{name: "match: example.com is not a term of api.example.com",
		query: `{"match": {"message": "example.com"}}`,
		want:  func(d tdoc) bool { return false }, trivial: true},
	{name: "match: hyphenated words are separate terms",
		query: `{"match": {"message": {"query": "primary db", "operator": "and"}}}`,
		want:  func(d tdoc) bool { return has(d.Terms, "db") && has(d.Terms, "primary") }},
	{name: "match_phrase: terms in order",
		query: `{"match_phrase": {"message": "card declined"}}`,
		want:  func(d tdoc) bool { return hasPhrase(d.Terms, []string{"card", "declined"}) }},
	{name: "match on a number compares the value",
		query: `{"match": {"status": "404"}}`,
		want:  func(d tdoc) bool { return statusIs(d, 404) }},
	{name: "flattened dotted key in span documents",
		query: `{"term": {"span.attributes.http@method": "POST"}}`,
		want:  func(d tdoc) bool { return d.HTTPMethod == "POST" }},
	{name: "array of objects: term on customer.orders.id",
		query: `{"term": {"customer.orders.id": "o-7"}}`,
		want:  func(d tdoc) bool { return anyOrder(d, func(o order) bool { return o.ID == "o-7" }) }},
	{name: "array of objects: range on any element",
		query: `{"range": {"customer.orders.total": {"gte": 100, "lte": 150}}}`,
		want: func(d tdoc) bool {
			return anyOrder(d, func(o order) bool { return o.Total >= 100 && o.Total <= 150 })
		}},
	{name: ".keyword reads the whole string (exact)",
		query: `{"term": {"level.keyword": "ERROR"}}`,
		want:  func(d tdoc) bool { return d.Level == "ERROR" }},
	{name: "bool: must and filter, should optional beside them",
		query: `{"bool": {"must": [{"terms": {"level": ["error", "ERROR"]}}], "filter": {"range": {"status": {"gte": 500}}}, "should": [{"term": {"tags": "pci"}}]}}`,
		want: func(d tdoc) bool {
			return (d.Level == "error" || d.Level == "ERROR") && d.StatusKind != 0 && d.Status >= 500
		}},
	{name: "bool: should only, one required by default",
		query: `{"bool": {"should": [{"term": {"tags": "pci"}}, {"match": {"message": "timeout"}}]}}`,
		want: func(d tdoc) bool {
			return d.TagsKind == 1 && has(d.Tags, "pci") || has(d.Terms, "timeout")
		}},
	{name: "bool: should with minimum_should_match 2",
		query: `{"bool": {"should": [{"term": {"level": "info"}}, {"range": {"latency_ms": {"lt": 300}}}, {"exists": {"field": "span.attributes.http@method"}}], "minimum_should_match": 2}}`,
		want: func(d tdoc) bool {
			n := 0
			if d.Level == "info" {
				n++
			}
			if d.HasLatency && d.Latency < 300 {
				n++
			}
			if d.HTTPMethod != "" {
				n++
			}
			return n >= 2
		}},
	{name: "bool: minimum_should_match as a percentage (67% of 3 = 2)",
		query: `{"bool": {"should": [{"term": {"level": "info"}}, {"range": {"latency_ms": {"lt": 300}}}, {"exists": {"field": "span.attributes.http@method"}}], "minimum_should_match": "67%"}}`,
		want: func(d tdoc) bool {
			n := 0
			if d.Level == "info" {
				n++
			}
			if d.HasLatency && d.Latency < 300 {
				n++
			}
			if d.HTTPMethod != "" {
				n++
			}
			return n >= 2
		}},
	{name: "bool: nested bool in must_not, with filter",
		query: `{"bool": {"filter": [{"exists": {"field": "kubernetes"}}], "must_not": [{"bool": {"should": [{"prefix": {"kubernetes.namespace_name": "staging"}}, {"term": {"kubernetes.namespace_name": "dev"}}]}}]}}`,
		want: func(d tdoc) bool {
			return d.HasK8s && !strings.HasPrefix(d.NS, "staging") && d.NS != "dev"
		}},
	{name: "a search body's query wrapper is accepted",
		query: `{"query": {"bool": {"must": {"match": {"day_of_week": "monday"}}, "must_not": {"term": {"level": "debug"}}}}}`,
		want:  func(d tdoc) bool { return strings.ToLower(d.Day) == "monday" && d.Level != "debug" }},
	{name: "match_all", query: `{"match_all": {}}`, want: func(tdoc) bool { return true }, trivial: true},
	{name: "match_none", query: `{"match_none": {}}`, want: func(tdoc) bool { return false }, trivial: true},
	{name: "empty bool matches everything", query: `{"bool": {}}`, want: func(tdoc) bool { return true }, trivial: true},
}

func newEvents(docs []tdoc) []*event.Event {
	evs := make([]*event.Event, len(docs))
	for i := range docs {
		evs[i] = event.New(event.KindLog, time.Unix(0, 0), docs[i].fields())
	}
	return evs
}

func ids(evs []*event.Event) []int64 {
	out := make([]int64, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Fields()["id"].(int64))
	}
	return out
}

// jsonOpt quotes JSON for a YAML single-quoted string.
func jsonOpt(q string) string { return "'" + strings.ReplaceAll(q, "'", "''") + "'" }

func TestQueriesAgainstHandWrittenPredicates(t *testing.T) {
	docs := genDocs(200, 1)
	for _, qc := range queryCases {
		t.Run(qc.name, func(t *testing.T) {
			var want, wantDropped []int64
			for _, d := range docs {
				if qc.want(d) {
					want = append(want, d.ID)
				} else {
					wantDropped = append(wantDropped, d.ID)
				}
			}
			if !qc.trivial && (len(want) == 0 || len(wantDropped) == 0) {
				t.Fatalf("the corpus does not exercise this query: %d of %d documents match", len(want), len(docs))
			}
			for _, mode := range []string{"keep", "drop"} {
				p, reg, err := pipelinestest.Processor("filter", fmt.Sprintf("{query: %s, mode: %s}", jsonOpt(qc.query), mode))
				if err != nil {
					t.Fatal(err)
				}
				evs := newEvents(docs)
				out := p.Process(context.Background(), evs)
				expect, dropped := want, wantDropped
				if mode == "drop" {
					expect, dropped = wantDropped, want
				}
				if got := ids(out); !slices.Equal(got, expect) {
					t.Errorf("mode %s: kept %d documents, want %d\n missing %v\n extra %v", mode, len(got), len(expect), minus(expect, got), minus(got, expect))
				}
				if n := pipelinestest.CounterValue(reg, "weft_component_events_dropped_total", "reason", "filter"); int(n) != len(dropped) {
					t.Errorf("mode %s: dropped counter %v, want %d", mode, n, len(dropped))
				}
			}
		})
	}
}

func minus(a, b []int64) []int64 {
	var out []int64
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// The same query written as YAML selects the same documents.
func TestYAMLQueryEqualsJSON(t *testing.T) {
	docs := genDocs(200, 2)
	yamlOpts := `
query:
  bool:
    must:
      - match: {message: {query: "payment declined", operator: or}}
    filter:
      - range: {timestamp: {gte: 2024-02-01, lt: "2024-03-01"}}   # an unquoted YAML date stays text
    must_not:
      - terms: {status: [500, "503"]}
    should:
      - wildcard: {kubernetes.pod_name: "checkout-*"}
      - exists: {field: span.attributes.http@method}
    minimum_should_match: 1
mode: keep
`
	jsonQuery := `{"bool": {"must": [{"match": {"message": {"query": "payment declined", "operator": "or"}}}],
		"filter": [{"range": {"timestamp": {"gte": "2024-02-01", "lt": "2024-03-01"}}}],
		"must_not": [{"terms": {"status": [500, "503"]}}],
		"should": [{"wildcard": {"kubernetes.pod_name": "checkout-*"}}, {"exists": {"field": "span.attributes.http@method"}}],
		"minimum_should_match": 1}}`
	want := func(d tdoc) bool {
		return (has(d.Terms, "payment") || has(d.Terms, "declined")) &&
			d.HasTime && !d.Time.Before(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) && d.Time.Before(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) &&
			!statusIs(d, 500, 503) &&
			(d.HasK8s && strings.HasPrefix(d.Pod, "checkout-") || d.HTTPMethod != "")
	}
	var expect []int64
	for _, d := range docs {
		if want(d) {
			expect = append(expect, d.ID)
		}
	}
	if len(expect) == 0 {
		t.Fatal("the corpus does not exercise the query")
	}
	for name, opts := range map[string]string{
		"yaml":             yamlOpts,
		"json string":      "query: " + jsonOpt(jsonQuery),
		"json block":       "query: |\n  " + strings.ReplaceAll(jsonQuery, "\n", "\n  ") + "\n",
		"json in yaml map": "query: " + strings.ReplaceAll(jsonQuery, "\n\t\t", " "),
	} {
		t.Run(name, func(t *testing.T) {
			p, _, err := pipelinestest.Processor("filter", opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(p.Process(context.Background(), newEvents(docs))); !slices.Equal(got, expect) {
				t.Errorf("kept %v, want %v", got, expect)
			}
		})
	}
}

func TestFilterWhen(t *testing.T) {
	docs := genDocs(200, 3)
	p, reg, err := pipelinestest.Processor("filter", `{query: {term: {level: error}}, filter_when: '/kubernetes/namespace_name == "dev"'}`)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	dropped := 0
	for _, d := range docs {
		// filter_when reads JSON pointers: only the nested form has
		// /kubernetes/namespace_name.
		applies := d.HasK8s && !d.K8sFlat && d.NS == "dev"
		if !applies || d.Level == "error" {
			want = append(want, d.ID)
		} else {
			dropped++
		}
	}
	if dropped == 0 {
		t.Fatal("the corpus does not exercise filter_when")
	}
	if got := ids(p.Process(context.Background(), newEvents(docs))); !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if n := pipelinestest.CounterValue(reg, "weft_component_events_dropped_total", "reason", "filter"); int(n) != dropped {
		t.Errorf("dropped counter %v, want %d", n, dropped)
	}
}

// Dropped events are acknowledged (as a success: dropping was intended);
// kept ones stay pending; the output reuses the input's array.
func TestAcknowledgementsAndOrder(t *testing.T) {
	p, _, err := pipelinestest.Processor("filter", `query: '{"range": {"n": {"gte": 2}}}'`)
	if err != nil {
		t.Fatal(err)
	}
	var acks []bool
	evs := make([]*event.Event, 4)
	for i := range evs {
		evs[i] = event.New(event.KindLog, time.Time{}, map[string]any{"n": int64(i)})
		a := event.NewAcker(func(ok bool) { acks = append(acks, ok) })
		a.Track(evs[i])
		a.Seal()
	}
	first := &evs[0]
	out := p.Process(context.Background(), evs)
	if got := ids2(out); !slices.Equal(got, []int64{2, 3}) {
		t.Fatalf("kept %v", got)
	}
	if &out[0] != first {
		t.Error("the output does not reuse the input array")
	}
	if !slices.Equal(acks, []bool{true, true}) || !out[0].HasAcker() {
		t.Errorf("acknowledgements %v", acks)
	}
}

func ids2(evs []*event.Event) []int64 {
	out := make([]int64, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Fields()["n"].(int64))
	}
	return out
}

// Workers share the processor.
func TestConcurrentUse(t *testing.T) {
	docs := genDocs(50, 4)
	p, reg, err := pipelinestest.Processor("filter", `query: {match: {message: payment}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, d := range docs {
		if !has(d.Terms, "payment") {
			want++
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				p.Process(context.Background(), newEvents(docs))
			}
		}()
	}
	wg.Wait()
	if n := pipelinestest.CounterValue(reg, "weft_component_events_dropped_total", "reason", "filter"); int(n) != want*160 {
		t.Errorf("dropped %v, want %d", n, want*160)
	}
}

// Evaluating term, match, range and exists on existing fields allocates
// nothing.
func TestNoAllocations(t *testing.T) {
	doc := benchDoc()
	for _, q := range []string{
		`{"term": {"level": "error"}}`,
		`{"term": {"kubernetes.namespace_name": "prod"}}`,
		`{"match": {"message": "Connection REFUSED"}}`,
		`{"match": {"message": {"query": "upstream refused timeout", "operator": "and"}}}`,
		`{"match_phrase": {"message": "connection refused"}}`,
		`{"range": {"status": {"gte": 500}}}`,
		`{"range": {"timestamp": {"gte": "2024-01-01", "lt": "now"}}}`,
		`{"exists": {"field": "kubernetes.pod_name"}}`,
		`{"terms": {"level": ["warn", "error"]}}`,
		`{"wildcard": {"host": "web-*"}}`,
		benchQuery,
	} {
		cq, err := CompileQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { cq.Match(doc) }); n != 0 {
			t.Errorf("%s: %v allocations per evaluation", q, n)
		}
	}
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "filter", "README.md")
}
