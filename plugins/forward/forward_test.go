package forward

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

var t0 = time.Date(2025, 11, 23, 8, 0, 0, 123456789, time.UTC)

func fieldsJSON(ev *event.Event) string { return string(ev.AppendJSON(nil)) }

func checkEvent(t *testing.T, ev *event.Event, tag string, tm time.Time, fields string) {
	t.Helper()
	if got := fieldsJSON(ev); got != fields {
		t.Errorf("fields %s, want %s", got, fields)
	}
	if !ev.Time.Equal(tm) {
		t.Errorf("time %v, want %v", ev.Time, tm)
	}
	if v, _ := ev.Metadata("tag"); v != tag {
		t.Errorf("metadata tag %v, want %q", v, tag)
	}
	if v, _ := ev.Metadata("source"); v != "forward" {
		t.Errorf("metadata source %v", v)
	}
	if ev.Kind != event.KindLog {
		t.Errorf("kind %v", ev.Kind)
	}
}

func TestMessageMode(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, "", in)
	c := dial(t, s)
	// integer time, no option
	c.Write(mp{}.arr(3).str("app.web").int(t0.Unix()).record(map[string]any{"log": "hello", "n": 7}))
	// EventTime (fixext 8) with an ack
	c.Write(chunkOpt(mp{}.arr(4).str("app.web").eventTime(t0).record(map[string]any{"log": "nanos"}), "c1"))
	expectAck(t, c, "c1")
	// EventTime as ext 8, a nil time (replaced by the time received) and an explicit nil option
	before := time.Now()
	c.Write(mp{}.arr(4).str("app.db").eventTimeExt8(t0).record(map[string]any{"log": "ext8"}).nil())
	c.Write(chunkOpt(mp{}.arr(4).str("app.db").nil().record(map[string]any{"log": "now"}), "c2"))
	expectAck(t, c, "c2")
	evs := waitEvents(t, in, 4)
	checkEvent(t, evs[0], "app.web", t0.Truncate(time.Second), `{"log":"hello","n":7}`)
	checkEvent(t, evs[1], "app.web", t0, `{"log":"nanos"}`)
	checkEvent(t, evs[2], "app.db", t0, `{"log":"ext8"}`)
	if evs[3].Time.Before(before) || time.Since(evs[3].Time) > time.Minute {
		t.Errorf("nil time gave %v, want the time received", evs[3].Time)
	}
	if _, ok := evs[0].Get(event.ParsePath("tag")); ok {
		t.Error("a tag field was added without tag_key")
	}
	if counter("ok") != 4 {
		t.Errorf("ok messages %v", counter("ok"))
	}
	if got := pipelinestest.CounterValue(lastRegistry, "weft_forward_records_total"); got != 4 {
		t.Errorf("records_total %v", got)
	}
}

func TestForwardMode(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, "", in)
	c := dial(t, s)
	m := mp{}.arr(3).str("k8s.pod").arr(3)
	m = m.arr(2).int(t0.Unix()).record(map[string]any{"i": 0})
	m = m.arr(2).eventTime(t0).record(map[string]any{"i": 1})
	m = m.arr(2).int(t0.Unix()).nil() // nil record: skipped, as Fluentd does
	c.Write(chunkOpt(m, "fwd-1"))
	expectAck(t, c, "fwd-1")
	// Fluent Bit's retain_metadata_in_forward_mode: [[time, metadata], record]
	m = mp{}.arr(2).str("k8s.pod").arr(1).arr(2).arr(2).eventTime(t0).record(map[string]any{"fb": "meta"}).record(map[string]any{"i": 2})
	c.Write(m)
	evs := waitEvents(t, in, 3)
	checkEvent(t, evs[0], "k8s.pod", t0.Truncate(time.Second), `{"i":0}`)
	checkEvent(t, evs[1], "k8s.pod", t0, `{"i":1}`)
	checkEvent(t, evs[2], "k8s.pod", t0, `{"i":2}`)
}

func packedEntries(n int, tm time.Time) mp {
	var p mp
	for i := range n {
		p = p.arr(2).eventTime(tm.Add(time.Duration(i))).record(map[string]any{"i": i, "log": strings.Repeat("x", i)})
	}
	return p
}

