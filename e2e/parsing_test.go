package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The reference log pipeline's grok (COMMONAPACHELOG) on the Apache fixture,
// and Docker json-file lines tailed from a container log directory, through
// the built binary.
func TestApacheGrokAndDockerTail(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "containers")
	os.MkdirAll(logs, 0o755)
	docker, err := os.ReadFile(fixture("docker-json.log"))
	if err != nil {
		t.Fatal(err)
	}
	name := "payment-7d9f8c6b5-x2k4p_shop_payment-" + strings.Repeat("ab", 32) + ".log"
	writeFile(t, filepath.Join(logs, name), string(docker))
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
apache:
  delay: 20
  source: {file: {path: %q}}
  processor:
    - grok:
        match:
          message: ["%%{COMMONAPACHELOG}"]
  sink: [file: {path: %q}]
containers:
  delay: 20
  source:
    tail: {paths: [%q], read_from_head: true, db: %q, poll_interval: 50ms}
  processor:
    - trace_context:
  sink: [file: {path: %q}]
`, fixture("apache-common.log"), filepath.Join(dir, "apache.ndjson"), filepath.Join(logs, "*.log"), filepath.Join(dir, "tail.db"), filepath.Join(dir, "docker.ndjson")))
	p := startWeft(t, cfg, nil)
	p.waitReady(10 * time.Second)
	dockerLines := strings.Count(string(docker), "\n")
	eventually(t, 15*time.Second, "tailed docker lines", func() bool { return countLines(filepath.Join(dir, "docker.ndjson")) == dockerLines })
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}

	// Expected values from a plain split of each Apache line.
	apache, _ := os.ReadFile(fixture("apache-common.log"))
	lines := strings.Split(strings.TrimSpace(string(apache)), "\n")
	docs := readNDJSON(t, filepath.Join(dir, "apache.ndjson"))
	if len(docs) != len(lines) {
		t.Fatalf("%d apache documents, want %d", len(docs), len(lines))
	}
	for i, line := range lines {
		f := strings.Fields(line)
		d := docs[i]
		want := map[string]string{"clientip": f[0], "auth": f[2], "verb": strings.TrimPrefix(f[5], `"`), "request": f[6], "response": f[8], "bytes": f[9]}
		for k, v := range want {
			if got := fmt.Sprint(d[k]); got != v {
				t.Errorf("line %d: %s = %q, want %q (doc %v)", i+1, k, got, v, d)
			}
		}
		if ts := strings.Trim(f[3]+" "+f[4], "[]"); d["timestamp"] != ts {
			t.Errorf("line %d: timestamp %v, want %q", i+1, d["timestamp"], ts)
		}
	}

	tailed := readNDJSON(t, filepath.Join(dir, "docker.ndjson"))
	for _, d := range tailed {
		msg, _ := d["message"].(string)
		if strings.HasSuffix(msg, "\n") || (d["stream"] != "stdout" && d["stream"] != "stderr") || msg == "" {
			t.Errorf("docker line not unwrapped: %v", d)
		}
		k, _ := d["kubernetes"].(map[string]any)
		if k["pod_name"] != "payment-7d9f8c6b5-x2k4p" || k["namespace_name"] != "shop" || k["container_name"] != "payment" {
			t.Errorf("kubernetes metadata from the file name: %v", k)
		}
		if strings.Contains(msg, "trace_id=") {
			if tid, _ := d["traceId"].(string); len(tid) != 32 {
				t.Errorf("trace context not extracted: %v", d)
			}
		}
	}
}
