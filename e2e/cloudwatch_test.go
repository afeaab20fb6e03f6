//go:build integration

// Integration tests of the cloudwatch_logs sink against a CloudWatch Logs
// emulator (moto in server mode, test/cloudwatch/start.sh), through the
// built binary; events are read back with the real AWS SDK client. They
// need WEFT_CLOUDWATCH_ENDPOINT and fail without it: scripts/test.sh starts
// the emulator and sets it.
//
//	WEFT_CLOUDWATCH_ENDPOINT=$(test/cloudwatch/start.sh) go test -race -count=1 -tags integration -run CloudWatch ./e2e/
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// cwEndpoint is the emulator's URL; the tests fail (never skip) without it.
func cwEndpoint(t *testing.T) string {
	t.Helper()
	u := strings.TrimRight(os.Getenv("WEFT_CLOUDWATCH_ENDPOINT"), "/")
	if u == "" {
		t.Fatal("WEFT_CLOUDWATCH_ENDPOINT is not set: run `URL=$(test/cloudwatch/start.sh)` and export WEFT_CLOUDWATCH_ENDPOINT=$URL (scripts/test.sh does both)")
	}
	return u
}

// cwEnv is the environment of the weft child: static test credentials,
// us-east-1, and nothing else from the machine's AWS setup.
var cwEnv = []string{
	"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=",
	"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_PROFILE=",
	"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
}

// cwClient is the real SDK client, pointed at the emulator, for reading back.
func cwClient(t *testing.T, endpoint string) *cloudwatchlogs.Client {
	t.Helper()
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

func cwRunID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cwStartWeft runs `weft run -c config` with the test's AWS environment.
func cwStartWeft(t *testing.T, configPath string) *agentProc {
	t.Helper()
	admin := freeAddr(t)
	cmd := exec.Command(weftBin, "run", "--admin", admin, "--data-dir", t.TempDir(), "-c", configPath)
	cmd.Env = append(os.Environ(), cwEnv...)
	p := &agentProc{t: t, cmd: cmd, admin: admin, stdout: &safeBuffer{}, stderr: &safeBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			s := p.stderr.String()
			if len(s) > 6000 {
				s = "…" + s[len(s)-6000:]
			}
			t.Logf("weft stderr (end):\n%s", s)
		}
	})
	p.waitReady(30 * time.Second)
	return p
}

func (p *agentProc) cwStop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	if code := p.wait(60 * time.Second); code != 0 {
		p.t.Fatalf("weft exited with %d", code)
	}
}

// cwPipeline is a pipeline from a JSON-lines file into one cloudwatch_logs
// sink with the given options (YAML, indented by the function).
func cwPipeline(name, in, endpoint, sinkOpts string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.Trim(sinkOpts, "\n"), "\n") {
		b.WriteString("        " + l + "\n")
	}
	return fmt.Sprintf(`
%s:
  delay: 20
  source:
    file: {path: %q, format: json, mode: follow, poll_interval: 50ms, batch_size: 500}
  sink:
    - cloudwatch_logs:
        endpoint: %q
        aws: {region: us-east-1}
%s`, name, in, endpoint, b.String())
}

// fixtureRecords reads the Fluent Bit http payload fixture: records with a
// `date` (epoch seconds, 2025-11-23) and kubernetes metadata.
func cwFixtureRecords(t *testing.T) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(fixture("fluentbit-http-payload.json"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("no records in the fixture")
	}
	return recs
}

// cwFixtureBase is the time the fixtures are dated at.
var cwFixtureBase = time.Date(2025, 11, 23, 8, 0, 0, 0, time.UTC)

// shifted returns a copy of rec whose `date` is moved by the same offset
// as base → at, so that fixture times become recent.
func cwShifted(rec map[string]any, at time.Time) map[string]any {
	out := make(map[string]any, len(rec)+4)
	for k, v := range rec {
		out[k] = v
	}
	orig := time.Unix(0, int64(rec["date"].(float64)*1e9))
	t := at.Add(orig.Sub(cwFixtureBase))
	out["date"] = float64(t.UnixMilli()) / 1000
	return out
}

func cwWithPod(rec map[string]any, pod string) map[string]any {
	k := map[string]any{}
	for kk, v := range rec["kubernetes"].(map[string]any) {
		k[kk] = v
	}
	k["pod_name"] = pod
	rec["kubernetes"] = k
	return rec
}

