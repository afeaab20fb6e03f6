package e2e

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// weft exports its own spans (startup, reload, shutdown) to an OTLP/HTTP
// endpoint when telemetry is configured.
func TestSelfTelemetrySpans(t *testing.T) {
	var mu sync.Mutex
	spans := map[string]string{} // name → service.name
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = gz
		}
		data, _ := io.ReadAll(body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			svc := ""
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					svc = a.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans[s.Name] = svc
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	defer collector.Close()

	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	writeFile(t, in, "x\n")
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
weft:
  telemetry:
    traces: {endpoint: %q, protocol: http, insecure: true}
p:
  source: {file: {path: %q, mode: follow}}
  sink: [blackhole: ]
`, strings.TrimPrefix(collector.URL, "http://"), in))
	p := startWeft(t, cfg, nil)
	p.waitReady(10 * time.Second)
	p.signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, "reload", func() bool { return p.metric("weft_config_reloads_total") == 1 })
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"weft.startup", "weft.reload", "weft.shutdown", "weft.sink.write"} {
		if svc, ok := spans[name]; !ok || svc != "weft" {
			t.Errorf("span %q not exported with service.name=weft (got %v)", name, spans)
		}
	}
}
