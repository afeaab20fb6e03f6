package expr

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// sampleEvent is shared by the table tests, the fuzzer and the benchmarks.
func sampleEvent() *event.Event {
	ev := event.New(event.KindLog, time.Unix(0, 0), map[string]any{
		"a":          int64(1),
		"b":          int64(2),
		"c":          int64(3),
		"status":     int64(200),
		"status_f":   float64(200),
		"status_i32": int32(404),
		"status_u":   uint16(500),
		"big":        uint64(1<<63 + 4096),
		"num":        json.Number("42"),
		"latency":    1.5,
		"log_type":   "apache",
		"message":    "GET /index.html 200",
		"ip":         "10.0.0.1",
		"pattern":    `10\..*`,
		"badpattern": "(",
		"empty":      "",
		"unicode":    "héllo",
		"flag":       true,
		"nil":        nil,
		"list":       []any{"a", int64(1)},
		"strs":       []string{"x", "y", "z"},
		"obj":        map[string]any{"a": int64(1), "b": []any{1.0}},
		"obj2":       map[string]any{"a": 1.0, "b": []any{int64(1)}},
		"kubernetes": map[string]any{
			"namespace_name": "prod",
			"labels":         map[string]any{"app": "web"},
		},
		"items":            []any{map[string]any{"name": "first"}},
		"field with space": "spaced",
		"a/b":              "slash",
		"m~n":              "tilde",
		"@timestamp":       "2024-01-01",
		"log.level":        "warn",
		"x-forwarded-for":  "1.2.3.4",
	})
	ev.AddTags("x", "y")
	ev.SetMetadata("source", "s3")
	ev.SetMetadata("count", int64(3))
	return ev
}

type evalCase struct {
	src     string
	want    any
	evalErr string // non-empty: Eval must fail with a message containing it
}

func runEvalCases(t *testing.T, cases []evalCase) {
	t.Helper()
	ev := sampleEvent()
	for _, tc := range cases {
		x, err := Compile(tc.src)
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.src, err)
			continue
		}
		got, err := x.Eval(ev)
		// The generic (unspecialised) compilation must give the same result.
		if g, gerr := compile(tc.src, true); gerr != nil {
			t.Errorf("generic compile(%q): %v", tc.src, gerr)
		} else if gv, gerr := g.Eval(ev); (gerr == nil) != (err == nil) || !reflect.DeepEqual(gv, got) {
			t.Errorf("%q: generic nodes give %#v, %v; specialised %#v, %v", tc.src, gv, gerr, got, err)
		}
		if tc.evalErr != "" {
			if err == nil {
				t.Errorf("Eval(%q) = %#v, want error containing %q", tc.src, got, tc.evalErr)
				continue
			}
			var ee *EvalError
			if !errors.As(err, &ee) || ee.Expr != tc.src {
				t.Errorf("Eval(%q) error %v is not an *EvalError naming the expression", tc.src, err)
			}
			if !strings.Contains(err.Error(), tc.evalErr) {
				t.Errorf("Eval(%q) error = %q, want it to contain %q", tc.src, err, tc.evalErr)
			}
			if x.Bool(ev) {
				t.Errorf("Bool(%q) = true on an evaluation error", tc.src)
			}
			continue
		}
		if err != nil {
			t.Errorf("Eval(%q): unexpected error %v", tc.src, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Eval(%q) = %#v (%T), want %#v (%T)", tc.src, got, got, tc.want, tc.want)
			continue
		}
		// The boolean fast path must agree with the value path.
		if wb, isBool := tc.want.(bool); isBool {
			b, err := x.EvalBool(ev)
			if err != nil || b != wb {
				t.Errorf("EvalBool(%q) = %v, %v; want %v", tc.src, b, err, wb)
			}
			if x.Bool(ev) != wb {
				t.Errorf("Bool(%q) = %v, want %v", tc.src, !wb, wb)
			}
		} else if _, err := x.EvalBool(ev); err == nil {
			t.Errorf("EvalBool(%q) succeeded on a non-boolean result %#v", tc.src, tc.want)
		}
	}
}

