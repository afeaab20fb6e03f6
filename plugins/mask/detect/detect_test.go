package detect

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// found lists the matches of set in s as "kind:text".
func found(set Set, s string) []string {
	var out []string
	for pos := 0; ; {
		m, ok := set.Next(s, pos)
		if !ok {
			return out
		}
		if m.Start < pos || m.End <= m.Start || m.End > len(s) {
			panic("bad match")
		}
		out = append(out, m.Kind.String()+":"+s[m.Start:m.End])
		pos = m.End
	}
}

func TestDetectors(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		// the fixture lines (pii-samples.txt)
		{"contact gwen.miller@example.com about order 582936", []string{"email:gwen.miller@example.com"}},
		{"card 4111 1111 1111 1111 exp 12/27", []string{"credit_card:4111 1111 1111 1111"}},
		{"card 4111-1111-1111-1112 fails the Luhn check and is not a card", nil},
		{"ssn 078-05-1120 on file", []string{"us_ssn:078-05-1120"}},
		{"call (555) 555 5555 or +1-206-555-0142", []string{"phone:(555) 555 5555", "phone:+1-206-555-0142"}},
		{"client 10.0.4.17 and 2001:db8::8a2e:370:7334", []string{"ipv4:10.0.4.17", "ipv6:2001:db8::8a2e:370:7334"}},
		{"amqp://guest:guest@rabbitmq:5672", []string{"url_password:guest"}},
		{"amqps://username:password@hostname.mq.us-east-1.amazonaws.com:5671/", []string{"url_password:password"}},
		{"X-API-Key: SuP3r5eCRetAutHK3y", []string{"secret_pair:SuP3r5eCRetAutHK3y"}},
		{"connection-password=5up3r53cr3tPa55w0rd", []string{"secret_pair:5up3r53cr3tPa55w0rd"}},
		{"aws_access_key_id=AKIAIOSFODNN7EXAMPLE", []string{"aws_access_key:AKIAIOSFODNN7EXAMPLE"}},
		{"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", []string{"bearer_token:eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"}},
		{"Konnichiwa (こんにちは), from Service C!", nil},

		// e-mail
		{"a@b.co", []string{"email:a@b.co"}},
		{"<Gwen.Miller+shop@Mail.Example.ORG>.", []string{"email:Gwen.Miller+shop@Mail.Example.ORG"}},
		{"mailto:x_y%z@host-1.example.com;", []string{"email:x_y%z@host-1.example.com"}},
		{"user@localhost and @handle and a@b.c and a@1.23 and .@x.com", nil},
		{"end of sentence bob@example.com.", []string{"email:bob@example.com"}},
		{"..dots@example.com", []string{"email:dots@example.com"}},

		// credit cards
		{"4111111111111111", []string{"credit_card:4111111111111111"}},
		{"amex 3782 822463 10005 ok", []string{"credit_card:3782 822463 10005"}},
		{"mc 5555-5555-5555-4444.", []string{"credit_card:5555-5555-5555-4444"}},
		{"4111 1111 1111 1111 2027", []string{"credit_card:4111 1111 1111 1111"}},
		{"4111-1111-1111-1111-2027", nil},                 // a dashed number is a card as a whole or not at all
		{"ts 1732348800005 and 1732348800005000000", nil}, // timestamps start with 1
		{"id 41111111111111110", nil},                     // Luhn fails
		{"x4111111111111111 4111111111111111x", nil},      // inside words
		{"41111111111111111111", nil},                     // 20 digits

		// SSN
		{"000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000", nil},
		{"123-45-6789", []string{"us_ssn:123-45-6789"}},
		{"1123-45-6789 123-45-67890 123-45-6789-1", nil},

		// phones
		{"(206) 555-0142", []string{"phone:(206) 555-0142"}},
		{"(206)555-0142", []string{"phone:(206)555-0142"}},
		{"206-555-0142 and 206.555.0142", []string{"phone:206-555-0142", "phone:206.555.0142"}},
		{"1-800-555-0199", []string{"phone:1-800-555-0199"}},
		{"+44 20 7183 8750", []string{"phone:+44 20 7183 8750"}},
		{"+442071838750", []string{"phone:+442071838750"}},
		{"+1 (206) 555-0142", []string{"phone:+1 (206) 555-0142"}},
		{"+1(206)555-0142", []string{"phone:+1(206)555-0142"}},
		{"2065550142 and 206 555 0142 and 106-555-0142 and 206-055-0142 and 206-555.0142", nil},
		{"tz +0530 +05:30 +1234 id 12345678901234", nil},

		// IPv4
		{"10.0.0.1:8080", []string{"ipv4:10.0.0.1"}},
		{"256.1.1.1 1.2.3 1.2.3.4.5 v1.2.3.4", nil},
		{"255.255.255.255.", []string{"ipv4:255.255.255.255"}},

		// IPv6
		{"::1", []string{"ipv6:::1"}},
		{"[fe80::1ff:fe23:4567:890a]:443", []string{"ipv6:fe80::1ff:fe23:4567:890a"}},
		{"2001:0db8:85a3:0000:0000:8a2e:0370:7334", []string{"ipv6:2001:0db8:85a3:0000:0000:8a2e:0370:7334"}},
		{"::ffff:10.0.0.1", []string{"ipv6:::ffff:10.0.0.1"}},
		{"at 12:30:45 mac 00:1a:2b:3c:4d:5e dead::beef std::vector a:b", nil},
		{"1::2::3", nil},

		// AWS keys
		{"ASIAY34FZKBOKMUTVV7A", []string{"aws_access_key:ASIAY34FZKBOKMUTVV7A"}},
		{"AKIAIOSFODNN7EXAMPL XAKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMPLEX akiaiosfodnn7example", nil},

		// bearer tokens and JWTs
		{"bearer abc.def-123", []string{"bearer_token:abc.def-123"}},
		{"Bearer authentication failed", nil},
		{"token eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", []string{"bearer_token:eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."}},
		{"eyJhbGciOiJub25lIn0 alone", nil},
		{"xeyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.sig", nil},

		// URL passwords
		{"postgres://app:s3cr%40t@db:5432/x", []string{"url_password:s3cr%40t"}},
		{"https://bob@example.com/path", nil},
		{"https://example.com/login?user=bob@example.com", []string{"email:bob@example.com"}},
		{"redis://:onlypass@cache:6379", []string{"url_password:onlypass"}},

		// secret pairs
		{"password=hunter2&user=bob", []string{"secret_pair:hunter2"}},
		{`{"password": "hunter 2", "user": "bob"}`, []string{"secret_pair:hunter 2"}},
		{`{\"client_secret\":\"abc\"}`, []string{"secret_pair:abc"}},
		{"passwd: 'x y'", []string{"secret_pair:x y"}},
		{"map[x-api-key:[k3y] user:[bob]]", []string{"secret_pair:k3y"}},
		{"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", []string{"secret_pair:wJalrXUtnFEMI/K7MDENG"}},
		{"access_token = abc123 next", []string{"secret_pair:abc123"}},
		{"token: Bearer abc", []string{"secret_pair:abc"}},
		{"password= ", nil},
		{"password=", nil},
		{"user=bob level=info passwords=3 tokens=5 token_count=7", nil},
		{"api_key=\"unterminated", []string{"secret_pair:unterminated"}},
	}
	for _, tc := range tests {
		got := found(All, tc.in)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q:\n got  %q\n want %q", tc.in, got, tc.want)
		}
	}
}

