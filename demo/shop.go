package demo

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"text/template"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// The shop of shared/fixtures, reduced to templates: the log lines of each
// service with the trace IDs, times and personal data left as fields.
//
//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("shop").Funcs(template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}).ParseFS(templateFS, "templates/*.tmpl"))

// Customer is a shopper; every field is personal data the agent masks.
type Customer struct {
	Email, Card, Phone, IP string
}

// customers are made up; the cards are the public test numbers of the card
// networks (valid Luhn check digits, so the credit_card detector finds
// them), printed the way people type them.
var customers = []Customer{
	{"gwen.miller@example.com", "4111 1111 1111 1111", "+1-206-555-0142", "10.0.4.17"},
	{"arjun.patel@example.org", "5555-5555-5555-4444", "(415) 555-0199", "10.0.7.120"},
	{"li.wei@example.net", "4012888888881881", "+44 20 7183 8750", "192.168.12.5"},
	{"sofia.rossi@example.com", "3782 822463 10005", "+39 06 6982 1234", "10.0.4.99"},
	{"tom.okafor@example.com", "6011 1111 1111 1117", "212-555-0173", "172.16.3.40"},
}

// Span indexes of a checkout.
const (
	spanClient = iota
	spanOrder
	spanPayment
	spanPaymentInventory
	spanInventory
	spanCount
)

// Services of the shop, in the order their spans are planned.
var services = []string{"client", "order", "payment", "inventory"}

// SpanPlan is one span of a checkout, created by the generator with the
// OpenTelemetry SDK.
type SpanPlan struct {
	Service       string
	Name          string
	Kind          trace.SpanKind
	Parent        int // index of the parent in the plan; -1 for the root
	Start, End    time.Time
	Error         bool
	StatusMessage string
	Attrs         []attribute.KeyValue
}

// Checkout is one played checkout: client → order → payment → inventory,
// as in otlp-traces.json. A failed checkout fails in payment (HTTP 503),
// which fails order's and the client's spans too.
type Checkout struct {
	Order     int
	Customer  Customer
	Failed    bool
	Start     time.Time
	Scale     float64 // durations relative to the fixture's (0.8 to 1.25)
	Items     int
	RequestID string
	Bearer    string
}

// NewCheckout draws a checkout starting at start.
func NewCheckout(r *rand.Rand, order int, start time.Time, failureRate float64) *Checkout {
	return &Checkout{
		Order:     order,
		Customer:  customers[r.IntN(len(customers))],
		Failed:    r.Float64() < failureRate,
		Start:     start,
		Scale:     0.8 + 0.45*r.Float64(),
		Items:     1 + r.IntN(5),
		RequestID: fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff),
		Bearer:    fmt.Sprintf("Bearer eyJhbGciOiJIUzI1NiJ9.%024x.%016x", r.Uint64()&0xffffffffffff, r.Uint64()),
	}
}

// at is the time ms (of the fixture's timeline) after the start.
func (c *Checkout) at(ms float64) time.Time {
	return c.Start.Add(time.Duration(ms * c.Scale * float64(time.Millisecond)))
}

// Spans plans the checkout's spans, root first (the fixture's offsets and
// durations, scaled).
func (c *Checkout) Spans() []SpanPlan {
	status := int64(200)
	if c.Failed {
		status = 503
	}
	plan := make([]SpanPlan, spanCount)
	plan[spanClient] = SpanPlan{Service: "client", Name: "client_checkout", Kind: trace.SpanKindClient, Parent: -1,
		Start: c.at(0), End: c.at(180), Error: c.Failed,
		Attrs: []attribute.KeyValue{attribute.String("http.method", "POST"), attribute.String("http.url", "http://order/checkout"),
			attribute.Int64("http.status_code", status), attribute.Int("shop.order", c.Order)}}
	plan[spanOrder] = SpanPlan{Service: "order", Name: "/checkout", Kind: trace.SpanKindServer, Parent: spanClient,
		Start: c.at(5), End: c.at(165), Error: c.Failed,
		Attrs: []attribute.KeyValue{attribute.String("http.method", "POST"), attribute.String("http.route", "/checkout"),
			attribute.Int64("http.status_code", status)}}
	plan[spanPayment] = SpanPlan{Service: "payment", Name: "/checkout", Kind: trace.SpanKindServer, Parent: spanOrder,
		Start: c.at(20), End: c.at(140), Error: c.Failed,
		Attrs: []attribute.KeyValue{attribute.String("http.method", "POST"), attribute.Int64("http.status_code", status)}}
	if c.Failed {
		plan[spanPayment].StatusMessage = "Checkout Failed - Service Unavailable"
	}
	plan[spanPaymentInventory] = SpanPlan{Service: "payment", Name: "update_inventory", Kind: trace.SpanKindClient, Parent: spanPayment,
		Start: c.at(40), End: c.at(100),
		Attrs: []attribute.KeyValue{attribute.String("http.method", "POST"), attribute.String("peer.service", "inventory")}}
	plan[spanInventory] = SpanPlan{Service: "inventory", Name: "/inventory/reserve", Kind: trace.SpanKindServer, Parent: spanPaymentInventory,
		Start: c.at(45), End: c.at(95),
		Attrs: []attribute.KeyValue{attribute.String("http.method", "POST"), attribute.String("http.route", "/inventory/reserve"),
			attribute.Int("shop.items", c.Items)}}
	return plan
}

