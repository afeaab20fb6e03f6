package template

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

var when = time.Date(2024, 3, 7, 9, 5, 4, 123456789, time.FixedZone("CET", 3600))

func testEvent() *event.Event {
	return event.New(event.KindLog, when, map[string]any{
		"kubernetes": map[string]any{"namespace_name": "payments", "labels": map[string]any{"a/b": "x"}},
		"status":     int64(503),
		"ratio":      0.25,
		"ok":         true,
		"none":       nil,
		"list":       []any{"a", int64(1)},
	})
}

func expand(t *testing.T, s string, e *event.Event) string {
	t.Helper()
	tp, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	out, err := tp.Expand(nil, e)
	if err != nil {
		t.Fatalf("Expand(%q): %v", s, err)
	}
	return string(out)
}

func TestExpand(t *testing.T) {
	e := testEvent()
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain/path.log", "plain/path.log"},
		// Dates are evaluated in UTC: 09:05 CET is 08:05 UTC.
		{"logs-%{yyyy.MM.dd}", "logs-2024.03.07"},
		{"%{yyyy-MM-dd-HH}", "2024-03-07-08"},
		{"%{yy/M/d H:m:s}", "24/3/7 8:5:4"},
		{"%{HH:mm:ss.SSS}", "08:05:04.123"},
		{"%{ss.SSSSSSSSS}", "04.123456789"},
		{"%{yyyy-MM-dd'T'HH}", "2024-03-07T08"},
		{"%{'it''s' yyyy}", "it's 2024"},
		{"app-${/kubernetes/namespace_name}.log", "app-payments.log"},
		{"${/status}-${/ratio}-${/ok}", "503-0.25-true"},
		{"${/list}", `["a",1]`},
		{"${/kubernetes/labels/a~1b}", "x"},
		{"/var/log/${/kubernetes/namespace_name}/%{yyyy.MM.dd}.log", "/var/log/payments/2024.03.07.log"},
		{"100%", "100%"},
		{"$ and % and } and {", "$ and % and } and {"},
		{"a$", "a$"},
	}
	for _, c := range cases {
		if got := expand(t, c.in, e); got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	bad := []string{
		"logs-${/a",
		"logs-%{yyyy",
		"${}",
		"%{}",
		"${NAME}",
		"${/}",
		"${/a${/b}}",
		"%{yyyy-%{MM}}",
		"%{YYYY}",
		"%{yyy}",
		"%{MMM}",
		"%{EEE}",
		"%{'open}",
	}
	for _, s := range bad {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", s)
		}
	}
}

func TestMissingField(t *testing.T) {
	e := testEvent()
	for _, s := range []string{"${/nope}", "x-${/none}", "${/kubernetes/namespace_name/deeper}"} {
		tp := MustParse(s)
		_, err := tp.Expand(nil, e)
		var mf *MissingFieldError
		if !errors.Is(err, ErrMissingField) || !errors.As(err, &mf) {
			t.Errorf("%q: err = %v, want a MissingFieldError", s, err)
		}
		missing := "unknown"
		out, err := tp.ExpandWith(nil, e, &Options{Missing: &missing})
		if err != nil || !strings.Contains(string(out), "unknown") {
			t.Errorf("%q with Missing: %q, %v", s, out, err)
		}
	}
}

