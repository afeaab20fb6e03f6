package tail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func TestParseCRI(t *testing.T) {
	for _, tc := range []struct {
		line            string
		ok              bool
		stream          int
		partial         bool
		msg, timeString string
	}{
		{"2025-11-23T08:00:00.020000000Z stdout F hello world", true, streamStdout, false, "hello world", "2025-11-23T08:00:00.020000000Z"},
		{"2025-11-23T08:00:00Z stderr P part", true, streamStderr, true, "part", "2025-11-23T08:00:00Z"},
		{"2016-10-06T00:17:09.669794202+02:00 stdout F with offset", true, streamStdout, false, "with offset", "2016-10-06T00:17:09.669794202+02:00"},
		{"2025-11-23T08:00:00.1Z stdout F:x tags", true, streamStdout, false, "tags", "2025-11-23T08:00:00.1Z"},
		{"2025-11-23T08:00:00.1Z stdout F", true, streamStdout, false, "", "2025-11-23T08:00:00.1Z"},
		{"2025-11-23T08:00:00.1Z stdout F ", true, streamStdout, false, "", "2025-11-23T08:00:00.1Z"},
		{"2025-11-23T08:00:00.1Z stdout F  two spaces", true, streamStdout, false, " two spaces", "2025-11-23T08:00:00.1Z"},
		{"2025-11-23T08:00:00.1Z stdin F x", false, 0, false, "", ""},
		{"2025-11-23T08:00:00.1Z stdout X x", false, 0, false, "", ""},
		{"2025-11-23T08:00:00.1Z stdout FF x", false, 0, false, "", ""},
		{"2025-13-23T08:00:00.1Z stdout F x", false, 0, false, "", ""},
		{"2025-02-29T08:00:00Z stdout F x", false, 0, false, "", ""},
		{"2024-02-29T08:00:00Z stdout F leap", true, streamStdout, false, "leap", "2024-02-29T08:00:00Z"},
		{"not a cri line", false, 0, false, "", ""},
		{"", false, 0, false, "", ""},
	} {
		c, ok := ParseCRI([]byte(tc.line))
		if ok != tc.ok {
			t.Errorf("%q: ok %v", tc.line, ok)
			continue
		}
		if !ok {
			continue
		}
		if c.Stream != tc.stream || c.Partial != tc.partial || tc.line[c.MsgStart:] != tc.msg || tc.line[:c.TimeEnd] != tc.timeString {
			t.Errorf("%q: %+v msg %q", tc.line, c, tc.line[c.MsgStart:])
		}
		want, err := time.Parse(time.RFC3339Nano, tc.timeString)
		if err != nil || !c.Time.Equal(want) {
			t.Errorf("%q: time %v, want %v (%v)", tc.line, c.Time, want, err)
		}
	}
}

func TestParseTimeMatchesTimeParse(t *testing.T) {
	for _, s := range []string{"1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.123-23:59", "2000-02-29T12:00:00+05:30", "2025-11-23T08:00:09.000000010Z"} {
		got, ok := parseTime([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if !ok || err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v %v", s, got, ok, want, err)
		}
	}
}

func TestParseDocker(t *testing.T) {
	d, ok := ParseDocker([]byte(`{"log":"hello \"you\"\n","stream":"stderr","time":"2025-11-23T08:00:00.02Z"}`))
	if !ok || d.Log != `hello "you"` || d.Partial || d.Stream != streamStderr || d.TimeStr != "2025-11-23T08:00:00.02Z" || !d.HasTime {
		t.Fatalf("%+v %v", d, ok)
	}
	d, ok = ParseDocker([]byte(`{"log":"no newline","stream":"stdout","time":"x"}`))
	if !ok || !d.Partial || d.HasTime || d.TimeStr != "x" {
		t.Fatalf("%+v %v", d, ok)
	}
	for _, bad := range []string{`{"msg":"x"}`, `{"log":1}`, `{"log":"x"`, `[1]`, `plain`} {
		if _, ok := ParseDocker([]byte(bad)); ok {
			t.Errorf("%s accepted", bad)
		}
	}
}

// readAll tails a copy of content (read from head) until n events came.
func readAll(t *testing.T, name, content, opts string, n int) (*env, []*event.Event) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	writeFile(t, path, content)
	e := start(t, "{paths: ["+q(filepath.Join(dir, "*"))+"], read_from_head: true, poll_interval: 10ms"+opts+"}")
	evs := e.waitN(n, 15*time.Second)
	time.Sleep(30 * time.Millisecond)
	if got := e.in.snapshot(); len(got) != n {
		t.Fatalf("%d events, want %d: %q", len(got), n, msgs(got))
	}
	return e, evs
}

