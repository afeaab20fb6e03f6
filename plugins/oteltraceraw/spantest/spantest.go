// Package spantest builds span events shaped as the OTLP sources emit them
// (Trace Analytics span documents, one event per span) for the tests and
// benchmarks of the trace processors. It is a test helper: the agent does
// not use it.
package spantest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// FixturePath is the shared OTLP/JSON fixture: two traces of four spans
// (services client, order, payment); the second fails in payment.
func FixturePath() string {
	_, file, _, _ := runtime.Caller(0)
	// plugins/oteltraceraw/spantest → the repository → its sibling "shared".
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "fixtures", "otlp-traces.json")
}

var kindNames = map[int]string{
	0: "SPAN_KIND_UNSPECIFIED", 1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER",
	3: "SPAN_KIND_CLIENT", 4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER",
}

// ISOTime formats unix nanoseconds as the span documents do: UTC with nine
// fractional digits.
func ISOTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

type otlpValue struct {
	StringValue *string  `json:"stringValue"`
	IntValue    *string  `json:"intValue"`
	BoolValue   *bool    `json:"boolValue"`
	DoubleValue *float64 `json:"doubleValue"`
}

type otlpAttr struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

type otlpSpan struct {
	TraceID      string     `json:"traceId"`
	SpanID       string     `json:"spanId"`
	ParentSpanID string     `json:"parentSpanId"`
	Name         string     `json:"name"`
	Kind         int        `json:"kind"`
	Start        string     `json:"startTimeUnixNano"`
	End          string     `json:"endTimeUnixNano"`
	Attributes   []otlpAttr `json:"attributes"`
	Status       struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
}

type otlpRequest struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []otlpAttr `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Spans []otlpSpan `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

func (v otlpValue) value() any {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		i, _ := strconv.ParseInt(*v.IntValue, 10, 64)
		return i
	case v.BoolValue != nil:
		return *v.BoolValue
	case v.DoubleValue != nil:
		return *v.DoubleValue
	}
	return nil
}

// Fixture reads the OTLP/JSON fixture and returns its spans as span events
// in file order (grouped by service, as the request is).
func Fixture() ([]*event.Event, error) {
	data, err := os.ReadFile(FixturePath())
	if err != nil {
		return nil, err
	}
	return FromOTLPJSON(data)
}

// FromOTLPJSON converts an OTLP/JSON ExportTraceServiceRequest into span
// events the way the OTLP sources do (independently written, for tests).
func FromOTLPJSON(data []byte) ([]*event.Event, error) {
	var req otlpRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, err
	}
	var out []*event.Event
	for _, rs := range req.ResourceSpans {
		service := ""
		res := map[string]any{}
		for _, a := range rs.Resource.Attributes {
			if a.Key == "service.name" {
				service, _ = a.Value.value().(string)
			}
			res["resource.attributes."+strings.ReplaceAll(a.Key, ".", "@")] = a.Value.value()
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				start, err1 := strconv.ParseInt(s.Start, 10, 64)
				end, err2 := strconv.ParseInt(s.End, 10, 64)
				if err1 != nil || err2 != nil {
					return nil, fmt.Errorf("span %s: bad times", s.SpanID)
				}
				sp := Span{
					TraceID: strings.ToLower(s.TraceID), SpanID: strings.ToLower(s.SpanID),
					ParentSpanID: strings.ToLower(s.ParentSpanID), Name: s.Name,
					Kind: kindNames[s.Kind], Service: service, Start: start, End: end,
					StatusCode: s.Status.Code, StatusMessage: s.Status.Message,
				}
				ev := sp.Event()
				f := ev.Fields()
				for k, v := range res {
					f[k] = v
				}
				for _, a := range s.Attributes {
					f["span.attributes."+strings.ReplaceAll(a.Key, ".", "@")] = a.Value.value()
				}
				out = append(out, ev)
			}
		}
	}
	return out, nil
}

// Span is the minimum needed to build a span document.
type Span struct {
	TraceID, SpanID, ParentSpanID string
	Name, Kind, Service           string
	Start, End                    int64 // unix nanoseconds
	StatusCode                    int64
	StatusMessage                 string
}

// Event builds the span document. A root span (no parent) carries
// traceGroup and traceGroupFields, as the sources set them.
func (s Span) Event() *event.Event {
	f := map[string]any{
		"traceId":                s.TraceID,
		"spanId":                 s.SpanID,
		"parentSpanId":           s.ParentSpanID,
		"name":                   s.Name,
		"kind":                   s.Kind,
		"startTime":              ISOTime(s.Start),
		"endTime":                ISOTime(s.End),
		"durationInNanos":        s.End - s.Start,
		"serviceName":            s.Service,
		"status":                 map[string]any{"code": s.StatusCode, "message": s.StatusMessage},
		"events":                 []any{},
		"links":                  []any{},
		"droppedAttributesCount": int64(0),
		"droppedEventsCount":     int64(0),
		"droppedLinksCount":      int64(0),
		"traceState":             "",
	}
	if s.ParentSpanID == "" {
		f["traceGroup"] = s.Name
		f["traceGroupFields"] = map[string]any{
			"endTime":         ISOTime(s.End),
			"durationInNanos": s.End - s.Start,
			"statusCode":      s.StatusCode,
		}
	}
	return event.New(event.KindSpan, time.Unix(0, s.Start), f)
}

// Trace makes a synthetic trace: a root named "GET /api/<seq%100>" (so
// there are 100 trace groups, as endpoints of an application) in service
// "frontend" and n children, each the child of the previous one, in
// rotating services. IDs derive from seq, so traces are distinct and
// reproducible.
func Trace(seq, n int) (root *event.Event, children []*event.Event) {
	traceID := fmt.Sprintf("%016x%016x", uint64(seq)*0x9e3779b97f4a7c15|1, uint64(seq))
	base := int64(1763884800000000000) + int64(seq)*1000
	services := []string{"frontend", "checkout", "payment", "inventory"}
	rootID := fmt.Sprintf("%016x", uint64(seq)<<8|1)
	root = Span{TraceID: traceID, SpanID: rootID, Name: fmt.Sprintf("GET /api/%d", seq%100), Kind: "SPAN_KIND_SERVER",
		Service: services[0], Start: base, End: base + 5_000_000, StatusCode: int64(seq % 3)}.Event()
	parent := rootID
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%016x", uint64(seq)<<8|uint64(i+2))
		kind := "SPAN_KIND_SERVER"
		if i%2 == 0 {
			kind = "SPAN_KIND_CLIENT"
		}
		children = append(children, Span{TraceID: traceID, SpanID: id, ParentSpanID: parent,
			Name: fmt.Sprintf("op-%d", i), Kind: kind, Service: services[(i+1)%len(services)],
			Start: base + int64(i+1)*1000, End: base + 4_000_000}.Event())
		parent = id
	}
	return root, children
}
