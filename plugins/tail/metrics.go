package tail

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/weft-agent/weft/pipelines"
)

type metrics struct {
	watched      prometheus.Gauge
	lines        prometheus.Counter
	bytes        prometheus.Counter
	truncated    prometheus.Counter
	rotRename    prometheus.Counter
	rotTruncate  prometheus.Counter
	parseErrors  *prometheus.CounterVec
	criErrors    prometheus.Counter
	dockerErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{}
	var err error
	if m.watched, err = pipelines.RegisterMetric(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_tail_files_watched",
		Help: "Files the tail source has open."})); err != nil {
		return nil, err
	}
	if m.lines, err = pipelines.RegisterMetric(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_tail_lines_total",
		Help: "Lines read from tailed files."})); err != nil {
		return nil, err
	}
	if m.bytes, err = pipelines.RegisterMetric(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_tail_bytes_total",
		Help: "Bytes read from tailed files."})); err != nil {
		return nil, err
	}
	if m.truncated, err = pipelines.RegisterMetric(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_tail_lines_truncated_total",
		Help: "Events whose line or joined message was longer than max_line_size, cut and tagged _truncated."})); err != nil {
		return nil, err
	}
	rot, err := pipelines.RegisterMetric(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_tail_rotations_total",
		Help: "Rotations seen: rename (a watched path now holds another file) or truncate (copy-truncate)."}, []string{"kind"}))
	if err != nil {
		return nil, err
	}
	m.rotRename, m.rotTruncate = rot.WithLabelValues("rename"), rot.WithLabelValues("truncate")
	if m.parseErrors, err = pipelines.RegisterMetric(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weft_tail_parse_errors_total",
		Help: "Lines not in the configured format (cri or docker), kept as plain messages."}, []string{"format"})); err != nil {
		return nil, err
	}
	m.criErrors = m.parseErrors.WithLabelValues(FormatCRI)
	m.dockerErrors = m.parseErrors.WithLabelValues(FormatDocker)
	return m, nil
}
