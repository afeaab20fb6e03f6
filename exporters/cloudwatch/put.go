package cloudwatch

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/weft-agent/weft/exporters/sinkcore"
	"github.com/weft-agent/weft/pipelines/event"
)

// failure is why an event was not sent.
type failure struct {
	status int
	typ    string
	reason string
}

// deadItem is an event refused for good.
type deadItem struct {
	ev            *event.Event
	group, stream string
	f             failure
}

// putScratch is one flush's reusable memory.
type putScratch struct {
	input []types.InputLogEvent
	dead  []deadItem
	done  []*event.Event
}

var putScratchPool = sync.Pool{New: func() any { return new(putScratch) }}

func (sc *putScratch) release() {
	clear(sc.input)
	sc.input = sc.input[:0]
	clear(sc.dead)
	sc.dead = sc.dead[:0]
	clear(sc.done)
	sc.done = sc.done[:0]
	putScratchPool.Put(sc)
}

// flush delivers one batch of one log stream: it is the batcher's
// FlushFunc (never called concurrently for one stream). Events outside
// CloudWatch Logs' time window are dead-lettered; the rest is sorted by
// time and sent in calls that each span less than 24 hours.
func (s *Sink) flush(ctx context.Context, b *sinkcore.Batch[item]) {
	group, stream := splitKey(b.Key)
	sc := putScratchPool.Get().(*putScratch)
	defer sc.release()
	if ctx.Err() != nil {
		s.dropShutdown(b.Items)
		return
	}
	items := s.checkWindow(b.Items, group, stream, sc)
	s.finish(sc)
	sortByTime(items)
	for _, call := range splitCalls(items, s.cfg.Threshold.BatchSize, int(s.cfg.Threshold.MaxRequestSize)) {
		s.put(ctx, group, stream, call, sc)
	}
}

// checkWindow moves events older than 14 days or more than 2 hours ahead
// to sc.dead and returns the others (items is reordered in place).
func (s *Sink) checkWindow(items []item, group, stream string, sc *putScratch) []item {
	now := s.now()
	oldest := now.Add(-MaxAge).UnixMilli()
	newest := now.Add(MaxAhead).UnixMilli()
	n := 0
	for _, it := range items {
		switch {
		case it.ts < oldest:
			sc.dead = append(sc.dead, deadItem{ev: it.ev, group: group, stream: stream, f: failure{typ: "too_old",
				reason: fmt.Sprintf("event time %s is more than 14 days before now (%s): CloudWatch Logs rejects it", fmtMillis(it.ts), fmtTime(now))}})
		case it.ts > newest:
			sc.dead = append(sc.dead, deadItem{ev: it.ev, group: group, stream: stream, f: failure{typ: "too_new",
				reason: fmt.Sprintf("event time %s is more than 2 hours after now (%s): CloudWatch Logs rejects it", fmtMillis(it.ts), fmtTime(now))}})
		default:
			items[n] = it
			n++
		}
	}
	clear(items[n:])
	return items[:n]
}

func fmtMillis(ms int64) string { return fmtTime(time.UnixMilli(ms)) }
func fmtTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// sortByTime puts a stream's events in chronological order, keeping the
// arrival order of events with the same timestamp.
func sortByTime(items []item) {
	if slices.IsSortedFunc(items, func(a, b item) int { return cmp.Compare(a.ts, b.ts) }) {
		return
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(a.ts, b.ts) })
}

// splitCalls cuts time-sorted events into PutLogEvents calls of at most
// maxEvents events and maxBytes bytes (messages plus 26 bytes each), whose
// first and last events are less than 24 hours apart.
func splitCalls(items []item, maxEvents, maxBytes int) [][]item {
	var calls [][]item
	for start := 0; start < len(items); {
		end, bytes := start, 0
		first := items[start].ts
		for end < len(items) && end-start < maxEvents {
			sz := items[end].size()
			if end > start && (bytes+sz > maxBytes || items[end].ts-first >= MaxBatchSpan.Milliseconds()) {
				break
			}
			bytes += sz
			end++
		}
		calls = append(calls, items[start:end])
		start = end
	}
	return calls
}