const podLog = "web-7d9f_shop_app-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log"

func TestCRIFixture(t *testing.T) {
	data, err := os.ReadFile(fixture("cri-containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"cri", "auto"} {
		t.Run(format, func(t *testing.T) {
			e, evs := readAll(t, podLog, string(data), ", format: "+format, 4)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			cut := func(l string) string { return strings.SplitN(l, " ", 4)[3] }
			joined := cut(lines[2]) + cut(lines[3]) + cut(lines[4])
			want := []string{cut(lines[0]), cut(lines[1]), joined, cut(lines[5])}
			if got := msgs(evs); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("messages\n%q\nwant\n%q", got, want)
			}
			if !strings.HasPrefix(joined, "order=582936 items=sku-0000,") || !strings.HasSuffix(joined, "sku-0119") || !strings.Contains(joined, "sku-0030,sku-0031,") {
				t.Fatalf("joined message %q", joined)
			}
			f := evs[2].Fields()
			if f["stream"] != "stdout" || f["time"] != "2025-11-23T08:00:09.000000000Z" || !evs[2].Time.Equal(time.Date(2025, 11, 23, 8, 0, 9, 0, time.UTC)) {
				t.Errorf("joined event: %v %v", f, evs[2].Time)
			}
			f = evs[3].Fields()
			if f["stream"] != "stderr" || f["time"] != "2025-11-23T08:00:09.000000010Z" || evs[3].Time.Nanosecond() != 10 {
				t.Errorf("stderr event: %v %v", f, evs[3].Time)
			}
			f = evs[0].Fields()
			k, _ := f["kubernetes"].(map[string]any)
			if f["file"] != filepath.Join(filepath.Dir(f["file"].(string)), podLog) || k["pod_name"] != "web-7d9f" ||
				k["namespace_name"] != "shop" || k["container_name"] != "app" || k["container_id"] != strings.Repeat("0123456789abcdef", 4) {
				t.Errorf("fields %v", f)
			}
			if e.metric("weft_tail_lines_total") != 6 || e.metric("weft_tail_bytes_total") != float64(len(data)) {
				t.Errorf("lines %v bytes %v", e.metric("weft_tail_lines_total"), e.metric("weft_tail_bytes_total"))
			}
			if n := e.metric("weft_tail_parse_errors_total"); n != 0 {
				t.Errorf("parse errors %v", n)
			}
		})
	}
}

func TestDockerFixture(t *testing.T) {
	data, err := os.ReadFile(fixture("docker-json.log"))
	if err != nil {
		t.Fatal(err)
	}
	// Docker splits lines longer than 16 KiB: the parts have no \n.
	extra := `{"log":"first half ","stream":"stdout","time":"2025-11-23T08:00:10Z"}` + "\n" +
		`{"log":"interleaved\n","stream":"stderr","time":"2025-11-23T08:00:10.5Z"}` + "\n" +
		`{"log":"second half\n","stream":"stdout","time":"2025-11-23T08:00:11Z"}` + "\n"
	for _, format := range []string{"docker", "auto"} {
		t.Run(format, func(t *testing.T) {
			_, evs := readAll(t, "x.log", string(data)+extra, ", format: "+format, 5)
			got := msgs(evs)
			if !strings.HasSuffix(got[0], "Customer successfully checked out cart") || got[2] != "plain line without trace context" ||
				got[3] != "interleaved" || got[4] != "first half second half" {
				t.Fatalf("messages %q", got)
			}
			f := evs[2].Fields()
			if f["stream"] != "stderr" || f["time"] != "2025-11-23T08:00:09.000000000Z" || !evs[2].Time.Equal(time.Date(2025, 11, 23, 8, 0, 9, 0, time.UTC)) {
				t.Errorf("fields %v time %v", f, evs[2].Time)
			}
			if _, ok := f["kubernetes"]; ok {
				t.Errorf("kubernetes metadata from a name without it: %v", f)
			}
			if evs[4].Fields()["time"] != "2025-11-23T08:00:10Z" {
				t.Errorf("joined docker line takes the first part's time: %v", evs[4].Fields())
			}
		})
	}
}

