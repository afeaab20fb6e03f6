package sinkcore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/weft-agent/weft/pipelines"
)

// With OrderPerKey, one key's batches are flushed one at a time and in the
// order they were sealed, while different keys still flush concurrently.
func TestBatcherOrderPerKey(t *testing.T) {
	const keys, perKey = 6, 400
	var mu sync.Mutex
	last := map[string]int{}
	inKey := map[string]int{}
	var flushing, maxFlushing atomic.Int32
	var violations []string
	flush := func(_ context.Context, b *Batch[int]) {
		mu.Lock()
		inKey[b.Key]++
		if inKey[b.Key] > 1 {
			violations = append(violations, fmt.Sprintf("two concurrent flushes of key %s", b.Key))
		}
		for _, it := range b.Items {
			if prev, ok := last[b.Key]; ok && it != prev+1 {
				violations = append(violations, fmt.Sprintf("key %s: item %d after %d", b.Key, it, prev))
			}
			last[b.Key] = it
		}
		mu.Unlock()
		n := flushing.Add(1)
		for {
			m := maxFlushing.Load()
			if n <= m || maxFlushing.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(200 * time.Microsecond)
		flushing.Add(-1)
		mu.Lock()
		inKey[b.Key]--
		mu.Unlock()
	}
	b := NewBatcher(BatcherConfig{MaxItems: 7, FlushTimeout: time.Millisecond, MaxBuffered: 300, MaxInflight: 4, OrderPerKey: true}, nil, flush)
	b.Start()
	var wg sync.WaitGroup
	for k := 0; k < keys; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("k", k)
			for i := 0; i < perKey; {
				n := min(1+i%9, perKey-i)
				if _, err := b.Add(context.Background(), key, seq(i, n)); err != nil {
					t.Error(err)
					return
				}
				i += n
			}
		}()
	}
	wg.Wait()
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Fatalf("%d ordering violations, first: %s", len(violations), violations[0])
	}
	for k := 0; k < keys; k++ {
		if got := last[fmt.Sprint("k", k)]; got != perKey-1 {
			t.Fatalf("key k%d: last item %d, want %d", k, got, perKey-1)
		}
	}
	if maxFlushing.Load() < 2 {
		t.Fatalf("at most %d flush at once: different keys should flush concurrently", maxFlushing.Load())
	}
	if b.Buffered() != 0 {
		t.Fatalf("%d items still buffered", b.Buffered())
	}
}

// A key's batches sealed while one of its batches is being flushed wait for
// it, also when Shutdown seals them; nothing is lost.
func TestBatcherOrderPerKeyShutdownDrainsWaiting(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []int
	flush := func(_ context.Context, b *Batch[int]) {
		if b.Items[0] == 0 {
			<-release
		}
		mu.Lock()
		got = append(got, b.Items...)
		mu.Unlock()
	}
	b := NewBatcher(BatcherConfig{MaxItems: 2, FlushTimeout: time.Hour, MaxBuffered: 100, MaxInflight: 3, OrderPerKey: true}, nil, flush)
	b.Start()
	b.Add(context.Background(), "s", seq(0, 2)) // sealed, blocks in flush
	waitFor(t, "first batch flushing", func() bool { return b.Buffered() == 2 })
	b.Add(context.Background(), "s", seq(2, 5)) // two sealed batches wait, one open
	done := make(chan error)
	go func() { done <- b.Shutdown(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(seq(0, 7)) {
		t.Fatalf("flushed %v, want %v in order", got, seq(0, 7))
	}
}

// Never started: Shutdown flushes the waiting batches of a key in order too.
func TestBatcherOrderPerKeyWithoutStart(t *testing.T) {
	var c collector
	b := NewBatcher(BatcherConfig{MaxItems: 2, FlushTimeout: time.Hour, MaxBuffered: 100, OrderPerKey: true}, nil, c.flush)
	b.Add(context.Background(), "s", seq(0, 5))
	b.Shutdown(context.Background())
	if fmt.Sprint(c.items()) != fmt.Sprint(seq(0, 5)) {
		t.Fatalf("flushed %v", c.items())
	}
}

func TestRegisterReusesExisting(t *testing.T) {
	reg := prometheus.NewRegistry()
	c1 := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "h"}, []string{"l"})
	got, err := pipelines.RegisterMetric(reg, c1)
	if err != nil || got != c1 {
		t.Fatalf("first Register = %v, %v", got, err)
	}
	c1.WithLabelValues("a").Inc()
	c2 := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "h"}, []string{"l"})
	got, err = pipelines.RegisterMetric(reg, c2)
	if err != nil || got != c1 {
		t.Fatalf("second Register = %v, %v: want the first collector back", got, err)
	}
	if _, err := pipelines.RegisterMetric(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "x_total", Help: "other"})); err == nil {
		t.Fatal("a different collector under a taken name must fail")
	}
}

// Many keys, none of whose batches is full, can fill the buffer: the open
// batches are then sent at once instead of after their flush timeout.
func TestBatcherFullOfOpenBatchesFlushes(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		var c collector
		b := NewBatcher(BatcherConfig{MaxItems: 100, FlushTimeout: time.Hour, MaxBuffered: 50, MaxInflight: 2, OrderPerKey: ordered}, nil, c.flush)
		b.Start()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for k := 0; k < 20; k++ {
			if _, err := b.Add(ctx, fmt.Sprint("k", k), seq(k*10, 10)); err != nil {
				t.Fatalf("ordered=%v: Add blocked with only open batches held: %v", ordered, err)
			}
		}
		cancel()
		waitFor(t, "the first flushes", func() bool { return len(c.items()) >= 150 })
		b.Shutdown(context.Background())
		if len(c.items()) != 200 {
			t.Fatalf("flushed %d items", len(c.items()))
		}
	}
}
