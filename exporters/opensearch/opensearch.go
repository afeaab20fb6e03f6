// Package opensearch is the `opensearch` sink: events as documents through
// the _bulk API, with Data Prepper's option names, the Trace Analytics
// index layouts, retries of only what failed, a dead-letter file, and a
// bounded buffer that pushes back on the pipeline when the cluster is slow
// or down.
package opensearch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/weft-agent/weft/exporters/sinkcore"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

func init() {
	pipelines.RegisterSink("opensearch", "documents into OpenSearch through the bulk API (custom indices, Trace Analytics spans and service map)", NewConfig, New)
}

// healthInterval is how often an unreachable cluster is probed.
var healthInterval = 10 * time.Second

// startTimeout bounds the start-up requests made by Start itself.
const startTimeout = 5 * time.Second

// Sink writes events to OpenSearch.
type Sink struct {
	set     pipelines.Settings
	cfg     *Config
	cl      *client
	enc     *encoder
	batcher *sinkcore.Batcher[doc]
	backoff sinkcore.Backoff
	m       *sinkcore.Metrics
	dlq     *sinkcore.DLQ
	boot    *bootstrap

	// bootstrapped is closed once templates, policy and alias are in place
	// (or given up on): no bulk request is sent before, so that no index
	// is auto-created without its mappings.
	bootstrapped chan struct{}
	bootOnce     sync.Once

	unreachable atomic.Bool
	downSince   atomic.Int64 // unix nanoseconds
	lastErr     atomic.Pointer[string]
	healthKick  chan struct{}

	lastRetryLog atomic.Int64 // unix nanoseconds of the last retry warning

	stop      chan struct{}
	stopOnce  sync.Once
	bg        sync.WaitGroup
	startOnce sync.Once
	started   atomic.Bool
	closed    atomic.Bool
}

// New creates the sink; it reads the certificate, template and policy files
// and opens the dead-letter file, but does not contact the cluster.
func New(s pipelines.Settings, c *Config) (pipelines.Sink, error) {
	cl, err := newClient(c)
	if err != nil {
		return nil, err
	}
	boot, err := newBootstrap(c)
	if err != nil {
		return nil, err
	}
	m, err := sinkcore.NewMetrics(s.Telemetry.Registerer, sinkcore.MetricNames{
		Namespace: "weft_opensearch", Request: "bulk", Unit: "documents", Delivered: "indexed"})
	if err != nil {
		return nil, err
	}
	sk := &Sink{
		set: s, cfg: c, cl: cl, enc: newEncoder(c), m: m, boot: boot,
		backoff:      sinkcore.Backoff{Initial: c.InitialBackoff, Max: c.MaxBackoff, MaxRetries: c.MaxRetries},
		bootstrapped: make(chan struct{}),
		healthKick:   make(chan struct{}, 1),
		stop:         make(chan struct{}),
	}
	reachable := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "weft_opensearch_reachable",
		Help: "1 while the cluster answers; 0 from a connection error, TLS failure or HTTP 502/503/504 until it answers again."},
		func() float64 {
			if sk.unreachable.Load() {
				return 0
			}
			return 1
		})
	if reg := s.Telemetry.Registerer; reg != nil {
		if err := reg.Register(reachable); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return nil, err
		}
	}
	if c.DLQFile != "" {
		if sk.dlq, err = sinkcore.OpenDLQ(c.DLQFile); err != nil {
			return nil, err
		}
	}
	sk.batcher = sinkcore.NewBatcher(sinkcore.BatcherConfig{
		MaxItems:     c.MaxDocuments,
		MaxBytes:     int(c.BulkSize * (1 << 20)),
		FlushTimeout: c.FlushTimeout,
		MaxBuffered:  c.MaxBuffered,
		MaxInflight:  c.MaxInflight,
	}, func(d doc) int { return len(d.data) }, sk.flush)
	sk.batcher.OnBuffered = func(n int) { m.Buffered.Set(float64(n)) }
	return sk, nil
}

