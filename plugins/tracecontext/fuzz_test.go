package tracecontext

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// FuzzScan feeds arbitrary text to the processor as a message, as header
// values and as OTLP fields. It must never panic; whatever it emits must be
// a normalised, non-zero ID; an ID it takes from the message must be in the
// message; and it must not change the fields it reads.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"", "trace_id=", "trace_id=0 span_id=0", "traceparent", "traceparent:", "b3", "b3=", "x-b3-", "x-b3-traceid",
		"[trace_id=" + tid + " span_id=" + sid + " resource.service.name=payment trace_sampled=True] - hi",
		"span_id=" + sid + " trace_id=" + tid,
		"traceparent: 00-" + tid + "-" + sid + "-01",
		"traceparent=ff-" + tid + "-" + sid + "-01",
		"traceparent=01-" + tid + "-" + sid + "-01-extra",
		"b3: " + tid + "-" + sid + "-1-" + sid2,
		"b3=a3ce929d0e0e4736-" + sid + "-d",
		`{"x-b3-traceid":"` + tid + `","x-b3-spanid":"` + sid + `"}`,
		`\"x-b3-traceid\":\"` + tid + `\"`,
		headersOut,
		"X_B3_TRACEID: " + strings.ToUpper(tid),
		"trace_id=" + strings.Repeat("0", 32),
		b64(tid), b64(sid),
	} {
		f.Add(s)
	}
	for _, name := range []string{"python-otel-logging.log", "logrus-b3.ndjson", "cri-containerd.log", "docker-json.log"} {
		data, err := os.ReadFile(fixtures + name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f.Add(sc.Text())
		}
	}
	p, _ := newProcessor(f, `{paths: [{trace_id: ctx/t, span_id: ctx/s}], patterns: ['id=(?P<trace_id>[^ ]*) (?P<span_id>[^ ]*) (?P<flags>[^ ]*)'], tags_on_found: [found]}`)
	f.Fuzz(func(t *testing.T, msg string) {
		inputs := []map[string]any{
			{"message": msg},
			{"headers": map[string]any{"traceparent": msg, "b3": msg, "x-b3-traceid": msg, "x-b3-spanid": msg, "x-b3-sampled": msg}},
			{"traceparent": []any{msg}, "X-B3-Flags": msg},
			{"traceId": msg, "spanId": msg, "flags": msg},
			{"ctx": map[string]any{"t": msg, "s": msg}},
		}
		evs := make([]*event.Event, len(inputs))
		for i, in := range inputs {
			evs[i] = event.New(event.KindLog, time.Unix(0, 0), event.DeepCopyMap(in))
		}
		process(p, evs...)
		for i, ev := range evs {
			fields := ev.Fields()
			for k, v := range inputs[i] {
				if string(event.AppendJSON(nil, fields[k])) != string(event.AppendJSON(nil, v)) && !(i == 3 && (k == "traceId" || k == "spanId")) {
					t.Fatalf("input %d: field %s changed to %v", i, k, fields[k])
				}
			}
			traceV, hasTrace := fields["traceId"]
			if i == 3 && traceV == msg && !isID(msg, 32) {
				hasTrace = false // the otlp input left as it was: nothing found
			}
			if !hasTrace {
				if ev.HasTag("found") {
					t.Fatalf("input %d: tagged found without a traceId", i)
				}
				continue
			}
			trace, _ := traceV.(string)
			if !isID(trace, 32) {
				t.Fatalf("input %d: traceId %q", i, trace)
			}
			if spanV, ok := fields["spanId"]; ok && !(i == 3 && spanV == msg && !isID(msg, 16)) {
				if span, _ := spanV.(string); !isID(span, 16) {
					t.Fatalf("input %d: spanId %q", i, spanV)
				}
			}
			if fl, ok := fields["traceFlags"]; ok {
				if s, _ := fl.(string); len(s) != 2 || !isLowerHex(s) {
					t.Fatalf("input %d: traceFlags %q", i, fl)
				}
			}
			if i == 0 {
				// Text IDs are copied from the text: the trace ID (or its
				// low half when a 64-bit B3 ID was padded) is in it.
				low := strings.ToLower(msg)
				if !strings.Contains(low, trace) && !(strings.HasPrefix(trace, zeros16) && strings.Contains(low, trace[16:])) {
					t.Fatalf("traceId %s is not in the message %q", trace, msg)
				}
				if span, ok := fields["spanId"].(string); ok && !strings.Contains(low, span) {
					t.Fatalf("spanId %s is not in the message %q", span, msg)
				}
				if svc, ok := fields["serviceName"].(string); ok && !strings.Contains(msg, svc) {
					t.Fatalf("serviceName %s is not in the message %q", svc, msg)
				}
			}
		}
	})
}

// isID reports whether s is n lowercase hex digits, not all zero.
func isID(s string, n int) bool {
	return len(s) == n && isLowerHex(s) && strings.Trim(s, "0") != ""
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