func TestPackedForward(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, "", in)
	c := dial(t, s)
	entries := packedEntries(5, t0)
	// bin-typed entries with size and chunk options, as Fluent Bit sends
	c.Write(mp{}.arr(3).str("pf").bin(entries).mapN(2).str("size").int(5).str("chunk").str("p1"))
	expectAck(t, c, "p1")
	// str-typed entries (Fluentd v0.12 style) without options
	c.Write(mp{}.arr(2).str("pf2").str(string(packedEntries(2, t0))))
	evs := waitEvents(t, in, 7)
	for i := range 5 {
		checkEvent(t, evs[i], "pf", t0.Add(time.Duration(i)), `{"i":`+itoa(i)+`,"log":"`+strings.Repeat("x", i)+`"}`)
	}
	checkEvent(t, evs[6], "pf2", t0.Add(1), `{"i":1,"log":"x"}`)
}

func itoa(i int) string { return string(event.AppendJSON(nil, int64(i))) }

func TestCompressedPackedForwardTwoMembers(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, "", in)
	c := dial(t, s)
	first, second := packedEntries(3, t0), packedEntries(4, t0.Add(time.Hour))
	payload := append(gzipMember(first), gzipMember(second)...)
	c.Write(mp{}.arr(3).str("gz").bin(payload).mapN(3).str("size").int(7).str("compressed").str("gzip").str("chunk").str("z1"))
	expectAck(t, c, "z1")
	evs := waitEvents(t, in, 7)
	for i := range 3 {
		checkEvent(t, evs[i], "gz", t0.Add(time.Duration(i)), `{"i":`+itoa(i)+`,"log":"`+strings.Repeat("x", i)+`"}`)
	}
	for i := range 4 {
		checkEvent(t, evs[3+i], "gz", t0.Add(time.Hour+time.Duration(i)), `{"i":`+itoa(i)+`,"log":"`+strings.Repeat("x", i)+`"}`)
	}
}

func TestOptionWithoutChunkGetsNoReply(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, "", in)
	c := dial(t, s)
	c.Write(mp{}.arr(3).str("t").arr(1).arr(2).int(1).record(map[string]any{"a": 1}).mapN(1).str("size").int(1))
	if b, err := readReply(t, c, 200*time.Millisecond); len(b) > 0 || err == nil {
		t.Fatalf("got a reply %x (%v) to a message without chunk", b, err)
	}
	// a lone nil (Fluentd's reserved TCP heartbeat) is ignored; the connection
	// still works, and the next reply is the ack of the next message
	c.Write(mp{}.nil())
	c.Write(chunkOpt(mp{}.arr(4).str("t").int(1).record(map[string]any{"a": 2}), "after"))
	expectAck(t, c, "after")
	waitEvents(t, in, 2)
}

func TestValues(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, ", tag_key: fluent_tag", in)
	c := dial(t, s)
	rec := mp{}.mapN(12).
		str("s").str("text").
		str("utf8bin").bin([]byte("héllo")).
		str("rawbin").bin([]byte{0xff, 0x00, 0xfe}).
		str("neg").int(-5).
		str("big").uint64(math.MaxUint64).
		str("u32").uint32(4000000000).
		str("f").float(1.5).
		str("f32").float32(0.25).
		str("b").bool(true).
		str("null").nil().
		str("nested").mapN(2).str("arr").arr(3).int(1).str("two").arr(1).mapN(1).str("deep").bool(false).
		/**/ str("when").eventTime(t0).
		raw([]byte{0x07}).str("int key") // an integer key becomes its decimal text
	c.Write(chunkOpt(mp{}.arr(4).str("vals").int(t0.Unix()).raw(rec), "v"))
	expectAck(t, c, "v")
	evs := waitEvents(t, in, 1)
	var got map[string]any
	json.Unmarshal(evs[0].AppendJSON(nil), &got)
	want := map[string]any{
		"s": "text", "utf8bin": "héllo", "rawbin": "/wD+", "neg": -5.0, "big": 1.8446744073709552e19,
		"u32": 4e9, "f": 1.5, "f32": 0.25, "b": true, "null": nil,
		"nested":     map[string]any{"arr": []any{1.0, "two", []any{map[string]any{"deep": false}}}, "when": "2025-11-23T08:00:00.123456789Z"},
		"7":          "int key",
		"fluent_tag": "vals",
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		t.Fatalf("fields\n got %s\nwant %s", gb, wb)
	}
	f := evs[0].Fields()
	if _, ok := f["neg"].(int64); !ok {
		t.Errorf("integers must be int64, got %T", f["neg"])
	}
	if _, ok := f["big"].(float64); !ok {
		t.Errorf("a uint64 above MaxInt64 must be float64, got %T", f["big"])
	}
	if _, ok := f["u32"].(int64); !ok {
		t.Errorf("uint32 must be int64, got %T", f["u32"])
	}
}

