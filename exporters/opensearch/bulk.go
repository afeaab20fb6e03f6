package opensearch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/weft-agent/weft/exporters/sinkcore"
	"github.com/weft-agent/weft/pipelines/event"
)

// bulkPath asks only for what the sink reads: whether any item failed and,
// per item, its status and error. Items keep their positions.
const bulkPath = "/_bulk?filter_path=errors,items.*.status,items.*.error"

// doc is one encoded document: its bulk lines, a slice of the chunk its
// Write encoded.
type doc struct {
	ev   *event.Event
	data []byte
}

// failure is why a document was not indexed.
type failure struct {
	status int
	typ    string
	reason string
}

// deadDoc is a document refused for good.
type deadDoc struct {
	ev *event.Event
	f  failure
}

// bulkScratch is one flush's reusable memory.
type bulkScratch struct {
	raw       []byte
	body      bytes.Buffer
	gz        *gzip.Writer
	resp      []byte
	delivered []*event.Event
	dead      []deadDoc
}

var bulkScratchPool = sync.Pool{New: func() any { return new(bulkScratch) }}

// maxPooledBody keeps a huge bulk from pinning its buffers.
const maxPooledBody = 32 << 20

func (sc *bulkScratch) release() {
	clear(sc.delivered)
	sc.delivered = sc.delivered[:0]
	clear(sc.dead)
	sc.dead = sc.dead[:0]
	if cap(sc.raw) > maxPooledBody {
		sc.raw = nil
	}
	if sc.body.Cap() > maxPooledBody {
		sc.body = bytes.Buffer{}
	}
	if cap(sc.resp) > maxPooledBody {
		sc.resp = nil
	}
	bulkScratchPool.Put(sc)
}

// flush delivers one batch: it is the batcher's FlushFunc. Every document
// ends delivered, dead-lettered or (ctx ended: shutdown) dropped.
func (s *Sink) flush(ctx context.Context, b *sinkcore.Batch[doc]) {
	select {
	case <-s.bootstrapped:
	case <-ctx.Done():
		s.dropShutdown(b.Items)
		return
	}
	sc := bulkScratchPool.Get().(*bulkScratch)
	defer sc.release()
	s.deliver(ctx, b.Items, sc)
}

// deliver sends docs, resending failed ones with backoff until they are
// indexed, refused for good, out of retries, or ctx ends. docs is reordered
// in place.
func (s *Sink) deliver(ctx context.Context, docs []doc, sc *bulkScratch) {
	pending := docs
	for attempt := 0; len(pending) > 0; attempt++ {
		if ctx.Err() != nil {
			s.dropShutdown(pending)
			return
		}
		retry, last, split := s.attempt(ctx, pending, sc, attempt)
		if split {
			// 413: the body was too large for the cluster; halves are
			// sent as new bulks, with their own retries.
			half := len(pending) / 2
			s.deliver(ctx, pending[:half], sc)
			s.deliver(ctx, pending[half:], sc)
			return
		}
		s.finish(sc)
		if len(retry) == 0 {
			return
		}
		if ctx.Err() != nil {
			s.dropShutdown(retry)
			return
		}
		if attempt >= s.backoff.MaxRetries {
			for _, d := range retry {
				sc.dead = append(sc.dead, deadDoc{ev: d.ev, f: last})
			}
			s.finish(sc)
			return
		}
		if err := sinkcore.Sleep(ctx, s.backoff.Delay(attempt)); err != nil {
			s.dropShutdown(retry)
			return
		}
		s.m.Retried.Add(float64(len(retry)))
		pending = retry
	}
}

// finish finalizes what the last attempt settled: delivered and dead docs.
func (s *Sink) finish(sc *bulkScratch) {
	if len(sc.delivered) > 0 {
		s.set.Telemetry.Deliver(sc.delivered...)
		s.m.Delivered.Add(float64(len(sc.delivered)))
		clear(sc.delivered)
		sc.delivered = sc.delivered[:0]
	}
	if len(sc.dead) > 0 {
		s.deadLetter(sc.dead)
		clear(sc.dead)
		sc.dead = sc.dead[:0]
	}
}

