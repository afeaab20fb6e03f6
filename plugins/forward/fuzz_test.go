package forward

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"
)

// fuzzMax is the max_message_size of the fuzzed decoder.
const fuzzMax = 64 << 10

// allocBound is the most a message may make the decoder allocate: the
// events it yields cost a few hundred bytes each (event, field map,
// metadata map) and the smallest entry ([0, {}]) is 3 bytes, so about 200
// bytes per input byte, plus the decoder's reusable buffers.
func allocBound(input, inflated int) uint64 {
	return uint64(200*(input+inflated)) + 1<<20
}

func fuzzSeeds() [][]byte {
	tm := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	packed := packedEntries(3, tm)
	return [][]byte{
		mp{}.arr(3).str("t").int(1).record(map[string]any{"a": "b"}),
		chunkOpt(mp{}.arr(4).str("t").eventTime(tm).record(map[string]any{"a": 1}), "c"),
		mp{}.arr(3).str("t").arr(2).arr(2).int(1).record(map[string]any{"x": nil}).arr(2).eventTime(tm).nil().mapN(1).str("size").int(2),
		mp{}.arr(3).str("t").bin(packed).mapN(1).str("chunk").str("p"),
		mp{}.arr(3).str("t").bin(append(gzipMember(packed), gzipMember(packed)...)).mapN(1).str("compressed").str("gzip"),
		mp{}.arr(2).str("t").arr(1).arr(2).arr(2).eventTime(tm).mapN(0).mapN(1).str("k").arr(2).float(1.5).bin([]byte{0xff}),
		mp{}.nil(),
		[]byte(`["t",1,{"a":[1,{"b":null}]},{"chunk":"x"}]`),
		[]byte(`["t",[[1.5,{"a":"b"}]]] ["u",2,{}]`),
		{0xdd, 0xff, 0xff, 0xff, 0xff},
		{0x93, 0xa1, 't', 0xc6, 0x7f, 0xff, 0xff, 0xff},
	}
}

// FuzzDecode feeds arbitrary bytes through the framer and the message
// decoder, as a connection's stream: it must never panic, and never
// allocate more than allocBound for what it read.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	d := newDecoder(fuzzMax, "tag")
	now := time.Unix(1, 0)
	var ms runtime.MemStats
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := &framer{r: bytes.NewReader(data), max: fuzzMax}
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		for {
			b, mode, err := fr.next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, errTooLarge) && !errors.Is(err, errTruncated) && !isMalformed(err) {
					t.Fatalf("unexpected framing error %T %v", err, err)
				}
				break
			}
			if len(b) > fuzzMax {
				t.Fatalf("message of %d bytes passed max %d", len(b), fuzzMax)
			}
			var msg message
			if mode == modeJSON {
				msg, err = d.decodeJSON(b, now)
			} else {
				msg, err = d.decode(b, now)
			}
			if err != nil {
				break
			}
			for _, ev := range msg.events {
				if ev.Fields() == nil {
					t.Fatal("event without fields")
				}
				if v, _ := ev.Metadata("tag"); v != msg.tag {
					t.Fatalf("event tag %v, message tag %q", v, msg.tag)
				}
				ev.AppendJSON(nil)
			}
			d.release()
		}
		runtime.ReadMemStats(&ms)
		if got, limit := ms.TotalAlloc-before, allocBound(len(data), fuzzMax); got > limit {
			t.Fatalf("allocated %d bytes for %d input bytes (limit %d)", got, len(data), limit)
		}
	})
}

// TestHugeCountsDoNotAllocate checks that length headers are not trusted:
// an array or map announcing 2^32-1 elements in a few bytes allocates
// nothing near that.
func TestHugeCountsDoNotAllocate(t *testing.T) {
	d := newDecoder(fuzzMax, "")
	for _, b := range [][]byte{
		mp{}.arr(2).str("t").raw([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}),
		mp{}.arr(3).str("t").int(1).raw([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}),
		mp{}.arr(3).str("t").int(1).mapN(1).str("a").raw([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}),
		mp{}.arr(2).str("t").arr(60000),
	} {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		if _, err := d.decode(b, time.Now()); err == nil {
			t.Errorf("%x: decoded", b)
		}
		runtime.ReadMemStats(&ms)
		if got := ms.TotalAlloc - before; got > 64<<10 {
			t.Errorf("%x: allocated %d bytes", b, got)
		}
	}
}
