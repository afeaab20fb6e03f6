package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Endpoints are the agent's listeners the generator sends to, as host:port.
type Endpoints struct {
	OTLPGRPC  string // otlp source, gRPC (4317)
	OTLPHTTP  string // otlp source, HTTP (4318)
	OTelTrace string // otel_trace_source, Data Prepper's port (21890)
	HTTPLogs  string // http source, Data Prepper's HTTP log endpoint (2021)
	Admin     string // admin server (/readyz, /metrics)
}

// GeneratorConfig configures a Generator.
type GeneratorConfig struct {
	Endpoints
	// Rate is checkouts per second.
	Rate float64
	// FailureRate is the share of checkouts that fail in payment.
	FailureRate float64
	// Seed makes the checkouts (customers, failures, durations)
	// reproducible; 0 draws one. Trace and span IDs are always random.
	Seed uint64
	// FlushInterval is how often spans, OTLP log records and posted log
	// records leave the generator (default 500ms).
	FlushInterval time.Duration
}

// sdkQueue is the OpenTelemetry SDK's queue of spans (per service) and of
// log records.
const sdkQueue = 1 << 16

// maxPending bounds the log records waiting to be posted while the agent
// does not take them; beyond it the oldest are given up (and counted).
const maxPending = 20000

// Stats counts what the generator produced and what the agent took.
type Stats struct {
	Checkouts, Failed int64
	Spans             int64 // spans ended (the SDK exports them)
	OTLPLogs          int64 // OTLP log records emitted (the SDK exports them)
	LogsPosted        int64 // records the http source accepted (200)
	LogsRejected      int64 // records given up: refused, unreachable, or over maxPending
	MetricPoints      int64 // OTLP metric data points the agent accepted
	MetricErrors      int64 // metric exports that failed (the next one carries the counts)
	LastError         string
}

// Generator plays the shop: every checkout becomes five real OTLP spans
// (OpenTelemetry SDK, one tracer provider per service: client and order
// export over OTLP/gRPC to 4317, payment over OTLP/HTTP to 4318, inventory
// to Data Prepper's 21890) and seven to nine log lines: the client's OTLP
// log records (4318), and the order (logrus with B3 headers), payment
// (Python OpenTelemetry logging) and inventory (CRI) lines posted as Fluent
// Bit's http output posts them to 2021. Trace and span IDs in the logs are
// the SDK's, so the agent can correlate them. Every two seconds the order
// service exports its checkout counter as an OTLP metric (4318).
type Generator struct {
	cfg     GeneratorConfig
	r       *rand.Rand
	tracers map[string]trace.Tracer
	tps     []*sdktrace.TracerProvider
	lp      *sdklog.LoggerProvider
	logger  otellog.Logger
	post    *poster

	start                              time.Time
	checkouts, failed, spans, otlpLogs atomic.Int64
	metricPoints, metricErrors         atomic.Int64
}

// NewGenerator creates the SDK providers and exporters. Nothing is sent
// before Run.
func NewGenerator(ctx context.Context, cfg GeneratorConfig) (*Generator, error) {
	if cfg.Rate <= 0 {
		return nil, fmt.Errorf("rate must be above 0, got %v", cfg.Rate)
	}
	if cfg.FailureRate < 0 || cfg.FailureRate > 1 {
		return nil, fmt.Errorf("failure rate must be between 0 and 1, got %v", cfg.FailureRate)
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 500 * time.Millisecond
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	g := &Generator{cfg: cfg, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), tracers: map[string]trace.Tracer{},
		post: newPoster("http://"+cfg.HTTPLogs+"/log/ingest", cfg.FlushInterval)}
	for _, svc := range services {
		var exp sdktrace.SpanExporter
		var err error
		switch svc {
		case "payment":
			exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(cfg.OTLPHTTP), otlptracehttp.WithInsecure())
		case "inventory":
			exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(cfg.OTelTrace), otlptracegrpc.WithInsecure())
		default:
			exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(cfg.OTLPGRPC), otlptracegrpc.WithInsecure())
		}
		if err != nil {
			g.shutdownSDK(ctx)
			return nil, fmt.Errorf("%s span exporter: %w", svc, err)
		}
		// Queues large enough that the SDK does not drop spans at the
		// rates one machine plays (it would, silently, beyond them).
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(serviceResource(svc)),
			sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(cfg.FlushInterval),
				sdktrace.WithMaxQueueSize(sdkQueue), sdktrace.WithMaxExportBatchSize(2048)))
		g.tps = append(g.tps, tp)
		g.tracers[svc] = tp.Tracer("shop")
	}
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(cfg.OTLPHTTP), otlploghttp.WithInsecure())
	if err != nil {
		g.shutdownSDK(ctx)
		return nil, fmt.Errorf("log exporter: %w", err)
	}
	g.lp = sdklog.NewLoggerProvider(sdklog.WithResource(serviceResource("client")),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp, sdklog.WithExportInterval(cfg.FlushInterval),
			sdklog.WithMaxQueueSize(sdkQueue), sdklog.WithExportMaxBatchSize(2048))))
	g.logger = g.lp.Logger("shop")
	return g, nil
}

