package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// Single documents against single queries: the edges of each clause.
func TestClauseSemantics(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		query, doc string
		want       bool
	}{
		// match: analysis
		{`{"match": {"m": "istanbul"}}`, `{"m": "Visited İSTANBUL"}`, true},
		{`{"match": {"m": "MÜNCHEN"}}`, `{"m": "Grüße aus München"}`, true},
		{`{"match": {"m": "a b c d e f g h i j münchen"}}`, `{"m": "Grüße aus München"}`, true}, // many terms: map lookup
		{`{"match": {"m": {"query": "a b c d e f g h i j münchen", "operator": "and"}}}`, `{"m": "Grüße aus München"}`, false},
		{`{"match": {"m": "foo:bar"}}`, `{"m": "key foo:bar"}`, true},
		{`{"match": {"m": "foo"}}`, `{"m": "key foo:bar"}`, false}, // foo:bar is one term
		{`{"match": {"m": "bar"}}`, `{"m": "x-b3-traceid:[bar]"}`, true},
		{`{"match": {"m": "中"}}`, `{"m": "中文"}`, true},                                           // ideographs are one term each
		{`{"match": {"m": {"query": "a b", "operator": "and"}}}`, `{"m": ["a x", "y b"]}`, true}, // terms of all values
		{`{"match": {"m": {"query": "a a", "operator": "and"}}}`, `{"m": "a"}`, true},            // repeated query terms
		{`{"match": {"m": {"query": "a b c", "minimum_should_match": "-1"}}}`, `{"m": "a c"}`, true},
		{`{"match": {"m": {"query": "a b c", "minimum_should_match": "100%"}}}`, `{"m": "a c"}`, false},
		{`{"match": {"m": "!!!"}}`, `{"m": "!!!"}`, false},
		{`{"match": {"m": {"query": "!!!", "zero_terms_query": "all"}}}`, `{"other": 1}`, true},
		{`{"match": {"ok": "true"}}`, `{"ok": true}`, true},
		{`{"match": {"ok": true}}`, `{"ok": "it is true"}`, true},
		{`{"match": {"n": 1.5}}`, `{"n": 1.50}`, true},
		{`{"match": {"n": "1.5 2"}}`, `{"n": 1.5}`, false}, // a number is compared whole
		{`{"match": {"m.keyword": "Error Here"}}`, `{"m": "Error Here"}`, true},
		{`{"match": {"m.keyword": "error"}}`, `{"m": "Error Here"}`, false},
		// match_phrase
		{`{"match_phrase": {"m": "a a b"}}`, `{"m": "a a a b"}`, true},
		{`{"match_phrase": {"m": "a b"}}`, `{"m": "b a"}`, false},
		{`{"match_phrase": {"m": "a b"}}`, `{"m": ["x a", "b y"]}`, false}, // not across values
		{`{"match_phrase": {"m": "Connection Refused"}}`, `{"m": "ERROR: connection, refused!"}`, true},
		// term, terms
		{`{"term": {"s": 200}}`, `{"s": "200"}`, true},
		{`{"term": {"s": "200"}}`, `{"s": 200}`, true},
		{`{"term": {"s": 200}}`, `{"s": 200.0}`, true},
		{`{"term": {"s": 9007199254740993}}`, `{"s": 9007199254740992}`, false}, // integers stay exact
		{`{"term": {"b": true}}`, `{"b": "true"}`, true},
		{`{"term": {"b": "false"}}`, `{"b": false}`, true},
		{`{"term": {"m": "Error"}}`, `{"m": "error"}`, false},
		{`{"terms": {"s": []}}`, `{"s": 1}`, false},
		{`{"terms": {"s": ["a", 2, true]}}`, `{"s": [false, "2"]}`, true},
		{`{"term": {"x.keyword": "` + long + `"}}`, `{"x": "` + long + `"}`, false}, // above ignore_above
		{`{"term": {"x": "` + long + `"}}`, `{"x": "` + long + `"}`, true},
		{`{"term": {"x.keyword": "v"}}`, `{"x": {"keyword": "v"}}`, true}, // a real keyword key wins
		{`{"term": {"n.keyword": 5}}`, `{"n": 5}`, false},                 // numbers have no .keyword
		// fields
		{`{"term": {"a.b.c": 1}}`, `{"a": {"b.c": 1}}`, true},
		{`{"term": {"a.b.c": 1}}`, `{"a.b": {"c": 1}}`, true},
		{`{"term": {"a.b.c": 1}}`, `{"a": [{"b": [{"c": [0, [1]]}]}]}`, true},
		{`{"term": {"a.b": 1}}`, `{"a": {"b": {"c": 1}}}`, false},
		{`{"term": {"a": 1}}`, `{"a.b": 1}`, false},
		// exists
		{`{"exists": {"field": "a"}}`, `{"a": ""}`, true},
		{`{"exists": {"field": "a"}}`, `{"a": [null, "x"]}`, true},
		{`{"exists": {"field": "a"}}`, `{"a": [null]}`, false},
		{`{"exists": {"field": "a"}}`, `{"a": {}}`, false},
		{`{"exists": {"field": "a"}}`, `{"a": {"b": null}}`, false},
		{`{"exists": {"field": "a"}}`, `{"a": {"b": [{"c": 0}]}}`, true},
		{`{"exists": {"field": "a"}}`, `{"a.b": false}`, true}, // a sub-field written with a dot
		{`{"exists": {"field": "a.b"}}`, `{"a": {"b.c": 1}}`, true},
		{`{"exists": {"field": "a.b"}}`, `{"a": {"bc": 1}}`, false},
		// range
		{`{"range": {"n": {}}}`, `{"n": 1}`, true},
		{`{"range": {"n": {}}}`, `{"n": true}`, false},
		{`{"range": {"n": {"gt": 1, "lt": 3}}}`, `{"n": [0, 5]}`, false}, // one value must be in range
		{`{"range": {"n": {"gt": 1, "lt": 3}}}`, `{"n": [0, 2]}`, true},
		{`{"range": {"n": {"gte": "10"}}}`, `{"n": "9"}`, false}, // numeric strings compare as numbers
		{`{"range": {"n": {"gte": 10}}}`, `{"n": "abc"}`, false},
		{`{"range": {"n": {"gte": "10"}}}`, `{"n": "abc"}`, true}, // else lexicographic, as a keyword
		{`{"range": {"v": {"gte": "1.10.0"}}}`, `{"v": "1.9.0"}`, true},
		{`{"range": {"t": {"gte": "2024-01-01T00:00:00+01:00"}}}`, `{"t": "2023-12-31T23:30:00Z"}`, true},
		{`{"range": {"t": {"lt": "2024-01-01"}}}`, `{"t": "2023-12-31 23:59:59"}`, true},
		{`{"range": {"t": {"lte": "2024-01"}}}`, `{"t": "2024-01-01T23:00:00Z"}`, true}, // missing day: 01, time: end of day
		{`{"range": {"t": {"lte": "2024-01"}}}`, `{"t": "2024-01-02T00:00:00Z"}`, false},
		{`{"range": {"t": {"gte": "2024-01-01||+1M/M", "lt": "2024-03-01"}}}`, `{"t": "2024-02-10"}`, true},
		{`{"range": {"t": {"gt": "2024-01-01||/M"}}}`, `{"t": "2024-01-31T23:59:59.999Z"}`, false},
		{`{"range": {"t": {"gt": "now-1h"}}}`, `{"t": "2024-03-20T15:00:00Z"}`, true},
		{`{"range": {"t": {"gt": "now-1h"}}}`, `{"t": "2024-03-20T14:00:00Z"}`, false},
		{`{"range": {"t": {"lte": "now/d"}}}`, `{"t": "2024-03-20T23:59:59Z"}`, true},
		{`{"range": {"t": {"lt": "now/d"}}}`, `{"t": "2024-03-20T00:00:00Z"}`, false},
		{`{"range": {"t": {"gte": "now/w"}}}`, `{"t": "2024-03-18T00:00:00Z"}`, true}, // Monday
		{`{"range": {"t": {"gte": "now/w"}}}`, `{"t": "2024-03-17T23:59:59Z"}`, false},
		{`{"range": {"t": {"gte": 1704067200000}}}`, `{"t": "2024-01-01T00:00:00Z"}`, true}, // epoch ms bound
		{`{"range": {"t": {"gte": "2024-01-01"}}}`, `{"t": 1704067200000}`, true},           // epoch ms value
		{`{"range": {"t": {"gte": "2024-01-01"}}}`, `{"t": "1704067199999"}`, false},
		{`{"range": {"y": {"gte": "2020"}}}`, `{"y": 2021}`, true}, // a year-like bound is still a number
		// prefix, wildcard
		{`{"prefix": {"p": "ab"}}`, `{"p": "abc"}`, true},
		{`{"prefix": {"p": "AB"}}`, `{"p": "abc"}`, false},
		{`{"prefix": {"p": {"value": "ÄB", "case_insensitive": true}}}`, `{"p": "äbc"}`, true},
		{`{"prefix": {"p": "1"}}`, `{"p": 12}`, false}, // numbers are not strings
		{`{"wildcard": {"p": "a*b*c"}}`, `{"p": "aXbYbZc"}`, true},
		{`{"wildcard": {"p": "a?c"}}`, `{"p": "aüc"}`, true},
		{`{"wildcard": {"p": "a\\*c"}}`, `{"p": "a*c"}`, true},
		{`{"wildcard": {"p": "a\\*c"}}`, `{"p": "abc"}`, false},
		{`{"wildcard": {"p": "*"}}`, `{"p": ""}`, true},
		{`{"wildcard": {"p": "?"}}`, `{"p": ""}`, false},
		// bool
		{`{"bool": {"must_not": {"match_all": {}}}}`, `{}`, false},
		{`{"bool": {"should": [{"match_none": {}}]}}`, `{}`, false},
		{`{"bool": {"must": {"match_all": {}}, "should": [{"match_none": {}}]}}`, `{}`, true},
		{`{"bool": {"must": {"match_all": {}}, "should": [{"match_none": {}}], "minimum_should_match": 1}}`, `{}`, false},
		{`{"bool": {"should": [{"match_all": {}}], "minimum_should_match": 2}}`, `{}`, false},
		{`{"bool": {"should": [{"match_all": {}}, {"match_none": {}}], "minimum_should_match": "-25%"}}`, `{}`, false},
		{`{"bool": {"should": [{"match_all": {}}, {"match_none": {}}, {"match_all": {}}, {"match_all": {}}], "minimum_should_match": "-25%"}}`, `{}`, true},
		{`{"bool": {"must_not": [{"term": {"a": 1}}], "should": [{"term": {"b": 1}}]}}`, `{"a": 2}`, false}, // should required without must
	}
	for _, tc := range tests {
		q, err := CompileQuery(tc.query)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		doc, err := event.DecodeJSONObject([]byte(tc.doc))
		if err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		if got := q.Match(doc); got != tc.want {
			t.Errorf("%s on %s: %v, want %v", tc.query, tc.doc, got, tc.want)
		}
	}
}

