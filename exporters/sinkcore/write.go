package sinkcore

import (
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

// RejectClosed refuses a batch handed to a sink that has shut down: every
// event is rejected with reason "shutdown" (counted, acknowledged as
// failed), and ErrClosed is returned.
func RejectClosed(t *pipelines.Telemetry, evs []*event.Event) error {
	for _, ev := range evs {
		t.Reject(ev, "shutdown")
	}
	return ErrClosed
}

// RejectShutdown rejects the events of items a batcher did not take
// because it was shutting down (Add's count onwards).
func RejectShutdown[T any](t *pipelines.Telemetry, items []T, ev func(T) *event.Event) {
	for _, it := range items {
		t.Reject(ev(it), "shutdown")
	}
}

// Cut copies buf once, exactly sized, and hands out the pieces ending at
// ends (piece i is [ends[i-1], ends[i])), capacity-limited so none can
// grow into the next: the scratch buffer buf can then be reused while the
// pieces wait in a batcher.
func Cut[T any](buf []T, ends []int, piece func(i int, p []T)) {
	chunk := make([]T, len(buf))
	copy(chunk, buf)
	prev := 0
	for i, end := range ends {
		piece(i, chunk[prev:end:end])
		prev = end
	}
}