func TestPrecedence(t *testing.T) {
	runEvalCases(t, []evalCase{
		// not < comparison, and binds tighter than or:
		// (not (/a == 1)) or ((/b == 2) and (/c == 3))
		{`not /a == 1 or /b == 2 and /c == 3`, true, ""},
		{`not /a == 1 or /b == 2 and /c == 4`, false, ""},
		// and/or: one precedence level, left to right (Data Prepper's grammar)
		{`not /a == 2 or /b == 0 and /c == 0`, false, ""},
		{`true or true and false`, false, ""},
		{`true or (true and false)`, true, ""},
		{`false and false or true`, true, ""},
		{`not false or true and false`, false, ""},
		{`not true or true`, true, ""},
		{`not not true`, true, ""},
		{`false and false or true`, true, ""},
		{`false and (false or true)`, false, ""},
		{`(true or true) and false`, false, ""},
		{`not (/a == 1 or /b == 2)`, false, ""},
		{`((((/a == 1))))`, true, ""},
		{`/a == 1 and /b == 2 and /c == 3 and /status == 200`, true, ""},
		{`/a == 9 or /b == 9 or /c == 9 or /status == 200`, true, ""},
		// equality binds looser than relational operators (as in Data Prepper)
		{`/a < 2 == true`, true, ""},
		{`/a < 2 == /b > 5`, false, ""},
		{`/log_type =~ "ap.*" == true`, true, ""},
		{`/status in {200} != false`, true, ""},
		// "not" in operand position applies to the operand only
		{`/flag == not false`, true, ""},
		{`not /status in {200, 201}`, false, ""},
		{"/a == 1\n\tand\r\n/b == 2", true, ""},
	})
}

func TestComparisons(t *testing.T) {
	runEvalCases(t, []evalCase{
		{`/status == 200`, true, ""},
		{`/status != 200`, false, ""},
		{`200 == /status`, true, ""},
		{`/status == 201`, false, ""},
		{`/status == 200.0`, true, ""},
		{`/status_f == 200`, true, ""},
		{`/status_f == /status`, true, ""},
		{`/status == "200"`, false, ""},
		{`/status != "200"`, true, ""},
		{`/status_i32 == 404`, true, ""},
		{`/status_u == 500`, true, ""},
		{`/num == 42`, true, ""},
		{`/flag == true`, true, ""},
		{`/flag == 1`, false, ""},
		{`/log_type == "apache"`, true, ""},
		{`/log_type == "nginx"`, false, ""},
		{`/empty == ""`, true, ""},
		{`/unicode == "héllo"`, true, ""},
		{`/obj == /obj2`, true, ""},
		{`/list == /list`, true, ""},
		{`/obj == /list`, false, ""},
		{`/strs == /strs`, true, ""},
		{`/obj == "x"`, false, ""},
		{`1 == 1.0`, true, ""},
		{`-5 == -5.0`, true, ""},

		{`/status > 100`, true, ""},
		{`/status >= 200`, true, ""},
		{`/status > 200`, false, ""},
		{`/status < 200`, false, ""},
		{`/status <= 200`, true, ""},
		{`/status < 200.5`, true, ""},
		{`/status >= 200.5`, false, ""},
		{`/status_f >= 200`, true, ""},
		{`/status_i32 > /status`, true, ""},
		{`/latency > 1`, true, ""},
		{`/latency < 2`, true, ""},
		{`/latency <= 1.5`, true, ""},
		{`/latency > -1`, true, ""},
		{`400 <= /status`, false, ""},
		{`100 < /status`, true, ""},
		{`/big > 9223372036854775807`, true, ""},
		{`-9223372036854775808 < /a`, true, ""},
		{`/a > 0.9999999999`, true, ""},
		{`1e3 == 1000`, true, ""},
		{`2.5E-1 < 1`, true, ""},
		{`/log_type < 5`, nil, `operator "<" needs numbers, got string "apache"`},
		{`/status > /log_type`, nil, `needs numbers, got string`},
		{`/flag >= 1`, nil, `needs numbers, got boolean`},
	})
}