// IDs are the hex trace and span IDs the SDK gave a checkout's spans, by
// plan index.
type IDs struct {
	Trace string
	Spans [spanCount]string
}

// OTLPLog is a log record the client emits through the OpenTelemetry logs
// SDK, in the context of one of the checkout's spans.
type OTLPLog struct {
	Span  int
	Time  time.Time
	Error bool
	Body  string
}

// tdata is what the templates see.
type tdata struct {
	PyTime, RFCTime, CRITime      string
	TraceID, SpanID, ParentSpanID string
	RequestID, Bearer             string
	Email, Card, Phone, ClientIP  string
	Order, Items                  int
}

func (c *Checkout) data(ids IDs, span int, t time.Time) tdata {
	d := tdata{
		PyTime:  t.UTC().Format("2006-01-02 15:04:05,000"),
		RFCTime: t.UTC().Format("2006-01-02T15:04:05.000000Z"),
		CRITime: t.UTC().Format("2006-01-02T15:04:05.000000000Z"),
		TraceID: ids.Trace, SpanID: ids.Spans[span],
		RequestID: c.RequestID, Bearer: c.Bearer,
		Email: c.Customer.Email, Card: c.Customer.Card, Phone: c.Customer.Phone, ClientIP: c.Customer.IP,
		Order: c.Order, Items: c.Items,
	}
	if p := c.Spans()[span].Parent; p >= 0 {
		d.ParentSpanID = ids.Spans[p]
	}
	return d
}

func render(name string, d tdata) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// kubernetes is the metadata Fluent Bit's kubernetes filter adds.
func kubernetes(service string) map[string]any {
	pods := map[string]string{"order": "order-5b8c9d7f4-q7wzn", "payment": "payment-7d9f8c6b5-x2k4p", "inventory": "inventory-6f4d8b9c7-m3j8r"}
	return map[string]any{"pod_name": pods[service], "namespace_name": "shop", "container_name": service,
		"host": "ip-10-0-1-23.ec2.internal", "labels": map[string]any{"app": service}}
}

// Logs renders the checkout's logs: records as Fluent Bit's http output
// posts them to /log/ingest (payment's Python lines, order's logrus JSON,
// inventory's CRI lines, each with kubernetes metadata and the "date" the
// http source takes as the event time), and the client's OTLP log records.
func (c *Checkout) Logs(ids IDs) (records []map[string]any, otlp []OTLPLog, err error) {
	plan := c.Spans()
	add := func(service string, t time.Time, fields map[string]any) {
		fields["date"] = float64(t.UnixMicro()) / 1e6
		fields["kubernetes"] = kubernetes(service)
		records = append(records, fields)
	}
	python := func(name string) error {
		t := plan[spanPayment].Start.Add(2 * time.Millisecond)
		if name != "payment.charge" {
			t = plan[spanPayment].End.Add(-time.Millisecond)
		}
		line, err := render(name, c.data(ids, spanPayment, t))
		if err == nil {
			add("payment", t, map[string]any{"log": line + "\n", "stream": "stdout"})
		}
		return err
	}
	logrus := func(name string, t time.Time) error {
		line, err := render(name, c.data(ids, spanOrder, t))
		if err != nil {
			return err
		}
		fields := map[string]any{}
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			return fmt.Errorf("template %s: not a JSON object: %w", name, err)
		}
		add("order", t, fields) // Fluent Bit's Merge_Log: the JSON fields at the top level
		return nil
	}
	cri := func(name string) error {
		t := plan[spanInventory].Start.Add(3 * time.Millisecond)
		line, err := render(name, c.data(ids, spanInventory, t))
		if err != nil {
			return err
		}
		// Fluent Bit's cri parser: time, stream, logtag, log.
		parts := strings.SplitN(line, " ", 4)
		if len(parts) != 4 {
			return fmt.Errorf("template %s: not a CRI line: %q", name, line)
		}
		add("inventory", t, map[string]any{"time": parts[0], "stream": parts[1], "logtag": parts[2], "log": parts[3]})
		return nil
	}
	client := func(name string, t time.Time, isErr bool) error {
		body, err := render(name, c.data(ids, spanClient, t))
		if err == nil {
			otlp = append(otlp, OTLPLog{Span: spanClient, Time: t, Error: isErr, Body: body})
		}
		return err
	}

	steps := []func() error{
		func() error { return client("client.start", plan[spanClient].Start.Add(time.Millisecond), false) },
		func() error { return logrus("order.inbound", plan[spanOrder].Start.Add(time.Millisecond)) },
		func() error { return logrus("order.outbound", plan[spanPayment].Start.Add(-time.Millisecond)) },
		func() error { return python("payment.charge") },
		func() error { return cri("inventory.reserve") },
	}
	if c.Failed {
		steps = append(steps,
			func() error { return python("payment.fail") },
			func() error { return logrus("order.fail", plan[spanOrder].End.Add(-time.Millisecond)) },
			func() error { return client("client.fail", plan[spanClient].End.Add(-time.Millisecond), true) })
	} else {
		steps = append(steps, func() error { return python("payment.ok") })
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, nil, err
		}
	}
	return records, otlp, nil
}
