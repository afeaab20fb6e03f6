// Package expr implements weft's condition language, compatible with the
// expression syntax of OpenSearch Data Prepper:
//
//	/status >= 400 and /log_type == "apache"
//	/kubernetes/namespace_name in {"prod", "staging"}
//	/ip =~ "10\..*" or hasTags("internal")
//
// An expression is compiled once (pointers pre-parsed, regular expressions
// compiled, set literals normalised) into a tree of typed nodes that
// evaluates the common conditions without allocating. See README.md for the
// full syntax and semantics.
package expr

import (
	"strconv"
	"unicode/utf8"

	"github.com/weft-agent/weft/pipelines/event"
)

// Expression is a compiled expression. It is immutable and safe for
// concurrent use. The zero value has no expression: evaluating it is an
// error (and Bool reports false).
type Expression struct {
	src  string
	root node
	cond boolNode // root, when it is statically boolean
}

// Compile parses and compiles src. Errors are *SyntaxError.
func Compile(src string) (*Expression, error) {
	return compile(src, false)
}

func compile(src string, generic bool) (*Expression, error) {
	a, err := parse(src)
	if err != nil {
		return nil, err
	}
	c := &compiler{src: src, generic: generic}
	root, err := c.compile(a)
	if err != nil {
		return nil, err
	}
	x := &Expression{src: src, root: root}
	if b, ok := root.(boolNode); ok {
		x.cond = b
	}
	return x, nil
}

// MustCompile is like Compile but panics on error; for tests and constant
// expressions in code.
func MustCompile(src string) *Expression {
	x, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return x
}

// String returns the source text.
func (x *Expression) String() string {
	if x == nil {
		return ""
	}
	return x.src
}

// Eval evaluates the expression on e and returns its value: nil, bool,
// int64, float64, string, or a map/list taken from the event.
func (x *Expression) Eval(e *event.Event) (any, error) {
	if x == nil || x.root == nil {
		return nil, &EvalError{Msg: "no expression"}
	}
	v, err := x.root.eval(orEmpty(e))
	if err != nil {
		return nil, x.wrap(err)
	}
	return v.toAny(), nil
}

// EvalBool evaluates a condition. It is an error if the result is not a
// boolean.
func (x *Expression) EvalBool(e *event.Event) (bool, error) {
	if x == nil || x.root == nil {
		return false, &EvalError{Msg: "no expression"}
	}
	e = orEmpty(e)
	if x.cond != nil {
		b, err := x.cond.test(e)
		if err != nil {
			return false, x.wrap(err)
		}
		return b, nil
	}
	v, err := x.root.eval(e)
	if err != nil {
		return false, x.wrap(err)
	}
	if v.k != kBool {
		return false, &EvalError{Expr: x.src, Msg: "the expression must evaluate to a boolean, got " + describeVal(v)}
	}
	return v.i != 0, nil
}

// Bool evaluates a condition, treating any evaluation error as false.
func (x *Expression) Bool(e *event.Event) bool {
	b, err := x.EvalBool(e)
	return err == nil && b
}

// IsCondition reports whether the expression always yields a boolean
// (comparisons, and/or/not, hasTags(), contains(), startsWith()), as
// opposed to a value such as a pointer or length().
func (x *Expression) IsCondition() bool { return x != nil && x.cond != nil }

// UnmarshalText compiles the text, so that expression fields of plugin
// configurations decode straight from YAML/JSON strings.
func (x *Expression) UnmarshalText(b []byte) error {
	c, err := Compile(string(b))
	if err != nil {
		return err
	}
	*x = *c
	return nil
}

// MarshalText returns the source text. It has a value receiver so that
// Expression fields (not only *Expression) encode as their text.
func (x Expression) MarshalText() ([]byte, error) {
	return []byte(x.src), nil
}

func (x *Expression) wrap(err error) error {
	if ee, ok := err.(*EvalError); ok && ee.Expr == "" {
		ee.Expr = x.src // each EvalError is freshly allocated by the failing node
	}
	return err
}

var emptyEvent = &event.Event{}

func orEmpty(e *event.Event) *event.Event {
	if e == nil {
		return emptyEvent // only ever read
	}
	return e
}

// SyntaxError reports an expression that does not compile.
type SyntaxError struct {
	Src    string // the expression
	Offset int    // 0-based byte offset of the problem in Src
	Msg    string
}

func (e *SyntaxError) Error() string {
	return "expression " + strconv.Quote(e.Src) + " at position " + strconv.Itoa(humanPos(e.Src, e.Offset)) + ": " + e.Msg
}

func synErr(src string, off int, msg string) *SyntaxError {
	return &SyntaxError{Src: src, Offset: off, Msg: msg}
}

// humanPos converts a byte offset to a 1-based character position.
func humanPos(src string, off int) int {
	if off < 0 {
		off = 0
	}
	if off > len(src) {
		off = len(src)
	}
	return utf8.RuneCountInString(src[:off]) + 1
}

// EvalError reports an expression that failed on a particular event (an
// operand of the wrong type, for instance). Conditions that fail count as
// false in Bool.
type EvalError struct {
	Expr string
	Msg  string
}

func (e *EvalError) Error() string {
	if e.Expr == "" {
		return "expression: " + e.Msg
	}
	return "expression " + strconv.Quote(e.Expr) + ": " + e.Msg
}
