package selfmetrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type host struct{ g prometheus.Gatherer }

func (h host) Gatherer() prometheus.Gatherer { return h.g }

func registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_x_total", Help: "x"})
	c.Add(0.1) // exact through protobuf, not text
	reg.MustRegister(c)
	return reg
}

func TestReadInProcessAndOverHTTP(t *testing.T) {
	reg := registry()
	r := NewReader(host{reg}, "", time.Second)
	if !r.InProcess() {
		t.Fatal("a host with a gatherer is read in process")
	}
	mfs, err := r.Read(context.Background())
	if err != nil || len(mfs) != 1 || mfs[0].GetMetric()[0].GetCounter().GetValue() != 0.1 {
		t.Fatalf("in process: %v %v", mfs, err)
	}
	var accept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		accept = req.Header.Get("Accept")
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, req)
	}))
	defer srv.Close()
	r = NewReader(host{reg}, srv.URL, time.Second) // a URL wins
	mfs, err = r.Read(context.Background())
	if err != nil || r.InProcess() || len(mfs) != 1 || mfs[0].GetMetric()[0].GetCounter().GetValue() != 0.1 {
		t.Fatalf("over HTTP: %v %v", mfs, err)
	}
	if accept != acceptProto {
		t.Errorf("Accept %q", accept)
	}
	if r := NewReader(struct{}{}, "", time.Second); r.url != DefaultURL {
		t.Errorf("no gatherer, no URL: %q", r.url)
	}
	bad := httptest.NewServer(http.NotFoundHandler())
	defer bad.Close()
	if _, err := NewReader(nil, bad.URL, time.Second).Read(context.Background()); err == nil {
		t.Error("HTTP 404 is an error")
	}
}

func TestFilter(t *testing.T) {
	f := Filter{Include: []string{"weft_*", "go_gc_*"}, Exclude: []string{"weft_go_*"}}
	for name, want := range map[string]bool{"weft_span_requests_total": true, "go_gc_duration_seconds": true,
		"go_goroutines": false, "weft_go_x": false, "process_cpu_seconds_total": false} {
		if f.Wanted(name) != want {
			t.Errorf("%s: %v", name, !want)
		}
	}
	if !(Filter{}).Wanted("anything") {
		t.Error("an empty filter passes everything")
	}
	if (Filter{Exclude: []string{"["}}).Check() == nil {
		t.Error("a bad glob is accepted")
	}
}
