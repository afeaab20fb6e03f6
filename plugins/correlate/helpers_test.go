package correlate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// The shop fixture's two traces.
const (
	okTrace      = "f552cc5023d8319aea1181f76f3adcbd"
	failTrace    = "b6ae4bc13d2a43a6ada270691286d33c"
	failPayment  = "354d2c366eb5300f" // payment /checkout span of the failing trace
	okPayment    = "ac5d960c71f2731a"
	okOrderSpan  = "56fe5d1483d7a598"
	failRootSpan = "d6909d4585e48b7f"
)

// clock is a settable time shared by the processors of a test.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2025, 11, 23, 8, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time            { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration)       { c.ns.Add(int64(d)) }
func (c *clock) use(p pipelines.Processor) { p.(*processor).now = c.now }

// build creates a correlate processor from YAML options on host (a fresh
// one when nil), with the clock, and returns its metrics registry.
func build(t testing.TB, host pipelines.Host, opts string, c *clock) (*processor, *prometheus.Registry) {
	t.Helper()
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "correlate", opts)
	if err != nil {
		t.Fatal(err)
	}
	s, reg := pipelinestest.Settings("test", "processor/0/correlate")
	if host != nil {
		s.Host = host
	}
	pr, err := New(s, cfg.(*Config))
	if err != nil {
		t.Fatal(err)
	}
	p := pr.(*processor)
	if c != nil {
		c.use(p)
	}
	return p, reg
}

func run(p pipelines.Processor, evs ...*event.Event) []*event.Event {
	return p.Process(context.Background(), evs)
}

// fixtureSpans converts the shop fixture (OTLP/JSON) into Trace Analytics
// span documents, as the trace pipeline's span processor writes them.
func fixtureSpans(t testing.TB) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "fixtures", "otlp-traces.json"))
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []struct {
					Key   string
					Value struct{ StringValue string }
				}
			}
			ScopeSpans []struct {
				Spans []struct {
					TraceID, SpanID, ParentSpanID, Name string
					Kind                                int
					StartTimeUnixNano, EndTimeUnixNano  string
					Status                              struct {
						Code    int
						Message string
					}
				}
			}
		}
	}
	if err := json.Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	kinds := []string{"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT"}
	var out []map[string]any
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, a := range rs.Resource.Attributes {
			if a.Key == "service.name" {
				service = a.Value.StringValue
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				start, _ := strconv.ParseInt(s.StartTimeUnixNano, 10, 64)
				end, _ := strconv.ParseInt(s.EndTimeUnixNano, 10, 64)
				doc := map[string]any{
					"traceId": s.TraceID, "spanId": s.SpanID, "parentSpanId": s.ParentSpanID,
					"name": s.Name, "kind": kinds[s.Kind], "serviceName": service,
					"startTime":       time.Unix(0, start).UTC().Format(time.RFC3339Nano),
					"endTime":         time.Unix(0, end).UTC().Format(time.RFC3339Nano),
					"durationInNanos": end - start,
					"status":          map[string]any{"code": int64(s.Status.Code), "message": s.Status.Message},
				}
				if s.ParentSpanID == "" {
					doc["traceGroup"] = s.Name
				}
				out = append(out, doc)
			}
		}
	}
	if len(out) != 8 {
		t.Fatalf("fixture has %d spans, want 8", len(out))
	}
	return out
}

func spanEvent(doc map[string]any) *event.Event {
	return event.New(event.KindSpan, time.Time{}, event.DeepCopyMap(doc))
}

func spanEvents(docs []map[string]any, traceID string) []*event.Event {
	var out []*event.Event
	for _, d := range docs {
		if traceID == "" || d["traceId"] == traceID {
			out = append(out, spanEvent(d))
		}
	}
	return out
}

// logEvent is a log as trace_context leaves it.
func logEvent(traceID, spanID string, extra ...any) *event.Event {
	f := map[string]any{"message": "m"}
	if traceID != "" {
		f["traceId"] = traceID
	}
	if spanID != "" {
		f["spanId"] = spanID
	}
	for i := 0; i+1 < len(extra); i += 2 {
		f[extra[i].(string)] = extra[i+1]
	}
	return event.New(event.KindLog, time.Time{}, f)
}

// synthTrace makes the span documents of a two-span trace number n.
func synthTrace(n int, failed bool, dur time.Duration) (string, []map[string]any) {
	tid := fmt.Sprintf("%016x%016x", uint64(n)*0x9e3779b97f4a7c15+1, uint64(n)+7)
	root := fmt.Sprintf("%016x", uint64(n)+1)
	child := fmt.Sprintf("%016x", uint64(n)+0x100000001)
	code := int64(0)
	if failed {
		code = 2
	}
	return tid, []map[string]any{
		{"traceId": tid, "spanId": child, "parentSpanId": root, "name": "db", "kind": "SPAN_KIND_CLIENT",
			"serviceName": "api", "durationInNanos": int64(dur / 2), "status": map[string]any{"code": code}},
		{"traceId": tid, "spanId": root, "parentSpanId": "", "name": "GET /", "kind": "SPAN_KIND_SERVER",
			"serviceName": "web", "durationInNanos": int64(dur), "status": map[string]any{"code": int64(0)}, "traceGroup": "GET /"},
	}
}

func metric(reg prometheus.Gatherer, name string, labels ...string) float64 {
	return pipelinestest.CounterValue(reg, name, labels...)
}
