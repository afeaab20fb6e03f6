package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// stdMarshal encodes v with encoding/json, HTML escaping off, no newline.
func stdMarshal(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// normalize converts every int64 in a decoded tree to float64, the type
// encoding/json uses for all numbers.
func normalize(v any) any {
	switch t := v.(type) {
	case int64:
		return float64(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = normalize(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = normalize(x)
		}
		return out
	default:
		return v
	}
}

// jsonEqual compares two decoded trees exactly (types included; floats by ==).
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		panic(fmt.Sprintf("unexpected type %T in decoded tree", a))
	}
}

var roundTripDocs = []string{
	`{}`,
	`[]`,
	`null`,
	`true`,
	`false`,
	`0`,
	`-1`,
	`"plain"`,
	` {"a" : 1 , "b":[ 1 , 2 ] }` + "\n\t\r ",
	`{"level":"info","msg":"hello","n":42,"f":1.5,"ok":true,"nil":null}`,
	`{"a":{"b":{"c":{"d":[1,[2,[3,{"e":[]}]]],"f":{}}}}}`,
	`[[],[[]],{},[{}],[null,true,false]]`,
	`{"negative":-42,"neg_float":-0.5,"neg_exp":-1.5e-10,"zero":0,"neg_zero":-0.0}`,
	`{"exp":[1e3,1E3,1e+3,1e-3,2.5E-8,6.02e23,1e21,1e20,123456789e-20,5e-324,1.7976931348623157e308]}`,
	`{"small":[0.1,0.000001,0.0000001,1e-7,100.0,3.0,1.25]}`,
	`{"bigint":12345678901234567890,"bigneg":-12345678901234567890,"huge":1234567890123456789012345678901234567890}`,
	`{"maxint":9223372036854775807,"minint":-9223372036854775808}`,
	`{"overmax":9223372036854775808,"undermin":-9223372036854775809}`,
	`{"underflow":1e-400,"neg_underflow":-1e-400}`,
	`{"unicode":"héllo wörld – ✓ 日本語 🎉","key ✓":"v"}`,
	`{"esc":"quote \" backslash \\ slash \/ \b \f \n \r \t end"}`,
	`{"u":"\u0041\u00e9\u2713\u65e5\u0000\u001f\u007f"}`,
	`{"pair":"\ud83c\udf89 \uD83D\uDE00","mixed":"a\ud83c\udf89b"}`,
	`{"lone_hi":"\ud83c x","lone_lo":"\udf89","reversed":"\udf89\ud83c","hi_hi":"\ud83c\ud83c","hi_then_bmp":"\ud83c\u0041"}`,
	`{"html":"<script>alert('x') && 1 > 0</script>","ls":"a\u2028b\u2029c","lsraw":"a` + "\u2028" + `b"}`,
	`{"ctl":"\u0001\u0002\u0008\u000b\u000c\u001b"}`,
	`{"dup":1,"dup":2,"x":{"dup":"a","dup":"b"}}`,
	`{"":"empty key","a\"b":"quoted key","a\\b":1,"\u00e9":"escaped key"}`,
	`{"invalid_utf8":"a` + "\xff" + `b` + "\xc3\x28" + `c` + "\xed\xa0\x80" + `d` + "\xf0\x9f\x8e" + `"}`,
	`{"invalid_utf8_esc":"\n` + "\xfe" + `\t"}`,
	`{"long":"` + strings.Repeat("abcdefghij", 50) + `","longesc":"` + strings.Repeat(`abc\"def\n`, 30) + `"}`,
	`{"deep":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	`{"array_of_objects":[{"a":1},{"b":2},{"c":[3]}]}`,
	`{"k01":1,"k02":2,"k03":3,"k04":4,"k05":5,"k06":6,"k07":7,"k08":8,"k09":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k19":19,"k20":20}`,
}

// TestDecodeJSONMatchesEncodingJSON decodes each document with both decoders,
// compares the trees, and compares the re-encoded bytes.
func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	for _, doc := range roundTripDocs {
		var std any
		if err := json.Unmarshal([]byte(doc), &std); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", doc, err)
		}
		ours, err := DecodeJSON([]byte(doc))
		if err != nil {
			t.Errorf("DecodeJSON(%q): %v", doc, err)
			continue
		}
		if !jsonEqual(normalize(ours), std) {
			t.Errorf("DecodeJSON(%q)\n got %#v\nwant %#v", doc, ours, std)
			continue
		}
		got := AppendJSON(nil, ours)
		want := stdMarshal(t, std)
		// int64 values beyond 2^53 keep their digits (encoding/json rounds
		// them through float64); TestDecodeJSONNumberTypes covers those.
		if !bytes.Equal(got, want) && !hasLargeInt(ours) {
			t.Errorf("AppendJSON(DecodeJSON(%q))\n got %s\nwant %s", doc, got, want)
		}
		if !json.Valid(got) {
			t.Errorf("AppendJSON output is not valid JSON: %s", got)
		}
		// Our own output decodes back to the same tree.
		again, err := DecodeJSON(got)
		if err != nil || !jsonEqual(normalize(again), normalize(ours)) {
			t.Errorf("re-decoding %s: %v, %#v", got, err, again)
		}
		// Objects also go through DecodeJSONObject.
		if m, ok := ours.(map[string]any); ok {
			obj, err := DecodeJSONObject([]byte(doc))
			if err != nil || !jsonEqual(obj, m) {
				t.Errorf("DecodeJSONObject(%q) = %#v, %v", doc, obj, err)
			}
		}
	}
}