func cwNDJSON(t *testing.T, recs []map[string]any) string {
	t.Helper()
	var b strings.Builder
	for _, r := range recs {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// getAll reads a stream from its head with GetLogEvents, page by page.
func cwGetAll(t *testing.T, cl *cloudwatchlogs.Client, group, stream string) []types.OutputLogEvent {
	t.Helper()
	var out []types.OutputLogEvent
	var token *string
	for page := 0; page < 1000; page++ {
		resp, err := cl.GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
			StartFromHead: aws.Bool(true), NextToken: token, Limit: aws.Int32(10000),
		})
		if err != nil {
			t.Fatalf("GetLogEvents %s/%s: %v", group, stream, err)
		}
		out = append(out, resp.Events...)
		if len(resp.Events) == 0 || resp.NextForwardToken == nil || (token != nil && *token == *resp.NextForwardToken) {
			break
		}
		token = resp.NextForwardToken
	}
	return out
}

// filterAll reads a whole group with FilterLogEvents, page by page.
func cwFilterAll(t *testing.T, cl *cloudwatchlogs.Client, group string) []types.FilteredLogEvent {
	t.Helper()
	var out []types.FilteredLogEvent
	var token *string
	for page := 0; page < 1000; page++ {
		resp, err := cl.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String(group), NextToken: token,
		})
		if err != nil {
			t.Fatalf("FilterLogEvents %s: %v", group, err)
		}
		out = append(out, resp.Events...)
		if resp.NextToken == nil || *resp.NextToken == "" {
			break
		}
		token = resp.NextToken
	}
	return out
}

func cwStreamNames(t *testing.T, cl *cloudwatchlogs.Client, group string) []string {
	t.Helper()
	resp, err := cl.DescribeLogStreams(context.Background(), &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
	if err != nil {
		t.Fatalf("DescribeLogStreams %s: %v", group, err)
	}
	var names []string
	for _, s := range resp.LogStreams {
		names = append(names, aws.ToString(s.LogStreamName))
	}
	sort.Strings(names)
	return names
}

const cwSinkLabel = `component="sink/0/cloudwatch_logs"`

// 1. Container Insights naming from templates: one group per cluster
// (created with its retention), one stream per pod, created through weft;
// every event read back, in time order, with the fixture's message.
func TestCloudWatchContainerInsightsGroupsAndStreams(t *testing.T) {
	t.Parallel()
	ep := cwEndpoint(t)
	cl := cwClient(t, ep)
	cluster := "e2e-" + cwRunID()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	pods := []string{"payment-7d9f8c6b5-x2k4p", "payment-7d9f8c6b5-q8w1z", "order-5c4b3a2-mn7r"}
	const perPod = 200
	now := time.Now().Add(-10 * time.Minute)
	recs := cwFixtureRecords(t)
	var lines []map[string]any
	for i := 0; i < perPod; i++ {
		for _, pod := range pods {
			r := cwWithPod(cwShifted(recs[i%len(recs)], now.Add(time.Duration(i/len(recs))*10*time.Second)), pod)
			r["cluster"] = cluster
			r["log"] = fmt.Sprintf("%s seq=%04d %s", pod, i, strings.TrimRight(r["log"].(string), "\n"))
			lines = append(lines, r)
		}
	}
	// Each pipeline batch holds the events out of time order: the sink sorts.
	for i := 0; i+1 < len(lines); i += 2 {
		lines[i], lines[i+1] = lines[i+1], lines[i]
	}
	writeFile(t, in, cwNDJSON(t, lines))
	cfg := filepath.Join(dir, "weft.yaml")
	writeFile(t, cfg, cwPipeline("ci", in, ep, `
log_group: "/aws/containerinsights/${cluster}/application"
log_stream: "${/kubernetes/namespace_name}_${/kubernetes/pod_name}_${/kubernetes/container_name}"
log_group_retention_days: 7
message: /log
timestamp_field: /date
dlq_file: `+filepath.Join(dir, "dlq.ndjson")+`
threshold: {log_send_interval: 100ms}
`))
	p := cwStartWeft(t, cfg)
	total := float64(perPod * len(pods))
	eventually(t, 60*time.Second, "every event sent", func() bool {
		return p.metric("weft_cloudwatch_events_total", `result="sent"`) >= total
	})
	if v := p.metric("weft_component_events_failed_total", cwSinkLabel); v != 0 {
		t.Fatalf("%v events failed", v)
	}
	p.cwStop()

	group := "/aws/containerinsights/" + cluster + "/application"
	groups, err := cl.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups.LogGroups) != 1 || aws.ToInt32(groups.LogGroups[0].RetentionInDays) != 7 {
		t.Fatalf("log groups %+v: want %s with a 7-day retention", groups.LogGroups, group)
	}
	var want []string
	for _, pod := range pods {
		want = append(want, "shop_"+pod+"_payment")
	}
	sort.Strings(want)
	if got := cwStreamNames(t, cl, group); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("streams %v, want %v", got, want)
	}
	for _, pod := range pods {
		evs := cwGetAll(t, cl, group, "shop_"+pod+"_payment")
		if len(evs) != perPod {
			t.Fatalf("%s: %d events, want %d", pod, len(evs), perPod)
		}
		for i, e := range evs {
			msg := aws.ToString(e.Message)
			if !strings.HasPrefix(msg, fmt.Sprintf("%s seq=%04d ", pod, i)) || !strings.Contains(msg, "[paymentService]") {
				t.Fatalf("%s: event %d is %q: not the fixture line, or out of order", pod, i, msg)
			}
			if i > 0 && aws.ToInt64(e.Timestamp) < aws.ToInt64(evs[i-1].Timestamp) {
				t.Fatalf("%s: event %d goes back in time", pod, i)
			}
		}
		// The shifted fixture time, not the time the file was read.
		first := time.UnixMilli(aws.ToInt64(evs[0].Timestamp))
		if d := first.Sub(now); d < -time.Second || d > time.Second {
			t.Fatalf("%s: first timestamp %v, want the shifted fixture time %v", pod, first, now)
		}
	}
}

