// Package blackhole is the `blackhole` sink: it counts and discards events,
// for benchmarks and for measuring the rest of a pipeline.
package blackhole

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

func init() {
	pipelines.RegisterSink("blackhole", "counts and discards events (benchmarks)", NewConfig, New)
}

// Sink delivers every event at once.
type Sink struct {
	set   pipelines.Settings
	every time.Duration
	count atomic.Int64

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// New creates the sink.
func New(s pipelines.Settings, c *Config) (pipelines.Sink, error) {
	return &Sink{set: s, every: c.LogEvery, stop: make(chan struct{})}, nil
}

// Start launches the throughput logger when log_every is set.
func (s *Sink) Start(context.Context) error {
	if s.every > 0 {
		s.wg.Add(1)
		go s.report()
	}
	return nil
}

// Write delivers (acknowledges and counts) the events and forgets them.
func (s *Sink) Write(_ context.Context, evs []*event.Event) error {
	s.count.Add(int64(len(evs)))
	s.set.Telemetry.Deliver(evs...)
	return nil
}

// Shutdown stops the logger and waits for it.
func (s *Sink) Shutdown(context.Context) error {
	s.once.Do(func() { close(s.stop) })
	s.wg.Wait()
	return nil
}

// Count returns how many events the sink has received.
func (s *Sink) Count() int64 { return s.count.Load() }

func (s *Sink) report() {
	defer s.wg.Done()
	t := time.NewTicker(s.every)
	defer t.Stop()
	last, lastAt := s.count.Load(), time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			n := s.count.Load()
			rate := float64(n-last) / now.Sub(lastAt).Seconds()
			s.set.Logger.WithFields(logrus.Fields{"events": n, "events_per_second": int64(rate)}).Info("blackhole throughput")
			last, lastAt = n, now
		}
	}
}
