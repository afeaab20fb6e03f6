package regex

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func newProcessor(t testing.TB, opts string) pipelines.Processor {
	t.Helper()
	p, _, err := pipelinestest.Processor("regex", opts)
	if err != nil {
		t.Fatalf("config %q: %v", opts, err)
	}
	return p
}

func TestRegex(t *testing.T) {
	// Fluent Bit's apache2 parser, as a weft regex.
	const apache = `^(?P<host>[^ ]*) [^ ]* (?P<user>[^ ]*) \[(?P<time>[^\]]*)\] "(?P<method>\S+)(?: +(?P<path>[^ ]*) +\S*)?" (?P<code>[^ ]*) (?P<size>[^ ]*)(?: "(?P<referer>[^\"]*)" "(?P<agent>[^\"]*)")?$`
	line := `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`
	tests := []struct {
		name, opts string
		in, want   map[string]any
		tags       []string
	}{
		{"fluent bit apache2", `{patterns: ['` + apache + `'], types: {code: int, size: integer}}`,
			map[string]any{"message": line},
			map[string]any{"message": line, "host": "127.0.0.1", "user": "frank", "time": "10/Oct/2000:13:55:36 -0700",
				"method": "GET", "path": "/apache_pb.gif", "code": int64(200), "size": int64(2326)}, nil},
		{"first matching pattern wins", `patterns: ['^(?P<a>\d+)$', '^(?<word>\w+)$', '(?P<any>.+)']`,
			map[string]any{"message": "hello"}, map[string]any{"message": "hello", "word": "hello"}, nil},
		{"unanchored", `patterns: ['level=(?P<level>\w+)']`,
			map[string]any{"message": "ts=1 level=warn msg=x"}, map[string]any{"message": "ts=1 level=warn msg=x", "level": "warn"}, nil},
		{"no match is tagged", `{patterns: ['^(?P<n>\d+)$'], tags_on_failure: [_regexparsefailure]}`,
			map[string]any{"message": "abc"}, map[string]any{"message": "abc"}, []string{"_regexparsefailure"}},
		{"not a string is a failure", `{patterns: ['(?P<n>\d+)'], tags_on_failure: [bad]}`,
			map[string]any{"message": int64(5)}, map[string]any{"message": int64(5)}, []string{"bad"}},
		{"missing source is not", `{patterns: ['(?P<n>\d+)'], tags_on_failure: [bad]}`,
			map[string]any{"other": "5"}, map[string]any{"other": "5"}, nil},
		{"source and target", `{source: /k8s/log, target_key: parsed, patterns: ['(?P<k>\w+)=(?P<v>\w+)']}`,
			map[string]any{"k8s": map[string]any{"log": "a=b"}, "parsed": map[string]any{"old": 1}},
			map[string]any{"k8s": map[string]any{"log": "a=b"}, "parsed": map[string]any{"old": 1, "k": "a", "v": "b"}}, nil},
		{"types", `{patterns: ['(?P<i>\S+) (?P<f>\S+) (?P<b>\S+) (?P<s>\S+) (?P<bad>\S+)'], types: {i: int, f: float, b: bool, s: string, bad: int}}`,
			map[string]any{"message": "-12 2.5 true 7 x1"}, map[string]any{"message": "-12 2.5 true 7 x1",
				"i": int64(-12), "f": 2.5, "b": true, "s": "7", "bad": "x1"}, nil},
		{"empty and absent groups", `patterns: ['(?P<a>x*)-(?P<b>y)?']`,
			map[string]any{"message": "-"}, map[string]any{"message": "-"}, nil},
		{"empty kept", `{skip_empty_values: false, patterns: ['(?P<a>x*)-(?P<b>y)?']}`,
			map[string]any{"message": "-"}, map[string]any{"message": "-", "a": ""}, nil},
		{"overwrites existing fields", `patterns: ['(?P<message>.+)!']`,
			map[string]any{"message": "hi!"}, map[string]any{"message": "hi"}, nil},
		{"regex_when", `{regex_when: '/kind == "a"', patterns: ['(?P<n>\d)']}`,
			map[string]any{"kind": "b", "message": "1"}, map[string]any{"kind": "b", "message": "1"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProcessor(t, tc.opts)
			ev := event.New(event.KindLog, time.Time{}, tc.in)
			out := p.Process(context.Background(), []*event.Event{ev})
			if len(out) != 1 || out[0] != ev {
				t.Fatalf("%d events back", len(out))
			}
			if got := ev.Fields(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
			if got := ev.Tags(); !reflect.DeepEqual(got, tc.tags) && (len(got) > 0 || len(tc.tags) > 0) {
				t.Errorf("tags %v, want %v", got, tc.tags)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`source: x`, `option "patterns": required option is missing`},
		{`patterns: ['(?P<a>x']`, `option "patterns[0]": invalid regular expression`},
		{`patterns: ['(x)']`, `option "patterns[0]": has no named group`},
		{`patterns: ['(?=x)(?P<a>y)']`, `invalid regular expression`},
		{`{patterns: ['(?P<code>x)'], types: {code: integr}}`, `did you mean "integer"?`},
		{`{patterns: ['(?P<code>x)'], types: {cdoe: int}}`, `option "types.cdoe": no pattern has a group named "cdoe"; did you mean "code"?`},
		{`{patterns: ['(?P<a>x)'], source: /}`, `option "source": must name a field`},
		{`{patterns: ['(?P<a>x)'], target: x}`, `unknown option "target"; did you mean "target_key"?`},
	} {
		_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "regex", tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	p := newProcessor(t, `{patterns: ['(?P<n>\d+)'], types: {n: int}}`)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				ev := event.New(event.KindLog, time.Time{}, map[string]any{"message": "n=42"})
				p.Process(context.Background(), []*event.Event{ev})
				if ev.Fields()["n"] != int64(42) {
					t.Error(ev.Fields())
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "regex", "README.md")
}

func BenchmarkRegex(b *testing.B) {
	const line = `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`
	p := newProcessor(b, `{patterns: ['^(?P<host>[^ ]*) [^ ]* (?P<user>[^ ]*) \[(?P<time>[^\]]*)\] "(?P<method>\S+)(?: +(?P<path>[^ ]*) +\S*)?" (?P<code>[^ ]*) (?P<size>[^ ]*)$'], types: {code: int, size: int}}`)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ev := event.New(event.KindLog, time.Time{}, map[string]any{"message": line})
		p.Process(context.Background(), []*event.Event{ev})
	}
}
