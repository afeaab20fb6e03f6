package dropevents

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func newEvent(t testing.TB, js string) *event.Event { return pipelinestest.Event(t, js) }

// dropped reads weft_component_events_dropped_total by reason.
func dropped(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "weft_component_events_dropped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var reason, component string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "reason":
					reason = l.GetValue()
				case "component":
					component = l.GetValue()
				}
			}
			if component != "processor/0/drop_events" {
				t.Errorf("dropped counted for component %q", component)
			}
			out[reason] += m.GetCounter().GetValue()
		}
	}
	return out
}

func TestDropEvents(t *testing.T) {
	// The batch: ids 1..6. Event 4 has no level; event 5's status is not a
	// number (a comparison with it fails); event 6's level is not a string.
	batch := []string{
		`{"id":1,"level":"debug","status":200}`,
		`{"id":2,"level":"info","status":500}`,
		`{"id":3,"level":"debug","status":404}`,
		`{"id":4,"status":200}`,
		`{"id":5,"level":"info","status":"n/a"}`,
		`{"id":6,"level":7,"status":200}`,
	}
	tests := []struct {
		name    string
		opts    string
		kept    []int64
		dropped map[string]float64
	}{
		{"drop all", `drop_when: "true"`,
			nil, map[string]float64{"drop_when": 6}},
		{"drop none", `drop_when: "false"`,
			[]int64{1, 2, 3, 4, 5, 6}, map[string]float64{}},
		{"by field, missing field is not equal", `drop_when: '/level == "debug"'`,
			[]int64{2, 4, 5, 6}, map[string]float64{"drop_when": 2}},
		{"set membership", `drop_when: '/level in {"debug", "trace"}'`,
			[]int64{2, 4, 5, 6}, map[string]float64{"drop_when": 2}},
		{"failure dropped by default", `drop_when: '/status < 400'`,
			[]int64{2, 3}, map[string]float64{"drop_when": 3, "drop_when_error": 1}},
		{"failure dropped", `{drop_when: '/status < 400', handle_failed_events: drop}`,
			[]int64{2, 3}, map[string]float64{"drop_when": 3, "drop_when_error": 1}},
		{"failure dropped silently", `{drop_when: '/status < 400', handle_failed_events: drop_silently}`,
			[]int64{2, 3}, map[string]float64{"drop_when": 3, "drop_when_error": 1}},
		{"failure skipped", `{drop_when: '/status < 400', handle_failed_events: skip}`,
			[]int64{2, 3, 5}, map[string]float64{"drop_when": 3}},
		{"failure skipped silently", `{drop_when: '/status < 400', handle_failed_events: skip_silently}`,
			[]int64{2, 3, 5}, map[string]float64{"drop_when": 3}},
		{"non-boolean result is a failure", `{drop_when: '/level', handle_failed_events: skip}`,
			[]int64{1, 2, 3, 4, 5, 6}, map[string]float64{}},
		{"failure on missing field", `drop_when: '/level =~ "d.*"'`,
			[]int64{2, 5}, map[string]float64{"drop_when": 2, "drop_when_error": 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, reg, err := pipelinestest.Processor("drop_events", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			evs := make([]*event.Event, len(batch))
			for i, js := range batch {
				evs[i] = newEvent(t, js)
			}
			out := p.Process(context.Background(), evs)
			var kept []int64
			for _, ev := range out {
				kept = append(kept, ev.Fields()["id"].(int64))
			}
			if !reflect.DeepEqual(kept, tc.kept) {
				t.Errorf("kept %v, want %v", kept, tc.kept)
			}
			if len(out) > 0 && &out[0] != &evs[0] {
				t.Error("the output does not reuse the input slice")
			}
			if got := dropped(t, reg); !reflect.DeepEqual(got, tc.dropped) {
				t.Errorf("dropped %v, want %v", got, tc.dropped)
			}
		})
	}
}

// A dropped event that a source tracks must be acknowledged (as a success:
// it was dropped on purpose); a kept one stays pending.
func TestDroppedEventsAreAcknowledged(t *testing.T) {
	for _, mode := range []string{"drop", "drop_silently"} {
		t.Run(mode, func(t *testing.T) {
			p, _, err := pipelinestest.Processor("drop_events", `{drop_when: '/n > 1', handle_failed_events: `+mode+`}`)
			if err != nil {
				t.Fatal(err)
			}
			var calls []bool
			// One unit per event: its callback says when that event is done.
			track := func(ev *event.Event) {
				a := event.NewAcker(func(ok bool) { calls = append(calls, ok) })
				a.Track(ev)
				a.Seal()
			}
			matched, failed, kept := newEvent(t, `{"n":2}`), newEvent(t, `{"n":"x"}`), newEvent(t, `{"n":0}`)
			for _, ev := range []*event.Event{matched, failed, kept} {
				track(ev)
			}
			out := p.Process(context.Background(), []*event.Event{matched, failed, kept})
			if len(out) != 1 || out[0] != kept {
				t.Fatalf("kept %d events", len(out))
			}
			if !reflect.DeepEqual(calls, []bool{true, true}) {
				t.Errorf("acknowledgements %v, want two successes", calls)
			}
			if kept.HasAcker() == false || matched.HasAcker() || failed.HasAcker() {
				t.Errorf("ack handles: kept %v, matched %v, failed %v", kept.HasAcker(), matched.HasAcker(), failed.HasAcker())
			}
			kept.Finalize(event.Delivered)
			if len(calls) != 3 {
				t.Errorf("kept event not acknowledged on delivery")
			}
		})
	}
}

func TestFailureLogRateLimited(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		lines []int64 // failed_events of each warning
		text  string
	}{
		{"drop", []int64{1, 4, 2}, "dropped"},
		{"skip", []int64{1, 4, 2}, "kept"},
		{"drop_silently", nil, ""},
		{"skip_silently", nil, ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s, _ := pipelinestest.Settings("test", "processor/0/drop_events")
			logger, hook := logtest.NewNullLogger()
			s.Logger = logrus.NewEntry(logger)
			cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "drop_events", `{drop_when: '/n > 1', handle_failed_events: `+tc.mode+`}`)
			if err != nil {
				t.Fatal(err)
			}
			proc, err := New(s, cfg.(*Config))
			if err != nil {
				t.Fatal(err)
			}
			p := proc.(*processor)
			clock := time.Unix(1000, 0)
			p.failures.Now = func() time.Time { return clock }
			bad := func(n int) {
				for i := 0; i < n; i++ {
					p.Process(context.Background(), []*event.Event{newEvent(t, `{"n":"x"}`), newEvent(t, `{"n":0}`)})
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
				if e.Level != logrus.WarnLevel || !strings.Contains(e.Message, tc.text) {
					t.Errorf("line %v %q", e.Level, e.Message)
				}
				if e.Data[logrus.ErrorKey] == nil && len(got) < 2 {
					t.Errorf("line without the error: %v", e.Data)
				}
				got = append(got, e.Data["failed_events"].(int64))
			}
			if !reflect.DeepEqual(got, tc.lines) {
				t.Errorf("warnings with counts %v, want %v", got, tc.lines)
			}
		})
	}
}