// Dates as they appear in documents (time.Time from sources) compare as
// times.
func TestRangeOnTimeValues(t *testing.T) {
	q, err := CompileQuery(`{"range": {"t": {"gte": "2024-01-01T00:00:00Z", "lt": 1704153600000}}}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		t    time.Time
		want bool
	}{
		{time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC), true},
		{time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), false},
		{time.Date(2023, 12, 31, 23, 0, 0, 0, time.FixedZone("", -3600)), true},
	} {
		if got := q.Match(map[string]any{"t": tc.t}); got != tc.want {
			t.Errorf("%v: %v", tc.t, got)
		}
	}
}

func TestParseDate(t *testing.T) {
	ok := []struct {
		in   string
		want time.Time
	}{
		{"2024", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2024-02", time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"2024-02-29", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"2024-02-29T10", time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC)},
		{"2024-02-29T10:11:12.123456789Z", time.Date(2024, 2, 29, 10, 11, 12, 123456789, time.UTC)},
		{"2024-02-29T10:11:12,5+02:00", time.Date(2024, 2, 29, 8, 11, 12, 500000000, time.UTC)},
		{"2024-02-29T10:11-0130", time.Date(2024, 2, 29, 11, 41, 0, 0, time.UTC)},
		{"2024-02-29 10:11:12+05", time.Date(2024, 2, 29, 5, 11, 12, 0, time.UTC)},
	}
	for _, tc := range ok {
		got, _, valid := parseDate(tc.in, false)
		if !valid || !got.Equal(tc.want) {
			t.Errorf("parseDate(%q) = %v, %v; want %v", tc.in, got, valid, tc.want)
		}
	}
	for _, bad := range []string{"", "202", "20240", "2023-02-29", "2024-13-01", "2024-01-01T24:00", "2024-01-01T10:60",
		"2024-01-01T10:00:00.", "2024-01-01T10:00:00.1234567890", "2024-01-01+01:00", "2024-01-01T10Zx", "abcd", "2024-1-01", "12345"} {
		if _, _, valid := parseDate(bad, false); valid {
			t.Errorf("parseDate(%q) accepted", bad)
		}
	}
	got, _, _ := parseDate("2024-03-05", true)
	if want := time.Date(2024, 3, 5, 23, 59, 59, 999999999, time.UTC); !got.Equal(want) {
		t.Errorf("rounded up: %v", got)
	}
}
