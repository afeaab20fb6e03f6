package event

import (
	"encoding/json"
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
