package filter

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Leaf queries. Each compiles into a closure that reads the field's values
// into a small array on the stack and tests them; "any value matches" is
// OpenSearch's semantics for multi-valued fields.

// valBuf is how many values a leaf reads without allocating.
const valBuf = 8

func (c *compiler) newField(k *dnode, name, path string) *field {
	f, err := newField(name)
	if err != nil {
		c.fail(k, path, "%v", err)
		return nil
	}
	return f
}

// ---------------------------------------------------------------------------
// term, terms, exists

func (c *compiler) compileTerm(n *dnode, path string) matcher {
	name, fk, fv, ok := c.fieldBody(n, path)
	if !ok {
		return matchNone
	}
	fp := joinPath(path, name)
	f := c.newField(fk, name, fp)
	var q qvalue
	ci := false
	if fv.kind == dMap {
		ps, clean := c.params(fv, fp, []string{"value", "case_insensitive"})
		v, ok := ps["value"]
		if !ok {
			if clean {
				c.fail(fv, fp, "the value is missing (give {value: ...})")
			}
			return matchNone
		}
		if q, ok = c.scalarValue(v, joinPath(fp, "value")); !ok {
			return matchNone
		}
		if x, ok := ps["case_insensitive"]; ok {
			ci = c.boolParam(x, joinPath(fp, "case_insensitive"))
		}
	} else if q, ok = c.scalarValue(fv, fp); !ok {
		return matchNone
	}
	if f == nil {
		return matchNone
	}
	return func(doc map[string]any) bool {
		var buf [valBuf]any
		vals, _ := f.values(doc, buf[:0])
		for _, v := range vals {
			if equalExact(v, &q, ci) {
				return true
			}
		}
		return false
	}
}

func (c *compiler) compileTerms(n *dnode, path string) matcher {
	name, fk, fv, ok := c.fieldBody(n, path, "boost", "_name")
	if !ok {
		return matchNone
	}
	fp := joinPath(path, name)
	f := c.newField(fk, name, fp)
	if fv.kind != dSeq {
		if fv.kind == dMap {
			c.fail(fv, fp, "terms lookup (values from another document) is not supported by weft's filter; give a list of values")
		} else {
			c.fail(fv, fp, "expected a list of values, got %s", fv.kindName())
		}
		return matchNone
	}
	strs := make(map[string]struct{}, len(fv.items))
	var others []qvalue // numbers, booleans and numeric strings
	for i, it := range fv.items {
		q, ok := c.scalarValue(it, fmt.Sprintf("%s[%d]", fp, i))
		if !ok {
			continue
		}
		if q.kind == qStr {
			strs[q.s] = struct{}{}
		}
		if q.kind != qStr || q.numOK || q.boolOK {
			others = append(others, q)
		}
	}
	if f == nil || len(fv.items) == 0 {
		return matchNone
	}
	return func(doc map[string]any) bool {
		var buf [valBuf]any
		vals, _ := f.values(doc, buf[:0])
		for _, v := range vals {
			if s, ok := v.(string); ok {
				if _, hit := strs[s]; hit {
					return true
				}
			}
			for i := range others {
				if equalExact(v, &others[i], false) {
					return true
				}
			}
		}
		return false
	}
}

func (c *compiler) compileExists(n *dnode, path string) matcher {
	if n.kind != dMap {
		c.fail(n, path, "expected an object {field: <name>}, got %s", n.kindName())
		return matchNone
	}
	ps, clean := c.params(n, path, []string{"field"})
	fv, ok := ps["field"]
	if !ok {
		if clean {
			c.fail(n, path, "the field is missing (give {field: <name>})")
		}
		return matchNone
	}
	name, ok := fv.val.(string)
	if !ok || fv.kind != dScalar {
		c.fail(fv, joinPath(path, "field"), "expected a field name, got %s", fv.kindName())
		return matchNone
	}
	f := c.newField(fv, name, joinPath(path, "field"))
	if f == nil {
		return matchNone
	}
	return f.exists
}

// ---------------------------------------------------------------------------
// prefix, wildcard

