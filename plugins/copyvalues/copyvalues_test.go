package copyvalues

import (
	"context"
	"strings"
	"testing"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func newEvent(t testing.TB, js string) *event.Event { return pipelinestest.Event(t, js) }

func newProcessor(t testing.TB, opts string) pipelines.Processor {
	return pipelinestest.MustProcessor(t, "copy_values", opts)
}

func fieldsJSON(ev *event.Event) string { return string(ev.AppendJSON(nil)) }

func TestCopyValues(t *testing.T) {
	tests := []struct {
		name string
		opts string
		in   string
		want string
	}{
		// The two examples of Data Prepper's documentation.
		{"skip existing fields", `entries: [{from_key: message1, to_key: message2}, {from_key: message1, to_key: message3}]`,
			`{"message1":"hello","message2":"bye"}`, `{"message1":"hello","message2":"bye","message3":"hello"}`},
		{"overwrite", `entries: [{from_key: message1, to_key: message2, overwrite_if_to_key_exists: true}, {from_key: message1, to_key: message3}]`,
			`{"message1":"hello","message2":"bye"}`, `{"message1":"hello","message2":"hello","message3":"hello"}`},

		{"leading slashes and nesting", `entries: [{from_key: /http/status, to_key: /labels/status}]`,
			`{"http":{"status":200}}`, `{"http":{"status":200},"labels":{"status":200}}`},
		{"object value", `entries: [{from_key: user, to_key: actor}]`,
			`{"user":{"id":1,"roles":["a"]}}`, `{"actor":{"id":1,"roles":["a"]},"user":{"id":1,"roles":["a"]}}`},
		{"null value", `entries: [{from_key: a, to_key: b}]`,
			`{"a":null}`, `{"a":null,"b":null}`},
		{"existing null target kept", `entries: [{from_key: a, to_key: b}]`,
			`{"a":1,"b":null}`, `{"a":1,"b":null}`},
		{"missing source", `entries: [{from_key: nope, to_key: b}]`,
			`{"a":1}`, `{"a":1}`},
		{"same key", `entries: [{from_key: a, to_key: /a, overwrite_if_to_key_exists: true}]`,
			`{"a":1}`, `{"a":1}`},
		{"target through a non-object", `entries: [{from_key: a, to_key: s/x}]`,
			`{"a":1,"s":"text"}`, `{"a":1,"s":"text"}`},
		{"array element source", `entries: [{from_key: items/1, to_key: second}]`,
			`{"items":["a","b"]}`, `{"items":["a","b"],"second":"b"}`},
		{"copy_when true", `entries: [{from_key: a, to_key: b, copy_when: '/a > 0'}]`,
			`{"a":1}`, `{"a":1,"b":1}`},
		{"copy_when false", `entries: [{from_key: a, to_key: b, copy_when: '/a > 5'}]`,
			`{"a":1}`, `{"a":1}`},
		{"copy_when error counts as false", `entries: [{from_key: a, to_key: b, copy_when: '/a > 5'}]`,
			`{"a":"x"}`, `{"a":"x"}`},
		{"entries chain in order", `entries: [{from_key: a, to_key: b}, {from_key: b, to_key: c}]`,
			`{"a":1}`, `{"a":1,"b":1,"c":1}`},

		// from_list / to_list, starting with Data Prepper's example.
		{"list", `{from_list: mylist, to_list: newlist, entries: [{from_key: name, to_key: fruit_name}]}`,
			`{"mylist":[{"name":"apple","color":"red"},{"name":"orange","color":"orange"}]}`,
			`{"mylist":[{"color":"red","name":"apple"},{"color":"orange","name":"orange"}],"newlist":[{"fruit_name":"apple"},{"fruit_name":"orange"}]}`},
		{"list with several and nested keys", `{from_list: /a/items, to_list: /b/out, entries: [{from_key: k/x, to_key: x}, {from_key: v, to_key: y/z}]}`,
			`{"a":{"items":[{"k":{"x":1},"v":2}]}}`,
			`{"a":{"items":[{"k":{"x":1},"v":2}]},"b":{"out":[{"x":1,"y":{"z":2}}]}}`},
		{"list element missing a key or not an object", `{from_list: l, to_list: o, entries: [{from_key: n, to_key: m}]}`,
			`{"l":[{"n":1},{"other":2},"text",null]}`, `{"l":[{"n":1},{"other":2},"text",null],"o":[{"m":1},{},{},{}]}`},
		{"existing to_list kept", `{from_list: l, to_list: o, entries: [{from_key: n, to_key: m}]}`,
			`{"l":[{"n":1}],"o":"old"}`, `{"l":[{"n":1}],"o":"old"}`},
		{"existing to_list overwritten", `{from_list: l, to_list: o, overwrite_if_to_list_exists: true, entries: [{from_key: n, to_key: m}]}`,
			`{"l":[{"n":1}],"o":"old"}`, `{"l":[{"n":1}],"o":[{"m":1}]}`},
		{"to_list may be from_list", `{from_list: l, to_list: l, overwrite_if_to_list_exists: true, entries: [{from_key: n, to_key: m}]}`,
			`{"l":[{"n":1,"x":2}]}`, `{"l":[{"m":1}]}`},
		{"missing from_list", `{from_list: l, to_list: o, entries: [{from_key: n, to_key: m}]}`,
			`{"a":1}`, `{"a":1}`},
		{"from_list not a list", `{from_list: l, to_list: o, entries: [{from_key: n, to_key: m}]}`,
			`{"l":{"n":1}}`, `{"l":{"n":1}}`},
		{"empty from_list", `{from_list: l, to_list: o, entries: [{from_key: n, to_key: m}]}`,
			`{"l":[]}`, `{"l":[],"o":[]}`},
		{"list copy_when is evaluated on the event", `{from_list: l, to_list: o, entries: [{from_key: n, to_key: m, copy_when: '/on == true'}, {from_key: n, to_key: k}]}`,
			`{"on":false,"l":[{"n":1}]}`, `{"l":[{"n":1}],"o":[{"k":1}],"on":false}`},
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

// A copied object must be independent of its source, and of the source's
// fan-out clones.
func TestCopiesAreIndependent(t *testing.T) {
	for _, tc := range []struct{ opts, in, copied string }{
		{`entries: [{from_key: a, to_key: b}]`, `{"a":{"x":[1]}}`, "b"},
		{`{from_list: a, to_list: b, entries: [{from_key: x, to_key: x}]}`, `{"a":[{"x":[1]}]}`, "b"},
	} {
		p := newProcessor(t, tc.opts)
		ev := newEvent(t, tc.in)
		clone := ev.Clone()
		p.Process(context.Background(), []*event.Event{ev})
		wantSource := string(event.AppendJSON(nil, newEvent(t, tc.in).Fields()["a"]))
		// Change the copy in place, through the event's own tree.
		switch c := ev.Fields()[tc.copied].(type) {
		case map[string]any:
			c["x"].([]any)[0] = "changed"
		case []any:
			c[0].(map[string]any)["x"].([]any)[0] = "changed"
		}
		if got := fieldsJSON(clone); got != tc.in {
			t.Errorf("%s: clone changed: %s", tc.opts, got)
		}
		if got := string(event.AppendJSON(nil, ev.Fields()["a"])); got != wantSource {
			t.Errorf("%s: source changed with the copy: %s", tc.opts, got)
		}
		if got := fieldsJSON(ev); !strings.Contains(got, "changed") {
			t.Errorf("%s: the copy was not changed: %s", tc.opts, got)
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
		{"unknown option", `{from_lists: a, entries: [{from_key: a, to_key: b}]}`,
			[]string{`unknown option "from_lists"`, `did you mean "from_list"?`}},
		{"unknown entry option", `entries: [{from_key: a, to_key: b, copy_wen: "true"}]`,
			[]string{`option "entries[0].copy_wen"`, `did you mean "copy_when"?`}},
		{"missing from_key", `entries: [{to_key: b}]`,
			[]string{`option "entries[0].from_key": required option is missing`}},
		{"missing to_key", `entries: [{from_key: a}]`,
			[]string{`option "entries[0].to_key": required option is missing`}},
		{"root to_key", `entries: [{from_key: a, to_key: /}]`,
			[]string{`option "entries[0].to_key": must name a field`}},
		{"from_list alone", `{from_list: a, entries: [{from_key: a, to_key: b}]}`,
			[]string{`option "to_list": required with from_list`}},
		{"to_list alone", `{to_list: a, entries: [{from_key: a, to_key: b}]}`,
			[]string{`option "from_list": required with to_list`}},
		{"overwrite list without lists", `{overwrite_if_to_list_exists: true, entries: [{from_key: a, to_key: b}]}`,
			[]string{`option "overwrite_if_to_list_exists": only applies with from_list and to_list`}},
		{"bad copy_when", `entries: [{from_key: a, to_key: b, copy_when: "/a ==="}]`,
			[]string{`option "entries[0].copy_when"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "copy_values", tc.opts)
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
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "copy_values", "README.md")
}
