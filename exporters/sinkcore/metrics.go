package sinkcore

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/weft-agent/weft/pipelines"
)

// MetricNames builds the standard sink metric names:
//
//	<Namespace>_<Request>_requests_total{status}   requests by status code, or "error"
//	<Namespace>_<Request>_duration_seconds         request latency histogram
//	<Namespace>_<Unit>_<Delivered>_total           items delivered
//	<Namespace>_<Unit>_failed_total                items finally not delivered (not counting shutdown)
//	<Namespace>_<Unit>_retried_total               items sent again
//	<Namespace>_<Unit>_dead_lettered_total         items written to the dead-letter file
//	<Namespace>_bytes_sent_total                   request body bytes sent (compressed when compressing)
//	<Namespace>_inflight_requests                  requests in flight
//	<Namespace>_buffered_<Unit>                    items held by the sink
//
// For OpenSearch: {"weft_opensearch", "bulk", "documents", "indexed"}.
type MetricNames struct {
	Namespace string
	Request   string
	Unit      string
	Delivered string
}

// Metrics are one sink's standard series. The registerer given to
// NewMetrics adds the pipeline and component labels.
type Metrics struct {
	Requests     *prometheus.CounterVec
	Duration     prometheus.Histogram
	Delivered    prometheus.Counter
	Failed       prometheus.Counter
	Retried      prometheus.Counter
	DeadLettered prometheus.Counter
	BytesSent    prometheus.Counter
	Inflight     prometheus.Gauge
	Buffered     prometheus.Gauge
}

// NewMetrics creates and registers the metrics on reg (nil: unregistered).
// Series already registered under the same names and labels (a component
// recreated by a reload) are reused.
func NewMetrics(reg prometheus.Registerer, n MetricNames) (*Metrics, error) {
	ns := n.Namespace
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "_" + n.Request + "_requests_total",
			Help: "Requests sent, by HTTP status code (\"error\" when no response came)."}, []string{"status"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: ns + "_" + n.Request + "_duration_seconds",
			Help:    "Time from sending a request to its complete response.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		Delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_" + n.Unit + "_" + n.Delivered + "_total",
			Help: "Items the destination accepted."}),
		Failed: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_" + n.Unit + "_failed_total",
			Help: "Items finally not delivered because of an error (dead-lettered, or only logged without a dead-letter file); drops at shutdown are not counted here."}),
		Retried: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_" + n.Unit + "_retried_total",
			Help: "Items sent again after a retryable failure (each resend counts)."}),
		DeadLettered: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_" + n.Unit + "_dead_lettered_total",
			Help: "Items written to the dead-letter file."}),
		BytesSent: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "_bytes_sent_total",
			Help: "Request body bytes sent, after compression."}),
		Inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "_inflight_requests",
			Help: "Requests currently in flight."}),
		Buffered: prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "_buffered_" + n.Unit,
			Help: "Items held by the sink (batching, queued, in flight or waiting to be retried)."}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.Requests, err = pipelines.RegisterMetric(reg, m.Requests); err != nil {
		return nil, err
	}
	if m.Duration, err = pipelines.RegisterMetric(reg, m.Duration); err != nil {
		return nil, err
	}
	for _, c := range []*prometheus.Counter{&m.Delivered, &m.Failed, &m.Retried, &m.DeadLettered, &m.BytesSent} {
		if *c, err = pipelines.RegisterMetric(reg, *c); err != nil {
			return nil, err
		}
	}
	for _, g := range []*prometheus.Gauge{&m.Inflight, &m.Buffered} {
		if *g, err = pipelines.RegisterMetric(reg, *g); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Request counts one request: its status code (0 for "error": no
// response), duration and body size.
func (m *Metrics) Request(status int, seconds float64, bytes int) {
	label := "error"
	if status > 0 {
		label = strconv.Itoa(status)
	}
	m.Requests.WithLabelValues(label).Inc()
	m.Duration.Observe(seconds)
	m.BytesSent.Add(float64(bytes))
}