func (c *compiler) compilePattern(n *dnode, path string, wildcard bool) matcher {
	name, fk, fv, ok := c.fieldBody(n, path)
	if !ok {
		return matchNone
	}
	fp := joinPath(path, name)
	f := c.newField(fk, name, fp)
	ci := false
	var val *dnode
	vp := fp
	if fv.kind == dMap {
		allowed := []string{"value", "case_insensitive", "rewrite"}
		if wildcard {
			allowed = append(allowed, "wildcard")
		}
		ps, clean := c.params(fv, fp, allowed)
		val = ps["value"]
		vp = joinPath(fp, "value")
		if w, ok := ps["wildcard"]; ok {
			if val != nil {
				c.fail(w, joinPath(fp, "wildcard"), "give value or wildcard, not both")
			}
			val, vp = w, joinPath(fp, "wildcard")
		}
		if x, ok := ps["case_insensitive"]; ok {
			ci = c.boolParam(x, joinPath(fp, "case_insensitive"))
		}
		if x, ok := ps["rewrite"]; ok {
			if _, isStr := x.val.(string); !isStr || x.kind != dScalar {
				c.fail(x, joinPath(fp, "rewrite"), "expected a string, got %s", x.kindName())
			}
		}
		if val == nil {
			if clean {
				c.fail(fv, fp, "the value is missing (give {value: ...})")
			}
			return matchNone
		}
	} else {
		val = fv
	}
	q, ok := c.scalarValue(val, vp)
	if !ok || f == nil {
		return matchNone
	}
	var test func(s string) bool
	if wildcard {
		w := compileWildcard(q.s, ci)
		test = w.match
	} else {
		prefix := q.s
		if ci {
			test = func(s string) bool { return hasPrefixFold(s, prefix) }
		} else {
			test = func(s string) bool { return strings.HasPrefix(s, prefix) }
		}
	}
	return func(doc map[string]any) bool {
		var buf [valBuf]any
		vals, _ := f.values(doc, buf[:0])
		for _, v := range vals {
			if s, ok := v.(string); ok && test(s) {
				return true
			}
		}
		return false
	}
}

func foldEq(a, b rune) bool {
	return a == b || unicode.ToLower(a) == unicode.ToLower(b) || unicode.ToUpper(a) == unicode.ToUpper(b)
}

func hasPrefixFold(s, prefix string) bool {
	for _, pr := range prefix {
		if len(s) == 0 {
			return false
		}
		r, n := utf8.DecodeRuneInString(s)
		if !foldEq(r, pr) {
			return false
		}
		s = s[n:]
	}
	return true
}

// wildcard is a compiled wildcard pattern: * is any run of characters
// (also none), ? is exactly one character, \ escapes the next character.
type wildcard struct {
	toks []wtok
	ci   bool
	// prefix is set when the pattern is a literal followed by one *.
	prefix     string
	prefixOnly bool
}

type wtok struct {
	kind uint8 // 0 literal, 1 ?, 2 *
	r    rune
}

func compileWildcard(p string, ci bool) *wildcard {
	w := &wildcard{ci: ci}
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		i += n
		switch r {
		case '*':
			if k := len(w.toks); k > 0 && w.toks[k-1].kind == 2 {
				continue // ** is *
			}
			w.toks = append(w.toks, wtok{kind: 2})
		case '?':
			w.toks = append(w.toks, wtok{kind: 1})
		case '\\':
			if i < len(p) {
				r, n = utf8.DecodeRuneInString(p[i:])
				i += n
			}
			w.toks = append(w.toks, wtok{r: r})
		default:
			w.toks = append(w.toks, wtok{r: r})
		}
	}
	if k := len(w.toks); !ci && k > 0 && w.toks[k-1].kind == 2 {
		var b strings.Builder
		lit := true
		for _, t := range w.toks[:k-1] {
			if t.kind != 0 {
				lit = false
				break
			}
			b.WriteRune(t.r)
		}
		if lit {
			w.prefix, w.prefixOnly = b.String(), true
		}
	}
	return w
}

func (w *wildcard) match(s string) bool {
	if w.prefixOnly {
		return strings.HasPrefix(s, w.prefix)
	}
	p := w.toks
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) && p[pi].kind == 2 {
			starP, starS = pi, si
			pi++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[si:])
		if pi < len(p) && (p[pi].kind == 1 || p[pi].r == r || w.ci && foldEq(p[pi].r, r)) {
			pi++
			si += n
			continue
		}
		if starP < 0 {
			return false
		}
		_, sn := utf8.DecodeRuneInString(s[starS:])
		starS += sn
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi].kind == 2 {
		pi++
	}
	return pi == len(p)
}