func TestJSONMessages(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, "", in)
	c := dial(t, s)
	c.Write([]byte(`["json.tag",1763884800,{"log":"a","n":1},{"chunk":"j1"}]` + "\n" +
		`["json.tag",[[1763884801.5,{"log":"b"}],[0,{"log":"c"}]],{}]`))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ack map[string]string
	if err := json.NewDecoder(c).Decode(&ack); err != nil || ack["ack"] != "j1" {
		t.Fatalf("JSON ack %v %v", ack, err)
	}
	evs := waitEvents(t, in, 3)
	checkEvent(t, evs[0], "json.tag", time.Unix(1763884800, 0), `{"log":"a","n":1}`)
	checkEvent(t, evs[1], "json.tag", time.Unix(1763884801, 5e8), `{"log":"b"}`)
	if time.Since(evs[2].Time) > time.Minute {
		t.Errorf("time 0 gave %v, want the time received", evs[2].Time)
	}
}

func TestSlowSenderOneByteAtATime(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, "", in)
	c := dial(t, s)
	msg := chunkOpt(mp{}.arr(3).str("slow").bin(packedEntries(20, t0)), "s1")
	for _, b := range msg {
		c.Write([]byte{b})
	}
	expectAck(t, c, "s1")
	if n := len(in.Snapshot()); n != 20 {
		t.Fatalf("%d events", n)
	}
}

func TestPipelinedMessagesInOneWrite(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, "", in)
	c := dial(t, s)
	var all mp
	for i := range 50 {
		all = chunkOpt(all.arr(4).str("many").int(int64(i+1)).record(map[string]any{"i": i}), "c"+itoa(i))
	}
	c.Write(all)
	for i := range 50 {
		expectAck(t, c, "c"+itoa(i))
	}
	evs := in.Snapshot()
	for i, ev := range evs {
		if v, _ := ev.Get(event.ParsePath("i")); v != int64(i) {
			t.Fatalf("event %d has i=%v: order lost", i, v)
		}
	}
}

func TestMalformedInputClosesConnection(t *testing.T) {
	cases := []struct {
		name string
		msg  []byte
	}{
		{"never-used byte", mp{}.arr(3).str("t").int(1).raw([]byte{0xc1})},
		{"not an array", mp{}.str("hello")},
		{"tag not a string", mp{}.arr(3).int(1).int(1).record(map[string]any{})},
		{"record not a map", mp{}.arr(3).str("t").int(1).str("x")},
		{"time not a time", mp{}.arr(3).str("t").bool(true).record(map[string]any{})},
		{"entry not a pair", mp{}.arr(2).str("t").arr(1).arr(3).int(1).int(2).int(3)},
		{"packed garbage", mp{}.arr(2).str("t").bin([]byte{0x92, 0x01})},
		{"bad gzip", mp{}.arr(3).str("t").bin([]byte("not gzip")).mapN(1).str("compressed").str("gzip")},
		{"unknown compression", mp{}.arr(3).str("t").bin(packedEntries(1, t0)).mapN(1).str("compressed").str("zstd")},
		{"option not a map", mp{}.arr(4).str("t").int(1).record(map[string]any{}).int(5)},
		{"too many elements", mp{}.arr(5).str("t").int(1).record(map[string]any{}).nil().nil()},
		{"Fluent Bit metrics", mp{}.arr(3).str("t").bin([]byte{0x80}).mapN(1).str("fluent_signal").int(1)},
		{"map key is a map", mp{}.arr(3).str("t").int(1).mapN(1).mapN(0).int(1)},
		{"JSON syntax", []byte(`["t",1,{"a":}]`)},
		{"JSON record not an object", []byte(`["t",1,[1]]`)},
	}
	in := &pipelinestest.Input{}
	s := start(t, "", in)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s)
			c.Write(chunkOpt(tc.msg, "never"))
			expectClosed(t, c)
		})
	}
	// truncated: the client closes in the middle of a message
	c := dial(t, s)
	msg := chunkOpt(mp{}.arr(3).str("t").bin(packedEntries(3, t0)), "x")
	c.Write(msg[:len(msg)-3])
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for counter("invalid") != float64(len(cases)+1) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := counter("invalid"); got != float64(len(cases)+1) {
		t.Errorf("invalid messages counted %v, want %d", got, len(cases)+1)
	}
	if n := len(in.Snapshot()); n != 0 {
		t.Fatalf("%d events accepted from malformed messages", n)
	}
	// still serving
	c = dial(t, s)
	c.Write(chunkOpt(mp{}.arr(4).str("t").int(1).record(map[string]any{"ok": true}), "fine"))
	expectAck(t, c, "fine")
}

