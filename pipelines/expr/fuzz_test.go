package expr

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

var fuzzSeeds = []string{
	``,
	` `,
	`/status == 200`,
	`/status != 200.5`,
	`/log_type == "apache" and /status >= 400`,
	`/ip =~ "^10\\."`,
	`/ip !~ "10\..*"`,
	`/ip =~ /pattern`,
	`/ip =~ /badpattern`,
	`/status in {200, 202}`,
	`/status not in {200, "x", null, true, -1.5, /a}`,
	`/log_type in {"a","b","c","d","e","f","g","h","i","j","apache"}`,
	`hasTags("x", "y")`,
	`hasTags(/log_type)`,
	`not /a == 1 or /b == 2 and /c == 3`,
	`((/a == 1) and (not (/b < 2)))`,
	`/a < 2 == /b > 5`,
	`/flag == not false`,
	`length(/message) > 10`,
	`length(/list)`,
	`length(getMetadata("source"))`,
	`contains(/message, "/index")`,
	`startsWith(/message, /log_type)`,
	`getMetadata("count") >= 3`,
	`getMetadata(/log_type)`,
	`"/field with space" == "spaced"`,
	`/a~1b == "slash" and /m~0n == "tilde"`,
	`/kubernetes/labels/app == "web"`,
	`/items/0/name == "first"`,
	`/missing == null`,
	`/obj == /obj2`,
	`-/status < -9223372036854775808`,
	`--/latency`,
	`-9223372036854775808`,
	`1e308 > /big`,
	`"a\"b\\c\/d\n\t\d"`,
	`/a == "abc`,
	`(/a == 1`,
	`foo(/a)`,
	`/a =~ "("`,
	`/a in 1`,
	`/a == 1 && /b`,
	`/@timestamp == "x" and /log.level == "warn"`,
	`/a/ == 1`,
	`/a~2`,
	"\"é\" == #",
	strings.Repeat("(", 210) + "true" + strings.Repeat(")", 210),
	strings.Repeat("not ", 199) + "true",
	strings.Repeat("-", 199) + "1",
}

func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	ev := sampleEvent()
	f.Fuzz(func(t *testing.T, src string) {
		tm := time.AfterFunc(10*time.Second, func() { panic("SLOW INPUT " + strconv.Quote(src)) })
		defer tm.Stop()
		x, err := Compile(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) returned %T, want *SyntaxError", src, err)
			}
			if se.Src != src || se.Offset < 0 || se.Offset > len(src) {
				t.Fatalf("Compile(%q): bad SyntaxError %+v", src, se)
			}
			if se.Msg == "" || se.Error() == "" {
				t.Fatalf("Compile(%q): empty message", src)
			}
			if x != nil {
				t.Fatalf("Compile(%q) returned an expression and an error", src)
			}
			return
		}
		if x.String() != src {
			t.Fatalf("String() = %q, want %q", x.String(), src)
		}
		v, verr := x.Eval(ev)
		b, berr := x.EvalBool(ev)
		if x.Bool(ev) != (berr == nil && b) {
			t.Fatalf("%q: Bool disagrees with EvalBool", src)
		}
		// The boolean fast path must agree with the value path.
		if verr == nil {
			if vb, ok := v.(bool); ok {
				if berr != nil || b != vb {
					t.Fatalf("%q: Eval = %v but EvalBool = %v, %v", src, v, b, berr)
				}
			} else if berr == nil {
				t.Fatalf("%q: EvalBool succeeded on non-boolean %#v", src, v)
			}
		}
		// The specialised nodes must agree with the generic ones.
		g, err := compile(src, true)
		if err != nil {
			t.Fatalf("%q compiles only with fast paths: %v", src, err)
		}
		gv, gerr := g.Eval(ev)
		if (gerr == nil) != (verr == nil) || (verr == nil && !sameValue(v, gv)) {
			t.Fatalf("%q: fast path = %#v, %v; generic = %#v, %v", src, v, verr, gv, gerr)
		}
		if verr != nil && errors.As(verr, new(*SyntaxError)) {
			t.Fatalf("%q: evaluation returned a SyntaxError", src)
		}
		// Must also work on an empty event and a nil event.
		_, _ = x.Eval(nil)
		_ = x.Bool(nil)
		// Text round trip.
		var y Expression
		if err := y.UnmarshalText([]byte(src)); err != nil {
			t.Fatalf("UnmarshalText(%q): %v", src, err)
		}
	})
}

// sameValue compares evaluation results (NaN equals NaN here).
func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		if fb, ok := b.(float64); ok && fa != fa && fb != fb {
			return true
		}
	}
	return equal(fromAny(a), fromAny(b))
}