func TestDecodeJSONNumberTypes(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"0", int64(0)},
		{"-0", math.Copysign(0, -1)},
		{"-0.0", math.Copysign(0, -1)},
		{"7", int64(7)},
		{"-7", int64(-7)},
		{"9007199254740993", int64(9007199254740993)}, // 2^53+1: exact, unlike float64
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", float64(9223372036854775808)},
		{"-9223372036854775809", float64(-9223372036854775809)},
		{"18446744073709551616", float64(18446744073709551616)},
		{"12345678901234567890123", 12345678901234567890123.0},
		{"1.0", 1.0},
		{"1e2", 100.0},
		{"-2.5E-3", -0.0025},
		{"1e-400", 0.0},
	}
	for _, tt := range tests {
		got, err := DecodeJSON([]byte(tt.in))
		if err != nil {
			t.Errorf("DecodeJSON(%s): %v", tt.in, err)
			continue
		}
		if !jsonEqual(got, tt.want) || string(AppendJSON(nil, got)) != string(AppendJSON(nil, tt.want)) {
			t.Errorf("DecodeJSON(%s) = %#v (%T), want %#v (%T)", tt.in, got, got, tt.want, tt.want)
		}
	}
	// Above 2^53 the int64 keeps precision that encoding/json loses.
	for _, doc := range []string{`{"id":1234567890123456789}`, `[9223372036854775807,-9223372036854775808,9007199254740993]`} {
		v, err := DecodeJSON([]byte(doc))
		if out := string(AppendJSON(nil, v)); err != nil || out != doc {
			t.Errorf("big int64 round trip of %s = %s, %v", doc, out, err)
		}
	}
}