// Start installs templates, the ISM policy and the rollover alias. When the
// cluster cannot be reached it logs, keeps trying in the background and
// returns nil: documents are buffered (up to max_buffered, then the
// pipeline is pushed back) until it answers. A request the cluster refuses
// (an invalid template, say) fails Start.
func (s *Sink) Start(ctx context.Context) error {
	var err error
	s.startOnce.Do(func() { err = s.start(ctx) })
	return err
}

func (s *Sink) start(ctx context.Context) error {
	s.started.Store(true)
	s.batcher.Start()
	s.bg.Add(1)
	go s.healthLoop()
	if s.boot.empty() {
		s.markBootstrapped()
		return nil
	}
	// A cluster that does not answer quickly is left to the background:
	// the agent's start-up is not held up for long.
	tctx, cancel := context.WithTimeout(ctx, min(s.cfg.ConnectTimeout, startTimeout))
	err := s.boot.run(tctx, s)
	cancel()
	if err == nil {
		s.markBootstrapped()
		return nil
	}
	var perm *permanentError
	if errors.As(err, &perm) {
		s.markBootstrapped()
		return fmt.Errorf("opensearch: %w", err)
	}
	s.set.Logger.WithError(err).Warn("OpenSearch is not reachable at start; retrying in the background, documents are buffered (up to max_buffered) meanwhile")
	s.markUnreachable(err)
	s.bg.Add(1)
	go s.bootstrapLoop()
	return nil
}

func (s *Sink) markBootstrapped() { s.bootOnce.Do(func() { close(s.bootstrapped) }) }

// bootstrapLoop retries the start-up requests until they succeed, are
// refused for good, or the sink stops.
func (s *Sink) bootstrapLoop() {
	defer s.bg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	b := sinkcore.Backoff{Initial: s.cfg.InitialBackoff, Max: max(s.cfg.MaxBackoff, time.Second)}
	for n := 0; ; n++ {
		if err := sinkcore.Sleep(ctx, b.Delay(n)+b.Cap(n)/2); err != nil {
			return
		}
		err := s.boot.run(ctx, s)
		if err == nil {
			s.set.Logger.Info("OpenSearch reachable: templates and aliases are in place, sending documents")
			s.markBootstrapped()
			return
		}
		if ctx.Err() != nil {
			return
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			s.set.Logger.WithError(err).Error("OpenSearch refused a start-up request; sending documents without it")
			s.markBootstrapped()
			return
		}
		s.set.Logger.WithError(err).Debug("OpenSearch still not reachable")
	}
}

// markUnreachable records a failed contact with the cluster.
func (s *Sink) markUnreachable(err error) {
	msg := err.Error()
	s.lastErr.Store(&msg)
	if s.unreachable.CompareAndSwap(false, true) {
		s.downSince.Store(time.Now().UnixNano())
		select {
		case <-s.bootstrapped: // (before, start and the bootstrap loop log)
			s.set.Logger.WithError(err).Warnf("OpenSearch unreachable: documents are buffered (up to max_buffered %d), then the pipeline is pushed back", s.cfg.MaxBuffered)
		default:
		}
		select {
		case s.healthKick <- struct{}{}:
		default:
		}
	}
}

// markReachable records an answer from the cluster.
func (s *Sink) markReachable() {
	if s.unreachable.Load() && s.unreachable.CompareAndSwap(true, false) {
		s.set.Logger.Info("OpenSearch is reachable again")
	}
}

// healthLoop probes the cluster (GET /) every healthInterval while it is
// unreachable, so readiness recovers even when no bulk request is due.
func (s *Sink) healthLoop() {
	defer s.bg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var resp []byte
	for {
		select {
		case <-s.stop:
			return
		case <-s.healthKick:
		}
		for s.unreachable.Load() {
			select {
			case <-s.stop:
				return
			case <-time.After(healthInterval):
			}
			status, _, err := s.cl.do(ctx, request{method: "GET", path: "/"}, &resp)
			switch {
			case err != nil:
				s.markUnreachable(err)
			case status == 502 || status == 503 || status == 504:
				s.markUnreachable(fmt.Errorf("health check: HTTP %d", status))
			default:
				s.markReachable()
			}
		}
	}
}

