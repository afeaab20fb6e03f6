package expr

import (
	"regexp"
	"strconv"
	"sync"

	"github.com/weft-agent/weft/pipelines/event"
)

// node is a compiled expression. Nodes are immutable after compilation (the
// only exception, the regex cache of regexDynNode, is locked), so one tree
// serves any number of goroutines.
type node interface {
	eval(ev *event.Event) (val, error)
}

// boolNode is a node whose result is always a boolean; test skips building
// a val. and/or/not call test on their operands.
type boolNode interface {
	node
	test(ev *event.Event) (bool, error)
}

func evalErr(msg string) error { return &EvalError{Msg: msg} }

// ---- leaves ----

type constNode struct{ v val }

func (n *constNode) eval(*event.Event) (val, error) { return n.v, nil }

type boolConstNode struct{ b bool }

func (n *boolConstNode) eval(*event.Event) (val, error)  { return boolVal(n.b), nil }
func (n *boolConstNode) test(*event.Event) (bool, error) { return n.b, nil }

type ptrNode struct {
	path event.Path
}

func (n *ptrNode) eval(ev *event.Event) (val, error) {
	v, ok := ev.Get(n.path)
	if !ok {
		return nullVal, nil
	}
	return fromAny(v), nil
}

// toBoolNode adapts an operand of and/or/not (or the whole expression) that
// is not statically boolean.
type toBoolNode struct {
	n    node
	what string // e.g. `operand of "and"`
}

func (n *toBoolNode) eval(ev *event.Event) (val, error) {
	b, err := n.test(ev)
	if err != nil {
		return nullVal, err
	}
	return boolVal(b), nil
}

func (n *toBoolNode) test(ev *event.Event) (bool, error) {
	v, err := n.n.eval(ev)
	if err != nil {
		return false, err
	}
	if v.k != kBool {
		return false, evalErr(n.what + " must be a boolean, got " + describeVal(v))
	}
	return v.i != 0, nil
}

// describeVal renders a value's type (and short scalar values) for errors.
func describeVal(v val) string {
	switch v.k {
	case kString:
		s := v.s
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return "string " + strconv.Quote(s)
	case kInt:
		return "integer " + strconv.FormatInt(v.i, 10)
	case kFloat:
		return "float " + strconv.FormatFloat(v.f, 'g', -1, 64)
	case kBool:
		return "boolean " + strconv.FormatBool(v.i != 0)
	case kNull:
		return "null (missing field?)"
	default:
		return v.typeName()
	}
}

// ---- logic ----

type andNode struct{ xs []boolNode }

func (n *andNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *andNode) test(ev *event.Event) (bool, error) {
	for _, x := range n.xs {
		b, err := x.test(ev)
		if err != nil || !b {
			return false, err
		}
	}
	return true, nil
}

type orNode struct{ xs []boolNode }

func (n *orNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *orNode) test(ev *event.Event) (bool, error) {
	for _, x := range n.xs {
		b, err := x.test(ev)
		if err != nil || b {
			return b, err
		}
	}
	return false, nil
}

type notNode struct{ x boolNode }

func (n *notNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *notNode) test(ev *event.Event) (bool, error) {
	b, err := n.x.test(ev)
	return !b, err
}

func boolResult(b bool, err error) (val, error) {
	if err != nil {
		return nullVal, err
	}
	return boolVal(b), nil
}

// ---- arithmetic ----

type negNode struct{ x node }

func (n *negNode) eval(ev *event.Event) (val, error) {
	v, err := n.x.eval(ev)
	if err != nil {
		return nullVal, err
	}
	switch v.k {
	case kInt:
		if v.i == -1<<63 {
			return val{k: kFloat, f: two63}, nil
		}
		return val{k: kInt, i: -v.i}, nil
	case kFloat:
		return val{k: kFloat, f: -v.f}, nil
	}
	return nullVal, evalErr(`unary "-" needs a number, got ` + describeVal(v))
}

// ---- equality ----

type eqNode struct {
	l, r node
	neg  bool
}

