package grok

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

// FuzzGrok feeds arbitrary lines to COMMONAPACHELOG and a few other
// patterns: nothing may panic, the event always comes back encodable, a
// failed event is tagged and unchanged, and the split form of every pattern
// finds exactly what the single regular expression finds.
func FuzzGrok(f *testing.F) {
	for _, s := range readLines(f, fixture) {
		f.Add(s)
	}
	for _, s := range []string{
		``, ` `, `"`, `\`, `::`, `1:2:3:4:5:6:7:8 - - [1/Jan/2000:00:00:00 +0000] "GET / HTTP/1.1" 200 -`,
		`fe80::1%eth0 a b [10/Oct/2000:13:55:36 -0700] "\"" 200 1 "\"" "x"`,
		`2024-05-14T09:21:07.123Z ERROR [main] boom: "quoted \" thing"`, "\xff\xfe\x00", `a@b.c - - [`,
		`Nov 23 08:00:01 web-1 sshd[42]: Accepted publickey`,
	} {
		f.Add(s)
	}
	configs := []string{
		`match: {log: ["%{COMMONAPACHELOG}"]}`,
		`{break_on_match: false, keep_empty_captures: true, match: {log: ["%{COMBINEDAPACHELOG}", "%{IP:ip}", "%{QS:q}"]}}`,
		`{named_captures_only: false, target_key: t, match: {log: ["%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{GREEDYDATA:msg}", "%{SYSLOGBASE}"]}}`,
		`{keys_to_overwrite: [log], match: {log: ["%{NUMBER:n:int} %{NUMBER:f:float} %{WORD:b:boolean}", "%{GREEDYDATA:log}"]}}`,
	}
	procs := make([]pipelines.Processor, len(configs))
	for i, c := range configs {
		procs[i] = newProcessor(f, c)
	}
	lib, err := NewLibrary(nil, nil, "*")
	if err != nil {
		f.Fatal(err)
	}
	type pair struct{ split, one *Pattern }
	var pairs []pair
	for _, src := range []string{"%{COMMONAPACHELOG}", "%{COMBINEDAPACHELOG}", "%{IPORHOST:h} %{NOTSPACE:x}", "%{IP:ip}"} {
		s, err1 := lib.Compile(src, true)
		o, err2 := lib.compile(src, true, false)
		if err1 != nil || err2 != nil {
			f.Fatal(err1, err2)
		}
		pairs = append(pairs, pair{s, o})
	}
	f.Fuzz(func(t *testing.T, line string) {
		for i, p := range procs {
			ev := event.New(event.KindLog, time.Time{}, map[string]any{"log": line})
			out := p.Process(context.Background(), []*event.Event{ev})
			if len(out) != 1 || out[0] != ev {
				t.Fatalf("config %d: %d events back", i, len(out))
			}
			_ = ev.AppendJSON(nil)
			if ev.HasTag("_grokparsefailure") && i != 2 && !reflect.DeepEqual(ev.Fields(), map[string]any{"log": line}) {
				t.Fatalf("config %d: failed event changed: %v", i, ev.Fields())
			}
		}
		if len(line) > 2000 {
			return // the single expression runs on Go's slower NFA
		}
		for _, pr := range pairs {
			a, b, c := captures(pr.split, line), captures(pr.one, line), rawCaptures(pr.one, line)
			if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
				t.Fatalf("%s on %q:\n split %v\n one   %v\n raw   %v", pr.split.src, line, a, b, c)
			}
		}
	})
}

// FuzzCompile compiles arbitrary pattern text: it may fail, never panic,
// and what compiles can be matched.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"%{COMMONAPACHELOG}", "%{IP:ip} %{WORD:w:int}", "%{", "%{X", "%{WORD:a:b:c:d}", "%{NUMBER:n:float}", "(?<a>x)(?<a>y)",
		`(?>a|b)++\Z\h\R\u00e9`, `[[:alnum:]]{2}+`, `\Q%{WORD}\E`, `%{A=x%{A}}`, `%{WORD:[a][b]}`, `%{WORD:/}`, `%{WORD:[a][]}`,
		`(?=x)`, `\1`, `[`, `(?P<g0>x)%{INT:y}`, `%{WORD:w=\w+}`, `a{2,3}+b*+c?+`, "%{MONTH}|%{IPV6}",
	} {
		f.Add(s, true)
	}
	lib, err := NewLibrary(map[string]string{"A": "%{WORD}", "LOOP": "%{LOOP}"}, nil, "*")
	if err != nil {
		f.Fatal(err)
	}
	lines := []string{"", "a", "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326", "x y 42 z"}
	f.Fuzz(func(t *testing.T, src string, namedOnly bool) {
		p, err := lib.Compile(src, namedOnly)
		if err != nil {
			if !strings.Contains(err.Error(), "") {
				t.Fatal("empty error")
			}
			return
		}
		for _, l := range lines {
			if v, loc := p.match(l); v != nil {
				for i, fi := range v.groups {
					if fi >= len(p.fields) {
						t.Fatalf("group %d → field %d of %d", i, fi, len(p.fields))
					}
					if loc[2*i+2] > len(l) || loc[2*i+3] > len(l) {
						t.Fatal("submatch out of range")
					}
				}
			}
		}
	})
}