func TestNullSemantics(t *testing.T) {
	runEvalCases(t, []evalCase{
		{`/missing == null`, true, ""},
		{`null == /missing`, true, ""},
		{`/missing != null`, false, ""},
		{`/nil == null`, true, ""},
		{`/status == null`, false, ""},
		{`/status != null`, true, ""},
		{`/missing == 0`, false, ""},
		{`/missing == ""`, false, ""},
		{`/missing == false`, false, ""},
		{`/missing == /also_missing`, true, ""},
		{`/kubernetes/missing/deeper == null`, true, ""},
		{`/status/sub == null`, true, ""},
		{`/list/7 == null`, true, ""},
		{`null == null`, true, ""},
		{`/missing`, nil, ""},
		{`/missing != null and /missing > 5`, false, ""},
		{`/missing > 5`, nil, `needs numbers, got null`},
		{`/missing =~ "a"`, nil, `needs a string on the left, got null`},
		{`/missing and true`, nil, `operand of "and" must be a boolean, got null`},
		{`/missing in {1, 2}`, false, ""},
		{`/missing in {1, null}`, true, ""},
		{`/missing not in {1, 2}`, true, ""},
	})
}

func TestPointers(t *testing.T) {
	runEvalCases(t, []evalCase{
		{`/kubernetes/namespace_name == "prod"`, true, ""},
		{`/kubernetes/labels/app == "web"`, true, ""},
		{`/items/0/name == "first"`, true, ""},
		{`/list/1 == 1`, true, ""},
		{`"/field with space" == "spaced"`, true, ""},
		{`"/kubernetes/namespace_name" == "prod"`, true, ""},
		{`"spaced" == "/field with space"`, true, ""}, // a quoted "/..." is a pointer on either side
		{`/a~1b == "slash"`, true, ""},
		{`"/a~1b" == "slash"`, true, ""},
		{`"/missing" == "/also_missing"`, true, ""}, // both are pointers
		{`"\/index" == "/index"`, false, ""},        // the escaped one is a string
		{`"\/index" == "\/index"`, true, ""},
		{`"\/index"`, "/index", ""},
		{`/m~0n == "tilde"`, true, ""},
		{`/@timestamp == "2024-01-01"`, true, ""},
		{`/log.level == "warn"`, true, ""},
		{`/x-forwarded-for == "1.2.3.4"`, true, ""},
		{`/status`, int64(200), ""},
		{`/status_i32`, int64(404), ""},
		{`/latency`, 1.5, ""},
		{`/log_type`, "apache", ""},
		{`/kubernetes/labels`, map[string]any{"app": "web"}, ""},
		{`"/field with space"`, "spaced", ""},
	})
}

func TestLiterals(t *testing.T) {
	runEvalCases(t, []evalCase{
		{`"abc"`, "abc", ""},
		{`"a\"b\\c\/d\n\t\r\'\$"`, "a\"b\\c/d\n\t\r'$", ""},
		{`"\d+\.\w"`, `\d+\.\w`, ""}, // unknown escapes are kept for regexes
		{`""`, "", ""},
		{`"héllo"`, "héllo", ""},
		{`42`, int64(42), ""},
		{`-42`, int64(-42), ""},
		{`- 42`, int64(-42), ""},
		{`--42`, int64(42), ""},
		{`-(42)`, int64(-42), ""},
		{`4.25`, 4.25, ""},
		{`-4.25`, -4.25, ""},
		{`1e2`, 100.0, ""},
		{`0`, int64(0), ""},
		{`9223372036854775807`, int64(9223372036854775807), ""},
		{`-9223372036854775808`, int64(-9223372036854775808), ""},
		{`true`, true, ""},
		{`false`, false, ""},
		{`null`, nil, ""},
		{`-/status`, int64(-200), ""},
		{`-/latency`, -1.5, ""},
		{`-/log_type`, nil, `unary "-" needs a number, got string`},
		{`-/missing`, nil, `needs a number, got null`},
	})
}

