package expr

import (
	"strconv"

	"github.com/weft-agent/weft/pipelines/event"
)

// stype is what the compiler knows statically about a node's result.
type stype uint8

const (
	sAny stype = iota // depends on the event (pointers, getMetadata, ...)
	sBool
	sNum
	sString
	sNull
)

func (t stype) String() string {
	return [...]string{"value", "boolean", "number", "string", "null"}[t]
}

func staticType(a *ast) stype {
	switch a.kind {
	case aLit:
		switch a.lit.k {
		case kBool:
			return sBool
		case kInt, kFloat:
			return sNum
		case kString:
			return sString
		case kNull:
			return sNull
		}
	case aFunc:
		return functions[a.name].result
	case aAnd, aOr, aNot, aBinary, aIn:
		return sBool
	case aNeg:
		return sNum
	}
	return sAny
}

type compiler struct {
	src string
	// generic disables the specialised fast-path nodes; tests compare both
	// compilations of the same expression.
	generic bool
}

func (c *compiler) errAt(a *ast, msg string) error { return synErr(c.src, a.pos, msg) }

// describeAST names an operand for compile errors.
func (c *compiler) describeAST(a *ast) string {
	switch a.kind {
	case aLit:
		if a.lit.k == kNull {
			return "null"
		}
		return staticType(a).String() + " literal"
	case aFunc:
		return a.name + "()"
	}
	return staticType(a).String()
}

// expect rejects operands whose static type can never satisfy the operator.
func (c *compiler) expect(a *ast, what string, ok ...stype) error {
	t := staticType(a)
	if t == sAny {
		return nil
	}
	for _, o := range ok {
		if t == o {
			return nil
		}
	}
	return c.errAt(a, what+", got "+c.describeAST(a))
}

func (c *compiler) compileBool(a *ast, what string) (boolNode, error) {
	if err := c.expect(a, what+" must be a boolean", sBool); err != nil {
		return nil, err
	}
	n, err := c.compile(a)
	if err != nil {
		return nil, err
	}
	if b, ok := n.(boolNode); ok {
		return b, nil
	}
	return &toBoolNode{n: n, what: what}, nil
}

func (c *compiler) compile(a *ast) (node, error) {
	switch a.kind {
	case aLit:
		if a.lit.k == kBool {
			return &boolConstNode{b: a.lit.i != 0}, nil
		}
		return &constNode{v: a.lit}, nil
	case aPointer:
		return &ptrNode{path: event.ParsePath(a.path)}, nil
	case aAnd, aOr:
		word := "and"
		if a.kind == aOr {
			word = "or"
		}
		xs := make([]boolNode, len(a.args))
		for i, x := range a.args {
			b, err := c.compileBool(x, `operand of "`+word+`"`)
			if err != nil {
				return nil, err
			}
			xs[i] = b
		}
		if a.kind == aAnd {
			return &andNode{xs: xs}, nil
		}
		return &orNode{xs: xs}, nil
	case aNot:
		x, err := c.compileBool(a.args[0], `operand of "not"`)
		if err != nil {
			return nil, err
		}
		return &notNode{x: x}, nil
	case aNeg:
		if err := c.expect(a.args[0], `operand of unary "-" must be a number`, sNum); err != nil {
			return nil, err
		}
		x, err := c.compile(a.args[0])
		if err != nil {
			return nil, err
		}
		if k, ok := x.(*constNode); ok {
			return (&negNode{x: k}).constFold()
		}
		return &negNode{x: x}, nil
	case aBinary:
		return c.compileBinary(a)
	case aIn:
		return c.compileIn(a)
	case aFunc:
		return c.compileFunc(a)
	}
	return nil, c.errAt(a, "internal error: unknown syntax node")
}

func (n *negNode) constFold() (node, error) {
	v, err := n.eval(nil)
	if err != nil {
		return nil, err
	}
	return &constNode{v: v}, nil
}

func constOf(n node) (val, bool) {
	switch k := n.(type) {
	case *constNode:
		return k.v, true
	case *boolConstNode:
		return boolVal(k.b), true
	}
	return val{}, false
}

