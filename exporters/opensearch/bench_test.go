package opensearch

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// benchLog1K is a container log record of about 1 KiB after parsing
// (logrus JSON with request headers and Kubernetes metadata), as a source
// and the parse_json processor produce it.
func benchLog1K(i int) *event.Event {
	line := fmt.Sprintf(`{"time":"2025-11-23T08:00:%02d.%03dZ","level":"info","msg":"inbound request completed","func":"main.checkoutHandler","file":"main.go:118","latency_ms":%d.5,"status":200,"method":"POST","path":"/api/v1/checkout/orders","bytes_out":%d,
"headers":{"x-b3-traceid":"%016x%016x","x-b3-spanid":"%016x","x-b3-sampled":"1","x-request-id":"7f0c7cd1-c32b-43c4-acb5-%012x","user-agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36","content-type":"application/json"},
"traceId":"%016x%016x","spanId":"%016x",
"kubernetes":{"namespace_name":"shop","pod_name":"checkout-7d9f8b6c5d-x2x9q","container_name":"checkout","host":"ip-10-0-12-34.eu-west-1.compute.internal","labels":{"app":"checkout","pod-template-hash":"7d9f8b6c5d","version":"v1.14.2"},"container_image":"123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout:v1.14.2"},
"stream":"stdout","log_file":"/var/log/containers/checkout-7d9f8b6c5d-x2x9q_shop_checkout-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log"}`,
		i%60, i%1000, i%50, 1000+i, uint64(i)*0x9E3779B97F4A7C15, uint64(i)*0xC2B2AE3D27D4EB4F, uint64(i)*0x165667B19E3779F9,
		uint64(i)*0x27D4EB2F165667C5>>16, uint64(i)*0x9E3779B97F4A7C15, uint64(i)*0xC2B2AE3D27D4EB4F, uint64(i)*0x165667B19E3779F9)
	m, err := event.DecodeJSONObject([]byte(line))
	if err != nil {
		panic(err)
	}
	return event.New(event.KindLog, time.Date(2025, 11, 23, 8, 0, 0, 0, time.UTC), m)
}

func benchEncoder(b *testing.B, yaml string) *encoder {
	cfg, err := pipelinestest.DecodeConfig("sink", "opensearch", "hosts: [http://h:9200]\n"+yaml)
	if err != nil {
		b.Fatal(err)
	}
	return newEncoder(cfg.(*Config))
}

func benchEncode(b *testing.B, enc *encoder, evs []*event.Event) {
	var buf, tmp []byte
	size := 0
	for _, ev := range evs {
		buf, _ = enc.appendDoc(buf[:0], &tmp, ev)
		size += len(buf)
	}
	b.SetBytes(int64(size / len(evs)))
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		var ferr *encodeError
		buf, ferr = enc.appendDoc(buf[:0], &tmp, evs[i&(len(evs)-1)])
		if ferr != nil {
			b.Fatal(ferr.Reason)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkEncodeLog1KiB: action line (daily index from the event time,
// document ID from a field) plus a ~1 KiB log document.
func BenchmarkEncodeLog1KiB(b *testing.B) {
	evs := make([]*event.Event, 256)
	for i := range evs {
		evs[i] = benchLog1K(i)
	}
	benchEncode(b, benchEncoder(b, "index: \"logs-${/kubernetes/namespace_name}-%{yyyy.MM.dd}\"\ndocument_id: ${/headers/x-request-id}\n"), evs)
}

// BenchmarkEncodeSpan: a Trace Analytics span document (alias, span ID).
func BenchmarkEncodeSpan(b *testing.B) {
	evs := make([]*event.Event, 256)
	for i := range evs {
		evs[i] = spanEvent(i)
	}
	benchEncode(b, benchEncoder(b, "index_type: trace-analytics-raw\n"), evs)
}

// BenchmarkBulkBodyGzip is encoding plus gzip (fast level) of 1000-document
// bulk bodies, per document: what one core spends per document before the
// network.
func BenchmarkBulkBodyGzip(b *testing.B) {
	enc := benchEncoder(b, "index: \"logs-%{yyyy.MM.dd}\"\n")
	evs := make([]*event.Event, 1024)
	for i := range evs {
		evs[i] = benchLog1K(i)
	}
	var buf, tmp []byte
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	raw := 0
	for _, ev := range evs {
		start := len(buf)
		buf, _ = enc.appendDoc(buf, &tmp, ev)
		raw += len(buf) - start
	}
	b.SetBytes(int64(raw / len(evs)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if n%1000 == 0 {
			zw.Write(buf)
			zw.Close()
			zw.Reset(io.Discard)
			buf = buf[:0]
		}
		buf, _ = enc.appendDoc(buf, &tmp, evs[n&1023])
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkSinkWrite is the whole sink per document — Write (encoding,
// batching), gzip, the HTTP bulk request and response handling — against a
// local endpoint that reads and discards the body and answers success.
func BenchmarkSinkWrite(b *testing.B) {
	ok := []byte(`{"errors":false,"items":[]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write(ok)
	}))
	defer srv.Close()
	sk, _, err := pipelinestest.Sink("opensearch", "hosts: ["+srv.URL+"]\nindex: \"logs-%{yyyy.MM.dd}\"\nflush_timeout: 50ms\nmax_buffered: 20000\n")
	if err != nil {
		b.Fatal(err)
	}
	s := sk.(*Sink)
	s.Start(context.Background())
	pool := make([]*event.Event, 1024)
	for i := range pool {
		pool[i] = benchLog1K(i)
	}
	const batch = 128
	evs := make([]*event.Event, batch)
	b.SetBytes(1024)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	n := 0
	for n < b.N {
		k := min(batch, b.N-n)
		for j := 0; j < k; j++ {
			evs[j] = pool[(n+j)&1023]
		}
		if err := s.Write(context.Background(), evs[:k]); err != nil {
			b.Fatal(err)
		}
		n += k
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.Shutdown(ctx)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	// Whole process, the local endpoint's own allocations included.
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/doc")
}
