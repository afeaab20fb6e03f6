package otlp

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

// Results counted in weft_otlp_requests_total.
const (
	ResultOK              = "ok"
	ResultInvalid         = "invalid"
	ResultUnauthenticated = "unauthenticated"
	ResultTooLarge        = "too_large"
	ResultUnavailable     = "unavailable"
	ResultFailed          = "failed"
)

// Protocols counted in weft_otlp_requests_total.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http"
)

// Endpoint is one listening port of a receiver.
type Endpoint struct {
	// Addr is host:port.
	Addr string
	// GRPC serves the signals' gRPC services on the port.
	GRPC bool
	// HTTPPaths maps OTLP/HTTP paths to signals. When it is empty and GRPC
	// is set, the port serves native gRPC only.
	HTTPPaths map[string]*Signal
	// GRPCPaths makes gRPC calls to another path reach a signal's Export
	// (Data Prepper's `path`); the standard method path is then refused.
	GRPCPaths map[string]*Signal
	// NotYet lists OTLP/HTTP paths of signals the source does not accept
	// (path to signal name), answered 404 with a message.
	NotYet map[string]string
	// Health serves GET /health (HTTP) besides the gRPC health service.
	Health bool
}

// httpFront reports whether the port needs net/http in front (HTTP paths,
// or gRPC paths to rewrite); otherwise gRPC is served natively.
func (e *Endpoint) httpFront() bool { return len(e.HTTPPaths) > 0 || len(e.GRPCPaths) > 0 || !e.GRPC }

// Receiver is the OTLP server machinery shared by the otlp,
// otel_trace_source and otel_logs_source sources: listeners, TLS,
// authentication, limits, decoding, backpressure and acknowledgement. Its Start and Stop implement
// pipelines.Source.
type Receiver struct {
	set       pipelines.Settings
	opts      ServerOptions
	signals   []*Signal
	endpoints []Endpoint
	tls       *tls.Config
	auth      authenticator
	metrics   receiverMetrics
	retry     retryDelay

	invalidLog, unavailableLog, unauthLog, rejectLog *ratelog.Logger

	in     pipelines.Input
	base   context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	started  bool
	closed   bool
	inflight sync.WaitGroup // requests that may still write
	serving  sync.WaitGroup // serve goroutines
	servers  []func(ctx context.Context)
	health   []*health.Server
	serveErr atomic.Pointer[error]
}

var _ pipelines.Source = (*Receiver)(nil)

// NewReceiver checks the options, loads TLS material and registers the
// metrics; nothing listens before Start.
func NewReceiver(set pipelines.Settings, opts ServerOptions, signals []*Signal, endpoints []Endpoint) (*Receiver, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("no listener configured")
	}
	r := &Receiver{set: set, opts: opts, signals: signals, endpoints: endpoints}
	var err error
	if r.tls, err = loadTLS(&opts); err != nil {
		return nil, err
	}
	r.auth = newAuthenticator(&opts.Authentication)
	if r.metrics, err = newReceiverMetrics(set.Telemetry); err != nil {
		return nil, err
	}
	r.retry.min, r.retry.max = opts.RetryInfo.MinDelay, opts.RetryInfo.MaxDelay
	r.invalidLog = ratelog.New(set.Logger, "otlp: malformed requests rejected")
	r.unavailableLog = ratelog.New(set.Logger, "otlp: requests refused with a retryable error (pipeline buffer full, shutting down, or not delivered in time)")
	r.unauthLog = ratelog.New(set.Logger, "otlp: unauthenticated requests rejected")
	r.rejectLog = ratelog.New(set.Logger, "otlp: invalid items rejected (partial success)")
	return r, nil
}

// Start listens on every endpoint and returns once all of them accept
// connections.
func (r *Receiver) Start(_ context.Context, in pipelines.Input) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return nil
	}
	r.in = in
	r.base, r.cancel = context.WithCancel(context.Background())
	type bound struct {
		ep *Endpoint
		ln net.Listener
	}
	var lns []bound
	for i := range r.endpoints {
		ep := &r.endpoints[i]
		ln, err := net.Listen("tcp", ep.Addr)
		if err != nil {
			for _, b := range lns {
				b.ln.Close()
			}
			r.cancel()
			return fmt.Errorf("listening on %s: %w", ep.Addr, err)
		}
		lns = append(lns, bound{ep, netutil.LimitListener(ln, r.opts.MaxConnectionCount)})
	}
	for _, b := range lns {
		r.serve(b.ep, b.ln)
	}
	r.started = true
	return nil
}

