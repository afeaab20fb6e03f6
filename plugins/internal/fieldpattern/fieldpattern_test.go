package fieldpattern

import (
	"reflect"
	"testing"
)

func TestCompile(t *testing.T) {
	for _, c := range []struct {
		in   string
		raw  string
		segs []Seg
	}{
		{"status", "/status", []Seg{{Lit, "status", -1}}},
		{"/orders/*/id", "/orders/*/id", []Seg{{Lit, "orders", -1}, {Star, "*", -1}, {Lit, "id", -1}}},
		{"/**/**/password", "/**/**/password", []Seg{{Any, "**", -1}, {Lit, "password", -1}}},
		{"/items/0", "/items/0", []Seg{{Lit, "items", -1}, {Lit, "0", 0}}},
		{"/items/01", "/items/01", []Seg{{Lit, "items", -1}, {Lit, "01", -1}}},
		{"/a~1b/c~0d", "/a~1b/c~0d", []Seg{{Lit, "a/b", -1}, {Lit, "c~d", -1}}},
	} {
		raw, segs, err := Compile(c.in)
		if err != nil || raw != c.raw || !reflect.DeepEqual(segs, c.segs) {
			t.Errorf("Compile(%q) = %q %v %v, want %q %v", c.in, raw, segs, err, c.raw, c.segs)
		}
	}
	if _, _, err := Compile("/"); err == nil {
		t.Error("the root compiled")
	}
	if _, segs, _ := Compile("/**/**"); !OnlyAny(segs) {
		t.Error("/**/** is not OnlyAny")
	}
	if _, segs, _ := Compile("/**/x"); OnlyAny(segs) {
		t.Error("/**/x is OnlyAny")
	}
}
