// Package sinkcore holds the pieces that network sinks (OpenSearch,
// CloudWatch Logs) share and that know nothing of a destination: a batcher
// with a bounded buffer in front of a bounded number of concurrent flushes,
// a retry policy (exponential backoff with full jitter), a dead-letter file
// writer, and the standard sink metrics.
//
// Memory is bounded by configuration, never by the input rate: the batcher
// holds at most MaxBuffered items, counting those waiting in an open batch,
// those sealed and queued, and those being flushed (including retries). Once
// the limit is reached Add blocks, which pushes back on the pipeline.
package sinkcore

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned by Batcher.Add after Shutdown began.
var ErrClosed = errors.New("sink is shutting down")

// Batch is a group of items flushed together. Key is the value given to Add
// (destinations that need one request per stream batch by key; others use
// one key).
type Batch[T any] struct {
	Key   string
	Items []T
	// Bytes is the sum of the items' sizes.
	Bytes  int
	opened time.Time
}

// BatcherConfig bounds batches, the buffer and concurrency.
type BatcherConfig struct {
	// MaxItems seals a batch when it holds this many items (> 0).
	MaxItems int
	// MaxBytes seals a batch before an item would take it past this size; a
	// single larger item makes a batch of its own. 0 means no limit.
	MaxBytes int
	// FlushTimeout seals a batch this long after its first item arrived; 0
	// seals at the end of every Add.
	FlushTimeout time.Duration
	// MaxBuffered is the most items held at once (open, queued and being
	// flushed); Add blocks beyond it. Values below MaxItems lower MaxItems.
	MaxBuffered int
	// MaxInflight is the number of concurrent flushes (> 0).
	MaxInflight int
	// OrderPerKey flushes at most one batch per key at a time, and a key's
	// batches in the order they were sealed (batches of different keys are
	// still flushed concurrently, up to MaxInflight). Destinations that
	// need one stream's requests in order and never concurrent (a
	// CloudWatch Logs stream) set it; false keeps any batch free to go to
	// any idle flush goroutine.
	OrderPerKey bool
}

// FlushFunc delivers one batch. It must finalize every item before it
// returns (the batcher then releases their room in the buffer). ctx is
// cancelled when Shutdown's deadline passes: the function must then give up
// quickly, finalizing what is left as dropped at shutdown.
type FlushFunc[T any] func(ctx context.Context, b *Batch[T])

// Batcher groups items into batches and flushes them with a bounded number
// of goroutines. All its goroutines are started by Start and stopped by
// Shutdown.
type Batcher[T any] struct {
	cfg   BatcherConfig
	size  func(T) int
	flush FlushFunc[T]

	// OnBuffered, when set before Start, is called with the number of items
	// held after every change (for a gauge). It is called without locks held
	// but possibly from several goroutines at once.
	OnBuffered func(n int)

	mu       sync.Mutex
	open     map[string]*Batch[T]
	buffered int
	inOpen   int           // items in open (not yet sealed) batches
	room     chan struct{} // closed (and replaced) whenever room is freed
	closed   bool
	queue    chan *Batch[T]
	// busy holds, with OrderPerKey, the keys that have a batch queued or
	// being flushed, each with the sealed batches waiting behind it (in
	// order); the goroutine that flushes a key's batch flushes those next.
	busy map[string][]*Batch[T]

	kick     chan struct{} // wakes the timer loop when a batch opens
	stop     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	workers  sync.WaitGroup
	timerEnd chan struct{}
	started  bool
	stopOnce sync.Once
}