// Ready implements pipelines.Readier: the sink is unready when the cluster
// has been unreachable since the last answer AND its buffer is full, so the
// pipeline is being pushed back. While the buffer still absorbs an outage
// the agent can take traffic and stays ready (a DaemonSet rollout or a
// Service endpoint does not depend on OpenSearch being up); the outage
// shows in weft_opensearch_reachable and the log.
func (s *Sink) Ready() error {
	if !s.unreachable.Load() || !s.batcher.Full() {
		return nil
	}
	since := time.Unix(0, s.downSince.Load()).UTC().Format(time.RFC3339)
	last := ""
	if p := s.lastErr.Load(); p != nil {
		last = *p
	}
	return fmt.Errorf("OpenSearch unreachable since %s (%s); the buffer is full and the pipeline is pushed back (max_buffered %d)", since, last, s.cfg.MaxBuffered)
}

// writeScratch is one Write's reusable memory.
type writeScratch struct {
	buf  []byte
	tmp  []byte
	ends []int
	docs []doc
	bad  []deadDoc
}

var writeScratchPool = sync.Pool{New: func() any { return new(writeScratch) }}

// Write encodes the events into bulk lines and hands them to the batcher,
// blocking while max_buffered documents are held. Events that cannot be
// encoded (a missing index field) are dead-lettered at once.
func (s *Sink) Write(ctx context.Context, evs []*event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if s.closed.Load() {
		return sinkcore.RejectClosed(s.set.Telemetry, evs)
	}
	sc := writeScratchPool.Get().(*writeScratch)
	defer s.releaseScratch(sc)
	buf := sc.buf[:0]
	for _, ev := range evs {
		var ferr *encodeError
		buf, ferr = s.enc.appendDoc(buf, &sc.tmp, ev)
		if ferr != nil {
			sc.bad = append(sc.bad, deadDoc{ev: ev, f: failure{typ: ferr.Type, reason: ferr.Reason}})
			continue
		}
		sc.docs = append(sc.docs, doc{ev: ev})
		sc.ends = append(sc.ends, len(buf))
	}
	sc.buf = buf
	if len(sc.bad) > 0 {
		s.deadLetter(sc.bad)
	}
	if len(sc.docs) == 0 {
		return nil
	}
	// One exact-size chunk per Write holds the documents' lines, so the
	// scratch buffer can be reused while the documents wait in the batcher.
	sinkcore.Cut(buf, sc.ends, func(i int, p []byte) { sc.docs[i].data = p })
	n, err := s.batcher.Add(ctx, "", sc.docs)
	if err != nil {
		sinkcore.RejectShutdown(s.set.Telemetry, sc.docs[n:], func(d doc) *event.Event { return d.ev })
		return fmt.Errorf("opensearch: %d documents not accepted: %w", len(sc.docs)-n, err)
	}
	return nil
}

func (s *Sink) releaseScratch(sc *writeScratch) {
	clear(sc.docs)
	sc.docs = sc.docs[:0]
	clear(sc.bad)
	sc.bad = sc.bad[:0]
	sc.ends = sc.ends[:0]
	if cap(sc.buf) > maxPooledBody {
		sc.buf = nil
	}
	writeScratchPool.Put(sc)
}

// Shutdown sends what the sink holds within ctx; documents still not
// indexed when ctx ends are rejected with reason "shutdown".
func (s *Sink) Shutdown(ctx context.Context) error {
	s.closed.Store(true)
	if !s.started.Load() {
		// Never started: nothing may be sent, what Write took is dropped.
		c, cancel := context.WithCancel(ctx)
		cancel()
		ctx = c
	}
	// When the cluster was never reached, the background bootstrap keeps
	// trying while the batcher drains, until ctx ends.
	err := s.batcher.Shutdown(ctx)
	if !s.started.Load() {
		err = nil
	}
	s.stopOnce.Do(func() { close(s.stop) })
	s.bg.Wait()
	s.cl.close()
	if s.dlq != nil {
		if cerr := s.dlq.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("opensearch sink shutdown: %w", err)
	}
	return nil
}
