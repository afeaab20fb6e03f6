package filter

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/weft-agent/weft/config"
)

// matcher reports whether a document (an event's field tree) matches.
type matcher func(doc map[string]any) bool

// The query types weft implements, and the OpenSearch ones it knows but
// does not (for a clearer message than "unknown").
var (
	supportedTypes = []string{"bool", "exists", "match", "match_all", "match_none", "match_phrase", "prefix", "range", "term", "terms", "wildcard"}
	knownTypes     = map[string]bool{
		"boosting": true, "combined_fields": true, "constant_score": true, "dis_max": true, "distance_feature": true,
		"function_score": true, "fuzzy": true, "geo_bounding_box": true, "geo_distance": true, "geo_polygon": true,
		"geo_shape": true, "has_child": true, "has_parent": true, "hybrid": true, "ids": true, "intervals": true,
		"knn": true, "match_bool_prefix": true, "match_phrase_prefix": true, "more_like_this": true, "multi_match": true,
		"nested": true, "neural": true, "parent_id": true, "percolate": true, "pinned": true, "query_string": true,
		"rank_feature": true, "regexp": true, "script": true, "script_score": true, "simple_query_string": true,
		"span_containing": true, "span_first": true, "span_multi": true, "span_near": true, "span_not": true,
		"span_or": true, "span_term": true, "span_within": true, "terms_set": true, "wrapper": true, "xy_shape": true,
	}
)

// compileError is one problem in a query, at a node and a clause path
// ("bool.must[1].rnage").
type compileError struct {
	pos  srcPos
	path string
	msg  string
}

func (e *compileError) Error() string {
	if e.path == "" {
		return e.msg + e.pos.suffix()
	}
	return e.path + ": " + e.msg + e.pos.suffix()
}

// compiler turns the query tree into matchers, collecting every error.
type compiler struct {
	errs []*compileError
}

func (c *compiler) fail(n *dnode, path, format string, args ...any) {
	c.errs = append(c.errs, &compileError{pos: n.pos, path: path, msg: fmt.Sprintf(format, args...)})
}

func matchNone(map[string]any) bool { return false }
func matchAll(map[string]any) bool  { return true }

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// compileRoot compiles the query. A search body's {"query": {...}}
// wrapper is accepted at the top.
func (c *compiler) compileRoot(n *dnode) matcher {
	if n.kind == dMap && len(n.keys) == 1 && n.keys[0].text == "query" {
		return c.compileQuery(n.vals[0], "")
	}
	return c.compileQuery(n, "")
}

// compileQuery compiles one query object: {"<type>": <body>}.
func (c *compiler) compileQuery(n *dnode, path string) matcher {
	if n.kind != dMap {
		c.fail(n, path, "expected a query object such as {match_all: {}}, got %s", n.kindName())
		return matchNone
	}
	if len(n.keys) == 0 {
		c.fail(n, path, "empty query object; give one query type such as match_all")
		return matchNone
	}
	if len(n.keys) > 1 {
		c.fail(n.keys[1], joinPath(path, n.keys[1].text), "a query object holds one query type, and this one already has %q; combine several with bool", n.keys[0].text)
		return matchNone
	}
	typ, body := n.keys[0].text, n.vals[0]
	p := joinPath(path, typ)
	switch typ {
	case "bool":
		return c.compileBool(body, p)
	case "match_all", "match_none":
		if body.kind != dMap {
			c.fail(body, p, "expected an object ({} or {boost: 1}), got %s", body.kindName())
		} else {
			c.params(body, p, nil)
		}
		if typ == "match_all" {
			return matchAll
		}
		return matchNone
	case "exists":
		return c.compileExists(body, p)
	case "term":
		return c.compileTerm(body, p)
	case "terms":
		return c.compileTerms(body, p)
	case "match":
		return c.compileMatch(body, p, false)
	case "match_phrase":
		return c.compileMatch(body, p, true)
	case "range":
		return c.compileRange(body, p)
	case "prefix":
		return c.compilePattern(body, p, false)
	case "wildcard":
		return c.compilePattern(body, p, true)
	}
	if knownTypes[typ] {
		c.fail(n.keys[0], p, "query type %q is not supported by weft's filter (supported: %s)", typ, strings.Join(supportedTypes, ", "))
		return matchNone
	}
	msg := fmt.Sprintf("unknown query type %q", typ)
	if s := config.Suggest(typ, supportedTypes); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else {
		msg += " (supported: " + strings.Join(supportedTypes, ", ") + ")"
	}
	c.fail(n.keys[0], p, "%s", msg)
	return matchNone
}

