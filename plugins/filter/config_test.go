package filter

import (
	"strings"
	"testing"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// Errors in the query name the file position, the clause path, and a
// suggestion where one is close.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"unknown query type in YAML, with its position",
			"query:\n  bool:\n    must:\n      - match: {a: b}\n      - rnage: {x: {gt: 1}}\n",
			[]string{`test.yaml:5:9: filter: option "query.bool.must[1].rnage": unknown query type "rnage"; did you mean "range"?`}},
		{"unknown query type in a single-quoted JSON string: exact column",
			`query: '{"bool": {"must": [{"match": {"a": "b"}}, {"rnage": {"x": {"gt": 1}}}]}}'`,
			[]string{`test.yaml:1:52: filter: option "query.bool.must[1].rnage": unknown query type "rnage"; did you mean "range"?`}},
		{"JSON in a block string: the position inside the JSON text",
			"query: |\n  {\"bool\": {\"must\": [\n     {\"rnage\": {\"x\": {\"gt\": 1}}}]}}\n",
			[]string{`test.yaml:1:8: filter: option "query.bool.must[0].rnage": unknown query type "rnage"; did you mean "range"? (line 2, column 5 of the JSON text)`}},
		{"misspelt parameter, without a follow-up 'missing' error",
			`query: {match: {message: {qeury: x}}}`,
			[]string{`option "query.match.message.qeury": unknown parameter "qeury"; did you mean "query"?`}},
		{"two query types in one object",
			`query: '{"match": {"a": "b"}, "term": {"c": "d"}}'`,
			[]string{`test.yaml:1:31:`, `option "query.term": a query object holds one query type, and this one already has "match"; combine several with bool`}},
		{"invalid JSON",
			`query: '{"match": {"a": "b"'`,
			[]string{`option "query": invalid JSON: unexpected end of the text`}},
		{"invalid JSON character",
			`query: '{"match": {"a": b}}'`,
			[]string{`test.yaml:1:25:`, `invalid JSON: invalid character 'b'`}},
		{"known but unsupported query type",
			`query: '{"nested": {"path": "events", "query": {"match_all": {}}}}'`,
			[]string{`option "query.nested": query type "nested" is not supported by weft's filter (supported: bool, exists, match, match_all, match_none, match_phrase, prefix, range, term, terms, wildcard)`}},
		{"unsupported parameter",
			`query: {match: {a: {query: x, fuzziness: 2}}}`,
			[]string{`option "query.match.a.fuzziness": parameter "fuzziness" is not supported by weft's filter`}},
		{"gt and gte",
			`query: {range: {a: {gt: 1, gte: 2}}}`,
			[]string{`option "query.range.a.gte": give gt or gte, not both`}},
		{"bad date math",
			`query: {range: {a: {gt: now-1x}}}`,
			[]string{`option "query.range.a.gt": "now-1x": expected a unit (y, M, w, d, h, H, m or s) in date math`}},
		{"bad date before ||",
			`query: {range: {a: {gt: "2024-13-01||+1d"}}}`,
			[]string{`option "query.range.a.gt": "2024-13-01||+1d": the date before || is not an ISO-8601 date`}},
		{"mode", `{query: {match_all: {}}, mode: kep}`,
			[]string{`option "mode": "kep" is not one of keep, drop; did you mean "keep"?`}},
		{"query missing", `mode: drop`,
			[]string{`option "query": required option is missing`}},
		{"query empty", `query:`,
			[]string{`option "query": required option is missing`}},
		{"query is a list", `query: [a]`,
			[]string{`option "query": expected a query: a mapping such as {match: {level: error}}, or a string holding a JSON object`}},
		{"query is a plain word", `query: match_all`,
			[]string{`option "query": expected a query`}},
		{"terms lookup", `query: {terms: {a: {index: i, id: "1"}}}`,
			[]string{`option "query.terms.a": terms lookup (values from another document) is not supported`}},
		{"terms not a list", `query: {terms: {a: x}}`,
			[]string{`option "query.terms.a": expected a list of values, got "x"`}},
		{"empty field part", `query: {term: {"a..b": 1}}`,
			[]string{`option "query.term.a..b": field name "a..b" has an empty part`}},
		{"slop", `query: {match_phrase: {a: {query: x y, slop: 2}}}`,
			[]string{`option "query.match_phrase.a.slop": parameter "slop" is not supported by weft's filter`}},
		{"minimum_should_match combination", `query: {bool: {should: [{term: {a: 1}}], minimum_should_match: "3<90%"}}`,
			[]string{`option "query.bool.minimum_should_match": combinations such as "3<90%" are not supported`}},
		{"minimum_should_match not a number", `query: {bool: {should: [{term: {a: 1}}], minimum_should_match: many}}`,
			[]string{`option "query.bool.minimum_should_match": expected an integer (2, -1) or a percentage ("75%", "-25%"), got "many"`}},
		{"exists misspelt", `query: {exists: {feild: a}}`,
			[]string{`option "query.exists.feild": unknown parameter "feild"; did you mean "field"?`}},
		{"empty query object", `query: {}`,
			[]string{`option "query": empty query object; give one query type such as match_all`}},
		{"no field", `query: {match: {}}`,
			[]string{`option "query.match": names no field`}},
		{"two fields", `query: {term: {a: 1, b: 2}}`,
			[]string{`option "query.term.b": this query takes one field, and it already has "a"`}},
		{"value is a list", `query: {match: {a: [x]}}`,
			[]string{`option "query.match.a": expected a string, number or boolean, got a list`}},
		{"null value", `query: {term: {a: null}}`,
			[]string{`option "query.term.a": expected a string, number or boolean, got null`}},
		{"bad operator", `query: {match: {a: {query: x, operator: xor}}}`,
			[]string{`option "query.match.a.operator": expected and or or, got "xor"`}},
		{"bool clause not a query", `query: {bool: {must: [1]}}`,
			[]string{`option "query.bool.must[0]": expected a query object such as {match_all: {}}, got 1`}},
		{"misspelt bool key", `query: {bool: {must_nt: {match_all: {}}}}`,
			[]string{`option "query.bool.must_nt": unknown parameter "must_nt"; did you mean "must_not"?`}},
		{"several errors are all reported", `query: {bool: {must: [{trem: {a: 1}}, {range: {b: {lt: 1, lte: 2}}}]}}`,
			[]string{`option "query.bool.must[0].trem": unknown query type "trem"; did you mean "term"?`, `option "query.bool.must[1].range.b.lte": give lt or lte, not both`}},
		{"bad filter_when", `{query: {match_all: {}}, filter_when: '/a =='}`,
			[]string{`option "filter_when"`}},
		{"too deep", "query: '" + strings.Repeat(`{"bool": {"must": `, 40) + `{"match_all": {}}` + strings.Repeat("}}", 40) + "'",
			[]string{`the query is nested deeper than 64 levels`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "filter", tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %s\ndoes not contain\n  %s", err, w)
				}
			}
		})
	}
}

// Parameters that do not change what matches are accepted.
func TestAcceptedParameters(t *testing.T) {
	for _, q := range []string{
		`{"match_all": {"boost": 1.2}}`,
		`{"term": {"a": {"value": "x", "boost": 2, "_name": "t"}}}`,
		`{"terms": {"a": ["x"], "boost": 1, "_name": "t"}}`,
		`{"bool": {"must": {"match_all": {}}, "boost": 1, "adjust_pure_negative": true, "_name": "b"}}`,
		`{"range": {"a": {"gte": null, "lt": 5, "boost": 1}}}`,
		`{"wildcard": {"a": {"wildcard": "x*", "rewrite": "constant_score"}}}`,
		`{"prefix": {"a": {"value": "x", "rewrite": "constant_score", "case_insensitive": false}}}`,
		`{"match": {"a": {"query": "x", "operator": "AND", "zero_terms_query": "all", "minimum_should_match": "75%"}}}`,
		`{"match_phrase": {"a": {"query": "x y", "zero_terms_query": "none"}}}`,
		`{"exists": {"field": "a", "boost": 3}}`,
		`{"query": {"match_none": {}}}`,
	} {
		if _, err := CompileQuery(q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}
