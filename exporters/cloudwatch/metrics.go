package cloudwatch

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/weft-agent/weft/pipelines"
)

// metrics are the sink's own series; the component's registerer adds the
// pipeline and component labels.
type metrics struct {
	calls     *prometheus.CounterVec   // operation, result
	duration  *prometheus.HistogramVec // operation
	events    *prometheus.CounterVec   // result: sent, dead_lettered, truncated
	dead      *prometheus.CounterVec   // reason
	bytes     prometheus.Counter
	throttles prometheus.Counter
	retries   prometheus.Counter
	inflight  prometheus.Gauge
	buffered  prometheus.Gauge

	sent, deadLettered, truncated prometheus.Counter
}

// Event results.
const (
	resultSent         = "sent"
	resultDeadLettered = "dead_lettered"
	resultTruncated    = "truncated"
)

// Operations.
const (
	opPut       = "PutLogEvents"
	opGroup     = "CreateLogGroup"
	opStream    = "CreateLogStream"
	opRetention = "PutRetentionPolicy"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_cloudwatch_calls_total",
			Help: "CloudWatch Logs API calls by operation and result (success, partial, throttled, server_error, network_error, not_found, already_exists, client_error, ...)."},
			[]string{"operation", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weft_cloudwatch_call_duration_seconds",
			Help:    "Time from sending a CloudWatch Logs API call to its complete response.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"operation"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_cloudwatch_events_total",
			Help: "Log events by result: sent (accepted by CloudWatch Logs), dead_lettered (refused for good), truncated (sent with a shortened message; also counted as sent)."},
			[]string{"result"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_cloudwatch_dead_letters_total",
			Help: "Log events refused for good, by reason (too_old, too_new, expired, event_too_large, invalid_parameter, ...)."},
			[]string{"reason"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_cloudwatch_bytes_total",
			Help: "Bytes of the log events CloudWatch Logs accepted, in its accounting (UTF-8 message plus 26 bytes per event)."}),
		throttles: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_cloudwatch_throttles_total",
			Help: "API calls answered with ThrottlingException (or HTTP 429)."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_cloudwatch_retries_total",
			Help: "PutLogEvents calls made again after a retryable failure (throttling, 5xx, network errors)."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_cloudwatch_inflight_calls",
			Help: "PutLogEvents calls in flight."}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_cloudwatch_buffered_events",
			Help: "Log events held by the sink (batching, queued, in flight or waiting to be retried)."}),
	}
	if reg != nil {
		var err error
		if m.calls, err = pipelines.RegisterMetric(reg, m.calls); err != nil {
			return nil, err
		}
		if m.duration, err = pipelines.RegisterMetric(reg, m.duration); err != nil {
			return nil, err
		}
		if m.events, err = pipelines.RegisterMetric(reg, m.events); err != nil {
			return nil, err
		}
		if m.dead, err = pipelines.RegisterMetric(reg, m.dead); err != nil {
			return nil, err
		}
		for _, c := range []*prometheus.Counter{&m.bytes, &m.throttles, &m.retries} {
			if *c, err = pipelines.RegisterMetric(reg, *c); err != nil {
				return nil, err
			}
		}
		for _, g := range []*prometheus.Gauge{&m.inflight, &m.buffered} {
			if *g, err = pipelines.RegisterMetric(reg, *g); err != nil {
				return nil, err
			}
		}
	}
	m.sent = m.events.WithLabelValues(resultSent)
	m.deadLettered = m.events.WithLabelValues(resultDeadLettered)
	m.truncated = m.events.WithLabelValues(resultTruncated)
	return m, nil
}

// call counts one API call.
func (m *metrics) call(op, result string, seconds float64) {
	m.calls.WithLabelValues(op, result).Inc()
	m.duration.WithLabelValues(op).Observe(seconds)
	if result == "throttled" {
		m.throttles.Inc()
	}
}