func (n *eqNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *eqNode) test(ev *event.Event) (bool, error) {
	a, err := n.l.eval(ev)
	if err != nil {
		return false, err
	}
	b, err := n.r.eval(ev)
	if err != nil {
		return false, err
	}
	return equal(a, b) != n.neg, nil
}

// eqPtrConstNode is field == literal, the most common condition: one map
// walk, one switch, no interface calls.
type eqPtrConstNode struct {
	path event.Path
	c    val
	neg  bool
}

func (n *eqPtrConstNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *eqPtrConstNode) test(ev *event.Event) (bool, error) {
	x, ok := ev.Get(n.path)
	if !ok {
		return (n.c.k == kNull) != n.neg, nil
	}
	switch t := x.(type) {
	case string:
		return (n.c.k == kString && n.c.s == t) != n.neg, nil
	case int64:
		if n.c.k == kInt {
			return (n.c.i == t) != n.neg, nil
		}
	}
	return equal(fromAny(x), n.c) != n.neg, nil
}

type eqConstNode struct {
	l   node
	c   val
	neg bool
}

func (n *eqConstNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *eqConstNode) test(ev *event.Event) (bool, error) {
	a, err := n.l.eval(ev)
	if err != nil {
		return false, err
	}
	return equal(a, n.c) != n.neg, nil
}

// ---- ordering ----

type ordOp uint8

const (
	opLT ordOp = iota
	opLE
	opGT
	opGE
)

func (o ordOp) String() string { return [...]string{"<", "<=", ">", ">="}[o] }

// flip returns the operator for swapped operands (a < b  ==  b > a).
func (o ordOp) flip() ordOp { return [...]ordOp{opGT, opGE, opLT, opLE}[o] }

func (o ordOp) holds(c int) bool {
	switch o {
	case opLT:
		return c < 0
	case opLE:
		return c <= 0
	case opGT:
		return c > 0
	default:
		return c >= 0
	}
}

func ordCompare(op ordOp, a, b val) (bool, error) {
	c, ok := numCmp(a, b)
	if ok {
		return op.holds(c), nil
	}
	if a.isNum() && b.isNum() {
		return false, nil // NaN
	}
	bad := a
	if a.isNum() {
		bad = b
	}
	return false, evalErr(`operator "` + op.String() + `" needs numbers, got ` + describeVal(bad))
}

type ordNode struct {
	op   ordOp
	l, r node
}

func (n *ordNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *ordNode) test(ev *event.Event) (bool, error) {
	a, err := n.l.eval(ev)
	if err != nil {
		return false, err
	}
	b, err := n.r.eval(ev)
	if err != nil {
		return false, err
	}
	return ordCompare(n.op, a, b)
}

// ordPtrConstNode is field <op> number.
type ordPtrConstNode struct {
	op   ordOp
	path event.Path
	c    val
}

func (n *ordPtrConstNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *ordPtrConstNode) test(ev *event.Event) (bool, error) {
	x, ok := ev.Get(n.path)
	if !ok {
		return ordCompare(n.op, nullVal, n.c)
	}
	if t, ok := x.(int64); ok && n.c.k == kInt {
		return n.op.holds(cmpInt(t, n.c.i)), nil
	}
	return ordCompare(n.op, fromAny(x), n.c)
}

type ordConstNode struct {
	op ordOp
	l  node
	c  val
}

func (n *ordConstNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *ordConstNode) test(ev *event.Event) (bool, error) {
	a, err := n.l.eval(ev)
	if err != nil {
		return false, err
	}
	return ordCompare(n.op, a, n.c)
}

// ---- regular expressions ----

func regexOperand(op string, v val) (string, error) {
	if v.k != kString {
		return "", evalErr(`operator "` + op + `" needs a string on the left, got ` + describeVal(v))
	}
	return v.s, nil
}

type regexNode struct {
	l   node
	re  *regexp.Regexp
	neg bool
}

func (n *regexNode) op() string {
	if n.neg {
		return "!~"
	}
	return "=~"
}

func (n *regexNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *regexNode) test(ev *event.Event) (bool, error) {
	a, err := n.l.eval(ev)
	if err != nil {
		return false, err
	}
	s, err := regexOperand(n.op(), a)
	if err != nil {
		return false, err
	}
	return n.re.MatchString(s) != n.neg, nil
}

