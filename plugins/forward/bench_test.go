package forward

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// benchChunk is a PackedForward message of 1,000 records of about 300 bytes
// (a Kubernetes container log line as Fluent Bit forwards it), with a chunk
// option.
func benchChunk(chunk string) (msg []byte, entriesBytes int) {
	tm := time.Date(2025, 11, 23, 8, 0, 0, 0, time.UTC)
	var entries mp
	for i := range 1000 {
		line := fmt.Sprintf(`2025-11-23T08:00:%02d.%06dZ INFO [trace_id=7b084bbca0bade97bdc76741c3973ed6 span_id=c1f63e34996770c9] GET /api/orders/%d HTTP/1.1 200 %dms ua="Mozilla/5.0 (X11; Linux x86_64)" bytes=5120`, i%60, i, i, i%97)
		entries = entries.arr(2).eventTime(tm.Add(time.Duration(i) * time.Millisecond)).mapN(3).
			str("log").str(line).
			str("stream").str("stdout").
			str("kubernetes").mapN(3).
			/**/ str("pod_name").str("orders-7d9f8b6c5-x2x7q").
			/**/ str("namespace_name").str("shop").
			/**/ str("container_name").str("orders")
	}
	m := mp{}.arr(3).str("kube.var.log.containers.orders").bin(entries).mapN(2).str("size").int(1000).str("chunk").str(chunk)
	return m, len(entries)
}

func reportRecords(b *testing.B, records int) {
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodePackedForward measures the decoder alone: bytes of one
// PackedForward message into 1,000 events.
func BenchmarkDecodePackedForward(b *testing.B) {
	msg, entries := benchChunk("c")
	if per := entries / 1000; per < 250 || per > 350 {
		b.Fatalf("records of %d bytes, want about 300", per)
	}
	d := newDecoder(8<<20, "")
	now := time.Now()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m, err := d.decode(msg, now)
		if err != nil || len(m.events) != 1000 {
			b.Fatal(err, len(m.events))
		}
		d.release()
	}
	reportRecords(b, 1000)
}

// countInput accepts and drops events.
type countInput struct{ n atomic.Int64 }

func (c *countInput) Write(_ context.Context, evs []*event.Event) (int, error) {
	c.n.Add(int64(len(evs)))
	return len(evs), nil
}

// BenchmarkIngestPackedForward measures the source end to end over TCP on
// loopback: a client sends a 1,000-record PackedForward chunk with a chunk
// option and waits for the ack, as Fluent Bit does with
// Require_ack_response.
func BenchmarkIngestPackedForward(b *testing.B) {
	in := &countInput{}
	s := start(b, ", udp_heartbeat: false", in)
	c := dial(b, s)
	msg, _ := benchChunk(strings.Repeat("a", 24))
	ack := make([]byte, 64)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		// {"ack": <24 chars>} is 30 bytes
		for got := 0; got < 30; {
			n, err := c.Read(ack[got:30])
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	}
	b.StopTimer()
	if in.n.Load() != int64(b.N)*1000 {
		b.Fatalf("%d records ingested, want %d", in.n.Load(), b.N*1000)
	}
	reportRecords(b, 1000)
}