// NewBatcher returns a batcher; size reports an item's size in bytes (nil:
// every item counts 0 and MaxBytes is not used).
func NewBatcher[T any](cfg BatcherConfig, size func(T) int, flush FlushFunc[T]) *Batcher[T] {
	if cfg.MaxInflight < 1 {
		cfg.MaxInflight = 1
	}
	if cfg.MaxBuffered < 1 {
		cfg.MaxBuffered = 1
	}
	if cfg.MaxItems < 1 || cfg.MaxItems > cfg.MaxBuffered {
		cfg.MaxItems = cfg.MaxBuffered
	}
	if size == nil {
		size = func(T) int { return 0 }
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Batcher[T]{
		cfg: cfg, size: size, flush: flush,
		open: make(map[string]*Batch[T]),
		busy: make(map[string][]*Batch[T]),
		room: make(chan struct{}),
		// Every queued batch holds at least one buffered item, so the queue
		// never needs more slots than MaxBuffered: sends never block.
		queue:    make(chan *Batch[T], cfg.MaxBuffered),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		timerEnd: make(chan struct{}),
	}
}

// Config returns the effective configuration.
func (b *Batcher[T]) Config() BatcherConfig { return b.cfg }

// Start launches the flush goroutines and the flush-timeout timer.
func (b *Batcher[T]) Start() {
	b.mu.Lock()
	if b.started {
		b.mu.Unlock()
		return
	}
	b.started = true
	b.mu.Unlock()
	for i := 0; i < b.cfg.MaxInflight; i++ {
		b.workers.Add(1)
		go b.work()
	}
	go b.timerLoop()
}

// Buffered returns the number of items held.
func (b *Batcher[T]) Buffered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffered
}

// Full reports whether Add would block now.
func (b *Batcher[T]) Full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffered >= b.cfg.MaxBuffered
}

// Add hands items over under key, in order, blocking while the buffer is
// full. It returns how many items were taken: when ctx ends or Shutdown
// begins first, items[n:] stay the caller's (with ctx.Err() or ErrClosed).
func (b *Batcher[T]) Add(ctx context.Context, key string, items []T) (int, error) {
	taken := 0
	for taken < len(items) {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return taken, ErrClosed
		}
		free := b.cfg.MaxBuffered - b.buffered
		if free <= 0 {
			if b.inOpen == b.buffered {
				// Everything held waits in open batches (many keys, none
				// full yet): no flush would ever free room before their
				// timeouts, so send them now.
				for _, bt := range b.open {
					b.sealLocked(bt)
				}
			}
			room := b.room
			b.mu.Unlock()
			select {
			case <-room:
				continue
			case <-ctx.Done():
				return taken, ctx.Err()
			}
		}
		n := min(free, len(items)-taken)
		opened := false
		for _, it := range items[taken : taken+n] {
			opened = b.appendLocked(key, it) || opened
		}
		b.buffered += n
		if b.cfg.FlushTimeout <= 0 {
			if bt := b.open[key]; bt != nil {
				b.sealLocked(bt)
			}
		}
		buffered := b.buffered
		b.mu.Unlock()
		taken += n
		if opened && b.cfg.FlushTimeout > 0 {
			select {
			case b.kick <- struct{}{}:
			default:
			}
		}
		if b.OnBuffered != nil {
			b.OnBuffered(buffered)
		}
	}
	return taken, nil
}

// appendLocked adds one item to key's open batch, sealing batches as they
// fill. It reports whether a new batch was opened.
func (b *Batcher[T]) appendLocked(key string, it T) bool {
	sz := b.size(it)
	bt := b.open[key]
	if bt != nil && b.cfg.MaxBytes > 0 && len(bt.Items) > 0 && bt.Bytes+sz > b.cfg.MaxBytes {
		b.sealLocked(bt)
		bt = nil
	}
	opened := false
	if bt == nil {
		bt = &Batch[T]{Key: key, Items: make([]T, 0, min(b.cfg.MaxItems, 64)), opened: time.Now()}
		b.open[key] = bt
		opened = true
	}
	bt.Items = append(bt.Items, it)
	bt.Bytes += sz
	b.inOpen++
	if len(bt.Items) >= b.cfg.MaxItems || (b.cfg.MaxBytes > 0 && bt.Bytes >= b.cfg.MaxBytes) {
		b.sealLocked(bt)
	}
	return opened
}

