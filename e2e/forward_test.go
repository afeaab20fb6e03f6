package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/tinylib/msgp/msgp"
)

// The Forward protocol through the built binary: fluent-logger-golang (a
// real Forward client) posts 1,000 records with acks and EventTime, and a
// hand-built CompressedPackedForward chunk of two gzip members follows. The
// file sink writes one file per tag and event time, so the output shows
// that every record arrived exactly once with its tag and its time.
func TestForwardToFile(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	out := filepath.Join(dir, "out")
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
fwd-pipeline:
  delay: 20
  source:
    forward:
      host: %s
      port: %s
      udp_heartbeat: false
  processor:
    - add_entries:
        entries:
          - key: fwd_tag
            value_expression: getMetadata("tag")
  sink:
    - file: {path: "%s/${/fwd_tag}/%%{yyyy-MM-dd'T'HH-mm-ss.SSSSSSSSS}.ndjson"}
`, host, port, out))
	p := startWeft(t, cfg, nil)
	p.waitReady(10 * time.Second)

	base := time.Date(2025, 11, 23, 8, 0, 0, 0, time.UTC)
	timeOf := func(i int) time.Time { // 10 distinct times, nanosecond precision
		k := i % 10
		return base.Add(time.Duration(k)*time.Second + time.Duration(k)*time.Millisecond + time.Duration(k+1))
	}
	portN, _ := strconv.Atoi(port)
	logger, err := fluent.New(fluent.Config{FluentHost: host, FluentPort: portN, RequestAck: true,
		SubSecondPrecision: true, Timeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const posted = 1000
	for i := range posted {
		rec := map[string]any{"i": i, "src": "logger", "msg": fmt.Sprintf("request %d done", i), "when": timeOf(i).Format(time.RFC3339Nano)}
		if err := logger.PostWithTime("app.orders", timeOf(i), rec); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	logger.Close()

	// CompressedPackedForward: 200 entries in two gzip members, with an ack.
	const packed = 200
	var first, second []byte
	for i := range packed {
		e := msgp.AppendArrayHeader(nil, 2)
		e = append(e, 0xd7, 0x00) // EventTime
		e = binary.BigEndian.AppendUint32(e, uint32(timeOf(i).Unix()))
		e = binary.BigEndian.AppendUint32(e, uint32(timeOf(i).Nanosecond()))
		e = msgp.AppendMapHeader(e, 3)
		e = msgp.AppendString(msgp.AppendString(e, "i"), strconv.Itoa(i))
		e = msgp.AppendString(msgp.AppendString(e, "src"), "packed")
		e = msgp.AppendString(msgp.AppendString(e, "when"), timeOf(i).Format(time.RFC3339Nano))
		if i < packed/2 {
			first = append(first, e...)
		} else {
			second = append(second, e...)
		}
	}
	entries := append(gz(t, first), gz(t, second)...)
	msg := msgp.AppendArrayHeader(nil, 3)
	msg = msgp.AppendString(msg, "batch.gz")
	msg = msgp.AppendBytes(msg, entries)
	msg = msgp.AppendMapHeader(msg, 3)
	msg = msgp.AppendString(msgp.AppendInt(msgp.AppendString(msg, "size"), packed), "compressed")
	msg = msgp.AppendString(msgp.AppendString(msgp.AppendString(msg, "gzip"), "chunk"), "gz-chunk-1")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	ack, _, err := msgp.ReadMapStrIntfBytes(readMsgpack(t, c), nil)
	if err != nil || ack["ack"] != "gz-chunk-1" || len(ack) != 1 {
		t.Fatalf("ack %v %v", ack, err)
	}

	eventually(t, 10*time.Second, "records counted", func() bool {
		return p.metric("weft_forward_records_total") == posted+packed
	})
	if got := p.metric("weft_forward_messages_total", `result="ok"`); got != posted+1 {
		t.Errorf("ok messages %v, want %d", got, posted+1)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}

	seen := map[string]int{}
	files := 0
	for _, tag := range []string{"app.orders", "batch.gz"} {
		paths, _ := filepath.Glob(filepath.Join(out, tag, "*.ndjson"))
		for _, path := range paths {
			files++
			fileTime, err := time.Parse("2006-01-02T15-04-05.000000000", strings.TrimSuffix(filepath.Base(path), ".ndjson"))
			if err != nil {
				t.Fatalf("file name %s: %v", path, err)
			}
			for _, d := range readNDJSON(t, path) {
				if d["fwd_tag"] != tag {
					t.Errorf("%s: tag %v", path, d["fwd_tag"])
				}
				if d["when"] != fileTime.Format(time.RFC3339Nano) {
					t.Errorf("%s: record with time %v in the file of event time %v", path, d["when"], fileTime.Format(time.RFC3339Nano))
				}
				seen[fmt.Sprintf("%s/%v", d["src"], d["i"])]++
			}
		}
	}
	if files != 20 {
		t.Errorf("%d files, want 10 times × 2 tags", files)
	}
	if len(seen) != posted+packed {
		t.Errorf("%d distinct records, want %d", len(seen), posted+packed)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("record %s written %d times", k, n)
		}
	}
	for i := range posted {
		if seen[fmt.Sprintf("logger/%d", i)] != 1 {
			t.Fatalf("logger record %d missing", i)
		}
	}
	for i := range packed {
		if seen[fmt.Sprintf("packed/%d", i)] != 1 {
			t.Fatalf("packed record %d missing", i)
		}
	}
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readMsgpack reads one MessagePack value from r, byte by byte.
func readMsgpack(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var buf []byte
	one := make([]byte, 1)
	for {
		if _, err := r.Read(one); err != nil {
			t.Fatalf("reading reply (%x so far): %v", buf, err)
		}
		buf = append(buf, one[0])
		if _, err := msgp.Skip(buf); err == nil {
			return buf
		}
	}
}
