package forward

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"math"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// mp builds MessagePack by hand, independently of the decoder under test.
type mp []byte

func (m mp) arr(n int) mp {
	switch {
	case n < 16:
		return append(m, 0x90|byte(n))
	case n < 1<<16:
		return append(m, 0xdc, byte(n>>8), byte(n))
	}
	return append(m, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func (m mp) mapN(n int) mp {
	switch {
	case n < 16:
		return append(m, 0x80|byte(n))
	case n < 1<<16:
		return append(m, 0xde, byte(n>>8), byte(n))
	}
	return append(m, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func (m mp) str(s string) mp {
	switch n := len(s); {
	case n < 32:
		m = append(m, 0xa0|byte(n))
	case n < 256:
		m = append(m, 0xd9, byte(n))
	case n < 1<<16:
		m = append(m, 0xda, byte(n>>8), byte(n))
	default:
		m = append(m, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(m, s...)
}

func (m mp) bin(b []byte) mp {
	switch n := len(b); {
	case n < 256:
		m = append(m, 0xc4, byte(n))
	case n < 1<<16:
		m = append(m, 0xc5, byte(n>>8), byte(n))
	default:
		m = append(m, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(m, b...)
}

func (m mp) int(v int64) mp {
	switch {
	case v >= 0 && v < 128:
		return append(m, byte(v))
	case v >= -32 && v < 0:
		return append(m, byte(int8(v)))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return binary.BigEndian.AppendUint32(append(m, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(m, 0xd3), uint64(v))
}

func (m mp) uint64(v uint64) mp { return binary.BigEndian.AppendUint64(append(m, 0xcf), v) }
func (m mp) uint32(v uint32) mp { return binary.BigEndian.AppendUint32(append(m, 0xce), v) }

func (m mp) float(v float64) mp {
	return binary.BigEndian.AppendUint64(append(m, 0xcb), math.Float64bits(v))
}

func (m mp) float32(v float32) mp {
	return binary.BigEndian.AppendUint32(append(m, 0xca), math.Float32bits(v))
}

func (m mp) nil() mp { return append(m, 0xc0) }

func (m mp) bool(v bool) mp {
	if v {
		return append(m, 0xc3)
	}
	return append(m, 0xc2)
}

// eventTime appends EventTime as fixext 8 (what Fluent Bit and the Go
// logger send).
func (m mp) eventTime(t time.Time) mp {
	m = append(m, 0xd7, 0x00)
	m = binary.BigEndian.AppendUint32(m, uint32(t.Unix()))
	return binary.BigEndian.AppendUint32(m, uint32(t.Nanosecond()))
}

// eventTimeExt8 appends EventTime as ext 8 with an explicit length (another
// valid encoding some libraries use).
func (m mp) eventTimeExt8(t time.Time) mp {
	m = append(m, 0xc7, 8, 0x00)
	m = binary.BigEndian.AppendUint32(m, uint32(t.Unix()))
	return binary.BigEndian.AppendUint32(m, uint32(t.Nanosecond()))
}

func (m mp) raw(b []byte) mp { return append(m, b...) }

// record appends a map of string keys; values are strings or int64s, in key
// order.
func (m mp) record(kv map[string]any) mp {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m = m.mapN(len(kv))
	for _, k := range keys {
		m = m.str(k)
		switch v := kv[k].(type) {
		case string:
			m = m.str(v)
		case int:
			m = m.int(int64(v))
		case int64:
			m = m.int(v)
		case bool:
			m = m.bool(v)
		case nil:
			m = m.nil()
		default:
			panic("unsupported test value")
		}
	}
	return m
}

func chunkOpt(m mp, chunk string) mp { return m.mapN(1).str("chunk").str(chunk) }

func gzipMember(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

var lastRegistry *prometheus.Registry

// start builds and starts a forward source on a free port of 127.0.0.1.
func start(t testing.TB, opts string, in pipelines.Input) *Source {
	t.Helper()
	src, reg, err := pipelinestest.Source("forward", "{host: 127.0.0.1, port: 0"+opts+"}")
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*Source)
	lastRegistry = reg
	if err := s.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

func dial(t testing.TB, s *Source) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readReply reads one MessagePack value from c within d.
func readReply(t testing.TB, c net.Conn, d time.Duration) ([]byte, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var buf []byte
	tmp := make([]byte, 1) // byte by byte: never read past this reply
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if len(buf) > 0 {
			if k, err := skipValue(buf); err == nil && k == len(buf) {
				return buf, nil
			}
		}
		if err != nil {
			return buf, err
		}
	}
}

// decodeAny decodes a whole MessagePack value with the package's reader.
func decodeAny(t testing.TB, b []byte) any {
	t.Helper()
	n, err := skipValue(b)
	if err != nil {
		t.Fatalf("reply %x: %v", b, err)
	}
	r := &reader{b: b, str: string(b)}
	v, err := r.value(0)
	if err != nil || r.i != n {
		t.Fatalf("reply %x: %v", b, err)
	}
	return v
}

// expectAck reads {"ack": chunk}.
func expectAck(t testing.TB, c net.Conn, chunk string) {
	t.Helper()
	b, err := readReply(t, c, 5*time.Second)
	if err != nil {
		t.Fatalf("reading ack: %v (got %x)", err, b)
	}
	m, ok := decodeAny(t, b).(map[string]any)
	if !ok || len(m) != 1 || m["ack"] != chunk {
		t.Fatalf("reply %v, want {ack: %q}", decodeAny(t, b), chunk)
	}
}

// expectClosed waits for the server to close c (EOF or reset), failing if
// it sends anything.
func expectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if len(b) > 0 {
		t.Fatalf("server sent %x before closing", b)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open")
	}
}

// waitEvents waits until in holds n events.
func waitEvents(t testing.TB, in *pipelinestest.Input, n int) []*event.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if evs := in.Snapshot(); len(evs) >= n {
			return evs
		}
		time.Sleep(5 * time.Millisecond)
	}
	evs := in.Snapshot()
	t.Fatalf("%d events, want %d", len(evs), n)
	return nil
}

func counter(result string) float64 {
	return pipelinestest.CounterValue(lastRegistry, "weft_forward_messages_total", "result", result)
}

// blockingInput never has room: the pipeline is full.
type blockingInput struct{}

func (blockingInput) Write(ctx context.Context, evs []*event.Event) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

// gateInput has no room until open is closed.
type gateInput struct {
	open chan struct{}
	pipelinestest.Input
}

func (g *gateInput) Write(ctx context.Context, evs []*event.Event) (int, error) {
	select {
	case <-g.open:
		return g.Input.Write(ctx, evs)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
