package file_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/config"
	_ "github.com/weft-agent/weft/exporters/file"
	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	_ "github.com/weft-agent/weft/plugins/file"
)

// A whole agent graph: the file source reads a JSON-lines file once, the
// file sink splits it by a field; the graph reports done at the end of the
// input, and every line arrives exactly once.
func TestFileToFileThroughTheEngine(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	var sb strings.Builder
	const n = 5000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, `{"i":%d,"ns":"ns%d"}`+"\n", i, i%3)
	}
	sb.WriteString("not json\n")
	if err := os.WriteFile(in, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`
copy:
  workers: 4
  source:
    file:
      path: %q
      format: json
  sink:
    - file:
        path: %q
`, in, filepath.Join(dir, "out", "${/ns}.log"))
	cfg, err := config.Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	g, err := pipelines.Build(cfg, pipelines.Options{Metrics: pipelines.NewMetrics(prometheus.NewRegistry()), Registerer: prometheus.NewRegistry(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the graph did not finish at the end of the file")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if lost := g.Shutdown(ctx); lost != 0 {
		t.Fatalf("%d events lost", lost)
	}
	seen := map[int64]bool{}
	for _, name := range []string{"ns0.log", "ns1.log", "ns2.log", "unknown.log"} {
		f, err := os.Open(filepath.Join(dir, "out", name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			m, err := event.DecodeJSONObject(sc.Bytes())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if name == "unknown.log" {
				if m["message"] != "not json" {
					t.Errorf("unknown.log holds %v", m)
				}
				continue
			}
			i := m["i"].(int64)
			if seen[i] || name != fmt.Sprintf("ns%d.log", i%3) {
				t.Errorf("line %d duplicated or in %s", i, name)
			}
			seen[i] = true
		}
		f.Close()
	}
	if len(seen) != n {
		t.Fatalf("%d of %d lines arrived", len(seen), n)
	}
}
