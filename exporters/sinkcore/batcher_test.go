package sinkcore

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type collector struct {
	mu      sync.Mutex
	batches [][]int
	keys    []string
	ctxErrs []error
}

func (c *collector) flush(ctx context.Context, b *Batch[int]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, append([]int(nil), b.Items...))
	c.keys = append(c.keys, b.Key)
	c.ctxErrs = append(c.ctxErrs, ctx.Err())
}

func (c *collector) items() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, b := range c.batches {
		out = append(out, b...)
	}
	return out
}

func (c *collector) sizes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, b := range c.batches {
		out = append(out, len(b))
	}
	return out
}

func seq(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBatcherSealsAtMaxItems(t *testing.T) {
	var c collector
	b := NewBatcher(BatcherConfig{MaxItems: 10, FlushTimeout: time.Hour, MaxBuffered: 1000, MaxInflight: 1}, nil, c.flush)
	b.Start()
	if n, err := b.Add(context.Background(), "", seq(0, 25)); n != 25 || err != nil {
		t.Fatalf("Add = %d, %v", n, err)
	}
	waitFor(t, "two full batches", func() bool { return len(c.sizes()) == 2 })
	if got := c.sizes(); got[0] != 10 || got[1] != 10 {
		t.Fatalf("batch sizes %v", got)
	}
	if b.Buffered() != 5 {
		t.Fatalf("buffered %d, want 5 in the open batch", b.Buffered())
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := c.items()
	if len(got) != 25 {
		t.Fatalf("flushed %d items", len(got))
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("order: item %d is %d", i, v)
		}
	}
	if b.Buffered() != 0 {
		t.Fatalf("buffered %d after shutdown", b.Buffered())
	}
}

func TestBatcherSealsAtMaxBytes(t *testing.T) {
	var c collector
	size := func(int) int { return 100 }
	b := NewBatcher(BatcherConfig{MaxItems: 1000, MaxBytes: 350, FlushTimeout: time.Hour, MaxBuffered: 1000, MaxInflight: 1}, size, c.flush)
	b.Start()
	b.Add(context.Background(), "", seq(0, 10))
	b.Shutdown(context.Background())
	want := []int{3, 3, 3, 1}
	got := c.sizes()
	if len(got) != len(want) {
		t.Fatalf("batch sizes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("batch sizes %v, want %v", got, want)
		}
	}
}

func TestBatcherOversizedItemAlone(t *testing.T) {
	var c collector
	size := func(v int) int {
		if v == 1 {
			return 1000
		}
		return 10
	}
	b := NewBatcher(BatcherConfig{MaxItems: 100, MaxBytes: 100, FlushTimeout: time.Hour, MaxBuffered: 100, MaxInflight: 1}, size, c.flush)
	b.Start()
	b.Add(context.Background(), "", []int{0, 1, 2})
	b.Shutdown(context.Background())
	got := c.sizes()
	if len(got) != 3 {
		t.Fatalf("batch sizes %v, want [1 1 1]", got)
	}
}

func TestBatcherFlushTimeout(t *testing.T) {
	var c collector
	b := NewBatcher(BatcherConfig{MaxItems: 100, FlushTimeout: 20 * time.Millisecond, MaxBuffered: 1000, MaxInflight: 1}, nil, c.flush)
	b.Start()
	defer b.Shutdown(context.Background())
	start := time.Now()
	b.Add(context.Background(), "", seq(0, 3))
	waitFor(t, "the timeout flush", func() bool { return len(c.items()) == 3 })
	if el := time.Since(start); el < 15*time.Millisecond {
		t.Fatalf("flushed after %v, before the timeout", el)
	}
	// A second batch later gets its own timeout.
	b.Add(context.Background(), "", seq(3, 2))
	waitFor(t, "the second timeout flush", func() bool { return len(c.items()) == 5 })
}

func TestBatcherZeroTimeoutSealsEachAdd(t *testing.T) {
	var c collector
	b := NewBatcher(BatcherConfig{MaxItems: 100, MaxBuffered: 1000, MaxInflight: 1}, nil, c.flush)
	b.Start()
	b.Add(context.Background(), "", seq(0, 3))
	waitFor(t, "the flush", func() bool { return len(c.items()) == 3 })
	b.Shutdown(context.Background())
}

func TestBatcherKeys(t *testing.T) {
	var c collector
	b := NewBatcher(BatcherConfig{MaxItems: 100, FlushTimeout: time.Hour, MaxBuffered: 1000, MaxInflight: 2}, nil, c.flush)
	b.Start()
	b.Add(context.Background(), "a", seq(0, 3))
	b.Add(context.Background(), "b", seq(10, 2))
	b.Add(context.Background(), "a", seq(3, 1))
	b.Shutdown(context.Background())
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.batches) != 2 {
		t.Fatalf("batches %v", c.batches)
	}
	for i, k := range c.keys {
		switch k {
		case "a":
			if len(c.batches[i]) != 4 {
				t.Fatalf("batch a: %v", c.batches[i])
			}
		case "b":
			if len(c.batches[i]) != 2 {
				t.Fatalf("batch b: %v", c.batches[i])
			}
		default:
			t.Fatalf("key %q", k)
		}
	}
}

