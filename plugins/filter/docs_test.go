package filter

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The test corpus: documents generated from a typed description (tdoc),
// so that each query's expected selection can be computed by hand from
// the typed fields, without the code under test.

type order struct {
	ID    string
	Total float64
}

type tdoc struct {
	ID int64

	Day string // day_of_week, in varying case

	Level string // level: info, warn, error, ERROR, debug; "" = absent

	Status     int64
	StatusKind int // 0 absent, 1 number, 2 numeric string

	Latency    float64 // latency_ms; HasLatency
	HasLatency bool

	// message: Words joined by Seps; Terms are the lowercased tokens in
	// order, as the generator knows them (hostnames and IPs are one term).
	Message string
	Terms   []string

	Time     time.Time // timestamp (ISO-8601 text in TimeText); HasTime
	TimeText string
	HasTime  bool

	Tags      []string // tags; TagsKind 0 absent, 1 list, 2 empty list, 3 [null]
	TagsKind  int
	TagsNulls bool // the list also holds nulls

	// kubernetes: nested object, or flattened "kubernetes.namespace_name"
	// keys at the top level (K8sFlat); HasK8s.
	HasK8s  bool
	K8sFlat bool
	NS, Pod string
	App     string // kubernetes.labels.app

	HTTPMethod string // "span.attributes.http@method" as one top-level key; "" = absent

	Email      string // customer.email; EmailNull: present as null
	EmailNull  bool
	HasCust    bool
	Orders     []order // customer.orders[].id, .total
	TotalRaw   bool    // total as integers
	EpochMilli int64   // ts_ms: the time as epoch milliseconds (numbers)
}

var (
	days   = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	levels = []string{"info", "info", "warn", "error", "ERROR", "debug", ""}
	nss    = []string{"prod-payments-eu", "prod-payments-us", "prod-search-eu", "staging-payments-eu", "dev", "prod-x-eu"}
	pods   = []string{"checkout-7d9f8-abcde", "checkout-canary-1", "cart-55d-x1", "search-0", "Checkout-legacy"}
	apps   = []string{"checkout", "cart", "search", "mailer", "payments"}
	verbs  = []string{"GET", "POST", "PUT", "DELETE"}
	tags   = []string{"beta", "canary", "pci", "internal", "Beta"}
	// Message vocabulary: each entry is one term of the standard analyzer.
	vocab = []string{"payment", "failed", "card", "declined", "user", "logged", "in", "from", "order",
		"timeout", "connection", "refused", "retry", "succeeded", "checkout", "api.example.com",
		"10.0.0.1", "10.0.0.2", "db-primary", "cache", "miss", "hit", "slow", "query", "don't", "3.14"}
	seps = []string{" ", " ", " ", ", ", ": ", " - ", " (", ") ", "; ", "\t"}
)

