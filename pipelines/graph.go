package pipelines

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/expr"
)

// Options are what the agent provides to build a graph.
type Options struct {
	Metrics *Metrics
	// Registerer receives component-specific metrics of this graph.
	Registerer prometheus.Registerer
	Logger     *logrus.Logger
	Tracer     trace.Tracer
	// Gatherer reads every metric the agent exposes on /metrics, for
	// components that forward them (the prometheus sink's gatherer mode).
	Gatherer prometheus.Gatherer
	// TraceSinks wraps every sink write in a span (self-telemetry).
	TraceSinks bool
	DataDir    string
}

// Graph is a set of connected pipelines built from one configuration.
type Graph struct {
	order  []*Pipeline // upstream first
	byName map[string]*Pipeline
	log    *logrus.Logger

	sharedMu sync.Mutex
	shared   map[string]any

	gatherer prometheus.Gatherer

	doneOnce sync.Once
	done     chan struct{}
	stopWait chan struct{}
}

type compSpec struct {
	c       *config.Component
	factory *Factory
	cfg     any
}

type pipeSpec struct {
	cfg     *config.Pipeline
	source  *compSpec
	procs   []*compSpec
	sinks   []*compSpec
	routes  []*expr.Expression
	sinkRts [][]int
	up      []string // pipelines named by a connector source
	down    []string // pipelines named by connector sinks
}

// Validate checks a configuration completely (plugins, options, routes,
// graph) without creating any component.
func Validate(cfg *config.Config) error {
	_, err := plan(cfg)
	return err
}

