package keyvalue

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
	p, _, err := pipelinestest.Processor("key_value", opts)
	if err != nil {
		t.Fatalf("config %q: %v", opts, err)
	}
	return p
}

func parse(t *testing.T, opts string, fields map[string]any) *event.Event {
	t.Helper()
	ev := event.New(event.KindLog, time.Time{}, fields)
	out := newProcessor(t, opts).Process(context.Background(), []*event.Event{ev})
	if len(out) != 1 || out[0] != ev {
		t.Fatalf("%d events back", len(out))
	}
	return ev
}

// The examples of Data Prepper's key_value documentation, option by
// option (where an example disagrees with what Data Prepper's code does,
// the code wins and the comment says so).
func TestDataPrepperExamples(t *testing.T) {
	tests := []struct {
		name, opts, in string
		want           map[string]any // parsed_message
	}{
		{"defaults", ``, "key1=value1&key2=value2", map[string]any{"key1": "value1", "key2": "value2"}},
		// The documentation writes "&\\{2\\}", which (in Java too) is a
		// literal "&{2}"; the repetition it means is &{2}.
		{"field_delimiter_regex", `field_delimiter_regex: '&{2}'`, "key1=value1&&key2=value2", map[string]any{"key1": "value1", "key2": "value2"}},
		{"field_split_characters", `field_split_characters: "&&"`, "key1=value1&&key2=value2", map[string]any{"key1": "value1", "key2": "value2"}},
		{"key_value_delimiter_regex", `key_value_delimiter_regex: "=+"`, "key1==value1", map[string]any{"key1": "value1"}},
		// The documentation says {"key1": "value1"}; the characters are
		// alternatives (= or =), so the value starts after the first one.
		{"value_split_characters", `value_split_characters: "=="`, "key1==value1=", map[string]any{"key1": "=value1="}},
		{"non_match_value", `non_match_value: "none"`, "key1value1&key2=value2", map[string]any{"key1value1": "none", "key2": "value2"}},
		{"non_match_value default null", ``, "key1value1&key2=value2", map[string]any{"key1value1": nil, "key2": "value2"}},
		{"prefix", `prefix: "query:"`, "key1=value1", map[string]any{"query:key1": "value1"}},
		{"delete_key_regex", `delete_key_regex: '\s'`, "key1 =value1", map[string]any{"key1": "value1"}},
		{"delete_value_regex", `delete_value_regex: '\s'`, "key1=value1 ", map[string]any{"key1": "value1"}},
		{"include_keys", `include_keys: [key2]`, "key1=value1&key2=value2", map[string]any{"key2": "value2"}},
		{"exclude_keys", `exclude_keys: [key2]`, "key1=value1&key2=value2", map[string]any{"key1": "value1"}},
		{"default_values", `default_values: {defaultkey: defaultvalue}`, "key1=value1", map[string]any{"key1": "value1", "defaultkey": "defaultvalue"}},
		{"default_values parsed wins", `default_values: {key1: other, n: 5}`, "key1=value1", map[string]any{"key1": "value1", "n": int64(5)}},
		{"default_values outside include_keys", `{include_keys: [key1], default_values: {d: x}}`, "key1=value1&key2=value2", map[string]any{"key1": "value1", "d": "x"}},
		{"transform_key lowercase", `transform_key: lowercase`, "Key1=value1", map[string]any{"key1": "value1"}},
		{"transform_key uppercase", `transform_key: uppercase`, "key1=value1", map[string]any{"KEY1": "value1"}},
		{"transform_key capitalize", `transform_key: capitalize`, "key1=value1", map[string]any{"Key1": "value1"}},
		{"whitespace lenient", `whitespace: lenient`, "key1  =  value1", map[string]any{"key1  ": "  value1"}},
		{"whitespace strict", `whitespace: strict`, "key1  =  value1", map[string]any{"key1": "value1"}},
		{"skip_duplicate_values false", ``, "key1=value1&key1=value1", map[string]any{"key1": []any{"value1", "value1"}}},
		{"skip_duplicate_values true", `skip_duplicate_values: true`, "key1=value1&key1=value1", map[string]any{"key1": "value1"}},
		{"remove_brackets", `remove_brackets: true`, "key1=(value1)", map[string]any{"key1": "value1"}},
		{"remove_brackets false", ``, "key1=(value1)", map[string]any{"key1": "(value1)"}},
		{"splitting wins over remove_brackets", `remove_brackets: true`, "key1=(value1&value2)", map[string]any{"key1": "value1", "value2)": nil}},
		{"value_grouping", `{value_grouping: true, field_split_characters: "&"}`, "key1=[a=b,c=d]&key2=value2", map[string]any{"key1": "[a=b,c=d]", "key2": "value2"}},
		{"drop_keys_with_no_value", `drop_keys_with_no_value: true`, "key1=value1&key2", map[string]any{"key1": "value1"}},
		{"normalize_keys", `normalize_keys: true`, "key%1=value1&key^2=value2&a.b-c_d@e/f[0]=3", map[string]any{"key_1": "value1", "key_2": "value2", "a.b-c_d@e/f[0]": "3"}},
		{"duplicates with non_match_value", ``, "key1=value1&key1=value2&key1", map[string]any{"key1": []any{"value1", "value2", nil}}},
		{"several field split characters", `field_split_characters: "&!"`, "key1=value1&key1=value2!key1", map[string]any{"key1": []any{"value1", "value2", nil}}},
		{"field_delimiter_regex :_*:", `field_delimiter_regex: ":_*:"`, "key1=value1:_____:key2=value2", map[string]any{"key1": "value1", "key2": "value2"}},
		{"key_value_delimiter_regex :+*:", `key_value_delimiter_regex: ':\+*:'`, "key1:++:value1&key2:+:value2", map[string]any{"key1": "value1", "key2": "value2"}},
		{"escaped regex character", `field_split_characters: '\|'`, "a=1|b=2", map[string]any{"a": "1", "b": "2"}},
		{"empty text", ``, "", map[string]any{}},
		{"empty pieces and keys", ``, "&&=x&a=&&", map[string]any{"a": ""}},
		{"unicode", `field_split_characters: "·"`, "ключ=значение·b=2", map[string]any{"ключ": "значение", "b": "2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := parse(t, tc.opts, map[string]any{"message": tc.in})
			want := map[string]any{"message": tc.in, "parsed_message": tc.want}
			if got := ev.Fields(); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %#v\nwant %#v", got, want)
			}
			if len(ev.Tags()) != 0 {
				t.Errorf("tags %v", ev.Tags())
			}
		})
	}
}