// 2. 25,000 events arrive complete; the PutLogEvents limits make several
// calls; an event over 256 KiB is truncated at a UTF-8 boundary, or
// dead-lettered with oversize_events: dead_letter.
func TestCloudWatchBatchingLimitsAndOversize(t *testing.T) {
	t.Parallel()
	ep := cwEndpoint(t)
	cl := cwClient(t, ep)
	run := cwRunID()
	dir := t.TempDir()
	in := filepath.Join(dir, "many.ndjson")
	big := filepath.Join(dir, "big.ndjson")
	const n = 25000
	base := time.Now().Add(-30 * time.Minute)
	recs := cwFixtureRecords(t)
	var b strings.Builder
	for i := 0; i < n; i++ {
		r := cwShifted(recs[i%len(recs)], base)
		// One event every 50 ms, in id order.
		r["date"] = float64(base.Add(time.Duration(i)*50*time.Millisecond).UnixMilli()) / 1000
		r["id"] = fmt.Sprintf("ev-%05d", i)
		line, _ := json.Marshal(r)
		b.Write(line)
		b.WriteByte('\n')
	}
	writeFile(t, in, b.String())
	// 300 KiB of 3-byte runes, and a small event after it.
	huge := strings.Repeat("€", 300*1024/3)
	writeFile(t, big, cwNDJSON(t, []map[string]any{{"id": "huge", "log": huge}, {"id": "small", "log": "small line"}}))
	dlq := filepath.Join(dir, "dlq.ndjson")
	cfg := filepath.Join(dir, "weft.yaml")
	group := "/weft/e2e/" + run
	writeFile(t, cfg, cwPipeline("many", in, ep, `
log_group: "`+group+`"
log_stream: many
timestamp_field: /date
max_buffered: 30000
threshold: {log_send_interval: 200ms}
`)+cwPipeline("big-truncate", big, ep, `
log_group: "`+group+`"
log_stream: big-truncate
message: /log
`)+cwPipeline("big-dead", big, ep, `
log_group: "`+group+`"
log_stream: big-dead
message: /log
oversize_events: dead_letter
dlq_file: `+dlq+`
`))
	p := cwStartWeft(t, cfg)
	eventually(t, 120*time.Second, "25,000 + 3 events sent", func() bool {
		return p.metric("weft_cloudwatch_events_total", `result="sent"`) >= n+3
	})
	calls := p.metric("weft_cloudwatch_calls_total", `pipeline="many"`, `operation="PutLogEvents"`, `result="success"`)
	if calls < 3 {
		t.Fatalf("%v successful PutLogEvents calls for 25,000 events, want at least 3", calls)
	}
	if v := p.metric("weft_cloudwatch_events_total", `pipeline="big-truncate"`, `result="truncated"`); v != 1 {
		t.Fatalf("truncated %v, want 1", v)
	}
	if v := p.metric("weft_cloudwatch_dead_letters_total", `pipeline="big-dead"`, `reason="event_too_large"`); v != 1 {
		t.Fatalf("event_too_large %v, want 1", v)
	}
	if v := p.metric("weft_cloudwatch_bytes_total", `pipeline="many"`); v <= 1048576*3 {
		t.Fatalf("bytes_total %v: 25,000 events of ~300 bytes are more than 3 MiB", v)
	}
	p.cwStop()

	evs := cwGetAll(t, cl, group, "many")
	if len(evs) != n {
		t.Fatalf("%d events read back, want %d", len(evs), n)
	}
	seen := make(map[string]bool, n)
	for i, e := range evs {
		var m map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(e.Message)), &m); err != nil {
			t.Fatalf("event %d is not the event as JSON: %v", i, err)
		}
		id, _ := m["id"].(string)
		if seen[id] {
			t.Fatalf("%s twice", id)
		}
		seen[id] = true
		if want := fmt.Sprintf("ev-%05d", i); id != want {
			t.Fatalf("event %d is %s, want %s (time order)", i, id, want)
		}
	}

	tr := cwGetAll(t, cl, group, "big-truncate")
	if len(tr) != 2 {
		t.Fatalf("big-truncate: %d events", len(tr))
	}
	msg := aws.ToString(tr[0].Message)
	if msg == "small line" {
		msg = aws.ToString(tr[1].Message)
	}
	if len(msg)+26 > 256*1024 || len(msg) < 256*1024-26-3 || !utf8.ValidString(msg) || !strings.HasPrefix(huge, msg) {
		t.Fatalf("truncated message: %d bytes, valid UTF-8 %v, prefix %v", len(msg), utf8.ValidString(msg), strings.HasPrefix(huge, msg))
	}
	dead := cwGetAll(t, cl, group, "big-dead")
	if len(dead) != 1 || aws.ToString(dead[0].Message) != "small line" {
		t.Fatalf("big-dead stream holds %d events", len(dead))
	}
	d := readNDJSON(t, dlq)
	if len(d) != 1 || d[0]["error"].(map[string]any)["type"] != "event_too_large" || d[0]["log_stream"] != "big-dead" ||
		d[0]["document"].(map[string]any)["log"] != huge {
		t.Fatalf("dead letters: %d, first %v", len(d), cwShort(d))
	}
}

