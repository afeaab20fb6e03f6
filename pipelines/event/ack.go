package event

import "sync/atomic"

// Status is how one copy of an event ended.
type Status uint8

const (
	// Delivered: a sink accepted the event.
	Delivered Status = iota
	// Dropped: a processor or route dropped it on purpose.
	Dropped
	// Rejected: a sink finally refused it (dead-lettered or lost on shutdown).
	Rejected
)

// Acker is an end-to-end acknowledgement handle shared by every event a
// source produced in one unit (a request, a file chunk). Its callback runs
// once, when every copy of every tracked event has been finalized, with
// ok=false if any copy was rejected.
type Acker struct {
	pending  atomic.Int64
	rejected atomic.Bool
	done     func(ok bool)
}

// NewAcker returns a handle holding one reference for the source itself;
// call Track for each event and Seal when no more events will be added.
func NewAcker(done func(ok bool)) *Acker {
	a := &Acker{done: done}
	a.pending.Store(1)
	return a
}

// Track attaches the handle to e.
func (a *Acker) Track(e *Event) {
	a.add(1)
	e.acker = a
}

// Seal drops the source's own reference.
func (a *Acker) Seal() { a.release(Delivered) }

func (a *Acker) add(n int64) { a.pending.Add(n) }

func (a *Acker) release(s Status) {
	if s == Rejected {
		a.rejected.Store(true)
	}
	if a.pending.Add(-1) == 0 && a.done != nil {
		a.done(!a.rejected.Load())
	}
}

// Finalize ends this copy of the event with status. Every event that enters a
// pipeline is finalized exactly once per copy: by the sink that took it, or by
// the engine when it is dropped. Events without a handle are a no-op.
func (e *Event) Finalize(s Status) {
	if a := e.acker; a != nil {
		e.acker = nil
		a.release(s)
	}
}

// InheritAck makes derived (e.g. split) events part of parent's unit.
func (e *Event) InheritAck(parent *Event) {
	if parent.acker != nil {
		parent.acker.add(1)
		e.acker = parent.acker
	}
}

// HasAcker reports whether a source tracks this event.
func (e *Event) HasAcker() bool { return e.acker != nil }
