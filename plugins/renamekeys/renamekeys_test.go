package renamekeys

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func newEvent(t testing.TB, js string) *event.Event { return pipelinestest.Event(t, js) }

func newProcessor(t testing.TB, opts string) pipelines.Processor {
	return pipelinestest.MustProcessor(t, "rename_keys", opts)
}

func fieldsJSON(ev *event.Event) string { return string(ev.AppendJSON(nil)) }

func TestRenameKeys(t *testing.T) {
	tests := []struct {
		name string
		opts string
		in   string
		want string
	}{
		{"top-level", `entries: [{from_key: message, to_key: msg}]`,
			`{"message":"hi","a":1}`, `{"a":1,"msg":"hi"}`},
		{"leading slashes", `entries: [{from_key: /message, to_key: /msg}]`,
			`{"message":"hi"}`, `{"msg":"hi"}`},
		{"nested to top-level", `entries: [{from_key: http/response/code, to_key: status}]`,
			`{"http":{"response":{"code":200,"size":5}}}`, `{"http":{"response":{"size":5}},"status":200}`},
		{"top-level to nested creates objects", `entries: [{from_key: env, to_key: metadata/environment}]`,
			`{"env":"prod"}`, `{"metadata":{"environment":"prod"}}`},
		{"object value moves whole", `entries: [{from_key: user, to_key: account}]`,
			`{"user":{"name":"a","id":1}}`, `{"account":{"id":1,"name":"a"}}`},
		{"null value moves", `entries: [{from_key: a, to_key: b}]`,
			`{"a":null}`, `{"b":null}`},
		{"target exists, no overwrite", `entries: [{from_key: a, to_key: b}]`,
			`{"a":1,"b":2}`, `{"a":1,"b":2}`},
		{"target exists as null, no overwrite", `entries: [{from_key: a, to_key: b}]`,
			`{"a":1,"b":null}`, `{"a":1,"b":null}`},
		{"target exists, overwrite", `entries: [{from_key: a, to_key: b, overwrite_if_to_key_exists: true}]`,
			`{"a":1,"b":2}`, `{"b":1}`},
		{"missing source", `entries: [{from_key: nope, to_key: b}]`,
			`{"a":1}`, `{"a":1}`},
		{"same key", `entries: [{from_key: a, to_key: /a}]`,
			`{"a":1}`, `{"a":1}`},
		{"into its own subtree nests the value", `entries: [{from_key: a, to_key: a/b}]`,
			`{"a":{"x":1}}`, `{"a":{"b":{"x":1}}}`},
		{"out of a subtree onto its parent", `entries: [{from_key: a/b, to_key: a, overwrite_if_to_key_exists: true}]`,
			`{"a":{"b":{"x":1},"c":2}}`, `{"a":{"x":1}}`},
		{"target through a non-object keeps the source", `entries: [{from_key: a, to_key: s/x}]`,
			`{"a":1,"s":"text"}`, `{"a":1,"s":"text"}`},
		{"rename_when true", `entries: [{from_key: a, to_key: b, rename_when: '/kind == "x"'}]`,
			`{"a":1,"kind":"x"}`, `{"b":1,"kind":"x"}`},
		{"rename_when false", `entries: [{from_key: a, to_key: b, rename_when: '/kind == "x"'}]`,
			`{"a":1,"kind":"y"}`, `{"a":1,"kind":"y"}`},
		{"rename_when error counts as false", `entries: [{from_key: a, to_key: b, rename_when: '/kind > 1'}]`,
			`{"a":1,"kind":"y"}`, `{"a":1,"kind":"y"}`},
		{"entries chain in order", `entries: [{from_key: a, to_key: b}, {from_key: b, to_key: c}]`,
			`{"a":1}`, `{"c":1}`},
		{"regex renames the first match in key order", `entries: [{from_key_regex: "ip_.*", to_key: ip}]`,
			`{"ip_v6":"::1","ip_v4":"1.2.3.4","x":1}`, `{"ip":"1.2.3.4","ip_v6":"::1","x":1}`},
		{"regex with overwrite renames every match, the last wins", `entries: [{from_key_regex: "ip_.*", to_key: ip, overwrite_if_to_key_exists: true}]`,
			`{"ip_v6":"::1","ip_v4":"1.2.3.4","ip":"old"}`, `{"ip":"::1"}`},
		{"regex matches whole keys only", `entries: [{from_key_regex: "ip", to_key: addr}]`,
			`{"client_ip":"1","ip_x":"2"}`, `{"client_ip":"1","ip_x":"2"}`},
		{"regex target exists, no overwrite", `entries: [{from_key_regex: "a.*", to_key: b}]`,
			`{"a1":1,"b":2}`, `{"a1":1,"b":2}`},
		{"regex never renames the target onto itself", `entries: [{from_key_regex: ".*", to_key: all, overwrite_if_to_key_exists: true}]`,
			`{"all":0,"z":1}`, `{"all":1}`},
		{"regex to nested target", `entries: [{from_key_regex: "lvl|level", to_key: log/level}]`,
			`{"level":"info"}`, `{"log":{"level":"info"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProcessor(t, tc.opts)
			ev := newEvent(t, tc.in)
			out := p.Process(context.Background(), []*event.Event{ev})
			if len(out) != 1 || out[0] != ev {
				t.Fatalf("got %d events, want the input event back", len(out))
			}
			want := fieldsJSON(newEvent(t, tc.want))
			if got := fieldsJSON(ev); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// A renamed object must not stay shared with a fan-out clone: changing it
// afterwards must leave the clone alone.
func TestClonesUnaffected(t *testing.T) {
	for _, opts := range []string{
		`entries: [{from_key: a, to_key: b}]`,
		`entries: [{from_key_regex: "a", to_key: b}]`,
	} {
		p := newProcessor(t, opts)
		ev := newEvent(t, `{"a":{"x":1}}`)
		clone := ev.Clone()
		p.Process(context.Background(), []*event.Event{ev})
		ev.Fields()["b"].(map[string]any)["x"] = "changed"
		if got := fieldsJSON(clone); got != `{"a":{"x":1}}` {
			t.Errorf("%s: clone changed: %s", opts, got)
		}
		if got := fieldsJSON(ev); got != `{"b":{"x":"changed"}}` {
			t.Errorf("%s: event: %s", opts, got)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"missing entries", `{}`,
			[]string{`option "entries": required option is missing`}},
		{"empty entries", `entries: []`,
			[]string{`option "entries": must list at least one entry`}},
		{"unknown option", `entries: [{from_key: a, to_key: b, overwrite_if_key_exists: true}]`,
			[]string{`option "entries[0].overwrite_if_key_exists"`, `did you mean "overwrite_if_to_key_exists"?`}},
		{"missing to_key", `entries: [{from_key: a}]`,
			[]string{`option "entries[0].to_key": required option is missing`}},
		{"no source", `entries: [{to_key: a}]`,
			[]string{`option "entries[0].from_key": one of from_key or from_key_regex is required`}},
		{"two sources", `entries: [{from_key: a, from_key_regex: b, to_key: c}]`,
			[]string{`option "entries[0].from_key_regex": give from_key or from_key_regex, not both`}},
		{"bad regex", `entries: [{from_key_regex: "[", to_key: c}]`,
			[]string{`option "entries[0].from_key_regex": invalid regular expression`}},
		{"root target", `entries: [{from_key: a, to_key: /}]`,
			[]string{`option "entries[0].to_key": must name a field`}},
		{"bad condition", `entries: [{from_key: a, to_key: b, rename_when: "and"}]`,
			[]string{`option "entries[0].rename_when"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "rename_keys", tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestReadmeListsEveryOption keeps README.md's option table in step with
// the config struct: same names, types and defaults.
func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "rename_keys", "README.md")
}

// sixFields builds the benchmark batch: n events of six fields.
func sixFields(n int) []*event.Event {
	evs := event.NewBatch(n, event.KindLog, time.Unix(0, 0))
	for i, ev := range evs {
		ev.SetFields(map[string]any{
			"message":  "GET /api/v1/users 200",
			"level":    "info",
			"host":     "web-1",
			"status":   int64(200 + i%5),
			"service":  "api",
			"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
		})
	}
	return evs
}

func BenchmarkRenameKeys(b *testing.B) {
	cases := []struct{ name, opts string }{
		{"TopLevel", `entries: [{from_key: message, to_key: msg}, {from_key: host, to_key: hostname}]`},
		{"ToNested", `entries: [{from_key: level, to_key: log/level}]`},
		{"When", `entries: [{from_key: message, to_key: msg, rename_when: '/status >= 200'}]`},
		{"Regex", `entries: [{from_key_regex: "trace_.*", to_key: trace}]`},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			p := newProcessor(b, bc.opts)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				evs := sixFields(1000)
				b.StartTimer()
				p.Process(ctx, evs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/event")
		})
	}
}
