package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadDataPrepperFile(t *testing.T) {
	cfg, err := LoadWith("testdata/dataprepper.yaml", env(nil))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if got := cfg.PipelineNames(); strings.Join(got, ",") != "entry-pipeline,raw-pipeline" {
		t.Fatalf("pipelines = %v", got)
	}
	entry := cfg.Pipeline("entry-pipeline")
	if entry.Delay != 100*time.Millisecond || entry.BufferSize != 10240 || entry.BatchSize != 160 || entry.Workers != 1 {
		t.Errorf("entry settings: delay=%v buffer=%d batch=%d workers=%d", entry.Delay, entry.BufferSize, entry.BatchSize, entry.Workers)
	}
	if len(entry.Sinks) != 2 || entry.Sinks[1].Plugin != "pipeline" || entry.Source.Plugin != "pipeline" {
		t.Errorf("entry components wrong: %+v", entry.Sinks)
	}
	raw := cfg.Pipeline("raw-pipeline")
	if raw.Delay != 3*time.Second || raw.Workers != 4 {
		t.Errorf("raw delay=%v workers=%d", raw.Delay, raw.Workers)
	}
	if len(raw.Processors) != 1 || raw.Processors[0].Plugin != "otel_trace_raw" || raw.Processors[0].Settings != nil {
		t.Errorf("processor: %+v", raw.Processors)
	}
	if len(raw.Routes) != 1 || raw.Routes[0].Name != "errors" || raw.Routes[0].Expr != "/status >= 500" {
		t.Errorf("routes: %+v", raw.Routes)
	}
	sink := raw.Sinks[0]
	if strings.Join(sink.Routes, ",") != "errors" {
		t.Errorf("sink routes: %v", sink.Routes)
	}
	for i := 0; i < len(sink.Settings.Content); i += 2 {
		if sink.Settings.Content[i].Value == "routes" {
			t.Error("routes must be removed from the sink's own options")
		}
	}
	if sink.Pos.Line != 27 || sink.Pos.Col != 7 {
		t.Errorf("sink position = %v", sink.Pos)
	}
}

func TestSubstitution(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "pw")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	e := env(map[string]string{"HOST": "search", "EMPTY": "", "PORT": "9200"})
	cases := []struct{ in, want, err string }{
		{"${HOST}:9200", "search:9200", ""},
		{"${MISSING:-fallback}", "fallback", ""},
		{"${EMPTY:-x}", "x", ""},
		{"app-${/kubernetes/namespace_name}", "app-${/kubernetes/namespace_name}", ""},
		{"$${HOST}", "${HOST}", ""},
		{"${file:" + secret + "}", "s3cret", ""},
		{"${MISSING}", "", "environment variable MISSING is not set"},
		{"${HOST", "", "unterminated"},
		{"${9BAD}", "${9BAD}", ""},
		{"${key1}-${key2}", "${key1}-${key2}", ""}, // Data Prepper add_entries format
		{"${cluster:-x}", "${cluster:-x}", ""},
		{"${file:/nonexistent/x}", "", "no such file"},
	}
	for _, c := range cases {
		got, _, err := Expand(c.in, e)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Expand(%q) error = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestSubstitutedNumberDecodes(t *testing.T) {
	cfg, err := Parse("p.yaml", []byte("p:\n  workers: ${W}\n  source: {s: }\n  sink: [k: ]\n"), env(map[string]string{"W": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Pipelines[0].Workers != 3 {
		t.Errorf("workers = %d", cfg.Pipelines[0].Workers)
	}
}

// Golden error messages: file:line:column, pipeline, component, key, and a
// suggestion for misspellings.
func TestStructureErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown pipeline key", "p:\n  source: {s: }\n  procesor: []\n  sink: [k: ]\n",
			`p.yaml:3:3: pipeline "p": option "procesor": unknown pipeline key "procesor"; did you mean "processor"?`},
		{"no source", "p:\n  sink: [k: ]\n", `p.yaml:1:1: pipeline "p": option "source": pipeline has no source`},
		{"no sink", "p:\n  source: {s: }\n", `p.yaml:1:1: pipeline "p": option "sink": pipeline has no sink`},
		{"two sources", "p:\n  source: {a: , b: }\n  sink: [k: ]\n", `p.yaml:2:17: pipeline "p": option "source": each source entry names one plugin; found "a" and "b"`},
		{"bad workers", "p:\n  workers: 0\n  source: {s: }\n  sink: [k: ]\n", `p.yaml:2:12: pipeline "p": option "workers": 0 is below the minimum 1`},
		{"workers type", "p:\n  workers: many\n  source: {s: }\n  sink: [k: ]\n", `p.yaml:2:12: pipeline "p": option "workers": expected an integer, got "many"`},
		{"buffer typo", "p:\n  buffer:\n    bounded_blocking:\n      bufer_size: 10\n  source: {s: }\n  sink: [k: ]\n",
			`p.yaml:4:7: pipeline "p": buffer: option "bounded_blocking.bufer_size": unknown option "bufer_size"; did you mean "buffer_size"?`},
		{"batch larger than buffer", "p:\n  buffer:\n    bounded_blocking: {buffer_size: 10, batch_size: 20}\n  source: {s: }\n  sink: [k: ]\n",
			`batch_size 20 is larger than buffer_size 10`},
		{"bad delay", "p:\n  delay: soon\n  source: {s: }\n  sink: [k: ]\n", `p.yaml:2:10: pipeline "p": option "delay": invalid duration "soon"`},
		{"duplicate route", "p:\n  route: [{a: '/x == 1'}, {a: '/y == 1'}]\n  source: {s: }\n  sink: [k: ]\n", `route defined twice`},
		{"invalid yaml", "p:\n  source: {s: \n  sink: [k: ]\n", `p.yaml:1:1: invalid YAML: line 1: did not find expected`},
		{"unset env", "p:\n  source: {s: {x: '${NOPE}'}}\n  sink: [k: ]\n", `p.yaml:2:19: environment variable NOPE is not set`},
		{"agent settings typo", "weft:\n  admin: {adress: x}\np:\n  source: {s: }\n  sink: [k: ]\n",
			`p.yaml:2:11: agent settings (weft): option "admin.adress": unknown option "adress"; did you mean "address"?`},
		{"agent enum", "weft:\n  log: {format: xml}\np:\n  source: {s: }\n  sink: [k: ]\n",
			`p.yaml:2:17: agent settings (weft): option "log.format": "xml" is not one of json, text`},
		{"empty", "", `p.yaml:1:1: no pipelines defined`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.yaml), env(nil))
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error:\n%s\nwant it to contain:\n%s", err, c.want)
			}
		})
	}
}