func serviceResource(svc string) *resource.Resource {
	return resource.NewSchemaless(attribute.String("service.name", svc),
		attribute.String("service.namespace", "shop"), attribute.String("telemetry.sdk.language", "go"))
}

// Run plays checkouts at the configured rate until ctx ends, then flushes
// every span and log record to the agent (for at most flushTimeout) and
// returns. It must be called once.
func (g *Generator) Run(ctx context.Context) error {
	// The poster's requests end only when the final flush's time is up,
	// not when the poster is told to stop: a batch being posted then is
	// finished, not lost.
	var wg sync.WaitGroup
	postCtx, cancelPost := context.WithCancel(context.Background())
	defer cancelPost()
	stopPost := make(chan struct{})
	g.start = time.Now()
	wg.Add(2)
	go func() {
		defer wg.Done()
		g.post.run(postCtx, stopPost)
	}()
	go func() {
		defer wg.Done()
		g.metricsLoop(postCtx, stopPost)
	}()

	var err error
	start := g.start
	tick := time.NewTicker(10 * time.Millisecond)
	played := int64(0)
loop:
	for {
		// Checkouts due by now at the rate, so that any rate works with
		// a coarse ticker.
		due := int64(time.Since(start).Seconds() * g.cfg.Rate)
		for ; played < due && ctx.Err() == nil; played++ {
			if err = g.play(ctx, int(played)+1000); err != nil {
				break loop
			}
		}
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
	}
	tick.Stop()

	fctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	context.AfterFunc(fctx, cancelPost)
	sdkErr := g.shutdownSDK(fctx)
	close(stopPost)
	wg.Wait()
	g.post.flush(fctx)
	g.exportMetrics(fctx) // the final counts
	return errors.Join(err, sdkErr)
}

// flushTimeout bounds the final flush.
const flushTimeout = 10 * time.Second