// params checks the keys of a parameter object against the allowed ones
// (plus boost and _name, which every query accepts and which do not change
// what matches) and returns them by name. clean is false when a key was
// unknown (then a "missing" error would only repeat a misspelling).
func (c *compiler) params(n *dnode, path string, allowed []string) (out map[string]*dnode, clean bool) {
	out = make(map[string]*dnode, len(n.keys))
	clean = true
	all := append(append([]string(nil), allowed...), "boost", "_name")
	for i, k := range n.keys {
		name := k.text
		kp := joinPath(path, name)
		if _, dup := out[name]; dup {
			c.fail(k, kp, "given more than once")
			continue
		}
		known := false
		for _, a := range all {
			if a == name {
				known = true
				break
			}
		}
		if !known {
			clean = false
			msg := fmt.Sprintf("unknown parameter %q", name)
			if s := config.Suggest(name, all); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else if unsupportedParams[name] {
				msg = fmt.Sprintf("parameter %q is not supported by weft's filter", name)
			} else {
				sort.Strings(all)
				msg += " (valid: " + strings.Join(all, ", ") + ")"
			}
			c.fail(k, kp, "%s", msg)
			continue
		}
		v := n.vals[i]
		switch name {
		case "boost":
			if _, ok := numberOf(v); !ok {
				c.fail(v, kp, "expected a number, got %s", v.kindName())
			}
		case "_name":
			if _, ok := v.val.(string); !ok || v.kind != dScalar {
				c.fail(v, kp, "expected a string, got %s", v.kindName())
			}
		}
		out[name] = v
	}
	return out, clean
}

// OpenSearch parameters that change what matches in ways weft does not
// implement.
var unsupportedParams = map[string]bool{
	"analyzer": true, "fuzziness": true, "prefix_length": true, "max_expansions": true, "fuzzy_transpositions": true,
	"auto_generate_synonyms_phrase_query": true, "cutoff_frequency": true, "fuzzy_rewrite": true, "lenient": true,
	"format": true, "time_zone": true, "relation": true, "from": true, "to": true, "include_lower": true,
	"include_upper": true, "rewrite": true, "slop": true, "flags": true,
}

func numberOf(n *dnode) (float64, bool) {
	if n.kind != dScalar {
		return 0, false
	}
	switch v := n.val.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return 0, false
}

func (c *compiler) boolParam(n *dnode, path string) bool {
	if n.kind == dScalar {
		switch v := n.val.(type) {
		case bool:
			return v
		case string:
			switch v {
			case "true":
				return true
			case "false":
				return false
			}
		}
	}
	c.fail(n, path, "expected true or false, got %s", n.kindName())
	return false
}

// fieldBody splits a leaf query's body {"<field>": <value or params>}.
// extra lists keys allowed beside the field (terms takes boost there).
func (c *compiler) fieldBody(n *dnode, path string, extra ...string) (string, *dnode, *dnode, bool) {
	if n.kind != dMap {
		c.fail(n, path, "expected an object {<field>: ...}, got %s", n.kindName())
		return "", nil, nil, false
	}
	var field string
	var fk, fv *dnode
outer:
	for i, k := range n.keys {
		for _, e := range extra {
			if k.text == e {
				c.params(&dnode{kind: dMap, keys: []*dnode{k}, vals: []*dnode{n.vals[i]}}, path, nil)
				continue outer
			}
		}
		if fk != nil {
			c.fail(k, joinPath(path, k.text), "this query takes one field, and it already has %q", field)
			return "", nil, nil, false
		}
		field, fk, fv = k.text, k, n.vals[i]
	}
	if fk == nil {
		c.fail(n, path, "names no field")
		return "", nil, nil, false
	}
	return field, fk, fv, true
}

// scalarValue checks that n is a usable query value (string, number or
// boolean).
func (c *compiler) scalarValue(n *dnode, path string) (qvalue, bool) {
	if n.kind != dScalar || n.val == nil {
		c.fail(n, path, "expected a string, number or boolean, got %s", n.kindName())
		return qvalue{}, false
	}
	return newQValue(n), true
}