func (b *Batcher[T]) sealLocked(bt *Batch[T]) {
	if b.open[bt.Key] == bt {
		delete(b.open, bt.Key)
		b.inOpen -= len(bt.Items)
	}
	if b.cfg.OrderPerKey {
		if waiting, busy := b.busy[bt.Key]; busy {
			// The goroutine flushing this key takes it next, in order.
			b.busy[bt.Key] = append(waiting, bt)
			return
		}
		b.busy[bt.Key] = nil
	}
	b.queue <- bt // never blocks: see NewBatcher
}

// nextLocked returns, with OrderPerKey, the batch waiting behind the one of
// key just flushed, or nil (and the key is no longer busy).
func (b *Batcher[T]) nextLocked(key string) *Batch[T] {
	waiting := b.busy[key]
	if len(waiting) == 0 {
		delete(b.busy, key)
		return nil
	}
	next := waiting[0]
	waiting[0] = nil
	if len(waiting) == 1 {
		b.busy[key] = nil
	} else {
		b.busy[key] = waiting[1:]
	}
	return next
}

// Flush seals every open batch now (they are flushed as workers free up).
func (b *Batcher[T]) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for _, bt := range b.open {
		b.sealLocked(bt)
	}
}

// release frees the room of n finalized items; with OrderPerKey it also
// returns the next batch of key to flush (nil when there is none).
func (b *Batcher[T]) release(n int, key string) *Batch[T] {
	b.mu.Lock()
	b.buffered -= n
	buffered := b.buffered
	close(b.room)
	b.room = make(chan struct{})
	var next *Batch[T]
	if b.cfg.OrderPerKey {
		next = b.nextLocked(key)
	}
	b.mu.Unlock()
	if b.OnBuffered != nil {
		b.OnBuffered(buffered)
	}
	return next
}

func (b *Batcher[T]) work() {
	defer b.workers.Done()
	for bt := range b.queue {
		for bt != nil {
			n := len(bt.Items)
			b.flush(b.ctx, bt)
			clear(bt.Items) // drop references for the GC
			bt = b.release(n, bt.Key)
		}
	}
}

// timerLoop seals batches whose flush timeout passed.
func (b *Batcher[T]) timerLoop() {
	defer close(b.timerEnd)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		b.mu.Lock()
		var next time.Time
		now := time.Now()
		for _, bt := range b.open {
			due := bt.opened.Add(b.cfg.FlushTimeout)
			if !due.After(now) {
				b.sealLocked(bt)
				continue
			}
			if next.IsZero() || due.Before(next) {
				next = due
			}
		}
		b.mu.Unlock()
		var fire <-chan time.Time
		if !next.IsZero() {
			t.Reset(time.Until(next))
			fire = t.C
		}
		select {
		case <-b.stop:
			t.Stop()
			return
		case <-b.kick:
			t.Stop()
		case <-fire:
		}
	}
}

// Shutdown stops accepting items, seals the open batches and waits for the
// workers to flush everything within ctx. When ctx ends first the flush
// context is cancelled, so the flush function finalizes the rest as dropped,
// and Shutdown still waits for that (it is quick) before returning
// ctx.Err(). Blocked Add calls return ErrClosed.
func (b *Batcher[T]) Shutdown(ctx context.Context) error {
	var err error
	b.stopOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		for _, bt := range b.open {
			b.sealLocked(bt)
		}
		close(b.queue)
		close(b.room) // wake blocked Adds: they see closed
		b.room = make(chan struct{})
		started := b.started
		b.started = true // a Start after Shutdown must not launch anything
		b.mu.Unlock()
		close(b.stop)
		if !started {
			// Never started: flush what was queued here, already cancelled
			// if ctx is done.
			close(b.timerEnd)
			b.workers.Add(1)
			go b.work()
		}
		<-b.timerEnd
		done := make(chan struct{})
		go func() { b.workers.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
			b.cancel()
			<-done
		}
		b.cancel()
	})
	return err
}
