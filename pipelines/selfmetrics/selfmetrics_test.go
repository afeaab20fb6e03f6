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

// TestEveryStops checks that Every reads on its interval, and that closing
// stop both ends the loop and cancels a reading that is blocked.
func TestEveryStops(t *testing.T) {
	stop := make(chan struct{})
	reads := make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(stop, time.Millisecond, func(ctx context.Context) {
			reads <- struct{}{}
			<-ctx.Done() // blocked, like a write into a full buffer
		})
	}()
	select {
	case <-reads:
	case <-time.After(5 * time.Second):
		t.Fatal("no reading")
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return after stop, or did not cancel the blocked reading")
	}
}
