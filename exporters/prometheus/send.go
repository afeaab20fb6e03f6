package prometheus

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/weft-agent/weft/exporters/sinkcore"
)

// result is what became of one point.
type result uint8

const (
	resPending    result = iota
	resSent              // accepted by the receiver
	resDuplicate         // same series and timestamp as one sent before or later in the request: not sent again
	resOutOfOrder        // older than what the series already has (dropped here, or refused by the receiver)
	resRejected          // refused by the receiver (4xx other than 429)
	resFailed            // out of retries
	resShutdown          // not sent before the shutdown deadline
	numResults

	// retriedFlag is set on the results of points that were sent more than
	// once (their request was retried).
	retriedFlag result = 0x80
)

// kind is the result without the retried flag.
func (r result) kind() result { return r &^ retriedFlag }

func (r result) retried() bool { return r&retriedFlag != 0 }

var resultNames = [numResults]string{"pending", "sent", "duplicate", "out_of_order", "rejected", "failed", "shutdown"}

// ok reports whether the sample is in the receiver (sent, or a duplicate of
// one that is).
func (r result) ok() bool { k := r.kind(); return k == resSent || k == resDuplicate }

// failure explains why points were not accepted.
type failure struct {
	status int
	typ    string
	reason string
}

// maxTracked bounds the per-series memory of the newest timestamp sent:
// beyond it the memory is cleared (the receiver then judges order alone).
const maxTracked = 1 << 16

// group is the points of one series in one request.
type group struct {
	labels string
	refs   []int32 // indexes of the points, by time
}

// sender sends points as remote write requests, one request at a time so
// that every series' samples reach the receiver in time order (retries
// included), as the specification requires of senders.
type sender struct {
	cl       *client
	backoff  sinkcore.Backoff
	m        *sinkcore.Metrics
	samples  [numResults]prometheus.Counter
	oooMs    int64
	log      *logrus.Entry
	tracer   trace.Tracer
	lastWarn atomic.Int64

	mu      sync.Mutex
	last    map[string]int64 // newest timestamp sent per series
	idx     map[string]int32
	groups  []group
	active  []int32
	raw     []byte
	comp    []byte
	fails   [numResults]failure
	pts     []point
	results []result
}

func newSender(cl *client, c *Config, m *sinkcore.Metrics, samples *prometheus.CounterVec, log *logrus.Entry, tr trace.Tracer) *sender {
	if tr == nil {
		tr = noop.NewTracerProvider().Tracer("weft")
	}
	s := &sender{cl: cl, m: m, log: log, tracer: tr, oooMs: c.OutOfOrder.Milliseconds(),
		backoff: sinkcore.Backoff{Initial: c.InitialBackoff, Max: c.MaxBackoff, MaxRetries: c.MaxRetries},
		last:    map[string]int64{}, idx: map[string]int32{}}
	for r := resSent; r < numResults; r++ {
		s.samples[r] = samples.WithLabelValues(resultNames[r])
	}
	return s
}

// send delivers pts and records each point's result in res (len(res) ==
// len(pts)). It returns, per result, the last failure seen, for dead
// letters. It blocks until every point is settled: sent, dropped as a
// duplicate or out of order, refused, out of retries, or (ctx ended)
// dropped at shutdown.
func (s *sender) send(ctx context.Context, pts []point, res []result) [numResults]failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(res)
	s.pts, s.results = pts, res
	defer func() { s.pts, s.results = nil, nil }()
	s.fails = [numResults]failure{}
	s.group(pts)
	if len(s.active) > 0 {
		s.deliver(ctx, s.active)
	}
	for i, r := range res {
		if r.kind() == resPending { // cannot happen; settle it rather than leak it
			res[i] = resFailed | r&retriedFlag
		}
		s.samples[res[i].kind()].Inc()
	}
	return s.fails
}