func plan(cfg *config.Config) ([]*pipeSpec, error) {
	var errs config.Errors
	specs := make([]*pipeSpec, 0, len(cfg.Pipelines))
	byName := map[string]*pipeSpec{}
	for _, p := range cfg.Pipelines {
		ps := &pipeSpec{cfg: p}
		decode := func(c *config.Component, kind Kind) *compSpec {
			f, ok := Lookup(kind, c.Plugin)
			if !ok {
				msg := fmt.Sprintf("unknown %s plugin %q", kind, c.Plugin)
				if s := config.Suggest(c.Plugin, names(kind)); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else if _, other := otherKind(c.Plugin, kind); other != "" {
					msg += fmt.Sprintf(" (%q is a %s)", c.Plugin, other)
				}
				errs = append(errs, &config.Error{Pos: c.Pos, Pipeline: p.Name, Msg: msg})
				return nil
			}
			cs := &compSpec{c: c, factory: f, cfg: f.NewConfig()}
			d := c.Decoder(cfg.Secrets)
			d.Decode(c.Settings, cs.cfg)
			errs = append(errs, d.Errs...)
			return cs
		}
		if p.Source != nil {
			ps.source = decode(p.Source, KindSource)
			if ps.source != nil {
				if r, ok := ps.source.cfg.(UpstreamRef); ok {
					ps.up = r.UpstreamNames()
				}
			}
		}
		for _, c := range p.Processors {
			if cs := decode(c, KindProcessor); cs != nil {
				ps.procs = append(ps.procs, cs)
			}
		}
		routeIdx := map[string]int{}
		for _, r := range p.Routes {
			x, err := expr.Compile(r.Expr)
			if err != nil {
				errs = append(errs, &config.Error{Pos: r.Pos, Pipeline: p.Name, Key: "route." + r.Name, Msg: err.Error()})
				x = nil
			}
			routeIdx[r.Name] = len(ps.routes)
			ps.routes = append(ps.routes, x)
		}
		for _, c := range p.Sinks {
			cs := decode(c, KindSink)
			if cs == nil {
				continue
			}
			if r, ok := cs.cfg.(PipelineRef); ok {
				ps.down = append(ps.down, r.PipelineName())
			}
			var idx []int
			for _, rn := range c.Routes {
				i, ok := routeIdx[rn]
				if !ok {
					msg := fmt.Sprintf("route %q is not defined in this pipeline's `route` section", rn)
					if s := config.Suggest(rn, sortedRouteNames(routeIdx)); s != "" {
						msg += fmt.Sprintf("; did you mean %q?", s)
					}
					errs = append(errs, &config.Error{Pos: c.RoutesPos, Pipeline: p.Name, Component: c.Label(), Key: "routes", Msg: msg})
					continue
				}
				idx = append(idx, i)
			}
			ps.sinks = append(ps.sinks, cs)
			ps.sinkRts = append(ps.sinkRts, idx)
		}
		specs = append(specs, ps)
		byName[p.Name] = ps
	}
	// Connector edges must name existing pipelines and agree on both ends.
	for _, ps := range specs {
		for _, name := range ps.up {
			up, ok := byName[name]
			switch {
			case !ok:
				errs = append(errs, unknownPipeline(ps.cfg.Source, name, byName))
			case !contains(up.down, ps.cfg.Name):
				errs = append(errs, &config.Error{Pos: ps.cfg.Source.Pos, Pipeline: ps.cfg.Name, Component: ps.cfg.Source.Label(),
					Msg: fmt.Sprintf("reads from pipeline %q, but %q has no `pipeline` sink named %q", name, name, ps.cfg.Name)})
			}
		}
		for i, d := range ps.down {
			down, ok := byName[d]
			var sink *config.Component
			for _, s := range ps.sinks {
				if r, ok := s.cfg.(PipelineRef); ok && r.PipelineName() == d {
					sink = s.c
				}
			}
			_ = i
			switch {
			case !ok:
				errs = append(errs, unknownPipeline(sink, d, byName))
			case d == ps.cfg.Name:
				errs = append(errs, &config.Error{Pos: sink.Pos, Pipeline: ps.cfg.Name, Component: sink.Label(), Msg: "a pipeline cannot send to itself"})
			case !contains(down.up, ps.cfg.Name):
				errs = append(errs, &config.Error{Pos: sink.Pos, Pipeline: ps.cfg.Name, Component: sink.Label(),
					Msg: fmt.Sprintf("sends to pipeline %q, whose source does not name %q (`pipeline: {name: %q}`)", d, ps.cfg.Name, ps.cfg.Name)})
			}
		}
	}
	if len(errs) == 0 {
		if cyc := findCycle(specs, byName); cyc != nil {
			p := byName[cyc[0]].cfg
			errs = append(errs, &config.Error{Pos: p.Pos, Pipeline: p.Name, Msg: "pipelines form a cycle: " + strings.Join(cyc, " -> ")})
		}
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].Pos, errs[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	if len(errs) > 0 {
		return nil, errs
	}
	return topoSort(specs, byName), nil
}

func sortedRouteNames(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func otherKind(name string, not Kind) (*Factory, string) {
	for _, k := range []Kind{KindSource, KindProcessor, KindSink} {
		if k == not {
			continue
		}
		if f, ok := Lookup(k, name); ok {
			return f, string(k)
		}
	}
	return nil, ""
}

func unknownPipeline(c *config.Component, name string, byName map[string]*pipeSpec) *config.Error {
	known := make([]string, 0, len(byName))
	for n := range byName {
		known = append(known, n)
	}
	sort.Strings(known)
	msg := fmt.Sprintf("no pipeline named %q", name)
	if s := config.Suggest(name, known); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	e := &config.Error{Msg: msg, Key: "name"}
	if c != nil {
		e.Pos, e.Pipeline, e.Component = c.Pos, c.Pipeline, c.Label()
	}
	return e
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func findCycle(specs []*pipeSpec, byName map[string]*pipeSpec) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(n string) []string
	visit = func(n string) []string {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range byName[n].down {
			switch color[d] {
			case grey:
				for i, s := range stack {
					if s == d {
						return append(append([]string(nil), stack[i:]...), d)
					}
				}
			case white:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return nil
	}
	for _, s := range specs {
		if color[s.cfg.Name] == white {
			if c := visit(s.cfg.Name); c != nil {
				return c
			}
		}
	}
	return nil
}

func topoSort(specs []*pipeSpec, byName map[string]*pipeSpec) []*pipeSpec {
	indeg := map[string]int{}
	for _, s := range specs {
		for _, d := range s.down {
			indeg[d]++
		}
	}
	var out []*pipeSpec
	var queue []*pipeSpec
	for _, s := range specs {
		if indeg[s.cfg.Name] == 0 {
			queue = append(queue, s)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		out = append(out, s)
		for _, d := range s.down {
			indeg[d]--
			if indeg[d] == 0 {
				queue = append(queue, byName[d])
			}
		}
	}
	return out
}

// Build validates cfg and creates every component. Nothing is started.
func Build(cfg *config.Config, opts Options) (*Graph, error) {
	specs, err := plan(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Tracer == nil {
		opts.Tracer = noop.NewTracerProvider().Tracer("weft")
	}
	if opts.Logger == nil {
		opts.Logger = logrus.New()
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	g := &Graph{byName: map[string]*Pipeline{}, shared: map[string]any{}, log: opts.Logger, done: make(chan struct{}), stopWait: make(chan struct{}),
		gatherer: opts.Gatherer}
	// Buffers first, so connector sinks can find their targets.
	for _, ps := range specs {
		p := newPipeline(ps, opts)
		g.order = append(g.order, p)
		g.byName[p.Name] = p
	}
	var errs config.Errors
	for i, ps := range specs {
		if err := g.order[i].create(ps, opts, g); err != nil {
			var ce *config.Error
			if errors.As(err, &ce) {
				errs = append(errs, ce)
			} else {
				errs = append(errs, &config.Error{Pos: ps.cfg.Pos, Pipeline: ps.cfg.Name, Msg: err.Error()})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return g, nil
}

// Shared implements Host.
func (g *Graph) Shared(key string, mk func() any) any {
	g.sharedMu.Lock()
	defer g.sharedMu.Unlock()
	if v, ok := g.shared[key]; ok {
		return v
	}
	v := mk()
	g.shared[key] = v
	return v
}

// Gatherer returns the agent's metrics (engine, plugins, Go and process
// collectors), or nil outside an agent.
func (g *Graph) Gatherer() prometheus.Gatherer { return g.gatherer }

// PipelineInput implements Host.
func (g *Graph) PipelineInput(name string) (Input, bool) {
	p, ok := g.byName[name]
	if !ok {
		return nil, false
	}
	return p.buf, true
}

// Pipelines returns the pipelines, upstream first.
func (g *Graph) Pipelines() []*Pipeline { return g.order }

// Start starts every pipeline, downstream first, so no event is produced
// before the components that take it run. On failure what was started is
// stopped again.
func (g *Graph) Start(ctx context.Context) error {
	for i := len(g.order) - 1; i >= 0; i-- {
		if err := g.order[i].start(ctx); err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for j := i; j < len(g.order); j++ {
				g.order[j].shutdown(sctx)
			}
			return fmt.Errorf("starting pipeline %q: %w", g.order[i].Name, err)
		}
	}
	go g.watchFinite()
	return nil
}

// watchFinite closes Done when every source is finite and has finished.
func (g *Graph) watchFinite() {
	var chans []<-chan struct{}
	for _, p := range g.order {
		if len(p.upstream) > 0 {
			continue
		}
		f, ok := p.source.(FiniteSource)
		if !ok {
			return
		}
		chans = append(chans, f.Done())
	}
	for _, c := range chans {
		select {
		case <-c:
		case <-g.stopWait:
			return
		}
	}
	g.doneOnce.Do(func() { close(g.done) })
}

// Done is closed when every source of the graph is finite and finished.
func (g *Graph) Done() <-chan struct{} { return g.done }

// Shutdown stops the pipelines upstream first, draining each buffer into its
// sinks until ctx ends. Whatever is still held then is rejected, counted and
// logged. It returns how many events were lost that way.
func (g *Graph) Shutdown(ctx context.Context) int {
	select {
	case <-g.stopWait:
	default:
		close(g.stopWait)
	}
	lost := 0
	for _, p := range g.order {
		lost += p.shutdown(ctx)
	}
	return lost
}

// Ready reports the first component that is not ready.
func (g *Graph) Ready() error {
	for _, p := range g.order {
		if err := p.ready(); err != nil {
			return err
		}
	}
	return nil
}
