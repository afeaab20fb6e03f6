package demo

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
	_ "github.com/weft-agent/weft/plugins/mask"
	_ "github.com/weft-agent/weft/plugins/tracecontext"
)

var t0 = time.Date(2025, 11, 23, 8, 0, 0, 0, time.UTC)

func checkout(t *testing.T, failed bool) *Checkout {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	rate := 0.0
	if failed {
		rate = 1
	}
	return NewCheckout(r, 582936, t0, rate)
}

func testIDs() IDs {
	return IDs{Trace: "f552cc5023d8319aea1181f76f3adcbd",
		Spans: [spanCount]string{"c189941acf780de9", "56fe5d1483d7a598", "ac5d960c71f2731a", "0ce76f67ca8980aa", "354d2c366eb5300f"}}
}

// The plan is the fixture's trace: client → order → payment → inventory,
// every child inside its parent, the failure in payment marking the spans
// above it.
func TestSpansFollowTheFixture(t *testing.T) {
	for _, failed := range []bool{false, true} {
		c := checkout(t, failed)
		plan := c.Spans()
		if len(plan) != 5 {
			t.Fatalf("%d spans", len(plan))
		}
		want := []struct {
			svc, name string
			kind      trace.SpanKind
			parent    int
		}{
			{"client", "client_checkout", trace.SpanKindClient, -1},
			{"order", "/checkout", trace.SpanKindServer, spanClient},
			{"payment", "/checkout", trace.SpanKindServer, spanOrder},
			{"payment", "update_inventory", trace.SpanKindClient, spanPayment},
			{"inventory", "/inventory/reserve", trace.SpanKindServer, spanPaymentInventory},
		}
		for i, w := range want {
			p := plan[i]
			if p.Service != w.svc || p.Name != w.name || p.Kind != w.kind || p.Parent != w.parent {
				t.Errorf("span %d: %s %s %v parent %d, want %+v", i, p.Service, p.Name, p.Kind, p.Parent, w)
			}
			if !p.End.After(p.Start) {
				t.Errorf("span %d ends before it starts", i)
			}
			if p.Parent >= 0 {
				par := plan[p.Parent]
				if p.Start.Before(par.Start) || p.End.After(par.End) {
					t.Errorf("span %d is not inside its parent", i)
				}
			}
			wantErr := failed && i <= spanPayment
			if p.Error != wantErr {
				t.Errorf("failed=%v span %d: error %v", failed, i, p.Error)
			}
		}
		if d := plan[0].End.Sub(plan[0].Start); d < 144*time.Millisecond || d > 225*time.Millisecond {
			t.Errorf("root duration %v: not the fixture's 180 ms scaled by 0.8 to 1.25", d)
		}
		if failed && plan[spanPayment].StatusMessage != "Checkout Failed - Service Unavailable" {
			t.Errorf("payment status message %q", plan[spanPayment].StatusMessage)
		}
	}
}

