package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A field name in the DSL is a dotted path ("kubernetes.namespace_name").
// As in OpenSearch, where {"a": {"b": 1}}, {"a.b": 1} and
// {"a": [{"b": 1}]} all index the field a.b, every way of splitting the
// name into keys is tried, the longest key first: the whole name as one
// key ("span.attributes.http@method" in span documents), then "span" →
// "attributes.http@method", and so on. Arrays met on the way are entered
// element by element, and an array at the end gives each of its elements
// (nested arrays are flattened); null values are not values, as in an
// index.

// maxFieldParts bounds the dot-separated parts of a field name.
const maxFieldParts = 32

// ignoreAbove is the length above which OpenSearch's dynamic mapping does
// not index a string in the .keyword sub-field.
const ignoreAbove = 256

type field struct {
	name string
	segs []string
	// keys[i][k] is segs[i:i+k+1] joined with dots, so that lookups never
	// build strings.
	keys [][]string
	// prefix[i] is keys[i]'s longest entry and a dot: a key that starts
	// with it holds a sub-field of the field (for exists).
	prefix []string
	// base is set for "x.keyword": when the document has no value at the
	// full name, the values of x are read as OpenSearch's dynamic mapping
	// indexes them in x.keyword (whole strings of at most 256 characters).
	base *field
}

func newField(name string) (*field, error) {
	if name == "" {
		return nil, fmt.Errorf("the field name is empty")
	}
	segs := strings.Split(name, ".")
	if len(segs) > maxFieldParts {
		return nil, fmt.Errorf("field name %q has more than %d dot-separated parts", name, maxFieldParts)
	}
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("field name %q has an empty part", name)
		}
	}
	f := &field{name: name, segs: segs, keys: make([][]string, len(segs)), prefix: make([]string, len(segs))}
	for i := range segs {
		f.keys[i] = make([]string, len(segs)-i)
		for k := range f.keys[i] {
			f.keys[i][k] = strings.Join(segs[i:i+k+1], ".")
		}
		f.prefix[i] = f.keys[i][len(segs)-i-1] + "."
	}
	if len(segs) > 1 && segs[len(segs)-1] == "keyword" {
		f.base, _ = newField(strings.Join(segs[:len(segs)-1], "."))
	}
	return f, nil
}

// values appends the field's values in doc to out. keyword reports that
// they are the base field's strings read as a .keyword sub-field.
func (f *field) values(doc map[string]any, out []any) (vals []any, keyword bool) {
	if len(f.segs) == 1 {
		if v, ok := doc[f.name]; ok {
			out = appendLeaf(out, v)
		}
	} else {
		out = f.walk(doc, 0, out)
	}
	if len(out) > 0 || f.base == nil {
		return out, false
	}
	out = f.base.walk(doc, 0, out)
	k := 0
	for _, v := range out {
		if s, ok := v.(string); ok && (len(s) <= ignoreAbove || utf8.RuneCountInString(s) <= ignoreAbove) {
			out[k] = v
			k++
		}
	}
	return out[:k], true
}

// walk follows segs[i:] from v: an object's keys (every split of the
// remaining parts, longest key first), an array's elements. It is one
// self-recursive function so that out, usually a stack array of the
// caller, does not escape.
func (f *field) walk(v any, i int, out []any) []any {
	n := len(f.segs)
	if i == n {
		return appendLeaf(out, v)
	}
	switch t := v.(type) {
	case map[string]any:
		keys := f.keys[i]
		for j := n; j > i; j-- {
			if c, ok := t[keys[j-i-1]]; ok {
				out = f.walk(c, j, out)
			}
		}
	case []any:
		for _, e := range t {
			out = f.walk(e, i, out)
		}
	}
	return out
}

// exists reports whether the field has a value: a value that is not null
// at the field, or, the field being an object, at one of its sub-fields,
// however they are written ({"k": {"a": 1}} or {"k.a": 1}).
func (f *field) exists(doc map[string]any) bool {
	if f.existsIn(doc, 0) {
		return true
	}
	if f.base == nil {
		return false
	}
	var buf [valBuf]any
	vals, _ := f.values(doc, buf[:0])
	return len(vals) > 0
}

func (f *field) existsIn(v any, i int) bool {
	n := len(f.segs)
	if i == n {
		return hasValue(v)
	}
	switch t := v.(type) {
	case map[string]any:
		keys := f.keys[i]
		for j := n; j > i; j-- {
			if c, ok := t[keys[j-i-1]]; ok && f.existsIn(c, j) {
				return true
			}
		}
		prefix := f.prefix[i]
		for k, c := range t {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix && hasValue(c) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if f.existsIn(e, i) {
				return true
			}
		}
	}
	return false
}

func appendLeaf(out []any, v any) []any {
	switch t := v.(type) {
	case nil:
	case []any:
		for _, e := range t {
			out = appendLeaf(out, e)
		}
	default:
		out = append(out, v)
	}
	return out
}
