package obfuscate

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	"gopkg.in/yaml.v3"
)

func newEvent(t testing.TB, js string) *event.Event {
	t.Helper()
	m, err := event.DecodeJSONObject([]byte(js))
	if err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return event.New(event.KindLog, time.Unix(0, 0), m)
}

func newProcessor(t testing.TB, opts string) pipelines.Processor {
	t.Helper()
	p, _, err := pipelinestest.Processor("obfuscate", opts)
	if err != nil {
		t.Fatalf("config %q: %v", opts, err)
	}
	return p
}

func fieldsJSON(ev *event.Event) string { return string(ev.AppendJSON(nil)) }

func run(t *testing.T, opts, in string) *event.Event {
	t.Helper()
	p := newProcessor(t, opts)
	ev := newEvent(t, in)
	out := p.Process(context.Background(), []*event.Event{ev})
	if len(out) != 1 || out[0] != ev {
		t.Fatalf("got %d events, want the input event back", len(out))
	}
	return ev
}

// sha is Data Prepper's construction, computed here independently:
// Base64(SHA-512(salt || value)).
func sha(salt, value string) string {
	s := sha512.Sum512([]byte(salt + value))
	return base64.StdEncoding.EncodeToString(s[:])
}

func TestObfuscate(t *testing.T) {
	tests := []struct {
		name, opts, in, want string
	}{
		// Data Prepper's documented example (both processors)
		{"doc example, pattern with target", `{source: log, target: new_log, patterns: ['[A-Za-z0-9+_.-]+@([\w-]+\.)+[\w-]{2,4}'], action: {mask: {mask_character: "#", mask_character_length: 6}}}`,
			`{"id":1,"log":"My name is Bob and my email address is abc@example.com"}`,
			`{"id":1,"log":"My name is Bob and my email address is abc@example.com","new_log":"My name is Bob and my email address is ######"}`},
		{"doc example, whole field with defaults", `source: phone`,
			`{"id":1,"phone":"(555) 555 5555"}`, `{"id":1,"phone":"***"}`},

		// each predefined pattern
		{"EMAIL_ADDRESS", `{source: m, patterns: ["%{EMAIL_ADDRESS}"]}`,
			`{"m":"mail abc_123@test.mail.com.org or a-b@test-test.com"}`, `{"m":"mail *** or ***"}`},
		{"IP_ADDRESS_V4", `{source: m, patterns: ["%{IP_ADDRESS_V4}"]}`,
			`{"m":"from 192.168.1.1 to 255.255.255.0"}`, `{"m":"from *** to ***"}`},
		{"BASE_NUMBER", `{source: m, patterns: ["%{BASE_NUMBER}"]}`,
			`{"m":"took 1.1 or .1 of 2000 ms"}`, `{"m":"took *** or *** of *** ms"}`},
		{"CREDIT_CARD_NUMBER", `{source: m, patterns: ["%{CREDIT_CARD_NUMBER}"]}`,
			`{"m":"cards 5555555555554444, 1234 5678 9012 3456 and 1234-5678-9012-3456"}`, `{"m":"cards ***, *** and ***"}`},
		// The optional [\s-]? of Data Prepper's regular expression takes the
		// space before "(555)", as it does in Java.
		{"US_PHONE_NUMBER", `{source: m, patterns: ["%{US_PHONE_NUMBER}"]}`,
			`{"m":"call (555) 555 5555, 1-555-555-5555 or +1-555-555-5555"}`, `{"m":"call***, *** or ***"}`},
		{"US_SSN_NUMBER", `{source: m, patterns: ["%{US_SSN_NUMBER}"]}`,
			`{"m":"ssn 123-11-1234 ok"}`, `{"m":"ssn *** ok"}`},
		{"several patterns apply in turn", `{source: m, patterns: ["%{EMAIL_ADDRESS}", "%{US_SSN_NUMBER}"], action: {mask: {mask_character: "!"}}}`,
			`{"m":"a@b.com 123-11-1234"}`, `{"m":"!!! !!!"}`},

		// single_word_only
		{"without single_word_only", `{source: m, patterns: [test]}`,
			`{"m":"testing a test"}`, `{"m":"***ing a ***"}`},
		{"single_word_only", `{source: m, patterns: [test], single_word_only: true}`,
			`{"m":"testing a test"}`, `{"m":"testing a ***"}`},

		// target vs in place
		{"in place", `{source: /user/email}`,
			`{"user":{"email":"a@b.co"}}`, `{"user":{"email":"***"}}`},
		{"target leaves source", `{source: /user/email, target: /masked/email}`,
			`{"user":{"email":"a@b.co"}}`, `{"masked":{"email":"***"},"user":{"email":"a@b.co"}}`},
		{"target written even without a match", `{source: m, target: t, patterns: [x]}`,
			`{"m":"abc"}`, `{"m":"abc","t":"abc"}`},

		// obfuscate_when
		{"obfuscate_when true", `{source: m, obfuscate_when: '/env == "prod"'}`,
			`{"m":"x","env":"prod"}`, `{"env":"prod","m":"***"}`},
		{"obfuscate_when false", `{source: m, obfuscate_when: '/env == "prod"'}`,
			`{"m":"x","env":"dev"}`, `{"env":"dev","m":"x"}`},

		// values
		{"missing source", `source: m`, `{"a":1}`, `{"a":1}`},
		{"number source becomes text", `{source: n, patterns: ['\d{2}$']}`, `{"n":12345}`, `{"n":"123***"}`},
		{"object source is left alone", `source: m`, `{"m":{"a":"b"}}`, `{"m":{"a":"b"}}`},
		{"null source is left alone", `source: m`, `{"m":null}`, `{"m":null}`},
		{"empty string is masked whole", `source: m`, `{"m":""}`, `{"m":"***"}`},

		// hash
		{"hash whole value", `{source: m, action: {hash: {salt: "AAAAAAAAAAAAAAAA"}}}`,
			`{"m":"Hello"}`, `{"m":"` + sha("AAAAAAAAAAAAAAAA", "Hello") + `"}`},
		{"hash matches", `{source: m, patterns: ["%{EMAIL_ADDRESS}"], action: {hash: {salt: s}}}`,
			`{"m":"to a@b.com and c@d.org"}`, `{"m":"to ` + sha("s", "a@b.com") + ` and ` + sha("s", "c@d.org") + `"}`},
		{"hash SHA-256", `{source: m, action: {hash: {salt: s, format: SHA-256}}}`,
			`{"m":"Hello"}`, `{"m":"` + sha256b64("sHello") + `"}`},
		{"hash with defaults in the action", `{source: m, action: {mask: }}`,
			`{"m":"Hello"}`, `{"m":"***"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := run(t, tc.opts, tc.in)
			want := fieldsJSON(newEvent(t, tc.want))
			if got := fieldsJSON(ev); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func sha256b64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestDataPrepperVectors uses the expected values of Data Prepper's own
// OneWayHashActionTest, so the construction (salt first, SHA-512, standard
// Base64, Java's regex semantics for the patterns) is the same.
func TestDataPrepperVectors(t *testing.T) {
	email := `[A-Za-z0-9+_.-]+@([\\w-]+\\.)+[\\w-]`
	tests := []struct {
		name, opts, in, want string
	}{
		{"no pattern", `{source: m, action: {hash: {salt: AAAAAAAAAAAAAAAA}}}`, "Hello",
			"2NYZBaQ9nySumhHENpiKatKJhU3jqHC8jJ4DZC612RPGvkzPK1K12DskOI8Cn3qeOMSCTNIWErcGZr8JV4i9HQ=="},
		{"no pattern 2", `{source: m, action: {hash: {salt: DDDDDDDDDDDDDDDD}}}`, "H",
			"XR6utNkOp9te4+0vaRE0+ky/Zyw/gok1sI8qR/stZqFPoU733KwFcur36FCTUZd+i/UpyyJ9L/W6ObwPIf7iuw=="},
		{"pattern", `{source: m, patterns: [test], action: {hash: {salt: AAAAAAAAAAAAAAAA}}}`, "testing this functionality",
			"ILsULwmg32tiEQGqeX1rpWI9PGZXSX2Q9tRzXCD0cD/OKMMEBEXKYZhnXj1Xr9q+Dxa11iOmuXd+hx4ZTUaBCg==ing this functionality"},
		{"email pattern", `{source: m, patterns: ["` + email + `"], action: {hash: {salt: DDDDDDDDDDDDDDDD}}}`,
			"My name is Bob and my email address is abc@example.com as of now and xyz@example.org in the future",
			"My name is Bob and my email address is DdijIn6L3Cs4+PCYwCy+3bzLZ7w228quoodeI+VDlyMeFe+uZ/Ec1x/DK7MHSmZm8N5SZrINhvGgyig7aEBflg==om as of now and XQGlFjysVX1lkTFoRVCY+QEOfOf6nCoaRy5lxGAHyaFRgMGDpq93PwgZd18DZ3ZfWFRCwgPDGaExJDuRa0kkEQ==rg in the future"},
		{"two patterns in turn", `{source: m, patterns: [test, this], action: {hash: {salt: BBBBBBBBBBBBBBBB}}}`, "test this functionality",
			"QT4wuvJSvgrxa/27gf4cZ1jzeNyiOnDxsY0oS7SsC/eVpBNyhj2I8Rh6/wCsvqRyzAvVoksTKOuRzSFUm6vAQw== LAD8UPdf/1cMoKY7Py17uRFNA+OEpVpa9lulTW8wEhsfQsDf/FvBIYxt/YO04sBI8CA1WY+i4elM5nY0xh13Lw== functionality"},
		{"salt_key missing falls back to salt", `{source: m, patterns: [test], action: {hash: {salt: CCCCCCCCCCCCCCCC, salt_key: id}}}`, "another test of this functionality",
			"another H9YrqOIlLtaoSCkNR2M0go3npf118KbsHFemyvJUX4+zt8FvjoiReq/0pk5va5i+7eX6XTOMwNokUUl4r+PTHw== of this functionality"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := event.New(event.KindLog, time.Unix(0, 0), map[string]any{"m": tc.in})
			newProcessor(t, tc.opts).Process(context.Background(), []*event.Event{ev})
			if got := ev.Fields()["m"]; got != tc.want {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
	// salt_key found: the event's value, padded to 64 bytes with 0x80,
	// replaces the salt (Data Prepper's vector: salt_key value "12345").
	ev := event.New(event.KindLog, time.Unix(0, 0), map[string]any{"m": "testing this functionality", "id": "12345"})
	newProcessor(t, `{source: m, patterns: [test], action: {hash: {salt: AAAAAAAAAAAAAAAA, salt_key: id}}}`).
		Process(context.Background(), []*event.Event{ev})
	want := "8g+p3Td+ClA+PttgNrZ8Qsg+tIc9/46TwNDtLeM6lQILI8jcQzPz0bOUM4IrbTlqgHYuOD8r6j6EElj4E6dZLw==ing this functionality"
	if got := ev.Fields()["m"]; got != want {
		t.Errorf("salt_key: got %v\nwant %v", got, want)
	}
	// and a salt_key value of a number is its text
	ev = event.New(event.KindLog, time.Unix(0, 0), map[string]any{"m": "test", "id": int64(12345)})
	newProcessor(t, `{source: m, action: {hash: {salt_key: id}}}`).Process(context.Background(), []*event.Event{ev})
	if got := ev.Fields()["m"]; got != "8g+p3Td+ClA+PttgNrZ8Qsg+tIc9/46TwNDtLeM6lQILI8jcQzPz0bOUM4IrbTlqgHYuOD8r6j6EElj4E6dZLw==" {
		t.Errorf("numeric salt_key: %v", got)
	}
}

// Without a salt the hash is salted at random per processor, as in Data
// Prepper: stable within an instance, different between instances.
func TestRandomSalt(t *testing.T) {
	a := newProcessor(t, `{source: m, action: {hash: }}`)
	b := newProcessor(t, `{source: m, action: {hash: }}`)
	get := func(p pipelines.Processor) string {
		ev := event.New(event.KindLog, time.Unix(0, 0), map[string]any{"m": "x"})
		p.Process(context.Background(), []*event.Event{ev})
		return ev.Fields()["m"].(string)
	}
	if get(a) != get(a) {
		t.Error("same instance, different hashes")
	}
	if get(a) == get(b) {
		t.Error("two instances without salt hash alike")
	}
	if len(get(a)) != 88 {
		t.Errorf("SHA-512 Base64 length %d", len(get(a)))
	}
}

func TestTagsOnMatchFailure(t *testing.T) {
	p := newProcessor(t, `{source: m, patterns: ["%{US_SSN_NUMBER}"], tags_on_match_failure: [no_ssn, unmasked]}`)
	hit := newEvent(t, `{"m":"ssn 123-11-1234"}`)
	miss := newEvent(t, `{"m":"nothing here"}`)
	missing := newEvent(t, `{"x":1}`)
	p.Process(context.Background(), []*event.Event{hit, miss, missing})
	if len(hit.Tags()) != 0 {
		t.Errorf("matched event tagged %v", hit.Tags())
	}
	if !reflect.DeepEqual(miss.Tags(), []string{"no_ssn", "unmasked"}) {
		t.Errorf("unmatched event tags %v", miss.Tags())
	}
	if len(missing.Tags()) != 0 {
		t.Errorf("event without the source tagged %v", missing.Tags())
	}
}

func TestClonesUnaffected(t *testing.T) {
	p := newProcessor(t, `{source: m, patterns: [secret]}`)
	ev := newEvent(t, `{"m":"a secret"}`)
	clone := ev.Clone()
	p.Process(context.Background(), []*event.Event{ev})
	if got := fieldsJSON(clone); got != `{"m":"a secret"}` {
		t.Errorf("clone changed: %s", got)
	}
	if got := fieldsJSON(ev); got != `{"m":"a ***"}` {
		t.Errorf("event: %s", got)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"missing source", `{}`, []string{`option "source": required option is missing`}},
		{"root source", `source: /`, []string{`option "source": must name a field`}},
		{"unknown predefined pattern", `{source: m, patterns: ["%{EMAIL}"]}`,
			[]string{`test.yaml:1:24: `, `option "patterns[0]": unknown predefined pattern "%{EMAIL}"`, `%{EMAIL_ADDRESS}`}},
		{"bad regex", "source: m\npatterns:\n  - ok\n  - \"(?=x)\"\n", []string{`test.yaml:4:5: `, `option "patterns[1]": invalid pattern`}},
		{"action as a scalar", `{source: m, action: hash}`,
			[]string{`option "action": expected a mapping with one action, mask or hash`}},
		{"unknown action", `{source: m, action: {hsh: {salt: x}}}`,
			[]string{`test.yaml:1:22: `, `option "action.hsh": unknown action "hsh"`, `did you mean "hash"?`}},
		{"two actions", `{source: m, action: {mask: , hash: }}`, []string{`option "action": give one action`}},
		{"no action", `{source: m, action: {}}`, []string{`option "action": names no action`}},
		{"unknown mask option", "source: m\naction:\n  mask:\n    mask_char: \"#\"\n",
			[]string{`test.yaml:4:5: `, `option "action.mask.mask_char"`, `did you mean "mask_character"?`}},
		{"bad mask character", `{source: m, action: {mask: {mask_character: "x"}}}`,
			[]string{`option "action.mask.mask_character": "x" is not one of`}},
		{"mask length too long", `{source: m, action: {mask: {mask_character_length: 11}}}`,
			[]string{`option "action.mask.mask_character_length": 11 is above the maximum 10`}},
		{"mask length too short", `{source: m, action: {mask: {mask_character_length: 0}}}`,
			[]string{`option "action.mask.mask_character_length": 0 is below the minimum 1`}},
		{"bad format", `{source: m, action: {hash: {format: MD5}}}`,
			[]string{`option "action.hash.format": "MD5" is not one of SHA-512, SHA-256`}},
		{"bad condition", `{source: m, obfuscate_when: "=="}`, []string{`option "obfuscate_when"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "obfuscate", tc.opts)
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

// The salt is a secret: the decoder records its node for redaction, and
// Describe never shows it.
func TestSaltIsSecret(t *testing.T) {
	f, _ := pipelines.Lookup(pipelines.KindProcessor, "obfuscate")
	cfg := f.NewConfig()
	node, err := config.ParseNode([]byte("source: m\naction:\n  hash:\n    salt: s3cr3t-salt\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := &config.Decoder{File: "test.yaml", Secrets: map[*yaml.Node]bool{}}
	if !d.Decode(node, cfg) {
		t.Fatal(d.Errs)
	}
	if got := cfg.(*Config).Action; got.Name != ActionHash || got.Hash.Salt != "s3cr3t-salt" || got.Hash.Format != "SHA-512" {
		t.Errorf("decoded action %+v", got)
	}
	found := false
	for n := range d.Secrets {
		if n.Value == "s3cr3t-salt" {
			found = true
		}
	}
	if !found {
		t.Error("the salt is not recorded as a secret")
	}
	for _, o := range config.Describe(cfg) {
		if strings.Contains(o.Default, "s3cr3t") {
			t.Errorf("option %s shows the salt", o.Name)
		}
	}
}

// TestReadmeListsEveryOption keeps README.md's option tables in step with
// the config structs: the processor's options (the shared check) and the
// action's options in their own section.
func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "obfuscate", "README.md")
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	in := false
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "## ") {
			in = line == "## Action options"
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		rows[cells[0]] = cells
	}
	def := DefaultAction()
	var opts []config.OptionDoc
	for _, o := range config.Describe(&def.Mask) {
		o.Name = "action.mask." + o.Name
		opts = append(opts, o)
	}
	for _, o := range config.Describe(&def.Hash) {
		o.Name = "action.hash." + o.Name
		opts = append(opts, o)
	}
	if len(rows) != len(opts) {
		t.Errorf("README lists %d action options, the code has %d", len(rows), len(opts))
	}
	for _, o := range opts {
		row, ok := rows[o.Name]
		if !ok || len(row) < 4 {
			t.Errorf("README does not list option %s", o.Name)
			continue
		}
		if row[1] != o.Type {
			t.Errorf("README type of %s is %q, code says %q", o.Name, row[1], o.Type)
		}
		if d := strings.Trim(row[2], "—"); d != o.Default {
			t.Errorf("README default of %s is %q, code says %q", o.Name, d, o.Default)
		}
	}
}

func BenchmarkObfuscate(b *testing.B) {
	line := "2025-11-23T08:00:00.005Z WARN payment declined for gwen.miller@example.com card 4111 1111 1111 1111 from 10.0.4.17 ssn 078-05-1120"
	for _, bc := range []struct{ name, opts string }{
		{"MaskEmail", `{source: m, patterns: ["%{EMAIL_ADDRESS}"]}`},
		{"HashEmail", `{source: m, patterns: ["%{EMAIL_ADDRESS}"], action: {hash: {salt: s}}}`},
		{"MaskWhole", `{source: m}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := newProcessor(b, bc.opts)
			evs := make([]*event.Event, 256)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				for k := range evs {
					evs[k] = event.New(event.KindLog, time.Unix(0, 0), map[string]any{"m": line})
				}
				b.StartTimer()
				p.Process(context.Background(), evs)
			}
			b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