func TestOversized(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, ", max_message_size: 4000", in)
	c := dial(t, s)
	c.Write(chunkOpt(mp{}.arr(4).str("t").int(1).record(map[string]any{"log": strings.Repeat("a", 5000)}), "big"))
	expectClosed(t, c)
	// a header announcing a huge bin is refused before its bytes arrive
	c = dial(t, s)
	c.Write([]byte{0x93, 0xa1, 't', 0xc6, 0x7f, 0xff, 0xff, 0xff})
	expectClosed(t, c)
	// a gzip bomb: about 1 KiB compressed, far beyond the limit inflated
	c = dial(t, s)
	bomb := gzipMember(bytes.Repeat([]byte{0x80}, 1<<20))
	c.Write(mp{}.arr(3).str("t").bin(bomb).mapN(2).str("compressed").str("gzip").str("chunk").str("bomb"))
	expectClosed(t, c)
	if got := counter("too_large"); got != 3 {
		t.Errorf("too_large counted %v, want 3", got)
	}
	if n := len(in.Snapshot()); n != 0 {
		t.Fatalf("%d events accepted", n)
	}
}

func TestBackPressureNoAck(t *testing.T) {
	s := start(t, ", buffer_timeout: 50ms", blockingInput{})
	c := dial(t, s)
	c.Write(chunkOpt(mp{}.arr(4).str("t").int(1).record(map[string]any{"a": 1}), "full"))
	expectClosed(t, c) // no ack: the client resends on a new connection
	if got := counter("unavailable"); got != 1 {
		t.Errorf("unavailable counted %v", got)
	}
	if got := counter("ok"); got != 0 {
		t.Errorf("ok counted %v", got)
	}
}

func TestBackPressureWithoutChunkWaitsUntilStop(t *testing.T) {
	src, _, err := pipelinestest.Source("forward", "{host: 127.0.0.1, port: 0, buffer_timeout: 10ms}")
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*Source)
	if err := s.Start(context.Background(), blockingInput{}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	c.Write(mp{}.arr(3).str("t").int(1).record(map[string]any{"a": 1}))
	time.Sleep(100 * time.Millisecond) // well past buffer_timeout: still waiting, connection open
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err == nil || !err.(net.Error).Timeout() {
		t.Fatalf("connection should stay open while the message waits: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("Stop took %v", d)
	}
	expectClosed(t, c)
}

func TestStopClosesIdleConnectionsAtOnce(t *testing.T) {
	in := &pipelinestest.Input{}
	src, _, _ := pipelinestest.Source("forward", "{host: 127.0.0.1, port: 0}")
	s := src.(*Source)
	if err := s.Start(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 5 {
		c := dial(t, s)
		c.Write(chunkOpt(mp{}.arr(4).str("t").int(1).record(map[string]any{"a": 1}), "x"))
		expectAck(t, c, "x")
		conns = append(conns, c)
	}
	half := dial(t, s)
	half.Write(mp{}.arr(4).str("t")) // a message in progress when Stop comes
	time.Sleep(20 * time.Millisecond)
	begin := time.Now()
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("Stop took %v with idle connections", d)
	}
	for _, c := range append(conns, half) {
		expectClosed(t, c)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Fatal("still accepting after Stop")
	}
	s.Stop(context.Background()) // idempotent
}

func TestMaxConnections(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, ", max_connections: 1", in)
	c1 := dial(t, s)
	c1.Write(chunkOpt(mp{}.arr(4).str("t").int(1).record(map[string]any{"a": 1}), "1"))
	expectAck(t, c1, "1")
	c2 := dial(t, s)
	expectClosed(t, c2)
	if got := pipelinestest.CounterValue(lastRegistry, "weft_forward_connections_refused_total"); got != 1 {
		t.Errorf("refused %v", got)
	}
	if got := pipelinestest.CounterValue(lastRegistry, "weft_forward_connections"); got != 1 {
		t.Errorf("connections gauge %v", got)
	}
	c1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for pipelinestest.CounterValue(lastRegistry, "weft_forward_connections") != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c3 := dial(t, s)
	c3.Write(chunkOpt(mp{}.arr(4).str("t").int(1).record(map[string]any{"a": 1}), "3"))
	expectAck(t, c3, "3")
}