// attempt sends one bulk request for docs. Settled documents are added to
// sc.delivered / sc.dead; the ones to resend are returned (compacted at the
// front of docs) with the last failure seen. split asks the caller to send
// docs in two halves (HTTP 413).
func (s *Sink) attempt(ctx context.Context, docs []doc, sc *bulkScratch, attempt int) (retry []doc, last failure, split bool) {
	body, gz := s.buildBody(docs, sc)
	ctx, span := s.set.Tracer.Start(ctx, "weft.opensearch.bulk", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.Int("weft.documents", len(docs)), attribute.Int("weft.bytes", len(body)),
			attribute.Int("weft.attempt", attempt)))
	s.m.Inflight.Inc()
	start := time.Now()
	status, host, err := s.cl.do(ctx, request{method: "POST", path: bulkPath, body: body, gzip: gz, ctype: "application/x-ndjson"}, &sc.resp)
	elapsed := time.Since(start)
	s.m.Inflight.Dec()
	if ctx.Err() == nil || err == nil {
		s.m.Request(status, elapsed.Seconds(), len(body))
	}
	span.SetAttributes(attribute.String("server.address", host))
	defer span.End()

	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		if ctx.Err() != nil {
			return docs, failure{typ: "shutdown", reason: err.Error()}, false
		}
		s.markUnreachable(err)
		s.warnRetry(len(docs), attempt, "connection_error", err.Error())
		return docs, failure{typ: "connection_error", reason: err.Error()}, false
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 200 && status < 300 {
		s.markReachable()
		retry, last, perr := s.parseItems(docs, sc)
		if perr != nil {
			span.RecordError(perr)
			span.SetStatus(codes.Error, perr.Error())
			s.set.Logger.WithError(perr).Warn("unreadable bulk response; resending the whole request")
			return docs, failure{status: status, typ: "invalid_response", reason: perr.Error()}, false
		}
		if len(retry) > 0 || len(sc.dead) > 0 {
			span.SetStatus(codes.Error, "some documents failed")
		}
		return retry, last, false
	}
	f := responseFailure(status, sc.resp)
	span.SetStatus(codes.Error, f.reason)
	switch {
	case retryableStatus(status):
		s.warnRetry(len(docs), attempt, f.typ, f.reason)
		if status != 429 {
			s.markUnreachable(fmt.Errorf("HTTP %d from %s: %s", status, host, f.reason))
		} else {
			s.markReachable()
		}
		return docs, f, false
	case status == 413 && len(docs) > 1:
		s.markReachable()
		return nil, f, true
	}
	s.markReachable()
	// Any other status is the request's fault (or the cluster refusing
	// it for good): every document is dead-lettered.
	for _, d := range docs {
		sc.dead = append(sc.dead, deadDoc{ev: d.ev, f: f})
	}
	return nil, f, false
}

// retryLogEvery limits the warnings about failed bulk requests.
const retryLogEvery = 10 * time.Second

// warnRetry logs a failed bulk request that will be retried, at most once
// per retryLogEvery (the metrics count every one).
func (s *Sink) warnRetry(docs, attempt int, typ, reason string) {
	now := time.Now().UnixNano()
	last := s.lastRetryLog.Load()
	if now-last < int64(retryLogEvery) || !s.lastRetryLog.CompareAndSwap(last, now) {
		return
	}
	s.set.Logger.WithFields(map[string]any{"documents": docs, "attempt": attempt + 1, "error_type": typ, "reason": reason}).
		Warn("bulk request failed; retrying with backoff")
}

func retryableStatus(status int) bool {
	switch status {
	case 429, 502, 503, 504:
		return true
	}
	return false
}

// buildBody concatenates the documents' lines, gzipped when configured.
func (s *Sink) buildBody(docs []doc, sc *bulkScratch) ([]byte, bool) {
	if !s.cfg.Compression {
		raw := sc.raw[:0]
		for _, d := range docs {
			raw = append(raw, d.data...)
		}
		sc.raw = raw
		return raw, false
	}
	sc.body.Reset()
	if sc.gz == nil {
		sc.gz, _ = gzip.NewWriterLevel(&sc.body, gzip.BestSpeed)
	} else {
		sc.gz.Reset(&sc.body)
	}
	for _, d := range docs {
		sc.gz.Write(d.data) // a bytes.Buffer cannot fail
	}
	sc.gz.Close()
	return sc.body.Bytes(), true
}

var errorsFalse = []byte(`{"errors":false`)

// parseItems reads a 2xx bulk response: documents indexed go to
// sc.delivered, refused ones to sc.dead, and the ones to resend (429, 5xx)
// are compacted at the front of docs and returned.
func (s *Sink) parseItems(docs []doc, sc *bulkScratch) ([]doc, failure, error) {
	resp := sc.resp
	if bytes.HasPrefix(resp, errorsFalse) {
		for _, d := range docs {
			sc.delivered = append(sc.delivered, d.ev)
		}
		return nil, failure{}, nil
	}
	v, err := event.DecodeJSON(resp)
	if err != nil {
		return nil, failure{}, fmt.Errorf("bulk response: %w", err)
	}
	top, _ := v.(map[string]any)
	if top == nil {
		return nil, failure{}, errors.New("bulk response is not an object")
	}
	if e, _ := top["errors"].(bool); !e {
		for _, d := range docs {
			sc.delivered = append(sc.delivered, d.ev)
		}
		return nil, failure{}, nil
	}
	items, _ := top["items"].([]any)
	if len(items) != len(docs) {
		return nil, failure{}, fmt.Errorf("bulk response has %d items for %d documents", len(items), len(docs))
	}
	var last failure
	n := 0
	for i, it := range items {
		status, errObj := itemResult(it)
		d := docs[i]
		switch {
		case status >= 200 && status < 300, status == 404 && s.enc.delete && errObj == nil:
			// A delete of a missing document is done (404 without error).
			sc.delivered = append(sc.delivered, d.ev)
		case status == 429 || status >= 500 || status == 0:
			last = itemFailure(status, errObj)
			docs[n] = d
			n++
		default:
			sc.dead = append(sc.dead, deadDoc{ev: d.ev, f: itemFailure(status, errObj)})
		}
	}
	return docs[:n], last, nil
}