func TestPlainAndAuto(t *testing.T) {
	content := "plain one\r\n" +
		`{"log":"docker\n","stream":"stdout","time":"2025-11-23T08:00:00Z"}` + "\n" +
		"2025-11-23T08:00:01Z stderr F cri\n" +
		`{"not":"docker"}` + "\n" +
		"\n" +
		"2025-11-23 not cri\n"
	_, evs := readAll(t, "mixed.log", content, "", 5)
	want := []string{"plain one", "docker", "cri", `{"not":"docker"}`, "2025-11-23 not cri"}
	if got := msgs(evs); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("auto: %q", got)
	}
	if _, ok := evs[0].Fields()["stream"]; ok {
		t.Errorf("plain line has a stream: %v", evs[0].Fields())
	}
	if evs[1].Fields()["stream"] != "stdout" || evs[2].Fields()["stream"] != "stderr" {
		t.Errorf("streams %v %v", evs[1].Fields(), evs[2].Fields())
	}
	if time.Since(evs[0].Time) > time.Minute {
		t.Errorf("plain line time %v: want the time read", evs[0].Time)
	}

	// format: plain keeps CRI lines whole; format: cri counts what is not CRI.
	e, evs := readAll(t, "mixed.log", content, ", format: plain", 5)
	if got := msgs(evs); got[2] != "2025-11-23T08:00:01Z stderr F cri" {
		t.Fatalf("plain: %q", got)
	}
	_ = e
	e, _ = readAll(t, "mixed.log", content, ", format: cri", 5)
	if n := e.metric("weft_tail_parse_errors_total", "format", "cri"); n != 4 {
		t.Errorf("cri parse errors %v, want 4", n)
	}
	e, _ = readAll(t, "mixed.log", content, ", format: docker", 5)
	if n := e.metric("weft_tail_parse_errors_total", "format", "docker"); n != 4 {
		t.Errorf("docker parse errors %v, want 4", n)
	}
}

func TestMultilineStackTrace(t *testing.T) {
	var b strings.Builder
	n := 0
	w := func(stream, msg string) { b.WriteString(criLine(n, stream, "F", msg)); n++ }
	w("stdout", "2025-11-23 08:00:00.001 INFO starting")
	w("stderr", "2025-11-23 08:00:00.002 ERROR request failed")
	w("stderr", "java.lang.IllegalStateException: boom")
	w("stdout", "2025-11-23 08:00:00.003 INFO interleaved on stdout")
	w("stderr", "\tat com.example.Shop.checkout(Shop.java:42)")
	// a continuation split by the runtime into partial lines
	b.WriteString(criLine(n, "stderr", "P", "\tat com.example.Main.ma"))
	n++
	w("stderr", "in(Main.java:7)")
	w("stderr", "")
	w("stderr", "Caused by: java.io.IOException: disk")
	w("stderr", "2025-11-23 08:00:00.004 INFO recovered")
	opts := `, format: cri, multiline: {start_pattern: '^\d{4}-\d{2}-\d{2} ', timeout: 100ms}`
	_, evs := readAll(t, "app.log", b.String(), opts, 4)
	// Each stream is joined on its own; an event is emitted when the next
	// start line of its stream comes, or after the timeout.
	want := []string{
		"2025-11-23 08:00:00.001 INFO starting",
		"2025-11-23 08:00:00.002 ERROR request failed\njava.lang.IllegalStateException: boom\n\tat com.example.Shop.checkout(Shop.java:42)\n\tat com.example.Main.main(Main.java:7)\n\nCaused by: java.io.IOException: disk",
		"2025-11-23 08:00:00.003 INFO interleaved on stdout",
		"2025-11-23 08:00:00.004 INFO recovered",
	}
	got := msgs(evs)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("messages\n%q\nwant\n%q", got, want)
	}
	if evs[1].Fields()["stream"] != "stderr" || evs[1].Fields()["time"] != "2025-11-23T08:00:00.000000001Z" {
		t.Errorf("the event takes its first line's stream and time: %v", evs[1].Fields())
	}
}

func TestMultilineMaxLinesAndPlain(t *testing.T) {
	content := "START a\nx\ny\nz\nSTART b\nw\n"
	_, evs := readAll(t, "app.log", content, `, format: plain, multiline: {start_pattern: '^START', max_lines: 3, timeout: 50ms}`, 3)
	// max_lines ends the first event at y; z, matching nothing, starts its own.
	if got := msgs(evs); strings.Join(got, "|") != "START a\nx\ny|z|START b\nw" {
		t.Fatalf("messages %q", got)
	}
}