func TestRegex(t *testing.T) {
	runEvalCases(t, []evalCase{
		{`/ip =~ "10\..*"`, true, ""},
		{`/ip =~ "10\\..*"`, true, ""},
		{`/ip =~ "^10\..*$"`, true, ""},
		{`/ip =~ "192\..*"`, false, ""},
		{`/ip !~ "192\..*"`, true, ""},
		{`/ip !~ "10\..*"`, false, ""},
		// Data Prepper semantics: the pattern must match the whole string.
		{`/ip =~ "10"`, false, ""},
		{`/ip =~ "^10\\."`, false, ""},
		{`/ip =~ ".*0\.0.*"`, true, ""},
		{`/ip =~ "10|10\.0\.0\.1"`, true, ""}, // alternation is grouped before anchoring
		{`/log_type =~ "apache|nginx"`, true, ""},
		{`/message =~ "GET .* \d{3}"`, true, ""},
		{`/unicode =~ "h.llo"`, true, ""},
		{`"abc" =~ "a.c"`, true, ""},
		{`/ip =~ /pattern`, true, ""},
		{`/ip !~ /pattern`, false, ""},
		{`/log_type =~ /pattern`, false, ""},
		{`/ip =~ /badpattern`, nil, `invalid regular expression "("`},
		{`/ip =~ /missing`, nil, `needs a string pattern on the right, got null`},
		{`/status =~ "2.*"`, nil, `"=~" needs a string on the left, got integer 200`},
		{`/list !~ "a"`, nil, `"!~" needs a string on the left, got list`},
	})
}

func TestSets(t *testing.T) {
	runEvalCases(t, []evalCase{
		{`/status in {200, 202}`, true, ""},
		{`/status in {201, 202}`, false, ""},
		{`/status not in {201, 202}`, true, ""},
		{`/status not in {200, 202}`, false, ""},
		{`/status_f in {200, 202}`, true, ""},
		{`/status in {200.0}`, true, ""},
		{`/latency in {1, 1.5}`, true, ""},
		{`/status in {-1, 200}`, true, ""},
		{`/status in {"200"}`, false, ""},
		{`/log_type in {"apache", "nginx"}`, true, ""},
		{`/log_type in {"iis", "nginx"}`, false, ""},
		{`/log_type not in {"iis", "nginx"}`, true, ""},
		{`/log_type in {"a","b","c","d","e","f","g","h","i","j","apache"}`, true, ""},
		{`/log_type in {"a","b","c","d","e","f","g","h","i","j","k"}`, false, ""},
		{`/log_type in {"a", "a", "apache"}`, true, ""},
		{`/flag in {true}`, true, ""},
		{`/flag in {false, 1}`, false, ""},
		{`/status in {}`, false, ""},
		{`/status not in {}`, true, ""},
		{`/status in {/status_f}`, true, ""},
		{`/status in {1, length(/log_type), /a}`, false, ""},
		{`/a in {-/a, /c, 1}`, true, ""},
		{`/c in {-/a, /c}`, true, ""},
		{`/kubernetes/namespace_name in {"prod", "staging"}`, true, ""},
		{`/obj in {1, "a"}`, false, ""},
		{`/status in {200} and /log_type in {"apache"}`, true, ""},
		// Data Prepper: a quoted "/..." element is a pointer, not a string
		{`/message in {"/message"}`, true, ""},
	})
}

