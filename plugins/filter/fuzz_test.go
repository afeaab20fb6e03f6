package filter

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzDocs are documents of every shape a field tree can have, for
// evaluating whatever query the fuzzer compiles.
func fuzzDocs() []map[string]any {
	var docs []map[string]any
	for _, d := range genDocs(20, 9) {
		docs = append(docs, d.fields())
	}
	// A deep tree (not a DAG: an event's fields are a tree, decoded from
	// JSON; shared subtrees would make walks exponential).
	deep := map[string]any{"x": int64(1)}
	for i := 0; i < 100; i++ {
		deep = map[string]any{"a": deep, "a.a": []any{map[string]any{"a": "v", "x": int64(i)}, nil}}
	}
	docs = append(docs,
		map[string]any{},
		deep,
		map[string]any{
			"a": []any{[]any{"x", int64(1)}, map[string]any{"b": []any{nil, true, 1.5}}, nil},
			"n": math.NaN(), "inf": math.Inf(1), "u": uint64(math.MaxUint64), "i": int(-3), "f32": float32(2.5),
			"num": json.Number("12.5"), "t": time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC),
			"bad": "\xff\xfe bad utf8 \xc3", "long": strings.Repeat("abc ", 400), "empty": "",
			"a.b": map[string]any{"c": "d"}, "": "empty key", ".": "dot", "keyword": "k",
		},
	)
	return docs
}

// FuzzCompileDSL: compiling any text never panics, and evaluating a
// compiled query on any document never panics.
func FuzzCompileDSL(f *testing.F) {
	for _, qc := range queryCases {
		f.Add(qc.query)
	}
	for _, s := range []string{
		benchQuery, `{}`, `[]`, `null`, `"x"`, `{"bool": {"should": [], "minimum_should_match": "-100%"}}`,
		`{"range": {"a": {"gt": "now-1d/d", "lte": "2024-01-01||+1M/M"}}}`,
		`{"wildcard": {"a": "\\*?*a**b"}}`, `{"match": {"a.keyword": "x"}}`,
		`{"match_phrase": {"a": "a a b"}}`, `{"terms": {"a": [1, "1", true, 1.5e300]}}`,
		`{"exists": {"field": "a.b.c.d"}}`, `{"range": {"t": {"gte": 1704164645000}}}`,
	} {
		f.Add(s)
	}
	docs := fuzzDocs()
	f.Fuzz(func(t *testing.T, text string) {
		// The pieces the compiler uses on query text.
		analyze(text)
		parseDate(text, true)
		parseNum(text)
		if isDateMath(text) {
			if dm, err := parseDateMath(text, false); err == nil {
				dm.eval(fixedNow, true)
			}
		}
		w := compileWildcard(text, true)
		w.match(text)
		tk := tokenizer{s: text}
		for {
			a, b, ok := tk.next()
			if !ok {
				break
			}
			if a >= b || b > len(text) || !utf8.ValidString(text[a:b]) && utf8.ValidString(text) {
				t.Fatalf("bad token [%d:%d] in %q", a, b, text)
			}
		}

		q, err := CompileQuery(text)
		if err != nil {
			return
		}
		for _, d := range docs {
			q.Match(d)
		}
	})
}
