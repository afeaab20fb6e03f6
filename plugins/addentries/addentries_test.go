package addentries

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func newEvent(t testing.TB, js string) *event.Event { return pipelinestest.Event(t, js) }

func newProcessor(t testing.TB, opts string) pipelines.Processor {
	return pipelinestest.MustProcessor(t, "add_entries", opts)
}

func fieldsJSON(ev *event.Event) string { return string(ev.AppendJSON(nil)) }

func TestAddEntries(t *testing.T) {
	tests := []struct {
		name string
		opts string
		in   string
		want string
	}{
		{"literal string", `entries: [{key: env, value: prod}]`,
			`{"a":1}`, `{"a":1,"env":"prod"}`},
		{"literal typed values", `entries: [{key: n, value: 5}, {key: f, value: 1.5}, {key: b, value: false}]`,
			`{}`, `{"b":false,"f":1.5,"n":5}`},
		{"literal list", `entries: [{key: l, value: [a, 1]}]`,
			`{}`, `{"l":["a",1]}`},
		{"literal object", `entries: [{key: o, value: {x: {y: 1}}}]`,
			`{}`, `{"o":{"x":{"y":1}}}`},
		{"leading slash", `entries: [{key: /status, value: 200}]`,
			`{}`, `{"status":200}`},
		{"nested pointer creates objects", `entries: [{key: kubernetes/labels/app, value: web}]`,
			`{"kubernetes":{"pod":"p"}}`, `{"kubernetes":{"labels":{"app":"web"},"pod":"p"}}`},
		{"existing key kept by default", `entries: [{key: a, value: 2}]`,
			`{"a":1}`, `{"a":1}`},
		{"existing null key kept by default", `entries: [{key: a, value: 2}]`,
			`{"a":null}`, `{"a":null}`},
		{"overwrite", `entries: [{key: a, value: 2, overwrite_if_key_exists: true}]`,
			`{"a":1}`, `{"a":2}`},
		{"overwrite nested", `entries: [{key: a/b, value: 2, overwrite_if_key_exists: true}]`,
			`{"a":{"b":1,"c":3}}`, `{"a":{"b":2,"c":3}}`},
		{"append to scalar makes a list", `entries: [{key: a, value: 2, append_if_key_exists: true}]`,
			`{"a":1}`, `{"a":[1,2]}`},
		{"append to list", `entries: [{key: a, value: 3, append_if_key_exists: true}]`,
			`{"a":[1,2]}`, `{"a":[1,2,3]}`},
		{"append a list appends it as one element", `entries: [{key: a, value: [3, 4], append_if_key_exists: true}]`,
			`{"a":[1]}`, `{"a":[1,[3,4]]}`},
		{"append to missing key sets it", `entries: [{key: a, value: 3, append_if_key_exists: true}]`,
			`{}`, `{"a":3}`},
		{"intermediate not an object leaves the event alone", `entries: [{key: a/b, value: 1}]`,
			`{"a":"text"}`, `{"a":"text"}`},
		{"format", `entries: [{key: id, format: "${/a}-${b}"}]`,
			`{"a":"x","b":"y"}`, `{"a":"x","b":"y","id":"x-y"}`},
		{"format nested and typed", `entries: [{key: s, format: "${/k/n}:${/k/f}:${/k/t}:${/k/o}"}]`,
			`{"k":{"n":7,"f":0.5,"t":true,"o":{"z":1}}}`, `{"k":{"f":0.5,"n":7,"o":{"z":1},"t":true},"s":"7:0.5:true:{\"z\":1}"}`},
		{"format missing and null render empty", `entries: [{key: s, format: "<${/missing}|${/nil}>"}]`,
			`{"nil":null}`, `{"nil":null,"s":"<|>"}`},
		{"format without references", `entries: [{key: s, format: "plain"}]`,
			`{}`, `{"s":"plain"}`},
		{"format with expression reference", `entries: [{key: s, format: "len=${length(/message)}"}]`,
			`{"message":"hello"}`, `{"message":"hello","s":"len=5"}`},
		{"value_expression copies a field", `entries: [{key: b, value_expression: /a}]`,
			`{"a":{"x":1}}`, `{"a":{"x":1},"b":{"x":1}}`},
		{"value_expression function", `entries: [{key: n, value_expression: "length(/message)"}]`,
			`{"message":"hello"}`, `{"message":"hello","n":5}`},
		{"value_expression of missing field is null", `entries: [{key: n, value_expression: /missing}]`,
			`{}`, `{"n":null}`},
		{"value_expression error skips the entry", `entries: [{key: n, value_expression: "-/message"}]`,
			`{"message":"x"}`, `{"message":"x"}`},
		{"add_when true", `entries: [{key: x, value: 1, add_when: '/status >= 400'}]`,
			`{"status":500}`, `{"status":500,"x":1}`},
		{"add_when false", `entries: [{key: x, value: 1, add_when: '/status >= 400'}]`,
			`{"status":200}`, `{"status":200}`},
		{"add_when error counts as false", `entries: [{key: x, value: 1, add_when: '/status >= 400'}]`,
			`{}`, `{}`},
		{"dynamic key", `entries: [{key: "${/name}_count", value: 1}]`,
			`{"name":"req"}`, `{"name":"req","req_count":1}`},
		{"dynamic key nested", `entries: [{key: "labels/${/name}", value: 1}]`,
			`{"name":"a"}`, `{"labels":{"a":1},"name":"a"}`},
		{"dynamic key rendering empty is skipped", `entries: [{key: "${/missing}", value: 1}]`,
			`{}`, `{}`},
		{"entries apply in order", `entries: [{key: a, value: x}, {key: b, format: "${/a}${/a}"}]`,
			`{}`, `{"a":"x","b":"xx"}`},
		{"one entry's condition does not affect another", `entries: [{key: a, value: 1, add_when: "false"}, {key: b, value: 2}]`,
			`{}`, `{"b":2}`},
		{"single mapping accepted as a list", `entries: {key: a, value: 1}`,
			`{}`, `{"a":1}`},
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

func TestMetadata(t *testing.T) {
	tests := []struct {
		name string
		opts string
		meta map[string]any // initial metadata
		want any
	}{
		{"set", `entries: [{metadata_key: m, value: v}]`, nil, "v"},
		{"kept", `entries: [{metadata_key: m, value: v}]`, map[string]any{"m": "old"}, "old"},
		{"overwrite", `entries: [{metadata_key: m, value: v, overwrite_if_key_exists: true}]`, map[string]any{"m": "old"}, "v"},
		{"append", `entries: [{metadata_key: m, value: v, append_if_key_exists: true}]`, map[string]any{"m": "old"}, []any{"old", "v"}},
		{"format", `entries: [{metadata_key: m, format: "${/a}!"}]`, nil, "1!"},
		{"expression", `entries: [{metadata_key: m, value_expression: /a}]`, nil, int64(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProcessor(t, tc.opts)
			ev := newEvent(t, `{"a":1}`)
			for k, v := range tc.meta {
				ev.SetMetadata(k, v)
			}
			p.Process(context.Background(), []*event.Event{ev})
			got, _ := ev.Metadata("m")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("metadata m = %#v, want %#v", got, tc.want)
			}
			if f := fieldsJSON(ev); f != `{"a":1}` {
				t.Errorf("fields changed: %s", f)
			}
		})
	}
}

// Composite literal values and expression results must not be shared
// between events or with the field they were read from.
func TestValuesAreNotShared(t *testing.T) {
	p := newProcessor(t, `entries: [{key: o, value: {x: [1]}}, {key: c, value_expression: /src}]`)
	a, b := newEvent(t, `{"src":{"k":1}}`), newEvent(t, `{"src":{"k":1}}`)
	p.Process(context.Background(), []*event.Event{a, b})
	a.Fields()["o"].(map[string]any)["x"].([]any)[0] = "changed"
	a.Fields()["c"].(map[string]any)["k"] = "changed"
	if got := fieldsJSON(b); got != `{"c":{"k":1},"o":{"x":[1]},"src":{"k":1}}` {
		t.Errorf("second event affected: %s", got)
	}
	if got := a.Fields()["src"].(map[string]any)["k"]; got != int64(1) {
		t.Errorf("source field affected: %v", got)
	}
}

// Appending to a list shared with a clone must not write into the clone.
func TestAppendDoesNotTouchClone(t *testing.T) {
	p := newProcessor(t, `entries: [{key: l, value: 9, append_if_key_exists: true}]`)
	list := make([]any, 1, 8) // spare capacity would tempt an in-place append
	list[0] = int64(1)
	ev := event.New(event.KindLog, time.Time{}, map[string]any{"l": list})
	clone := ev.Clone()
	p.Process(context.Background(), []*event.Event{ev})
	if got := fieldsJSON(ev); got != `{"l":[1,9]}` {
		t.Errorf("event: %s", got)
	}
	if got := fieldsJSON(clone); got != `{"l":[1]}` {
		t.Errorf("clone changed: %s", got)
	}
	if got := list[:2][1]; got != nil {
		t.Errorf("backing array written: %v", got)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"unknown top-level option", `entrys: [{key: a, value: 1}]`,
			[]string{`unknown option "entrys"`, `did you mean "entries"?`}},
		{"unknown entry option", `entries: [{key: a, value: 1, overwrite_if_key_exist: true}]`,
			[]string{`option "entries[0].overwrite_if_key_exist"`, `did you mean "overwrite_if_key_exists"?`}},
		{"missing entries", `{}`,
			[]string{`option "entries": required option is missing`}},
		{"empty entries", `entries: []`,
			[]string{`option "entries": must list at least one entry`}},
		{"no value", `entries: [{key: a}]`,
			[]string{`option "entries[0].value": one of value, format or value_expression is required`}},
		{"value and format", `entries: [{key: a, value: 1, format: x}]`,
			[]string{`option "entries[0].format": give only one of value, format or value_expression`}},
		{"format and value_expression", `entries: [{key: a}, {key: b, format: x, value_expression: /a}]`,
			[]string{`option "entries[1].value_expression"`}},
		{"no key", `entries: [{value: 1}]`,
			[]string{`option "entries[0].key": one of key or metadata_key is required`}},
		{"key and metadata_key", `entries: [{key: a, metadata_key: m, value: 1}]`,
			[]string{`option "entries[0].metadata_key": give key or metadata_key, not both`}},
		{"root key", `entries: [{key: /, value: 1}]`,
			[]string{`option "entries[0].key": must name a field`}},
		{"overwrite and append", `entries: [{key: a, value: 1, overwrite_if_key_exists: true, append_if_key_exists: true}]`,
			[]string{`option "entries[0].append_if_key_exists": cannot be combined with overwrite_if_key_exists`}},
		{"unterminated format", `entries: [{key: a, format: "${/a"}]`,
			[]string{`option "entries[0].format": unterminated ${`}},
		{"empty reference", `entries: [{key: a, format: "${}"}]`,
			[]string{`option "entries[0].format": empty ${} reference`}},
		{"bad add_when", `entries: [{key: a, value: 1, add_when: "/a =="}]`,
			[]string{`option "entries[0].add_when"`}},
		{"bad value_expression", `entries: [{key: a, value_expression: "(("}]`,
			[]string{`option "entries[0].value_expression"`}},
		{"bool expected", `entries: [{key: a, value: 1, overwrite_if_key_exists: maybe}]`,
			[]string{`option "entries[0].overwrite_if_key_exists": expected true or false`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "add_entries", tc.opts)
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

// Processors are shared by the pipeline's workers.
func TestConcurrentUse(t *testing.T) {
	p := newProcessor(t, `entries: [{key: id, format: "${/a}-${/b}"}, {key: o, value: {x: 1}}]`)
	done := make(chan struct{})
	for w := 0; w < 8; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				ev := newEvent(t, `{"a":"x","b":"y"}`)
				p.Process(context.Background(), []*event.Event{ev})
				if got := fieldsJSON(ev); got != `{"a":"x","b":"y","id":"x-y","o":{"x":1}}` {
					t.Errorf("got %s", got)
					return
				}
			}
		}()
	}
	for w := 0; w < 8; w++ {
		<-done
	}
}

