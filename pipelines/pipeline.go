package pipelines

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

// State is a pipeline's lifecycle state.
type State int32

const (
	StateCreated State = iota
	StateRunning
	StateDraining
	StateStopped
)

func (s State) String() string {
	return [...]string{"created", "running", "draining", "stopped"}[s]
}

// Pipeline is one running pipeline: source → buffer → workers (processors,
// routing) → sinks.
type Pipeline struct {
	Name     string
	cfg      *config.Pipeline
	upstream []string
	buf      *Buffer
	log      *logrus.Entry
	m        *Metrics

	source    Source
	sourceTel *Telemetry
	sourceID  string
	procs     []*procNode
	sinks     []*sinkNode
	routes    []*expr.Expression
	pipeTel   *Telemetry
	batchHist prometheus.Observer
	tracer    trace.Tracer

	state      atomic.Int32
	runCtx     context.Context
	cancelRun  context.CancelFunc
	workers    sync.WaitGroup
	workersEnd chan struct{}
}

type procNode struct {
	id  string
	p   Processor
	tel *Telemetry
}

type sinkNode struct {
	id     string
	s      Sink
	tel    *Telemetry
	routes []int
}

func newPipeline(ps *pipeSpec, opts Options) *Pipeline {
	name := ps.cfg.Name
	p := &Pipeline{Name: name, cfg: ps.cfg, upstream: ps.up, buf: NewBuffer(ps.cfg.BufferSize), m: opts.Metrics,
		log: opts.Logger.WithField("pipeline", name), routes: ps.routes}
	in := opts.Metrics.pipelineIn.WithLabelValues(name)
	usage := opts.Metrics.bufferUsage.WithLabelValues(name)
	p.buf.onWrite = func(n int) { in.Add(float64(n)) }
	p.buf.gauge = func(n int) { usage.Set(float64(n)) }
	opts.Metrics.bufferCapacity.WithLabelValues(name).Set(float64(ps.cfg.BufferSize))
	p.batchHist = opts.Metrics.batchDuration.WithLabelValues(name)
	if opts.TraceSinks {
		p.tracer = opts.Tracer
	}
	p.pipeTel = opts.Metrics.telemetry(name, "pipeline", opts.Registerer)
	p.pipeTel.logger_ = p.log
	return p
}

func (p *Pipeline) settings(c *config.Component, opts Options, g *Graph) Settings {
	id := c.ID()
	log := opts.Logger.WithFields(logrus.Fields{"pipeline": p.Name, "component": id})
	tel := opts.Metrics.telemetry(p.Name, id, opts.Registerer)
	tel.logger_ = log
	return Settings{Pipeline: p.Name, ID: id, Plugin: c.Plugin, Logger: log, Telemetry: tel,
		Tracer: opts.Tracer, Host: g, DataDir: opts.DataDir}
}

func (p *Pipeline) create(ps *pipeSpec, opts Options, g *Graph) error {
	wrap := func(c *config.Component, err error) error {
		return &config.Error{Pos: c.Pos, Pipeline: p.Name, Component: c.Label(), Msg: err.Error()}
	}
	s := p.settings(ps.source.c, opts, g)
	src, err := ps.source.factory.createSource(s, ps.source.cfg)
	if err != nil {
		return wrap(ps.source.c, err)
	}
	p.source, p.sourceTel, p.sourceID = src, s.Telemetry, s.ID
	for _, pc := range ps.procs {
		s := p.settings(pc.c, opts, g)
		pr, err := pc.factory.createProcessor(s, pc.cfg)
		if err != nil {
			return wrap(pc.c, err)
		}
		p.procs = append(p.procs, &procNode{id: s.ID, p: pr, tel: s.Telemetry})
	}
	for i, sc := range ps.sinks {
		s := p.settings(sc.c, opts, g)
		sk, err := sc.factory.createSink(s, sc.cfg)
		if err != nil {
			return wrap(sc.c, err)
		}
		p.sinks = append(p.sinks, &sinkNode{id: s.ID, s: sk, tel: s.Telemetry, routes: ps.sinkRts[i]})
	}
	return nil
}

