package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// A Data Prepper-style pipelines.yaml that uses only implemented plugins.
const dataPrepperStyle = `version: "2"
log-pipeline:
  workers: 2
  delay: "100"
  source:
    file:
      path: "/var/log/app.log"
      format: "json"
  buffer:
    bounded_blocking:
      buffer_size: 1024
      batch_size: 256
  processor:
    - parse_json:
        source: "message"
    - add_entries:
        entries:
          - key: "pipeline"
            value: "logs"
    - drop_events:
        drop_when: '/level == "debug"'
  route:
    - error-logs: '/level == "error"'
  sink:
    - pipeline:
        name: "error-pipeline"
        routes: [error-logs]
    - stdout:
error-pipeline:
  source:
    pipeline:
      name: "log-pipeline"
  sink:
    - file:
        path: "/tmp/errors.ndjson"
`

func TestValidateDataPrepperStyleFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pipelines.yaml")
	writeFile(t, cfg, dataPrepperStyle)
	code, stdout, stderr := runWeft(t, nil, "validate", "-c", cfg)
	if code != 0 {
		t.Fatalf("validate exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "2 pipelines OK") {
		t.Errorf("stdout: %q", stdout)
	}
}

func TestValidateReportsEveryErrorWithPositionAndSuggestion(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pipelines.yaml")
	bad := strings.Replace(dataPrepperStyle, `        source: "message"`, `        sorce: "message"`, 1)
	bad = strings.Replace(bad, `      buffer_size: 1024`, `      buffer_size: -5`, 1)
	bad = strings.Replace(bad, `      name: "log-pipeline"`, `      name: "log-pipelin"`, 1)
	writeFile(t, cfg, bad)
	code, _, stderr := runWeft(t, nil, "validate", "-c", cfg)
	if code != 1 {
		t.Fatalf("validate exit %d, want 1", code)
	}
	for _, want := range []string{
		cfg + `:15:9: pipeline "log-pipeline": processor[0] "parse_json": option "sorce": unknown option "sorce"; did you mean "source"?`,
		cfg + `:11:20: pipeline "log-pipeline": buffer: option "bounded_blocking.buffer_size": -5 is below the minimum 1`,
		cfg + `:31:5: pipeline "error-pipeline": source "pipeline": option "name": no pipeline named "log-pipelin"; did you mean "log-pipeline"?`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("missing:\n%s\nin:\n%s", want, stderr)
		}
	}
}

func TestConfigPrintRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "p.yaml")
	secret := filepath.Join(dir, "token")
	writeFile(t, secret, "tok-123\n")
	writeFile(t, cfg, fmt.Sprintf(`
weft:
  telemetry:
    traces: {endpoint: "${COLLECTOR:-localhost:4317}", headers: {authorization: "Bearer ${file:%s}"}}
p:
  source: {stdin: }
  processor:
    - add_entries: {entries: [{key: k, value: "${file:%s}"}]}
  sink: [stdout: ]
`, secret, secret))
	code, stdout, stderr := runWeft(t, nil, "config", "print", "-c", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "tok-123") {
		t.Fatalf("secret leaked:\n%s", stdout)
	}
	if !strings.Contains(stdout, "localhost:4317") || strings.Count(stdout, "<redacted>") != 2 {
		t.Fatalf("printed config:\n%s", stdout)
	}
}

func TestPluginsCommandListsOptionsFromCode(t *testing.T) {
	code, stdout, _ := runWeft(t, nil, "plugins")
	if code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{"source stdin", "source file", "source pipeline", "processor add_entries", "processor delete_entries",
		"processor rename_keys", "processor copy_values", "processor parse_json", "processor drop_events",
		"sink stdout", "sink file", "sink blackhole", "sink pipeline", "drop_when", "tags_on_failure"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("`weft plugins` lacks %q", want)
		}
	}
	code, md, _ := runWeft(t, nil, "plugins", "--markdown", "parse_json")
	if code != 0 || !strings.Contains(md, "| `source` | string | `message` |") {
		t.Errorf("markdown:\n%s", md)
	}
	if code, _, _ := runWeft(t, nil, "plugins", "nope"); code != 1 {
		t.Errorf("unknown plugin exit %d", code)
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, stdout, _ := runWeft(t, nil, "--help")
	if code != 0 || !strings.Contains(stdout, "weft run [-c PATH]") || !strings.Contains(stdout, "SIGHUP reloads") {
		t.Errorf("help: %d %s", code, stdout)
	}
	code, stdout, _ = runWeft(t, nil, "version")
	if code != 0 || !strings.HasPrefix(stdout, "weft ") {
		t.Errorf("version: %d %s", code, stdout)
	}
	if code, _, stderr := runWeft(t, nil, "frobnicate"); code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %s", code, stderr)
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "p.yaml")
	writeFile(t, cfg, "p:\n  source: {stdn: }\n  sink: [stdout: ]\n")
	code, _, stderr := runWeft(t, nil, "run", "-c", cfg)
	if code != 1 || !strings.Contains(stderr, `p.yaml:2:12: pipeline "p": unknown source plugin "stdn"; did you mean "stdin"?`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