// TestBatcherBoundedWhenDestinationBlocks is the memory bound: with a
// destination that never answers, Add stops taking items at MaxBuffered and
// blocks; the heap does not grow with the offered load.
func TestBatcherBoundedWhenDestinationBlocks(t *testing.T) {
	const maxBuffered = 500
	const itemSize = 1024
	unblock := make(chan struct{})
	var flushing, maxFlushing atomic.Int32
	var flushed atomic.Int64
	flush := func(ctx context.Context, b *Batch[[]byte]) {
		n := flushing.Add(1)
		for {
			m := maxFlushing.Load()
			if n <= m || maxFlushing.CompareAndSwap(m, n) {
				break
			}
		}
		<-unblock
		flushing.Add(-1)
		flushed.Add(int64(len(b.Items)))
	}
	size := func(b []byte) int { return len(b) }
	b := NewBatcher(BatcherConfig{MaxItems: 50, MaxBytes: 1 << 20, FlushTimeout: time.Millisecond, MaxBuffered: maxBuffered, MaxInflight: 3}, size, flush)
	var gauge atomic.Int64
	var gaugeMax atomic.Int64
	b.OnBuffered = func(n int) {
		gauge.Store(int64(n))
		for {
			m := gaugeMax.Load()
			if int64(n) <= m || gaugeMax.CompareAndSwap(m, int64(n)) {
				break
			}
		}
	}
	b.Start()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// Producers offer 40x the buffer, each item a fresh 1 KiB.
	const producers = 4
	const perProducer = 10 * maxBuffered
	var offered atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; i++ {
				item := make([]byte, itemSize)
				if _, err := b.Add(ctx, "", [][]byte{item}); err != nil {
					return
				}
				offered.Add(1)
			}
		}()
	}
	waitFor(t, "the buffer to fill", func() bool { return b.Buffered() == maxBuffered })
	time.Sleep(50 * time.Millisecond) // producers are blocked, not spinning
	if got := offered.Load(); got != maxBuffered {
		t.Fatalf("Add accepted %d items with a blocked destination, want exactly %d", got, maxBuffered)
	}
	if !b.Full() {
		t.Fatal("Full() is false with a full buffer")
	}
	waitFor(t, "MaxInflight flushes", func() bool { return maxFlushing.Load() == 3 })
	if got := maxFlushing.Load(); got != 3 {
		t.Fatalf("%d flushes at once, want MaxInflight 3", got)
	}
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	grown := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	if limit := int64(maxBuffered*itemSize*3 + 1<<20); grown > limit {
		t.Fatalf("heap grew by %d bytes with a blocked destination, limit %d", grown, limit)
	}

	// Unblocking lets everything through, and the bound holds throughout.
	close(unblock)
	wg.Wait()
	cancel()
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := flushed.Load(), int64(producers*perProducer); got != want {
		t.Fatalf("flushed %d items, want %d", got, want)
	}
	if m := gaugeMax.Load(); m > maxBuffered {
		t.Fatalf("buffered gauge reached %d > %d", m, maxBuffered)
	}
	if gauge.Load() != 0 {
		t.Fatalf("buffered gauge %d after shutdown", gauge.Load())
	}
}

