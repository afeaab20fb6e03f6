package parsejson

import (
	"context"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// logrusLine is a typical logrus JSON line of about 300 bytes.
const logrusLine = `{"level":"info","msg":"request completed","time":"2024-05-14T09:21:07.123456789Z","method":"GET","path":"/api/v1/users/42/orders","status":200,"duration_ms":12.734,"bytes":5123,"remote_addr":"10.12.0.34:51234","request_id":"0f8fad5b-d9cb-469f-a165-70867728950e","user_agent":"curl/8.5.0"}`

func BenchmarkParseJSON(b *testing.B) {
	cases := []struct{ name, opts string }{
		{"Root", ``},
		{"RootDeleteSource", `delete_source: true`},
		{"RootNoOverwrite", `overwrite_if_destination_exists: false`},
		{"Destination", `destination: parsed`},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			p := newProcessor(b, bc.opts)
			ctx := context.Background()
			b.SetBytes(int64(len(logrusLine)) * 1000) // an op is a batch of 1000
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				evs := event.NewBatch(1000, event.KindLog, time.Unix(0, 0))
				for _, ev := range evs {
					ev.SetFields(map[string]any{"message": logrusLine, "host": "web-1"})
				}
				b.StartTimer()
				p.Process(ctx, evs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/event")
		})
	}
}