func TestDecodeJSONStrings(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`"\ud83c\udf89"`, "🎉"},
		{`"\u00e9"`, "é"},
		{`"\ud83c"`, "\uFFFD"},
		{`"\ud83cx"`, "\uFFFDx"},
		{`"\udf89\ud83c"`, "\uFFFD\uFFFD"},
		{`"\ud83c\u0041"`, "\uFFFDA"},
		{`"\ud83c\ud83c\udf89"`, "\uFFFD🎉"},
		{"\"a\xffb\"", "a\uFFFDb"},
		{"\"\xed\xa0\x80\"", "\uFFFD\uFFFD\uFFFD"}, // UTF-8 encoded surrogate: one U+FFFD per byte
		{"\"\xf0\x9f\x8e\"", "\uFFFD\uFFFD\uFFFD"},
		{"\"\xef\xbf\xbd\"", "\uFFFD"},
		{`"a\/b"`, "a/b"},
		{"\"\x7f\"", "\x7f"},
	}
	for _, tt := range tests {
		got, err := DecodeJSON([]byte(tt.in))
		if err != nil {
			t.Errorf("DecodeJSON(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("DecodeJSON(%q) = %q, want %q", tt.in, got, tt.want)
		}
		var std string
		if err := json.Unmarshal([]byte(tt.in), &std); err != nil || std != got {
			t.Errorf("encoding/json decodes %q to %q (%v), we to %q", tt.in, std, err, got)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	bomb := strings.Repeat("[", 10000)
	tests := []struct {
		name   string
		in     string
		offset int
		msg    string // substring of the message
		valid  bool   // json.Valid accepts it (deliberate difference)
	}{
		{"empty", "", 0, "unexpected end of input", false},
		{"only whitespace", " \n\t", 3, "unexpected end of input", false},
		{"truncated object", `{"a":1`, 6, "unexpected end of input, expected ',' or '}'", false},
		{"truncated after colon", `{"a":`, 5, "unexpected end of input, expected a JSON value", false},
		{"truncated after key", `{"a"`, 4, "expected ':'", false},
		{"truncated open brace", `{`, 1, "expected a string object key", false},
		{"truncated array", `[1,2`, 4, "expected ',' or ']'", false},
		{"truncated string", `{"a":"abc`, 9, "unterminated string", false},
		{"truncated escape", `"ab\`, 4, "unterminated string", false},
		{"truncated unicode escape", `"\u12`, 5, "unterminated string", false},
		{"truncated literal", `tru`, 3, "expected 'true'", false},
		{"truncated minus", `-`, 1, "expected digit after '-'", false},
		{"truncated fraction", `1.`, 2, "expected digit after decimal point", false},
		{"truncated exponent", `1e+`, 3, "expected digit in exponent", false},
		{"trailing garbage", `{"a":1} x`, 8, "unexpected 'x' after top-level value", false},
		{"two values", `1 2`, 2, "after top-level value", false},
		{"trailing comma object", `{"a":1,}`, 7, "expected a string object key", false},
		{"trailing comma array", `[1,]`, 3, "unexpected ']', expected a JSON value", false},
		{"missing comma", `{"level": "info" "msg": 1}`, 17, "expected ',' or '}' after object value", false},
		{"missing array comma", `[1 2]`, 3, "expected ',' or ']' after array element", false},
		{"missing colon", `{"a" 1}`, 5, "expected ':' after object key", false},
		{"unquoted key", `{a:1}`, 1, "unexpected 'a', expected a string object key", false},
		{"single quoted key", `{'a':1}`, 1, `unexpected "'"`, false},
		{"leading zero", `01`, 1, "leading zero", false},
		{"leading zero in object", `{"n":007}`, 6, "leading zero", false},
		{"negative leading zero", `-01`, 2, "leading zero", false},
		{"plus sign", `+1`, 0, "unexpected '+'", false},
		{"bare fraction", `.5`, 0, "unexpected '.'", false},
		{"minus letter", `-x`, 1, "expected digit after '-'", false},
		{"fraction letter", `1.x`, 2, "expected digit after decimal point", false},
		{"exponent letter", `1ex`, 2, "expected digit in exponent", false},
		{"bad literal", `nul1`, 3, "in literal, expected 'null'", false},
		{"capital literal", `True`, 0, "unexpected 'T'", false},
		{"bad escape", `{"a":"\x"}`, 6, `invalid escape sequence '\x'`, false},
		{"single quote escape", `"\'"`, 1, `invalid escape sequence '\''`, false},
		{"bad unicode escape", `"ab\u12G4"`, 3, `invalid \u escape`, false},
		{"bad low surrogate escape", `"\ud83c\uZZZZ"`, 7, `invalid \u escape`, false},
		{"newline in string", "\"a\nb\"", 2, "invalid control character byte 0x0a in string", false},
		{"tab in string", "{\"k\":\"a\tb\"}", 7, "invalid control character byte 0x09", false},
		{"NUL in key", "{\"a\x00\":1}", 3, "invalid control character byte 0x00", false},
		{"control char after escape", "\"\\n\x01\"", 3, "invalid control character byte 0x01", false},
		{"raw byte", "\x01", 0, "unexpected byte 0x01", false},
		{"depth bomb", bomb, MaxJSONDepth, "nesting deeper than 512 levels", false},
		{"object depth bomb", strings.Repeat(`{"a":`, 600), 5 * MaxJSONDepth, "nesting deeper than 512", false},
		{"just too deep", strings.Repeat("[", 513) + strings.Repeat("]", 513), 512, "nesting deeper", true},
		{"number out of range", `{"n":1e400}`, 5, "out of range", true},
		{"huge integer", "-" + strings.Repeat("9", 400), 0, "out of range", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeJSON([]byte(tt.in))
			var je *JSONError
			if !errors.As(err, &je) {
				t.Fatalf("DecodeJSON(%.40q) error = %v, want *JSONError", tt.in, err)
			}
			if je.Offset != tt.offset || !strings.Contains(je.Msg, tt.msg) {
				t.Errorf("DecodeJSON(%.40q) error = %q (offset %d), want offset %d and %q",
					tt.in, je.Msg, je.Offset, tt.offset, tt.msg)
			}
			if want := "invalid JSON at byte " + strconv.Itoa(je.Offset) + ": " + je.Msg; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			if json.Valid([]byte(tt.in)) != tt.valid {
				t.Errorf("json.Valid = %v, test table says %v", !tt.valid, tt.valid)
			}
		})
	}

	// The message format from the package documentation, exactly.
	_, err := DecodeJSONObject([]byte(`{"level": "info" "msg": 1}`))
	if err == nil || err.Error() != `invalid JSON at byte 17: expected ',' or '}' after object value` {
		t.Errorf("DecodeJSONObject error = %v", err)
	}
	// 512 levels are fine.
	ok := strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth)
	if _, err := DecodeJSON([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", MaxJSONDepth, err)
	}
	ok = `{"a":` + strings.Repeat("[", MaxJSONDepth-1) + strings.Repeat("]", MaxJSONDepth-1) + `}`
	if _, err := DecodeJSONObject([]byte(ok)); err != nil {
		t.Errorf("object depth %d: %v", MaxJSONDepth, err)
	}
}

func TestDecodeJSONObjectRejectsNonObjects(t *testing.T) {
	tests := []struct {
		in     string
		offset int
	}{
		{`[1]`, 0},
		{`  "s"`, 2},
		{`1`, 0},
		{`null`, 0},
		{``, 0},
		{"\n", 1},
	}
	for _, tt := range tests {
		m, err := DecodeJSONObject([]byte(tt.in))
		var je *JSONError
		if !errors.As(err, &je) || je.Offset != tt.offset || !strings.Contains(je.Msg, "expected '{'") || m != nil {
			t.Errorf("DecodeJSONObject(%q) = %v, %v; want *JSONError at %d", tt.in, m, err, tt.offset)
		}
	}
	m, err := DecodeJSONObject([]byte(" \r\n{\"a\":[true,false,null]}\n"))
	if err != nil || !jsonEqual(m, map[string]any{"a": []any{true, false, nil}}) {
		t.Errorf("DecodeJSONObject with whitespace = %v, %v", m, err)
	}
	if m, err := DecodeJSONObject([]byte(`{}`)); err != nil || m == nil || len(m) != 0 {
		t.Errorf("DecodeJSONObject({}) = %#v, %v; want empty non-nil map", m, err)
	}
}

const fluentBitFixture = "../../../shared/fixtures/fluentbit-http-payload.json"

func TestDecodeJSONArrayFluentBit(t *testing.T) {
	data, err := os.ReadFile(fluentBitFixture)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var std []any
	if err := json.Unmarshal(data, &std); err != nil {
		t.Fatal(err)
	}
	var got []any
	if err := DecodeJSONArray(data, func(elem any) error {
		got = append(got, elem)
		return nil
	}); err != nil {
		t.Fatalf("DecodeJSONArray: %v", err)
	}
	if len(got) != len(std) || len(got) == 0 {
		t.Fatalf("got %d elements, encoding/json %d", len(got), len(std))
	}
	for i := range got {
		if !jsonEqual(normalize(got[i]), std[i]) {
			t.Errorf("element %d:\n got %#v\nwant %#v", i, got[i], std[i])
		}
	}
	// Spot-check the parsed record.
	rec := got[0].(map[string]any)
	if rec["date"] != 1763884800.02 || rec["stream"] != "stdout" {
		t.Errorf("record 0 = %v", rec)
	}
	if pod, _ := ParsePath("kubernetes/pod_name").Lookup(rec); pod != "payment-7d9f8c6b5-x2k4p" {
		t.Errorf("kubernetes.pod_name = %v", pod)
	}
	if !strings.HasSuffix(rec["log"].(string), "checked out cart\n") {
		t.Errorf("log = %q", rec["log"])
	}
	// Re-encoding each element gives encoding/json's bytes.
	for i := range got {
		if a, b := AppendJSON(nil, got[i]), stdMarshal(t, std[i]); !bytes.Equal(a, b) {
			t.Errorf("element %d encodes to\n%s\nencoding/json:\n%s", i, a, b)
		}
	}
}

func TestDecodeJSONArrayErrors(t *testing.T) {
	// The callback's error stops decoding and is returned as is.
	stop := errors.New("stop")
	calls := 0
	err := DecodeJSONArray([]byte(`[1,2,3]`), func(any) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Errorf("callback error: err=%v calls=%d", err, calls)
	}

	// A syntax error after some elements: those were delivered, the error
	// carries the offset.
	var seen []any
	err = DecodeJSONArray([]byte(`[{"a":1},{"b":2} {"c":3}]`), func(e any) error {
		seen = append(seen, e)
		return nil
	})
	var je *JSONError
	if !errors.As(err, &je) || je.Offset != 17 || !strings.Contains(je.Msg, "expected ',' or ']'") {
		t.Errorf("syntax error = %v", err)
	}
	if len(seen) != 2 {
		t.Errorf("delivered %d elements before the error, want 2", len(seen))
	}

	tests := []struct {
		in     string
		offset int
		msg    string
	}{
		{`{"a":1}`, 0, "expected '['"},
		{``, 0, "expected '['"},
		{`[1,2`, 4, "unexpected end of input"},
		{`[1,]`, 3, "expected a JSON value"},
		{`[1] x`, 4, "after top-level value"},
		{`[[` + strings.Repeat("[", MaxJSONDepth) + `]]`, MaxJSONDepth, "nesting deeper"},
		{`[{"a":01}]`, 7, "leading zero"},
	}
	for _, tt := range tests {
		err := DecodeJSONArray([]byte(tt.in), func(any) error { return nil })
		if !errors.As(err, &je) || je.Offset != tt.offset || !strings.Contains(je.Msg, tt.msg) {
			t.Errorf("DecodeJSONArray(%.30q) = %v; want offset %d %q", tt.in, err, tt.offset, tt.msg)
		}
	}

	// Empty arrays and whitespace.
	calls = 0
	if err := DecodeJSONArray([]byte(" [ ] \n"), func(any) error { calls++; return nil }); err != nil || calls != 0 {
		t.Errorf("empty array: %v, %d calls", err, calls)
	}
	var elems []any
	if err := DecodeJSONArray([]byte("[ 1 , \"x\" , null , [ ] ]"), func(e any) error { elems = append(elems, e); return nil }); err != nil ||
		!jsonEqual(elems, []any{int64(1), "x", nil, []any{}}) {
		t.Errorf("scalars: %#v, %v", elems, err)
	}
}

type stringerType struct{ s string }

func (s stringerType) String() string { return "S:" + s.s }

type nilStringer struct{ s string }

func (n *nilStringer) String() string { return n.s } // panics on nil

type marshalerType struct{}

func (marshalerType) MarshalJSON() ([]byte, error) { return []byte(`{ "custom" : [1, 2] }`), nil }
func (marshalerType) String() string               { return "not used" }

type plainStruct struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	HTML  string `json:"html"`
}

func TestAppendJSONTypes(t *testing.T) {
	ts := time.Date(2025, 11, 23, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
	var nilPtr *nilStringer
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, `null`},
		{"string", "a\"b<c>&", `"a\"b<c>&"`},
		{"int", int(-5), `-5`},
		{"int8", int8(-128), `-128`},
		{"int16", int16(32767), `32767`},
		{"int32", int32(-2147483648), `-2147483648`},
		{"int64", int64(math.MinInt64), `-9223372036854775808`},
		{"uint", uint(7), `7`},
		{"uint8", uint8(255), `255`},
		{"uint16", uint16(65535), `65535`},
		{"uint32", uint32(4294967295), `4294967295`},
		{"uint64", uint64(math.MaxUint64), `18446744073709551615`},
		{"float64", 1.5, `1.5`},
		{"float64 int", 100.0, `100`},
		{"float64 big", 1e21, `1e+21`},
		{"float64 below big", 1e20, `100000000000000000000`},
		{"float64 small", 1e-7, `1e-7`},
		{"float64 at small", 1e-6, `0.000001`},
		{"float64 neg small", -1.5e-9, `-1.5e-9`},
		{"float64 neg zero", math.Copysign(0, -1), `-0`},
		{"float32", float32(0.1), `0.1`},
		{"float32 small", float32(1e-7), `1e-7`},
		{"NaN", math.NaN(), `null`},
		{"+Inf", math.Inf(1), `null`},
		{"-Inf float32", float32(math.Inf(-1)), `null`},
		{"true", true, `true`},
		{"false", false, `false`},
		{"bytes", []byte("hello\x00"), `"aGVsbG8A"`},
		{"nil bytes", []byte(nil), `null`},
		{"empty bytes", []byte{}, `""`},
		{"time", ts, `"2025-11-23T08:00:00.123456789Z"`},
		{"time whole second", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), `"2025-01-02T03:04:05Z"`},
		{"json.Number", json.Number("-12.5e3"), `-12.5e3`},
		{"empty json.Number", json.Number(""), `0`},
		{"invalid json.Number", json.Number("12abc"), `"12abc"`},
		{"strings", []string{"a", "b\n"}, `["a","b\n"]`},
		{"nil strings", []string(nil), `null`},
		{"string map", map[string]string{"z": "1", "a": "2", "m": "<"}, `{"a":"2","m":"<","z":"1"}`},
		{"nil string map", map[string]string(nil), `null`},
		{"headers", map[string][]string{"Accept": {"a", "b"}, "X": nil, "B": {}}, `{"Accept":["a","b"],"B":[],"X":null}`},
		{"maps", []map[string]any{{"b": 1, "a": 2}, nil}, `[{"a":2,"b":1},null]`},
		{"nil map", map[string]any(nil), `null`},
		{"nil slice", []any(nil), `null`},
		{"empty map", map[string]any{}, `{}`},
		{"empty slice", []any{}, `[]`},
		{"stringer", stringerType{"x"}, `"S:x"`},
		{"nil pointer stringer", nilPtr, `"<nil>"`},
		{"error", errors.New("boom \"quoted\""), `"boom \"quoted\""`},
		{"duration", 1500 * time.Millisecond, `"1.5s"`},
		{"marshaler", marshalerType{}, `{"custom":[1,2]}`},
		{"struct fallback", plainStruct{"n", 3, "<b>"}, `{"name":"n","count":3,"html":"<b>"}`},
		{"pointer fallback", &plainStruct{Name: "p"}, `{"name":"p","count":0,"html":""}`},
		{"int map fallback", map[string]int{"b": 1, "a": 2}, `{"a":2,"b":1}`},
		{"unsupported fallback", make(chan int), `null`},
		{"nested", map[string]any{"b": []any{int64(1), "x", nil, map[string]any{"d": 1.5, "c": false}}, "a": map[string]any{}},
			`{"a":{},"b":[1,"x",null,{"c":false,"d":1.5}]}`},
		{"escapes", "\u2028\u2029\x00\x1f\b\f\n\r\t\\\x7f", `"\u2028\u2029\u0000\u001f\b\f\n\r\t\\` + "\x7f" + `"`},
		{"invalid utf8", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"unicode", "日本語 🎉", `"日本語 🎉"`},
	}
	for _, tt := range tests {
		got := string(AppendJSON([]byte("prefix:"), tt.v))
		if got != "prefix:"+tt.want {
			t.Errorf("%s: AppendJSON = %s, want %s", tt.name, strings.TrimPrefix(got, "prefix:"), tt.want)
		}
		if !json.Valid([]byte(tt.want)) {
			t.Errorf("%s: expected output %s is not valid JSON", tt.name, tt.want)
		}
	}
}