// regexDynNode matches against a pattern computed per event (e.g. taken from
// another field); compiled patterns are cached.
type regexDynNode struct {
	l, r  node
	neg   bool
	cache *regexCache
}

func (n *regexDynNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *regexDynNode) test(ev *event.Event) (bool, error) {
	op := "=~"
	if n.neg {
		op = "!~"
	}
	a, err := n.l.eval(ev)
	if err != nil {
		return false, err
	}
	s, err := regexOperand(op, a)
	if err != nil {
		return false, err
	}
	p, err := n.r.eval(ev)
	if err != nil {
		return false, err
	}
	if p.k != kString {
		return false, evalErr(`operator "` + op + `" needs a string pattern on the right, got ` + describeVal(p))
	}
	re, err := n.cache.get(p.s)
	if err != nil {
		return false, evalErr("invalid regular expression " + strconv.Quote(p.s) + ": " + err.Error())
	}
	return re.MatchString(s) != n.neg, nil
}

const regexCacheSize = 64

type regexCache struct {
	mu sync.Mutex
	m  map[string]regexEntry
}

type regexEntry struct {
	re  *regexp.Regexp
	err error
}

func (c *regexCache) get(pat string) (*regexp.Regexp, error) {
	c.mu.Lock()
	e, ok := c.m[pat]
	c.mu.Unlock()
	if ok {
		return e.re, e.err
	}
	re, err := compileRegex(pat)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= regexCacheSize {
		c.m = make(map[string]regexEntry, regexCacheSize)
	}
	c.m[pat] = regexEntry{re, err}
	c.mu.Unlock()
	return re, err
}

// compileRegex compiles a pattern with Data Prepper's semantics: the pattern
// must match the whole string (Java's String.matches).
func compileRegex(pat string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(pat); err != nil {
		return nil, err // report errors against the pattern as written
	}
	return regexp.Compile(`^(?:` + pat + `)$`)
}

// ---- sets ----

type setLit struct {
	strs     []string            // small sets: linear scan
	strMap   map[string]struct{} // large sets
	nums     []val
	ints     []int64 // the integer elements of nums, when all of them are integers
	hasTrue  bool
	hasFalse bool
	hasNull  bool
	dyn      []node // non-literal elements, evaluated per event
}

const setMapThreshold = 8

func (s *setLit) has(ev *event.Event, v val) (bool, error) {
	switch v.k {
	case kString:
		if s.strMap != nil {
			if _, ok := s.strMap[v.s]; ok {
				return true, nil
			}
		} else {
			for _, x := range s.strs {
				if x == v.s {
					return true, nil
				}
			}
		}
	case kInt:
		if s.ints != nil {
			for _, x := range s.ints {
				if x == v.i {
					return true, nil
				}
			}
			break
		}
		fallthrough
	case kFloat:
		for _, x := range s.nums {
			if equal(v, x) {
				return true, nil
			}
		}
	case kBool:
		if (v.i != 0 && s.hasTrue) || (v.i == 0 && s.hasFalse) {
			return true, nil
		}
	case kNull:
		if s.hasNull {
			return true, nil
		}
	}
	for _, d := range s.dyn {
		x, err := d.eval(ev)
		if err != nil {
			return false, err
		}
		if equal(v, x) {
			return true, nil
		}
	}
	return false, nil
}

type inNode struct {
	l   node
	ptr *ptrNode // l, when it is a plain field reference
	set *setLit
	neg bool
}

func (n *inNode) eval(ev *event.Event) (val, error) { return boolResult(n.test(ev)) }

func (n *inNode) test(ev *event.Event) (bool, error) {
	var v val
	if n.ptr != nil {
		x, ok := ev.Get(n.ptr.path)
		if ok {
			v = fromAny(x)
		}
	} else {
		var err error
		if v, err = n.l.eval(ev); err != nil {
			return false, err
		}
	}
	ok, err := n.set.has(ev, v)
	return ok != n.neg, err
}