func TestEveryErrorIsReported(t *testing.T) {
	_, err := Parse("p.yaml", []byte("a:\n  workers: 0\n  source: {s: }\n  sink: [k: ]\nb:\n  source: {s: }\n  sinks: []\n"), env(nil))
	errs, ok := err.(Errors)
	if !ok || len(errs) != 3 {
		t.Fatalf("want 3 errors (workers, unknown key, no sink), got %v", err)
	}
}

func TestDirectoryAndDuplicates(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("p:\n  source: {s: }\n  sink: [k: ]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yml"), []byte("q:\n  source: {s: }\n  sink: [k: ]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644)
	cfg, err := Load(dir)
	if err != nil || len(cfg.Pipelines) != 2 {
		t.Fatalf("load dir: %v %v", cfg, err)
	}
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("p:\n  source: {s: }\n  sink: [k: ]\n"), 0o644)
	_, err = Load(dir)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:1:1: pipeline \"p\": pipeline defined twice (first at "+filepath.Join(dir, "a.yaml")+":1:1)") {
		t.Fatalf("duplicate pipeline error = %v", err)
	}
}

type sample struct {
	Name     string            `yaml:"name" required:"true" doc:"a name"`
	Count    int               `yaml:"count" min:"1" max:"10"`
	Ratio    float64           `yaml:"ratio"`
	Mode     string            `yaml:"mode" enum:"fast,safe"`
	Timeout  time.Duration     `yaml:"timeout"`
	Every    time.Duration     `yaml:"every" unit:"s"`
	Tags     []string          `yaml:"tags"`
	Labels   map[string]string `yaml:"labels"`
	Value    any               `yaml:"value"`
	Password string            `yaml:"password" secret:"true"`
	Entries  []struct {
		Key string `yaml:"key" required:"true"`
	} `yaml:"entries"`
}

