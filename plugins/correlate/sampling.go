package correlate

import (
	"math/bits"
	"sync/atomic"
	"time"
)

type verdict uint8

const (
	keep verdict = iota
	drop
	undecided // the trace's outcome, which could keep it, is not known yet
)

// sampler decides which traces (all their spans and logs) are kept.
type sampler struct {
	keepAll     bool   // rate 1: no trace is sampled out
	threshold   uint64 // keep when TraceHash < threshold
	seed        uint64
	keepErrors  bool
	latency     time.Duration
	needOutcome bool // keep_errors or latency_threshold can overrule the hash

	untracedAll  bool
	untracedRate float64
	untraced     atomic.Uint64 // logs without trace context seen
}

func newSampler(c Sampling) *sampler {
	s := &sampler{seed: c.HashSeed, keepErrors: c.KeepErrors, latency: c.LatencyThreshold,
		untracedRate: c.LogsWithoutTraceRate, untracedAll: c.LogsWithoutTraceRate >= 1}
	s.threshold, s.keepAll = threshold(c.Rate)
	s.needOutcome = s.keepErrors || s.latency > 0
	return s
}

// decide returns the verdict for trace id given its outcome so far: kept
// when it failed (keep_errors) or its root was slower than
// latency_threshold, else by the hash. A trace the hash would drop is
// undecided while its outcome is unknown and could still keep it; callers
// treat undecided as dropped when they cannot wait longer.
func (s *sampler) decide(id TraceID, o traceOutcome) verdict {
	if s.keepAll {
		return keep
	}
	if s.keepErrors && o.Failed {
		return keep
	}
	if s.latency > 0 && o.RootKnown && o.RootDuration > s.latency {
		return keep
	}
	if TraceHash(id, s.seed) < s.threshold {
		return keep
	}
	if s.needOutcome && !o.RootKnown {
		return undecided
	}
	return drop
}

// keepUntraced decides for a log without trace context: of every run of
// logs, the share logs_without_trace_rate is kept, spread evenly (the n-th
// log is kept when floor(n*rate) grows). The decision depends on arrival
// order, not content.
func (s *sampler) keepUntraced() bool {
	if s.untracedAll {
		return true
	}
	n := s.untraced.Add(1)
	return step(n, s.untracedRate) > step(n-1, s.untracedRate)
}

// step returns floor(n*rate) without float rounding trouble for large n.
func step(n uint64, rate float64) uint64 {
	r, _ := threshold(rate)
	hi, _ := bits.Mul64(n, r)
	return hi
}
