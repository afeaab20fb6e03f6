package parsejson

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func newEvent(t testing.TB, js string) *event.Event { return pipelinestest.Event(t, js) }

func newProcessor(t testing.TB, opts string) pipelines.Processor {
	return pipelinestest.MustProcessor(t, "parse_json", opts)
}

func fieldsJSON(ev *event.Event) string { return string(ev.AppendJSON(nil)) }

func TestParseJSON(t *testing.T) {
	const failTags = `tags_on_failure: [_jsonparsefailure, bad]`
	tests := []struct {
		name     string
		opts     string
		in       string
		want     string
		wantTags []string
	}{
		{"merge into root", ``,
			`{"message":"{\"a\":1,\"b\":{\"c\":[1,2.5,true,null,\"x\"]}}"}`,
			`{"a":1,"b":{"c":[1,2.5,true,null,"x"]},"message":"{\"a\":1,\"b\":{\"c\":[1,2.5,true,null,\"x\"]}}"}`, nil},
		{"whitespace around the object", ``,
			`{"message":"  {\"a\":1}\n"}`, `{"a":1,"message":"  {\"a\":1}\n"}`, nil},
		{"existing keys overwritten by default", ``,
			`{"message":"{\"a\":1}","a":0}`, `{"a":1,"message":"{\"a\":1}"}`, nil},
		{"existing keys kept", `overwrite_if_destination_exists: false`,
			`{"message":"{\"a\":1,\"b\":2}","a":0}`, `{"a":0,"b":2,"message":"{\"a\":1,\"b\":2}"}`, nil},
		// More parsed keys than event keys takes the path that moves the
		// event's fields into the parsed map: the same rules must hold.
		{"many keys overwrite", ``,
			`{"message":"{\"a\":1,\"b\":2,\"c\":3,\"d\":4}","a":0}`, `{"a":1,"b":2,"c":3,"d":4,"message":"{\"a\":1,\"b\":2,\"c\":3,\"d\":4}"}`, nil},
		{"many keys kept", `overwrite_if_destination_exists: false`,
			`{"message":"{\"a\":1,\"b\":2,\"c\":3,\"d\":4}","a":0}`, `{"a":0,"b":2,"c":3,"d":4,"message":"{\"a\":1,\"b\":2,\"c\":3,\"d\":4}"}`, nil},
		{"delete_source", `delete_source: true`,
			`{"message":"{\"a\":1}","x":2}`, `{"a":1,"x":2}`, nil},
		{"delete_source keeps a parsed key of the same name", `delete_source: true`,
			`{"message":"{\"message\":\"inner\"}"}`, `{"message":"inner"}`, nil},
		{"nested source", `source: /log/raw`,
			`{"log":{"raw":"{\"a\":1}"}}`, `{"a":1,"log":{"raw":"{\"a\":1}"}}`, nil},
		{"nested source deleted", `{source: log/raw, delete_source: true}`,
			`{"log":{"raw":"{\"a\":1}","file":"f"}}`, `{"a":1,"log":{"file":"f"}}`, nil},
		{"destination", `destination: parsed`,
			`{"message":"{\"a\":1}"}`, `{"message":"{\"a\":1}","parsed":{"a":1}}`, nil},
		{"nested destination", `destination: /out/json`,
			`{"message":"{\"a\":1}"}`, `{"message":"{\"a\":1}","out":{"json":{"a":1}}}`, nil},
		{"destination exists, overwritten", `destination: p`,
			`{"message":"{\"a\":1}","p":"old"}`, `{"message":"{\"a\":1}","p":{"a":1}}`, nil},
		{"destination exists, kept", `{destination: p, overwrite_if_destination_exists: false}`,
			`{"message":"{\"a\":1}","p":"old"}`, `{"message":"{\"a\":1}","p":"old"}`, nil},
		{"destination with delete_source", `{destination: p, delete_source: true}`,
			`{"message":"{\"a\":1}"}`, `{"p":{"a":1}}`, nil},
		{"destination takes an array", `destination: p`,
			`{"message":"[1,{\"a\":2}]"}`, `{"message":"[1,{\"a\":2}]","p":[1,{"a":2}]}`, nil},
		{"destination takes a scalar", `destination: p`,
			`{"message":"42"}`, `{"message":"42","p":42}`, nil},
		{"destination blocked by a non-object", `{destination: s/p, ` + failTags + `}`,
			`{"message":"{}","s":"text"}`, `{"message":"{}","s":"text"}`, []string{"_jsonparsefailure", "bad"}},
		{"array at the root without destination fails", failTags,
			`{"message":"[1,2]"}`, `{"message":"[1,2]"}`, []string{"_jsonparsefailure", "bad"}},
		{"scalar at the root without destination fails", failTags,
			`{"message":"\"text\""}`, `{"message":"\"text\""}`, []string{"_jsonparsefailure", "bad"}},
		{"invalid JSON", failTags,
			`{"message":"{\"a\":"}`, `{"message":"{\"a\":"}`, []string{"_jsonparsefailure", "bad"}},
		{"plain text", failTags,
			`{"message":"GET /index.html 200"}`, `{"message":"GET /index.html 200"}`, []string{"_jsonparsefailure", "bad"}},
		{"trailing data", failTags,
			`{"message":"{}x"}`, `{"message":"{}x"}`, []string{"_jsonparsefailure", "bad"}},
		{"empty string", failTags,
			`{"message":""}`, `{"message":""}`, []string{"_jsonparsefailure", "bad"}},
		{"invalid JSON without tags_on_failure", ``,
			`{"message":"nope"}`, `{"message":"nope"}`, nil},
		{"invalid JSON is not deleted", `{delete_source: true, tags_on_failure: [f]}`,
			`{"message":"nope"}`, `{"message":"nope"}`, []string{"f"}},
		{"source not a string", failTags,
			`{"message":{"a":1}}`, `{"message":{"a":1}}`, []string{"_jsonparsefailure", "bad"}},
		{"missing source is not a failure", failTags,
			`{"other":"{}"}`, `{"other":"{}"}`, nil},
		{"null source is not a failure", failTags,
			`{"message":null}`, `{"message":null}`, nil},
		{"parse_when true", `parse_when: '/type == "json"'`,
			`{"type":"json","message":"{\"a\":1}"}`, `{"a":1,"message":"{\"a\":1}","type":"json"}`, nil},
		{"parse_when false", `{parse_when: '/type == "json"', tags_on_failure: [f]}`,
			`{"type":"text","message":"{\"a\":1}"}`, `{"message":"{\"a\":1}","type":"text"}`, nil},
		{"parse_when error counts as false", `parse_when: '/type > 1'`,
			`{"type":"json","message":"{\"a\":1}"}`, `{"message":"{\"a\":1}","type":"json"}`, nil},

		// pointer, following Data Prepper's README and code.
		{"pointer", `pointer: outer_key/inner_key`,
			`{"message":"{\"outer_key\":{\"inner_key\":\"inner_value\",\"x\":1}}"}`,
			`{"inner_key":"inner_value","message":"{\"outer_key\":{\"inner_key\":\"inner_value\",\"x\":1}}"}`, nil},
		{"pointer with slashes to an object", `pointer: /outer_key/`,
			`{"message":"{\"outer_key\":{\"a\":1}}"}`, `{"message":"{\"outer_key\":{\"a\":1}}","outer_key":{"a":1}}`, nil},
		{"pointer whose key exists uses the whole pointer", `pointer: outer_key/inner_key`,
			`{"inner_key":"mine","message":"{\"outer_key\":{\"inner_key\":\"v\"}}"}`,
			`{"inner_key":"mine","message":"{\"outer_key\":{\"inner_key\":\"v\"}}","outer_key.inner_key":"v"}`, nil},
		{"pointer ending in an array index", `pointer: a/list/1`,
			`{"message":"{\"a\":{\"list\":[\"x\",\"y\"]}}"}`, `{"list.1":"y","message":"{\"a\":{\"list\":[\"x\",\"y\"]}}"}`, nil},
		{"pointer matching nothing takes the whole JSON", `pointer: nope`,
			`{"message":"{\"a\":1}"}`, `{"a":1,"message":"{\"a\":1}"}`, nil},
		{"pointer with destination", `{pointer: a/b, destination: d}`,
			`{"message":"{\"a\":{\"b\":[1]}}"}`, `{"d":{"b":[1]},"message":"{\"a\":{\"b\":[1]}}"}`, nil},
		{"pointer with destination does not look at the root", `{pointer: a/b, destination: d}`,
			`{"b":0,"message":"{\"a\":{\"b\":1}}"}`, `{"b":0,"d":{"b":1},"message":"{\"a\":{\"b\":1}}"}`, nil},

		// depth
		{"depth 1", `depth: 1`,
			`{"message":"{\"a\":{\"b\":{\"c\":1}},\"l\":[{\"x\":1}],\"s\":1}"}`,
			`{"a":"{\"b\":{\"c\":1}}","l":[{"x":1}],"message":"{\"a\":{\"b\":{\"c\":1}},\"l\":[{\"x\":1}],\"s\":1}","s":1}`, nil},
		{"depth 2", `depth: 2`,
			`{"message":"{\"a\":{\"b\":{\"c\":1},\"d\":2}}"}`,
			`{"a":{"b":"{\"c\":1}","d":2},"message":"{\"a\":{\"b\":{\"c\":1},\"d\":2}}"}`, nil},
		{"depth beyond the JSON", `depth: 5`,
			`{"message":"{\"a\":{\"b\":1}}"}`, `{"a":{"b":1},"message":"{\"a\":{\"b\":1}}"}`, nil},
		{"depth with destination", `{depth: 1, destination: d}`,
			`{"message":"{\"a\":{\"b\":1}}"}`, `{"d":{"a":"{\"b\":1}"},"message":"{\"a\":{\"b\":1}}"}`, nil},
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
			if got := ev.Tags(); !reflect.DeepEqual(got, tc.wantTags) && (len(got) != 0 || len(tc.wantTags) != 0) {
				t.Errorf("tags %v, want %v", got, tc.wantTags)
			}
		})
	}
}

