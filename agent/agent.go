// Package agent is weft's runtime: it loads the configuration, builds and
// runs the pipeline graph, serves the admin endpoints, reloads on SIGHUP and
// drains on SIGTERM/SIGINT.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines"
)

// Options configure an agent.
type Options struct {
	// ConfigPath is a file or directory; when empty, Embedded is used.
	ConfigPath string
	// Embedded is the built-in default configuration (name and text).
	EmbeddedName string
	Embedded     []byte
	// LogLevel and LogFormat override the configuration when set.
	LogLevel  string
	LogFormat string
	// AdminAddress overrides the configured admin address when set.
	AdminAddress string
	DataDir      string
	Version      string
	LogOutput    io.Writer
	// Signals, when set, replaces the process's signal notifications (tests).
	Signals <-chan os.Signal
}

// Agent runs one configuration generation at a time.
type Agent struct {
	opts    Options
	log     *logrus.Logger
	reg     *prometheus.Registry
	metrics *pipelines.Metrics
	tracer  trace.Tracer
	tracing *tracing

	mu         sync.RWMutex
	cfg        *config.Config
	graph      *pipelines.Graph
	graphReg   *prometheus.Registry
	generation atomic.Int64
	stopping   atomic.Bool

	reloads     *prometheus.CounterVec
	lastReload  prometheus.Gauge
	shutdownMax time.Duration
}

// LoadConfig loads the configuration the options name.
func LoadConfig(opts Options) (*config.Config, error) {
	if opts.ConfigPath != "" {
		return config.Load(opts.ConfigPath)
	}
	return config.Parse(opts.EmbeddedName, opts.Embedded, os.LookupEnv)
}

// CheckConfig loads and fully validates a configuration (plugins, options,
// routes, graph), returning every error.
func CheckConfig(opts Options) (*config.Config, error) {
	cfg, err := LoadConfig(opts)
	if cfg == nil || len(cfg.Pipelines) == 0 {
		return cfg, err
	}
	// Plugin options are checked even when the file has structural errors,
	// so one run lists every problem.
	return cfg, config.Merge(err, pipelines.Validate(cfg))
}

// New loads and validates the configuration and prepares the agent.
func New(opts Options) (*Agent, error) {
	if opts.LogOutput == nil {
		opts.LogOutput = os.Stderr
	}
	cfg, err := CheckConfig(opts)
	if err != nil {
		return nil, err
	}
	level, format := cfg.Agent.Log.Level, cfg.Agent.Log.Format
	if opts.LogLevel != "" {
		level = opts.LogLevel
	}
	if opts.LogFormat != "" {
		format = opts.LogFormat
	}
	log, err := NewLogger(opts.LogOutput, level, format)
	if err != nil {
		return nil, err
	}
	a := &Agent{opts: opts, log: log, reg: prometheus.NewRegistry(), cfg: cfg}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = pipelines.NewMetrics(a.reg)
	a.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_config_reloads_total",
		Help: "Configuration reloads by result (success, failure)."}, []string{"result"})
	a.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_config_last_reload_success_timestamp_seconds",
		Help: "Time of the last successful configuration load."})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weft_build_info",
		Help: "Always 1; labels carry the version."}, []string{"version", "goversion"})
	build.WithLabelValues(opts.Version, runtime.Version()).Set(1)
	a.reg.MustRegister(a.reloads, a.lastReload, build)
	return a, nil
}

// Logger returns the agent's logger.
func (a *Agent) Logger() *logrus.Logger { return a.log }

// Gatherer returns what /metrics serves: the agent's own metrics and those
// of the pipelines last run. It keeps answering after Run has returned, so
// an embedding program can read the final counts of a drained shutdown.
func (a *Agent) Gatherer() prometheus.Gatherer {
	return prometheus.Gatherers{a.reg, prometheus.GathererFunc(a.gatherGraph)}
}

func (a *Agent) currentGraph() *pipelines.Graph {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.graph
}

func (a *Agent) gatherGraph() ([]*dto.MetricFamily, error) {
	a.mu.RLock()
	reg := a.graphReg
	a.mu.RUnlock()
	if reg == nil {
		return nil, nil
	}
	return reg.Gather()
}

func (a *Agent) ready() error {
	if a.stopping.Load() {
		return errors.New("shutting down")
	}
	g := a.currentGraph()
	if g == nil {
		return errors.New("no pipelines running")
	}
	return g.Ready()
}

func (a *Agent) build(cfg *config.Config) (*pipelines.Graph, *prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	g, err := pipelines.Build(cfg, pipelines.Options{Metrics: a.metrics, Registerer: reg, Logger: a.log,
		Gatherer: prometheus.Gatherers{a.reg, reg},
		Tracer:   a.tracer, TraceSinks: a.tracing != nil && a.tracing.enabled, DataDir: a.opts.DataDir})
	return g, reg, err
}

