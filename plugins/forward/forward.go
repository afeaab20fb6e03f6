// Package forward is the `forward` source: the Fluentd Forward protocol (v1)
// over TCP and TLS, as Fluent Bit's and Fluentd's forward outputs and the
// fluent-logger libraries speak it. Message, Forward, PackedForward and
// CompressedPackedForward modes, EventTime, chunk/ack, the shared-key
// handshake and the UDP heartbeat.
package forward

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterSource("forward", "Fluentd Forward protocol over TCP/TLS (Fluent Bit and Fluentd forward outputs, fluent-logger libraries)", NewConfig, New)
}

const (
	// handshakeTimeout bounds the TLS handshake and the HELO/PING/PONG
	// exchange of a new connection.
	handshakeTimeout = 10 * time.Second
	// writeTimeout bounds writing a reply (ack, PONG) to a client that does
	// not read.
	writeTimeout = 10 * time.Second
)

// Source serves the Forward protocol.
type Source struct {
	set    pipelines.Settings
	cfg    *Config
	in     pipelines.Input
	tlsCfg *tls.Config
	ln     net.Listener
	udp    net.PacketConn

	// base is the parent of every pipeline write; it ends when Stop's
	// deadline passes.
	base   context.Context
	cancel context.CancelFunc
	closed chan struct{} // closed by Stop
	wg     sync.WaitGroup

	mu       sync.Mutex
	stopping bool
	conns    map[*conn]struct{}

	messages    *prometheus.CounterVec
	records     prometheus.Counter
	connections prometheus.Gauge
	refused     prometheus.Counter
	bad         *ratelog.Logger
	authFailed  *ratelog.Logger
	unavailable *ratelog.Logger
	busy        *ratelog.Logger
}

type conn struct {
	raw net.Conn // the TCP connection (deadlines, close)
}

// New creates the source; it listens on Start.
func New(s pipelines.Settings, c *Config) (pipelines.Source, error) {
	src := &Source{set: s, cfg: c, conns: map[*conn]struct{}{}, closed: make(chan struct{}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_forward_messages_total",
			Help: "Forward messages by result (ok, invalid, too_large, unavailable, unauthenticated)."}, []string{"result"}),
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_forward_records_total",
			Help: "Records accepted into the pipeline buffer by the forward source."}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_forward_connections",
			Help: "Open connections of the forward source."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_forward_connections_refused_total",
			Help: "Connections closed at once because max_connections were open."}),
		bad:         ratelog.New(s.Logger, "forward source: rejected malformed messages (connection closed)"),
		authFailed:  ratelog.New(s.Logger, "forward source: handshake failed (connection closed)"),
		unavailable: ratelog.New(s.Logger, "forward source: pipeline buffer full or closing; message not acknowledged (connection closed)"),
		busy:        ratelog.New(s.Logger, "forward source: max_connections reached; connections refused"),
	}
	for _, c := range []prometheus.Collector{src.messages, src.records, src.connections, src.refused} {
		if err := s.Telemetry.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	for _, r := range []string{"ok", "invalid", "too_large", "unavailable"} {
		src.messages.WithLabelValues(r)
	}
	if c.Security != nil {
		src.messages.WithLabelValues("unauthenticated")
	}
	src.base, src.cancel = context.WithCancel(context.Background())
	return src, nil
}

// Addr returns the TCP listening address (after Start).
func (s *Source) Addr() string { return s.ln.Addr().String() }

// Start listens on TCP (and UDP for heartbeats) and serves connections.
func (s *Source) Start(ctx context.Context, in pipelines.Input) error {
	tlsCfg, err := s.cfg.TLS.Config()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		return fmt.Errorf("forward source: %w", err)
	}
	s.mu.Lock()
	s.ln, s.in, s.tlsCfg = ln, in, tlsCfg
	s.mu.Unlock()
	log := s.set.Logger.WithField("address", ln.Addr().String()).WithField("tls", tlsCfg != nil).
		WithField("handshake", s.cfg.Security != nil)
	if s.cfg.UDPHeartbeat {
		port := ln.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenPacket("udp", net.JoinHostPort(s.cfg.Host, strconv.Itoa(port)))
		if err != nil {
			s.set.Logger.WithError(err).Warn("forward source: UDP heartbeat disabled: cannot listen on UDP")
		} else {
			s.udp = udp
			s.wg.Add(1)
			go s.heartbeat()
		}
	}
	s.wg.Add(1)
	go s.accept()
	log.Info("forward source listening")
	return nil
}

// Stop stops accepting connections, lets the messages being handled finish
// (until ctx ends), closes every connection and waits for its goroutines.
func (s *Source) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return nil
	}
	s.stopping = true
	close(s.closed)
	// Connections waiting for their next message wake up now; those
	// handling one finish it first.
	for c := range s.conns {
		c.raw.SetReadDeadline(time.Now())
	}
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	if s.udp != nil {
		s.udp.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel() // pipeline writes give up
		s.mu.Lock()
		for c := range s.conns {
			c.raw.Close()
		}
		s.mu.Unlock()
		<-done
	}
	s.cancel()
	s.bad.Flush()
	s.authFailed.Flush()
	s.unavailable.Flush()
	s.busy.Flush()
	return nil
}

// Ready reports whether the source is listening (and not stopping).
func (s *Source) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil || s.stopping {
		return errors.New("not listening")
	}
	return nil
}

