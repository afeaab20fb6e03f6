package expr

import (
	"strconv"
)

// maxDepth bounds the nesting of the syntax tree, so that neither parsing
// nor evaluation can recurse without limit.
const maxDepth = 200

type astKind uint8

const (
	aLit     astKind = iota // lit
	aPointer                // path
	aFunc                   // name(args...)
	aAnd                    // args[0] and args[1] and ...
	aOr                     // args[0] or args[1] or ...
	aNot                    // not args[0]
	aNeg                    // -args[0]
	aBinary                 // args[0] op args[1]
	aIn                     // args[0] in {args[1:]...}; neg for "not in"
)

type ast struct {
	kind  astKind
	pos   int    // byte offset of the token that names the node
	op    string // aBinary
	name  string // aFunc
	path  string // aPointer: the JSON pointer to look up
	lit   val
	neg   bool
	args  []*ast
	depth int
}

func newAST(kind astKind, pos int, args ...*ast) *ast {
	a := &ast{kind: kind, pos: pos, args: args, depth: 1}
	for _, c := range args {
		if c.depth+1 > a.depth {
			a.depth = c.depth + 1
		}
	}
	return a
}

type parser struct {
	src  string
	toks []token
	i    int
	nest int
}

func parse(src string) (*ast, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	if p.peek().kind == tEOF {
		return nil, synErr(src, 0, "empty expression")
	}
	a, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, synErr(src, t.pos, `unexpected ")" without a matching "("`)
		}
		return nil, synErr(src, t.pos, "unexpected "+p.describe(t)+`; expected an operator, "and", "or" or the end of the expression`)
	}
	return a, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isWord(t token, w string) bool { return t.kind == tIdent && t.str == w }

// describe renders a token for an error message.
func (p *parser) describe(t token) string {
	if t.kind == tEOF {
		return "end of expression"
	}
	return strconv.Quote(p.src[t.pos:t.end])
}

func (p *parser) enter(pos int) error {
	p.nest++
	if p.nest > maxDepth {
		return synErr(p.src, pos, "expression is nested too deeply")
	}
	return nil
}

func (p *parser) leave() { p.nest-- }

func (p *parser) check(a *ast) (*ast, error) {
	if a.depth > maxDepth {
		return nil, synErr(p.src, a.pos, "expression is nested too deeply")
	}
	return a, nil
}

// parseOr parses Data Prepper's conditional level: `and` and `or` have the
// same precedence and associate left to right, as in Data Prepper's grammar
// (conditionalExpression: conditionalExpression (AND|OR) equality), so
// `a or b and c` is `(a or b) and c`. Runs of one operator become one n-ary
// node.
func (p *parser) parseOr() (*ast, error) {
	left, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	var built *ast // the node this loop made last, which may grow
	for p.isWord(p.peek(), "or") || p.isWord(p.peek(), "and") {
		op := p.next()
		kind := aOr
		if op.str == "and" {
			kind = aAnd
		}
		x, err := p.operandAfter(op, p.parseNot)
		if err != nil {
			return nil, err
		}
		if built != nil && built.kind == kind {
			built.args = append(built.args, x)
			if x.depth+1 > built.depth {
				built.depth = x.depth + 1
			}
			continue
		}
		left, err = p.check(newAST(kind, op.pos, left, x))
		if err != nil {
			return nil, err
		}
		built = left
	}
	return left, nil
}

// parseNot: "not" not-expression | equality
func (p *parser) parseNot() (*ast, error) {
	t := p.peek()
	if !p.isWord(t, "not") || p.isWord(p.peekAt(1), "in") {
		return p.parseEquality()
	}
	p.next()
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.operandAfter(t, p.parseNot)
	if err != nil {
		return nil, err
	}
	return p.check(newAST(aNot, t.pos, x))
}