// itemResult reads {"<action>":{"status":N,"error":{...}}}.
func itemResult(it any) (int, map[string]any) {
	m, _ := it.(map[string]any)
	for _, v := range m {
		r, _ := v.(map[string]any)
		if r == nil {
			continue
		}
		status := 0
		switch x := r["status"].(type) {
		case int64:
			status = int(x)
		case float64:
			status = int(x)
		}
		e, _ := r["error"].(map[string]any)
		return status, e
	}
	return 0, nil
}

func itemFailure(status int, e map[string]any) failure {
	f := failure{status: status}
	if e == nil {
		f.typ = "http_" + strconv.Itoa(status)
		f.reason = "HTTP status " + strconv.Itoa(status)
		return f
	}
	f.typ, _ = e["type"].(string)
	f.reason, _ = e["reason"].(string)
	if cb, ok := e["caused_by"].(map[string]any); ok {
		ct, _ := cb["type"].(string)
		cr, _ := cb["reason"].(string)
		if ct != "" || cr != "" {
			f.reason += " (caused by " + ct + ": " + cr + ")"
		}
	}
	if f.typ == "" {
		f.typ = "http_" + strconv.Itoa(status)
	}
	return f
}

// responseFailure describes a non-2xx response from its error body
// ({"error":{"type","reason"},"status"} or {"error":"text"}).
func responseFailure(status int, body []byte) failure {
	f := failure{status: status, typ: "http_" + strconv.Itoa(status)}
	v, err := event.DecodeJSON(body)
	if err == nil {
		if m, ok := v.(map[string]any); ok {
			switch e := m["error"].(type) {
			case map[string]any:
				g := itemFailure(status, e)
				if rc, ok := e["root_cause"].([]any); ok && g.reason == "" && len(rc) > 0 {
					if r, ok := rc[0].(map[string]any); ok {
						g.reason, _ = r["reason"].(string)
					}
				}
				return g
			case string:
				f.reason = e
				return f
			}
			if msg, ok := m["message"].(string); ok { // Amazon OpenSearch Service / proxies
				f.reason = msg
				return f
			}
		}
	}
	text := bytes.TrimSpace(body)
	if len(text) > 512 {
		text = text[:512]
	}
	f.reason = "HTTP status " + strconv.Itoa(status)
	if len(text) > 0 {
		f.reason += ": " + string(text)
	}
	return f
}

// dropShutdown rejects documents the sink gave up on because it is
// shutting down.
func (s *Sink) dropShutdown(docs []doc) {
	for _, d := range docs {
		s.set.Telemetry.Reject(d.ev, "shutdown")
	}
	if len(docs) > 0 {
		s.set.Logger.WithField("documents", len(docs)).Warn("shutdown deadline: documents not indexed were dropped")
	}
}

// deadLetter finalizes documents refused for good: written to dlq_file
// when set, logged either way, rejected with reason "dead_letter".
func (s *Sink) deadLetter(dead []deadDoc) {
	if len(dead) == 0 {
		return
	}
	s.m.Failed.Add(float64(len(dead)))
	written := false
	if s.dlq != nil {
		recs := make([]sinkcore.DeadLetter, len(dead))
		now := time.Now()
		for i, d := range dead {
			recs[i] = sinkcore.DeadLetter{
				Document: d.ev.AppendJSON(nil),
				Fields:   s.destFields(d.ev),
				Status:   d.f.status, Type: d.f.typ, Reason: d.f.reason, Time: now,
			}
		}
		if err := s.dlq.Write(recs); err != nil {
			s.set.Logger.WithError(err).WithField("documents", len(dead)).Error("writing to the dead-letter file failed; the documents are lost")
		} else {
			written = true
			s.m.DeadLettered.Add(float64(len(dead)))
		}
	}
	entry := s.set.Logger.WithFields(map[string]any{
		"documents": len(dead), "status": dead[0].f.status, "error_type": dead[0].f.typ, "reason": dead[0].f.reason,
	})
	if written {
		entry.WithField("dlq_file", s.dlq.Path()).Warn("documents refused by OpenSearch were dead-lettered")
	} else if s.dlq == nil {
		entry.Error("documents refused by OpenSearch were dropped (no dlq_file)")
	}
	for _, d := range dead {
		s.set.Telemetry.Reject(d.ev, "dead_letter")
	}
}

// destFields names where a dead document was going.
func (s *Sink) destFields(ev *event.Event) []sinkcore.Field {
	fs := []sinkcore.Field{{Key: "index", Value: s.enc.indexName(ev)}}
	if id := s.enc.docIDOf(ev); id != "" {
		fs = append(fs, sinkcore.Field{Key: "id", Value: id})
	}
	fs = append(fs, sinkcore.Field{Key: "action", Value: s.cfg.Action})
	return fs
}
