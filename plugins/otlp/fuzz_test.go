package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"regexp"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weft-agent/weft/pipelines/event"
)

// toHexIDs encodes a request as OTLP/JSON: protojson, then base64 IDs
// turned into hex.
func toHexIDs(t testing.TB, req *coltracepb.ExportTraceServiceRequest) []byte {
	t.Helper()
	body, err := MarshalJSON(req)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"(traceId|spanId|parentSpanId)":\s*"([^"]*)"`)
	return re.ReplaceAllFunc(body, func(m []byte) []byte {
		sub := re.FindSubmatch(m)
		raw, err := base64.StdEncoding.DecodeString(string(sub[2]))
		if err != nil {
			t.Fatal(err)
		}
		return []byte(`"` + string(sub[1]) + `":"` + hex.EncodeToString(raw) + `"`)
	})
}

// FuzzDecodeJSON drives arbitrary input through the OTLP/JSON decode and
// conversion paths of traces and logs: it must never panic, and whatever it accepts must
// convert into documents that encode as JSON.
func FuzzDecodeJSON(f *testing.F) {
	if data, err := os.ReadFile(fixturePath); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","parentSpanId":"","kind":"SPAN_KIND_CLIENT","attributes":[{"key":"a.b","value":{"arrayValue":{"values":[{"kvlistValue":{"values":[{"key":"x.y","value":{"bytesValue":"AAE="}}]}}]}}}]}]}]}]}`))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"trace_id":"\u0034bf9","span_id":"zz","links":[{"traceId":"00"}]}]}]}]}`))
	f.Add([]byte(`[[[[{"traceId":`))
	f.Add([]byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"doubleValue":"NaN"}}]},"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","startTimeUnixNano":"18446744073709551615","endTimeUnixNano":0,"status":{"code":7}}]}]}]}`))
	// Logs.
	f.Add([]byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeLogs":[{"scope":{"name":"s"},"logRecords":[{"timeUnixNano":"1","severityNumber":"SEVERITY_NUMBER_ERROR","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","body":{"kvlistValue":{"values":[{"key":"k.k","value":{"arrayValue":{"values":[{"bytesValue":"AAE="},{"doubleValue":"Infinity"}]}}}]}},"attributes":[{"key":"a.b","value":{"intValue":"-3"}}]}]}]}]}`))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"trace_id":"00","span_id":"","observed_time_unix_nano":18446744073709551615,"flags":4294967295},{}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFuzzSignal(t, data, func(body []byte, isJSON bool) (Result, error) { return DecodeTraces(body, isJSON) },
			func() proto.Message { return &coltracepb.ExportTraceServiceRequest{} })
		now := time.Unix(1763884805, 0)
		checkFuzzSignal(t, data, func(body []byte, isJSON bool) (Result, error) { return decodeLogs(body, isJSON, now) },
			func() proto.Message { return &collogspb.ExportLogsServiceRequest{} })
	})
}

// checkFuzzSignal checks one signal's decoding of fuzz input: no panic,
// documents that encode as JSON, and the same documents from the protobuf
// re-encoding of what the JSON path accepted.
func checkFuzzSignal(t *testing.T, data []byte, decode func([]byte, bool) (Result, error), newReq func() proto.Message) {
	res, err := decode(data, true)
	if err != nil {
		return
	}
	for _, ev := range res.Events {
		out := ev.AppendJSON(nil)
		if _, err := event.DecodeJSONObject(out); err != nil {
			t.Fatalf("document does not round-trip: %v\n%s", err, out)
		}
	}
	// The protobuf path agrees with the JSON path on what it accepted.
	req := newReq()
	if err := UnmarshalJSON(data, req); err != nil {
		t.Fatalf("decoded once, not twice: %v", err)
	}
	bin, err := proto.Marshal(req)
	if err != nil {
		return
	}
	res2, err := decode(bin, false)
	if err != nil {
		t.Fatalf("protobuf re-encoding does not decode: %v", err)
	}
	if len(res2.Events) != len(res.Events) || res2.Rejected != res.Rejected {
		t.Fatalf("json: %d events %d rejected; protobuf: %d, %d", len(res.Events), res.Rejected, len(res2.Events), res2.Rejected)
	}
	for i := range res.Events {
		if a, b := res.Events[i].AppendJSON(nil), res2.Events[i].AppendJSON(nil); !bytes.Equal(a, b) {
			t.Fatalf("json and protobuf documents differ:\n%s\n%s", a, b)
		}
	}
}

func TestJSONAndProtobufAgreeOnFixture(t *testing.T) {
	req := loadFixture(t)
	body := toHexIDs(t, req)
	a, err := DecodeTraces(body, true)
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := proto.Marshal(req)
	b, err := DecodeTraces(bin, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Events {
		if x, y := a.Events[i].AppendJSON(nil), b.Events[i].AppendJSON(nil); !bytes.Equal(x, y) {
			t.Fatalf("differ:\n%s\n%s", x, y)
		}
	}
}