// parseEquality: relational { ("==" | "!=") relational }
func (p *parser) parseEquality() (*ast, error) {
	l, err := p.parseRelational()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t.kind == tOp && (t.str == "==" || t.str == "!="); t = p.peek() {
		p.next()
		r, err := p.operandAfter(t, p.parseRelational)
		if err != nil {
			return nil, err
		}
		b := newAST(aBinary, t.pos, l, r)
		b.op = t.str
		if l, err = p.check(b); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// parseRelational: set { ("<" | "<=" | ">" | ">=" | "=~" | "!~") set }
func (p *parser) parseRelational() (*ast, error) {
	l, err := p.parseSet()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t.kind == tOp && t.str != "==" && t.str != "!="; t = p.peek() {
		p.next()
		r, err := p.operandAfter(t, p.parseSet)
		if err != nil {
			return nil, err
		}
		b := newAST(aBinary, t.pos, l, r)
		b.op = t.str
		if l, err = p.check(b); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// parseSet: unary { ("in" | "not" "in") "{" [unary { "," unary }] "}" }
func (p *parser) parseSet() (*ast, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		neg := false
		switch {
		case p.isWord(t, "in"):
		case p.isWord(t, "not") && p.isWord(p.peekAt(1), "in"):
			neg = true
			p.next()
		default:
			return l, nil
		}
		in := p.next()
		opText := "in"
		if neg {
			opText = "not in"
		}
		lb := p.peek()
		if lb.kind != tLBrace {
			return nil, synErr(p.src, lb.pos, `expected "{" after "`+opText+`" (sets are written {a, b, ...}), found `+p.describe(lb))
		}
		p.next()
		args := []*ast{l}
		if p.peek().kind == tRBrace {
			p.next()
		} else {
			for {
				x, err := p.operandAfter(p.toks[p.i-1], p.parseUnary)
				if err != nil {
					return nil, err
				}
				args = append(args, x)
				sep := p.next()
				if sep.kind == tRBrace {
					break
				}
				if sep.kind != tComma {
					return nil, synErr(p.src, sep.pos, `expected "," or "}" in set, found `+p.describe(sep))
				}
			}
		}
		a := newAST(aIn, in.pos, args...)
		a.neg = neg
		if l, err = p.check(a); err != nil {
			return nil, err
		}
	}
}

// parseUnary: "-" unary | "not" unary | primary. "not" only reaches here in
// operand position (e.g. /a == not /b); at the start of a condition it is
// handled by parseNot and applies to the whole comparison.
func (p *parser) parseUnary() (*ast, error) {
	t := p.peek()
	switch {
	case t.kind == tMinus:
		p.next()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer p.leave()
		// A literal number folds into a negative literal.
		if n := p.peek(); n.kind == tInt {
			p.next()
			a := newAST(aLit, t.pos)
			if n.u == 1<<63 {
				a.lit = val{k: kInt, i: -1 << 63}
			} else {
				a.lit = val{k: kInt, i: -int64(n.u)}
			}
			return a, nil
		} else if n.kind == tFloat {
			p.next()
			a := newAST(aLit, t.pos)
			a.lit = val{k: kFloat, f: -n.f}
			return a, nil
		}
		x, err := p.operandAfter(t, p.parseUnary)
		if err != nil {
			return nil, err
		}
		return p.check(newAST(aNeg, t.pos, x))
	case p.isWord(t, "not") && !p.isWord(p.peekAt(1), "in"):
		p.next()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.operandAfter(t, p.parseUnary)
		if err != nil {
			return nil, err
		}
		return p.check(newAST(aNot, t.pos, x))
	}
	return p.parsePrimary()
}

// operandAfter parses an operand that must follow the token op, turning a
// missing operand into a precise error.
func (p *parser) operandAfter(op token, parse func() (*ast, error)) (*ast, error) {
	t := p.peek()
	if t.kind == tEOF || t.kind == tRParen || t.kind == tRBrace || t.kind == tComma ||
		(t.kind == tOp) || p.isWord(t, "and") || p.isWord(t, "or") || p.isWord(t, "in") {
		what := "an operand"
		if p.isWord(op, "and") || p.isWord(op, "or") || p.isWord(op, "not") {
			what = "a condition"
		}
		return nil, synErr(p.src, t.pos, "expected "+what+" after "+p.describe(op)+", found "+p.describe(t))
	}
	return parse()
}

func (p *parser) parsePrimary() (*ast, error) {
	t := p.peek()
	switch t.kind {
	case tPointer:
		p.next()
		a := newAST(aPointer, t.pos)
		a.path = t.str
		return a, nil
	case tString:
		p.next()
		if p.src[t.pos+1] == '/' {
			// Data Prepper: a quoted string that starts with "/" is a JSON
			// pointer (the way to address keys with spaces or symbols).
			a := newAST(aPointer, t.pos)
			a.path = t.str
			return a, nil
		}
		a := newAST(aLit, t.pos)
		a.lit = val{k: kString, s: t.str}
		return a, nil
	case tInt:
		p.next()
		if t.u > 1<<63-1 {
			return nil, synErr(p.src, t.pos, "integer out of range: "+t.str)
		}
		a := newAST(aLit, t.pos)
		a.lit = val{k: kInt, i: int64(t.u)}
		return a, nil
	case tFloat:
		p.next()
		a := newAST(aLit, t.pos)
		a.lit = val{k: kFloat, f: t.f}
		return a, nil
	case tLParen:
		p.next()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.operandAfter(t, p.parseOr)
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, synErr(p.src, c.pos, `expected ")" to close "(" at position `+strconv.Itoa(humanPos(p.src, t.pos))+", found "+p.describe(c))
		}
		p.next()
		return x, nil
	case tIdent:
		switch t.str {
		case "true", "false":
			p.next()
			a := newAST(aLit, t.pos)
			a.lit = boolVal(t.str == "true")
			return a, nil
		case "null":
			p.next()
			return newAST(aLit, t.pos), nil
		case "and", "or", "not", "in":
			return nil, synErr(p.src, t.pos, "unexpected "+p.describe(t)+", expected an operand")
		}
		if p.peekAt(1).kind == tLParen {
			return p.parseCall()
		}
		return nil, synErr(p.src, t.pos, "unknown identifier "+strconv.Quote(t.str)+`; JSON pointers start with "/" (e.g. "/`+t.str+`")`)
	}
	return nil, synErr(p.src, t.pos, "unexpected "+p.describe(t)+", expected an operand")
}

// parseCall: name "(" [arg { "," arg }] ")". A bare string argument is always
// a string literal, even when it starts with "/" (as in Data Prepper).
func (p *parser) parseCall() (*ast, error) {
	name := p.next()
	p.next() // (
	if _, ok := functions[name.str]; !ok {
		return nil, synErr(p.src, name.pos, "unknown function "+strconv.Quote(name.str)+"; known functions are "+functionList())
	}
	if err := p.enter(name.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	call := newAST(aFunc, name.pos)
	call.name = name.str
	if p.peek().kind == tRParen {
		p.next()
		return call, nil
	}
	for {
		var arg *ast
		t := p.peek()
		if n := p.peekAt(1).kind; t.kind == tString && (n == tComma || n == tRParen) {
			p.next()
			arg = newAST(aLit, t.pos)
			arg.lit = val{k: kString, s: t.str}
		} else {
			var err error
			arg, err = p.operandAfter(p.toks[p.i-1], p.parseOr)
			if err != nil {
				return nil, err
			}
		}
		call.args = append(call.args, arg)
		if arg.depth+1 > call.depth {
			call.depth = arg.depth + 1
		}
		sep := p.next()
		if sep.kind == tRParen {
			break
		}
		if sep.kind != tComma {
			return nil, synErr(p.src, sep.pos, `expected "," or ")" in call to `+name.str+"(), found "+p.describe(sep))
		}
	}
	return p.check(call)
}
