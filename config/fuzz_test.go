package config

import "testing"

// FuzzParse: arbitrary bytes never panic the loader; an accepted config has
// pipelines with a source and sinks, and errors always carry a position.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"p:\n  source: {s: }\n  sink: [k: ]\n",
		"weft:\n  admin: {address: x}\np:\n  workers: 2\n  delay: PT1S\n  buffer: {bounded_blocking: {buffer_size: 10, batch_size: 5}}\n  source: {s: {a: ${X:-1}}}\n  route: [{r: '/a == 1'}]\n  processor: [- x]\n  sink: [k: {routes: [r]}]\n",
		"version: \"2\"\na:\n  source:\n    pipeline:\n      name: b\n  sink:\n    - pipeline:\n        name: c\n",
		"p: [1, 2]\n", "- a\n- b\n", "p:\n  source: &a {s: }\n  sink: [*a]\n", "p: {source: {s: {x: '${file:/nonexistent}'}}, sink: []}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	env := func(k string) (string, bool) {
		if k == "X" {
			return "42", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, env)
		if err != nil {
			if es, ok := err.(Errors); ok {
				for _, e := range es {
					if e.Pos.File != "fuzz.yaml" {
						t.Fatalf("error without file: %v", e)
					}
				}
			}
			return
		}
		for _, p := range cfg.Pipelines {
			if p.Source == nil || len(p.Sinks) == 0 {
				t.Fatalf("accepted pipeline %q without source or sink", p.Name)
			}
		}
		if _, err := cfg.Print(); err != nil {
			t.Fatalf("print: %v", err)
		}
	})
}