func (p *Pipeline) start(ctx context.Context) error {
	for _, sk := range p.sinks {
		if err := sk.s.Start(ctx); err != nil {
			return fmt.Errorf("sink %s: %w", sk.id, err)
		}
	}
	for _, pr := range p.procs {
		if st, ok := pr.p.(Starter); ok {
			if err := st.Start(ctx); err != nil {
				return fmt.Errorf("processor %s: %w", pr.id, err)
			}
		}
	}
	p.runCtx, p.cancelRun = context.WithCancel(context.Background())
	p.workersEnd = make(chan struct{})
	for i := 0; i < p.cfg.Workers; i++ {
		p.workers.Add(1)
		go p.work()
	}
	go func() { p.workers.Wait(); close(p.workersEnd) }()
	p.state.Store(int32(StateRunning))
	if err := p.source.Start(ctx, p.buf); err != nil {
		return fmt.Errorf("source %s: %w", p.sourceID, err)
	}
	p.log.WithFields(logrus.Fields{"workers": p.cfg.Workers, "buffer_size": p.cfg.BufferSize, "batch_size": p.cfg.BatchSize}).Info("pipeline started")
	return nil
}

// scratch is a worker's reusable memory.
type scratch struct {
	batch   []*event.Event
	perSink [][]*event.Event
	matches []bool
}

func (p *Pipeline) work() {
	defer p.workers.Done()
	sc := &scratch{perSink: make([][]*event.Event, len(p.sinks)), matches: make([]bool, len(p.routes))}
	for {
		if p.runCtx.Err() != nil {
			return // shutdown deadline: what is left is counted by shutdown
		}
		batch, closed := p.buf.Read(p.runCtx, sc.batch[:0], p.cfg.BatchSize, p.cfg.Delay)
		sc.batch = batch
		if len(batch) == 0 {
			if closed || p.runCtx.Err() != nil {
				return
			}
		}
		p.runBatch(p.runCtx, batch, sc, 0)
		clear(sc.batch)
	}
}

// runBatch runs processors from index `from` and routes the result. A panic
// in a plugin is contained: the batch is rejected, counted and logged.
func (p *Pipeline) runBatch(ctx context.Context, batch []*event.Event, sc *scratch, from int) {
	start := time.Now()
	stage := "processor"
	defer func() {
		if r := recover(); r != nil {
			p.log.WithFields(logrus.Fields{"panic": fmt.Sprint(r), "stack": string(debug.Stack())}).Error("a component panicked; its batch is rejected")
			for _, ev := range batch {
				if ev != nil && stage == "processor" {
					p.pipeTel.Reject(ev, "panic")
				}
			}
		}
	}()
	for _, pr := range p.procs[from:] {
		pr.tel.Received(len(batch))
		batch = pr.p.Process(ctx, batch)
		pr.tel.Passed(len(batch))
	}
	if len(batch) == 0 {
		return
	}
	stage = "sink"
	p.route(ctx, batch, sc)
	p.batchHist.Observe(time.Since(start).Seconds())
}

func (p *Pipeline) route(ctx context.Context, batch []*event.Event, sc *scratch) {
	out := p.m.pipelineOut.WithLabelValues(p.Name)
	if len(p.sinks) == 1 && len(p.sinks[0].routes) == 0 {
		out.Add(float64(len(batch)))
		p.write(ctx, p.sinks[0], batch)
		return
	}
	for i := range sc.perSink {
		sc.perSink[i] = sc.perSink[i][:0]
	}
	routed := 0
	for _, ev := range batch {
		for i, r := range p.routes {
			sc.matches[i] = r != nil && r.Bool(ev)
		}
		taken := false
		for si, sk := range p.sinks {
			if !sinkWants(sk, sc.matches) {
				continue
			}
			e := ev
			if taken {
				e = ev.Clone()
			}
			taken = true
			sc.perSink[si] = append(sc.perSink[si], e)
		}
		if taken {
			routed++
		} else {
			p.pipeTel.Drop(ev, "unrouted")
		}
	}
	out.Add(float64(routed))
	for si, sk := range p.sinks {
		if len(sc.perSink[si]) > 0 {
			p.write(ctx, sk, sc.perSink[si])
			clear(sc.perSink[si])
		}
	}
}