func cwShort(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// 3. Events 15 days old and 3 hours ahead are dead-lettered with the
// reason; the others are delivered.
func TestCloudWatchTimeWindowRejections(t *testing.T) {
	t.Parallel()
	ep := cwEndpoint(t)
	cl := cwClient(t, ep)
	run := cwRunID()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	recs := cwFixtureRecords(t)
	now := time.Now()
	var lines []map[string]any
	for i, at := range []time.Time{now.Add(-15 * 24 * time.Hour), now.Add(-time.Minute), now.Add(-13 * 24 * time.Hour), now.Add(3 * time.Hour), now, now.Add(time.Hour)} {
		r := cwShifted(recs[i%len(recs)], at)
		r["id"] = fmt.Sprint("w", i)
		lines = append(lines, r)
	}
	writeFile(t, in, cwNDJSON(t, lines))
	dlq := filepath.Join(dir, "dlq.ndjson")
	cfg := filepath.Join(dir, "weft.yaml")
	group := "/weft/e2e/window-" + run
	writeFile(t, cfg, cwPipeline("window", in, ep, `
log_group: "`+group+`"
log_stream: "${/kubernetes/pod_name}"
timestamp_field: /date
dlq_file: `+dlq+`
threshold: {log_send_interval: 100ms}
`))
	p := cwStartWeft(t, cfg)
	eventually(t, 60*time.Second, "6 events finalized", func() bool {
		return p.metric("weft_cloudwatch_events_total", `result="sent"`)+p.metric("weft_cloudwatch_events_total", `result="dead_lettered"`) >= 6
	})
	if p.metric("weft_cloudwatch_dead_letters_total", `reason="too_old"`) != 1 || p.metric("weft_cloudwatch_dead_letters_total", `reason="too_new"`) != 1 {
		t.Fatal("too_old / too_new not counted once each")
	}
	if v := p.metric("weft_component_events_failed_total", cwSinkLabel, `reason="dead_letter"`); v != 2 {
		t.Fatalf("dead_letter failures %v", v)
	}
	p.cwStop()
	evs := cwGetAll(t, cl, group, "payment-7d9f8c6b5-x2k4p")
	var ids []string
	for _, e := range evs {
		var m map[string]any
		json.Unmarshal([]byte(aws.ToString(e.Message)), &m)
		ids = append(ids, fmt.Sprint(m["id"]))
	}
	if fmt.Sprint(ids) != "[w2 w1 w4 w5]" {
		t.Fatalf("delivered %v, want [w2 w1 w4 w5] in time order", ids)
	}
	got := map[string]string{}
	for _, d := range readNDJSON(t, dlq) {
		e := d["error"].(map[string]any)
		got[fmt.Sprint(d["document"].(map[string]any)["id"])] = fmt.Sprint(e["type"], ": ", e["reason"])
	}
	if !strings.HasPrefix(got["w0"], "too_old: ") || !strings.Contains(got["w0"], "14 days") ||
		!strings.HasPrefix(got["w3"], "too_new: ") || !strings.Contains(got["w3"], "2 hours") || len(got) != 2 {
		t.Fatalf("dead letters %v", got)
	}
}

// cwProxy is a fault-injecting HTTP proxy (loopback only) in front of the
// emulator. While failing it answers PutLogEvents with ThrottlingException
// or 503 without forwarding; it checks every PutLogEvents request against
// the API's rules and that no two calls for one stream overlap.
type cwProxy struct {
	t      *testing.T
	srv    *httptest.Server
	rp     *httputil.ReverseProxy
	mu     sync.Mutex
	faults int // PutLogEvents calls still to fail
	n      int // PutLogEvents calls seen
	failed map[string]int
	active map[string]int
	broken []string
}

func newCWProxy(t *testing.T, target string, faults int) *cwProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &cwProxy{t: t, rp: httputil.NewSingleHostReverseProxy(u), faults: faults, failed: map[string]int{}, active: map[string]int{}}
	p.srv = httptest.NewServer(p) // 127.0.0.1
	t.Cleanup(p.srv.Close)
	return p
}