func TestMaxLineSize(t *testing.T) {
	long := strings.Repeat("x", 300)
	content := long + "\n" +
		"short\n" +
		criLine(1, "stdout", "F", strings.Repeat("c", 300)) +
		criLine(2, "stdout", "P", strings.Repeat("p", 60)) +
		criLine(3, "stdout", "P", strings.Repeat("q", 60)) +
		criLine(4, "stdout", "F", strings.Repeat("r", 60)) +
		strings.Repeat("é", 100) + "\n" + // 200 bytes: cut at a rune boundary
		strings.Repeat("z", 600<<10) + "\n" + // spans several reads
		"end\n"
	e, evs := readAll(t, "big.log", content, ", max_line_size: 100", 7)
	got := msgs(evs)
	wantTrunc := []bool{true, false, true, true, true, true, false}
	for i, ev := range evs {
		if len(got[i]) > 100 {
			t.Errorf("event %d: %d bytes", i, len(got[i]))
		}
		if ev.HasTag(TruncatedTag) != wantTrunc[i] {
			t.Errorf("event %d %q: tags %v", i, got[i][:min(len(got[i]), 20)], ev.Tags())
		}
	}
	if got[0] != long[:100] || got[1] != "short" || got[6] != "end" || got[5] != strings.Repeat("z", 100) {
		t.Errorf("messages %q", got)
	}
	// the CRI line was cut as a whole line (100 bytes) before parsing
	if !strings.HasPrefix(got[2], "ccc") || evs[2].Fields()["stream"] != "stdout" {
		t.Errorf("cut CRI line: %q %v", got[2], evs[2].Fields())
	}
	if got[3] != strings.Repeat("p", 60)+strings.Repeat("q", 40) {
		t.Errorf("joined partials are bounded too: %q", got[3])
	}
	if got[4] != strings.Repeat("é", 50) {
		t.Errorf("UTF-8 cut: %q", got[4])
	}
	if n := e.metric("weft_tail_lines_truncated_total"); n != 5 {
		t.Errorf("truncated counter %v, want 5", n)
	}
}

func TestKubernetesFromPath(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for path, want := range map[string]map[string]string{
		"/var/log/containers/web-1_default_nginx-" + id + ".log":                    {"pod_name": "web-1", "namespace_name": "default", "container_name": "nginx", "container_id": id},
		"/var/log/containers/a-b-c_kube-system_side-car-" + id + ".log":             {"pod_name": "a-b-c", "namespace_name": "kube-system", "container_name": "side-car", "container_id": id},
		"/var/log/pods/shop_web-1_0f1e2d3c-aaaa-bbbb-cccc-000000000000/nginx/3.log": {"namespace_name": "shop", "pod_name": "web-1", "pod_id": "0f1e2d3c-aaaa-bbbb-cccc-000000000000", "container_name": "nginx"},
		"/var/log/containers/web-1_default_nginx-xyz.log":                           nil,
		"/var/log/containers/web_1_default_nginx-" + id + ".log":                    nil,
		"/var/log/app.log": nil,
		"/var/log/pods/shop_web-1_uid/nginx/0.log.20251123-080000":                nil,
		"/var/log/pods/nope/nginx/0.log":                                          nil,
		"/var/log/containers/web-1_default_nginx-" + strings.ToUpper(id) + ".log": nil,
	} {
		got := KubernetesFromPath(path)
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", path, got, want)
			continue
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %v, want %v", path, got, want)
			}
		}
	}
}

func TestKubernetesOff(t *testing.T) {
	_, evs := readAll(t, podLog, criLine(0, "stdout", "F", "x"), ", kubernetes: false", 1)
	if _, ok := evs[0].Fields()["kubernetes"]; ok {
		t.Fatalf("kubernetes: false still adds it: %v", evs[0].Fields())
	}
}

func TestConfig(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSource, "tail", "paths: /var/log/containers/*.log")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if c.Format != "auto" || c.ReadFromHead || c.DB != "" || c.MaxLineSize != 1<<20 || c.RefreshInterval != time.Second ||
		c.PollInterval != 250*time.Millisecond || c.CloseRemovedAfter != 5*time.Second || !c.Kubernetes ||
		c.Multiline.MaxLines != 500 || c.Multiline.Timeout != time.Second || c.Multiline.StartPattern != "" || len(c.Paths) != 1 {
		t.Fatalf("defaults %+v", c)
	}
	for _, bad := range []string{"{}", "paths: []", "paths: ['']", "{paths: [x], format: json}", "{paths: ['[']}",
		"{paths: [x], exclude: ['[']}", "{paths: [x], multiline: {start_pattern: '('}}", "{paths: [x], max_line_size: 1}",
		"{paths: [x], poll_interval: 0}", "{paths: [x], refresh_interval: 0}", "{paths: [x], multiline: {max_lines: 0}}", "{paths: [x], colour: red}"} {
		if _, err := pipelinestest.DecodeConfig(pipelines.KindSource, "tail", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := pipelinestest.DecodeConfig(pipelines.KindSource, "tail", `{paths: [x], multiline: {start_pattern: '^\d'}}`); err != nil {
		t.Error(err)
	}
}

func TestREADMEListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindSource, "tail", "README.md")
}