func TestTooDeep(t *testing.T) {
	p := newProcessor(t, `tags_on_failure: [deep]`)
	msg := strings.Repeat(`{"a":`, 600) + "1" + strings.Repeat("}", 600)
	ev := event.New(event.KindLog, time.Time{}, map[string]any{"message": msg})
	p.Process(context.Background(), []*event.Event{ev})
	if !ev.HasTag("deep") || len(ev.Fields()) != 1 {
		t.Errorf("tags %v, %d fields", ev.Tags(), len(ev.Fields()))
	}
}

// Parsing into an event that shares its fields with a fan-out clone must
// leave the clone as it was, now and after later changes.
func TestClonesUnaffected(t *testing.T) {
	for _, opts := range []string{``, `overwrite_if_destination_exists: false`, `destination: d`, `delete_source: true`} {
		p := newProcessor(t, opts)
		in := `{"k":{"x":1},"message":"{\"a\":1,\"b\":2,\"c\":3}"}`
		ev := newEvent(t, in)
		clone := ev.Clone()
		p.Process(context.Background(), []*event.Event{ev})
		ev.Fields()["k"].(map[string]any)["x"] = "changed"
		if got := fieldsJSON(clone); got != in {
			t.Errorf("%q: clone changed: %s", opts, got)
		}
	}
}

