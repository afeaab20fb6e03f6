// Package cloudwatch is the `cloudwatch_logs` sink: log events into
// CloudWatch Logs through PutLogEvents, with Data Prepper's option names,
// log group and stream names from templates over event fields (created on
// first use), batching that honours every PutLogEvents limit, retries with
// backoff, a dead-letter file, and a bounded buffer that pushes back on the
// pipeline when CloudWatch Logs is slow or unreachable.
package cloudwatch

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-agent/weft/exporters/sinkcore"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/template"
)

func init() {
	pipelines.RegisterSink("cloudwatch_logs", "log events into CloudWatch Logs through PutLogEvents (groups and streams from templates, created on first use)", NewConfig, New)
}

// Sink writes events to CloudWatch Logs.
type Sink struct {
	set       pipelines.Settings
	cfg       *Config
	api       logsAPI
	transport *http.Transport
	batcher   *sinkcore.Batcher[item]
	backoff   sinkcore.Backoff
	m         *metrics
	dlq       *sinkcore.DLQ

	// now is the clock for the time-window checks (tests move it).
	now func() time.Time

	unreachable  atomic.Bool
	downSince    atomic.Int64 // unix nanoseconds
	lastErr      atomic.Pointer[string]
	lastRetryLog atomic.Int64 // unix nanoseconds of the last retry warning

	startOnce sync.Once
	started   atomic.Bool
	closed    atomic.Bool
}

// New creates the sink: it loads the AWS configuration and credentials
// chain and opens the dead-letter file, but does not call CloudWatch Logs.
func New(s pipelines.Settings, c *Config) (pipelines.Sink, error) {
	return newSink(s, c, nil)
}

// newSink is New with an API substitute (nil: the real client).
func newSink(s pipelines.Settings, c *Config, api logsAPI) (*Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(s.Telemetry.Registerer)
	if err != nil {
		return nil, err
	}
	sk := &Sink{set: s, cfg: c, m: m, api: api, now: time.Now,
		backoff: sinkcore.Backoff{Initial: c.Threshold.BackOffTime, Max: c.Threshold.MaxBackOffTime, MaxRetries: c.Threshold.RetryCount},
	}
	if sk.api == nil {
		cl, tr, err := newClient(c)
		if err != nil {
			return nil, err
		}
		sk.api, sk.transport = cl, tr
	}
	if c.DLQFile != "" {
		if sk.dlq, err = sinkcore.OpenDLQ(c.DLQFile); err != nil {
			return nil, err
		}
	}
	sk.batcher = sinkcore.NewBatcher(sinkcore.BatcherConfig{
		MaxItems:     c.Threshold.BatchSize,
		MaxBytes:     int(c.Threshold.MaxRequestSize),
		FlushTimeout: c.Threshold.LogSendInterval,
		MaxBuffered:  c.MaxBuffered,
		MaxInflight:  c.MaxInflight,
		// One stream's calls in order, never two at once.
		OrderPerKey: true,
	}, item.size, sk.flush)
	sk.batcher.OnBuffered = func(n int) { m.buffered.Set(float64(n)) }
	return sk, nil
}

// Start launches the batcher. CloudWatch Logs is first called when events
// arrive; groups and streams are created then.
func (s *Sink) Start(context.Context) error {
	s.startOnce.Do(func() {
		s.started.Store(true)
		s.batcher.Start()
	})
	return nil
}

// Ready implements pipelines.Readier: the sink is unready when CloudWatch
// Logs has been unreachable (network errors, 5xx) since the last answer
// and the buffer is full, so the pipeline is being pushed back.
func (s *Sink) Ready() error {
	if !s.unreachable.Load() || !s.batcher.Full() {
		return nil
	}
	since := time.Unix(0, s.downSince.Load()).UTC().Format(time.RFC3339)
	last := ""
	if p := s.lastErr.Load(); p != nil {
		last = *p
	}
	return fmt.Errorf("CloudWatch Logs unreachable since %s (%s) and the buffer is full (%d events)", since, last, s.cfg.MaxBuffered)
}

