package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoCmd prepares `weft demo` in a fresh working directory with free
// ports, as a newcomer runs it (no --data-dir: ./weft-data).
func demoCmd(t *testing.T, args ...string) (cmd *exec.Cmd, dir string, stdout, stderr *safeBuffer) {
	t.Helper()
	defaultPorts(t)
	t.Setenv("MASK_KEY", "")
	dir = t.TempDir()
	cmd = exec.Command(weftBin, append([]string{"demo", "--admin", freeAddr(t), "--interval", "1s"}, args...)...)
	cmd.Dir = dir
	stdout, stderr = &safeBuffer{}, &safeBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("weft demo stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	return cmd, dir, stdout, stderr
}

// `weft demo --duration`: exits 0 after printing live and final summaries,
// and ./weft-data holds correlated, masked logs, failed payments included.
func TestDemo(t *testing.T) {
	code, help, _ := runWeft(t, nil, "demo", "--help")
	for _, flag := range []string{"--duration", "--rate", "--failures", "--interval", "--seed", "--data-dir", "--admin", "WEFT_OTLP_GRPC_PORT"} {
		if code != 0 || !strings.Contains(help, flag) {
			t.Fatalf("weft demo --help (exit %d) does not document %s:\n%s", code, flag, help)
		}
	}
	if code, _, stderr := runWeft(t, nil, "demo", "--rate", "0"); code != 2 || !strings.Contains(stderr, "--rate") {
		t.Fatalf("--rate 0: exit %d: %s", code, stderr)
	}
	cmd, dir, stdout, _ := demoCmd(t, "--duration", "5s", "--rate", "8", "--failures", "0.3")
	if err := cmd.Run(); err != nil {
		t.Fatalf("weft demo: %v", err)
	}
	out := stdout.String()
	for _, want := range []string{"events/s  otlp", "logs correlated", "masked", "in+created = out+dropped+failed",
		"weft-data/otel-v1-apm-span-", "weft-data/otel-v1-apm-service-map.ndjson", "weft-data/logs-", `"traceCorrelated": true`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "NO (") || strings.Contains(out, "NOT taken") {
		t.Errorf("events unaccounted for:\n%s", out)
	}
	if regexp.MustCompile(`logs correlated with their trace: (\d+)%`).FindStringSubmatch(out) == nil {
		t.Errorf("no correlated share in the final summary")
	}

	day := time.Now().UTC().Format("2006.01.02")
	logs := readNDJSON(t, filepath.Join(dir, "weft-data", "logs-"+day+".ndjson"))
	spans := readNDJSON(t, filepath.Join(dir, "weft-data", "otel-v1-apm-span-"+day+".ndjson"))
	smap := readNDJSON(t, filepath.Join(dir, "weft-data", "otel-v1-apm-service-map.ndjson"))
	if len(logs) < 100 || len(spans) < 100 || len(smap) == 0 {
		t.Fatalf("%d logs, %d spans, %d service-map documents", len(logs), len(spans), len(smap))
	}
	// The shop's inventory service is instrumented: payment's
	// update_inventory span (peer.service: inventory) pairs with its real
	// server span, and draws no virtual node (whose resource would be
	// update_inventory).
	var toInventory bool
	for _, d := range smap {
		dest, _ := d["destination"].(map[string]any)
		target, _ := d["target"].(map[string]any)
		if dest["resource"] == "update_inventory" || target["resource"] == "update_inventory" {
			t.Errorf("virtual node for an instrumented server: %v", d)
		}
		if d["serviceName"] == "payment" && dest["domain"] == "inventory" && dest["resource"] == "/inventory/reserve" {
			toInventory = true
		}
	}
	if !toInventory {
		t.Errorf("no payment → inventory relationship: %v", smap)
	}
	// The final table is read after the shutdown flush: the service map's
	// last documents are counted as created and sent, as written.
	row := regexp.MustCompile(`(?m)^\s+service-map\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+yes$`).FindStringSubmatch(out)
	if row == nil || row[2] != strconv.Itoa(len(smap)) || row[3] != strconv.Itoa(len(smap)) || row[1] != strconv.Itoa(len(spans)) {
		t.Errorf("service-map row %q; the file holds %d documents from %d spans", row, len(smap), len(spans))
	}

	// The order service's counter: its last points are the final counts.
	counts := regexp.MustCompile(`(\d+) checkouts \((\d+) failed in payment\)`).FindStringSubmatch(out[strings.LastIndex(out, "weft demo: "):])
	if counts == nil {
		t.Fatal("no final counts")
	}
	last := map[string]float64{}
	for _, m := range readNDJSON(t, filepath.Join(dir, "weft-data", "metrics-otel-v1-"+day+".ndjson")) {
		if m["name"] != "shop.checkouts" || m["kind"] != "SUM" || m["serviceName"] != "order" {
			t.Fatalf("metric document: %v", m)
		}
		last[m["metric.attributes.outcome"].(string)] = m["value"].(float64)
	}
	total, _ := strconv.ParseFloat(counts[1], 64)
	failed, _ := strconv.ParseFloat(counts[2], 64)
	if last["failed"] != failed || last["ok"] != total-failed {
		t.Errorf("last metric points %v, final counts %s", last, counts[0])
	}

	failedPayments := map[string]bool{}
	for _, s := range spans {
		st, _ := s["status"].(map[string]any)
		if s["serviceName"] == "payment" && s["name"] == "/checkout" && st["code"] == 2.0 {
			if st["message"] != "Checkout Failed - Service Unavailable" {
				t.Errorf("failed payment span: %v", s)
			}
			failedPayments[s["traceId"].(string)] = true
		}
		if s["traceGroup"] != "client_checkout" {
			t.Fatalf("span without its trace group: %v", s)
		}
	}
	if len(failedPayments) == 0 {
		t.Fatal("no failed payment span")
	}

	email := regexp.MustCompile(`[a-z.]+@example\.(com|org|net)`)
	card := regexp.MustCompile(`\b(4111 1111 1111 1111|5555-5555-5555-4444|4012888888881881|3782 822463 10005|6011 1111 1111 1117)\b`)
	services := map[string]int{}
	correlated, failedLogs := 0, 0
	for _, d := range logs {
		raw := mustJSON(t, d)
		if email.MatchString(raw) || card.MatchString(raw) || strings.Contains(raw, "Bearer eyJ") {
			t.Fatalf("personal data left in a document: %s", raw)
		}
		if d["traceCorrelated"] == true && d["traceGroup"] == "client_checkout" {
			correlated++
		}
		services[d["serviceName"].(string)]++
		if failedPayments[d["traceId"].(string)] {
			if d["traceStatus"] != "error" {
				t.Errorf("log of a failed checkout with traceStatus %v: %s", d["traceStatus"], raw)
			}
			if msg, _ := d["log"].(string); strings.Contains(msg, "Checkout operation failed") && d["serviceName"] == "payment" {
				failedLogs++
			}
		}
	}
	if correlated < len(logs)*9/10 {
		t.Errorf("%d of %d logs correlated", correlated, len(logs))
	}
	for _, svc := range []string{"client", "order", "payment", "inventory"} {
		if services[svc] == 0 {
			t.Errorf("no log of %s: %v", svc, services)
		}
	}
	if failedLogs == 0 {
		t.Error("no correlated log of a failed payment")
	}
}

// Ctrl-C: the demo drains and prints the final summary, exit 0.
func TestDemoStopsOnSIGINT(t *testing.T) {
	cmd, dir, stdout, _ := demoCmd(t, "--rate", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	})
	eventually(t, 30*time.Second, "a live summary", func() bool { return strings.Contains(stdout.String(), "events/s") })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("weft demo after SIGINT: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("weft demo did not stop after SIGINT")
	}
	if !strings.Contains(stdout.String(), "in+created = out+dropped+failed") {
		t.Fatal("no final summary after SIGINT")
	}
	if _, err := os.Stat(filepath.Join(dir, "weft-data", "otel-v1-apm-service-map.ndjson")); err != nil {
		t.Fatalf("service map not written at shutdown: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