func TestFailureLogRateLimited(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		lines []int64 // failed_events of each warning
	}{
		{"skip", []int64{1, 4, 2}},
		{"skip_silently", nil},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s, _ := pipelinestest.Settings("test", "processor/0/parse_json")
			logger, hook := logtest.NewNullLogger()
			s.Logger = logrus.NewEntry(logger)
			c := NewConfig()
			c.HandleFailedEvents = tc.mode
			proc, err := New(s, c)
			if err != nil {
				t.Fatal(err)
			}
			p := proc.(*processor)
			clock := time.Unix(1000, 0)
			p.failures.Now = func() time.Time { return clock }
			bad := func(n int) {
				for i := 0; i < n; i++ {
					ev := event.New(event.KindLog, time.Time{}, map[string]any{"message": "not json"})
					p.Process(context.Background(), []*event.Event{ev})
				}
			}
			bad(1) // first failure: logged at once
			bad(2)
			clock = clock.Add(5 * time.Second)
			bad(1)
			clock = clock.Add(6 * time.Second) // 11s after the first line
			bad(1)                             // logged with the 3 before it
			bad(2)
			if err := p.Shutdown(context.Background()); err != nil { // reports the last 2
				t.Fatal(err)
			}
			var got []int64
			for _, e := range hook.AllEntries() {
				if e.Level != logrus.WarnLevel {
					t.Errorf("level %v", e.Level)
				}
				got = append(got, e.Data["failed_events"].(int64))
			}
			if !reflect.DeepEqual(got, tc.lines) {
				t.Errorf("warnings with counts %v, want %v", got, tc.lines)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"unknown option", `destinaton: x`,
			[]string{`unknown option "destinaton"`, `did you mean "destination"?`}},
		{"handle_failed_events drop is Data Prepper's error too", `handle_failed_events: drop`,
			[]string{`option "handle_failed_events": "drop" is not one of skip, skip_silently`}},
		{"handle_failed_events typo", `handle_failed_events: skip_silenty`,
			[]string{`did you mean "skip_silently"?`}},
		{"empty source", `source: ""`,
			[]string{`option "source": must name a field`}},
		{"root source", `source: /`,
			[]string{`option "source": must name a field`}},
		{"slash destination", `destination: /`,
			[]string{`option "destination": cannot be whitespace or /`}},
		{"blank destination", `destination: "  "`,
			[]string{`option "destination": cannot be whitespace or /`}},
		{"root pointer", `pointer: /`,
			[]string{`option "pointer": must point below the root`}},
		{"depth too large", `depth: 11`,
			[]string{`option "depth": 11 is above the maximum 10`}},
		{"depth negative", `depth: -1`,
			[]string{`option "depth": -1 is below the minimum 0`}},
		{"bad parse_when", `parse_when: "/a in"`,
			[]string{`option "parse_when"`}},
		{"tags not a list of strings", `tags_on_failure: [{a: 1}]`,
			[]string{`option "tags_on_failure[0]": expected a string`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "parse_json", tc.opts)
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

func TestDefaults(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "parse_json", ``)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{Source: "message", OverwriteIfDestinationExists: true, HandleFailedEvents: "skip"}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults %+v, want %+v", cfg, want)
	}
}

// TestReadmeListsEveryOption keeps README.md's option table in step with
// the config struct: same names, types and defaults.
func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "parse_json", "README.md")
}