// buildInput fills sc.input for a call; its pointers point into items.
func buildInput(items []item, sc *putScratch) []types.InputLogEvent {
	in := slices.Grow(sc.input[:0], len(items))[:len(items)]
	for i := range items {
		in[i] = types.InputLogEvent{Message: &items[i].msg, Timestamp: &items[i].ts}
	}
	sc.input = in
	return in
}

// maxCreateRounds bounds how often one call creates its group or stream
// (another agent may delete it in between, but not forever).
const maxCreateRounds = 3

// put sends one call's events, retrying with backoff, creating a missing
// group or stream, and finalizing every event: delivered, dead-lettered,
// or dropped at shutdown.
func (s *Sink) put(ctx context.Context, group, stream string, items []item, sc *putScratch) {
	created := 0
	var last callError
	for attempt := 0; ; {
		if ctx.Err() != nil {
			s.dropShutdown(items)
			return
		}
		out, err := s.putOnce(ctx, group, stream, items, sc, attempt)
		if err == nil {
			s.markReachable()
			s.accepted(out, group, stream, items, sc)
			return
		}
		if ctx.Err() != nil {
			s.dropShutdown(items)
			return
		}
		ce := classify(err)
		switch ce.class {
		case classAccepted:
			s.markReachable()
			for _, it := range items {
				sc.done = append(sc.done, it.ev)
				s.m.bytes.Add(float64(it.size()))
			}
			s.finish(sc)
			return
		case classNotFound:
			s.markReachable()
			if created >= maxCreateRounds || !s.cfg.CreateLogStream {
				if !s.cfg.CreateLogStream {
					ce.msg = fmt.Sprintf("log stream %s in log group %s does not exist and create_log_stream is false: %s", stream, group, ce.msg)
				}
				s.deadAll(items, group, stream, ce, sc)
				return
			}
			created++
			cerr := s.ensureStream(ctx, group, stream)
			if cerr == nil {
				continue // at once: not a retry of a failure
			}
			if ctx.Err() != nil {
				s.dropShutdown(items)
				return
			}
			if cerr.class != classRetry {
				s.deadAll(items, group, stream, *cerr, sc)
				return
			}
			ce = *cerr
		case classRetry:
			if ce.result != "throttled" {
				s.markUnreachable(ce.code + ": " + ce.msg)
			} else {
				s.markReachable()
			}
		default:
			s.markReachable()
			s.deadAll(items, group, stream, ce, sc)
			return
		}
		// Retryable.
		last = ce
		if attempt >= s.backoff.MaxRetries {
			last.msg = fmt.Sprintf("gave up after %d retries: %s", attempt, last.msg)
			s.deadAll(items, group, stream, last, sc)
			return
		}
		s.warnRetry(group, stream, len(items), attempt, ce)
		if err := sinkcore.Sleep(ctx, s.backoff.Delay(attempt)); err != nil {
			s.dropShutdown(items)
			return
		}
		attempt++
		s.m.retries.Inc()
	}
}

// putOnce makes one PutLogEvents call.
func (s *Sink) putOnce(ctx context.Context, group, stream string, items []item, sc *putScratch, attempt int) (*cloudwatchlogs.PutLogEventsOutput, error) {
	in := buildInput(items, sc)
	bytes := 0
	for _, it := range items {
		bytes += it.size()
	}
	ctx, span := s.set.Tracer.Start(ctx, "weft.cloudwatch.put_log_events", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("aws.log.group.names", group), attribute.String("aws.log.stream.names", stream),
			attribute.Int("weft.events", len(items)), attribute.Int("weft.bytes", bytes), attribute.Int("weft.attempt", attempt)))
	defer span.End()
	s.m.inflight.Inc()
	start := time.Now()
	out, err := s.api.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: in,
	})
	elapsed := time.Since(start).Seconds()
	s.m.inflight.Dec()
	clear(sc.input) // the SDK is done with the pointers
	switch {
	case err == nil:
		result := "success"
		if r := out.RejectedLogEventsInfo; r != nil && (r.TooOldLogEventEndIndex != nil || r.TooNewLogEventStartIndex != nil || r.ExpiredLogEventEndIndex != nil) {
			result = "partial"
			span.SetStatus(codes.Error, "some events rejected")
		}
		s.m.call(opPut, result, elapsed)
	case ctx.Err() != nil:
		// Given up at shutdown: not the destination's answer.
	default:
		ce := classify(err)
		s.m.call(opPut, ce.result, elapsed)
		span.RecordError(err)
		span.SetStatus(codes.Error, ce.code)
	}
	return out, err
}