// TestAppendJSONSameAsEncodingJSON checks the types both encoders handle the
// same way produce identical bytes.
func TestAppendJSONSameAsEncodingJSON(t *testing.T) {
	big := map[string]any{}
	for i := range 40 {
		big[fmt.Sprintf("key-%02d-%c", (i*7)%40, 'a'+i%26)] = i
	}
	values := []any{
		map[string]any{"b": 1, "a": "x", "B": true, "aa": nil, "": 2.5, "é": []any{}, "a\x00": "nul"},
		big,
		[]any{1.0, 0.1, 1e-6, 1e-7, 123456789.0, 1e20, 1e21, -0.0, math.MaxFloat64, math.SmallestNonzeroFloat64},
		[]any{float32(1.1), float32(3.4e38), float32(1e-6), float32(1e-7), float32(16777216)},
		[]any{int8(1), int16(2), int32(3), int64(4), uint8(5), uint16(6), uint32(7), uint64(8), uint(9), int(10)},
		[]any{[]byte{0xff, 0x00, 0x10}, []string{"a", "<>"}, map[string]string{"k": "v"}},
		map[string][]string{"a": {"1"}, "b": nil},
		[]map[string]any{{"x": 1}},
		"<&>\u2028 \x00 \xff",
		json.Number("1e5"),
	}
	for _, v := range values {
		got := AppendJSON(nil, v)
		want := stdMarshal(t, v)
		if !bytes.Equal(got, want) {
			t.Errorf("AppendJSON(%#v)\n got %s\nwant %s", v, got, want)
		}
	}
}