// group sorts the points into series, orders each series' samples by time
// and drops those that must not be sent: a sample with the same timestamp
// as a later one in the request (the later wins), or not newer than the
// newest already sent for the series (beyond out_of_order_window).
func (s *sender) group(pts []point) {
	clear(s.idx)
	for i := range s.groups {
		s.groups[i].refs = s.groups[i].refs[:0]
	}
	s.groups = s.groups[:0]
	s.active = s.active[:0]
	for i := range pts {
		g, ok := s.idx[pts[i].labels]
		if !ok {
			g = int32(len(s.groups))
			s.idx[pts[i].labels] = g
			if len(s.groups) < cap(s.groups) {
				s.groups = s.groups[:len(s.groups)+1]
				s.groups[g].labels = pts[i].labels
			} else {
				s.groups = append(s.groups, group{labels: pts[i].labels})
			}
		}
		s.groups[g].refs = append(s.groups[g].refs, int32(i))
	}
	res := s.results
	for gi := range s.groups {
		g := &s.groups[gi]
		if len(g.refs) > 1 {
			slices.SortStableFunc(g.refs, func(a, b int32) int {
				ta, tb := pts[a].Timestamp, pts[b].Timestamp
				switch {
				case ta < tb:
					return -1
				case ta > tb:
					return 1
				}
				return 0
			})
		}
		last, seen := s.last[g.labels]
		keep := g.refs[:0]
		for k, r := range g.refs {
			t := pts[r].Timestamp
			switch {
			case k+1 < len(g.refs) && pts[g.refs[k+1]].Timestamp == t:
				res[r] = resDuplicate
			case seen && t == last:
				res[r] = resDuplicate
			case seen && t < last && last-t > s.oooMs:
				res[r] = resOutOfOrder
				s.fails[resOutOfOrder] = failure{typ: "out_of_order", reason: fmt.Sprintf("sample at %d ms is older than the newest sent for the series (%d ms)", t, last)}
			default:
				keep = append(keep, r)
			}
		}
		g.refs = keep
		if len(keep) > 0 {
			s.active = append(s.active, int32(gi))
		}
	}
}

// encode builds the compressed WriteRequest of the given groups.
func (s *sender) encode(gs []int32) (body []byte, samples int) {
	raw := s.raw[:0]
	var smp []Sample
	var sb [64]Sample
	for _, gi := range gs {
		g := &s.groups[gi]
		smp = sb[:0]
		for _, r := range g.refs {
			smp = append(smp, s.pts[r].Sample)
		}
		raw = appendSeries(raw, g.labels, smp)
		samples += len(g.refs)
	}
	s.raw = raw
	s.comp = compress(s.comp, raw)
	if cap(s.raw) > 32<<20 {
		s.raw = nil
	}
	return s.comp, samples
}

// settle records the result of every point of the groups.
func (s *sender) settle(gs []int32, r result, f failure) {
	for _, gi := range gs {
		g := &s.groups[gi]
		for _, p := range g.refs {
			s.results[p] = r | s.results[p]&retriedFlag
		}
		if r == resSent && len(g.refs) > 0 {
			newest := s.pts[g.refs[len(g.refs)-1]].Timestamp
			if old, ok := s.last[g.labels]; !ok || newest > old {
				if !ok && len(s.last) >= maxTracked {
					clear(s.last)
				}
				s.last[g.labels] = newest
			}
		}
	}
	if r != resSent {
		s.fails[r] = f
	}
}