// accepted settles a successful call: events named by
// rejectedLogEventsInfo are dead-lettered with the reason, the others are
// delivered.
func (s *Sink) accepted(out *cloudwatchlogs.PutLogEventsOutput, group, stream string, items []item, sc *putScratch) {
	var tooOld, expired, tooNew = -1, -1, len(items)
	if r := out.RejectedLogEventsInfo; r != nil {
		if r.TooOldLogEventEndIndex != nil {
			tooOld = int(*r.TooOldLogEventEndIndex)
		}
		if r.ExpiredLogEventEndIndex != nil {
			expired = int(*r.ExpiredLogEventEndIndex)
		}
		if r.TooNewLogEventStartIndex != nil {
			tooNew = int(*r.TooNewLogEventStartIndex)
		}
	}
	for i, it := range items {
		var f failure
		switch {
		case i <= tooOld:
			f = failure{typ: "too_old", reason: fmt.Sprintf("CloudWatch Logs rejected the event as too old (tooOldLogEventEndIndex %d; event time %s)", tooOld, fmtMillis(it.ts))}
		case i <= expired:
			f = failure{typ: "expired", reason: fmt.Sprintf("CloudWatch Logs rejected the event as older than the log group's retention (expiredLogEventEndIndex %d; event time %s)", expired, fmtMillis(it.ts))}
		case i >= tooNew:
			f = failure{typ: "too_new", reason: fmt.Sprintf("CloudWatch Logs rejected the event as too far in the future (tooNewLogEventStartIndex %d; event time %s)", tooNew, fmtMillis(it.ts))}
		default:
			sc.done = append(sc.done, it.ev)
			s.m.bytes.Add(float64(it.size()))
			continue
		}
		sc.dead = append(sc.dead, deadItem{ev: it.ev, group: group, stream: stream, f: f})
	}
	s.finish(sc)
}

// ensureStream creates the stream, and its group first when the group is
// missing and create_log_group allows it. A stream or group that already
// exists is fine.
func (s *Sink) ensureStream(ctx context.Context, group, stream string) *callError {
	ce := s.create(ctx, opStream, func(ctx context.Context) error {
		_, err := s.api.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
		return err
	})
	if ce == nil || ce.class == classAlreadyExists {
		return nil
	}
	if ce.class != classNotFound {
		return ce
	}
	if !s.cfg.CreateLogGroup {
		ce.class = classPermanent
		ce.code = "log_group_not_found"
		ce.msg = fmt.Sprintf("log group %s does not exist and create_log_group is false: %s", group, ce.msg)
		return ce
	}
	ge := s.create(ctx, opGroup, func(ctx context.Context) error {
		_, err := s.api.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)})
		return err
	})
	switch {
	case ge == nil:
		s.set.Logger.WithField("log_group", group).Info("created CloudWatch Logs log group")
		if s.cfg.RetentionDays > 0 {
			re := s.create(ctx, opRetention, func(ctx context.Context) error {
				_, err := s.api.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(group), RetentionInDays: aws.Int32(int32(s.cfg.RetentionDays))})
				return err
			})
			if re != nil && ctx.Err() == nil {
				s.set.Logger.WithFields(map[string]any{"log_group": group, "error_type": re.code, "reason": re.msg}).
					Warn("setting the retention of the new log group failed; its events never expire")
			}
		}
	case ge.class == classAlreadyExists:
	default:
		return ge
	}
	ce = s.create(ctx, opStream, func(ctx context.Context) error {
		_, err := s.api.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
		return err
	})
	if ce == nil || ce.class == classAlreadyExists {
		return nil
	}
	return ce
}

