//go:build unix

package tail

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// countingSink acknowledges and counts events, keeping none.
type countingSink struct{ n atomic.Int64 }

func (c *countingSink) Write(_ context.Context, evs []*event.Event) (int, error) {
	for _, e := range evs {
		e.Finalize(event.Delivered)
	}
	c.n.Add(int64(len(evs)))
	return len(evs), nil
}

// writeBenchFile writes size bytes of realistic CRI lines (100–300 byte
// messages, some JSON, one in 50 split into P/F parts) and returns the
// number of events they make.
func writeBenchFile(tb testing.TB, path string, size int) int {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	t0 := time.Date(2025, 11, 23, 8, 0, 0, 0, time.UTC)
	written, events := 0, 0
	for i := 0; written < size; i++ {
		ts := t0.Add(time.Duration(i) * 1137 * time.Microsecond).Format(time.RFC3339Nano)
		stream := "stdout"
		if i%7 == 0 {
			stream = "stderr"
		}
		var msg string
		if i%3 == 0 {
			msg = fmt.Sprintf(`{"time":"%s","level":"info","msg":"request served","method":"GET","path":"/api/v1/orders/%d","status":200,"duration_ms":%d,"trace_id":"f552cc5023d8319aea1181f76f3adcbd"}`, ts, i, i%300)
		} else {
			msg = fmt.Sprintf("2025-11-23 08:00:00,020 INFO [paymentService] [paymentService.py:73] [trace_id=f552cc5023d8319aea1181f76f3adcbd span_id=ac5d960c71f2731a resource.service.name=payment] - request %d handled in %d ms", i, i%300)
		}
		var n int
		if i%50 == 0 {
			half := len(msg) / 2
			n, _ = fmt.Fprintf(w, "%s %s P %s\n%s %s F %s\n", ts, stream, msg[:half], ts, stream, msg[half:])
		} else {
			n, _ = fmt.Fprintf(w, "%s %s F %s\n", ts, stream, msg)
		}
		written += n
		events++
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return events
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTailCRI tails a 64 MiB CRI file from its head through CRI
// parsing, partial joining and event creation (with Kubernetes metadata
// from the file name) into a sink that acknowledges every event. Run with
// -cpu 1 for the figure per core.
func BenchmarkTailCRI(b *testing.B) {
	for _, tc := range []struct{ name, opts string }{
		{"kubernetes", ""},
		{"no-kubernetes", ", kubernetes: false"},
		{"checkpoints", ", db: " + q(filepath.Join(b.TempDir(), "bench.db"))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, podLog)
			const size = 64 << 20
			events := writeBenchFile(b, path, size)
			fi, _ := os.Stat(path)
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			var paused time.Duration
			for range b.N {
				os.Remove(filepath.Join(filepath.Dir(path), "bench.db"))
				src, _ := newTail(b, "{paths: ["+q(path)+"], read_from_head: true, format: cri, poll_interval: 1ms"+tc.opts+"}", "")
				in := &countingSink{}
				if err := src.Start(context.Background(), in); err != nil {
					b.Fatal(err)
				}
				for in.n.Load() < int64(events) {
					time.Sleep(100 * time.Microsecond)
				}
				b.StopTimer()
				p0 := cpuTime()
				src.Stop(context.Background())
				if tc.opts != "" {
					os.Remove(src.dbPath)
				}
				paused += cpuTime() - p0
				b.StartTimer()
			}
			// Per core: the process's CPU time (every thread, GC included),
			// so the figure does not depend on other load on the machine.
			cpu := (cpuTime() - cpu0 - paused).Seconds() / float64(b.N)
			b.ReportMetric(float64(events)/cpu, "lines/cpu-s")
			b.ReportMetric(float64(fi.Size())/(1<<20)/cpu, "MiB/cpu-s")
			b.ReportMetric(cpu*1e9/float64(events), "cpu-ns/line")
		})
	}
}

func BenchmarkParseCRI(b *testing.B) {
	line := []byte("2025-11-23T08:00:00.020000000Z stdout F 2025-11-23 08:00:00,020 INFO [paymentService] [paymentService.py:73] [trace_id=f552cc5023d8319aea1181f76f3adcbd span_id=ac5d960c71f2731a resource.service.name=payment] - Payment - Customer successfully checked out cart")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, ok := ParseCRI(line); !ok {
			b.Fatal("not parsed")
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
