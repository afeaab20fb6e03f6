package pipelines_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	_ "github.com/weft-agent/weft/exporters/blackhole"
	_ "github.com/weft-agent/weft/plugins/addentries"
	_ "github.com/weft-agent/weft/plugins/deleteentries"
	_ "github.com/weft-agent/weft/plugins/renamekeys"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

// benchSource hands its Input to the benchmark, which writes directly.
type benchSource struct{ in chan pipelines.Input }

func (s *benchSource) Start(_ context.Context, in pipelines.Input) error { s.in <- in; return nil }
func (s *benchSource) Stop(context.Context) error                        { return nil }

type benchSourceConfig struct{}

var benchInputs = make(chan pipelines.Input, 1)

func init() {
	pipelines.RegisterSource("bench_source", "benchmark input", func() *benchSourceConfig { return &benchSourceConfig{} },
		func(pipelines.Settings, *benchSourceConfig) (pipelines.Source, error) {
			return &benchSource{in: benchInputs}, nil
		})
}

// BenchmarkEngine measures the engine: events through three simple
// processors (add_entries, rename_keys, delete_entries) into blackhole, at
// several batch sizes, one worker. Event creation is included.
func BenchmarkEngine(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			yaml := fmt.Sprintf(`
p:
  workers: 1
  delay: 1
  buffer: {bounded_blocking: {buffer_size: %d, batch_size: %d}}
  source: {bench_source: }
  processor:
    - add_entries: {entries: [{key: env, value: prod}]}
    - rename_keys: {entries: [{from_key: msg, to_key: message}]}
    - delete_entries: {with_keys: [file]}
  sink: [blackhole: ]
`, max(4*batch, 4000), batch)
			cfg, err := config.Parse("bench.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
			if err != nil {
				b.Fatal(err)
			}
			log := logrus.New()
			log.SetOutput(io.Discard)
			g, err := pipelines.Build(cfg, pipelines.Options{Metrics: pipelines.NewMetrics(prometheus.NewRegistry()), Logger: log})
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			in := <-benchInputs
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			// Events are made as a source makes them: headers in blocks
			// (event.NewBatch), one field map each.
			for done := 0; done < b.N; {
				n := min(1000, b.N-done)
				chunk := event.NewBatch(n, event.KindLog, now)
				for _, ev := range chunk {
					ev.SetFields(map[string]any{
						"level": "info", "msg": "request served", "file": "main.go:10", "status": int64(200), "path": "/api/cart", "bytes": int64(512)})
				}
				if _, err := in.Write(context.Background(), chunk); err != nil {
					b.Fatal(err)
				}
				done += n
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if lost := g.Shutdown(ctx); lost != 0 {
				b.Fatalf("lost %d", lost)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
