package grok

import (
	"context"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// BenchmarkGrok runs the processor over batches of 1000 events; lines/s
// is per core (run with -cpu 1 for the single-core figure).
func BenchmarkGrok(b *testing.B) {
	fixtureLines := readLines(b, fixture)
	combined := []string{
		`10.1.2.3 - - [23/Nov/2025:08:00:03 +0000] "GET /api/v1/users/42/orders HTTP/1.1" 200 5123 "https://shop.example/cart" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"`,
	}
	cases := []struct {
		name, opts string
		lines      []string
	}{
		{"COMMONAPACHELOG", `match: {log: ["%{COMMONAPACHELOG}"]}`, fixtureLines},
		{"COMMONAPACHELOG-typed", `match: {log: ["%{IPORHOST:clientip} %{HTTPDUSER:ident} %{USER:auth} \\[%{HTTPDATE:timestamp}\\] \"%{WORD:verb} %{NOTSPACE:request} HTTP/%{NUMBER:httpversion:float}\" %{NUMBER:response:int} %{NUMBER:bytes:int}"]}`, fixtureLines[:1]},
		{"COMBINEDAPACHELOG", `match: {log: ["%{COMBINEDAPACHELOG}"]}`, combined},
		{"Unmatched", `{tags_on_match_failure: [], match: {log: ["%{COMMONAPACHELOG}"]}}`, []string{"2025-11-23T08:00:01Z INFO order placed id=42 user=jane total=12.50 EUR"}},
		{"ISO8601-LOGLEVEL", `match: {log: ["%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{GREEDYDATA:msg}"]}`, []string{"2025-11-23T08:00:01.123Z INFO order placed id=42 user=jane total=12.50 EUR"}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			p := newProcessor(b, bc.opts)
			const batch = 1000
			size := 0
			for i := 0; i < batch; i++ {
				size += len(bc.lines[i%len(bc.lines)])
			}
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				evs := event.NewBatch(batch, event.KindLog, time.Unix(0, 0))
				for j, ev := range evs {
					ev.SetFields(map[string]any{"log": bc.lines[j%len(bc.lines)], "host": "web-1"})
				}
				c0 := cpuTime()
				b.StartTimer()
				p.Process(ctx, evs)
				b.StopTimer()
				cpu += cpuTime() - c0
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "lines/s")
			if cpu > 0 {
				// Per CPU second: the rate of one core, unaffected by
				// other processes competing for the machine's cores.
				b.ReportMetric(float64(b.N*batch)/cpu.Seconds(), "lines/cpu-s")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkMatch is the matcher alone, without writing events.
func BenchmarkMatch(b *testing.B) {
	lib, _ := NewLibrary(nil, nil, "*")
	line := readLines(b, fixture)[0]
	for _, split := range []bool{true, false} {
		name := "split"
		if !split {
			name = "one-regexp"
		}
		b.Run(name, func(b *testing.B) {
			p, err := lib.compile("%{COMMONAPACHELOG}", true, split)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if v, _ := p.match(line); v == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}
