package expr

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/weft-agent/weft/pipelines/event"
)

// funcSpec describes a built-in function for the compiler.
type funcSpec struct {
	minArgs, maxArgs int // maxArgs < 0: variadic
	result           stype
	build            func(args []node, lits []*ast) node
}

var functions map[string]funcSpec

func init() {
	functions = map[string]funcSpec{
		"length": {1, 1, sNum, func(a []node, _ []*ast) node {
			return &lengthNode{x: a[0]}
		}},
		"hasTags": {1, -1, sBool, buildHasTags},
		"contains": {2, 2, sBool, func(a []node, _ []*ast) node {
			return &strPredNode{name: "contains", a: a[0], b: a[1], f: strings.Contains}
		}},
		"startsWith": {2, 2, sBool, func(a []node, _ []*ast) node {
			return &strPredNode{name: "startsWith", a: a[0], b: a[1], f: strings.HasPrefix}
		}},
		"getMetadata": {1, 1, sAny, buildGetMetadata},
	}
}

func functionList() string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n+"()")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// literalString returns the value of a string literal argument.
func literalString(a *ast) (string, bool) {
	if a.kind == aLit && a.lit.k == kString {
		return a.lit.s, true
	}
	return "", false
}

// ---- length(x): characters in a string, elements in a list ----

type lengthNode struct{ x node }

func (n *lengthNode) eval(ev *event.Event) (val, error) {
	v, err := n.x.eval(ev)
	if err != nil {
		return nullVal, err
	}
	switch v.k {
	case kString:
		return val{k: kInt, i: int64(utf8.RuneCountInString(v.s))}, nil
	case kNull:
		return nullVal, nil
	case kOther:
		switch t := v.o.(type) {
		case []any:
			return val{k: kInt, i: int64(len(t))}, nil
		case []string:
			return val{k: kInt, i: int64(len(t))}, nil
		}
	}
	return nullVal, evalErr("length() needs a string or a list, got " + describeVal(v))
}

// ---- hasTags("a", "b", ...): all tags present ----

func buildHasTags(args []node, lits []*ast) node {
	tags := make([]string, 0, len(lits))
	for _, a := range lits {
		s, ok := literalString(a)
		if !ok {
			return &hasTagsDynNode{xs: args}
		}
		tags = append(tags, s)
	}
	return &hasTagsNode{tags: tags}
}

type hasTagsNode struct{ tags []string }

func (n *hasTagsNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *hasTagsNode) test(ev *event.Event) (bool, error) {
	for _, t := range n.tags {
		if !ev.HasTag(t) {
			return false, nil
		}
	}
	return true, nil
}

type hasTagsDynNode struct{ xs []node }

func (n *hasTagsDynNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *hasTagsDynNode) test(ev *event.Event) (bool, error) {
	for _, x := range n.xs {
		v, err := x.eval(ev)
		if err != nil {
			return false, err
		}
		if v.k != kString {
			return false, evalErr("hasTags() needs string arguments, got " + describeVal(v))
		}
		if !ev.HasTag(v.s) {
			return false, nil
		}
	}
	return true, nil
}

// ---- contains(a, b) / startsWith(a, b) ----

// strPredNode is a two-string predicate. As in Data Prepper, a null (missing)
// argument makes it false; any other non-string is an error.
type strPredNode struct {
	name string
	a, b node
	f    func(s, sub string) bool
}

func (n *strPredNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *strPredNode) test(ev *event.Event) (bool, error) {
	a, err := n.a.eval(ev)
	if err != nil {
		return false, err
	}
	b, err := n.b.eval(ev)
	if err != nil {
		return false, err
	}
	if a.k == kNull || b.k == kNull {
		return false, nil
	}
	if a.k != kString {
		return false, evalErr(n.name + "() needs string arguments, got " + describeVal(a))
	}
	if b.k != kString {
		return false, evalErr(n.name + "() needs string arguments, got " + describeVal(b))
	}
	return n.f(a.s, b.s), nil
}

// ---- getMetadata("key") ----

func buildGetMetadata(args []node, lits []*ast) node {
	if s, ok := literalString(lits[0]); ok {
		return &getMetaNode{key: strings.TrimSpace(s)}
	}
	return &getMetaDynNode{x: args[0]}
}

type getMetaNode struct{ key string }

func (n *getMetaNode) eval(ev *event.Event) (val, error) {
	v, ok := ev.Metadata(n.key)
	if !ok {
		return nullVal, nil
	}
	return fromAny(v), nil
}

type getMetaDynNode struct{ x node }

func (n *getMetaDynNode) eval(ev *event.Event) (val, error) {
	k, err := n.x.eval(ev)
	if err != nil {
		return nullVal, err
	}
	if k.k != kString {
		return nullVal, evalErr("getMetadata() needs a string key, got " + describeVal(k))
	}
	v, ok := ev.Metadata(strings.TrimSpace(k.s))
	if !ok {
		return nullVal, nil
	}
	return fromAny(v), nil
}
