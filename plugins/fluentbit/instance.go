package fluentbit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/agent"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

// Status is a flush's answer to Fluent Bit; the values are Fluent Bit's
// FLB_ERROR, FLB_OK and FLB_RETRY.
type Status int

const (
	// Error: the chunk can never be delivered (undecodable); Fluent Bit
	// drops it.
	Error Status = 0
	// OK: the chunk is in the pipeline (or, with wait_for_delivery,
	// acknowledged by every sink).
	OK Status = 1
	// Retry: the pipeline pushed back, is shutting down, or a sink rejected
	// a record; Fluent Bit flushes the whole chunk again later.
	Retry Status = 2
)

func (s Status) String() string {
	switch s {
	case Error:
		return "error"
	case OK:
		return "ok"
	case Retry:
		return "retry"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Options configure Open.
type Options struct {
	// Name identifies the instance in logs (Fluent Bit's output alias).
	Name string
	// DataDir is where components keep state unless configured otherwise.
	DataDir string
	// LogOutput receives weft's log (default: standard error, which is
	// Fluent Bit's).
	LogOutput io.Writer
	// Registerer, when set, receives the graph's metrics.
	Registerer prometheus.Registerer
}

// Instance is one `[OUTPUT] Name weft` section: the graph built from its
// pipeline file, whose one fluentbit source receives the chunks.
type Instance struct {
	name    string
	graph   *pipelines.Graph
	src     *Source
	dec     chunkDecoder
	log     *logrus.Entry
	timeout time.Duration // shutdown_timeout
	chunks  *prometheus.CounterVec
	reg     *prometheus.Registry // nil when Options.Registerer was given

	closeOnce sync.Once
	closing   chan struct{}
	lost      int
}

// Open loads and validates the pipeline file (or directory) at path, builds
// its graph and starts it. The configuration must have exactly one pipeline
// whose source is `fluentbit`.
func Open(path string, opts Options) (*Instance, error) {
	if path == "" {
		return nil, errors.New("the Pipeline property is required: the weft pipeline file to run")
	}
	if opts.LogOutput == nil {
		opts.LogOutput = os.Stderr
	}
	cfg, err := agent.CheckConfig(agent.Options{ConfigPath: path})
	if err != nil {
		return nil, err
	}
	log, err := agent.NewLogger(opts.LogOutput, cfg.Agent.Log.Level, cfg.Agent.Log.Format)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	var metricsReg prometheus.Registerer = reg
	if opts.Registerer != nil {
		metricsReg, reg = opts.Registerer, nil
	}
	g, err := pipelines.Build(cfg, pipelines.Options{Metrics: pipelines.NewMetrics(metricsReg), Registerer: metricsReg,
		Logger: log, DataDir: opts.DataDir})
	if err != nil {
		return nil, err
	}
	srcs := g.Shared(sharedKey, func() any { return &endpoint{} }).(*endpoint).list()
	if len(srcs) != 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx) // release what the components opened
		return nil, fmt.Errorf("%s: %d pipelines have the source `fluentbit`; exactly one must (fan out with `pipeline` sinks)", path, len(srcs))
	}
	x := &Instance{name: opts.Name, graph: g, src: srcs[0], log: log.WithField("fluentbit_output", opts.Name),
		reg: reg, timeout: cfg.Agent.ShutdownTimeout, closing: make(chan struct{}),
		dec: chunkDecoder{tagKey: srcs[0].cfg.TagKey, metadataKey: srcs[0].cfg.MetadataKey}}
	x.chunks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_fluentbit_chunks_total",
		Help: "Chunks flushed by Fluent Bit, by answer (ok, retry, error)."}, []string{"status"})
	if err := metricsReg.Register(x.chunks); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		x.chunks = are.ExistingCollector.(*prometheus.CounterVec)
	}
	if err := g.Start(context.Background()); err != nil {
		return nil, err
	}
	x.log.WithField("pipeline_file", path).Info("weft Fluent Bit output started")
	return x, nil
}

// Flush delivers one Fluent Bit chunk (the raw MessagePack bytes of its
// records) and returns Fluent Bit's answer.
//
// From Fluent Bit's view a chunk is all or nothing: when the pipeline takes
// only part of it before buffer_timeout, the answer is Retry and Fluent Bit
// flushes the whole chunk again, so the records that were taken are
// delivered twice (at-least-once delivery, never loss).
func (x *Instance) Flush(tag string, data []byte) Status {
	st := x.flush(tag, data)
	x.chunks.WithLabelValues(st.String()).Inc()
	return st
}

func (x *Instance) flush(tag string, data []byte) Status {
	select {
	case <-x.closing:
		return Retry
	default:
	}
	evs, err := x.dec.decode(data, tag, time.Now())
	if err != nil {
		x.log.WithError(err).WithFields(logrus.Fields{"tag": tag, "bytes": len(data)}).
			Error("dropping a chunk that cannot be decoded (answering FLB_ERROR)")
		return Error
	}
	if len(evs) == 0 {
		return OK
	}
	cfg := x.src.cfg
	var acked chan bool
	var ack *event.Acker
	if cfg.WaitForDelivery {
		acked = make(chan bool, 1)
		ack = event.NewAcker(func(ok bool) { acked <- ok })
		for _, ev := range evs {
			ack.Track(ev)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.BufferTimeout)
	n, err := x.src.write(ctx, evs)
	cancel()
	if n < len(evs) {
		// The rest never entered the pipeline: end their copies so the
		// acknowledgement handle completes.
		for _, ev := range evs[n:] {
			ev.Finalize(event.Rejected)
		}
		if ack != nil {
			ack.Seal()
		}
		x.log.WithError(err).WithFields(logrus.Fields{"tag": tag, "records": len(evs), "accepted": n}).
			Warn("pipeline pushed back; answering FLB_RETRY (records already accepted will be delivered again)")
		return Retry
	}
	if ack == nil {
		return OK
	}
	ack.Seal()
	timer := time.NewTimer(cfg.DeliveryTimeout)
	defer timer.Stop()
	select {
	case ok := <-acked:
		if ok {
			return OK
		}
		x.log.WithField("tag", tag).Warn("a sink rejected records of the chunk; answering FLB_RETRY")
	case <-timer.C:
		x.log.WithField("tag", tag).Warn("sinks did not acknowledge the chunk within delivery_timeout; answering FLB_RETRY")
	}
	return Retry
}

// Close stops the graph: the source stops accepting, buffers drain into the
// sinks within the configuration's shutdown_timeout, what is left is counted
// as lost. It returns how many events were lost and is safe to call twice.
func (x *Instance) Close() int {
	x.closeOnce.Do(func() {
		close(x.closing)
		ctx, cancel := context.WithTimeout(context.Background(), x.timeout)
		defer cancel()
		x.lost = x.graph.Shutdown(ctx)
		f := x.log.WithField("lost", x.lost)
		if x.lost > 0 {
			f.Warn("weft Fluent Bit output stopped; events lost at shutdown")
		} else {
			f.Info("weft Fluent Bit output stopped; everything drained")
		}
	})
	return x.lost
}

// registry returns the instance's own metrics registry (nil when
// Options.Registerer was given).
func (x *Instance) registry() *prometheus.Registry { return x.reg }