// ---------------------------------------------------------------------------
// bool

func (c *compiler) compileBool(n *dnode, path string) matcher {
	if n.kind != dMap {
		c.fail(n, path, "expected an object with must, filter, should and must_not, got %s", n.kindName())
		return matchNone
	}
	ps, _ := c.params(n, path, []string{"must", "filter", "should", "must_not", "minimum_should_match", "adjust_pure_negative"})
	clauses := func(key string) []matcher {
		v, ok := ps[key]
		if !ok {
			return nil
		}
		p := joinPath(path, key)
		if v.kind == dSeq {
			out := make([]matcher, 0, len(v.items))
			for i, it := range v.items {
				out = append(out, c.compileQuery(it, fmt.Sprintf("%s[%d]", p, i)))
			}
			return out
		}
		return []matcher{c.compileQuery(v, p)}
	}
	must := append(clauses("must"), clauses("filter")...)
	should := clauses("should")
	mustNot := clauses("must_not")
	if v, ok := ps["adjust_pure_negative"]; ok {
		c.boolParam(v, joinPath(path, "adjust_pure_negative"))
	}
	msm := 0
	if len(should) > 0 && len(must) == 0 {
		msm = 1
	}
	if v, ok := ps["minimum_should_match"]; ok {
		if spec, ok := c.msmSpec(v, joinPath(path, "minimum_should_match")); ok {
			msm = spec.resolve(len(should))
		}
	}
	if msm > len(should) {
		return matchNone // as in OpenSearch: more required than there are
	}
	if len(should) == 0 || msm == 0 {
		should = nil
	}
	// The common shapes without loops.
	switch {
	case len(must) == 0 && len(mustNot) == 0 && len(should) == 0:
		return matchAll
	case len(must) == 1 && len(mustNot) == 0 && len(should) == 0:
		return must[0]
	case len(must) == 0 && len(mustNot) == 1 && len(should) == 0:
		m := mustNot[0]
		return func(doc map[string]any) bool { return !m(doc) }
	case len(must) == 0 && len(mustNot) == 0 && msm == 1:
		return func(doc map[string]any) bool {
			for _, m := range should {
				if m(doc) {
					return true
				}
			}
			return false
		}
	}
	return func(doc map[string]any) bool {
		for _, m := range must {
			if !m(doc) {
				return false
			}
		}
		for _, m := range mustNot {
			if m(doc) {
				return false
			}
		}
		if msm == 0 {
			return true
		}
		n := 0
		for i, m := range should {
			if m(doc) {
				n++
				if n >= msm {
					return true
				}
			} else if len(should)-i-1 < msm-n {
				return false // cannot reach msm any more
			}
		}
		return false
	}
}

// msm is a minimum_should_match value: an integer or a percentage, either
// of which may be negative (counted from the number of clauses).
type msm struct {
	n       int
	percent bool
}

func (c *compiler) msmSpec(n *dnode, path string) (msm, bool) {
	if n.kind == dScalar {
		switch v := n.val.(type) {
		case int64:
			if v > -1e6 && v < 1e6 {
				return msm{n: int(v)}, true
			}
		case string:
			s := strings.TrimSpace(v)
			pct := strings.HasSuffix(s, "%")
			s = strings.TrimSuffix(s, "%")
			if i, err := strconv.Atoi(s); err == nil && i > -1e6 && i < 1e6 {
				return msm{n: i, percent: pct}, true
			}
			if strings.Contains(v, "<") {
				c.fail(n, path, "combinations such as %q are not supported by weft's filter; use an integer or a percentage", v)
				return msm{}, false
			}
		}
	}
	c.fail(n, path, "expected an integer (2, -1) or a percentage (\"75%%\", \"-25%%\"), got %s", n.kindName())
	return msm{}, false
}

// resolve computes the number of clauses required out of count, as
// OpenSearch's Queries.calculateMinShouldMatch does.
func (m msm) resolve(count int) int {
	r := m.n
	if m.percent {
		r = m.n * count / 100 // truncates toward zero, like Java's int cast
	}
	if m.n < 0 {
		r += count
	}
	return max(r, 0)
}