func (g *Generator) shutdownSDK(ctx context.Context) error {
	var errs []error
	for _, tp := range g.tps {
		errs = append(errs, tp.Shutdown(ctx))
	}
	if g.lp != nil {
		errs = append(errs, g.lp.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// play runs one checkout: its spans through the SDK, its logs to the
// exporters and the poster.
func (g *Generator) play(ctx context.Context, order int) error {
	// The checkout happened just now: it ends 250 ms ago at most.
	c := NewCheckout(g.r, order, time.Now().Add(-250*time.Millisecond), g.cfg.FailureRate)
	plan := c.Spans()
	ctxs := make([]context.Context, len(plan))
	spans := make([]trace.Span, len(plan))
	var ids IDs
	for i, p := range plan {
		parent := context.Background()
		if p.Parent >= 0 {
			parent = ctxs[p.Parent]
		}
		ctxs[i], spans[i] = g.tracers[p.Service].Start(parent, p.Name, trace.WithSpanKind(p.Kind),
			trace.WithTimestamp(p.Start), trace.WithAttributes(p.Attrs...))
		sc := spans[i].SpanContext()
		ids.Trace, ids.Spans[i] = sc.TraceID().String(), sc.SpanID().String()
	}
	records, otlp, err := c.Logs(ids)
	if err != nil {
		return err
	}
	for _, l := range otlp {
		var rec otellog.Record
		rec.SetTimestamp(l.Time)
		rec.SetObservedTimestamp(time.Now())
		rec.SetBody(attribute.StringValue(l.Body))
		if l.Error {
			rec.SetSeverity(otellog.SeverityError)
			rec.SetSeverityText("ERROR")
		} else {
			rec.SetSeverity(otellog.SeverityInfo)
			rec.SetSeverityText("INFO")
		}
		rec.AddAttributes(attribute.Int("shop.order", c.Order))
		g.logger.Emit(ctxs[l.Span], rec)
	}
	g.otlpLogs.Add(int64(len(otlp)))
	g.post.add(records)
	// Children end first, the root last, as in a real request.
	for i := len(plan) - 1; i >= 0; i-- {
		if plan[i].Error {
			spans[i].SetStatus(codes.Error, plan[i].StatusMessage)
		}
		spans[i].End(trace.WithTimestamp(plan[i].End))
	}
	g.spans.Add(int64(len(plan)))
	g.checkouts.Add(1)
	if c.Failed {
		g.failed.Add(1)
	}
	return nil
}

// Stats returns the counts so far.
func (g *Generator) Stats() Stats {
	s := Stats{Checkouts: g.checkouts.Load(), Failed: g.failed.Load(), Spans: g.spans.Load(), OTLPLogs: g.otlpLogs.Load(),
		LogsPosted: g.post.posted.Load(), LogsRejected: g.post.rejected.Load(),
		MetricPoints: g.metricPoints.Load(), MetricErrors: g.metricErrors.Load()}
	if e, ok := g.post.lastErr.Load().(string); ok {
		s.LastError = e
	}
	return s
}

// poster posts log records as JSON arrays, the way Fluent Bit's http
// output does, retrying what the agent pushes back.
type poster struct {
	url      string
	interval time.Duration
	client   *http.Client

	mu      sync.Mutex
	pending []map[string]any

	posted, rejected atomic.Int64
	lastErr          atomic.Value // string
}

func newPoster(url string, interval time.Duration) *poster {
	return &poster{url: url, interval: interval, client: &http.Client{Timeout: 10 * time.Second}}
}

func (p *poster) add(recs []map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, recs...)
	if over := len(p.pending) - maxPending; over > 0 {
		p.pending = append(p.pending[:0], p.pending[over:]...)
		p.rejected.Add(int64(over))
		p.lastErr.Store(fmt.Sprintf("more than %d log records waiting to be posted: oldest given up", maxPending))
	}
}

// run flushes every interval until stop is closed; ctx bounds the
// requests.
func (p *poster) run(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.flush(ctx)
		}
	}
}

// flush posts what is pending in requests of at most 500 records. A
// request the agent pushes back (429, 503) or that fails to connect is
// retried, honouring Retry-After, until ctx ends; the records are then
// counted as rejected.
func (p *poster) flush(ctx context.Context) {
	p.mu.Lock()
	recs := p.pending
	p.pending = nil
	p.mu.Unlock()
	for len(recs) > 0 {
		n := min(len(recs), 500)
		if err := p.postRetrying(ctx, recs[:n]); err != nil {
			p.lastErr.Store(err.Error())
			p.rejected.Add(int64(len(recs)))
			return
		}
		p.posted.Add(int64(n))
		recs = recs[n:]
	}
}

func (p *poster) postRetrying(ctx context.Context, recs []map[string]any) error {
	body, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	delay := 100 * time.Millisecond
	for {
		retryAfter, err := p.post(ctx, body)
		if err == nil {
			return nil
		}
		if retryAfter < 0 {
			return err // permanent
		}
		if retryAfter == 0 {
			retryAfter = delay
			delay = min(2*delay, 2*time.Second)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-time.After(retryAfter):
		}
	}
}

// post sends one request. retryAfter < 0 means the error is permanent.
func (p *poster) post(ctx context.Context, body []byte) (retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return -1, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	switch {
	case resp.StatusCode == http.StatusOK:
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		s, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return time.Duration(s) * time.Second, fmt.Errorf("POST %s: %s", p.url, resp.Status)
	default:
		return -1, fmt.Errorf("POST %s: %s: %s", p.url, resp.Status, bytes.TrimSpace(msg))
	}
}