// Data Prepper's value_grouping test table (field_split_characters ", ",
// string_literal_character ", drop_keys_with_no_value).
func TestValueGrouping(t *testing.T) {
	tests := []struct {
		delims, in string
		want       map[string]any
	}{
		{", ", "key1=value1,key2=value2", map[string]any{"key1": "value1", "key2": "value2"}},
		{", ", "key1=value1 key2=value2", map[string]any{"key1": "value1", "key2": "value2"}},
		{", ", "key1=value1 ,key2=value2", map[string]any{"key1": "value1", "key2": "value2"}},
		{", ", "key1=value1, key2=value2", map[string]any{"key1": "value1", "key2": "value2"}},
		{", ", `key1=It\'sValue1, key2=value2`, map[string]any{"key1": `It\'sValue1`, "key2": "value2"}},
		{", ", "text1 text2 key1=value1, key2=value2 text3 text4", map[string]any{"key1": "value1", "key2": "value2"}},
		{", ", `text1 text2 foo key1=value1 url=http://foo.com?bar=text,text&foo=zoo bar k2="http://bar.com?a=b&c=foo bar" barr`,
			map[string]any{"key1": "value1", "url": "http://foo.com?bar=text,text&foo=zoo", "k2": `"http://bar.com?a=b&c=foo bar"`}},
		{", ", "vendorMessage=VendorMessage(uid=1847060493-1712778523223, feedValue=https://syosetu.org/novel/147705/15.html, bundleId=, linkType=URL, vendor=DOUBLEVERIFY, platform=DESKTOP, deviceTypeId=1, bidCount=6, appStoreTld=, feedSource=DSP, regions=[APAC], timestamp=1712778523223, externalId=)",
			map[string]any{"vendorMessage": "VendorMessage(uid=1847060493-1712778523223, feedValue=https://syosetu.org/novel/147705/15.html, bundleId=, linkType=URL, vendor=DOUBLEVERIFY, platform=DESKTOP, deviceTypeId=1, bidCount=6, appStoreTld=, feedSource=DSP, regions=[APAC], timestamp=1712778523223, externalId=)"}},
		{", ()", "foo bar(key1=value1, key2=value2, key3=)", map[string]any{"key1": "value1", "key2": "value2", "key3": ""}},
		{", ", "foo bar(key1=value1, key2=value2, key3=)", map[string]any{"bar(key1": "value1", "key2": "value2", "key3": ")"}},
		{", ", "foo bar[key1=value1, key2=value2, key3=]", map[string]any{"bar[key1": "value1", "key2": "value2", "key3": "]"}},
		{", ", "foo bar{key1=value1, key2=value2, key3=}", map[string]any{"bar{key1": "value1", "key2": "value2", "key3": "}"}},
		{", ", `key1 "key2=val2" key3="value3,value4"`, map[string]any{"key3": `"value3,value4"`}},
		{", ", "key1=[value1,value2], key3=value3", map[string]any{"key1": "[value1,value2]", "key3": "value3"}},
		{", ", "key1=(value1, value2), key3=value3", map[string]any{"key1": "(value1, value2)", "key3": "value3"}},
		{", ", "key1=<value1 ,value2>, key3=value3", map[string]any{"key1": "<value1 ,value2>", "key3": "value3"}},
		{", ", "key1={value1,value2}, key3=value3", map[string]any{"key1": "{value1,value2}", "key3": "value3"}},
		{", ", "key1='value1,value2', key3=value3", map[string]any{"key1": "'value1,value2'", "key3": "value3"}},
		{", ", "foo  key1=val1, key2=val2,key3=val3 bar", map[string]any{"key1": "val1", "key2": "val2", "key3": "val3"}},
		{", ", "foo,key1=(val1,key2=val2,val3),key4=val4 bar", map[string]any{"key1": "(val1,key2=val2,val3)", "key4": "val4"}},
		{", ", "foo,key1=(val1,key2=val2,val3,key4=val4 bar", map[string]any{"key1": "(val1,key2=val2,val3,key4=val4 bar"}},
		{", ", "foo,key1=[val1,key2=val2,val3],key4=val4 bar", map[string]any{"key1": "[val1,key2=val2,val3]", "key4": "val4"}},
		{", ", "foo,key1=[val1,key2=val2,val3,key4=val4 bar", map[string]any{"key1": "[val1,key2=val2,val3,key4=val4 bar"}},
		{", ", "foo,key1={val1,key2=val2,val3},key4=val4 bar", map[string]any{"key1": "{val1,key2=val2,val3}", "key4": "val4"}},
		{", ", "foo,key1=<val1,key2=val2,val3>,key4=val4 bar", map[string]any{"key1": "<val1,key2=val2,val3>", "key4": "val4"}},
		{", ", `foo,key1="val1,key2=val2,val3",key4=val4 bar`, map[string]any{"key1": `"val1,key2=val2,val3"`, "key4": "val4"}},
		{", ", `foo,key1="val1,key2=val2,val3,key4=val4 bar`, map[string]any{"key1": `"val1,key2=val2,val3,key4=val4 bar`}},
		{", ", "foo,key1='val1,key2=val2,val3',key4=val4 bar", map[string]any{"key1": "'val1,key2=val2,val3'", "key4": "val4"}},
		{", ", `foo "key1=key2 bar" key2=val2 baz`, map[string]any{"key2": "val2"}},
		{", ", "foo  key1=https://bar.baz/?key2=val2&url=https://quz.fred/ bar", map[string]any{"key1": "https://bar.baz/?key2=val2&url=https://quz.fred/"}},
		{", ", `foo key1="bar " qux" fred`, map[string]any{"key1": `"bar "`}},
		{", ", `foo key1="bar \" qux" fred`, map[string]any{"key1": `"bar \" qux"`}},
		{", ", `key1="value1,value2", key3=value3`, map[string]any{"key1": `"value1,value2"`, "key3": "value3"}},
		// A key after a URL keeps its first character (Data Prepper's
		// loop skips it).
		{" ", "u=http://a.b/c k=v", map[string]any{"u": "http://a.b/c", "k": "v"}},
	}
	for _, tc := range tests {
		opts := `{value_grouping: true, string_literal_character: '"', drop_keys_with_no_value: true, field_split_characters: "` + tc.delims + `"}`
		ev := parse(t, opts, map[string]any{"message": tc.in})
		if got := ev.Fields()["parsed_message"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got  %#v\n want %#v", tc.in, got, tc.want)
		}
	}
	// Without string literals, and into the root.
	ev := parse(t, `{destination: null, value_grouping: true, field_split_characters: " ,"}`, map[string]any{"message": "text1 text2 [ key1=value1  value2"})
	if got := ev.Fields()["key1"]; got != "value1" {
		t.Errorf("key1 %v (%v)", got, ev.Fields())
	}
	for _, q := range []string{`"`, `'`} {
		msg := q + "ignore this " + q + " key1=value1&key2=value2 " + q + "ignore=this&too" + q
		ev := parse(t, `{destination: null, value_grouping: true, drop_keys_with_no_value: true, field_split_characters: " &", string_literal_character: "`+strings.ReplaceAll(q, `"`, `\"`)+`"}`, map[string]any{"message": msg})
		want := map[string]any{"message": msg, "key1": "value1", "key2": "value2"}
		if got := ev.Fields(); !reflect.DeepEqual(got, want) {
			t.Errorf("literal %s: %v", q, got)
		}
	}
	// strict_grouping fails an unclosed group.
	ev = parse(t, `{value_grouping: true, strict_grouping: true, tags_on_failure: [kvfail], field_split_characters: ","}`, map[string]any{"message": "a=(1,2"})
	if !ev.HasTag("kvfail") || len(ev.Fields()) != 1 {
		t.Errorf("strict grouping: %v %v", ev.Tags(), ev.Fields())
	}
}