func TestSetRestricts(t *testing.T) {
	s := "mail bob@example.com from 10.0.0.1 password=x"
	if got := found(Of(IPv4), s); len(got) != 1 || got[0] != "ipv4:10.0.0.1" {
		t.Errorf("ipv4 only: %q", got)
	}
	if got := found(0, s); got != nil {
		t.Errorf("empty set: %q", got)
	}
	// Without url_password the user:pass@host part is e-mail-like.
	if got := found(Of(Email), "https://u:pw@example.com/"); len(got) != 1 || got[0] != "email:pw@example.com" {
		t.Errorf("email only: %q", got)
	}
}

func TestNames(t *testing.T) {
	for k := Kind(0); k < NumKinds; k++ {
		got, ok := ParseKind(k.String())
		if !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, ok)
		}
	}
	if _, ok := ParseKind("nope"); ok {
		t.Error("ParseKind(nope) ok")
	}
	if len(Names()) != int(NumKinds) {
		t.Error("Names")
	}
}

func TestNoAllocs(t *testing.T) {
	line := benchLines[0]
	allocs := testing.AllocsPerRun(100, func() {
		for pos := 0; ; {
			m, ok := All.Next(line, pos)
			if !ok {
				break
			}
			pos = m.End
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per scan", allocs)
	}
}

// FuzzScan: never panics; matches are in order, inside the text and never
// split a UTF-8 sequence of valid input; only passwords and secret values
// may hold non-ASCII characters.
func FuzzScan(f *testing.F) {
	for _, s := range benchLines {
		f.Add(s)
	}
	for _, s := range []string{
		"contact gwen.miller@example.com", "card 4111 1111 1111 1111", "ssn 078-05-1120",
		"call (555) 555 5555 or +1-206-555-0142", "2001:db8::8a2e:370:7334 ::ffff:1.2.3.4",
		"amqp://guest:guest@rabbitmq:5672", "X-API-Key: x", `"password":"`, `\"token\":\"`,
		"Bearer eyJa.eyJb.c", "AKIAIOSFODNN7EXAMPLE", "+1(", "(", "::", "a@", "@b.c", "://@",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		valid := utf8.ValidString(s)
		pos := 0
		for {
			m, ok := All.Next(s, pos)
			if !ok {
				break
			}
			if m.Start < pos || m.End <= m.Start || m.End > len(s) || m.Kind >= NumKinds {
				t.Fatalf("bad match %+v after %d in %q", m, pos, s)
			}
			if valid && (!utf8.ValidString(s[m.Start:m.End]) || !utf8.RuneStart(s[m.Start]) || m.End < len(s) && !utf8.RuneStart(s[m.End])) {
				t.Fatalf("match %+v splits a UTF-8 sequence in %q", m, s)
			}
			for k := m.Start; k < m.End && m.Kind != URLPassword && m.Kind != SecretPair; k++ {
				if s[k] >= 0x80 {
					t.Fatalf("match %+v holds non-ASCII in %q", m, s)
				}
			}
			pos = m.End
		}
	})
}

// benchLines are 300-byte log lines: the first without personal data, the
// second with an e-mail, a card, an IP address and a password.
var benchLines = []string{
	pad(`2025-11-23T08:00:00.005Z INFO [main] order-service c.e.shop.OrderController - checkout completed for cart 8f3e2a items=3 total=129.95 currency=EUR duration_ms=42 status=200 path=/api/v1/orders/582936 method=POST upstream=payment-service retry=0 cache=hit region=eu-west-1 build=2025.11.2 `),
	pad(`2025-11-23T08:00:00.005Z WARN [main] payment-service c.e.shop.PaymentController - card declined for gwen.miller@example.com card=4111 1111 1111 1111 client=10.0.4.17 password=hunter2 retry=1 status=402 path=/api/v1/payments method=POST upstream=bank-gateway region=eu-west-1 build=2025.11.2 `),
}

func pad(s string) string {
	for len(s) < 300 {
		s += "x"
	}
	return s[:300]
}

func BenchmarkScan(b *testing.B) {
	for _, bc := range []struct {
		name string
		line string
	}{{"NoPII", benchLines[0]}, {"PII", benchLines[1]}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.line)))
			for i := 0; i < b.N; i++ {
				for pos := 0; ; {
					m, ok := All.Next(bc.line, pos)
					if !ok {
						break
					}
					pos = m.End
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