func (s *Sink) markUnreachable(msg string) {
	s.lastErr.Store(&msg)
	if s.unreachable.CompareAndSwap(false, true) {
		s.downSince.Store(time.Now().UnixNano())
	}
}

func (s *Sink) markReachable() {
	if s.unreachable.Load() && s.unreachable.CompareAndSwap(true, false) {
		s.set.Logger.Info("CloudWatch Logs is reachable again")
	}
}

// pending is an encoded event of one Write, before its message is
// converted to a string.
type pending struct {
	ev         *event.Event
	key        int
	start, end int
	ts         int64
}

// writeScratch is one Write's reusable memory.
type writeScratch struct {
	buf    []byte
	name   []byte
	keyIdx map[string]int
	keys   []string
	keyErr []*failure
	pend   []pending
	per    [][]item
	bad    []deadItem
}

var writeScratchPool = sync.Pool{New: func() any { return &writeScratch{keyIdx: make(map[string]int)} }}

func (sc *writeScratch) release() {
	clear(sc.keyIdx)
	clear(sc.keys)
	sc.keys = sc.keys[:0]
	clear(sc.keyErr)
	sc.keyErr = sc.keyErr[:0]
	clear(sc.pend)
	sc.pend = sc.pend[:0]
	for i := range sc.per {
		clear(sc.per[i])
		sc.per[i] = sc.per[i][:0]
	}
	sc.per = sc.per[:0]
	clear(sc.bad)
	sc.bad = sc.bad[:0]
	if cap(sc.buf) > 8<<20 {
		sc.buf = nil
	}
	writeScratchPool.Put(sc)
}

// Write encodes the events (names, message, timestamp) and hands them to
// the batcher by log stream, blocking while max_buffered events are held.
// Events that cannot be sent (a missing name field, an invalid name, an
// oversize event with oversize_events: dead_letter, an empty message) are
// dead-lettered at once.
func (s *Sink) Write(ctx context.Context, evs []*event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if s.closed.Load() {
		return sinkcore.RejectClosed(s.set.Telemetry, evs)
	}
	sc := writeScratchPool.Get().(*writeScratch)
	defer sc.release()
	now := s.now()
	maxMsg := int(s.cfg.Threshold.MaxEventSize) - EventOverhead
	buf := sc.buf[:0]
	for _, ev := range evs {
		k, f := s.keyOf(sc, ev)
		if f != nil {
			d := deadItem{ev: ev, f: *f}
			if k >= 0 {
				d.group, d.stream = splitKey(sc.keys[k])
			} else {
				d.group, d.stream = s.groupStreamOf(ev)
			}
			sc.bad = append(sc.bad, d)
			continue
		}
		group, stream := splitKey(sc.keys[k])
		start := len(buf)
		buf = validUTF8(s.appendMessage(buf, ev), start)
		end := len(buf)
		switch {
		case end == start:
			buf = buf[:start]
			sc.bad = append(sc.bad, deadItem{ev: ev, group: group, stream: stream, f: failure{typ: "empty_message",
				reason: "the message is empty; CloudWatch Logs needs at least one character"}})
			continue
		case end-start > maxMsg:
			if s.cfg.OversizeEvents == OversizeDeadLetter {
				size := end - start + EventOverhead
				buf = buf[:start]
				sc.bad = append(sc.bad, deadItem{ev: ev, group: group, stream: stream, f: failure{typ: "event_too_large",
					reason: fmt.Sprintf("the event is %d bytes (message plus %d), above threshold.max_event_size %d", size, EventOverhead, int(s.cfg.Threshold.MaxEventSize))}})
				continue
			}
			buf = buf[:start+len(truncateUTF8(buf[start:], maxMsg))]
			end = len(buf)
			s.m.truncated.Inc()
		}
		sc.pend = append(sc.pend, pending{ev: ev, key: k, start: start, end: end, ts: s.timestamp(ev, now)})
	}
	sc.buf = buf
	if len(sc.bad) > 0 {
		s.deadLetter(sc.bad)
	}
	if len(sc.pend) == 0 {
		return nil
	}
	// One string per Write holds every message; items slice it.
	chunk := string(buf)
	if cap(sc.per) < len(sc.keys) {
		sc.per = append(sc.per[:cap(sc.per)], make([][]item, len(sc.keys)-cap(sc.per))...)
	}
	sc.per = sc.per[:len(sc.keys)] // slices of earlier Writes keep their room
	for _, p := range sc.pend {
		sc.per[p.key] = append(sc.per[p.key], item{ev: p.ev, msg: chunk[p.start:p.end], ts: p.ts})
	}
	for i, items := range sc.per {
		if len(items) == 0 {
			continue
		}
		n, err := s.batcher.Add(ctx, sc.keys[i], items)
		if err != nil {
			evOf := func(it item) *event.Event { return it.ev }
			left := len(items) - n
			sinkcore.RejectShutdown(s.set.Telemetry, items[n:], evOf)
			for _, rest := range sc.per[i+1:] {
				left += len(rest)
				sinkcore.RejectShutdown(s.set.Telemetry, rest, evOf)
			}
			return fmt.Errorf("cloudwatch_logs: %d events not accepted: %w", left, err)
		}
	}
	return nil
}

