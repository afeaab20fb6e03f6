package prometheus

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/ratelog"
	"github.com/weft-agent/weft/pipelines/selfmetrics"
)

// gatherer reads weft's own metrics for source gatherer: in process when
// the agent hands the sink its registries, else metrics_url over HTTP.
type gatherer struct {
	reader   *selfmetrics.Reader
	interval time.Duration
	errors   prometheus.Counter
	failures *ratelog.Logger

	// used by one goroutine at a time (the loop, then Shutdown)
	sc  eventScratch
	pts []point
	res []result
}

func newGatherer(s pipelines.Settings, c *Config) *gatherer {
	g := &gatherer{interval: c.ScrapeInterval,
		reader:   selfmetrics.NewReader(s.Host, c.MetricsURL, max(c.ScrapeInterval, 5*time.Second)),
		failures: ratelog.New(s.Logger, "prometheus: reading weft's metrics failed")}
	g.errors = prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_prometheus_gather_errors_total",
		Help: "Failed readings of weft's own metrics (source gatherer)."})
	if s.Telemetry != nil {
		if err := s.Telemetry.Registerer.Register(g.errors); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				g.errors = are.ExistingCollector.(prometheus.Counter)
			}
		}
	}
	return g
}

// gather returns weft's metric families.
func (g *gatherer) gather(ctx context.Context) ([]*dto.MetricFamily, error) {
	return g.reader.Read(ctx)
}

// gatherLoop gathers and sends every scrape_interval until the sink stops.
func (s *Sink) gatherLoop() {
	defer s.bg.Done()
	selfmetrics.Every(s.stop, s.gath.interval, s.gatherOnce)
}

// gatherOnce reads weft's metrics and sends them as one sample per series,
// all at the time of reading, in requests of at most max_events series and
// max_request_size bytes.
func (s *Sink) gatherOnce(ctx context.Context) {
	g := s.gath
	if ctx.Err() != nil {
		return
	}
	mfs, err := g.gather(ctx)
	if err != nil {
		g.errors.Inc()
		g.failures.Record(err)
		if len(mfs) == 0 {
			return
		}
	}
	now := time.Now().UnixMilli()
	g.pts = s.conv.appendFamilies(g.pts[:0], &g.sc, mfs, now)
	maxN, maxB := s.cfg.Threshold.MaxEvents, int(s.cfg.Threshold.MaxRequestSize)
	for start := 0; start < len(g.pts); {
		end, size := start, 0
		for end < len(g.pts) && end-start < maxN {
			sz := seriesSize(g.pts[end].labels, 1)
			if end > start && size+sz > maxB {
				break
			}
			size += sz
			end++
		}
		chunk := g.pts[start:end]
		if cap(g.res) < len(chunk) {
			g.res = make([]result, len(chunk))
		}
		res := g.res[:len(chunk)]
		clear(res)
		s.snd.send(ctx, chunk, res)
		start = end
	}
	clear(g.pts)
}
