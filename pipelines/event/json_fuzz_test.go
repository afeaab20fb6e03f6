package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

// maxNesting returns the deepest nesting of objects and arrays in data, which
// must be valid JSON.
func maxNesting(data []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

func addFuzzSeeds(f *testing.F) {
	for _, doc := range roundTripDocs {
		f.Add([]byte(doc))
	}
	for _, s := range []string{
		``, ` `, `{`, `[`, `"`, `"\`, `"\u`, `"\ud83c\u`, `-`, `1.`, `1e`, `01`, `[1,]`, `{a:1}`, `{"a" 1}`,
		`{"a":1}x`, "\"a\nb\"", `1e400`, `-1e400`, `1e-400`, `nul`, `tru`, `[01]`, `"\x"`,
		strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1),
		strings.Repeat("[", 10000),
		"{\"\xff\":\"\xed\xa0\x80\"}",
	} {
		f.Add([]byte(s))
	}
	for _, name := range []string{fluentBitFixture, "../../../shared/fixtures/logrus-b3.ndjson", "../../../shared/fixtures/otlp-traces.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		f.Add(data)
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f.Add(bytes.Clone(sc.Bytes()))
		}
	}
}

// FuzzDecodeJSON checks DecodeJSON against encoding/json on arbitrary input.
//
// It must never panic, and must succeed exactly when encoding/json (Valid and
// Unmarshal into any) succeeds, except for the deliberate difference that
// nesting deeper than MaxJSONDepth is rejected. Numbers outside float64's
// range are rejected by both json.Unmarshal and DecodeJSON although
// json.Valid accepts them. On success the tree must equal encoding/json's
// (after turning int64 into float64), and AppendJSON's encoding of it must
// decode with encoding/json to the same value.
func FuzzDecodeJSON(f *testing.F) {
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ours, err := DecodeJSON(data)

		valid := json.Valid(data)
		var std any
		stdErr := json.Unmarshal(data, &std)
		switch {
		case !valid:
			if err == nil {
				t.Fatalf("DecodeJSON accepted invalid JSON %q: %#v", data, ours)
			}
		case maxNesting(data) > MaxJSONDepth:
			if err == nil || !strings.Contains(err.Error(), "nesting deeper") {
				t.Fatalf("DecodeJSON(%q) over the depth limit: err = %v", data, err)
			}
		case stdErr != nil:
			// Valid syntax that json.Unmarshal refuses: a number out of range.
			if err == nil || !strings.Contains(err.Error(), "out of range") {
				t.Fatalf("encoding/json: %v; DecodeJSON(%q): err = %v", stdErr, data, err)
			}
		default:
			if err != nil {
				t.Fatalf("DecodeJSON(%q) rejected valid JSON: %v", data, err)
			}
		}
		if err != nil {
			var je *JSONError
			if !errors.As(err, &je) {
				t.Fatalf("error %v is %T, want *JSONError", err, err)
			}
			if je.Offset < 0 || je.Offset > len(data) {
				t.Fatalf("error offset %d outside input of %d bytes", je.Offset, len(data))
			}
			if _, objErr := DecodeJSONObject(data); objErr == nil {
				t.Fatalf("DecodeJSONObject accepted %q that DecodeJSON rejects", data)
			}
			return
		}

		if !jsonEqual(normalize(ours), std) {
			t.Fatalf("DecodeJSON(%q)\n got %#v\nwant %#v", data, ours, std)
		}

		enc := AppendJSON(nil, ours)
		if !json.Valid(enc) {
			t.Fatalf("AppendJSON wrote invalid JSON %q for %q", enc, data)
		}
		var back any
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("encoding/json cannot read AppendJSON output %q: %v", enc, err)
		}
		if !jsonEqual(back, std) {
			t.Fatalf("round trip of %q through %q\n got %#v\nwant %#v", data, enc, back, std)
		}
		// Our encoding is byte-for-byte encoding/json's, except that int64
		// values keep all their digits.
		if !bytes.Equal(enc, stdMarshal(t, std)) && !hasLargeInt(ours) {
			t.Fatalf("AppendJSON(%q) = %s, encoding/json: %s", data, enc, stdMarshal(t, std))
		}
		again, err := DecodeJSON(enc)
		if err != nil || !jsonEqual(normalize(again), std) {
			t.Fatalf("DecodeJSON(AppendJSON(%q)) = %#v, %v", data, again, err)
		}

		// The object and streaming entry points agree with DecodeJSON.
		obj, objErr := DecodeJSONObject(data)
		if m, isObj := ours.(map[string]any); isObj {
			if objErr != nil || !jsonEqual(obj, m) {
				t.Fatalf("DecodeJSONObject(%q) = %#v, %v", data, obj, objErr)
			}
		} else if objErr == nil {
			t.Fatalf("DecodeJSONObject accepted non-object %q", data)
		}
		var elems []any
		arrErr := DecodeJSONArray(data, func(e any) error {
			elems = append(elems, e)
			return nil
		})
		if arr, isArr := ours.([]any); isArr {
			if arrErr != nil || len(elems) != len(arr) || (len(arr) > 0 && !jsonEqual(elems, arr)) {
				t.Fatalf("DecodeJSONArray(%q) = %#v, %v; want %#v", data, elems, arrErr, arr)
			}
		} else if arrErr == nil {
			t.Fatalf("DecodeJSONArray accepted non-array %q", data)
		}
	})
}

// hasLargeInt reports whether the tree holds an int64 that float64 cannot
// represent exactly (so encoding/json prints it differently).
func hasLargeInt(v any) bool {
	switch t := v.(type) {
	case int64:
		return t > 1<<53 || t < -(1<<53)
	case map[string]any:
		for _, x := range t {
			if hasLargeInt(x) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if hasLargeInt(x) {
				return true
			}
		}
	}
	return false
}

// FuzzAppendJSON checks string encoding: the output is exactly encoding/json's
// (HTML escaping off), valid, and decodes back to the input with invalid
// UTF-8 bytes replaced by U+FFFD.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x1f\x7f", "<>&", "\u2028\u2029", "\xff\xfe", "\xed\xa0\x80",
		"\xf0\x9f\x8e", "日本語 🎉", "\t\n\r\b\f", strings.Repeat("abcdefg\"", 9), "\xef\xbf\xbd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendJSON(nil, s)
		if want := stdMarshal(t, s); !bytes.Equal(out, want) {
			t.Fatalf("AppendJSON(%q) = %s, encoding/json: %s", s, out, want)
		}
		if !json.Valid(out) {
			t.Fatalf("AppendJSON(%q) = %q is not valid JSON", s, out)
		}
		want := replaceInvalidUTF8(s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != want {
			t.Fatalf("encoding/json decodes %q to %q (%v), want %q", out, back, err, want)
		}
		ours, err := DecodeJSON(out)
		if err != nil || ours != want {
			t.Fatalf("DecodeJSON(%q) = %q, %v; want %q", out, ours, err, want)
		}
		// As a map key and inside containers.
		m := map[string]any{s: []any{s, map[string]any{"k": s}}}
		if got, want := AppendJSON(nil, m), stdMarshal(t, m); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON(map) = %s, encoding/json: %s", got, want)
		}
	})
}

// FuzzAppendJSONFloat checks float formatting against encoding/json.
func FuzzAppendJSONFloat(f *testing.F) {
	for _, x := range []float64{0, 1, -1, 0.1, 1e-6, 1e-7, 9.999999e-7, 1e20, 1e21, 123456789e300, 5e-324, math.MaxFloat64} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		out := AppendJSON(nil, x)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if string(out) != "null" {
				t.Fatalf("AppendJSON(%v) = %s, want null", x, out)
			}
		} else if want := stdMarshal(t, x); !bytes.Equal(out, want) {
			t.Fatalf("AppendJSON(%v) = %s, encoding/json: %s", x, out, want)
		}
		x32 := float32(x)
		out = AppendJSON(nil, x32)
		if math.IsNaN(float64(x32)) || math.IsInf(float64(x32), 0) {
			if string(out) != "null" {
				t.Fatalf("AppendJSON(float32 %v) = %s, want null", x32, out)
			}
		} else if want := stdMarshal(t, x32); !bytes.Equal(out, want) {
			t.Fatalf("AppendJSON(float32 %v) = %s, encoding/json: %s", x32, out, want)
		}
		// A decoded float survives the round trip exactly.
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			v, err := DecodeJSON(AppendJSON(nil, x))
			if err != nil {
				t.Fatal(err)
			}
			if n, ok := v.(int64); ok {
				v = float64(n)
			}
			if v != x {
				t.Fatalf("float %v decoded back as %v", x, v)
			}
		}
	})
}
