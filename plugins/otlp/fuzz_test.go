package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"regexp"
	"testing"

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
// conversion path: it must never panic, and whatever it accepts must
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
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := DecodeTraces(data, true)
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
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := UnmarshalJSON(data, req); err != nil {
			t.Fatalf("decoded once, not twice: %v", err)
		}
		bin, err := proto.Marshal(req)
		if err != nil {
			return
		}
		res2, err := DecodeTraces(bin, false)
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
	})
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