func TestBatcherAddHonoursContext(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	b := NewBatcher(BatcherConfig{MaxItems: 2, FlushTimeout: time.Hour, MaxBuffered: 4, MaxInflight: 1},
		nil, func(ctx context.Context, _ *Batch[int]) {
			select {
			case <-block:
			case <-ctx.Done():
			}
		})
	b.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	n, err := b.Add(ctx, "", seq(0, 10))
	if n != 4 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Add = %d, %v; want 4 taken and the deadline", n, err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer scancel()
	if err := b.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
}

func TestBatcherShutdownWakesBlockedAdd(t *testing.T) {
	release := make(chan struct{})
	b := NewBatcher(BatcherConfig{MaxItems: 1, FlushTimeout: time.Hour, MaxBuffered: 1, MaxInflight: 1},
		nil, func(ctx context.Context, _ *Batch[int]) {
			select {
			case <-release:
			case <-ctx.Done():
			}
		})
	b.Start()
	b.Add(context.Background(), "", []int{1})
	res := make(chan error, 1)
	go func() {
		_, err := b.Add(context.Background(), "", []int{2})
		res <- err
	}()
	time.Sleep(10 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- b.Shutdown(context.Background()) }()
	select {
	case err := <-res:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked Add returned %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked Add not woken by Shutdown")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(context.Background(), "", []int{3}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Shutdown = %v", err)
	}
}

func TestBatcherShutdownDeadlineCancelsFlushes(t *testing.T) {
	var c collector
	var mu sync.Mutex
	cancelled := 0
	flush := func(ctx context.Context, bt *Batch[int]) {
		select {
		case <-ctx.Done():
			mu.Lock()
			cancelled += len(bt.Items)
			mu.Unlock()
		case <-time.After(10 * time.Second):
			c.flush(ctx, bt)
		}
	}
	b := NewBatcher(BatcherConfig{MaxItems: 5, FlushTimeout: time.Hour, MaxBuffered: 100, MaxInflight: 1}, nil, flush)
	b.Start()
	b.Add(context.Background(), "", seq(0, 23))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := b.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("Shutdown did not give up at its deadline")
	}
	if cancelled != 23 {
		t.Fatalf("%d items finalized with a cancelled context, want all 23", cancelled)
	}
	if b.Buffered() != 0 {
		t.Fatalf("buffered %d", b.Buffered())
	}
}

func TestBatcherShutdownWithoutStart(t *testing.T) {
	var c collector
	b := NewBatcher(BatcherConfig{MaxItems: 5, FlushTimeout: time.Hour, MaxBuffered: 100, MaxInflight: 2}, nil, c.flush)
	b.Add(context.Background(), "", seq(0, 7))
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.items()) != 7 {
		t.Fatalf("flushed %v", c.items())
	}
	b.Start() // no effect, no goroutine left behind
}

func TestBatcherExplicitFlush(t *testing.T) {
	var c collector
	b := NewBatcher(BatcherConfig{MaxItems: 100, FlushTimeout: time.Hour, MaxBuffered: 100, MaxInflight: 1}, nil, c.flush)
	b.Start()
	defer b.Shutdown(context.Background())
	b.Add(context.Background(), "", seq(0, 3))
	b.Flush()
	waitFor(t, "the flush", func() bool { return len(c.items()) == 3 })
}

func TestBatcherMaxItemsCappedByBuffer(t *testing.T) {
	b := NewBatcher(BatcherConfig{MaxItems: 1000, MaxBuffered: 10}, nil, func(context.Context, *Batch[int]) {})
	if got := b.Config().MaxItems; got != 10 {
		t.Fatalf("MaxItems %d, want it lowered to MaxBuffered 10", got)
	}
}

func TestBatcherConcurrentAdds(t *testing.T) {
	var total atomic.Int64
	b := NewBatcher(BatcherConfig{MaxItems: 7, MaxBytes: 0, FlushTimeout: time.Millisecond, MaxBuffered: 50, MaxInflight: 3}, nil,
		func(_ context.Context, bt *Batch[int]) { total.Add(int64(len(bt.Items))) })
	b.Start()
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				b.Add(context.Background(), "", seq(0, 1+i%5))
			}
		}()
	}
	wg.Wait()
	b.Shutdown(context.Background())
	want := int64(0)
	for i := 0; i < 200; i++ {
		want += int64(1 + i%5)
	}
	if total.Load() != 8*want {
		t.Fatalf("flushed %d, want %d", total.Load(), 8*want)
	}
}