func (p *cwProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutLogEvents") {
		p.rp.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
		LogEvents     []struct {
			Timestamp int64  `json:"timestamp"`
			Message   string `json:"message"`
		} `json:"logEvents"`
	}
	json.Unmarshal(body, &req)
	key := req.LogGroupName + "/" + req.LogStreamName
	size := 0
	var broken []string
	for i, e := range req.LogEvents {
		size += len(e.Message) + 26
		if i > 0 && e.Timestamp < req.LogEvents[i-1].Timestamp {
			broken = append(broken, "events not in chronological order")
		}
		if len(e.Message)+26 > 256*1024 {
			broken = append(broken, "event over 256 KiB")
		}
	}
	if n := len(req.LogEvents); n == 0 || n > 10000 || size > 1048576 ||
		req.LogEvents[n-1].Timestamp-req.LogEvents[0].Timestamp >= (24*time.Hour).Milliseconds() {
		broken = append(broken, fmt.Sprintf("call of %d events, %d bytes breaks the limits", n, size))
	}
	p.mu.Lock()
	p.n++
	p.broken = append(p.broken, broken...)
	p.active[key]++
	if p.active[key] > 1 {
		p.broken = append(p.broken, "two concurrent PutLogEvents calls for "+key)
	}
	fail := p.faults > 0
	if fail {
		p.faults--
	}
	n := p.n
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.active[key]--
		p.mu.Unlock()
	}()
	if fail {
		time.Sleep(5 * time.Millisecond)
		p.mu.Lock()
		if n%2 == 1 {
			p.failed["throttle"]++
		} else {
			p.failed["503"]++
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if n%2 == 1 {
			w.Header().Set("X-Amzn-Errortype", "ThrottlingException")
			w.WriteHeader(400)
			w.Write([]byte(`{"__type":"ThrottlingException","message":"Rate exceeded"}`))
		} else {
			w.Header().Set("X-Amzn-Errortype", "ServiceUnavailableException")
			w.WriteHeader(503)
			w.Write([]byte(`{"__type":"ServiceUnavailableException","message":"The server failed to process the request"}`))
		}
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	p.rp.ServeHTTP(w, r)
}

// 4. Throttling and 503 for a while: nothing lost, nothing duplicated
// (every event's unique id read back exactly once), retries counted, and
// every call the proxy saw within the PutLogEvents rules.
func TestCloudWatchRetriesThroughFaultyProxyNothingLostNothingDuplicated(t *testing.T) {
	t.Parallel()
	ep := cwEndpoint(t)
	cl := cwClient(t, ep)
	const faults = 12
	proxy := newCWProxy(t, ep, faults)
	run := cwRunID()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	recs := cwFixtureRecords(t)
	pods := []string{"web-1", "web-2", "web-3", "web-4"}
	const n = 6000
	base := time.Now().Add(-5 * time.Minute)
	var lines []map[string]any
	for i := 0; i < n; i++ {
		r := cwWithPod(cwShifted(recs[i%len(recs)], base.Add(time.Duration(i)*20*time.Millisecond)), pods[i%len(pods)])
		r["id"] = fmt.Sprintf("%s-%05d", run, i)
		lines = append(lines, r)
	}
	writeFile(t, in, cwNDJSON(t, lines))
	cfg := filepath.Join(dir, "weft.yaml")
	group := "/weft/e2e/faults-" + run
	writeFile(t, cfg, cwPipeline("faults", in, proxy.srv.URL, `
log_group: "`+group+`"
log_stream: "${/kubernetes/pod_name}"
timestamp_field: /date
max_inflight: 4
threshold: {batch_size: 500, log_send_interval: 50ms, retry_count: 30, back_off_time: 20ms, max_back_off_time: 300ms}
`))
	p := cwStartWeft(t, cfg)
	eventually(t, 120*time.Second, "every event sent", func() bool {
		return p.metric("weft_cloudwatch_events_total", `result="sent"`) >= n
	})
	retries := p.metric("weft_cloudwatch_retries_total")
	throttles := p.metric("weft_cloudwatch_throttles_total")
	failedCalls := p.metric("weft_cloudwatch_calls_total", `operation="PutLogEvents"`, `result="throttled"`) +
		p.metric("weft_cloudwatch_calls_total", `operation="PutLogEvents"`, `result="server_error"`)
	if v := p.metric("weft_component_events_failed_total", cwSinkLabel); v != 0 {
		t.Fatalf("%v events failed", v)
	}
	p.cwStop()

	proxy.mu.Lock()
	broken, seenThrottle, seen503 := proxy.broken, proxy.failed["throttle"], proxy.failed["503"]
	left := proxy.faults
	proxy.mu.Unlock()
	if len(broken) > 0 {
		t.Fatalf("%d broken rules, first: %s", len(broken), broken[0])
	}
	if left != 0 || seenThrottle == 0 || seen503 == 0 {
		t.Fatalf("faults not all injected: %d left, %d throttles, %d 503s", left, seenThrottle, seen503)
	}
	if retries < faults || throttles != float64(seenThrottle) || failedCalls != faults {
		t.Fatalf("retries %v, throttles %v, failed calls %v; want ≥ %d retries, %d throttles, %d failed calls", retries, throttles, failedCalls, faults, seenThrottle, faults)
	}
	count := map[string]int{}
	for _, e := range cwFilterAll(t, cl, group) {
		var m map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(e.Message)), &m); err != nil {
			t.Fatalf("message %q: %v", aws.ToString(e.Message), err)
		}
		count[fmt.Sprint(m["id"])]++
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s-%05d", run, i)
		if count[id] != 1 {
			t.Fatalf("%s read back %d times, want exactly once", id, count[id])
		}
	}
	if len(count) != n {
		t.Fatalf("%d distinct ids, want %d", len(count), n)
	}
	for _, pod := range pods {
		if got := len(cwGetAll(t, cl, group, pod)); got != n/len(pods) {
			t.Fatalf("%s: %d events, want %d", pod, got, n/len(pods))
		}
	}
}