func TestCheckoutsAreDrawnFromTheSeed(t *testing.T) {
	a := NewCheckout(rand.New(rand.NewPCG(7, 7)), 1, t0, 0.5)
	b := NewCheckout(rand.New(rand.NewPCG(7, 7)), 1, t0, 0.5)
	if *a != *b {
		t.Fatalf("same seed, different checkouts: %+v %+v", a, b)
	}
	r := rand.New(rand.NewPCG(3, 4))
	failed := 0
	for i := 0; i < 1000; i++ {
		if NewCheckout(r, i, t0, 0.2).Failed {
			failed++
		}
	}
	if failed < 150 || failed > 250 {
		t.Fatalf("%d of 1000 failed at rate 0.2", failed)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(a.RequestID) {
		t.Errorf("request id %q is not a UUID", a.RequestID)
	}
}

// The rendered lines have the fixtures' shapes.
func TestLogsHaveTheFixtureFormats(t *testing.T) {
	c := checkout(t, true)
	ids := testIDs()
	records, otlp, err := c.Logs(ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 6 || len(otlp) != 2 {
		t.Fatalf("failed checkout: %d records, %d OTLP logs; want 6 and 2", len(records), len(otlp))
	}
	python := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|ERROR) \[paymentService\] \[paymentService\.py:\d+\] \[trace_id=f552cc5023d8319aea1181f76f3adcbd span_id=ac5d960c71f2731a resource\.service\.name=payment\] - Payment - .+\n$`)
	var kinds []string
	for _, r := range records {
		k := r["kubernetes"].(map[string]any)
		if k["namespace_name"] != "shop" || r["date"] == nil {
			t.Errorf("record without kubernetes metadata or date: %v", r)
		}
		switch k["container_name"] {
		case "payment":
			kinds = append(kinds, "python")
			if !python.MatchString(r["log"].(string)) {
				t.Errorf("not the Python logging format: %q", r["log"])
			}
		case "order":
			kinds = append(kinds, "logrus")
			if r["level"] == nil || r["msg"] == nil || r["time"] == nil {
				t.Errorf("not a logrus record: %v", r)
			}
		case "inventory":
			kinds = append(kinds, "cri")
			if r["stream"] != "stdout" || r["logtag"] != "F" {
				t.Errorf("not a parsed CRI line: %v", r)
			}
			if _, err := time.Parse(time.RFC3339Nano, r["time"].(string)); err != nil {
				t.Errorf("CRI time: %v", err)
			}
		}
	}
	if got := strings.Join(kinds, ","); got != "logrus,logrus,python,cri,python,logrus" {
		t.Errorf("record order %s", got)
	}
	in := records[0]["headers"].(map[string]any)
	if in["x-b3-traceid"] != ids.Trace || in["x-b3-spanid"] != ids.Spans[spanOrder] || in["x-b3-parentspanid"] != ids.Spans[spanClient] {
		t.Errorf("B3 headers %v", in)
	}
	if !strings.Contains(records[1]["msg"].(string), "x-b3-traceid:["+ids.Trace+"]") {
		t.Errorf("headersOut as a Go map: %q", records[1]["msg"])
	}
	if !otlp[1].Error || otlp[0].Error || otlp[0].Span != spanClient || !strings.Contains(otlp[0].Body, c.Customer.Email) {
		t.Errorf("OTLP logs %+v", otlp)
	}

	ok := checkout(t, false)
	records, otlp, err = ok.Logs(ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 5 || len(otlp) != 1 {
		t.Fatalf("good checkout: %d records, %d OTLP logs; want 5 and 1", len(records), len(otlp))
	}
	if !strings.Contains(records[4]["log"].(string), "successfully checked out cart") {
		t.Errorf("last line %q", records[4]["log"])
	}
}

// Through the agent's own trace_context and mask processors, every record
// yields the trace and span ID of its service's span, and none of the
// personal data survives.
func TestLogsAreCorrelatableAndMaskable(t *testing.T) {
	ids := testIDs()
	tc := pipelinestest.MustProcessor(t, "trace_context", "{}")
	mask := pipelinestest.MustProcessor(t, "mask", "{key: test-key}")
	spanOf := map[string]int{"order": spanOrder, "payment": spanPayment, "inventory": spanInventory}
	var all []*Checkout
	for _, cust := range customers {
		for _, failed := range []bool{false, true} {
			c := checkout(t, failed)
			c.Customer = cust
			all = append(all, c)
		}
	}
	for _, c := range all {
		records, otlp, err := c.Logs(ids)
		if err != nil {
			t.Fatal(err)
		}
		var evs []*event.Event
		for _, r := range records {
			b, _ := json.Marshal(r)
			evs = append(evs, pipelinestest.Event(t, string(b)))
		}
		for _, l := range otlp {
			b, _ := json.Marshal(map[string]any{"body": l.Body, "message": l.Body, "traceId": ids.Trace, "spanId": ids.Spans[l.Span]})
			evs = append(evs, pipelinestest.Event(t, string(b)))
		}
		out := mask.Process(context.Background(), tc.Process(context.Background(), evs))
		if len(out) != len(evs) {
			t.Fatalf("%d events out of %d", len(out), len(evs))
		}
		for i, e := range out {
			f := e.Fields()
			want := spanClient
			if i < len(records) {
				want = spanOf[records[i]["kubernetes"].(map[string]any)["container_name"].(string)]
			}
			if f["traceId"] != ids.Trace || f["spanId"] != ids.Spans[want] {
				t.Errorf("event %d: traceId %v spanId %v, want %s %s", i, f["traceId"], f["spanId"], ids.Trace, ids.Spans[want])
			}
			b, _ := json.Marshal(f)
			doc := string(b)
			for _, pii := range []string{c.Customer.Email, c.Customer.Card, c.Customer.Phone, c.Customer.IP, c.Bearer[len("Bearer "):]} {
				if strings.Contains(doc, pii) {
					t.Errorf("event %d: %q not masked: %s", i, pii, doc)
				}
			}
		}
	}
}