func sinkWants(sk *sinkNode, matches []bool) bool {
	if len(sk.routes) == 0 {
		return true
	}
	for _, r := range sk.routes {
		if matches[r] {
			return true
		}
	}
	return false
}

func (p *Pipeline) write(ctx context.Context, sk *sinkNode, evs []*event.Event) {
	sk.tel.Received(len(evs))
	var span trace.Span
	if p.tracer != nil {
		ctx, span = p.tracer.Start(ctx, "weft.sink.write", trace.WithAttributes(
			attribute.String("weft.pipeline", p.Name), attribute.String("weft.component", sk.id), attribute.Int("weft.events", len(evs))))
	}
	err := sk.s.Write(ctx, evs)
	if err != nil && ctx.Err() == nil {
		sk.tel.logger().WithError(err).Warn("sink write failed")
	}
	if span != nil {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// shutdown stops the source, drains the buffer through the processors into
// the sinks, flushes stateful processors and the sinks, and returns how many
// events were lost because ctx ended first.
func (p *Pipeline) shutdown(ctx context.Context) int {
	if State(p.state.Load()) == StateStopped {
		return 0
	}
	wasRunning := State(p.state.Swap(int32(StateDraining))) == StateRunning
	if err := p.source.Stop(ctx); err != nil {
		p.log.WithError(err).Warn("stopping source")
	}
	p.buf.Close()
	lost := 0
	if wasRunning {
		select {
		case <-p.workersEnd:
		case <-ctx.Done():
			p.cancelRun()
			<-p.workersEnd
		}
	}
	if left := p.buf.TakeAll(); len(left) > 0 {
		for _, ev := range left {
			p.pipeTel.Reject(ev, "shutdown")
		}
		lost += len(left)
		p.log.WithField("events", len(left)).Error("shutdown deadline reached: events still buffered were not delivered")
	}
	if wasRunning {
		sc := &scratch{perSink: make([][]*event.Event, len(p.sinks)), matches: make([]bool, len(p.routes))}
		for i, pr := range p.procs {
			if f, ok := pr.p.(Flusher); ok {
				if evs := f.Flush(ctx); len(evs) > 0 {
					pr.tel.Passed(len(evs))
					p.runBatch(ctx, evs, sc, i+1)
				}
			}
		}
	}
	for _, sk := range p.sinks {
		if err := sk.s.Shutdown(ctx); err != nil {
			p.log.WithField("component", sk.id).WithError(err).Warn("sink shutdown")
		}
	}
	for _, pr := range p.procs {
		if sd, ok := pr.p.(Shutdowner); ok {
			if err := sd.Shutdown(ctx); err != nil {
				p.log.WithField("component", pr.id).WithError(err).Warn("processor shutdown")
			}
		}
	}
	if p.cancelRun != nil {
		p.cancelRun()
	}
	p.state.Store(int32(StateStopped))
	p.log.WithFields(logrus.Fields{
		"events_in":  counterValue(p.m.pipelineIn.WithLabelValues(p.Name)),
		"events_out": counterValue(p.m.pipelineOut.WithLabelValues(p.Name)),
		"lost":       lost,
	}).Info("pipeline stopped")
	return lost
}

func (p *Pipeline) ready() error {
	if st := State(p.state.Load()); st != StateRunning {
		return fmt.Errorf("pipeline %q is %s", p.Name, st)
	}
	check := func(id string, c any) error {
		if r, ok := c.(Readier); ok {
			if err := r.Ready(); err != nil {
				return fmt.Errorf("pipeline %q, %s: %w", p.Name, id, err)
			}
		}
		return nil
	}
	if err := check(p.sourceID, p.source); err != nil {
		return err
	}
	for _, sk := range p.sinks {
		if err := check(sk.id, sk.s); err != nil {
			return err
		}
	}
	return nil
}

func (t *Telemetry) logger() *logrus.Entry {
	if t.logger_ != nil {
		return t.logger_
	}
	return logrus.WithFields(logrus.Fields{"pipeline": t.Pipeline, "component": t.Component})
}