func TestAppendJSONCycle(t *testing.T) {
	m := map[string]any{"name": "loop"}
	m["self"] = m
	m["again"] = m
	s := []any{"x"}
	s = append(s, nil)
	s[1] = s
	for _, v := range []any{m, s} {
		done := make(chan []byte)
		go func() { done <- AppendJSON(nil, v) }()
		select {
		case out := <-done:
			if !json.Valid(out) {
				t.Errorf("cyclic value produced invalid JSON (%d bytes)", len(out))
			}
			if len(out) > 1<<20 {
				t.Errorf("cyclic value produced %d bytes", len(out))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("AppendJSON did not finish on a cyclic value")
		}
	}
	// Legitimately deep trees within the limit are written completely.
	var deep any = "leaf"
	for range 900 {
		deep = []any{deep}
	}
	out := AppendJSON(nil, deep)
	if want := strings.Repeat("[", 900) + `"leaf"` + strings.Repeat("]", 900); string(out) != want {
		t.Errorf("deep tree not written completely")
	}
}

func TestAppendJSONSmallMapsDoNotAllocate(t *testing.T) {
	m := map[string]any{
		"level": "info", "msg": "hello \"world\"\n", "n": int64(42), "f": 2.5, "ok": true, "nil": nil,
		"headers": map[string]any{"a": "1", "b": "2", "c": []any{"x", int64(1)}},
	}
	for i := len(m); i < 16; i++ {
		m[fmt.Sprintf("k%02d", i)] = "v"
	}
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendJSON(buf[:0], m)
	})
	if allocs != 0 {
		t.Errorf("AppendJSON of a 16-key map allocates %v times, want 0", allocs)
	}
	if !json.Valid(buf) {
		t.Errorf("invalid output %s", buf)
	}
}

