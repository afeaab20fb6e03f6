package pipelines

import (
	"context"
	"sync"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// Buffer is the bounded_blocking buffer between a pipeline's source and its
// workers: a ring of events with a fixed capacity. Writers block while it is
// full, which pushes back on the source.
type Buffer struct {
	mu       sync.Mutex
	ring     []*event.Event
	head     int // index of the oldest event
	n        int // events held
	closed   bool
	notFull  chan struct{} // closed (and replaced) when space frees up
	notEmpty chan struct{} // closed (and replaced) when events arrive or on Close
	onWrite  func(n int)
	gauge    func(n int)
}

// NewBuffer returns a buffer holding up to capacity events.
func NewBuffer(capacity int) *Buffer {
	return &Buffer{ring: make([]*event.Event, capacity), notFull: make(chan struct{}), notEmpty: make(chan struct{})}
}

// Cap returns the capacity.
func (b *Buffer) Cap() int { return len(b.ring) }

// Len returns the number of events held.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// Write implements Input.
func (b *Buffer) Write(ctx context.Context, evs []*event.Event) (int, error) {
	written := 0
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return written, ErrClosed
		}
		free := len(b.ring) - b.n
		k := min(free, len(evs)-written)
		if k > 0 {
			tail := (b.head + b.n) % len(b.ring)
			first := min(k, len(b.ring)-tail)
			copy(b.ring[tail:], evs[written:written+first])
			copy(b.ring, evs[written+first:written+k])
			b.n += k
			written += k
			close(b.notEmpty)
			b.notEmpty = make(chan struct{})
			if b.onWrite != nil {
				b.onWrite(k)
			}
			if b.gauge != nil {
				b.gauge(b.n)
			}
		}
		if written == len(evs) {
			b.mu.Unlock()
			return written, nil
		}
		wait := b.notFull
		b.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return written, ctx.Err()
		}
	}
}

// Read appends up to max events to dst. It waits up to wait for the first
// event and returns at once with whatever is there after that (possibly
// nothing). closed reports that the buffer is closed and empty.
func (b *Buffer) Read(ctx context.Context, dst []*event.Event, max int, wait time.Duration) (out []*event.Event, closed bool) {
	var timer *time.Timer
	for {
		b.mu.Lock()
		if b.n > 0 {
			k := min(max, b.n)
			for i := 0; i < k; i++ {
				idx := (b.head + i) % len(b.ring)
				dst = append(dst, b.ring[idx])
				b.ring[idx] = nil
			}
			b.head = (b.head + k) % len(b.ring)
			b.n -= k
			close(b.notFull)
			b.notFull = make(chan struct{})
			if b.gauge != nil {
				b.gauge(b.n)
			}
			b.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return dst, false
		}
		if b.closed {
			b.mu.Unlock()
			return dst, true
		}
		ch := b.notEmpty
		b.mu.Unlock()
		if timer == nil {
			if wait <= 0 {
				return dst, false
			}
			timer = time.NewTimer(wait)
		}
		select {
		case <-ch:
		case <-timer.C:
			return dst, false
		case <-ctx.Done():
			timer.Stop()
			return dst, false
		}
	}
}

// Close stops accepting writes; readers drain what is left.
func (b *Buffer) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.notEmpty)
		b.notEmpty = make(chan struct{})
		close(b.notFull)
		b.notFull = make(chan struct{})
	}
}

// TakeAll removes and returns everything held (for shutdown accounting).
func (b *Buffer) TakeAll() []*event.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*event.Event, 0, b.n)
	for i := 0; i < b.n; i++ {
		idx := (b.head + i) % len(b.ring)
		out = append(out, b.ring[idx])
		b.ring[idx] = nil
	}
	b.head, b.n = 0, 0
	if b.gauge != nil {
		b.gauge(0)
	}
	return out
}
