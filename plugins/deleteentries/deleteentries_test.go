package deleteentries

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
	return pipelinestest.MustProcessor(t, "delete_entries", opts)
}

func fieldsJSON(ev *event.Event) string { return string(ev.AppendJSON(nil)) }

func TestDeleteEntries(t *testing.T) {
	tests := []struct {
		name string
		opts string
		in   string
		want string
	}{
		{"one key", `with_keys: [a]`,
			`{"a":1,"b":2}`, `{"b":2}`},
		{"single key without list", `with_keys: a`,
			`{"a":1,"b":2}`, `{"b":2}`},
		{"several keys, leading slash", `with_keys: [a, /b]`,
			`{"a":1,"b":2,"c":3}`, `{"c":3}`},
		{"nested pointer", `with_keys: [kubernetes/labels/app]`,
			`{"kubernetes":{"labels":{"app":"web","tier":"x"}}}`, `{"kubernetes":{"labels":{"tier":"x"}}}`},
		{"whole object", `with_keys: [kubernetes]`,
			`{"kubernetes":{"labels":{"app":"web"}},"a":1}`, `{"a":1}`},
		{"escaped pointer", `with_keys: ["/a~1b"]`,
			`{"a/b":1,"a":{"b":2}}`, `{"a":{"b":2}}`},
		{"missing key is a no-op", `with_keys: [nope, a/nope, x/y/z]`,
			`{"a":{"b":1}}`, `{"a":{"b":1}}`},
		{"through a non-object is a no-op", `with_keys: [a/b]`,
			`{"a":"text"}`, `{"a":"text"}`},
		{"null value is deleted", `with_keys: [a]`,
			`{"a":null}`, `{}`},
		{"delete_when true", `{with_keys: [debug], delete_when: '/level != "debug"'}`,
			`{"level":"info","debug":{"x":1}}`, `{"level":"info"}`},
		{"delete_when false", `{with_keys: [debug], delete_when: '/level != "debug"'}`,
			`{"level":"debug","debug":{"x":1}}`, `{"debug":{"x":1},"level":"debug"}`},
		{"delete_when error counts as false", `{with_keys: [a], delete_when: '/n > 1'}`,
			`{"a":1,"n":"x"}`, `{"a":1,"n":"x"}`},
		{"regex matches whole top-level keys", `with_keys_regex: ["tmp_.*"]`,
			`{"tmp_a":1,"tmp_b":2,"x_tmp_y":3,"keep":{"tmp_c":4}}`, `{"keep":{"tmp_c":4},"x_tmp_y":3}`},
		{"several regexes", `with_keys_regex: ["a.", "^b$"]`,
			`{"a1":1,"a12":2,"b":3,"bb":4}`, `{"a12":2,"bb":4}`},
		{"regex with exclusions", `{with_keys_regex: [".*"], exclude_from_delete: [keep, /also]}`,
			`{"keep":1,"also":2,"gone":3,"other":4}`, `{"also":2,"keep":1}`},
		{"regex without match", `with_keys_regex: ["zzz"]`,
			`{"a":1}`, `{"a":1}`},
		{"keys and regex together", `{with_keys: [a/b], with_keys_regex: ["c.*"]}`,
			`{"a":{"b":1,"d":2},"c1":1,"c2":2}`, `{"a":{"d":2}}`},
		{"entries with their own conditions", `entries:
  - with_keys: [a]
    delete_when: '/kind == "x"'
  - with_keys: [b]
    delete_when: '/kind == "y"'
  - with_keys_regex: ["t.*"]`,
			`{"kind":"x","a":1,"b":2,"t1":3}`, `{"b":2,"kind":"x"}`},
		{"a later entry sees earlier deletions", `entries:
  - with_keys: [flag]
  - with_keys: [a]
    delete_when: '/flag == null'`,
			`{"flag":true,"a":1}`, `{}`},
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

// Deleting from an event must leave its clones (fan-out copies) intact.
func TestClonesUnaffected(t *testing.T) {
	for _, opts := range []string{`with_keys: [a/b]`, `with_keys_regex: ["^a$"]`} {
		p := newProcessor(t, opts)
		ev := newEvent(t, `{"a":{"b":1},"c":2}`)
		clone := ev.Clone()
		p.Process(context.Background(), []*event.Event{ev})
		if got := fieldsJSON(clone); got != `{"a":{"b":1},"c":2}` {
			t.Errorf("%s: clone changed: %s", opts, got)
		}
		if got := fieldsJSON(ev); got == `{"a":{"b":1},"c":2}` {
			t.Errorf("%s: event not changed", opts)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"nothing to delete", `{}`,
			[]string{`option "with_keys": one of with_keys or with_keys_regex is required`}},
		{"unknown option", `with_key: [a]`,
			[]string{`unknown option "with_key"`, `did you mean "with_keys"?`}},
		{"unknown entry option", `entries: [{with_keys: [a], delete_wen: "true"}]`,
			[]string{`option "entries[0].delete_wen"`, `did you mean "delete_when"?`}},
		{"empty with_keys", `with_keys: []`,
			[]string{`option "with_keys": must list at least one key`}},
		{"root key", `with_keys: [a, /]`,
			[]string{`option "with_keys[1]": must name a field`}},
		{"bad regex", `with_keys_regex: ["("]`,
			[]string{`option "with_keys_regex[0]": invalid regular expression`}},
		{"exclude without regex", `{with_keys: [a], exclude_from_delete: [b]}`,
			[]string{`option "exclude_from_delete": only applies with with_keys_regex`}},
		{"entries and inline options", `{with_keys: [a], entries: [{with_keys: [b]}]}`,
			[]string{`option "entries": use either entries or`}},
		{"empty entries", `entries: []`,
			[]string{`option "entries": must list at least one entry`}},
		{"entry without keys", `entries: [{with_keys: [a]}, {delete_when: "true"}]`,
			[]string{`option "entries[1].with_keys": one of with_keys or with_keys_regex is required`}},
		{"bad delete_when", `{with_keys: [a], delete_when: "/a =="}`,
			[]string{`option "delete_when"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "delete_entries", tc.opts)
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
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "delete_entries", "README.md")
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

func BenchmarkDeleteEntries(b *testing.B) {
	cases := []struct{ name, opts string }{
		{"Keys", `with_keys: [host, trace_id]`},
		{"KeysWhen", `{with_keys: [host, trace_id], delete_when: '/level == "info"'}`},
		{"Regex", `with_keys_regex: ["^trace_.*"]`},
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
