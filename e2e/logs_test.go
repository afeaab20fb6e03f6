package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Fluent Bit's http output → weft's http source → trace_context → mask →
// file, through the built binary.
func TestFluentBitHTTPToFile(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
log-pipeline:
  delay: 20
  source:
    http:
      host: %s
      port: %s
      authentication:
        http_basic: {username: fluent, password: "${FB_PASSWORD}"}
  processor:
    - trace_context:
        message_keys: [log]
    - mask:
        key: "${MASK_KEY}"
  sink:
    - file: {path: %q}
`, host, port, filepath.Join(dir, "out.ndjson")))
	p := startWeftEnv(t, cfg, []string{"FB_PASSWORD=pw", "MASK_KEY=k1"})
	p.waitReady(10 * time.Second)
	payload, err := os.ReadFile(fixture("fluentbit-http-payload.json"))
	if err != nil {
		t.Fatal(err)
	}
	// one more record with personal data, to see it masked before it leaves
	payload = append(bytes.TrimSuffix(bytes.TrimSpace(payload), []byte("]")),
		[]byte(`,{"date":1763884810.5,"log":"login ok for gwen.miller@example.com","kubernetes":{"pod_name":"web-1"}}]`)...)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(payload)
	w.Close()
	req, _ := http.NewRequest("POST", "http://"+addr+"/log/ingest", &gz)
	req.Header.Set("Content-Encoding", "gzip")
	req.SetBasicAuth("fluent", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// without credentials: 401, counted
	resp, err = http.Post("http://"+addr+"/log/ingest", "application/json", strings.NewReader(`[{}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unauthenticated status %d", resp.StatusCode)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	docs := readNDJSON(t, filepath.Join(dir, "out.ndjson"))
	records := strings.Count(string(payload), `"date"`)
	if len(docs) != records {
		t.Fatalf("%d documents, want %d", len(docs), records)
	}
	traceRe := regexp.MustCompile(`trace_id=([0-9a-f]{32}) span_id=([0-9a-f]{16})`)
	withContext := 0
	for _, d := range docs {
		log, _ := d["log"].(string)
		if m := traceRe.FindStringSubmatch(log); m != nil {
			withContext++
			if d["traceId"] != m[1] || d["spanId"] != m[2] {
				t.Errorf("traceId/spanId %v/%v, want %s/%s", d["traceId"], d["spanId"], m[1], m[2])
			}
		}
		if regexp.MustCompile(`[\w.]+@[\w.]+\.\w+`).MatchString(log) {
			t.Errorf("an e-mail address left the node unmasked: %s", log)
		}
		if _, ok := d["kubernetes"].(map[string]any)["pod_name"]; !ok {
			t.Errorf("kubernetes metadata lost: %v", d)
		}
	}
	if withContext == 0 {
		t.Fatal("the fixture should carry trace context")
	}
	mac := hmac.New(sha256.New, []byte("k1"))
	mac.Write([]byte("gwen.miller@example.com"))
	if want := "login ok for " + hex.EncodeToString(mac.Sum(nil)); docs[len(docs)-1]["log"] != want {
		t.Errorf("masked log = %q, want %q (keyed HMAC-SHA-256)", docs[len(docs)-1]["log"], want)
	}
}

// startWeftEnv is startWeft with extra environment variables (the child
// inherits the test's environment).
func startWeftEnv(t *testing.T, configPath string, env []string) *agentProc {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return startWeft(t, configPath, nil)
}
