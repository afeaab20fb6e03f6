// Package http is the `http` source: Data Prepper's HTTP log endpoint, which
// Fluent Bit's `http` output posts to (a JSON array of records), also taking
// NDJSON and gzip bodies.
package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/ratelog"
	"github.com/weft-agent/weft/plugins/internal/listen"
)

func init() {
	pipelines.RegisterSource("http", "log records posted over HTTP as a JSON array (Fluent Bit http output), NDJSON, gzip", NewConfig, New)
}

// Source serves the HTTP endpoint.
type Source struct {
	set      pipelines.Settings
	cfg      *Config
	srv      *http.Server
	ln       net.Listener
	in       pipelines.Input
	pending  chan struct{}
	served   chan struct{}
	requests *prometheus.CounterVec
	bad      *ratelog.Logger

	mu      sync.Mutex
	stopped bool
}

// New creates the source; it listens on Start.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_http_requests_total",
		Help: "Requests to the http source by result (ok, invalid, too_large, unauthenticated, busy, unavailable)."}, []string{"result"})
	if err := s.Telemetry.Registerer.Register(requests); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	return &Source{set: s, cfg: c, pending: make(chan struct{}, c.MaxPending), requests: requests,
		bad: ratelog.New(s.Logger, "http source: rejected malformed requests")}, nil
}

// Addr returns the listening address (after Start).
func (s *Source) Addr() string { return s.ln.Addr().String() }

// Start listens and serves.
func (s *Source) Start(ctx context.Context, in pipelines.Input) error {
	tlsCfg, err := s.cfg.TLS.Config()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		return fmt.Errorf("http source: %w", err)
	}
	s.ln, s.in = ln, in
	mux := http.NewServeMux()
	mux.HandleFunc(s.cfg.Path, s.handle)
	if s.cfg.HealthCheck {
		mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	}
	s.srv = &http.Server{Handler: mux, ReadTimeout: s.cfg.RequestTimeout, ReadHeaderTimeout: s.cfg.RequestTimeout, TLSConfig: tlsCfg}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		var err error
		if tlsCfg != nil {
			err = s.srv.ServeTLS(ln, "", "")
		} else {
			err = s.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.set.Logger.WithError(err).Error("http source stopped serving")
		}
	}()
	s.set.Logger.WithField("address", ln.Addr().String()).WithField("path", s.cfg.Path).Info("http source listening")
	return nil
}

// Stop stops accepting requests and waits for the ones in progress.
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	<-s.served
	s.bad.Flush()
	return err
}

// Ready reports whether the source is listening.
func (s *Source) Ready() error {
	if s.ln == nil {
		return errors.New("not listening")
	}
	return nil
}

func (s *Source) reply(w http.ResponseWriter, code int, result, msg string) {
	s.requests.WithLabelValues(result).Inc()
	if code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

func (s *Source) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		s.reply(w, http.StatusMethodNotAllowed, "invalid", "use POST")
		return
	}
	if !s.cfg.Authentication.Check(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", s.cfg.Authentication.Scheme())
		s.reply(w, http.StatusUnauthorized, "unauthenticated", "authentication required")
		return
	}
	select {
	case s.pending <- struct{}{}:
		defer func() { <-s.pending }()
	default:
		s.reply(w, http.StatusTooManyRequests, "busy", "too many requests in progress; retry")
		return
	}
	body, err := listen.ReadBody(r, s.cfg.MaxRequestLength)
	if errors.Is(err, listen.ErrTooLarge) {
		s.reply(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than max_request_length (%d bytes)", s.cfg.MaxRequestLength))
		return
	}
	if err != nil {
		s.bad.Record(err)
		s.reply(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	now := time.Now()
	evs, err := s.decode(body, now)
	if err != nil {
		s.bad.Record(err)
		s.reply(w, http.StatusBadRequest, "invalid", "malformed body: "+err.Error())
		return
	}
	if len(evs) == 0 {
		s.requests.WithLabelValues("ok").Inc()
		w.WriteHeader(http.StatusOK)
		return
	}
	s.set.Telemetry.Received(len(evs))
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.BufferTimeout)
	defer cancel()
	n, err := s.in.Write(ctx, evs)
	s.set.Telemetry.Passed(n)
	if err != nil {
		// The first n records are in the pipeline; the sender retries the
		// whole request, so delivery is at least once.
		msg := "pipeline buffer is full; retry"
		if errors.Is(err, pipelines.ErrClosed) {
			msg = "shutting down; retry"
		}
		s.reply(w, http.StatusServiceUnavailable, "unavailable", fmt.Sprintf("%s (%d of %d records accepted)", msg, n, len(evs)))
		return
	}
	s.requests.WithLabelValues("ok").Inc()
	w.WriteHeader(http.StatusOK)
}

// decode accepts a JSON array of objects (Fluent Bit), a single object, or
// NDJSON (one object per line). Each object becomes one event.
func (s *Source) decode(body []byte, now time.Time) ([]*event.Event, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil
	}
	var evs []*event.Event
	add := func(v any, where string) error {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not a JSON object", where)
		}
		ev := event.New(event.KindLog, s.recordTime(m, now), m)
		ev.SetMetadata("source", "http")
		evs = append(evs, ev)
		return nil
	}
	if trimmed[0] == '[' {
		i := 0
		err := event.DecodeJSONArray(trimmed, func(v any) error {
			i++
			return add(v, fmt.Sprintf("record %d", i))
		})
		return evs, err
	}
	line := 0
	for len(trimmed) > 0 {
		line++
		var l []byte
		l, trimmed, _ = bytes.Cut(trimmed, []byte{'\n'})
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		m, err := event.DecodeJSONObject(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if err := add(m, fmt.Sprintf("line %d", line)); err != nil {
			return nil, err
		}
	}
	return evs, nil
}

// recordTime reads the record's own time from date_key: epoch seconds (a
// number, as Fluent Bit sends) or an RFC 3339 string.
func (s *Source) recordTime(m map[string]any, now time.Time) time.Time {
	if s.cfg.DateKey == "" {
		return now
	}
	switch v := m[s.cfg.DateKey].(type) {
	case float64:
		sec := int64(v)
		return time.Unix(sec, int64((v-float64(sec))*1e9)).UTC()
	case int64:
		return time.Unix(v, 0).UTC()
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	return now
}
