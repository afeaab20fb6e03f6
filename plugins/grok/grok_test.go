package grok

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

const fixture = "../../../shared/fixtures/apache-common.log"

func newProcessor(t testing.TB, opts string) pipelines.Processor {
	t.Helper()
	p, _, err := pipelinestest.Processor("grok", opts)
	if err != nil {
		t.Fatalf("config %q: %v", opts, err)
	}
	return p
}

func run(t testing.TB, p pipelines.Processor, fields map[string]any) *event.Event {
	t.Helper()
	ev := event.New(event.KindLog, time.Unix(0, 0), fields)
	out := p.Process(context.Background(), []*event.Event{ev})
	if len(out) != 1 || out[0] != ev {
		t.Fatalf("got %d events back, want the input event", len(out))
	}
	return ev
}

func check(t *testing.T, ev *event.Event, want map[string]any, wantTags ...string) {
	t.Helper()
	if got := ev.Fields(); !reflect.DeepEqual(got, want) {
		t.Errorf("fields\n got  %#v\n want %#v", got, want)
	}
	if got := ev.Tags(); len(got) != len(wantTags) || len(got) > 0 && !reflect.DeepEqual(got, wantTags) {
		t.Errorf("tags %v, want %v", got, wantTags)
	}
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// splitCommon takes a common log format line apart by hand:
// host ident auth [time] "verb path HTTP/version" status bytes.
func splitCommon(t *testing.T, line string) map[string]any {
	t.Helper()
	f := strings.SplitN(line, " ", 4)
	if len(f) != 4 {
		t.Fatalf("not a common log line: %q", line)
	}
	rest := f[3]
	open, closing := strings.IndexByte(rest, '['), strings.IndexByte(rest, ']')
	ts := rest[open+1 : closing]
	rest = rest[closing+2:]
	endQuote := strings.LastIndexByte(rest, '"')
	request := strings.Split(rest[1:endQuote], " ")
	tail := strings.Fields(rest[endQuote+1:])
	want := map[string]any{
		"clientip": f[0], "ident": f[1], "auth": f[2], "timestamp": ts,
		"verb": request[0], "request": request[1], "httpversion": strings.TrimPrefix(request[2], "HTTP/"),
		"response": tail[0],
	}
	if tail[1] != "-" {
		want["bytes"] = tail[1]
	}
	return want
}

// The reference log pipeline's grok: every fixture line parsed into the
// fields a hand-written split gives.
func TestApacheCommonFixture(t *testing.T) {
	p := newProcessor(t, `match: {log: ["%{COMMONAPACHELOG}"]}`)
	lines := readLines(t, fixture)
	if len(lines) == 0 {
		t.Fatal("empty fixture")
	}
	for _, line := range lines {
		want := splitCommon(t, line)
		want["log"] = line
		check(t, run(t, p, map[string]any{"log": line}), want)
	}
}

func TestCommonLogForms(t *testing.T) {
	p := newProcessor(t, `match: {message: ["%{COMMONAPACHELOG}"]}`)
	for _, tc := range []struct {
		line string
		want map[string]any
	}{
		{`2001:db8::8a2e:370:7334 - - [23/Nov/2025:08:00:01 +0000] "POST /checkout HTTP/1.1" 503 -`,
			map[string]any{"clientip": "2001:db8::8a2e:370:7334", "ident": "-", "auth": "-", "timestamp": "23/Nov/2025:08:00:01 +0000",
				"verb": "POST", "request": "/checkout", "httpversion": "1.1", "response": "503"}},
		{`web-1.example.com jane@example.com bob [01/Jan/2024:00:00:00 +0100] "GET /x?y=1" 200 5`,
			map[string]any{"clientip": "web-1.example.com", "ident": "jane@example.com", "auth": "bob", "timestamp": "01/Jan/2024:00:00:00 +0100",
				"verb": "GET", "request": "/x?y=1", "response": "200", "bytes": "5"}},
		{`::1 - - [01/Jan/2024:00:00:00 +0000] "-" 408 0`,
			map[string]any{"clientip": "::1", "ident": "-", "auth": "-", "timestamp": "01/Jan/2024:00:00:00 +0000",
				"rawrequest": "-", "response": "408", "bytes": "0"}},
		// Not at the start of the line: found further on.
		{`Nov 23 08:00:01 host httpd: 10.0.0.1 - - [23/Nov/2025:08:00:01 +0000] "GET / HTTP/2.0" 200 1`,
			map[string]any{"clientip": "10.0.0.1", "ident": "-", "auth": "-", "timestamp": "23/Nov/2025:08:00:01 +0000",
				"verb": "GET", "request": "/", "httpversion": "2.0", "response": "200", "bytes": "1"}},
	} {
		tc.want["message"] = tc.line
		check(t, run(t, p, map[string]any{"message": tc.line}), tc.want)
	}
}

func TestCombinedApacheLog(t *testing.T) {
	p := newProcessor(t, `match: {message: ["%{COMBINEDAPACHELOG}"]}`)
	line := `10.1.2.3 - - [23/Nov/2025:08:00:03 +0000] "GET /a HTTP/1.1" 200 12 "https://shop.example/" "Mozilla/5.0 (X11; Linux x86_64)"`
	check(t, run(t, p, map[string]any{"message": line}), map[string]any{
		"message": line, "clientip": "10.1.2.3", "ident": "-", "auth": "-", "timestamp": "23/Nov/2025:08:00:03 +0000",
		"verb": "GET", "request": "/a", "httpversion": "1.1", "response": "200", "bytes": "12",
		// Quotes are removed, as java-grok (Data Prepper) does.
		"referrer": "https://shop.example/", "agent": "Mozilla/5.0 (X11; Linux x86_64)",
	})
	// An agent with escaped quotes inside keeps its outer quotes (java-grok
	// removes them only when no other quote is inside).
	line = `10.1.2.3 - - [23/Nov/2025:08:00:03 +0000] "GET /a HTTP/1.1" 200 12 "-" "bot \"x\" 1.0"`
	ev := run(t, p, map[string]any{"message": line})
	if got := ev.Fields()["agent"]; got != `"bot \"x\" 1.0"` {
		t.Errorf("agent %q", got)
	}
	if got := ev.Fields()["referrer"]; got != "-" {
		t.Errorf("referrer %q", got)
	}
}

func TestTypeConversion(t *testing.T) {
	p := newProcessor(t, `match: {message: ['%{NUMBER:status:int} %{NUMBER:size:long} %{NUMBER:secs:float} %{NUMBER:ratio:double} %{WORD:ok:boolean} %{WORD:no:bool} %{NUMBER:s:string} %{INT:small:short}']}`)
	check(t, run(t, p, map[string]any{"message": "200 5000000000 0.25 -1.5 TRUE no 7 -3"}), map[string]any{
		"message": "200 5000000000 0.25 -1.5 TRUE no 7 -3",
		"status":  int64(200), "size": int64(5000000000), "secs": 0.25, "ratio": -1.5, "ok": true, "no": false, "s": "7", "small": int64(-3),
	})
	// A value that does not convert stays a string, with the reason beside it.
	p = newProcessor(t, `match: {message: ['%{NOTSPACE:n:int} %{NUMBER:big:int}']}`)
	ev := run(t, p, map[string]any{"message": "abc 3000000000"})
	f := ev.Fields()
	if f["n"] != "abc" || f["big"] != "3000000000" {
		t.Errorf("unconverted values %#v", f)
	}
	if s, _ := f["n_grokfailure"].(string); !strings.Contains(s, `"abc" to int`) {
		t.Errorf("n_grokfailure %#v", f["n_grokfailure"])
	}
	if _, ok := f["big_grokfailure"]; !ok {
		t.Errorf("out of 32-bit range must fail like Java's Integer: %#v", f)
	}
	if len(ev.Tags()) != 0 {
		t.Errorf("a conversion failure is not a match failure: %v", ev.Tags())
	}
}

func TestBreakOnMatch(t *testing.T) {
	const opts = `match: {message: ["%{WORD:first} %{WORD:second}", "%{WORD:word}", "%{INT:first}"]}`
	line := "alpha beta"
	check(t, run(t, newProcessor(t, opts), map[string]any{"message": line}),
		map[string]any{"message": line, "first": "alpha", "second": "beta"})
	// Without break_on_match every pattern runs; a name captured again
	// becomes a list.
	p := newProcessor(t, `{break_on_match: false, match: {message: ["%{WORD:first} %{WORD:second}", "%{WORD:word}", "%{WORD:first}"]}}`)
	check(t, run(t, p, map[string]any{"message": line}),
		map[string]any{"message": line, "first": []any{"alpha", "alpha"}, "second": "beta", "word": "alpha"})
	// A pattern that matches nothing is skipped; the next one is tried.
	check(t, run(t, newProcessor(t, opts), map[string]any{"message": "42"}),
		map[string]any{"message": "42", "word": "42"})
}

func TestSeveralFields(t *testing.T) {
	// Fields are tried in the order given; break_on_match stops at the
	// first that captured something.
	opts := `match: {level: ["%{LOGLEVEL:lvl}"], message: ["%{GREEDYDATA:text}"]}`
	check(t, run(t, newProcessor(t, opts), map[string]any{"level": "WARN", "message": "m"}),
		map[string]any{"level": "WARN", "message": "m", "lvl": "WARN"})
	check(t, run(t, newProcessor(t, opts), map[string]any{"level": "?", "message": "m"}),
		map[string]any{"level": "?", "message": "m", "text": "m"})
	// A missing, empty or non-string field is skipped.
	check(t, run(t, newProcessor(t, opts), map[string]any{"level": int64(3), "message": "m"}),
		map[string]any{"level": int64(3), "message": "m", "text": "m"})
	check(t, run(t, newProcessor(t, opts), map[string]any{"level": ""}),
		map[string]any{"level": ""}, "_grokparsefailure")
	// Nested source fields.
	check(t, run(t, newProcessor(t, `match: {/k8s/log: ["%{INT:n:int}"]}`), map[string]any{"k8s": map[string]any{"log": "x 7"}}),
		map[string]any{"k8s": map[string]any{"log": "x 7"}, "n": int64(7)})
}

func TestPatternDefinitionsAndFiles(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "pets.grok"), []byte("# pets\nDOG beagle|chihuahua|retriever\nCAT persian|siamese\n\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "other.txt"), []byte("DOG poodle\n"), 0o644))
	opts := `{patterns_directories: [` + dir + `], patterns_files_glob: "*.grok",
		pattern_definitions: {PET: '%{DOG:dog}|%{CAT:cat}', ORDER: 'ORD-%{INT:order:int}'},
		match: {message: ['%{ORDER} %{PET}']}}`
	p := newProcessor(t, opts)
	check(t, run(t, p, map[string]any{"message": "ORD-42 siamese"}),
		map[string]any{"message": "ORD-42 siamese", "order": int64(42), "cat": "siamese"})
	check(t, run(t, p, map[string]any{"message": "ORD-1 poodle"}),
		map[string]any{"message": "ORD-1 poodle"}, "_grokparsefailure")
	// The glob selects the other file too; {a,b} alternatives work.
	p = newProcessor(t, `{patterns_directories: [`+dir+`], patterns_files_glob: "*.{txt,none}", match: {message: ['%{DOG:dog}']}}`)
	check(t, run(t, p, map[string]any{"message": "a poodle"}), map[string]any{"message": "a poodle", "dog": "poodle"})
	// An inline definition.
	p = newProcessor(t, `match: {message: ['%{ID:id=[A-Z][A-Z][A-Z][0-9]+} %{ID:other}']}`)
	check(t, run(t, p, map[string]any{"message": "ABC123 XYZ9"}), map[string]any{"message": "ABC123 XYZ9", "id": "ABC123", "other": "XYZ9"})
}

func TestFailureTags(t *testing.T) {
	line := "no apache here"
	check(t, run(t, newProcessor(t, `match: {message: ["%{COMMONAPACHELOG}"]}`), map[string]any{"message": line}),
		map[string]any{"message": line}, "_grokparsefailure")
	check(t, run(t, newProcessor(t, `{tags_on_match_failure: [bad, grok], match: {message: ["%{COMMONAPACHELOG}"]}}`), map[string]any{"message": line}),
		map[string]any{"message": line}, "bad", "grok")
	check(t, run(t, newProcessor(t, `{tags_on_match_failure: [], match: {message: ["%{COMMONAPACHELOG}"]}}`), map[string]any{"message": line}),
		map[string]any{"message": line})
	// As in Data Prepper: a missing source, and a match that captures
	// nothing, are failures too.
	check(t, run(t, newProcessor(t, `match: {message: ["%{WORD}"]}`), map[string]any{"message": line}),
		map[string]any{"message": line}, "_grokparsefailure")
	check(t, run(t, newProcessor(t, `match: {message: ["%{WORD:w}"]}`), map[string]any{"other": 1}),
		map[string]any{"other": 1}, "_grokparsefailure")
}

func TestWhen(t *testing.T) {
	p := newProcessor(t, `{grok_when: '/type == "access"', match: {message: ["%{WORD:w}"]}}`)
	check(t, run(t, p, map[string]any{"type": "access", "message": "hi"}), map[string]any{"type": "access", "message": "hi", "w": "hi"})
	check(t, run(t, p, map[string]any{"type": "app", "message": "hi"}), map[string]any{"type": "app", "message": "hi"})
}

func TestTargetKeyAndNestedNames(t *testing.T) {
	p := newProcessor(t, `{target_key: parsed, match: {message: ["%{WORD:[http][verb]} %{NOTSPACE:url/path} %{INT:code.value:int}"]}}`)
	check(t, run(t, p, map[string]any{"message": "GET /x 200"}), map[string]any{"message": "GET /x 200",
		"parsed": map[string]any{"http": map[string]any{"verb": "GET"}, "url": map[string]any{"path": "/x"}, "code.value": int64(200)}})
	// Data Prepper writes the (empty) target even when nothing matched.
	check(t, run(t, p, map[string]any{"message": "?"}), map[string]any{"message": "?", "parsed": map[string]any{}}, "_grokparsefailure")
	p = newProcessor(t, `match: {message: ["%{WORD:[http][verb]} %{NOTSPACE:url/path}"]}`)
	check(t, run(t, p, map[string]any{"message": "GET /x", "http": map[string]any{"v": "2"}}), map[string]any{"message": "GET /x",
		"http": map[string]any{"v": "2", "verb": "GET"}, "url": map[string]any{"path": "/x"}})
}

func TestExistingFieldsAndOverwrite(t *testing.T) {
	// An existing field becomes a list of the old and the captured value
	// (Data Prepper's merge), unless keys_to_overwrite names it.
	p := newProcessor(t, `match: {message: ["%{WORD:level}: %{GREEDYDATA:message}"]}`)
	check(t, run(t, p, map[string]any{"message": "ERROR: disk full", "level": []any{"x"}}), map[string]any{
		"message": []any{"ERROR: disk full", "disk full"}, "level": []any{"x", "ERROR"}})
	p = newProcessor(t, `{keys_to_overwrite: [message], match: {message: ["%{WORD:level}: %{GREEDYDATA:message}"]}}`)
	check(t, run(t, p, map[string]any{"message": "ERROR: disk full"}), map[string]any{"message": "disk full", "level": "ERROR"})
}

func TestEmptyAndUnnamedCaptures(t *testing.T) {
	// bytes "-" leaves the bytes group out of the match: dropped, or null
	// with keep_empty_captures. An empty capture that took part stays "".
	line := `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 304 -`
	ev := run(t, newProcessor(t, `match: {m: ["%{COMMONAPACHELOG}"]}`), map[string]any{"m": line})
	if _, ok := ev.Fields()["bytes"]; ok {
		t.Error("bytes present")
	}
	ev = run(t, newProcessor(t, `{keep_empty_captures: true, match: {m: ["%{COMMONAPACHELOG}"]}}`), map[string]any{"m": line})
	if v, ok := ev.Fields()["bytes"]; !ok || v != nil {
		t.Errorf("bytes %v %v", v, ok)
	}
	if v, ok := ev.Fields()["rawrequest"]; !ok || v != nil {
		t.Errorf("rawrequest %v %v", v, ok)
	}
	check(t, run(t, newProcessor(t, `match: {m: ["a%{DATA:d}b"]}`), map[string]any{"m": "ab"}), map[string]any{"m": "ab", "d": ""})
	// named_captures_only: false also captures %{NAME} under its name,
	// nested ones included; names captured twice become lists.
	p := newProcessor(t, `{named_captures_only: false, match: {m: ["%{IPORHOST} %{HTTPDATE:ts}"]}}`)
	ev = run(t, p, map[string]any{"m": "host.example 10/Oct/2000:13:55:36 -0700"})
	f := ev.Fields()
	for k, v := range map[string]any{"IPORHOST": "host.example", "HOSTNAME": "host.example", "ts": "10/Oct/2000:13:55:36 -0700",
		"MONTHDAY": "10", "MONTH": "Oct", "YEAR": "2000", "TIME": "13:55:36", "HOUR": "13", "MINUTE": "55", "SECOND": "36", "INT": "-0700"} {
		if !reflect.DeepEqual(f[k], v) {
			t.Errorf("%s = %#v, want %#v", k, f[k], v)
		}
	}
	if _, ok := f["IPV4"]; ok {
		t.Error("IPV4 did not take part and must be dropped")
	}
}

// patternCase: the whole input must match (^…$ around the pattern) and
// give want, or not match when want is "".
type patternCase struct{ in, want string }

func checkPattern(t *testing.T, lib *Library, name string, cases []patternCase) {
	t.Helper()
	p, err := lib.Compile(`^%{`+name+`:v}$`, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		v, loc := p.match(c.in)
		got := ""
		if v != nil {
			got = c.in[loc[2]:loc[3]]
		}
		if got != c.want {
			t.Errorf("%s on %q: got %q, want %q", name, c.in, got, c.want)
		}
	}
}

func TestPatternSet(t *testing.T) {
	lib, err := NewLibrary(nil, nil, "*")
	if err != nil {
		t.Fatal(err)
	}
	same := func(ins ...string) []patternCase {
		var cs []patternCase
		for _, in := range ins {
			cs = append(cs, patternCase{in, in})
		}
		return cs
	}
	none := func(ins ...string) []patternCase {
		var cs []patternCase
		for _, in := range ins {
			cs = append(cs, patternCase{in, ""})
		}
		return cs
	}
	tests := map[string][]patternCase{
		"TIMESTAMP_ISO8601": append(same("2024-05-14T09:21:07.123456789Z", "2024-05-14 09:21:07", "2024-05-14T09:21:07+02:00",
			"2024-05-14T09:21:07-0700", "2024-5-1T9:21", "2024-05-14T0921", "2024-05-14T09:21:07,5Z"),
			none("2024-13-14T09:21:07Z", "2024-05-14", "14/05/2024 09:21:07")...),
		"LOGLEVEL": append(same("INFO", "info", "Info", "information", "WARN", "warning", "Warning", "ERROR", "err", "Error",
			"DEBUG", "debug", "TRACE", "FATAL", "fatal", "CRIT", "critical", "SEVERE", "NOTICE", "Alert", "EMERG", "emergency"),
			none("INF0", "WARNINGS", "iNFO", "")...),
		"IPV4": append(same("127.0.0.1", "10.0.4.17", "255.255.255.255", "0.0.0.0", "01.002.3.4"), none("256.1.1.1", "1.2.3", "1.2.3.4.5", "a.b.c.d")...),
		"IP":   same("10.0.0.1", "::1", "fe80::1%eth0", "2001:db8::ff00:42:8329"),
		"QUOTEDSTRING": append(same(`"hello"`, `""`, `"a \"quoted\" word"`, `'it\'s'`, "`back`", `"tab\tand \\ backslash"`, `''`),
			none(`"unterminated`, `"a"b"`, `'mixed"`, `"ends with \"`)...),
		"UUID":             append(same("0f8fad5b-d9cb-469f-a165-70867728950e"), none("0f8fad5b-d9cb-469f-a165")...),
		"MAC":              same("00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e"),
		"HOSTNAME":         append(same("example.com", "web-1", "a.b.c.", "xn--bcher-kva.example"), none("-bad.com", "under_score")...),
		"IPORHOST":         same("10.1.2.3", "2001:db8::1", "api.example.com"),
		"HOSTPORT":         same("api.example.com:8443", "10.0.0.1:80"),
		"EMAILADDRESS":     same("jane.doe+tag@example.co.uk"),
		"USERNAME":         same("john_doe-1.x"),
		"INT":              append(same("42", "-7", "+3"), none("4.2", "")...),
		"NUMBER":           append(same("42", "-7.25", ".5", "+3.0"), none("1e5", "1.", "abc")...),
		"BASE16NUM":        same("0x1F", "-ff", "DEADbeef"),
		"POSINT":           append(same("1", "4096"), none("0", "-1")...),
		"NONNEGINT":        same("0", "17"),
		"WORD":             append(same("hello_world", "abc123"), none("two words", "dash-ed")...),
		"NOTSPACE":         same("a/b?c=d", "x"),
		"SPACE":            same("", "  \t"),
		"GREEDYDATA":       same("anything at all", ""),
		"DATA":             same("x y z"),
		"UNIXPATH":         same("/var/log/app.log", "/a/b/c/"),
		"PATH":             same("/etc/hosts", `C:\Windows\system32`),
		"URIPROTO":         same("https", "svn+ssh"),
		"URIHOST":          same("example.com:8080", "example.com"),
		"URIPATH":          same("/a/b.html", "/"),
		"URIPARAM":         same("?a=1&b=2", "?"),
		"URIPATHPARAM":     same("/search?q=grok&page=2"),
		"URI":              same("https://user:pw@example.com:8443/a/b?c=d#frag", "ftp://example.com/file.txt", "http://10.0.0.1/"),
		"MONTH":            append(same("Jan", "January", "Sep", "September", "Okt", "Mär", "Dez", "mar"), none("Janu", "Foo")...),
		"MONTHNUM":         append(same("1", "01", "12"), none("13", "00")...),
		"MONTHDAY":         append(same("1", "09", "31"), none("32", "00")...),
		"DAY":              same("Mon", "Tuesday", "Sun"),
		"YEAR":             append(same("2024", "24"), none("202", "20245")...),
		"HOUR":             append(same("0", "09", "23"), none("24")...),
		"MINUTE":           append(same("00", "59"), none("60", "5")...),
		"SECOND":           same("00", "59", "60", "07.123", "07,5"),
		"TIME":             append(same("13:55:36", "1:02:03", "23:59:60.5"), none("13:55", "24:00:00")...),
		"DATE_US":          same("11/23/2025", "1-2-25"),
		"DATE_EU":          same("23.11.2025", "23/11/2025"),
		"ISO8601_TIMEZONE": append(same("Z", "+02:00", "-0700"), none("+05")...),
		"DATESTAMP":        same("11/23/2025 08:00:01", "23.11.2025-08:00:01"),
		"TZ":               append(same("UTC", "PST", "EDT", "CST"), none("GMT")...),
		"HTTPDATE":         same("10/Oct/2000:13:55:36 -0700", "23/Nov/2025:08:00:01 +0000"),
		"SYSLOGTIMESTAMP":  same("Nov 23 08:00:01", "Nov  3 08:00:01"),
		"JAVACLASS":        same("com.example.shop.OrderService", "Main", "a.b$Inner"),
		"JAVASTACKTRACEPART": same("\tat com.example.OrderService.place(OrderService.java:42)", "    at java.lang.Thread.run(Thread.java)",
			"\tat com.example.Foo.<init>(Foo.java:7)"),
	}
	for name, cases := range tests {
		t.Run(name, func(t *testing.T) { checkPattern(t, lib, name, cases) })
	}
}

// Every string net/netip accepts as IPv6 (with or without a zone) is an
// IPV6, and what it rejects is not; the address forms come from RFC 4291.
func TestIPV6AgreesWithNetip(t *testing.T) {
	lib, _ := NewLibrary(nil, nil, "*")
	p, err := lib.Compile(`^%{IPV6:ip}$`, true)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{
		"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1::8", "1:2::8", "1:2:3:4:5:6::8", "1::3:4:5:6:7:8", "::2:3:4:5:6:7:8",
		"1:2:3:4:5:6:7::", "2001:db8::ff00:42:8329", "2001:0db8:0000:0000:0000:ff00:0042:8329", "fe80::1%eth0",
		"::ffff:192.168.1.1", "::192.168.1.1", "64:ff9b::192.0.2.33", "1:2:3:4:5:6:1.2.3.4", "1::5:6:1.2.3.4", "FE80::ABCD",
		// invalid
		"1:2:3:4:5:6:7:8:9", "1:::2", "1::2::3", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "12345::", "g::1", "1:2:3:4:5:6:7",
		"::ffff:256.1.1.1", "1:2:3:4:5:6:7:1.2.3.4", "", ":", "1", "1.2.3.4", "::1.2.3", "1::2:3:4:5:6:7:8",
	}
	for _, in := range inputs {
		a, err := netip.ParseAddr(in)
		valid := err == nil && a.Is6()
		v, _ := p.match(in)
		if (v != nil) != valid {
			t.Errorf("%q: grok IPV6 %v, netip %v", in, v != nil, valid)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"unknown pattern with suggestion and position", "match:\n  log:\n    - \"%{COMMONAPACHLOG}\"",
			[]string{`test.yaml:3:7:`, `option "match.log[0]"`, `unknown grok pattern "COMMONAPACHLOG"`, `did you mean "COMMONAPACHELOG"?`}},
		{"unknown pattern in a definition", `{pattern_definitions: {MINE: '%{IPV4:a} %{WROD}'}, match: {m: ['%{MINE}']}}`,
			[]string{`unknown grok pattern "WROD"`, `did you mean "WORD"?`}},
		{"match missing", `break_on_match: false`, []string{`option "match": required option is missing`}},
		{"match not a mapping", `match: ["%{WORD}"]`, []string{`option "match": expected a mapping`}},
		{"no patterns", `match: {m: []}`, []string{`option "match.m": needs at least one pattern`}},
		{"unknown option", `{mach: {m: ['%{WORD}']}}`, []string{`unknown option "mach"`, `did you mean "match"?`}},
		{"bad type", `match: {m: ['%{INT:n:integr}']}`, []string{`unknown type "integr"`}},
		{"date type", `match: {m: ['%{INT:n:date}']}`, []string{`parse dates with the date processor`}},
		{"lookahead", `match: {m: ['(?=x)%{WORD:w}']}`, []string{`lookaround`, `RE2`}},
		{"backreference", `match: {m: ['(a)\1']}`, []string{`backreferences`}},
		{"bad regex", `match: {m: ['%{WORD:w}[']}`, []string{`invalid regular expression`, `missing closing ]`}},
		{"self reference", `{pattern_definitions: {A: 'x%{B}', B: '%{A}'}, match: {m: ['%{A}']}}`, []string{`refers to itself`}},
		{"missing directory", `{patterns_directories: [/nonexistent/dir], match: {m: ['%{WORD:w}']}}`, []string{`option "patterns_directories"`, `no such file`}},
		{"bad pattern name", `{pattern_definitions: {"A B": 'x'}, match: {m: ['%{WORD:w}']}}`, []string{`option "pattern_definitions"`}},
		{"negative timeout", `{timeout_millis: -1, match: {m: ['%{WORD:w}']}}`, []string{`below the minimum 0`}},
		{"unterminated reference", `match: {m: ['%{WORD']}`, []string{`unterminated reference`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "grok", tc.opts)
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

// Java and Oniguruma syntax that RE2 lacks is translated.
func TestJavaSyntax(t *testing.T) {
	p := newProcessor(t, `match: {m: ['(?<user>\w++)@(?>[a-z]+)\.com\h(?<n>\d{2}+)\Z']}`)
	check(t, run(t, p, map[string]any{"m": "jane@example.com 42"}), map[string]any{"m": "jane@example.com 42", "user": "jane", "n": "42"})
	check(t, run(t, p, map[string]any{"m": "jane@example.com 42 x"}), map[string]any{"m": "jane@example.com 42 x"}, "_grokparsefailure")
}

func TestTimeout(t *testing.T) {
	proc := newProcessor(t, `{timeout_millis: 10, tags_on_timeout: [slow], match: {m: ["%{INT:a}", "%{WORD:b}"], n: ["%{WORD:c}"]}, break_on_match: false}`).(*processor)
	clock := time.Unix(0, 0)
	proc.now = func() time.Time { clock = clock.Add(6 * time.Millisecond); return clock }
	ev := run(t, proc, map[string]any{"m": "x", "n": "y"})
	// The first pattern ran, the clock passed 10 ms before the third: the
	// event is left as it was, tagged.
	check(t, ev, map[string]any{"m": "x", "n": "y"}, "slow")
	// timeout_millis 0 means no budget.
	proc = newProcessor(t, `{timeout_millis: 0, match: {m: ["%{INT:a}", "%{WORD:b}"]}}`).(*processor)
	proc.now = func() time.Time { clock = clock.Add(time.Hour); return clock }
	check(t, run(t, proc, map[string]any{"m": "x"}), map[string]any{"m": "x", "b": "x"})
}

func TestPerformanceMetadata(t *testing.T) {
	p := newProcessor(t, `{performance_metadata: true, match: {m: ["%{INT:a}", "%{WORD:b}"]}}`)
	ev := run(t, p, map[string]any{"m": "x"})
	if n, _ := ev.Metadata(MetaPatternsAttempted); n != int64(2) {
		t.Errorf("patterns attempted %v", n)
	}
	if _, ok := ev.Metadata(MetaProcessingTime); !ok {
		t.Error("no processing time")
	}
	p.Process(context.Background(), []*event.Event{ev})
	if n, _ := ev.Metadata(MetaPatternsAttempted); n != int64(4) {
		t.Errorf("attempts must add up across grok processors: %v", n)
	}
}

func TestClonesUnaffected(t *testing.T) {
	p := newProcessor(t, `match: {message: ["%{WORD:level}: %{GREEDYDATA:message}"]}`)
	ev := event.New(event.KindLog, time.Time{}, map[string]any{"message": "ERROR: x", "level": []any{"a"}})
	clone := ev.Clone()
	p.Process(context.Background(), []*event.Event{ev})
	if got := clone.Fields(); !reflect.DeepEqual(got, map[string]any{"message": "ERROR: x", "level": []any{"a"}}) {
		t.Errorf("clone changed: %v", got)
	}
}

// Workers share one processor.
func TestConcurrentUse(t *testing.T) {
	p := newProcessor(t, `{break_on_match: false, match: {message: ["%{COMMONAPACHELOG}", "%{IP:ip}"]}}`)
	lines := readLines(t, fixture)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				batch := make([]*event.Event, len(lines))
				for j, l := range lines {
					batch[j] = event.New(event.KindLog, time.Time{}, map[string]any{"message": l})
				}
				for j, ev := range p.Process(context.Background(), batch) {
					if ev.Fields()["clientip"] != strings.Fields(lines[j])[0] {
						t.Errorf("line %d: %v", j, ev.Fields())
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// Splitting a pattern into variants must not change what it matches: the
// same captures as the single regular expression, on lines that match at
// the start, further on, or not at all.
func TestSplitMatchesLikeOneRegexp(t *testing.T) {
	lib, _ := NewLibrary(nil, nil, "*")
	lines := append(readLines(t, fixture),
		`2001:db8::1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`,
		`prefix ::ffff:10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`,
		`fe80::1%eth0 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"`,
		`host.example.com - u [01/Jan/2024:00:00:00 +0000] "-" 200 -`,
		`1:2 3 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 1`,
		`no match at all`, ``, `1.2.3.4`, `::`, `a:b:c::d e`,
	)
	for _, src := range []string{"%{COMMONAPACHELOG}", "%{COMBINEDAPACHELOG}", "%{IPORHOST:h} %{WORD:w}", "%{IP:ip}", "%{HOSTPORT:hp}", "%{URI:u}"} {
		split, err := lib.Compile(src, true)
		if err != nil {
			t.Fatal(err)
		}
		one, err := lib.compile(src, true, false)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(src, "APACHE") && len(split.variants) < 2 {
			t.Errorf("%s was not split (%d variants)", src, len(split.variants))
		}
		for _, line := range lines {
			a, b, c := captures(split, line), captures(one, line), rawCaptures(one, line)
			if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
				t.Errorf("%s on %q:\n split %v\n one   %v\n raw   %v", src, line, a, b, c)
			}
		}
	}
}

// captures returns the match's span and field → value, in group order.
func captures(p *Pattern, s string) []string {
	v, loc := p.match(s)
	return spans(p, v, loc, s)
}

// rawCaptures is captures straight from the single regular expression of
// an unsplit pattern, without the literal prefilter or the anchored pass.
func rawCaptures(p *Pattern, s string) []string {
	v := &p.variants[0]
	return spans(p, v, v.re.FindStringSubmatchIndex(s), s)
}

func spans(p *Pattern, v *variant, loc []int, s string) []string {
	if loc == nil {
		return nil
	}
	out := []string{s[loc[0]:loc[1]]}
	for i, fi := range v.groups {
		if fi >= 0 && loc[2*i+2] >= 0 {
			out = append(out, p.fields[fi].key+"="+s[loc[2*i+2]:loc[2*i+3]])
		}
	}
	return out
}

func TestDefaults(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "grok", `match: {log: ["%{COMMONAPACHELOG}"]}`)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if !c.BreakOnMatch || c.KeepEmptyCaptures || !c.NamedCapturesOnly || c.TimeoutMillis != 30000 || c.PatternsFilesGlob != "*" ||
		!reflect.DeepEqual(c.TagsOnMatchFailure, []string{"_grokparsefailure"}) || c.TargetKey != "" {
		t.Errorf("defaults %+v", c)
	}
	if len(c.Match.Entries) != 1 || c.Match.Entries[0].Key != "log" {
		t.Errorf("match %+v", c.Match)
	}
}

// Every built-in pattern compiles, and every name the README promises is
// there.
func TestBuiltinPatterns(t *testing.T) {
	lib, err := NewLibrary(nil, nil, "*")
	if err != nil {
		t.Fatal(err)
	}
	for name := range Builtin() {
		if _, err := lib.Compile("%{"+name+"}", false); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := regexp.MustCompile("`([A-Z][A-Z0-9_]+)`").FindAllStringSubmatch(string(readme), -1)
	defs := Builtin()
	for _, m := range listed {
		if _, ok := defs[m[1]]; !ok && !strings.HasPrefix(m[1], "_") {
			t.Errorf("README lists %s, which is not a built-in pattern", m[1])
		}
	}
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "grok", "README.md")
}