func TestEventAppendJSON(t *testing.T) {
	ev := New(KindLog, time.Unix(0, 0), map[string]any{"msg": "hi", "n": int64(3), "kubernetes": map[string]any{"pod": "p"}})
	want := `{"kubernetes":{"pod":"p"},"msg":"hi","n":3}`
	if got := string(ev.AppendJSON([]byte("x"))); got != "x"+want {
		t.Errorf("Event.AppendJSON = %s", got)
	}
	b, err := ev.MarshalJSON()
	if err != nil || string(b) != want {
		t.Errorf("MarshalJSON = %s, %v", b, err)
	}
	b, err = json.Marshal(ev) // encoding/json goes through MarshalJSON
	if err != nil || string(b) != want {
		t.Errorf("json.Marshal(event) = %s, %v", b, err)
	}
	b, err = json.Marshal([]*Event{ev, {}})
	if err != nil || string(b) != "["+want+",{}]" {
		t.Errorf("json.Marshal(events) = %s, %v", b, err)
	}
	// Clones share the tree and encode the same.
	c := ev.Clone()
	if string(c.AppendJSON(nil)) != want {
		t.Errorf("clone encodes as %s", c.AppendJSON(nil))
	}
	// Decoded line → event → bytes.
	m, err := DecodeJSONObject([]byte(`{"b":1,"a":{"z":null,"y":[1.5,"s"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(New(KindLog, time.Time{}, m).AppendJSON(nil)); got != `{"a":{"y":[1.5,"s"],"z":null},"b":1}` {
		t.Errorf("decoded event encodes as %s", got)
	}
	if got := string(New(KindLog, time.Time{}, nil).AppendJSON(nil)); got != `{}` {
		t.Errorf("empty event encodes as %s", got)
	}
}

// TestDecodeJSONConcurrent exercises the pooled decoder state (scratch
// stacks, key cache) from many goroutines; run with -race.
func TestDecodeJSONConcurrent(t *testing.T) {
	docs := make([][]byte, 16)
	want := make([]string, len(docs))
	for i := range docs {
		docs[i] = fmt.Appendf(nil, `{"id":%d,"key%d":"v%d","nested":{"a":[%d,"x\n"],"k%d":true},"esc\u00e9%d":"\ud83c\udf89"}`, i, i%3, i, i, i%5, i)
		var std any
		if err := json.Unmarshal(docs[i], &std); err != nil {
			t.Fatal(err)
		}
		want[i] = string(stdMarshal(t, std))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 500 {
				i := (g*7 + n) % len(docs)
				m, err := DecodeJSONObject(docs[i])
				if err != nil {
					errs <- err.Error()
					return
				}
				if got := string(AppendJSON(nil, m)); got != want[i] {
					errs <- got + " != " + want[i]
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestDecodedStringsDoNotAliasInput(t *testing.T) {
	data := []byte(`{"key":"value","arr":["elem"]}`)
	m, err := DecodeJSONObject(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'X'
	}
	if m["key"] != "value" || m["arr"].([]any)[0] != "elem" {
		t.Errorf("decoded values changed with the input: %v", m)
	}
	if _, ok := m["key"]; !ok {
		t.Errorf("keys changed with the input: %v", m)
	}
}

// replaceInvalidUTF8 replaces each invalid byte with U+FFFD the way
// encoding/json does (not collapsing runs like strings.ToValidUTF8).
func replaceInvalidUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

// TestDecodeJSONInternCaches decodes many documents whose short keys and
// values collide in the decoder's intern caches; every result must be exact.
func TestDecodeJSONInternCaches(t *testing.T) {
	for i := range 5000 {
		doc := fmt.Appendf(nil, `{"k%d":"v%d","k%d":"%s","s":"\u00e9%d","long":"%040d"}`, i, i, i%7, strings.Repeat("x", i%40), i%300, i)
		m, err := DecodeJSONObject(doc)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			fmt.Sprintf("k%d", i):   fmt.Sprintf("v%d", i),
			fmt.Sprintf("k%d", i%7): strings.Repeat("x", i%40),
			"s":                     fmt.Sprintf("é%d", i%300),
			"long":                  fmt.Sprintf("%040d", i),
		}
		if i%7 == i { // the two keys coincide: last wins
			want[fmt.Sprintf("k%d", i)] = strings.Repeat("x", i%40)
		}
		if !jsonEqual(m, want) {
			t.Fatalf("doc %s decoded as %#v", doc, m)
		}
	}
}