// Run runs the agent until a signal, ctx or the end of every finite source,
// then drains. It returns an error when start-up fails.
func (a *Agent) Run(ctx context.Context) error {
	tr, err := newTracing(ctx, a.cfg.Agent.Telemetry.Traces, a.opts.Version)
	if err != nil {
		return err
	}
	a.tracing = tr
	a.tracer = tr.provider.Tracer("github.com/weft-agent/weft")
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.shutdown(sctx); err != nil {
			a.log.WithError(err).Warn("flushing self-telemetry")
		}
	}()

	sigs := a.opts.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
		defer signal.Stop(ch)
		sigs = ch
	}

	startCtx, span := a.tracer.Start(ctx, "weft.startup")
	g, reg, err := a.build(a.cfg)
	if err != nil {
		endSpan(span, err)
		return err
	}
	addr := a.cfg.Agent.Admin.Address
	if a.opts.AdminAddress != "" {
		addr = a.opts.AdminAddress
	}
	admin, err := a.startAdmin(addr)
	if err != nil {
		endSpan(span, err)
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		admin.stop(sctx)
	}()
	if err := g.Start(startCtx); err != nil {
		endSpan(span, err)
		return err
	}
	a.install(g, reg)
	a.lastReload.SetToCurrentTime()
	span.SetAttributes(attribute.Int("weft.pipelines", len(a.cfg.Pipelines)))
	endSpan(span, nil)
	a.log.WithFields(logrus.Fields{"pipelines": len(a.cfg.Pipelines), "version": a.opts.Version, "config": a.configName()}).Info("weft started")

	for {
		g := a.currentGraph()
		select {
		case <-ctx.Done():
			return a.shutdown("context canceled")
		case <-g.Done():
			return a.shutdown("all sources finished")
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				a.reload(ctx)
			default:
				return a.shutdown("signal " + s.String())
			}
		}
	}
}

func (a *Agent) configName() string {
	if a.opts.ConfigPath != "" {
		return a.opts.ConfigPath
	}
	return a.opts.EmbeddedName + " (embedded)"
}

func (a *Agent) install(g *pipelines.Graph, reg *prometheus.Registry) {
	a.mu.Lock()
	a.graph, a.graphReg = g, reg
	a.mu.Unlock()
	a.generation.Add(1)
}

// reload replaces the running pipelines with the ones in the configuration
// on disk. An invalid configuration is rejected and the old pipelines keep
// running; a valid one is built completely before the old pipelines are
// drained (so no buffered event is lost) and the new ones started.
func (a *Agent) reload(ctx context.Context) {
	ctx, span := a.tracer.Start(ctx, "weft.reload")
	log := a.log.WithField("config", a.configName())
	log.Info("reloading configuration (SIGHUP)")
	cfg, err := CheckConfig(a.opts)
	var newGraph *pipelines.Graph
	var newReg *prometheus.Registry
	if err == nil {
		newGraph, newReg, err = a.build(cfg)
	}
	if err != nil {
		a.reloads.WithLabelValues("failure").Inc()
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				log.WithField("error", e.Error()).Error("invalid configuration")
			}
		} else {
			log.WithError(err).Error("invalid configuration")
		}
		log.Error("reload rejected; the running pipelines are kept")
		endSpan(span, err)
		return
	}
	old := a.currentGraph()
	sctx, cancel := context.WithTimeout(ctx, a.cfg.Agent.ShutdownTimeout)
	lost := old.Shutdown(sctx)
	cancel()
	if lost > 0 {
		log.WithField("events", lost).Error("events lost while draining the old pipelines")
	}
	if err := newGraph.Start(ctx); err != nil {
		a.reloads.WithLabelValues("failure").Inc()
		log.WithError(err).Error("new pipelines failed to start; restarting the previous configuration")
		endSpan(span, err)
		g, reg, berr := a.build(a.cfg)
		if berr == nil {
			berr = g.Start(ctx)
		}
		if berr != nil {
			log.WithError(berr).Error("previous configuration failed to start again")
			return
		}
		a.install(g, reg)
		return
	}
	a.mu.Lock()
	if cfg.Agent.Admin.Address != a.cfg.Agent.Admin.Address {
		log.Warn("admin.address changes take effect after a restart")
	}
	a.cfg = cfg
	a.mu.Unlock()
	a.install(newGraph, newReg)
	a.reloads.WithLabelValues("success").Inc()
	a.lastReload.SetToCurrentTime()
	log.WithField("pipelines", len(cfg.Pipelines)).Info("configuration reloaded")
	endSpan(span, nil)
}

func (a *Agent) shutdown(reason string) error {
	a.stopping.Store(true)
	_, span := a.tracer.Start(context.Background(), "weft.shutdown")
	a.log.WithFields(logrus.Fields{"reason": reason, "timeout": a.cfg.Agent.ShutdownTimeout.String()}).Info("shutting down: draining pipelines")
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Agent.ShutdownTimeout)
	defer cancel()
	lost := a.currentGraph().Shutdown(ctx)
	if lost > 0 {
		a.log.WithField("events", lost).Error("shutdown deadline reached: events not delivered (counted in weft_pipeline_events_failed_total{reason=\"shutdown\"})")
		span.SetAttributes(attribute.Int("weft.lost_events", lost))
	}
	a.log.Info("weft stopped")
	endSpan(span, nil)
	return nil
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Describe is used by `weft version`.
func Describe(version string) string {
	return fmt.Sprintf("weft %s (%s %s/%s)", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
