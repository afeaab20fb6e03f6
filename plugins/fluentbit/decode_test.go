package fluentbit

import (
	"encoding/base64"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestDecodeV1EventTimeIntegerAndFloat(t *testing.T) {
	d := chunkDecoder{}
	evs, err := d.decode(chunk(
		v1(evTime(1700000000, 123456789), map[string]any{"log": "a"}),
		v1(intTime(1700000001), map[string]any{"log": "b"}),
		v1(msgp.AppendFloat64(nil, 1700000002.5), map[string]any{"log": "c"}),
		v1(msgp.AppendNil(nil), map[string]any{"log": "d"}),
		v1(intTime(0), map[string]any{"log": "e"}),
	), "app.x", now)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{time.Unix(1700000000, 123456789).UTC(), time.Unix(1700000001, 0).UTC(),
		time.Unix(1700000002, 5e8).UTC(), now, now}
	if len(evs) != len(want) {
		t.Fatalf("%d events", len(evs))
	}
	for i, ev := range evs {
		if !ev.Time.Equal(want[i]) {
			t.Errorf("event %d: time %v, want %v", i, ev.Time, want[i])
		}
		if tag, _ := ev.Metadata("tag"); tag != "app.x" {
			t.Errorf("event %d: tag %v", i, tag)
		}
		if src, _ := ev.Metadata("source"); src != "fluentbit" {
			t.Errorf("event %d: source %v", i, src)
		}
		if _, ok := ev.Metadata("fluentbit_metadata"); ok {
			t.Errorf("event %d: v1 entries have no metadata", i)
		}
	}
}

func TestDecodeV2MetadataHeader(t *testing.T) {
	d := chunkDecoder{tagKey: "tag", metadataKey: "_meta"}
	evs, err := d.decode(chunk(
		v2(evTime(1700000000, 42), map[string]any{"otlp": map[string]any{"severity": "INFO"}}, map[string]any{"log": "a"}),
		v2(intTime(1700000001), map[string]any{}, map[string]any{"log": "b"}),
		v2(evTime(1700000002, 0), nil, map[string]any{"log": "c"}),
	), "kube.var.log", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	if got := evs[0].Time; !got.Equal(time.Unix(1700000000, 42)) {
		t.Errorf("time %v", got)
	}
	wantMeta := map[string]any{"otlp": map[string]any{"severity": "INFO"}}
	if m, _ := evs[0].Metadata("fluentbit_metadata"); !reflect.DeepEqual(m, wantMeta) {
		t.Errorf("metadata %#v", m)
	}
	if want := (map[string]any{"log": "a", "tag": "kube.var.log", "_meta": wantMeta}); !reflect.DeepEqual(evs[0].Fields(), want) {
		t.Errorf("fields %#v", evs[0].Fields())
	}
	for _, ev := range evs[1:] {
		if _, ok := ev.Metadata("fluentbit_metadata"); ok {
			t.Error("empty metadata is not kept")
		}
		if _, ok := ev.Fields()["_meta"]; ok {
			t.Error("empty metadata is not put in the record")
		}
	}
	if got := evs[1].Time; !got.Equal(time.Unix(1700000001, 0)) {
		t.Errorf("time %v", got)
	}
}

func TestDecodeValues(t *testing.T) {
	bad := []byte{0xff, 0xfe, 0x00}
	rec := msgp.AppendMapHeader(nil, 9)
	rec = msgp.AppendString(rec, "log")
	rec = msgp.AppendString(rec, "hello")
	rec = msgp.AppendBytes(rec, []byte("binkey")) // bin key
	rec = msgp.AppendBytes(rec, []byte("utf8 bytes"))
	rec = msgp.AppendString(rec, "raw")
	rec = msgp.AppendBytes(rec, bad)
	rec = msgp.AppendString(rec, "nested")
	rec = append(rec, enc(map[string]any{"k8s": map[string]any{"pod": "p-1", "labels": map[string]any{"app": "shop"}}, "n": int64(-3)})...)
	rec = msgp.AppendString(rec, "list")
	rec = append(rec, enc([]any{int64(1), 2.5, true, nil, "x", []byte("y")})...)
	rec = msgp.AppendInt64(rec, 7) // integer key
	rec = msgp.AppendBool(rec, false)
	rec = msgp.AppendString(rec, "big")
	rec = msgp.AppendUint64(rec, 1<<63+1)
	rec = msgp.AppendString(rec, "at")
	rec = append(rec, evTime(1700000000, 5)...)
	rec = msgp.AppendString(rec, "f32")
	rec = msgp.AppendFloat32(rec, 1.5)
	entry := append(msgp.AppendArrayHeader(nil, 2), evTime(1, 0)...)
	entry = append(entry, rec...)

	evs, err := (&chunkDecoder{}).decode(entry, "t", now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"log":    "hello",
		"binkey": "utf8 bytes",
		"raw":    base64.StdEncoding.EncodeToString(bad),
		"nested": map[string]any{"k8s": map[string]any{"pod": "p-1", "labels": map[string]any{"app": "shop"}}, "n": int64(-3)},
		"list":   []any{int64(1), 2.5, true, nil, "x", "y"},
		"7":      false,
		"big":    float64(1<<63 + 1),
		"at":     "2023-11-14T22:13:20.000000005Z",
		"f32":    1.5,
	}
	if got := evs[0].Fields(); !reflect.DeepEqual(got, want) {
		t.Errorf("fields\n got %#v\nwant %#v", got, want)
	}
}

func TestDecodeSkipsNilRecordsAndGroupMarkers(t *testing.T) {
	evs, err := (&chunkDecoder{}).decode(chunk(
		v2(intTime(groupStart), map[string]any{"resource": map[string]any{}}, map[string]any{}),
		v2(evTime(5, 0), nil, map[string]any{"log": "in group"}),
		v2(intTime(groupEnd), nil, map[string]any{}),
		v1(evTime(6, 0), nil),
		v2(evTime(1<<32-1, 0), nil, map[string]any{}), // marker as EventTime
	), "t", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Fields()["log"] != "in group" {
		t.Fatalf("events %v", evs)
	}
}

func TestDecodeGarbage(t *testing.T) {
	good := v1(evTime(1, 0), map[string]any{"a": "b"})
	cases := map[string][]byte{
		"random":          []byte("this is not msgpack at all"),
		"truncated":       good[:len(good)-1],
		"good then bad":   append(append([]byte{}, good...), 0xc1),
		"not an entry":    enc(map[string]any{"a": "b"}),
		"three elements":  enc([]any{int64(1), map[string]any{}, "x"}),
		"record a string": enc([]any{int64(1), "x"}),
		"time a string":   enc([]any{"now", map[string]any{}}),
		"bad header":      enc([]any{[]any{int64(1)}, map[string]any{}}),
		"map key a map":   append(append(msgp.AppendArrayHeader(nil, 2), 0x01), 0x81, 0x80, 0x01),
		"huge map header": append(append(msgp.AppendArrayHeader(nil, 2), 0x01), 0xdf, 0xff, 0xff, 0xff, 0xff),
		"unknown ext":     append(msgp.AppendArrayHeader(nil, 2), 0xd4, 0x05, 0x00, 0x80),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := (&chunkDecoder{}).decode(b, "t", now)
			if !errors.Is(err, errDecode) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add(v1(evTime(1, 2), map[string]any{"a": []any{"b", int64(1)}}))
	f.Add(v2(intTime(3), map[string]any{"m": "x"}, map[string]any{"a": map[string]any{"b": nil}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := (&chunkDecoder{tagKey: "tag"}).decode(b, "t", now)
		if err == nil {
			for _, ev := range evs {
				ev.AppendJSON(nil)
			}
		}
	})
}