func TestUDPHeartbeat(t *testing.T) {
	s := start(t, "", &pipelinestest.Input{})
	u, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Write([]byte{0})
	u.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 16)
	n, err := u.Read(b)
	if err != nil || n != 1 {
		t.Fatalf("heartbeat reply %x %v", b[:n], err)
	}
}

// client side of the handshake, as Fluent Bit does it.
func handshake(t *testing.T, c net.Conn, hostname, key, user, password string) []any {
	t.Helper()
	b, err := readReply(t, c, 5*time.Second)
	if err != nil {
		t.Fatalf("HELO: %v", err)
	}
	nonce, auth := parseHelo(t, b)
	salt := "0123456789abcdef"
	ping := mp{}.arr(6).str("PING").str(hostname).str(salt).str(digest([]byte(salt), []byte(hostname), nonce, []byte(key)))
	if len(auth) > 0 {
		ping = ping.str(user).str(digest(auth, []byte(user), []byte(password)))
	} else {
		ping = ping.str("").str("")
	}
	c.Write(ping)
	b, err = readReply(t, c, 5*time.Second)
	if err != nil {
		t.Fatalf("PONG: %v", err)
	}
	pong := decodeAny(t, b).([]any)
	if pong[0] != "PONG" || len(pong) != 5 {
		t.Fatalf("PONG %v", pong)
	}
	if pong[1] == true {
		if want := digest([]byte(salt), []byte(pong[3].(string)), nonce, []byte(key)); pong[4] != want {
			t.Fatalf("server digest %v, want %s", pong[4], want)
		}
	}
	return pong
}

// parseHelo reads ['HELO', {nonce, auth, keepalive}] keeping the raw bytes.
func parseHelo(t *testing.T, b []byte) (nonce, auth []byte) {
	t.Helper()
	r := &reader{b: b}
	if n, err := r.arrayHeader(); err != nil || n != 2 {
		t.Fatalf("HELO %x", b)
	}
	if h, _, _ := r.rawBytes(); string(h) != "HELO" {
		t.Fatalf("HELO %x", b)
	}
	n, err := r.mapHeader()
	if err != nil {
		t.Fatal(err)
	}
	keepalive := false
	for range n {
		k, _, _ := r.rawBytes()
		switch string(k) {
		case "nonce":
			nonce, _, _ = r.rawBytes()
		case "auth":
			auth, _, _ = r.rawBytes()
		case "keepalive":
			keepalive = r.b[r.i] == 0xc3
			r.i++
		default:
			t.Fatalf("unexpected HELO option %q", k)
		}
	}
	if len(nonce) != 16 || !keepalive || !r.eof() {
		t.Fatalf("HELO nonce %x keepalive %v", nonce, keepalive)
	}
	return nonce, auth
}

