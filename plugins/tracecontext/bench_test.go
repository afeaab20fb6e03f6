package tracecontext

import (
	"context"
	"testing"

	"github.com/weft-agent/weft/pipelines/event"
)

const (
	benchPython  = `{"message":"2025-11-23 08:00:05,020 ERROR [paymentService] [paymentService.py:73] [trace_id=b6ae4bc13d2a43a6ada270691286d33c span_id=354d2c366eb5300f resource.service.name=payment trace_sampled=True] - Payment - Checkout operation failed - Service Unavailable: 503"}`
	benchLogrus  = `{"level": "info", "msg": "inbound request", "time": "2025-11-23T08:00:00.005000Z", "func": "main.checkoutHandler", "file": "main.go:118", "headers": {"x-b3-traceid": "f552cc5023d8319aea1181f76f3adcbd", "x-b3-spanid": "56fe5d1483d7a598", "x-b3-parentspanid": "c189941acf780de9", "x-b3-sampled": "1", "x-request-id": "7f0c7cd1-c32b-43c4-acb5-abf9f9e25113", "authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e99112cc31280d6899af94a3.c7236b52949b5011"}, "customer": {"email": "gwen.miller@example.com", "card": "4111 1111 1111 1111"}}`
	benchNoneMsg = `{"log": "2025-11-23 08:00:09,000 INFO [orderService] [orderService.py:41] order=582936 accepted with 120 items, reserving stock in warehouse eu-west-1b\n", "stream": "stdout", "time": "2025-11-23T08:00:09.000000000Z"}`
)

var benchGoMap = `{"time":"2025-11-23T08:00:00Z","level":"info","msg":` + quote(headersOut) + `}`

// BenchmarkProcess measures one event per op on fresh events, as they come
// from the JSON decoder (so map growth for the new fields is included).
// Events are decoded in pools outside the timer; SetBytes is the length of
// the JSON line, so MB/s is input bytes.
func BenchmarkProcess(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"Python", benchPython},
		{"LogrusB3", benchLogrus},
		{"GoMapText", benchGoMap},
		{"NoContext", benchNoneMsg},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, _ := newProcessor(b, ``)
			const poolSize, batch = 8192, 128
			pool := make([]*event.Event, poolSize)
			fill := func() {
				for i := range pool {
					pool[i] = newEvent(b, bc.line)
				}
			}
			fill()
			// Sanity: the benchmark measures the intended path.
			probe := newEvent(b, bc.line)
			process(p, probe)
			if _, ok := probe.Fields()["traceId"]; ok == (bc.name == "NoContext") {
				b.Fatalf("unexpected result %s", fieldsJSON(probe))
			}
			ctx := context.Background()
			b.SetBytes(int64(len(bc.line)))
			b.ReportAllocs()
			b.ResetTimer()
			idx := 0
			for done := 0; done < b.N; {
				n := min(batch, b.N-done)
				if idx+n > poolSize {
					b.StopTimer()
					fill()
					idx = 0
					b.StartTimer()
				}
				p.Process(ctx, pool[idx:idx+n])
				idx += n
				done += n
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkScan measures the text scanner alone on a Python line (no event,
// no map writes).
func BenchmarkScan(b *testing.B) {
	line := "2025-11-23 08:00:05,020 ERROR [paymentService] [paymentService.py:73] [trace_id=b6ae4bc13d2a43a6ada270691286d33c span_id=354d2c366eb5300f resource.service.name=payment trace_sampled=True] - Payment - Checkout operation failed - Service Unavailable: 503"
	for _, bc := range []struct{ name, text string }{{"Python", line}, {"GoMap", headersOut}, {"NoContext", "plain line without trace context, nothing to see here, order=582936 accepted"}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var s textScan
				s.want = [numForms]bool{true, true, true, true, true}
				s.stop = fPython
				s.scan(bc.text)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