func (c *compiler) compileBinary(a *ast) (node, error) {
	la, ra := a.args[0], a.args[1]
	switch a.op {
	case "==", "!=":
		l, err := c.compile(la)
		if err != nil {
			return nil, err
		}
		r, err := c.compile(ra)
		if err != nil {
			return nil, err
		}
		neg := a.op == "!="
		if _, ok := constOf(l); ok && !c.generic {
			l, r = r, l
		}
		if k, ok := constOf(r); ok && !c.generic {
			if p, ok := l.(*ptrNode); ok {
				return &eqPtrConstNode{path: p.path, c: k, neg: neg}, nil
			}
			return &eqConstNode{l: l, c: k, neg: neg}, nil
		}
		return &eqNode{l: l, r: r, neg: neg}, nil

	case "<", "<=", ">", ">=":
		what := `operand of "` + a.op + `" must be a number`
		if err := c.expect(la, what, sNum); err != nil {
			return nil, err
		}
		if err := c.expect(ra, what, sNum); err != nil {
			return nil, err
		}
		op := map[string]ordOp{"<": opLT, "<=": opLE, ">": opGT, ">=": opGE}[a.op]
		l, err := c.compile(la)
		if err != nil {
			return nil, err
		}
		r, err := c.compile(ra)
		if err != nil {
			return nil, err
		}
		if _, ok := constOf(l); ok && !c.generic {
			l, r, op = r, l, op.flip()
		}
		if k, ok := constOf(r); ok && !c.generic {
			if p, ok := l.(*ptrNode); ok {
				return &ordPtrConstNode{op: op, path: p.path, c: k}, nil
			}
			return &ordConstNode{op: op, l: l, c: k}, nil
		}
		return &ordNode{op: op, l: l, r: r}, nil

	case "=~", "!~":
		if err := c.expect(la, `left operand of "`+a.op+`" must be a string`, sString); err != nil {
			return nil, err
		}
		if err := c.expect(ra, `right operand of "`+a.op+`" must be a string pattern`, sString); err != nil {
			return nil, err
		}
		l, err := c.compile(la)
		if err != nil {
			return nil, err
		}
		neg := a.op == "!~"
		if pat, ok := literalString(ra); ok {
			re, err := compileRegex(pat)
			if err != nil {
				return nil, c.errAt(ra, "invalid regular expression "+strconv.Quote(pat)+": "+err.Error())
			}
			return &regexNode{l: l, re: re, neg: neg}, nil
		}
		r, err := c.compile(ra)
		if err != nil {
			return nil, err
		}
		return &regexDynNode{l: l, r: r, neg: neg, cache: &regexCache{}}, nil
	}
	return nil, c.errAt(a, "internal error: unknown operator "+strconv.Quote(a.op))
}

func (c *compiler) compileIn(a *ast) (node, error) {
	l, err := c.compile(a.args[0])
	if err != nil {
		return nil, err
	}
	s := &setLit{}
	seen := map[string]bool{}
	for _, e := range a.args[1:] {
		if e.kind != aLit {
			n, err := c.compile(e)
			if err != nil {
				return nil, err
			}
			if k, ok := constOf(n); ok { // e.g. a folded -x
				s.addLit(k, seen)
				continue
			}
			s.dyn = append(s.dyn, n)
			continue
		}
		s.addLit(e.lit, seen)
	}
	if len(s.nums) > 0 && !c.generic {
		ints := make([]int64, 0, len(s.nums))
		for _, v := range s.nums {
			if v.k != kInt {
				ints = nil
				break
			}
			ints = append(ints, v.i)
		}
		s.ints = ints
	}
	if len(s.strs) > setMapThreshold && !c.generic {
		s.strMap = make(map[string]struct{}, len(s.strs))
		for _, x := range s.strs {
			s.strMap[x] = struct{}{}
		}
		s.strs = nil
	}
	in := &inNode{l: l, set: s, neg: a.neg}
	if !c.generic {
		in.ptr, _ = l.(*ptrNode)
	}
	return in, nil
}

func (s *setLit) addLit(v val, seen map[string]bool) {
	switch v.k {
	case kString:
		if !seen[v.s] {
			seen[v.s] = true
			s.strs = append(s.strs, v.s)
		}
	case kInt, kFloat:
		s.nums = append(s.nums, v)
	case kBool:
		if v.i != 0 {
			s.hasTrue = true
		} else {
			s.hasFalse = true
		}
	case kNull:
		s.hasNull = true
	}
}

func (c *compiler) compileFunc(a *ast) (node, error) {
	spec := functions[a.name]
	n := len(a.args)
	if n < spec.minArgs || (spec.maxArgs >= 0 && n > spec.maxArgs) {
		want := strconv.Itoa(spec.minArgs)
		switch {
		case spec.maxArgs < 0:
			want = "at least " + want
		case spec.maxArgs != spec.minArgs:
			want += " to " + strconv.Itoa(spec.maxArgs)
		}
		plural := "s"
		if spec.maxArgs == 1 || (spec.maxArgs < 0 && spec.minArgs == 1) {
			plural = ""
		}
		return nil, c.errAt(a, a.name+"() takes "+want+" argument"+plural+", got "+strconv.Itoa(n))
	}
	args := make([]node, n)
	for i, x := range a.args {
		if err := c.expect(x, "argument "+strconv.Itoa(i+1)+" of "+a.name+"() must be a string", sString); err != nil {
			return nil, err
		}
		nd, err := c.compile(x)
		if err != nil {
			return nil, err
		}
		args[i] = nd
	}
	return spec.build(args, a.args), nil
}
