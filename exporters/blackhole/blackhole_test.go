package blackhole

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func TestCountsAndDelivers(t *testing.T) {
	sk, reg, err := pipelinestest.Sink("blackhole", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := sk.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acks := 0
	evs := make([]*event.Event, 10)
	for i := range evs {
		evs[i] = event.New(event.KindLog, time.Now(), nil)
		a := event.NewAcker(func(ok bool) {
			mu.Lock()
			defer mu.Unlock()
			if ok {
				acks++
			}
		})
		a.Track(evs[i])
		a.Seal()
	}
	for i := 0; i < 3; i++ {
		if err := sk.Write(context.Background(), evs[:4+i]); err != nil {
			t.Fatal(err)
		}
	}
	// 4+5+6 = 15 events counted; an event is finalized once, so 6 acks.
	if got := pipelinestest.CounterValue(reg, "weft_component_events_sent_total", "component", "sink/0/blackhole"); got != 15 {
		t.Fatalf("sent = %v, want 15", got)
	}
	if got := sk.(*Sink).Count(); got != 15 {
		t.Fatalf("Count = %d", got)
	}
	mu.Lock()
	if acks != 6 {
		t.Errorf("acks = %d, want 6", acks)
	}
	mu.Unlock()
	if err := sk.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestLogEvery(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSink, "blackhole", "log_every: 10ms")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := pipelinestest.Settings("test", "sink/0/blackhole")
	log, hook := test.NewNullLogger()
	s.Logger = logrus.NewEntry(log)
	sk, _ := New(s, cfg.(*Config))
	_ = sk.Start(context.Background())
	_ = sk.Write(context.Background(), []*event.Event{event.New(event.KindLog, time.Now(), nil)})
	deadline := time.Now().Add(5 * time.Second)
	for len(hook.AllEntries()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := sk.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries := hook.AllEntries()
	if len(entries) == 0 || entries[0].Data["events"] != int64(1) {
		t.Fatalf("log entries %v", entries)
	}
	n := len(hook.AllEntries())
	time.Sleep(30 * time.Millisecond)
	if len(hook.AllEntries()) != n {
		t.Fatal("the logger goroutine kept running after Shutdown")
	}
}

func BenchmarkWrite(b *testing.B) {
	sk, _, _ := pipelinestest.Sink("blackhole", "")
	evs := make([]*event.Event, 1000)
	for i := range evs {
		evs[i] = event.New(event.KindLog, time.Now(), nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = sk.Write(context.Background(), evs)
	}
}