func TestFunctions(t *testing.T) {
	runEvalCases(t, []evalCase{
		{`length(/log_type)`, int64(6), ""},
		{`length(/unicode)`, int64(5), ""}, // characters, not bytes
		{`length(/empty)`, int64(0), ""},
		{`length(/list)`, int64(2), ""},
		{`length(/strs)`, int64(3), ""},
		{`length("abc")`, int64(3), ""},
		{`length(/log_type) == 6`, true, ""},
		{`length(/message) > 10`, true, ""},
		{`length(/missing)`, nil, ""},
		{`length(/missing) == null`, true, ""},
		{`length(/status)`, nil, `length() needs a string or a list, got integer 200`},
		{`length(/obj)`, nil, `length() needs a string or a list, got object`},

		{`hasTags("x")`, true, ""},
		{`hasTags("x", "y")`, true, ""},
		{`hasTags("x", "z")`, false, ""},
		{`hasTags("z")`, false, ""},
		{`hasTags(/log_type)`, false, ""},
		{`hasTags(/missing)`, nil, `hasTags() needs string arguments, got null`},
		{`not hasTags("z") and hasTags("y")`, true, ""},

		{`contains(/message, "index")`, true, ""},
		{`contains(/message, "nope")`, false, ""},
		{`contains("abcdef", "cde")`, true, ""},
		{`contains(/message, "/index")`, true, ""}, // string literal argument, not a pointer
		{`contains(/message, /log_type)`, false, ""},
		{`contains(/log_type, /log_type)`, true, ""},
		{`contains(/missing, "a")`, false, ""},
		{`contains(/message, /missing)`, false, ""},
		{`contains(/status, "2")`, nil, `contains() needs string arguments, got integer 200`},

		{`startsWith(/message, "GET")`, true, ""},
		{`startsWith(/message, "POST")`, false, ""},
		{`startsWith("/api/v1", "/api")`, true, ""},
		{`startsWith(/missing, "GET")`, false, ""},
		{`startsWith(/list, "a")`, nil, `startsWith() needs string arguments, got list`},

		{`getMetadata("source")`, "s3", ""},
		{`getMetadata("source") == "s3"`, true, ""},
		{`getMetadata(" source ") == "s3"`, true, ""},
		{`getMetadata("count") > 2`, true, ""},
		{`getMetadata("nope")`, nil, ""},
		{`getMetadata("nope") == null`, true, ""},
		{`getMetadata(/log_type) == null`, true, ""},
		{`getMetadata(/status)`, nil, `getMetadata() needs a string key, got integer`},

		{`length(getMetadata("source")) == 2`, true, ""},
		{`contains( /message ,"GET" )`, true, ""},
	})
}

func TestLogicErrors(t *testing.T) {
	runEvalCases(t, []evalCase{
		{`/log_type and true`, nil, `operand of "and" must be a boolean, got string "apache"`},
		{`true and /log_type`, nil, `operand of "and" must be a boolean`},
		{`/status or false`, nil, `operand of "or" must be a boolean, got integer 200`},
		{`not /log_type`, nil, `operand of "not" must be a boolean`},
		{`getMetadata("count") and true`, nil, `operand of "and" must be a boolean, got integer 3`},
		{`/flag and true`, true, ""},
		{`not /flag`, false, ""},
		// short-circuit: the failing operand is never evaluated
		{`false and /log_type`, false, ""},
		{`true or /log_type`, true, ""},
		{`/status == 200 or /log_type > 1`, true, ""},
	})
}