// deliver sends the groups, retrying 5xx, 429 and connection errors with
// backoff. A request the receiver refuses because of some of its samples
// (out of order, duplicate timestamp, too old; Prometheus then refuses the
// whole request) or because it is too large is split in two, so the other
// series still get through.
func (s *sender) deliver(ctx context.Context, gs []int32) {
	body, n := s.encode(gs)
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			s.settle(gs, resShutdown, failure{typ: "shutdown", reason: ctx.Err().Error()})
			return
		}
		resp, err := s.post(ctx, body, len(gs), n, attempt)
		var f failure
		switch {
		case err != nil && ctx.Err() != nil:
			s.settle(gs, resShutdown, failure{typ: "shutdown", reason: err.Error()})
			return
		case err != nil:
			f = failure{typ: "connection_error", reason: err.Error()}
		case resp.status/100 == 2:
			s.settle(gs, resSent, failure{})
			return
		default:
			f = failure{status: resp.status, typ: fmt.Sprintf("http_%d", resp.status), reason: responseReason(resp.body)}
			if !retryable(resp.status) {
				ooo := sampleLevel(resp.body)
				if (ooo || resp.status == 413) && len(gs) > 1 {
					half := len(gs) / 2
					// The halves are encoded anew: body is not used again.
					s.deliver(ctx, slices.Clone(gs[:half]))
					s.deliver(ctx, slices.Clone(gs[half:]))
					return
				}
				r := resRejected
				if ooo {
					r, f.typ = resOutOfOrder, "out_of_order"
				}
				s.warn(fmt.Sprintf("remote write refused (HTTP %d); the samples are not retried", resp.status), n, attempt, f)
				s.settle(gs, r, f)
				return
			}
		}
		if attempt >= s.backoff.MaxRetries {
			s.warn("remote write failed; out of retries, the samples are given up", n, attempt, f)
			s.settle(gs, resFailed, f)
			return
		}
		s.warn("remote write failed; retrying with backoff", n, attempt, f)
		wait := s.backoff.Delay(attempt)
		if resp.retryAfter > wait {
			wait = min(resp.retryAfter, max(s.backoff.Max, wait))
		}
		if err := sinkcore.Sleep(ctx, wait); err != nil {
			s.settle(gs, resShutdown, failure{typ: "shutdown", reason: err.Error()})
			return
		}
		for _, gi := range gs {
			for _, p := range s.groups[gi].refs {
				s.results[p] |= retriedFlag
			}
		}
	}
}

// post sends one request, counting it and tracing it.
func (s *sender) post(ctx context.Context, body []byte, series, samples, attempt int) (response, error) {
	ctx, span := s.tracer.Start(ctx, "weft.prometheus.remote_write", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.Int("weft.series", series), attribute.Int("weft.samples", samples),
			attribute.Int("weft.bytes", len(body)), attribute.Int("weft.attempt", attempt)))
	defer span.End()
	s.m.Inflight.Inc()
	start := time.Now()
	resp, err := s.cl.post(ctx, body)
	s.m.Inflight.Dec()
	if err == nil || ctx.Err() == nil {
		s.m.Request(resp.status, time.Since(start).Seconds(), len(body))
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.status))
	if resp.status/100 != 2 {
		span.SetStatus(codes.Error, responseReason(resp.body))
	}
	return resp, nil
}

// retryable: the specification asks senders to retry 5xx and 429 (with
// backoff) and never other 4xx.
func retryable(status int) bool { return status == 429 || status/100 == 5 }

var sampleErrors = [][]byte{[]byte("out of order"), []byte("out-of-order"), []byte("duplicate sample"),
	[]byte("out of bounds"), []byte("too old"), []byte("too far in the future")}

// sampleLevel reports whether a refusal names samples (their time), not the
// request as a whole.
func sampleLevel(body []byte) bool {
	lb := bytes.ToLower(body)
	for _, e := range sampleErrors {
		if bytes.Contains(lb, e) {
			return true
		}
	}
	return false
}

func responseReason(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	if s == "" {
		s = "(empty response)"
	}
	return s
}

// warnEvery limits the warnings about failed requests (the metrics count
// every one).
const warnEvery = 10 * time.Second

func (s *sender) warn(msg string, samples, attempt int, f failure) {
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last < int64(warnEvery) || !s.lastWarn.CompareAndSwap(last, now) {
		return
	}
	s.log.WithFields(logrus.Fields{"samples": samples, "attempt": attempt + 1, "status": f.status,
		"error_type": f.typ, "reason": f.reason}).Warn(msg)
}