// create makes one create call and counts it.
func (s *Sink) create(ctx context.Context, op string, call func(context.Context) error) *callError {
	start := time.Now()
	err := call(ctx)
	elapsed := time.Since(start).Seconds()
	if err == nil {
		s.m.call(op, "success", elapsed)
		return nil
	}
	ce := classify(err)
	if ctx.Err() == nil {
		s.m.call(op, ce.result, elapsed)
	}
	return &ce
}

// deadAll dead-letters every event of a call with the call's error (its
// AWS error code is the dead letter's type).
func (s *Sink) deadAll(items []item, group, stream string, ce callError, sc *putScratch) {
	for _, it := range items {
		sc.dead = append(sc.dead, deadItem{ev: it.ev, group: group, stream: stream, f: failure{status: ce.status, typ: ce.code, reason: ce.msg}})
	}
	s.finish(sc)
}

// finish finalizes what is settled: delivered and dead events.
func (s *Sink) finish(sc *putScratch) {
	if len(sc.done) > 0 {
		s.set.Telemetry.Deliver(sc.done...)
		s.m.sent.Add(float64(len(sc.done)))
		clear(sc.done)
		sc.done = sc.done[:0]
	}
	if len(sc.dead) > 0 {
		s.deadLetter(sc.dead)
		clear(sc.dead)
		sc.dead = sc.dead[:0]
	}
}

// retryLogEvery limits the warnings about failed calls.
const retryLogEvery = 10 * time.Second

func (s *Sink) warnRetry(group, stream string, events, attempt int, ce callError) {
	now := time.Now().UnixNano()
	last := s.lastRetryLog.Load()
	if now-last < int64(retryLogEvery) || !s.lastRetryLog.CompareAndSwap(last, now) {
		return
	}
	s.set.Logger.WithFields(map[string]any{"log_group": group, "log_stream": stream, "events": events, "attempt": attempt + 1,
		"status": ce.status, "error_type": ce.code, "reason": ce.msg}).Warn("PutLogEvents failed; retrying with backoff")
}

// dropShutdown rejects events the sink gave up on because it is shutting
// down.
func (s *Sink) dropShutdown(items []item) {
	for _, it := range items {
		s.set.Telemetry.Reject(it.ev, "shutdown")
	}
	if len(items) > 0 {
		s.set.Logger.WithField("events", len(items)).Warn("shutdown deadline: events not sent to CloudWatch Logs were dropped")
	}
}

// deadLetter finalizes events refused for good: written to dlq_file when
// set, logged either way, counted by reason, rejected with reason
// "dead_letter".
func (s *Sink) deadLetter(dead []deadItem) {
	if len(dead) == 0 {
		return
	}
	s.m.deadLettered.Add(float64(len(dead)))
	for i := range dead {
		s.m.dead.WithLabelValues(dead[i].f.typ).Inc()
	}
	written := false
	if s.dlq != nil {
		recs := make([]sinkcore.DeadLetter, len(dead))
		now := time.Now()
		for i, d := range dead {
			recs[i] = sinkcore.DeadLetter{
				Document: d.ev.AppendJSON(nil),
				Fields:   []sinkcore.Field{{Key: "log_group", Value: d.group}, {Key: "log_stream", Value: d.stream}},
				Status:   d.f.status, Type: d.f.typ, Reason: d.f.reason, Time: now,
			}
		}
		if err := s.dlq.Write(recs); err != nil {
			s.set.Logger.WithError(err).WithField("events", len(dead)).Error("writing to the dead-letter file failed; the events are lost")
		} else {
			written = true
		}
	}
	entry := s.set.Logger.WithFields(map[string]any{
		"events": len(dead), "log_group": dead[0].group, "log_stream": dead[0].stream,
		"status": dead[0].f.status, "error_type": dead[0].f.typ, "reason": dead[0].f.reason,
	})
	if written {
		entry.WithField("dlq_file", s.dlq.Path()).Warn("events refused for CloudWatch Logs were dead-lettered")
	} else if s.dlq == nil {
		entry.Error("events refused for CloudWatch Logs were dropped (no dlq_file)")
	}
	for _, d := range dead {
		s.set.Telemetry.Reject(d.ev, "dead_letter")
	}
}