func TestDecodeTypes(t *testing.T) {
	node, _ := ParseNode([]byte(`
name: x
count: 3
ratio: 0.5
mode: safe
timeout: 1500
every: 2
tags: single
labels: {a: b}
value: {n: [1, 2.5, true, null, s]}
entries: [{key: k}]
`))
	s := sample{Mode: "fast"}
	d := &Decoder{File: "f.yaml"}
	if !d.Decode(node, &s) {
		t.Fatal(d.Errs)
	}
	if s.Timeout != 1500*time.Millisecond || s.Every != 2*time.Second || s.Ratio != 0.5 || s.Count != 3 {
		t.Errorf("decoded %+v", s)
	}
	if len(s.Tags) != 1 || s.Tags[0] != "single" || s.Labels["a"] != "b" || s.Entries[0].Key != "k" {
		t.Errorf("decoded %+v", s)
	}
	v := s.Value.(map[string]any)["n"].([]any)
	if v[0] != int64(1) || v[1] != 2.5 || v[2] != true || v[3] != nil || v[4] != "s" {
		t.Errorf("value = %#v", v)
	}
}

func TestDecodeErrors(t *testing.T) {
	node, _ := ParseNode([]byte("count: 11\nmode: fsat\ntimeout: -3s\nentries: [{kye: 1}]\nratio: abc\nnmae: y\n"))
	var s sample
	d := &Decoder{File: "f.yaml", Pipeline: "p", Component: `processor[0] "x"`}
	d.Decode(node, &s)
	got := d.Errs.Error()
	for _, want := range []string{
		`f.yaml:1:8: pipeline "p": processor[0] "x": option "count": 11 is above the maximum 10`,
		`f.yaml:2:7: pipeline "p": processor[0] "x": option "mode": "fsat" is not one of fast, safe; did you mean "fast"?`,
		`f.yaml:3:10: pipeline "p": processor[0] "x": option "timeout": duration "-3s" must not be negative`,
		`f.yaml:4:12: pipeline "p": processor[0] "x": option "entries[0].kye": unknown option "kye"; did you mean "key"?`,
		`option "entries[0].key": required option is missing`,
		`f.yaml:5:8: pipeline "p": processor[0] "x": option "ratio": expected a number, got "abc"`,
		`f.yaml:6:1: pipeline "p": processor[0] "x": option "nmae": unknown option "nmae"; did you mean "name"?`,
		`option "name": required option is missing`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing error %q in:\n%s", want, got)
		}
	}
}

func TestPrintRedactsSecrets(t *testing.T) {
	cfg, err := Parse("p.yaml", []byte("p:\n  source: {s: {password: hunter2, token: abc, user: bob}}\n  sink: [k: {key: '${K}'}]\n"), env(map[string]string{"K": "mask-key"}))
	if err != nil {
		t.Fatal(err)
	}
	// A plugin's secret-tagged option is marked by its decoder.
	var k struct {
		Key string `yaml:"key" secret:"true"`
	}
	d := cfg.Pipelines[0].Sinks[0].Decoder(cfg.Secrets)
	d.Decode(cfg.Pipelines[0].Sinks[0].Settings, &k)
	out, err := cfg.Print()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, leaked := range []string{"hunter2", "abc", "mask-key"} {
		if strings.Contains(s, leaked) {
			t.Errorf("printed config leaks %q:\n%s", leaked, s)
		}
	}
	if !strings.Contains(s, "bob") || strings.Count(s, Redacted) != 3 {
		t.Errorf("printed config:\n%s", s)
	}
}

func TestSuggest(t *testing.T) {
	cases := map[string]string{"procesor": "processor", "bufer_size": "buffer_size", "xyz": "", "tagsonfailure": "tags_on_failure"}
	cands := []string{"processor", "buffer_size", "tags_on_failure", "sink"}
	for in, want := range cases {
		if got := Suggest(in, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	docs := Describe(&sample{Count: 5, Timeout: time.Second, Password: "x", Tags: []string{"a"}})
	byName := map[string]OptionDoc{}
	for _, d := range docs {
		byName[d.Name] = d
	}
	if d := byName["count"]; d.Type != "int" || d.Default != "5" || d.Max != "10" {
		t.Errorf("count: %+v", d)
	}
	if d := byName["timeout"]; d.Type != "duration" || d.Default != "1s" {
		t.Errorf("timeout: %+v", d)
	}
	if d := byName["password"]; d.Default != Redacted || !d.Secret {
		t.Errorf("password: %+v", d)
	}
	if d := byName["entries[].key"]; !d.Required {
		t.Errorf("entries[].key: %+v", d)
	}
	if d := byName["name"]; d.Doc != "a name" || !d.Required {
		t.Errorf("name: %+v", d)
	}
}
