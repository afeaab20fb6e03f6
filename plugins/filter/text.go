package filter

import (
	"strings"
	"unicode/utf8"
)

// match and match_phrase: full-text queries. A string value is analyzed
// with the standard analyzer (see analyze.go) and compared term by term;
// a number or boolean value is compared with the whole query exactly (as
// OpenSearch does on numeric and boolean fields); a ".keyword" field read
// from its base field compares the whole string exactly.

// maxTerms bounds the terms of one match query.
const maxTerms = 256

type textQuery struct {
	f      *field
	q      qvalue // the query as one value
	phrase bool
	// match: the distinct terms, each with how many times the query has
	// it; need is how many query terms (with repeats) must occur.
	uniq   map[string]int
	small  []string // the distinct terms by index, when there are few
	weight []int
	need   int
	// match_phrase: the terms in order and their KMP failure table.
	terms []string
	fail  []int
}

func (c *compiler) compileMatch(n *dnode, path string, phrase bool) matcher {
	name, fk, fv, ok := c.fieldBody(n, path)
	if !ok {
		return matchNone
	}
	fp := joinPath(path, name)
	f := c.newField(fk, name, fp)
	qn := fv
	and := false
	var msmNode *dnode
	zeroAll := false
	if fv.kind == dMap {
		allowed := []string{"query", "zero_terms_query"}
		if !phrase {
			allowed = append(allowed, "operator", "minimum_should_match")
		}
		ps, clean := c.params(fv, fp, allowed)
		var ok bool
		if qn, ok = ps["query"]; !ok {
			if clean {
				c.fail(fv, fp, "the query is missing (give {query: ...})")
			}
			return matchNone
		}
		if op, ok := ps["operator"]; ok {
			s, _ := op.val.(string)
			switch strings.ToLower(s) {
			case "and":
				and = true
			case "or":
			default:
				c.fail(op, joinPath(fp, "operator"), "expected and or or, got %s", op.kindName())
			}
		}
		msmNode = ps["minimum_should_match"]
		if z, ok := ps["zero_terms_query"]; ok {
			s, _ := z.val.(string)
			switch strings.ToLower(s) {
			case "all":
				zeroAll = true
			case "none":
			default:
				c.fail(z, joinPath(fp, "zero_terms_query"), "expected none or all, got %s", z.kindName())
			}
		}
	}
	qp := fp
	if qn != fv {
		qp = joinPath(fp, "query")
	}
	q, ok := c.scalarValue(qn, qp)
	if !ok {
		return matchNone
	}
	terms := analyze(q.s)
	if len(terms) > maxTerms {
		c.fail(qn, qp, "the query has %d terms; weft's filter takes at most %d", len(terms), maxTerms)
		return matchNone
	}
	t := &textQuery{f: f, q: q, phrase: phrase, terms: terms}
	if phrase {
		t.fail = kmpTable(terms)
	} else {
		t.uniq = make(map[string]int, len(terms))
		for _, term := range terms {
			i, seen := t.uniq[term]
			if !seen {
				i = len(t.weight)
				t.uniq[term] = i
				t.weight = append(t.weight, 0)
			}
			t.weight[i]++
		}
		if len(t.weight) <= 8 {
			t.small = make([]string, len(t.weight))
			for term, i := range t.uniq {
				t.small[i] = term
			}
		}
		t.need = 1
		if and {
			t.need = len(terms)
		} else if msmNode != nil {
			if spec, ok := c.msmSpec(msmNode, joinPath(fp, "minimum_should_match")); ok {
				t.need = max(spec.resolve(len(terms)), 1)
			}
		}
	}
	if f == nil {
		return matchNone
	}
	if len(terms) == 0 {
		// Nothing to look for: zero_terms_query decides (a number or
		// boolean field would still compare the whole query, but a query
		// without terms is punctuation, which no such value equals).
		if zeroAll {
			return matchAll
		}
		return matchNone
	}
	if !phrase && t.need > len(terms) {
		return matchNone
	}
	return t.match
}

// find returns the index of the query term equal to the lowercase form
// of tok.
func (t *textQuery) find(tok string, lower *[1024]byte) (int, bool) {
	if t.small != nil {
		for i, term := range t.small {
			if eq, ascii := equalLowerASCII(tok, term); eq {
				return i, true
			} else if !ascii && string(lowerInto(lower[:0], tok)) == term {
				return i, true
			}
		}
		return 0, false
	}
	if isLowerASCII(tok) {
		i, ok := t.uniq[tok]
		return i, ok
	}
	i, ok := t.uniq[string(lowerInto(lower[:0], tok))]
	return i, ok
}

// equalLowerASCII compares tok, lowercased, with term while tok is ASCII;
// ascii is false when it met a non-ASCII byte before a difference.
func equalLowerASCII(tok, term string) (eq, ascii bool) {
	for k := 0; k < len(tok); k++ {
		c := tok[k]
		if c >= utf8.RuneSelf {
			return false, false
		}
		if k >= len(term) {
			return false, true
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != term[k] {
			return false, true
		}
	}
	return len(tok) == len(term), true
}

func kmpTable(p []string) []int {
	fail := make([]int, len(p))
	k := 0
	for i := 1; i < len(p); i++ {
		for k > 0 && p[i] != p[k] {
			k = fail[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		fail[i] = k
	}
	return fail
}

func (t *textQuery) match(doc map[string]any) bool {
	var buf [valBuf]any
	vals, keyword := t.f.values(doc, buf[:0])
	var seen [maxTerms / 64]uint64
	got := 0
	for _, v := range vals {
		s, isStr := v.(string)
		if keyword {
			if isStr && s == t.q.s {
				return true
			}
			continue
		}
		if !isStr {
			if equalExact(v, &t.q, false) {
				return true
			}
			continue
		}
		if t.phrase {
			if t.phraseIn(s) {
				return true
			}
			continue
		}
		tk := tokenizer{s: s}
		var lower [1024]byte
		for {
			a, b, ok := tk.next()
			if !ok {
				break
			}
			i, hit := t.find(s[a:b], &lower)
			if !hit || seen[i>>6]&(1<<(i&63)) != 0 {
				continue
			}
			seen[i>>6] |= 1 << (i & 63)
			got += t.weight[i]
			if got >= t.need {
				return true
			}
		}
	}
	return false
}

// phraseIn reports whether the terms occur consecutively in s.
func (t *textQuery) phraseIn(s string) bool {
	tk := tokenizer{s: s}
	var lower [1024]byte
	k := 0
	for {
		a, b, ok := tk.next()
		if !ok {
			return false
		}
		tok := lowerInto(lower[:0], s[a:b])
		for k > 0 && string(tok) != t.terms[k] {
			k = t.fail[k-1]
		}
		if string(tok) == t.terms[k] {
			k++
		}
		if k == len(t.terms) {
			return true
		}
	}
}