func TestSanitizeOnlyFieldValues(t *testing.T) {
	e := event.New(event.KindLog, when, map[string]any{"ns": "../../etc"})
	tp := MustParse("/var/log/${/ns}/%{yyyy}/x.log")
	san := func(dst []byte, start int) []byte {
		for i := start; i < len(dst); i++ {
			if dst[i] == '/' {
				dst[i] = '_'
			}
		}
		return dst
	}
	out, err := tp.ExpandWith(nil, e, &Options{Sanitize: san})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "/var/log/.._.._etc/2024/x.log"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStatic(t *testing.T) {
	if !MustParse("a/b.log").IsStatic() || MustParse("a-%{yyyy}").IsStatic() || MustParse("${/a}").IsStatic() {
		t.Fatal("IsStatic is wrong")
	}
	var zero Template
	if !zero.IsStatic() {
		t.Fatal("zero template should be static")
	}
	if out, err := zero.Expand(nil, testEvent()); err != nil || len(out) != 0 {
		t.Fatalf("zero template expands to %q, %v", out, err)
	}
}

func TestUnmarshalText(t *testing.T) {
	var tp Template
	if err := tp.UnmarshalText([]byte("x-%{yyyy}")); err != nil {
		t.Fatal(err)
	}
	if tp.String() != "x-%{yyyy}" || tp.IsStatic() {
		t.Fatalf("decoded %q static=%v", tp.String(), tp.IsStatic())
	}
	if err := tp.UnmarshalText([]byte("x-%{yyyy")); err == nil {
		t.Fatal("want an error")
	}
}

func TestDateCacheFollowsTime(t *testing.T) {
	tp := MustParse("%{yyyy.MM.dd HH:mm:ss}")
	base := time.Date(2023, 12, 31, 23, 59, 59, 0, time.UTC)
	for i, want := range []string{"2023.12.31 23:59:59", "2024.01.01 00:00:00", "2023.12.31 23:59:59"} {
		d := time.Duration(0)
		if i == 1 {
			d = time.Second
		}
		e := event.New(event.KindLog, base.Add(d), nil)
		out, _ := tp.Expand(nil, e)
		if string(out) != want {
			t.Errorf("step %d: got %q, want %q", i, out, want)
		}
	}
}

func TestConcurrentExpand(t *testing.T) {
	tp := MustParse("%{yyyy-MM-dd HH:mm:ss}/${/n}")
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			var buf []byte
			for i := 0; i < 2000; i++ {
				ts := time.Unix(int64(1700000000+(i+g)%7), 0)
				e := event.New(event.KindLog, ts, map[string]any{"n": "v"})
				buf, _ = tp.Expand(buf[:0], e)
				if want := ts.UTC().Format("2006-01-02 15:04:05") + "/v"; string(buf) != want {
					t.Errorf("got %q, want %q", buf, want)
					return
				}
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

func TestStaticZeroAlloc(t *testing.T) {
	e := testEvent()
	buf := make([]byte, 0, 256)
	for _, s := range []string{"static/path.log", "logs-%{yyyy.MM.dd}", "app-${/kubernetes/namespace_name}-%{yyyy.MM.dd}"} {
		tp := MustParse(s)
		allocs := testing.AllocsPerRun(100, func() {
			buf, _ = tp.Expand(buf[:0], e)
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocations per Expand, want 0", s, allocs)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "a", "logs-%{yyyy.MM.dd}", "${/a/b}", "%{'x''y'}", "${", "%{", "}{", "$%{{}}", "${/a~0~1}-%{SSS}"} {
		f.Add(s)
	}
	e := testEvent()
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Parse(s)
		if !strings.Contains(s, "${") && !strings.Contains(s, "%{") {
			// Without references everything is literal.
			if err != nil {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			out, err := tp.Expand(nil, e)
			if err != nil || string(out) != s || !tp.IsStatic() {
				t.Fatalf("static %q expanded to %q, %v", s, out, err)
			}
		}
		if err != nil {
			return
		}
		if tp.String() != s {
			t.Fatalf("String() = %q, want %q", tp.String(), s)
		}
		missing := "?"
		if _, err := tp.ExpandWith(nil, e, &Options{Missing: &missing}); err != nil {
			t.Fatalf("ExpandWith(%q) with a fallback failed: %v", s, err)
		}
		_, _ = tp.Expand(nil, e)
	})
}

func BenchmarkExpand(b *testing.B) {
	e := testEvent()
	for _, s := range []string{"static/path.log", "logs-%{yyyy.MM.dd}", "/var/log/${/kubernetes/namespace_name}/%{yyyy-MM-dd-HH}.log"} {
		tp := MustParse(s)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				buf, _ = tp.Expand(buf[:0], e)
			}
		})
	}
	b.Run("date-cache-miss", func(b *testing.B) {
		tp := MustParse("logs-%{yyyy.MM.dd HH:mm:ss}")
		evs := []*event.Event{event.New(event.KindLog, when, nil), event.New(event.KindLog, when.Add(time.Second), nil)}
		b.ReportAllocs()
		buf := make([]byte, 0, 256)
		i := 0
		for b.Loop() {
			buf, _ = tp.Expand(buf[:0], evs[i&1])
			i++
		}
	})
}