func TestRecursive(t *testing.T) {
	in := "item1=[item1-subitem1=item1-subitem1-value&item1-subitem2=(item1-subitem2-subitem2A=item1-subitem2-subitem2A-value&item1-subitem2-subitem2B=item1-subitem2-subitem2B-value)]&item2=item2-value"
	ev := parse(t, `recursive: true`, map[string]any{"message": in})
	want := map[string]any{
		"item1": map[string]any{
			"item1-subitem1": "item1-subitem1-value",
			"item1-subitem2": map[string]any{
				"item1-subitem2-subitem2A": "item1-subitem2-subitem2A-value",
				"item1-subitem2-subitem2B": "item1-subitem2-subitem2B-value",
			},
		},
		"item2": "item2-value",
	}
	if got := ev.Fields()["parsed_message"]; !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	// Options apply to the top-level keys only; pairs without a
	// delimiter, unclosed groups and blanks around = are handled.
	ev = parse(t, `{recursive: true, prefix: "p_", transform_key: uppercase}`, map[string]any{"message": "a = [b=1&c=<d=2>]& junk & e=(x & f=2"})
	want = map[string]any{"P_A": map[string]any{"b": "1", "c": map[string]any{"d": "2"}}}
	if got := ev.Fields()["parsed_message"]; !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestDestinations(t *testing.T) {
	// destination null writes to the root, overwriting unless told not to.
	ev := parse(t, `destination: null`, map[string]any{"message": "key1=value1&key2=value2", "key1": "old"})
	want := map[string]any{"message": "key1=value1&key2=value2", "key1": "value1", "key2": "value2"}
	if got := ev.Fields(); !reflect.DeepEqual(got, want) {
		t.Errorf("root: %v", got)
	}
	ev = parse(t, `{destination: null, overwrite_if_destination_exists: false}`, map[string]any{"message": "key1=value1&key2=value2", "key1": "old"})
	want = map[string]any{"message": "key1=value1&key2=value2", "key1": "old", "key2": "value2"}
	if got := ev.Fields(); !reflect.DeepEqual(got, want) {
		t.Errorf("root, no overwrite: %v", got)
	}
	ev = parse(t, `{overwrite_if_destination_exists: false}`, map[string]any{"message": "a=1", "parsed_message": "keep"})
	if got := ev.Fields()["parsed_message"]; got != "keep" {
		t.Errorf("destination overwritten: %v", got)
	}
	ev = parse(t, `{source: /k8s/msg, destination: /out/kv}`, map[string]any{"k8s": map[string]any{"msg": "a=1"}})
	if got := ev.Fields()["out"]; !reflect.DeepEqual(got, map[string]any{"kv": map[string]any{"a": "1"}}) {
		t.Errorf("nested: %v", got)
	}
	// A key with a slash stays one key.
	ev = parse(t, `destination: ""`, map[string]any{"message": "a/b=1"})
	if got := ev.Fields()["a/b"]; got != "1" {
		t.Errorf("slash key: %v", ev.Fields())
	}
}

func TestFailuresAndWhen(t *testing.T) {
	ev := parse(t, `tags_on_failure: [kvfail]`, map[string]any{"message": int64(5)})
	if !ev.HasTag("kvfail") || len(ev.Fields()) != 1 {
		t.Errorf("non-string source: %v %v", ev.Tags(), ev.Fields())
	}
	ev = parse(t, `tags_on_failure: [kvfail]`, map[string]any{"other": "a=1"})
	if len(ev.Tags()) != 0 || len(ev.Fields()) != 1 {
		t.Errorf("missing source: %v %v", ev.Tags(), ev.Fields())
	}
	ev = parse(t, `{tags_on_failure: [kvfail], destination: a/b}`, map[string]any{"message": "x=1", "a": "scalar"})
	if !ev.HasTag("kvfail") {
		t.Errorf("blocked destination: %v", ev.Fields())
	}
	ev = parse(t, `key_value_when: '/type == "kv"'`, map[string]any{"message": "x=1", "type": "other"})
	if _, ok := ev.Fields()["parsed_message"]; ok {
		t.Error("parsed despite key_value_when")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`{field_delimiter_regex: "&+", field_split_characters: ","}`, `option "field_delimiter_regex": cannot be used with field_split_characters`},
		{`{key_value_delimiter_regex: "=+", value_split_characters: ":"}`, `option "key_value_delimiter_regex": cannot be used with value_split_characters`},
		{`{field_delimiter_regex: "&+", value_grouping: true}`, `cannot be used with value_grouping`},
		{`field_delimiter_regex: "["`, `option "field_delimiter_regex": error parsing regexp`},
		{`delete_key_regex: "("`, `option "delete_key_regex"`},
		{`transform_key: lowercse`, `did you mean "lowercase"?`},
		{`whitespace: stric`, `did you mean "strict"?`},
		{`{include_keys: [a, b], exclude_keys: [b]}`, `"b" is also in include_keys`},
		{`{default_values: {a: 1}, exclude_keys: [a]}`, `a default key cannot be excluded`},
		{`{recursive: true, remove_brackets: true}`, `option "remove_brackets": cannot be used with recursive`},
		{`{recursive: true, field_split_characters: "&;"}`, `must be one character with recursive`},
		{`{recursive: true, field_delimiter_regex: '\('}`, `cannot be brackets`},
		{`string_literal_character: '"'`, `needs value_grouping`},
		{`{value_grouping: true, string_literal_character: x}`, `must be " or '`},
		{`source: /`, `option "source": must name a field`},
		{`sorce: m`, `did you mean "source"?`},
	} {
		_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "key_value", tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.opts, err, tc.want)
		}
	}
	// The error points at the option's line.
	_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "key_value", "source: m\ntransform_key: x\n")
	if err == nil || !strings.Contains(err.Error(), "test.yaml:2:16") {
		t.Errorf("position: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "key_value", ``)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if c.Source != "message" || c.Destination != "parsed_message" || c.FieldSplitCharacters != "&" || c.ValueSplitCharacters != "=" ||
		c.Whitespace != "lenient" || !c.OverwriteIfDestinationExists {
		t.Errorf("defaults %+v", c)
	}
}

func TestClonesUnaffected(t *testing.T) {
	p := newProcessor(t, `{destination: null, default_values: {d: [1]}}`)
	ev := event.New(event.KindLog, time.Time{}, map[string]any{"message": "a=1"})
	clone := ev.Clone()
	p.Process(context.Background(), []*event.Event{ev})
	ev.Fields()["d"].([]any)[0] = "changed"
	if got := clone.Fields(); !reflect.DeepEqual(got, map[string]any{"message": "a=1"}) {
		t.Errorf("clone changed: %v", got)
	}
	ev2 := event.New(event.KindLog, time.Time{}, map[string]any{"message": "a=1"})
	p.Process(context.Background(), []*event.Event{ev2})
	if got := ev2.Fields()["d"]; !reflect.DeepEqual(got, []any{int64(1)}) {
		t.Errorf("default value shared between events: %v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	p := newProcessor(t, `{value_grouping: true, field_split_characters: " "}`)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				ev := event.New(event.KindLog, time.Time{}, map[string]any{"message": `a=1 b="x y"`})
				p.Process(context.Background(), []*event.Event{ev})
				if !reflect.DeepEqual(ev.Fields()["parsed_message"], map[string]any{"a": "1", "b": `"x y"`}) {
					t.Error(ev.Fields())
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "key_value", "README.md")
}

func BenchmarkKeyValue(b *testing.B) {
	const line = "ts=2025-11-23T08:00:01Z level=info msg=placed order_id=42 user=jane total=12.50 currency=EUR latency_ms=12"
	p := newProcessor(b, `{field_split_characters: " ", destination: null}`)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ev := event.New(event.KindLog, time.Time{}, map[string]any{"message": line})
		p.Process(context.Background(), []*event.Event{ev})
	}
}