func (r *Receiver) serve(ep *Endpoint, ln net.Listener) {
	log := r.set.Logger.WithField("address", ln.Addr().String())
	var gs *grpc.Server
	if ep.GRPC {
		gs = r.newGRPCServer(!ep.httpFront())
	}
	if !ep.httpFront() {
		log.WithField("tls", r.tls != nil).Info("OTLP/gRPC listening")
		r.goServe(func() error { return gs.Serve(ln) })
		r.servers = append(r.servers, func(ctx context.Context) { stopGRPC(ctx, gs) })
		return
	}
	hs := r.newHTTPServer(ep, gs)
	log.WithFields(map[string]any{"tls": r.tls != nil, "grpc": ep.GRPC, "http": len(ep.HTTPPaths) > 0}).Info("OTLP listening")
	r.goServe(func() error {
		var err error
		if r.tls != nil {
			err = hs.ServeTLS(ln, "", "")
		} else {
			err = hs.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	r.servers = append(r.servers, func(ctx context.Context) {
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
		}
		if gs != nil {
			gs.Stop()
		}
	})
}

func (r *Receiver) goServe(fn func() error) {
	r.serving.Add(1)
	go func() {
		defer r.serving.Done()
		if err := fn(); err != nil {
			r.mu.Lock()
			closed := r.closed
			r.mu.Unlock()
			if !closed {
				r.set.Logger.WithError(err).Error("OTLP listener stopped")
				r.serveErr.Store(&err)
			}
		}
	}()
}

// stopGRPC stops a gRPC server gracefully, or at once when ctx ends.
func stopGRPC(ctx context.Context, gs *grpc.Server) {
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		gs.Stop()
		<-done
	}
}

// Stop refuses new requests (UNAVAILABLE / 503), ends the writes under way,
// stops the servers (gracefully until ctx ends) and returns once no request
// can write any more.
func (r *Receiver) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.started || r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	for _, h := range r.health {
		h.Shutdown()
	}
	// Requests blocked on a full buffer or waiting for delivery answer
	// UNAVAILABLE now rather than hold the shutdown.
	r.cancel()
	var wg sync.WaitGroup
	for _, stop := range r.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stop(ctx)
		}()
	}
	wg.Wait()
	r.inflight.Wait()
	r.serving.Wait()
	for _, l := range []*ratelog.Logger{r.invalidLog, r.unavailableLog, r.unauthLog, r.rejectLog} {
		l.Flush()
	}
	return nil
}

// Ready reports a listener that stopped on its own.
func (r *Receiver) Ready() error {
	if p := r.serveErr.Load(); p != nil {
		return fmt.Errorf("OTLP listener stopped: %w", *p)
	}
	return nil
}

// enter registers a request that may write; false once stopping.
func (r *Receiver) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || !r.started {
		return false
	}
	r.inflight.Add(1)
	return true
}

// outcome is how a request ended, for both protocols.
type outcome struct {
	result string
	code   codes.Code
	msg    string
	retry  time.Duration // > 0: suggested retry delay
}

var okOutcome = outcome{result: ResultOK, code: codes.OK}