func (s *Source) accept() {
	defer s.wg.Done()
	var delay time.Duration
	for {
		raw, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or similar: back off as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.set.Logger.WithError(err).Warn("forward source: accept failed; retrying")
			select {
			case <-time.After(delay):
				continue
			case <-s.closed:
				return
			}
		}
		delay = 0
		s.mu.Lock()
		if s.stopping || len(s.conns) >= s.cfg.MaxConnections {
			stopping := s.stopping
			s.mu.Unlock()
			raw.Close()
			if !stopping {
				s.refused.Inc()
				s.busy.Record(fmt.Errorf("%d connections open; refused %s", s.cfg.MaxConnections, raw.RemoteAddr()))
			}
			continue
		}
		c := &conn{raw: raw}
		s.conns[c] = struct{}{}
		s.connections.Set(float64(len(s.conns)))
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

// setDeadline sets the connection's deadline unless the source is stopping
// (whose own deadline must not be overwritten); false means "stop serving".
func (s *Source) setDeadline(c *conn, t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	c.raw.SetDeadline(t)
	return true
}

func (s *Source) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

func (s *Source) serve(c *conn) {
	defer s.wg.Done()
	defer func() {
		c.raw.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.connections.Set(float64(len(s.conns)))
		s.mu.Unlock()
	}()
	var rw net.Conn = c.raw
	if s.tlsCfg != nil {
		tc := tls.Server(c.raw, s.tlsCfg)
		ctx, cancel := context.WithTimeout(s.base, handshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			s.set.Logger.WithError(err).WithField("remote", c.raw.RemoteAddr().String()).Debug("forward source: TLS handshake failed")
			return
		}
		rw = tc
	}
	f := &framer{r: rw, max: int(s.cfg.MaxMessageSize)}
	if s.cfg.Security != nil && !s.handshake(c, rw, f) {
		return
	}
	d := newDecoder(int(s.cfg.MaxMessageSize), s.cfg.TagKey)
	for {
		b, mode, err := f.next()
		if err != nil {
			s.readFailed(c, err)
			return
		}
		if !s.handle(rw, d, b, mode) || s.isStopping() {
			return
		}
	}
}

// readFailed counts and logs why a connection's stream ended.
func (s *Source) readFailed(c *conn, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.As(err, &ne) && ne.Timeout() && s.isStopping():
	case errors.Is(err, errTooLarge):
		s.messages.WithLabelValues("too_large").Inc()
		s.bad.Record(fmt.Errorf("%s: message larger than max_message_size (%d bytes)", c.raw.RemoteAddr(), s.cfg.MaxMessageSize))
	case errors.Is(err, errTruncated), isMalformed(err):
		s.messages.WithLabelValues("invalid").Inc()
		s.bad.Record(fmt.Errorf("%s: %w", c.raw.RemoteAddr(), err))
	default: // connection reset and the like
		s.set.Logger.WithError(err).WithField("remote", c.raw.RemoteAddr().String()).Debug("forward source: connection ended")
	}
}

func isMalformed(err error) bool {
	var me *mpError
	return errors.As(err, &me) || errors.Is(err, errJSONDepth)
}

// handle decodes one message, writes its events into the pipeline and
// acknowledges it when asked. It returns false when the connection must be
// closed.
func (s *Source) handle(w net.Conn, d *decoder, b []byte, mode int) bool {
	now := time.Now()
	var msg message
	var err error
	if mode == modeJSON {
		msg, err = d.decodeJSON(b, now)
	} else {
		msg, err = d.decode(b, now)
	}
	if err != nil {
		result := "invalid"
		if errors.Is(err, errTooLarge) {
			result = "too_large"
			err = fmt.Errorf("entries larger than max_message_size (%d bytes) after decompression", s.cfg.MaxMessageSize)
		}
		s.messages.WithLabelValues(result).Inc()
		s.bad.Record(fmt.Errorf("%s: %w", w.RemoteAddr(), err))
		return false
	}
	if evs := msg.events; len(evs) > 0 {
		s.set.Telemetry.Received(len(evs))
		ctx := s.base
		if msg.chunk != "" {
			// The client waits for the ack and resends when it does not
			// come; without a chunk it cannot learn of a failure, so the
			// source waits (TCP pushes back on the client) until Stop.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(s.base, s.cfg.BufferTimeout)
			defer cancel()
		}
		n, err := s.in.Write(ctx, evs)
		s.set.Telemetry.Passed(n)
		s.records.Add(float64(n))
		clear(evs) // the decoder's slice must not keep the events alive
		if err != nil {
			s.messages.WithLabelValues("unavailable").Inc()
			s.unavailable.Record(fmt.Errorf("%s: tag %q: %d of %d records accepted: %w", w.RemoteAddr(), msg.tag, n, len(evs), err))
			return false
		}
	}
	d.release()
	s.messages.WithLabelValues("ok").Inc()
	if msg.chunk == "" {
		return true
	}
	var reply []byte
	if mode == modeJSON {
		reply, _ = json.Marshal(map[string]string{"ack": msg.chunk})
	} else {
		reply = appendStr(appendStr(appendMap(make([]byte, 0, 8+len(msg.chunk)), 1), "ack"), msg.chunk)
	}
	return s.write(w, reply)
}

func (s *Source) write(w net.Conn, b []byte) bool {
	w.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := w.Write(b)
	w.SetWriteDeadline(time.Time{})
	return err == nil
}

// heartbeat answers Fluentd's UDP heartbeat: any datagram gets one byte back.
func (s *Source) heartbeat() {
	defer s.wg.Done()
	buf := make([]byte, 1024)
	for {
		_, addr, err := s.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-s.closed:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		s.udp.WriteTo([]byte{0}, addr)
	}
}
