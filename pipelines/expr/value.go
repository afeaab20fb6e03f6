package expr

import (
	"encoding/json"
	"math"
)

// kind is the dynamic type of an evaluated value.
type kind uint8

const (
	kNull kind = iota
	kBool
	kInt
	kFloat
	kString
	kOther // maps, lists and anything else a plugin stored; kept in val.o
)

func (k kind) String() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kInt:
		return "integer"
	case kFloat:
		return "float"
	case kString:
		return "string"
	default:
		return "object"
	}
}

// val is an evaluated value. Evaluation passes vals around by value so that
// the common comparisons never box anything into an interface.
type val struct {
	k kind
	i int64   // kInt, and kBool (0 or 1)
	f float64 // kFloat
	s string  // kString
	o any     // kOther
}

var (
	nullVal  = val{}
	trueVal  = val{k: kBool, i: 1}
	falseVal = val{k: kBool}
)

func boolVal(b bool) val {
	if b {
		return trueVal
	}
	return falseVal
}

func (v val) isNum() bool { return v.k == kInt || v.k == kFloat }

// typeName describes v for error messages (objects get their Go-ish JSON name).
func (v val) typeName() string {
	if v.k != kOther {
		return v.k.String()
	}
	switch v.o.(type) {
	case map[string]any:
		return "object"
	case []any, []string:
		return "list"
	default:
		return "object"
	}
}

// fromAny converts a field or metadata value. Numbers of every Go numeric
// type become int64 or float64.
func fromAny(x any) val {
	switch t := x.(type) {
	case nil:
		return nullVal
	case string:
		return val{k: kString, s: t}
	case int64:
		return val{k: kInt, i: t}
	case float64:
		return val{k: kFloat, f: t}
	case bool:
		return boolVal(t)
	case int:
		return val{k: kInt, i: int64(t)}
	case int32:
		return val{k: kInt, i: int64(t)}
	case int16:
		return val{k: kInt, i: int64(t)}
	case int8:
		return val{k: kInt, i: int64(t)}
	case uint8:
		return val{k: kInt, i: int64(t)}
	case uint16:
		return val{k: kInt, i: int64(t)}
	case uint32:
		return val{k: kInt, i: int64(t)}
	case uint:
		return fromUint(uint64(t))
	case uint64:
		return fromUint(t)
	case float32:
		return val{k: kFloat, f: float64(t)}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return val{k: kInt, i: i}
		}
		if f, err := t.Float64(); err == nil {
			return val{k: kFloat, f: f}
		}
		return val{k: kString, s: string(t)}
	default:
		return val{k: kOther, o: x}
	}
}

func fromUint(u uint64) val {
	if u > math.MaxInt64 {
		return val{k: kFloat, f: float64(u)}
	}
	return val{k: kInt, i: int64(u)}
}

// toAny converts back to the JSON-like representation (numbers as int64 or
// float64).
func (v val) toAny() any {
	switch v.k {
	case kBool:
		return v.i != 0
	case kInt:
		return v.i
	case kFloat:
		return v.f
	case kString:
		return v.s
	case kOther:
		return v.o
	default:
		return nil
	}
}

// equal is the == operator: numbers compare numerically across integer and
// float, values of different types are unequal, null equals only null, and
// objects and lists compare deeply.
func equal(a, b val) bool {
	if a.k == b.k {
		switch a.k {
		case kNull:
			return true
		case kBool, kInt:
			return a.i == b.i
		case kFloat:
			return a.f == b.f
		case kString:
			return a.s == b.s
		default:
			return deepEqual(a.o, b.o)
		}
	}
	if a.isNum() && b.isNum() {
		c, ok := numCmp(a, b)
		return ok && c == 0
	}
	return false
}

// numCmp orders two numbers exactly (no precision loss between int64 and
// float64). ok is false when either is NaN or either is not a number.
func numCmp(a, b val) (c int, ok bool) {
	switch {
	case a.k == kInt && b.k == kInt:
		return cmpInt(a.i, b.i), true
	case a.k == kFloat && b.k == kFloat:
		if a.f < b.f {
			return -1, true
		}
		if a.f > b.f {
			return 1, true
		}
		if a.f == b.f {
			return 0, true
		}
		return 0, false // NaN
	case a.k == kInt && b.k == kFloat:
		return cmpIntFloat(a.i, b.f)
	case a.k == kFloat && b.k == kInt:
		c, ok := cmpIntFloat(b.i, a.f)
		return -c, ok
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

const two63 = 9223372036854775808.0 // 2^63

// cmpIntFloat compares i with f without rounding i to a float64.
func cmpIntFloat(i int64, f float64) (int, bool) {
	if f != f {
		return 0, false
	}
	if f >= two63 {
		return -1, true
	}
	if f < -two63 {
		return 1, true
	}
	t := int64(f) // truncated toward zero; exact since |f| < 2^63
	if i < t {
		return -1, true
	}
	if i > t {
		return 1, true
	}
	fr := f - float64(t)
	if fr > 0 {
		return -1, true
	}
	if fr < 0 {
		return 1, true
	}
	return 0, true
}

// deepEqual compares JSON-like trees with the == semantics of equal.
func deepEqual(x, y any) bool {
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for k, v := range xv {
			w, ok := yv[k]
			if !ok || !equal(fromAny(v), fromAny(w)) {
				return false
			}
		}
		return true
	case []any:
		yv, ok := y.([]any)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for i := range xv {
			if !equal(fromAny(xv[i]), fromAny(yv[i])) {
				return false
			}
		}
		return true
	case []string:
		yv, ok := y.([]string)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for i := range xv {
			if xv[i] != yv[i] {
				return false
			}
		}
		return true
	default:
		return safeEqual(x, y)
	}
}

// safeEqual is interface equality that reports false instead of panicking
// on values of an incomparable type (e.g. a map type other than
// map[string]any).
func safeEqual(x, y any) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return x == y
}
