package event

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// benchLine is a logrus JSONFormatter line of about 400 bytes with nested
// request headers, as weft's NDJSON sources see them.
var benchLine = []byte(`{"level":"info","msg":"inbound request","time":"2025-11-23T08:00:00.005Z","func":"main.checkoutHandler","file":"main.go:118","latency_ms":12.5,"status":200,"headers":{"x-b3-traceid":"f552cc5023d8319aea1181f76f3adcbd","x-b3-spanid":"56fe5d1483d7a598","x-b3-sampled":"1","x-request-id":"7f0c7cd1-c32b-43c4-acb5-abf9f9e25113","user-agent":"Mozilla/5.0 (X11; Linux x86_64)"},"customer":{"email":"gwen.miller@example.com","tier":"gold"}}`)

func BenchmarkDecodeJSONObject(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		if _, err := DecodeJSONObject(benchLine); err != nil {
			b.Fatal(err)
		}
	}
}

// benchLines are 256 lines like benchLine whose time, trace and span IDs,
// request ID, latency and status differ from line to line, as in a real
// stream (the decoder's intern caches only help with repeated strings).
var benchLines = func() [][]byte {
	lines := make([][]byte, 256)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, `{"level":"info","msg":"inbound request","time":"2025-11-23T08:%02d:%02d.%03dZ","func":"main.checkoutHandler","file":"main.go:118","latency_ms":%d.%d,"status":%d,"headers":{"x-b3-traceid":"%016x%016x","x-b3-spanid":"%016x","x-b3-sampled":"1","x-request-id":"7f0c7cd1-c32b-43c4-acb5-%012x","user-agent":"Mozilla/5.0 (X11; Linux x86_64)"},"customer":{"email":"gwen.miller@example.com","tier":"gold"}}`,
			i/60, i%60, i*7%1000, i%50, i%10, 200+i%5, uint64(i)*0x9E3779B97F4A7C15, uint64(i)*0xC2B2AE3D27D4EB4F, uint64(i)*0x165667B19E3779F9, uint64(i)*0x27D4EB2F165667C5>>16)
	}
	return lines
}()

func BenchmarkDecodeJSONObjectVarying(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLines[0])))
	i := 0
	for b.Loop() {
		if _, err := DecodeJSONObject(benchLines[i&255]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkDecodeJSONObjectVaryingEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLines[0])))
	i := 0
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(benchLines[i&255], &m); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkDecodeJSONObjectEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(benchLine, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func benchFields(b *testing.B) (map[string]any, int) {
	m, err := DecodeJSONObject(benchLine)
	if err != nil {
		b.Fatal(err)
	}
	return m, len(AppendJSON(nil, m))
}

func BenchmarkAppendJSON(b *testing.B) {
	m, n := benchFields(b)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		buf = AppendJSON(buf[:0], m)
	}
}

func BenchmarkAppendJSONEncodingJSON(b *testing.B) {
	m, n := benchFields(b)
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSONArrayFluentBit(b *testing.B) {
	data, err := os.ReadFile(fluentBitFixture)
	if err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := DecodeJSONArray(data, func(any) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSONArrayFluentBitEncodingJSON(b *testing.B) {
	data, err := os.ReadFile(fluentBitFixture)
	if err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var v []any
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}