// Workers call the processor at once; the counters and the failure log
// must add up.
func TestConcurrentUse(t *testing.T) {
	p, reg, err := pipelinestest.Processor("drop_events", `drop_when: '/n > 1'`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				evs := []*event.Event{
					event.New(event.KindLog, time.Time{}, map[string]any{"n": int64(2)}),
					event.New(event.KindLog, time.Time{}, map[string]any{"n": "x"}),
					event.New(event.KindLog, time.Time{}, map[string]any{"n": int64(0)}),
				}
				if out := p.Process(context.Background(), evs); len(out) != 1 {
					t.Errorf("kept %d", len(out))
				}
			}
		}()
	}
	wg.Wait()
	if got := dropped(t, reg); got["drop_when"] != 800 || got["drop_when_error"] != 800 {
		t.Errorf("dropped %v", got)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"missing drop_when", `{}`,
			[]string{`option "drop_when": required option is missing`}},
		{"misspelt drop_when", `drop_wen: "true"`,
			[]string{`unknown option "drop_wen"`, `did you mean "drop_when"?`}},
		{"bad expression", `drop_when: '/a =='`,
			[]string{`option "drop_when"`}},
		{"unknown handling", `{drop_when: "true", handle_failed_events: dorp}`,
			[]string{`option "handle_failed_events": "dorp" is not one of drop, drop_silently, skip, skip_silently`, `did you mean "drop"?`}},
		{"drop_when not a string", `drop_when: [a]`,
			[]string{`option "drop_when": expected a string`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "drop_events", tc.opts)
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

// TestReadmeListsEveryOption keeps README.md's option table in step with
// the config struct: same names, types and defaults.
func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "drop_events", "README.md")
}

func BenchmarkDropEvents(b *testing.B) {
	p, _, err := pipelinestest.Processor("drop_events", `drop_when: '/level == "debug"'`)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evs := event.NewBatch(1000, event.KindLog, time.Unix(0, 0))
		for j, ev := range evs {
			level := "info"
			if j%4 == 0 {
				level = "debug"
			}
			ev.SetFields(map[string]any{"message": "m", "level": level, "host": "web-1", "status": int64(200), "service": "api", "trace_id": "t"})
		}
		b.StartTimer()
		p.Process(ctx, evs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/event")
}