func TestHandshake(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, ", security: {self_hostname: weft-1, shared_key: s3cret}", in)
	c := dial(t, s)
	pong := handshake(t, c, "client-a", "s3cret", "", "")
	if pong[1] != true || pong[3] != "weft-1" {
		t.Fatalf("PONG %v", pong)
	}
	c.Write(chunkOpt(mp{}.arr(4).str("auth").int(1).record(map[string]any{"a": 1}), "ok"))
	expectAck(t, c, "ok")
	waitEvents(t, in, 1)

	// wrong key: PONG false with the reason, then closed, nothing accepted
	c = dial(t, s)
	pong = handshake(t, c, "client-b", "wrong", "", "")
	if pong[1] != false || pong[2] != "shared_key mismatch" {
		t.Fatalf("PONG %v", pong)
	}
	c.Write(chunkOpt(mp{}.arr(4).str("auth").int(1).record(map[string]any{"a": 2}), "no"))
	expectClosed(t, c)

	// a client that skips the handshake and sends data
	c = dial(t, s)
	readReply(t, c, 5*time.Second) // HELO
	c.Write(chunkOpt(mp{}.arr(4).str("auth").int(1).record(map[string]any{"a": 3}), "no"))
	b, _ := readReply(t, c, 5*time.Second)
	if pong := decodeAny(t, b).([]any); pong[1] != false {
		t.Fatalf("PONG %v", pong)
	}
	expectClosed(t, c)
	if n := len(in.Snapshot()); n != 1 {
		t.Fatalf("%d events, want only the authenticated one", n)
	}
	if got := counter("unauthenticated"); got != 2 {
		t.Errorf("unauthenticated %v", got)
	}
}

func TestHandshakeUserAuth(t *testing.T) {
	in := &pipelinestest.Input{}
	s := start(t, ", security: {self_hostname: weft, shared_key: k, user_auth: true, users: [{username: fb, password: pw}]}", in)
	c := dial(t, s)
	if pong := handshake(t, c, "h", "k", "fb", "pw"); pong[1] != true {
		t.Fatalf("PONG %v", pong)
	}
	c.Write(chunkOpt(mp{}.arr(4).str("u").int(1).record(map[string]any{"a": 1}), "ok"))
	expectAck(t, c, "ok")
	c = dial(t, s)
	if pong := handshake(t, c, "h", "k", "fb", "nope"); pong[1] != false || pong[2] != "username/password mismatch" {
		t.Fatalf("PONG %v", pong)
	}
	expectClosed(t, c)
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	in := &pipelinestest.Input{}
	s := start(t, ", ssl: true, ssl_certificate_file: "+cert+", ssl_key_file: "+key+", udp_heartbeat: false", in)
	c, err := tls.Dial("tcp", s.Addr(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(chunkOpt(mp{}.arr(4).str("tls").eventTime(t0).record(map[string]any{"a": 1}), "t"))
	expectAck(t, c, "t")
	checkEvent(t, waitEvents(t, in, 1)[0], "tls", t0, `{"a":1}`)
	// a plain-text client gets nothing accepted
	p := dial(t, s)
	p.Write(chunkOpt(mp{}.arr(4).str("tls").int(1).record(map[string]any{"a": 2}), "p"))
	p.SetReadDeadline(time.Now().Add(5 * time.Second))
	p.Read(make([]byte, 100))
	if n := len(in.Snapshot()); n != 1 {
		t.Fatalf("%d events", n)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "weft"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(k)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestConfigErrors(t *testing.T) {
	for opts, want := range map[string]string{
		"{ssl: true}":                    `ssl needs ssl_certificate_file and ssl_key_file`,
		"{prot: 1}":                      `did you mean "port"?`,
		"{port: 70000}":                  `above the maximum 65535`,
		"{security: {shared_key: k}}":    `self_hostname`,
		"{security: {self_hostname: h}}": `shared_key`,
		"{max_connections: 0}":           `below the minimum`,
		"{security: {self_hostname: h, shared_key: k, user_auth: true}}":                         `user_auth needs at least one user`,
		"{security: {self_hostname: h, shared_key: k, users: [{username: u, password: p}]}}":     `user_auth is false`,
		"{security: {self_hostname: h, shared_key: k, user_auth: true, users: [{username: u}]}}": `password`,
	} {
		_, err := pipelinestest.DecodeConfig(pipelines.KindSource, "forward", opts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", opts, err, want)
		}
	}
}

func TestReadme(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindSource, "forward", "README.md")
}