func genDocs(n int, seed uint64) []tdoc {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]tdoc, n)
	for i := range out {
		d := tdoc{ID: int64(i + 1)}
		d.Day = days[r.IntN(len(days))]
		switch r.IntN(5) {
		case 0:
			d.Day = strings.ToLower(d.Day)
		case 1:
			d.Day = strings.ToUpper(d.Day)
		}
		d.Level = levels[r.IntN(len(levels))]
		d.StatusKind = r.IntN(5) % 3 // mostly numbers
		d.Status = []int64{200, 201, 301, 404, 500, 503}[r.IntN(6)]
		if r.IntN(4) > 0 {
			d.HasLatency = true
			d.Latency = float64(r.IntN(100000)) / 100
		}
		// Message: 3–9 vocabulary words, some capitalised, with separators.
		nw := 3 + r.IntN(7)
		var b strings.Builder
		for w := 0; w < nw; w++ {
			word := vocab[r.IntN(len(vocab))]
			d.Terms = append(d.Terms, word)
			if r.IntN(3) == 0 {
				word = strings.ToUpper(word[:1]) + word[1:]
			}
			if w > 0 {
				b.WriteString(seps[r.IntN(len(seps))])
			}
			b.WriteString(word)
		}
		// "db-primary" is two terms for the analyzer: db, primary.
		var terms []string
		for _, t := range d.Terms {
			if t == "db-primary" {
				terms = append(terms, "db", "primary")
				continue
			}
			terms = append(terms, t)
		}
		d.Terms = terms
		d.Message = b.String()
		if r.IntN(10) > 0 {
			d.HasTime = true
			d.Time = base.Add(time.Duration(r.Int64N(int64(91 * 24 * time.Hour))))
			switch r.IntN(4) {
			case 0:
				d.TimeText = d.Time.Format("2006-01-02T15:04:05Z")
				d.Time = d.Time.Truncate(time.Second)
			case 1:
				d.TimeText = d.Time.Format(time.RFC3339Nano)
			case 2: // the same instant written with an offset
				d.TimeText = d.Time.In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05.000-07:00")
				d.Time = d.Time.Truncate(time.Millisecond)
			case 3:
				d.TimeText = d.Time.In(time.FixedZone("", -5*3600-1800)).Format("2006-01-02T15:04:05-07:00")
				d.Time = d.Time.Truncate(time.Second)
			}
			d.EpochMilli = d.Time.UnixMilli()
		}
		d.TagsKind = r.IntN(4)
		if d.TagsKind == 1 {
			for k := 0; k < 1+r.IntN(3); k++ {
				d.Tags = append(d.Tags, tags[r.IntN(len(tags))])
			}
			d.TagsNulls = r.IntN(4) == 0
		}
		if r.IntN(6) > 0 {
			d.HasK8s = true
			d.K8sFlat = r.IntN(3) == 0
			d.NS = nss[r.IntN(len(nss))]
			d.Pod = pods[r.IntN(len(pods))]
			d.App = apps[r.IntN(len(apps))]
		}
		if r.IntN(3) == 0 {
			d.HTTPMethod = verbs[r.IntN(len(verbs))]
		}
		if r.IntN(5) > 0 {
			d.HasCust = true
			switch r.IntN(4) {
			case 0:
				d.EmailNull = true
			case 1:
			default:
				d.Email = fmt.Sprintf("user%d@example.com", r.IntN(50))
			}
			d.TotalRaw = r.IntN(2) == 0
			for k := 0; k < r.IntN(4); k++ {
				o := order{ID: fmt.Sprintf("o-%d", r.IntN(12))}
				if d.TotalRaw {
					o.Total = float64(r.IntN(300))
				} else {
					o.Total = float64(r.IntN(30000)) / 100
				}
				d.Orders = append(d.Orders, o)
			}
		}
		out[i] = d
	}
	return out
}

// fields renders the document as an event's field tree.
func (d *tdoc) fields() map[string]any {
	m := map[string]any{"id": d.ID, "day_of_week": d.Day, "message": d.Message}
	if d.Level != "" {
		m["level"] = d.Level
	}
	switch d.StatusKind {
	case 1:
		m["status"] = d.Status
	case 2:
		m["status"] = fmt.Sprint(d.Status)
	}
	if d.HasLatency {
		m["latency_ms"] = d.Latency
	}
	if d.HasTime {
		m["timestamp"] = d.TimeText
		m["ts_ms"] = d.EpochMilli
	}
	switch d.TagsKind {
	case 1:
		l := make([]any, 0, len(d.Tags)+1)
		for _, t := range d.Tags {
			l = append(l, t)
		}
		if d.TagsNulls {
			l = append(l, nil)
		}
		m["tags"] = l
	case 2:
		m["tags"] = []any{}
	case 3:
		m["tags"] = []any{nil}
	}
	if d.HasK8s {
		if d.K8sFlat {
			m["kubernetes.namespace_name"] = d.NS
			m["kubernetes.pod_name"] = d.Pod
			m["kubernetes.labels"] = map[string]any{"app": d.App}
		} else {
			m["kubernetes"] = map[string]any{"namespace_name": d.NS, "pod_name": d.Pod, "labels": map[string]any{"app": d.App}}
		}
	}
	if d.HTTPMethod != "" {
		m["span.attributes.http@method"] = d.HTTPMethod
	}
	if d.HasCust {
		c := map[string]any{"name": "n"}
		if d.EmailNull {
			c["email"] = nil
		} else if d.Email != "" {
			c["email"] = d.Email
		}
		orders := make([]any, 0, len(d.Orders))
		for _, o := range d.Orders {
			var total any = o.Total
			if d.TotalRaw {
				total = int64(o.Total)
			}
			orders = append(orders, map[string]any{"id": o.ID, "total": total})
		}
		if len(orders) > 0 {
			c["orders"] = orders
		}
		m["customer"] = c
	}
	return m
}
