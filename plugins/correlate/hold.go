package correlate

import (
	"sync"
	"sync/atomic"

	"github.com/weft-agent/weft/pipelines/event"
)

// held is an event waiting for its trace.
type held struct {
	ev       *event.Event
	trace    TraceID
	span     SpanID
	hasSpan  bool
	deadline int64
	size     int64
	done     bool
}

// holder keeps the events one processor holds, oldest first. Events leave
// when their trace is ready (the store reported it changed and ready says
// so), when they have waited `wait`, or early, oldest first, when the count
// or the estimated bytes exceed the bounds. Nothing runs on its own: every
// Process call (the engine calls it at least every `delay`) steps it.
type holder struct {
	wait     int64
	maxN     int
	maxBytes int64
	wake     bool // look for ready traces in the store's updates

	mu      sync.Mutex
	queue   deque[*held] // arrival order, which is deadline order
	byTrace map[TraceID][]*held
	n       int
	held    atomic.Int64 // n, for reading without the lock
	bytes   int64
	cursor  uint64 // next sequence number of the store's updates to read
	scratch []TraceID
}

func newHolder(wait int64, maxN int, maxBytes int64, wake bool) *holder {
	return &holder{wait: wait, maxN: maxN, maxBytes: maxBytes, wake: wake, byTrace: map[TraceID][]*held{}}
}

// count returns the number of events held.
func (h *holder) count() int { return int(h.held.Load()) }

// step takes the new events to hold and appends to out the events to
// release now. seen is the store's update sequence number read before the
// new events were found not ready: when updates after it were consumed by
// another call meanwhile, the new events are checked once more, so that no
// wake-up is lost between the check and the hold.
func (h *holder) step(add []*held, seen uint64, now int64, u *updates, ready func(*held) bool, out []*held) []*held {
	if len(add) == 0 && h.held.Load() == 0 {
		return out // nothing held, nothing to hold: no lock taken
	}
	h.mu.Lock()
	defer func() { h.held.Store(int64(h.n)); h.mu.Unlock() }()
	if h.wake && len(h.byTrace) == 0 && h.cursor < seen {
		h.cursor = seen // older updates concern none of the events held from now
	}
	recheck := h.wake && h.cursor > seen
	for _, it := range add {
		if recheck && ready(it) {
			out = append(out, it)
			continue
		}
		it.deadline = now + h.wait
		h.queue.push(it)
		h.n++
		h.bytes += it.size
		if h.wake {
			h.byTrace[it.trace] = append(h.byTrace[it.trace], it)
		}
	}
	if h.wake {
		if len(h.byTrace) == 0 {
			h.cursor = u.head()
		} else {
			var lost bool
			h.scratch, h.cursor, lost = u.since(h.cursor, h.scratch[:0])
			if lost {
				for _, items := range h.byTrace {
					out = h.releaseReady(items, ready, out)
				}
			} else {
				for _, id := range h.scratch {
					if items, ok := h.byTrace[id]; ok {
						out = h.releaseReady(items, ready, out)
					}
				}
			}
		}
	}
	for h.queue.len() > 0 {
		it := h.queue.front()
		if !it.done && it.deadline > now && h.n <= h.maxN && h.bytes <= h.maxBytes {
			break
		}
		h.queue.pop()
		if !it.done {
			out = append(out, h.release(it))
		}
	}
	return out
}

// releaseReady releases the items (one trace's) that are ready.
func (h *holder) releaseReady(items []*held, ready func(*held) bool, out []*held) []*held {
	// release changes the trace's slice: decide first, then release.
	var rel []*held
	for _, it := range items {
		if ready(it) {
			rel = append(rel, it)
		}
	}
	for _, it := range rel {
		out = append(out, h.release(it))
	}
	return out
}

// release marks it released; it stays in the queue until it reaches the
// front.
func (h *holder) release(it *held) *held {
	it.done = true
	h.n--
	h.bytes -= it.size
	if h.wake {
		items := h.byTrace[it.trace]
		for i, x := range items {
			if x == it {
				if i == 0 {
					items = items[1:] // the usual case: oldest first
				} else {
					items = append(items[:i], items[i+1:]...)
				}
				break
			}
		}
		if len(items) == 0 {
			delete(h.byTrace, it.trace)
		} else {
			h.byTrace[it.trace] = items
		}
	}
	return it
}

// flush releases everything held.
func (h *holder) flush() []*held {
	h.mu.Lock()
	defer func() { h.held.Store(int64(h.n)); h.mu.Unlock() }()
	var out []*held
	for h.queue.len() > 0 {
		if it := h.queue.pop(); !it.done {
			out = append(out, h.release(it))
		}
	}
	return out
}

// eventSize estimates the memory an event's fields take: strings by their
// length plus a fixed cost per value and per map entry. It is used only for
// the max_held_bytes bound, so it need not be exact.
func eventSize(ev *event.Event) int64 {
	return 64 + valueSize(ev.Fields(), 0)
}

func valueSize(v any, depth int) int64 {
	if depth > 32 {
		return 16
	}
	switch x := v.(type) {
	case string:
		return 16 + int64(len(x))
	case map[string]any:
		n := int64(48)
		for k, e := range x {
			n += 16 + int64(len(k)) + valueSize(e, depth+1)
		}
		return n
	case []any:
		n := int64(24)
		for _, e := range x {
			n += valueSize(e, depth+1)
		}
		return n
	default:
		return 16
	}
}
