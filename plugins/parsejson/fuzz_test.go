package parsejson

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

// FuzzParseJSON feeds arbitrary messages through several configurations:
// nothing may panic, the event always comes back, a failed event is tagged
// and left as it was, and a parsed object's keys all reach the event.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		logrusLine,
		`{}`, `[]`, `null`, `1e400`, `"\ud800"`, `{"a":{"b":[1,{"c":null}]}}`,
		`{"message":"inner","outer_key":{"inner_key":[1,2]}}`, `{"a":1}{`, `{"a" 1}`,
		`{"list":[{"x":{"y":{"z":1}}}]}`, "{\"\xff\":1}", `{"a":"\u0000"}`,
	} {
		f.Add(s)
	}
	configs := []string{
		`tags_on_failure: [f]`,
		`{destination: d, pointer: outer_key/inner_key/1, depth: 2, tags_on_failure: [f]}`,
		`{pointer: /a, delete_source: true, overwrite_if_destination_exists: false, tags_on_failure: [f]}`,
		`{depth: 1, delete_source: true, tags_on_failure: [f]}`,
	}
	procs := make([]pipelines.Processor, len(configs))
	for i, c := range configs {
		procs[i] = newProcessor(f, c)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		orig := strings.Clone(msg) // the decoder reads msg in place: it must not write to it
		parsed, perr := event.DecodeJSON([]byte(msg))
		for i, p := range procs {
			ev := event.New(event.KindLog, time.Time{}, map[string]any{"message": msg, "other": int64(1)})
			out := p.Process(context.Background(), []*event.Event{ev})
			if len(out) != 1 || out[0] != ev {
				t.Fatalf("config %d: %d events back", i, len(out))
			}
			_ = ev.AppendJSON(nil) // the result must be encodable
			if msg != orig {
				t.Fatalf("config %d: the message string was modified", i)
			}
			if ev.HasTag("f") {
				if got := ev.Fields()["message"]; got != msg || len(ev.Fields()) != 2 {
					t.Fatalf("config %d: failed event changed: %v", i, ev.Fields())
				}
				continue
			}
			if perr != nil {
				t.Fatalf("config %d: invalid JSON (%v) not tagged", i, perr)
			}
			if i == 0 {
				obj, ok := parsed.(map[string]any)
				if !ok {
					t.Fatalf("config 0: non-object %T not tagged", parsed)
				}
				for k := range obj {
					if _, ok := ev.Fields()[k]; !ok {
						t.Fatalf("config 0: key %q missing after parse", k)
					}
				}
			}
		}
	})
}