// TestReadmeListsEveryOption keeps README.md's option table in step with
// the config struct: same names, types and defaults.
func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "add_entries", "README.md")
}

func checkReadme(t *testing.T, plugin string) {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	inOptions := false // only the table under "## Options"
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "## ") {
			inOptions = line == "## Options"
		}
		if !inOptions || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		rows[cells[0]] = cells
	}
	f, _ := pipelines.Lookup(pipelines.KindProcessor, plugin)
	opts := f.Options()
	if len(rows) != len(opts) {
		t.Errorf("README lists %d options, the config has %d", len(rows), len(opts))
	}
	for _, o := range opts {
		row, ok := rows[o.Name]
		if !ok {
			t.Errorf("README does not list option %s", o.Name)
			continue
		}
		if len(row) < 4 {
			t.Errorf("README row for %s has %d cells", o.Name, len(row))
			continue
		}
		if row[1] != o.Type {
			t.Errorf("README type of %s is %q, code says %q", o.Name, row[1], o.Type)
		}
		def := row[2]
		if def == "—" || def == "-" {
			def = ""
		}
		if def != o.Default {
			t.Errorf("README default of %s is %q, code says %q", o.Name, def, o.Default)
		}
	}
}

// sixFields builds the benchmark batch: 1000 events of six fields.
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

func BenchmarkAddEntries(b *testing.B) {
	cases := []struct{ name, opts string }{
		{"Literal", `entries: [{key: env, value: prod}]`},
		{"Format", `entries: [{key: id, format: "${/service}-${/host}"}]`},
		{"NestedWhen", `entries: [{key: labels/tier, value: backend, add_when: '/status >= 200'}]`},
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