// keyOf expands the event's log group and stream into a batch key, the
// index of the key in sc.keys; names are checked once per key and Write.
// A failure dead-letters the event: a name template that cannot be
// expanded returns index -1, an invalid name its key's index.
func (s *Sink) keyOf(sc *writeScratch, ev *event.Event) (int, *failure) {
	name, err := s.cfg.LogGroup.Expand(sc.name[:0], ev)
	if err != nil {
		sc.name = name
		return -1, &failure{typ: "log_group_template", reason: "log_group: " + err.Error()}
	}
	groupEnd := len(name)
	name = append(name, keySep...)
	name, err = s.cfg.LogStream.Expand(name, ev)
	sc.name = name
	if err != nil {
		return -1, &failure{typ: "log_stream_template", reason: "log_stream: " + err.Error()}
	}
	if i, ok := sc.keyIdx[string(name)]; ok {
		return i, sc.keyErr[i]
	}
	key := string(name)
	var f *failure
	if err := checkGroupName(key[:groupEnd]); err != nil {
		f = &failure{typ: "invalid_log_group_name", reason: err.Error()}
	} else if err := checkStreamName(key[groupEnd+1:]); err != nil {
		f = &failure{typ: "invalid_log_stream_name", reason: err.Error()}
	}
	i := len(sc.keys)
	sc.keyIdx[key] = i
	sc.keys = append(sc.keys, key)
	sc.keyErr = append(sc.keyErr, f)
	return i, f
}

// Shutdown sends what the sink holds within ctx; events still not sent
// when ctx ends are rejected with reason "shutdown".
func (s *Sink) Shutdown(ctx context.Context) error {
	s.closed.Store(true)
	if !s.started.Load() {
		// Never started: nothing may be sent, what Write took is dropped.
		c, cancel := context.WithCancel(ctx)
		cancel()
		ctx = c
	}
	err := s.batcher.Shutdown(ctx)
	if !s.started.Load() {
		err = nil
	}
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	if s.dlq != nil {
		if cerr := s.dlq.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("cloudwatch_logs sink shutdown: %w", err)
	}
	return nil
}

// groupStreamOf names where an event refused before batching was going,
// as far as it is known.
func (s *Sink) groupStreamOf(ev *event.Event) (string, string) {
	opt := &template.Options{Missing: new(string)}
	g, _ := s.cfg.LogGroup.ExpandWith(nil, ev, opt)
	st, _ := s.cfg.LogStream.ExpandWith(nil, ev, opt)
	return string(g), string(st)
}