func TestEvalBoolOnValue(t *testing.T) {
	ev := sampleEvent()
	for _, src := range []string{`length(/message)`, `/log_type`, `/missing`, `"x"`, `42`} {
		x := MustCompile(src)
		if x.IsCondition() {
			t.Errorf("IsCondition(%q) = true", src)
		}
		if _, err := x.EvalBool(ev); err == nil || !strings.Contains(err.Error(), "must evaluate to a boolean") {
			t.Errorf("EvalBool(%q) error = %v", src, err)
		}
		if x.Bool(ev) {
			t.Errorf("Bool(%q) = true", src)
		}
	}
	x := MustCompile(`/flag`)
	if b, err := x.EvalBool(ev); err != nil || !b {
		t.Errorf("EvalBool(/flag) = %v, %v", b, err)
	}
	if !MustCompile(`/a == 1`).IsCondition() {
		t.Error("IsCondition(/a == 1) = false")
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		src    string
		offset int
		msg    string
	}{
		{``, 0, "empty expression"},
		{"  \t ", 0, "empty expression"},
		{`/a == "abc`, 6, "unterminated string"},
		{`/a == "abc\"`, 6, "unterminated string"},
		{`"\`, 0, "unterminated string"},
		{`/a ==`, 5, `expected an operand after "==", found end of expression`},
		{`/a == `, 5, `expected an operand after "=="`},
		{`/a == 1 and`, 11, `expected a condition after "and"`},
		{`/a == 1 or or /b`, 11, `expected a condition after "or", found "or"`},
		{`not`, 3, `expected a condition after "not"`},
		{`/a == == 1`, 6, `expected an operand after "==", found "=="`},
		{`/a >`, 4, `expected an operand after ">"`},
		{`-`, 1, `expected an operand after "-"`},
		{`(/a == 1`, 8, `expected ")" to close "(" at position 1`},
		{`((/a == 1)`, 10, `expected ")" to close "(" at position 1`},
		{`/a == 1)`, 7, `unexpected ")" without a matching "("`},
		{`()`, 1, `expected an operand after "(", found ")"`},
		{`foo(/a)`, 0, `unknown function "foo"`},
		{`/a == 1 and bar("x")`, 12, `unknown function "bar"`},
		{`Length(/a)`, 0, `unknown function "Length"`},
		{`/a =~ "("`, 6, `invalid regular expression "("`},
		{`/a !~ "[a-"`, 6, `invalid regular expression`},
		{`/a =~ "(?<=x)y"`, 6, `invalid regular expression`}, // RE2: no lookbehind
		{`/a in 1`, 6, `expected "{" after "in"`},
		{`/a not in "x"`, 10, `expected "{" after "not in"`},
		{`/a in {1, 2`, 11, `expected "," or "}" in set`},
		{`/a in {1,}`, 9, `expected an operand after ",", found "}"`},
		{`/a in {1 2}`, 9, `expected "," or "}" in set, found "2"`},
		{`in {1}`, 0, `unexpected "in", expected an operand`},
		{`/a = 1`, 3, `use "==" to compare`},
		{`/a == 1 && /b == 2`, 8, `use "and"`},
		{`/a == 1 || /b == 2`, 8, `use "or"`},
		{`!/a`, 0, `use "not"`},
		{`/a == 'x'`, 6, `double quotes`},
		{`/a == 1 AND /b == 2`, 8, `unexpected "AND"`},
		{`status == 200`, 0, `unknown identifier "status"; JSON pointers start with "/"`},
		{`/a == 1 /b`, 8, `unexpected "/b"`},
		{`/a/ == 1`, 3, `expected a field name after "/"`},
		{`/ == 1`, 1, `expected a field name after "/"`},
		{`/a~2 == 1`, 2, `"~" must be followed by 0 or 1`},
		{`/a == 1.`, 6, `invalid number`},
		{`/a == 1e`, 6, `invalid number`},
		{`/a == 12ab`, 6, `invalid number "12a"`},
		{`/a == 99999999999999999999`, 6, `integer out of range`},
		{`/a == 9223372036854775808`, 6, `integer out of range`},
		{`/a == 1e999`, 6, `number out of range`},
		{`/a == #`, 6, `unexpected character '#'`},
		{`/a == ${x}`, 6, `unexpected character '$'`},
		{`hasTags()`, 0, `hasTags() takes at least 1 argument, got 0`},
		{`length(/a, /b)`, 0, `length() takes 1 argument, got 2`},
		{`contains(/a)`, 0, `contains() takes 2 arguments, got 1`},
		{`length(/a`, 9, `expected "," or ")" in call to length()`},
		{`length(1)`, 7, `argument 1 of length() must be a string, got number literal`},
		{`hasTags("x", true)`, 13, `argument 2 of hasTags() must be a string`},
		{`getMetadata(null)`, 12, `must be a string, got null`},
		{`/a and "x"`, 7, `operand of "and" must be a boolean, got string literal`},
		{`not 5`, 4, `operand of "not" must be a boolean, got number literal`},
		{`length(/a) or true`, 0, `operand of "or" must be a boolean, got length()`},
		{`/a < "x"`, 5, `operand of "<" must be a number, got string literal`},
		{`true >= /a`, 0, `operand of ">=" must be a number, got boolean literal`},
		{`/a =~ 5`, 6, `right operand of "=~" must be a string pattern`},
		{`5 =~ "x"`, 0, `left operand of "=~" must be a string`},
		{`-"x"`, 1, `operand of unary "-" must be a number`},
		{`{1, 2}`, 0, `unexpected "{", expected an operand`},
		{`/a == 1 ,`, 8, `unexpected ","`},
		{strings.Repeat("(", 300) + "true" + strings.Repeat(")", 300), 200, `nested too deeply`},
		{strings.Repeat("not ", 300) + "true", 800, `nested too deeply`},
		{`/a == "héllo" ==`, 17, `expected an operand`},
	}
	for _, tc := range cases {
		x, err := Compile(tc.src)
		if err == nil {
			t.Errorf("Compile(%q) = %v, want a syntax error", tc.src, x)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q) error %T is not a *SyntaxError", tc.src, err)
			continue
		}
		if se.Src != tc.src {
			t.Errorf("Compile(%q): Src = %q", tc.src, se.Src)
		}
		if se.Offset != tc.offset {
			t.Errorf("Compile(%q): Offset = %d, want %d (%v)", tc.src, se.Offset, tc.offset, err)
		}
		if !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("Compile(%q): Msg = %q, want it to contain %q", tc.src, se.Msg, tc.msg)
		}
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Compile(`/a == `)
	want := `expression "/a == " at position 6: expected an operand after "==", found end of expression`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	// positions count characters, not bytes
	_, err = Compile(`"é" == #`)
	if err == nil || !strings.Contains(err.Error(), "at position 8:") {
		t.Errorf("error = %v, want position 8", err)
	}
	if se := err.(*SyntaxError); se.Offset != 8 { // 0-based bytes: é is two bytes
		t.Errorf("Offset = %d, want 8", se.Offset)
	}
}

func TestTextMarshaling(t *testing.T) {
	var cfg struct {
		When  Expression  `json:"when"`
		Maybe *Expression `json:"maybe"`
	}
	in := `{"when": "/status >= 400 and hasTags(\"x\")", "maybe": "/log_type == \"apache\""}`
	if err := json.Unmarshal([]byte(in), &cfg); err != nil {
		t.Fatal(err)
	}
	ev := sampleEvent()
	if cfg.When.Bool(ev) {
		t.Error("when: got true for status 200")
	}
	if !cfg.Maybe.Bool(ev) {
		t.Error("maybe: got false")
	}
	if cfg.When.String() != `/status >= 400 and hasTags("x")` {
		t.Errorf("String() = %q", cfg.When.String())
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"when":"/status \u003e= 400 and hasTags(\"x\")","maybe":"/log_type == \"apache\""}` {
		t.Errorf("Marshal = %s", out)
	}

	err = json.Unmarshal([]byte(`{"when": "/status >= "}`), &cfg)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 10 {
		t.Errorf("Unmarshal of a bad expression: %v", err)
	}

	var x Expression
	if err := x.UnmarshalText([]byte(`/a == 1`)); err != nil || !x.Bool(ev) {
		t.Errorf("UnmarshalText: %v", err)
	}
	if b, _ := x.MarshalText(); string(b) != `/a == 1` {
		t.Errorf("MarshalText = %q", b)
	}
}

func TestZeroAndNil(t *testing.T) {
	var zero Expression
	if zero.Bool(sampleEvent()) {
		t.Error("zero Expression: Bool = true")
	}
	if _, err := zero.Eval(sampleEvent()); err == nil {
		t.Error("zero Expression: Eval succeeded")
	}
	var nilx *Expression
	if nilx.String() != "" || nilx.Bool(nil) || nilx.IsCondition() {
		t.Error("nil Expression misbehaves")
	}
	if _, err := nilx.EvalBool(nil); err == nil {
		t.Error("nil Expression: EvalBool succeeded")
	}
	// A nil event is an empty event.
	x := MustCompile(`/a == null and not hasTags("x") and getMetadata("k") == null`)
	if b, err := x.EvalBool(nil); err != nil || !b {
		t.Errorf("nil event: %v, %v", b, err)
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile did not panic")
		}
	}()
	MustCompile(`/a ==`)
}

func TestConcurrentEval(t *testing.T) {
	exprs := []*Expression{
		MustCompile(`/ip =~ /pattern and /status in {200, 202}`),
		MustCompile(`/log_type == "apache" and /status >= 200 and hasTags("x")`),
		MustCompile(`length(/message) > 3 or getMetadata("source") == "s3"`),
	}
	ev := sampleEvent()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				for _, x := range exprs {
					if b, err := x.EvalBool(ev); err != nil || !b {
						t.Errorf("%s: %v, %v", x, b, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestRegexCacheBounded(t *testing.T) {
	x := MustCompile(`/v =~ /p`)
	for i := 0; i < 3*regexCacheSize; i++ {
		ev := event.New(event.KindLog, time.Time{}, map[string]any{
			"v": "a" + strings.Repeat("b", i),
			"p": "ab{" + strconv.Itoa(i) + "}",
		})
		if !x.Bool(ev) {
			t.Fatalf("pattern %d did not match", i)
		}
	}
	cache := x.root.(*regexDynNode).cache
	if n := len(cache.m); n > regexCacheSize {
		t.Errorf("cache holds %d patterns, limit %d", n, regexCacheSize)
	}
}

func TestNumCmpExact(t *testing.T) {
	cases := []struct {
		i    int64
		f    float64
		want int
	}{
		{1, 1.0, 0},
		{1, 1.5, -1},
		{2, 1.5, 1},
		{-1, -1.5, 1},
		{-2, -1.5, -1},
		{1 << 53, 1 << 53, 0},
		{1<<53 + 1, 1 << 53, 1}, // would be equal if i were converted to float64
		{1<<63 - 1, two63, -1},
		{-1 << 63, -two63, 0},
	}
	for _, c := range cases {
		got, ok := cmpIntFloat(c.i, c.f)
		if !ok || got != c.want {
			t.Errorf("cmpIntFloat(%d, %g) = %d, %v; want %d", c.i, c.f, got, ok, c.want)
		}
	}
	nan := val{k: kFloat, f: zero() / zero()}
	if _, ok := numCmp(val{k: kInt, i: 1}, nan); ok {
		t.Error("NaN compared as ordered")
	}
	if equal(nan, nan) {
		t.Error("NaN == NaN")
	}
	ev := event.New(event.KindLog, time.Time{}, map[string]any{"n": nan.f})
	for _, src := range []string{`/n > 1`, `/n < 1`, `/n == /n`, `/n in {1}`} {
		b, err := MustCompile(src).EvalBool(ev)
		if err != nil || b {
			t.Errorf("%s on NaN = %v, %v; want false", src, b, err)
		}
	}
}

func zero() float64 { return 0 }

func TestIncomparableValues(t *testing.T) {
	ev := event.New(event.KindLog, time.Time{}, map[string]any{
		"m1": map[string]string{"a": "b"},
		"m2": map[string]string{"a": "b"},
		"t":  time.Unix(5, 0).UTC(),
	})
	for src, want := range map[string]bool{
		`/m1 == /m2`: false, // incomparable type: never panics
		`/m1 == /m1`: false,
		`/t == /t`:   true,
		`/t == 5`:    false,
	} {
		b, err := MustCompile(src).EvalBool(ev)
		if err != nil || b != want {
			t.Errorf("%s = %v, %v; want %v", src, b, err, want)
		}
	}
}
