package selectfields

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

const doc = `{
  "message": "order placed",
  "level": "info",
  "customer": {"name": "Ann", "email": "ann@example.com", "address": {"city": "Lyon", "zip": "69001"}},
  "headers": {"authorization": "Bearer x", "content-type": "json", "x-request-id": "r1"},
  "items": [{"id": "a", "price": 3, "secret": {"password": "p1"}}, {"price": 4}, {"id": "c", "password": "p2"}, "loose"],
  "tags": ["t0", "t1", "t2"],
  "kubernetes": {"pod_name": "p", "labels": {"app": "shop", "tier": "web"}},
  "auth": {"password": "p3", "user": "u"},
  "password": "p4",
  "a/b": {"~x": 1},
  "scalar": "s"
}`

func newEvent(t testing.TB, js string) *event.Event {
	t.Helper()
	m, err := event.DecodeJSONObject([]byte(js))
	if err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return event.New(event.KindLog, time.Unix(0, 0), m)
}

func canon(t testing.TB, js string) string {
	t.Helper()
	return string(newEvent(t, js).AppendJSON(nil))
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name, opts, want string
	}{
		{"include top-level keys (fast path)", `include: [message, /level, missing]`,
			`{"message": "order placed", "level": "info"}`},
		{"include a nested field keeps its parents", `include: [/customer/address/city]`,
			`{"customer": {"address": {"city": "Lyon"}}}`},
		{"include * is one level, with whole subtrees", `include: [/customer/*]`,
			`{"customer": {"name": "Ann", "email": "ann@example.com", "address": {"city": "Lyon", "zip": "69001"}}}`},
		{"include * on a scalar selects nothing", `include: [/scalar/*, /level]`,
			`{"level": "info"}`},
		{"include /x/* then a key", `include: [/kubernetes/*/app]`,
			`{"kubernetes": {"labels": {"app": "shop"}}}`},
		{"include ** selects the subtree", `include: ["/kubernetes/**"]`,
			`{"kubernetes": {"pod_name": "p", "labels": {"app": "shop", "tier": "web"}}}`},
		{"include **/key at any depth, lists included", `include: ["/**/password"]`,
			`{"items": [{"secret": {"password": "p1"}}, {"password": "p2"}], "auth": {"password": "p3"}, "password": "p4"}`},
		{"include through a list: elements without the field are dropped", `include: [/items/*/id]`,
			`{"items": [{"id": "a"}, {"id": "c"}]}`},
		{"include a list element by index", `include: [/tags/1, /items/0/price]`,
			`{"tags": ["t1"], "items": [{"price": 3}]}`},
		{"include with JSON pointer escapes", `include: ["/a~1b/~0x"]`,
			`{"a/b": {"~x": 1}}`},
		{"exclude a literal path (fast path)", `exclude: [/customer/email, /headers/authorization, /missing/x]`,
			`{"message": "order placed", "level": "info",
			  "customer": {"name": "Ann", "address": {"city": "Lyon", "zip": "69001"}},
			  "headers": {"content-type": "json", "x-request-id": "r1"},
			  "items": [{"id": "a", "price": 3, "secret": {"password": "p1"}}, {"price": 4}, {"id": "c", "password": "p2"}, "loose"],
			  "tags": ["t0", "t1", "t2"], "kubernetes": {"pod_name": "p", "labels": {"app": "shop", "tier": "web"}},
			  "auth": {"password": "p3", "user": "u"}, "password": "p4", "a/b": {"~x": 1}, "scalar": "s"}`},
		{"exclude **/password everywhere", `{include: [/items, /auth, /password], exclude: ["/**/password"]}`,
			`{"items": [{"id": "a", "price": 3, "secret": {}}, {"price": 4}, {"id": "c"}, "loose"], "auth": {"user": "u"}}`},
		{"exclude * empties an object but keeps it", `{include: [/headers, /level], exclude: [/headers/*]}`,
			`{"headers": {}, "level": "info"}`},
		{"exclude list elements", `{include: [/tags, /items], exclude: [/tags/0, /items/*/price, /items/3]}`,
			`{"tags": ["t1", "t2"], "items": [{"id": "a", "secret": {"password": "p1"}}, {}, {"id": "c", "password": "p2"}]}`},
		{"include then exclude", `{include: [/customer], exclude: [/customer/email, /customer/address/zip]}`,
			`{"customer": {"name": "Ann", "address": {"city": "Lyon"}}}`},
		{"include_keys (Data Prepper) is include", `include_keys: [level, /customer/name]`,
			`{"level": "info", "customer": {"name": "Ann"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := pipelinestest.Processor("select_fields", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			ev := newEvent(t, doc)
			out := p.Process(context.Background(), []*event.Event{ev})
			if len(out) != 1 || out[0] != ev {
				t.Fatalf("got %d events", len(out))
			}
			if got, want := string(ev.AppendJSON(nil)), canon(t, tc.want); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// select_entries is Data Prepper's processor: same code, its option names.
func TestSelectEntriesAlias(t *testing.T) {
	p, _, err := pipelinestest.Processor("select_entries", `{include_keys: [id, /user/name], select_when: '/type == "audit"'}`)
	if err != nil {
		t.Fatal(err)
	}
	evs := []*event.Event{
		newEvent(t, `{"id": 1, "type": "audit", "user": {"name": "n", "pw": "x"}}`),
		newEvent(t, `{"id": 2, "type": "access", "user": {"name": "n", "pw": "x"}}`),
		newEvent(t, `{"id": 3, "user": {"name": "n"}}`), // select_when cannot be evaluated: untouched
	}
	p.Process(context.Background(), evs)
	for i, want := range []string{
		`{"id": 1, "user": {"name": "n"}}`,
		`{"id": 2, "type": "access", "user": {"name": "n", "pw": "x"}}`,
		`{"id": 3, "user": {"name": "n"}}`,
	} {
		if got := string(evs[i].AppendJSON(nil)); got != canon(t, want) {
			t.Errorf("event %d: %s, want %s", i+1, got, want)
		}
	}
}

// A clone shares its fields with the original until one writes: selecting
// in one must not change the other, on every path of the code.
func TestClonesAreIndependent(t *testing.T) {
	for _, opts := range []string{
		`include: [level, message]`,
		`include: ["/**/password"]`,
		`exclude: [/customer/email]`,
		`exclude: ["/items/*/id", /tags/0]`,
	} {
		p, _, err := pipelinestest.Processor("select_fields", opts)
		if err != nil {
			t.Fatal(err)
		}
		orig := newEvent(t, doc)
		clone := orig.Clone()
		before := string(orig.AppendJSON(nil))
		p.Process(context.Background(), []*event.Event{clone})
		if after := string(orig.AppendJSON(nil)); after != before {
			t.Errorf("%s: the original changed:\n%s", opts, after)
		}
		if string(clone.AppendJSON(nil)) == before {
			t.Errorf("%s: the clone did not change", opts)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		plugin, opts string
		want         []string
	}{
		{"select_fields", `{}`, []string{`option "include": give include (or include_keys), exclude, or both`}},
		{"select_fields", `{include: [a], include_keys: [b]}`, []string{`test.yaml:1:30:`, `option "include_keys": give include or include_keys (its Data Prepper name), not both`}},
		{"select_fields", `include: []`, []string{`option "include": must list at least one path`}},
		{"select_fields", `include: [a, /]`, []string{`option "include[1]": must name a field, not the whole event`}},
		{"select_fields", `exclude: ["/**"]`, []string{`option "exclude[0]": "/**" matches the whole event; name a field`}},
		{"select_fields", `inclde: [a]`, []string{`unknown option "inclde"; did you mean "include"?`}},
		{"select_entries", `include_key: [a]`, []string{`unknown option "include_key"; did you mean "include_keys"?`}},
		{"select_fields", `{include: [a], select_when: '/a =='}`, []string{`option "select_when"`}},
	}
	for _, tc := range tests {
		t.Run(tc.opts, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, tc.plugin, tc.opts)
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

func TestPatterns(t *testing.T) {
	m := &matcher{}
	for _, s := range []string{"/a/**/b", "/x/*", "**/y/**/z"} {
		p, err := compilePattern(s)
		if err != nil {
			t.Fatal(err)
		}
		m.pats = append(m.pats, p)
	}
	matches := func(path ...string) bool {
		st := m.start(make([]uint64, len(m.pats)))
		next := make([]uint64, len(st))
		full := false
		for _, k := range path {
			full, _ = m.step(st, k, -1, next)
			st, next = next, st
		}
		return full
	}
	for _, tc := range []struct {
		path []string
		want bool
	}{
		{[]string{"a", "b"}, true}, // ** matches no level
		{[]string{"a", "q", "r", "b"}, true},
		{[]string{"a", "b", "c"}, false},
		{[]string{"x"}, false},
		{[]string{"x", "k"}, true},
		{[]string{"x", "k", "l"}, false},
		{[]string{"y", "z"}, true},
		{[]string{"q", "y", "r", "z"}, true},
		{[]string{"z"}, false},
	} {
		if got := matches(tc.path...); got != tc.want {
			t.Errorf("%v: %v", tc.path, got)
		}
	}
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "select_fields", "README.md")
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "select_entries", "README.md")
}

func BenchmarkSelect(b *testing.B) {
	for _, opts := range []string{
		`include: [message, level, traceId]`,
		`include: [/kubernetes/labels/app, message]`,
		`exclude: [/customer/email]`,
		`exclude: ["/**/password"]`,
	} {
		b.Run(opts, func(b *testing.B) {
			p, _, err := pipelinestest.Processor("select_fields", opts)
			if err != nil {
				b.Fatal(err)
			}
			src, _ := event.DecodeJSONObject([]byte(doc))
			evs := make([]*event.Event, 1000)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				for i := range evs {
					evs[i] = event.New(event.KindLog, time.Time{}, event.DeepCopyMap(src))
				}
				b.StartTimer()
				p.Process(context.Background(), evs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
		})
	}
}

// The README's example, step by step.
func TestReadmeExample(t *testing.T) {
	first, _, err := pipelinestest.Processor("select_fields", `exclude: [/customer/email, /headers/authorization, "/**/password"]`)
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := pipelinestest.Processor("select_fields", `{select_when: '/kind == "audit"', include: [timestamp, actor, action, "/target/*", "/kubernetes/**"]}`)
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvent(t, `{"timestamp": "2024-03-05T12:00:00Z", "kind": "audit", "actor": "ann", "action": "delete",
 "target": {"type": "order", "id": "o-7"}, "customer": {"name": "Ann", "email": "ann@example.com"},
 "kubernetes": {"pod_name": "shop-1", "labels": {"app": "shop"}}, "auth": {"password": "x"}}`)
	first.Process(context.Background(), []*event.Event{ev})
	if got, want := string(ev.AppendJSON(nil)), canon(t, `{"timestamp": "2024-03-05T12:00:00Z", "kind": "audit", "actor": "ann", "action": "delete",
 "target": {"type": "order", "id": "o-7"}, "customer": {"name": "Ann"},
 "kubernetes": {"pod_name": "shop-1", "labels": {"app": "shop"}}, "auth": {}}`); got != want {
		t.Errorf("first step: %s\nwant %s", got, want)
	}
	second.Process(context.Background(), []*event.Event{ev})
	if got, want := string(ev.AppendJSON(nil)), canon(t, `{"timestamp": "2024-03-05T12:00:00Z", "actor": "ann", "action": "delete",
 "target": {"type": "order", "id": "o-7"}, "kubernetes": {"pod_name": "shop-1", "labels": {"app": "shop"}}}`); got != want {
		t.Errorf("second step: %s\nwant %s", got, want)
	}
}
