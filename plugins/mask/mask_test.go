package mask

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	"github.com/weft-agent/weft/plugins/mask/detect"
)

const (
	detectAll   = detect.All
	detectEmail = detect.Email
)

const testKey = "weft-test-key-0123456789"

// h is the expected hash: HMAC-SHA-256 under key, computed here with
// crypto/hmac independently of the processor.
func h(value string) string { return hk(testKey, value) }

func hk(key, value string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

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
	p, _, err := pipelinestest.Processor("mask", opts)
	if err != nil {
		t.Fatalf("config %q: %v", opts, err)
	}
	return p
}

func fieldsJSON(ev *event.Event) string { return string(ev.AppendJSON(nil)) }

func process(p pipelines.Processor, evs ...*event.Event) {
	p.Process(context.Background(), evs)
}

// TestPIISamples masks every line of the shared fixture with the default
// detectors and actions: identifiers hashed, secrets redacted, the
// Luhn-failing number and the Japanese text untouched.
func TestPIISamples(t *testing.T) {
	want := []struct{ in, out string }{
		{"contact gwen.miller@example.com about order 582936",
			"contact " + h("gwen.miller@example.com") + " about order 582936"},
		{"card 4111 1111 1111 1111 exp 12/27",
			"card " + h("4111 1111 1111 1111") + " exp 12/27"},
		{"card 4111-1111-1111-1112 fails the Luhn check and is not a card",
			"card 4111-1111-1111-1112 fails the Luhn check and is not a card"},
		{"ssn 078-05-1120 on file",
			"ssn " + h("078-05-1120") + " on file"},
		{"call (555) 555 5555 or +1-206-555-0142",
			"call " + h("(555) 555 5555") + " or " + h("+1-206-555-0142")},
		{"client 10.0.4.17 and 2001:db8::8a2e:370:7334",
			"client " + h("10.0.4.17") + " and " + h("2001:db8::8a2e:370:7334")},
		{"amqp://guest:guest@rabbitmq:5672",
			"amqp://guest:***@rabbitmq:5672"},
		{"amqps://username:password@hostname.mq.us-east-1.amazonaws.com:5671/",
			"amqps://username:***@hostname.mq.us-east-1.amazonaws.com:5671/"},
		{"X-API-Key: SuP3r5eCRetAutHK3y",
			"X-API-Key: ***"},
		{"connection-password=5up3r53cr3tPa55w0rd",
			"connection-password=***"},
		{"aws_access_key_id=AKIAIOSFODNN7EXAMPLE",
			"aws_access_key_id=***"},
		{"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl",
			"Authorization: Bearer ***"},
		{"Konnichiwa (こんにちは), from Service C!",
			"Konnichiwa (こんにちは), from Service C!"},
	}
	data, err := os.ReadFile("../../../shared/fixtures/pii-samples.txt")
	if err != nil {
		t.Fatalf("fixture (shared/ beside the repository): %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("fixture has %d lines, the table %d: update the table", len(lines), len(want))
	}
	p := newProcessor(t, `key: `+testKey)
	for i, line := range lines {
		if line != want[i].in {
			t.Fatalf("fixture line %d is %q, the table expects %q", i+1, line, want[i].in)
		}
		ev := event.New(event.KindLog, time.Unix(0, 0), map[string]any{"message": line})
		process(p, ev)
		if got := ev.Fields()["message"]; got != want[i].out {
			t.Errorf("line %d:\n got  %q\n want %q", i+1, got, want[i].out)
		}
	}
}

func TestHashJoinableAcrossInstances(t *testing.T) {
	a := newProcessor(t, `key: `+testKey)
	b := newProcessor(t, `key: `+testKey)
	c := newProcessor(t, `key: another-key-0123456789`)
	mk := func() *event.Event {
		return newEvent(t, `{"message":"login by gwen.miller@example.com","user":{"email":"gwen.miller@example.com"}}`)
	}
	ea, eb, ec := mk(), mk(), mk()
	process(a, ea)
	process(b, eb)
	process(c, ec)
	if fieldsJSON(ea) != fieldsJSON(eb) {
		t.Errorf("same key, different output:\n%s\n%s", fieldsJSON(ea), fieldsJSON(eb))
	}
	if fieldsJSON(ea) == fieldsJSON(ec) {
		t.Errorf("different keys, same output: %s", fieldsJSON(ea))
	}
	want := h("gwen.miller@example.com")
	if got := ea.Fields()["user"].(map[string]any)["email"]; got != want {
		t.Errorf("hash %v, want HMAC-SHA-256 %s", got, want)
	}
	if got := ec.Fields()["message"]; got != "login by "+hk("another-key-0123456789", "gwen.miller@example.com") {
		t.Errorf("other key: %v", got)
	}
	if len(want) != 64 || strings.ToLower(want) != want {
		t.Errorf("hash shape %q", want)
	}
}

func TestTraceFieldsNeverTouched(t *testing.T) {
	p := newProcessor(t, `{key: `+testKey+`, detector_actions: {ipv4: redact, ipv6: redact}}`)
	// IDs that a detector would match if they were scanned.
	in := `{"traceId":"10.0.0.1","spanId":"::1","parentSpanId":"192.168.0.1","traceGroup":"GET 10.0.0.1",` +
		`"message":"from 10.0.0.1","links":[{"traceId":"10.0.0.2","spanId":"10.0.0.3","note":"10.0.0.4"}],` +
		`"span":{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7"}}`
	ev := newEvent(t, in)
	process(p, ev)
	want := `{"links":[{"note":"***","spanId":"10.0.0.3","traceId":"10.0.0.2"}],"message":"from ***",` +
		`"parentSpanId":"192.168.0.1","span":{"spanId":"00f067aa0ba902b7","traceId":"4bf92f3577b34da6a3ce929d0e0e4736"},` +
		`"spanId":"::1","traceGroup":"GET 10.0.0.1","traceId":"10.0.0.1"}`
	if got := fieldsJSON(ev); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestRules(t *testing.T) {
	tests := []struct {
		name, opts, in, want string
	}{
		{"redact one field, detectors off", `{detectors: [], rules: [{path: /headers/authorization, action: redact}]}`,
			`{"headers":{"authorization":"Basic dXNlcjpwYXNz","accept":"*/*"},"msg":"a@b.co"}`,
			`{"headers":{"accept":"*/*","authorization":"***"},"msg":"a@b.co"}`},
		{"custom redact token", `{detectors: [], redact_token: "[REDACTED]", rules: [{path: password, action: redact}]}`,
			`{"password":"x"}`, `{"password":"[REDACTED]"}`},
		{"star: every direct child", `{detectors: [], rules: [{path: /customer/*, action: redact}]}`,
			`{"customer":{"name":"Gwen","email":"g@x.io","address":{"city":"Paris"}},"id":7}`,
			`{"customer":{"address":{"city":"***"},"email":"***","name":"***"},"id":7}`},
		{"star over a list", `{detectors: [], rules: [{path: /users/*/email, action: hash}], key: ` + testKey + `}`,
			`{"users":[{"email":"a@b.co","id":1},{"id":2},{"email":"c@d.co"}]}`,
			`{"users":[{"email":"` + h("a@b.co") + `","id":1},{"id":2},{"email":"` + h("c@d.co") + `"}]}`},
		{"double star: key at any depth", `{detectors: [], rules: [{path: /**/password, action: redact}]}`,
			`{"password":"a","db":{"password":"b","list":[{"password":"c"}],"passwords":"d"}}`,
			`{"db":{"list":[{"password":"***"}],"password":"***","passwords":"d"},"password":"***"}`},
		{"numeric segment addresses a list element", `{detectors: [], rules: [{path: /cards/1, action: partial}]}`,
			`{"cards":["4111111111111111","5555555555554444"]}`,
			`{"cards":["4111111111111111","************4444"]}`},
		{"partial keep_last", `{detectors: [], rules: [{path: card, action: partial, keep_last: 2}]}`,
			`{"card":"4111 1111"}`, `{"card":"*******11"}`},
		{"partial counts characters, not bytes", `{detectors: [], rules: [{path: name, action: partial, keep_last: 1}]}`,
			`{"name":"こんにちは"}`, `{"name":"****は"}`},
		{"partial masks a short value whole", `{detectors: [], rules: [{path: pin, action: partial}]}`,
			`{"pin":"1234"}`, `{"pin":"****"}`},
		{"partial on a number uses its text", `{detectors: [], rules: [{path: card, action: partial}]}`,
			`{"card":4111111111111111}`, `{"card":"************1111"}`},
		{"hash on a number uses its text", `{detectors: [], key: ` + testKey + `, rules: [{path: acct, action: hash}]}`,
			`{"acct":12345,"ratio":0.5}`, `{"acct":"` + h("12345") + `","ratio":0.5}`},
		{"pattern keeps the shape", `{detectors: [], rules: [{path: phone, action: pattern, pattern: '\d', replacement: '#'}]}`,
			`{"phone":"+1 (206) 555-0142"}`, `{"phone":"+# (###) ###-####"}`},
		{"pattern with groups", `{detectors: [], rules: [{path: ip, action: pattern, pattern: '^(\d+)\.(\d+)\.\d+\.\d+$', replacement: '$1.$2.0.0'}]}`,
			`{"ip":"10.20.30.40"}`, `{"ip":"10.20.0.0"}`},
		{"object under a path: every leaf", `{detectors: [], rules: [{path: customer, action: redact}]}`,
			`{"customer":{"name":"Gwen","tags":["vip",1],"nothing":null,"ok":true}}`,
			`{"customer":{"name":"***","nothing":null,"ok":"***","tags":["***","***"]}}`},
		{"first matching rule wins", `{detectors: [], rules: [{path: /a/b, action: partial, keep_last: 1}, {path: /a/*, action: redact}]}`,
			`{"a":{"b":"xyz","c":"xyz"}}`, `{"a":{"b":"**z","c":"***"}}`},
		{"missing path is a no-op", `{detectors: [], rules: [{path: /nope/x, action: redact}]}`,
			`{"a":1}`, `{"a":1}`},
		{"rules apply in skip_keys", `{detectors: [], rules: [{path: traceId, action: redact}]}`,
			`{"traceId":"abc"}`, `{"traceId":"***"}`},
		{"rule match is not scanned again", `{key: ` + testKey + `, rules: [{path: note, action: pattern, pattern: x, replacement: y}]}`,
			`{"note":"x a@b.co","other":"a@b.co"}`, `{"note":"y a@b.co","other":"` + h("a@b.co") + `"}`},
		{"scan_keys restricts the detectors", `{key: ` + testKey + `, scan_keys: [message, /attributes/*]}`,
			`{"message":"a@b.co","attributes":{"x":"a@b.co","deep":{"y":"a@b.co"}},"other":"a@b.co"}`,
			`{"attributes":{"deep":{"y":"` + h("a@b.co") + `"},"x":"` + h("a@b.co") + `"},"message":"` + h("a@b.co") + `","other":"a@b.co"}`},
		{"skip_keys excludes a subtree", `{key: ` + testKey + `, skip_keys: [/kubernetes]}`,
			`{"kubernetes":{"annotations":{"owner":"a@b.co"}},"traceId":"a@b.co"}`,
			`{"kubernetes":{"annotations":{"owner":"a@b.co"}},"traceId":"` + h("a@b.co") + `"}`},
		{"detector actions per detector", `{detector_actions: {email: partial, credit_card: redact, ipv4: redact}, detector_keep_last: 3, key: ` + testKey + `}`,
			`{"m":"a@b.com paid with 4111111111111111 from 10.0.0.1, ssn 123-45-6789"}`,
			`{"m":"****com paid with *** from ***, ssn ` + h("123-45-6789") + `"}`},
		{"detectors subset, no key needed without hash", `{detectors: [secret_pair, bearer_token]}`,
			`{"m":"password=x a@b.co","h":"Bearer abc.def.ghi"}`, `{"h":"Bearer ***","m":"password=*** a@b.co"}`},
		{"numbers are not scanned", `{detector_actions: {credit_card: redact}, detectors: [credit_card]}`,
			`{"card":4111111111111111,"text":"4111111111111111"}`, `{"card":4111111111111111,"text":"***"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProcessor(t, tc.opts)
			ev := newEvent(t, tc.in)
			process(p, ev)
			want := fieldsJSON(newEvent(t, tc.want))
			if got := fieldsJSON(ev); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// Masking writes through copy-on-write: a fan-out clone keeps the original
// values, and an event without matches is not copied.
func TestClonesUnaffected(t *testing.T) {
	p := newProcessor(t, `{key: `+testKey+`, rules: [{path: /user/name, action: redact}]}`)
	ev := newEvent(t, `{"user":{"name":"Gwen"},"message":"mail a@b.co"}`)
	clone := ev.Clone()
	process(p, ev)
	if got := fieldsJSON(clone); got != `{"message":"mail a@b.co","user":{"name":"Gwen"}}` {
		t.Errorf("clone changed: %s", got)
	}
	if got := fieldsJSON(ev); got != `{"message":"mail `+h("a@b.co")+`","user":{"name":"***"}}` {
		t.Errorf("event: %s", got)
	}
	// nothing to mask: the clone's shared tree stays shared
	ev2 := newEvent(t, `{"message":"nothing here"}`)
	clone2 := ev2.Clone()
	process(p, ev2)
	if fieldsJSON(ev2) != fieldsJSON(clone2) {
		t.Error("unchanged event differs from its clone")
	}
	ev2.Fields()["x"] = 1 // writes the shared tree only if it was not copied…
	if _, ok := clone2.Fields()["x"]; !ok {
		t.Error("an event without matches was copied")
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"defaults hash identifiers and need a key", `{}`,
			[]string{`option "key": required (or key_file) because the hash action is used by detector email`}},
		{"hash rule without key", `{detectors: [], rules: [{path: a, action: hash}]}`,
			[]string{`option "key": required (or key_file) because the hash action is used by rules[0]`}},
		{"key and key_file", `{key: k, key_file: ` + filepath.Join(dir, "k") + `}`,
			[]string{`option "key_file": give key or key_file, not both`}},
		{"bad regex", `{detectors: [], rules: [{path: a, action: pattern, pattern: "(", replacement: x}]}`,
			[]string{`option "rules[0].pattern": invalid regular expression`}},
		{"pattern action needs a pattern", `{detectors: [], rules: [{path: a, action: pattern}]}`,
			[]string{`option "rules[0].pattern": required for action pattern`}},
		{"pattern with another action", `{detectors: [], rules: [{path: a, action: redact, pattern: x}]}`,
			[]string{`option "rules[0].pattern": only applies to action pattern`}},
		{"keep_last with another action", `{detectors: [], rules: [{path: a, action: redact, keep_last: 2}]}`,
			[]string{`option "rules[0].keep_last": only applies to action partial`}},
		{"negative keep_last", `{detectors: [], rules: [{path: a, action: partial, keep_last: -1}]}`,
			[]string{`option "rules[0].keep_last"`, `below the minimum`}},
		{"unknown action", `{detectors: [], rules: [{path: a, action: hide}]}`,
			[]string{`option "rules[0].action": "hide" is not one of redact, hash, partial, pattern`}},
		{"missing path", `{detectors: [], rules: [{action: redact}]}`,
			[]string{`option "rules[0].path": required option is missing`}},
		{"root path", `{detectors: [], rules: [{path: /, action: redact}]}`,
			[]string{`option "rules[0].path": must name a field`}},
		{"unknown detector", `{detectors: [emial], key: k}`,
			[]string{`option "detectors[0]": unknown detector "emial"`, `did you mean "email"?`}},
		{"duplicate detector", `{detectors: [ipv4, ipv4], key: k}`,
			[]string{`option "detectors[1]": "ipv4" is listed twice`}},
		{"action of an unknown detector", `{key: k, detector_actions: {mail: redact}}`,
			[]string{`option "detector_actions.mail": unknown detector "mail"`}},
		{"action of a disabled detector", `{detectors: [email], key: k, detector_actions: {ipv4: redact}}`,
			[]string{`option "detector_actions.ipv4": detector "ipv4" is not in detectors`}},
		{"pattern is not a detector action", `{key: k, detector_actions: {email: pattern}}`,
			[]string{`option "detector_actions.email": "pattern" is not one of redact, hash, partial`}},
		{"bad skip key", `{key: k, skip_keys: ["/"]}`,
			[]string{`option "skip_keys[0]": must name a field`}},
		{"unknown option", `{key: k, redact_tokn: x}`,
			[]string{`option "redact_tokn"`, `did you mean "redact_token"?`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "mask", tc.opts)
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

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "mask.key")
	if err := os.WriteFile(f, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProcessor(t, `{detectors: [email], key_file: `+f+`}`)
	ev := newEvent(t, `{"m":"a@b.co"}`)
	process(p, ev)
	if got := ev.Fields()["m"]; got != h("a@b.co") {
		t.Errorf("key_file hash %v, want the hash under the trimmed key", got)
	}
	// a missing or empty file fails at creation, without printing a key
	for _, bad := range []string{filepath.Join(dir, "missing"), filepath.Join(dir, "empty")} {
		os.WriteFile(filepath.Join(dir, "empty"), []byte("\n"), 0o600)
		if _, _, err := pipelinestest.Processor("mask", `{detectors: [email], key_file: `+bad+`}`); err == nil {
			t.Errorf("key_file %s: no error", bad)
		}
	}
}

// The key is tagged secret: config.Describe never shows it.
func TestSecretKeyNotDescribed(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "mask", `key: `+testKey)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range config.Describe(cfg) {
		if strings.Contains(o.Default, testKey) {
			t.Errorf("option %s shows the key: %q", o.Name, o.Default)
		}
		if o.Name == "key" {
			found = true
			if !o.Secret || o.Default != config.Redacted {
				t.Errorf("key: secret=%v default=%q", o.Secret, o.Default)
			}
		}
	}
	if !found {
		t.Error("no key option")
	}
}

func TestMetrics(t *testing.T) {
	p, reg, err := pipelinestest.Processor("mask", `{key: `+testKey+`, rules: [{path: /user/*, action: redact}]}`)
	if err != nil {
		t.Fatal(err)
	}
	process(p, newEvent(t, `{"user":{"a":"x","b":"y"},"m":"a@b.co c@d.co 10.0.0.1 password=x"}`))
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "weft_mask_fields_masked_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["pipeline"] != "test" || labels["component"] == "" {
				t.Errorf("labels %v", labels)
			}
			got[labels["rule_or_detector"]] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"/user/*": 2, "email": 2, "ipv4": 1, "secret_pair": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func TestConcurrent(t *testing.T) {
	p := newProcessor(t, `{key: `+testKey+`, rules: [{path: /user/email, action: hash}]}`)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				ev := newEvent(t, `{"user":{"email":"a@b.co"},"m":"card 4111 1111 1111 1111 from 10.0.0.1"}`)
				process(p, ev)
				want := `{"m":"card ` + h("4111 1111 1111 1111") + ` from ` + h("10.0.0.1") + `","user":{"email":"` + h("a@b.co") + `"}}`
				if got := fieldsJSON(ev); got != want {
					t.Errorf("got %s", got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestNoAllocsWithoutPII(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless with -race")
	}
	p := newProcessor(t, `key: `+testKey)
	evs := logEvents(1, false)
	process(p, evs...)
	allocs := testing.AllocsPerRun(200, func() { process(p, evs...) })
	if allocs != 0 {
		t.Errorf("%v allocations per event without personal data", allocs)
	}
}

// TestReadmeListsEveryOption keeps README.md's option table in step with
// the config struct.
func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "mask", "README.md")
}

// logEvents builds n events shaped like a parsed application log line whose
// message is 300 bytes, with or without personal data in it.
func logEvents(n int, pii bool) []*event.Event {
	msg := noPIILine
	if pii {
		msg = piiLine
	}
	evs := event.NewBatch(n, event.KindLog, time.Unix(0, 0))
	for _, ev := range evs {
		ev.SetFields(map[string]any{
			"message":  msg,
			"level":    "INFO",
			"service":  "order-service",
			"traceId":  "4bf92f3577b34da6a3ce929d0e0e4736",
			"spanId":   "00f067aa0ba902b7",
			"status":   int64(200),
			"k8s_pod":  "order-7d9f8b6c5-x2x9z",
			"duration": 0.042,
		})
	}
	return evs
}

var (
	noPIILine = pad300(`2025-11-23T08:00:00.005Z INFO [main] order-service c.e.shop.OrderController - checkout completed for cart 8f3e2a items=3 total=129.95 currency=EUR duration_ms=42 status=200 path=/api/v1/orders/582936 method=POST upstream=payment-service retry=0 cache=hit region=eu-west-1 build=2025.11.2 `)
	piiLine   = pad300(`2025-11-23T08:00:00.005Z WARN [main] payment-service c.e.shop.PaymentController - card declined for gwen.miller@example.com card=4111 1111 1111 1111 client=10.0.4.17 password=hunter2 retry=1 status=402 path=/api/v1/payments method=POST upstream=bank-gateway region=eu-west-1 build=2025.11.2 `)
)

func pad300(s string) string {
	for len(s) < 300 {
		s += "x"
	}
	return s[:300]
}

// BenchmarkMask runs the default detector set (plus the default skip keys)
// over events carrying a 300-byte message. lines/s is per core (the
// benchmark runs on one goroutine).
func BenchmarkMask(b *testing.B) {
	for _, bc := range []struct {
		name string
		pii  bool
	}{{"NoPII", false}, {"PII", true}} {
		b.Run(bc.name, func(b *testing.B) {
			p := newProcessor(b, `key: `+testKey)
			const batch = 256
			evs := logEvents(batch, bc.pii)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(300 * batch)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if bc.pii {
					b.StopTimer()
					for _, ev := range evs {
						ev.Mutable()["message"] = piiLine
					}
					b.StartTimer()
				}
				p.Process(ctx, evs)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "lines/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/line")
		})
	}
}

// TestReadmeExample checks the example in README.md.
func TestReadmeExample(t *testing.T) {
	t.Setenv("MASK_KEY", testKey)
	p := newProcessor(t, `
key: `+testKey+`
rules:
  - path: /headers/authorization
    action: redact
  - path: /**/password
    action: redact
  - path: /customer/email
    action: hash
  - path: /customer/card
    action: partial
    keep_last: 4
  - path: /customer/phone
    action: pattern
    pattern: '\d'
    replacement: '#'
detector_actions:
  email: hash
  ipv4: partial
redact_token: "[REDACTED]"
`)
	ev := newEvent(t, `{"msg":"payment by gwen.miller@example.com from 10.0.4.17",
		"headers":{"authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.e99112cc31280d6899af94a3.c7236b52949b5011"},
		"customer":{"email":"gwen.miller@example.com","card":"4111 1111 1111 1111","phone":"+1-206-555-0142"},
		"traceId":"f552cc5023d8319aea1181f76f3adcbd"}`)
	process(p, ev)
	e := h("gwen.miller@example.com")
	want := `{"customer":{"card":"***************1111","email":"` + e + `","phone":"+#-###-###-####"},` +
		`"headers":{"authorization":"[REDACTED]"},"msg":"payment by ` + e + ` from *****4.17",` +
		`"traceId":"f552cc5023d8319aea1181f76f3adcbd"}`
	if got := fieldsJSON(ev); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// FuzzMask: masking never panics, keeps valid UTF-8 valid, and no e-mail
// address the detector found in the input is found again in the output. (A
// plain substring check is wrong: "0@0.AA0" is no address, yet contains the
// address "0@0.AA" masked elsewhere in the same line.)
func FuzzMask(f *testing.F) {
	for _, s := range []string{noPIILine, piiLine, "contact gwen.miller@example.com", "こんにちは a@b.co",
		"password=\"pässwörd\" x", "amqp://u:p@h", "a@b.co@c.de"} {
		f.Add(s)
	}
	hashed := newProcessor(f, `key: `+testKey)
	partialP := newProcessor(f, `{detector_actions: {email: partial, phone: partial, ipv4: partial, ipv6: partial, credit_card: partial, us_ssn: partial, secret_pair: partial}}`)
	found := func(s string) map[string]bool {
		emails := map[string]bool{}
		for pos := 0; ; {
			m, ok := detectAll.Next(s, pos)
			if !ok {
				break
			}
			if m.Kind == detectEmail {
				emails[s[m.Start:m.End]] = true
			}
			pos = m.End
		}
		return emails
	}
	f.Fuzz(func(t *testing.T, s string) {
		emails := found(s)
		for _, p := range []pipelines.Processor{hashed, partialP} {
			ev := event.New(event.KindLog, time.Unix(0, 0), map[string]any{"message": s})
			process(p, ev)
			out := ev.Fields()["message"].(string)
			if utf8.ValidString(s) && !utf8.ValidString(out) {
				t.Fatalf("invalid UTF-8 out of %q: %q", s, out)
			}
			for e := range found(out) {
				if emails[e] {
					t.Fatalf("e-mail %q survives in %q (input %q)", e, out, s)
				}
			}
		}
	})
}
