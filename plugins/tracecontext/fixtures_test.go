package tracecontext

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// The shared fixtures: one shop scenario seen through every input format.
const fixtures = "../../../shared/fixtures/"

// pythonRE is the test's own, independent reading of the Python logging
// format, used to compute the expected IDs from the fixture text.
var pythonRE = regexp.MustCompile(`\[trace_id=([0-9a-f]{32}) span_id=([0-9a-f]{16}) resource\.service\.name=([^\]\s]+)\]`)

type want struct {
	trace, span, flags, service string
}

func readLines(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(fixtures + name)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func pythonWant(text string) (want, bool) {
	m := pythonRE.FindStringSubmatch(text)
	if m == nil {
		return want{}, false
	}
	return want{trace: m[1], span: m[2], service: m[3]}, true
}

// TestFixtures runs every fixture line that can carry trace context
// through the processor and checks the IDs against those the test reads
// from the fixture itself.
func TestFixtures(t *testing.T) {
	type record struct {
		ev   *event.Event
		want want
		ok   bool // carries context
	}
	cases := map[string]func(t *testing.T) []record{
		"python-otel-logging.log": func(t *testing.T) []record {
			var out []record
			for _, l := range readLines(t, "python-otel-logging.log") {
				w, ok := pythonWant(l)
				out = append(out, record{event.New(event.KindLog, time.Unix(0, 0), map[string]any{"message": l}), w, ok})
			}
			return out
		},
		"cri-containerd.log": func(t *testing.T) []record {
			var out []record
			for _, l := range readLines(t, "cri-containerd.log") {
				// <time> <stream> <P|F> <message>: the CRI source puts the
				// message in "log".
				parts := strings.SplitN(l, " ", 4)
				w, ok := pythonWant(parts[3])
				out = append(out, record{event.New(event.KindLog, time.Unix(0, 0),
					map[string]any{"log": parts[3], "stream": parts[1], "logtag": parts[2]}), w, ok})
			}
			return out
		},
		"docker-json.log": func(t *testing.T) []record {
			var out []record
			for _, l := range readLines(t, "docker-json.log") {
				var std struct{ Log string }
				if err := json.Unmarshal([]byte(l), &std); err != nil {
					t.Fatal(err)
				}
				w, ok := pythonWant(std.Log)
				out = append(out, record{newEvent(t, l), w, ok})
			}
			return out
		},
		"fluentbit-http-payload.json": func(t *testing.T) []record {
			data, err := os.ReadFile(fixtures + "fluentbit-http-payload.json")
			if err != nil {
				t.Fatal(err)
			}
			var std []struct{ Log string }
			if err := json.Unmarshal(data, &std); err != nil {
				t.Fatal(err)
			}
			var out []record
			i := 0
			if err := event.DecodeJSONArray(data, func(elem any) error {
				w, ok := pythonWant(std[i].Log)
				i++
				out = append(out, record{event.New(event.KindLog, time.Unix(0, 0), elem.(map[string]any)), w, ok})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return out
		},
		"logrus-b3.ndjson": func(t *testing.T) []record {
			var out []record
			for _, l := range readLines(t, "logrus-b3.ndjson") {
				var std struct {
					Headers map[string]string
				}
				if err := json.Unmarshal([]byte(l), &std); err != nil {
					t.Fatal(err)
				}
				h := std.Headers
				w := want{trace: h["x-b3-traceid"], span: h["x-b3-spanid"]}
				switch h["x-b3-sampled"] {
				case "1":
					w.flags = "01"
				case "0":
					w.flags = "00"
				}
				out = append(out, record{newEvent(t, l), w, w.trace != ""})
			}
			return out
		},
	}
	for name, load := range cases {
		t.Run(name, func(t *testing.T) {
			recs := load(t)
			p, reg := newProcessor(t, ``)
			evs := make([]*event.Event, len(recs))
			withCtx := 0
			for i, r := range recs {
				evs[i] = r.ev
				if r.ok {
					withCtx++
				}
			}
			if withCtx == 0 {
				t.Fatal("fixture has no line with trace context")
			}
			process(p, evs...)
			for i, r := range recs {
				f := r.ev.Fields()
				if !r.ok {
					for _, k := range []string{"traceId", "spanId", "traceFlags", "serviceName"} {
						if _, has := f[k]; has {
							t.Errorf("line %d has no context but got %s=%v", i+1, k, f[k])
						}
					}
					continue
				}
				got := want{trace: str(f["traceId"]), span: str(f["spanId"]), flags: str(f["traceFlags"]), service: str(f["serviceName"])}
				if got != r.want {
					t.Errorf("line %d: got %+v, want %+v", i+1, got, r.want)
				}
				if len(r.ev.Tags()) != 0 {
					t.Errorf("line %d: tags %v", i+1, r.ev.Tags())
				}
			}
			if n := metric(t, reg, "weft_trace_context_found_total", nil); n != float64(withCtx) {
				t.Errorf("found = %v, want %d", n, withCtx)
			}
			if n := metric(t, reg, "weft_trace_context_missing_total", nil); n != float64(len(recs)-withCtx) {
				t.Errorf("missing = %v, want %d", n, len(recs)-withCtx)
			}
			if n := metric(t, reg, "weft_trace_context_invalid_ids_total", nil); n != 0 {
				t.Errorf("invalid = %v, want 0", n)
			}
		})
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