func (o outcome) httpStatus() int {
	switch o.code {
	case codes.OK:
		return http.StatusOK
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusRequestEntityTooLarge
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.Canceled, codes.DeadlineExceeded:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// export decodes, converts and writes one export request, and returns the
// response to send (nil unless ok).
func (r *Receiver) export(ctx context.Context, sig *Signal, body []byte, isJSON bool, protocol string) (proto.Message, outcome) {
	if !r.enter() {
		return nil, r.finish(protocol, sig, outcome{result: ResultUnavailable, code: codes.Unavailable,
			msg: "the agent is shutting down; retry later", retry: r.opts.RetryInfo.MinDelay})
	}
	defer r.inflight.Done()
	ctx, cancel := context.WithTimeout(ctx, r.opts.RequestTimeout)
	defer cancel()
	res, err := sig.Decode(body, isJSON)
	if err != nil {
		format := "protobuf"
		if isJSON {
			format = "OTLP/JSON"
		}
		err = fmt.Errorf("malformed %s %s export request: %w", format, sig.Name, err)
		r.invalidLog.Record(err)
		return nil, r.finish(protocol, sig, outcome{result: ResultInvalid, code: codes.InvalidArgument, msg: err.Error()})
	}
	if res.Rejected > 0 {
		reason := sig.RejectReason
		if reason == "" {
			reason = "invalid_id"
		}
		r.metrics.rejected.WithLabelValues(sig.Name, reason).Add(float64(res.Rejected))
		r.rejectLog.Record(errors.New(res.Message))
	}
	if len(res.Events) > 0 {
		if o := r.write(ctx, sig, res.Events); o.code != codes.OK {
			return nil, r.finish(protocol, sig, o)
		}
	}
	return sig.Response(&res), r.finish(protocol, sig, okOutcome)
}

func (r *Receiver) finish(protocol string, sig *Signal, o outcome) outcome {
	name := "unknown"
	if sig != nil {
		name = sig.Name
	}
	r.metrics.requests.WithLabelValues(protocol, name, o.result).Inc()
	return o
}

// write puts the events into the pipeline's buffer under one acknowledgement
// handle, waiting at most buffer_timeout for room, and in ack_mode delivered
// waits for the sinks.
func (r *Receiver) write(ctx context.Context, sig *Signal, evs []*event.Event) outcome {
	var acked chan bool
	var ack *event.Acker
	if r.opts.AckMode == AckDelivered {
		acked = make(chan bool, 1)
		ack = event.NewAcker(func(ok bool) { acked <- ok })
	} else {
		ack = event.NewAcker(nil)
	}
	for _, ev := range evs {
		ack.Track(ev)
	}
	r.set.Telemetry.Received(len(evs))
	wctx, cancel := context.WithTimeout(ctx, r.opts.BufferTimeout)
	release := context.AfterFunc(r.base, cancel)
	n, err := r.in.Write(wctx, evs)
	release()
	cancel()
	r.set.Telemetry.Passed(n)
	if err != nil {
		// The rest never entered the pipeline: end their references.
		for _, ev := range evs[n:] {
			ev.Finalize(event.Rejected)
		}
		ack.Seal()
		return r.refused(ctx, sig, err, n, len(evs))
	}
	r.retry.reset()
	ack.Seal()
	if acked == nil {
		return okOutcome
	}
	timer := time.NewTimer(r.opts.AckTimeout)
	defer timer.Stop()
	select {
	case ok := <-acked:
		if ok {
			return okOutcome
		}
		msg := "a sink finally rejected some of the " + sig.Items + " (see the agent's failed-events metrics); not retrying"
		return outcome{result: ResultFailed, code: codes.Internal, msg: msg}
	case <-timer.C:
		o := outcome{result: ResultUnavailable, code: codes.Unavailable, retry: r.retry.next(),
			msg: "the " + sig.Items + " were not delivered within ack_timeout (" + r.opts.AckTimeout.String() + "); retry later"}
		r.unavailableLog.Record(errors.New(o.msg))
		return o
	case <-ctx.Done():
		return outcome{result: ResultUnavailable, code: codes.Unavailable, retry: r.retry.next(),
			msg: "the request timed out waiting for delivery; retry later"}
	case <-r.base.Done():
		return outcome{result: ResultUnavailable, code: codes.Unavailable, retry: r.opts.RetryInfo.MinDelay,
			msg: "the agent is shutting down before delivery; retry later"}
	}
}

// refused describes a write the pipeline did not take completely.
func (r *Receiver) refused(ctx context.Context, sig *Signal, err error, n, total int) outcome {
	var msg string
	switch {
	case errors.Is(err, pipelines.ErrClosed) || r.base.Err() != nil:
		msg = "the agent is shutting down; retry later"
	case ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		msg = "the request was cancelled"
	default:
		msg = "the pipeline's buffer stayed full for " + r.opts.BufferTimeout.String() + "; retry later"
	}
	if n > 0 {
		msg += " (" + strconv.Itoa(n) + " of " + strconv.Itoa(total) + " " + sig.Items + " were already accepted and will be sent again)"
	}
	r.unavailableLog.Record(errors.New(msg))
	return outcome{result: ResultUnavailable, code: codes.Unavailable, msg: msg, retry: r.retry.next()}
}

// retryDelay suggests how long clients pushed back should wait: min_delay
// first, doubling while refusals continue, back to min_delay after a
// success.
type retryDelay struct {
	min, max time.Duration
	cur      atomic.Int64
}

func (d *retryDelay) next() time.Duration {
	for {
		cur := d.cur.Load()
		nxt := time.Duration(cur) * 2
		if cur == 0 {
			nxt = d.min
		}
		if nxt > d.max {
			nxt = d.max
		}
		if nxt <= 0 {
			nxt = d.min
		}
		if d.cur.CompareAndSwap(cur, int64(nxt)) {
			return nxt
		}
	}
}

func (d *retryDelay) reset() {
	if d.cur.Load() != 0 {
		d.cur.Store(0)
	}
}

// receiverMetrics are the receiver's own series (the component labels are
// added by the registerer).
type receiverMetrics struct {
	requests *prometheus.CounterVec
	rejected *prometheus.CounterVec
}

func newReceiverMetrics(tel *pipelines.Telemetry) (receiverMetrics, error) {
	var reg prometheus.Registerer
	if tel != nil {
		reg = tel.Registerer
	}
	req, err := counterVec(reg, "weft_otlp_requests_total",
		"OTLP export requests by protocol (grpc, http), signal and result (ok, invalid, unauthenticated, too_large, unavailable, failed).",
		"protocol", "signal", "result")
	if err != nil {
		return receiverMetrics{}, err
	}
	rej, err := counterVec(reg, "weft_otlp_rejected_items_total",
		"Items (spans) refused individually and reported to the client as OTLP partial success, by signal and reason.",
		"signal", "reason")
	if err != nil {
		return receiverMetrics{}, err
	}
	return receiverMetrics{requests: req, rejected: rej}, nil
}

// counterVec registers a counter vector, or returns the one registered
// before under the same name (a component recreated by a reload).
func counterVec(reg prometheus.Registerer, name, help string, labels ...string) (*prometheus.CounterVec, error) {
	return pipelines.RegisterMetric(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

// loadTLS builds the server TLS configuration (nil without ssl).
func loadTLS(o *ServerOptions) (*tls.Config, error) {
	if !o.SSL {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.SSLKeyCertChainFile, o.SSLKeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading sslKeyCertChainFile and sslKeyFile: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.SSLClientCA != "" {
		pem, err := os.ReadFile(o.SSLClientCA)
		if err != nil {
			return nil, fmt.Errorf("reading ssl_client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ssl_client_ca %s holds no PEM certificate", o.SSLClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// authenticator checks the Authorization header (HTTP) or metadata (gRPC).
type authenticator struct {
	scheme    string // "" (none), "Basic" or "Bearer"
	user, pwd []byte
	token     []byte
}

func newAuthenticator(a *Authentication) authenticator {
	switch {
	case a.HTTPBasic != nil:
		return authenticator{scheme: "Basic", user: []byte(a.HTTPBasic.Username), pwd: []byte(a.HTTPBasic.Password)}
	case a.BearerToken != nil:
		return authenticator{scheme: "Bearer", token: []byte(a.BearerToken.Token)}
	}
	return authenticator{}
}

func (a *authenticator) required() bool { return a.scheme != "" }

// challenge is the WWW-Authenticate header value.
func (a *authenticator) challenge() string {
	if a.scheme == "Basic" {
		return `Basic realm="weft", charset="UTF-8"`
	}
	return `Bearer realm="weft"`
}

// check reports whether header carries valid credentials.
func (a *authenticator) check(header string) bool {
	if a.scheme == "" {
		return true
	}
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, a.scheme) {
		return false
	}
	cred = strings.TrimSpace(cred)
	if a.scheme == "Bearer" {
		return subtle.ConstantTimeCompare([]byte(cred), a.token) == 1
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return false
	}
	user, pwd, ok := strings.Cut(string(raw), ":")
	u := subtle.ConstantTimeCompare([]byte(user), a.user)
	p := subtle.ConstantTimeCompare([]byte(pwd), a.pwd)
	return ok && u&p == 1
}

// unauthenticated is the outcome of a request without valid credentials.
func (r *Receiver) unauthenticated(protocol string, sig *Signal) outcome {
	r.unauthLog.Record(errors.New("missing or wrong credentials"))
	return r.finish(protocol, sig, outcome{result: ResultUnauthenticated, code: codes.Unauthenticated,
		msg: "missing or invalid credentials (" + r.auth.scheme + " authentication is required)"})
}
