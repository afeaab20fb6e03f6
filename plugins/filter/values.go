package filter

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// numv is a number, kept exact when it is an integer.
type numv struct {
	f     float64
	i     int64
	isInt bool
}

func intNum(i int64) numv     { return numv{f: float64(i), i: i, isInt: true} }
func floatNum(f float64) numv { return numv{f: f} }

func numEq(a, b numv) bool {
	if a.isInt && b.isInt {
		return a.i == b.i
	}
	return a.f == b.f
}

func numCmp(a, b numv) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	switch {
	case a.f < b.f:
		return -1
	case a.f > b.f:
		return 1
	}
	return 0
}

// docNum reads a numeric field value.
func docNum(v any) (numv, bool) {
	switch t := v.(type) {
	case int64:
		return intNum(t), true
	case float64:
		if math.IsNaN(t) {
			return numv{}, false
		}
		return floatNum(t), true
	case int:
		return intNum(int64(t)), true
	case int32:
		return intNum(int64(t)), true
	case uint64:
		if t <= math.MaxInt64 {
			return intNum(int64(t)), true
		}
		return floatNum(float64(t)), true
	case uint32:
		return intNum(int64(t)), true
	case float32:
		return floatNum(float64(t)), true
	case json.Number:
		return parseNum(string(t))
	}
	return numv{}, false
}

// parseNum reads a decimal number written as text ("200", "-1.5e3"). It
// checks the syntax itself first so that non-numbers cost no allocation.
func parseNum(s string) (numv, bool) {
	if len(s) == 0 || len(s) > 64 {
		return numv{}, false
	}
	i := 0
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i++
	}
	var n int64
	intDigits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if intDigits < 18 {
			n = n*10 + int64(s[i]-'0')
		}
		intDigits++
		i++
	}
	if i == len(s) && intDigits > 0 {
		if intDigits <= 18 {
			if neg {
				n = -n
			}
			return intNum(n), true
		}
		if x, err := strconv.ParseInt(s, 10, 64); err == nil {
			return intNum(x), true
		}
	}
	frac := 0
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			frac++
			i++
		}
	}
	if intDigits+frac == 0 {
		return numv{}, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			exp++
			i++
		}
		if exp == 0 {
			return numv{}, false
		}
	}
	if i != len(s) {
		return numv{}, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return numv{}, false
	}
	return floatNum(f), true
}

// qvalue is a value written in a query, prepared for comparisons.
type qvalue struct {
	s      string // the text: a string itself, a number as written, true/false
	kind   qkind
	num    numv // kind qNum, or a string that reads as a number (numOK)
	numOK  bool
	b      bool // kind qBool, or the string "true"/"false" (boolOK)
	boolOK bool
}

type qkind uint8

const (
	qStr qkind = iota
	qNum
	qBool
)

func newQValue(n *dnode) qvalue {
	q := qvalue{s: n.text}
	switch v := n.val.(type) {
	case string:
		q.kind = qStr
		q.s = v
		q.num, q.numOK = parseNum(v)
		if v == "true" || v == "false" {
			q.b, q.boolOK = v == "true", true
		}
	case int64:
		q.kind, q.num, q.numOK = qNum, intNum(v), true
	case float64:
		q.kind, q.num, q.numOK = qNum, floatNum(v), true
	case bool:
		q.kind, q.b, q.boolOK = qBool, v, true
		q.s = strconv.FormatBool(v)
	}
	return q
}

// equalExact is the term comparison: the whole value, no analysis, as a
// keyword, numeric or boolean field compares it.
func equalExact(v any, q *qvalue, ci bool) bool {
	switch d := v.(type) {
	case string:
		if ci {
			if strings.EqualFold(d, q.s) {
				return true
			}
		} else if d == q.s {
			return true
		}
		if q.kind == qNum {
			if n, ok := parseNum(d); ok {
				return numEq(n, q.num)
			}
		}
		return false
	case bool:
		return q.boolOK && d == q.b
	case map[string]any, time.Time:
		return false
	}
	if n, ok := docNum(v); ok && q.numOK {
		return numEq(n, q.num)
	}
	return false
}

// hasValue reports whether a value counts for exists: anything but null,
// and an object when one of its values does.
func hasValue(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case map[string]any:
		for _, x := range t {
			if hasValue(x) {
				return true
			}
		}
		return false
	case []any:
		for _, x := range t {
			if hasValue(x) {
				return true
			}
		}
		return false
	}
	return true
}
