//go:build integration

// Integration tests of the sink's calls against a CloudWatch Logs emulator
// (moto, test/cloudwatch/start.sh) whose URL is in WEFT_CLOUDWATCH_ENDPOINT;
// they fail when it is unset. The end-to-end tests through the binary are
// in e2e/cloudwatch_test.go.
//
//	WEFT_CLOUDWATCH_ENDPOINT=$(test/cloudwatch/start.sh) go test -tags integration -run CloudWatch ./exporters/cloudwatch/
package cloudwatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/weft-agent/weft/pipelines/event"
)

func emulator(t *testing.T) string {
	t.Helper()
	u := strings.TrimRight(os.Getenv("WEFT_CLOUDWATCH_ENDPOINT"), "/")
	if u == "" {
		t.Fatal("WEFT_CLOUDWATCH_ENDPOINT is not set: run `URL=$(test/cloudwatch/start.sh)` and export WEFT_CLOUDWATCH_ENDPOINT=$URL (scripts/test.sh does both)")
	}
	return u
}

func readerClient(endpoint string) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

func uniqueName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func messages(t *testing.T, cl *cloudwatchlogs.Client, group, stream string) []string {
	t.Helper()
	resp, err := cl.GetLogEvents(context.Background(), &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetLogEvents: %v", err)
	}
	var out []string
	for _, e := range resp.Events {
		out = append(out, aws.ToString(e.Message))
	}
	return out
}

// Groups and streams created through the sink (the group with its
// retention), events read back with the real SDK client.
func TestCloudWatchIntegrationCreatesAndSends(t *testing.T) {
	ep := emulator(t)
	group := uniqueName("/weft/it/")
	s, reg := newSinkAt(t, ep, fmt.Sprintf("log_group: %q\nlog_stream: \"${/pod}\"\nmessage: /msg\nlog_group_retention_days: 14\nthreshold: {log_send_interval: 10ms}\n", group))
	var tr tracked
	now := time.Now()
	var evs []*event.Event
	for i := 0; i < 40; i++ {
		evs = append(evs, tr.event(now.Add(time.Duration(40-i)*time.Millisecond), map[string]any{"pod": fmt.Sprint("pod-", i%2), "msg": fmt.Sprint("m", 40-i)}))
	}
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(context.Background())
	if ok, failed := tr.counts(); ok != 40 || failed != 0 {
		t.Fatalf("delivered %d, failed %d", ok, failed)
	}
	cl := readerClient(ep)
	g, err := cl.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
	if err != nil || len(g.LogGroups) != 1 || aws.ToInt32(g.LogGroups[0].RetentionInDays) != 14 {
		t.Fatalf("DescribeLogGroups: %v, %+v", err, g)
	}
	got := messages(t, cl, group, "pod-0")
	if len(got) != 20 || got[0] != "m2" || got[19] != "m40" {
		t.Fatalf("pod-0: %v", got)
	}
	if v := metric(reg, "weft_cloudwatch_calls_total", "operation", "CreateLogGroup", "result", "success"); v != 1 {
		t.Fatalf("CreateLogGroup calls %v", v)
	}
}

// The emulator's rejectedLogEventsInfo (tooOld, tooNew), through the real
// SDK's decoding: those events are dead-lettered, the rest delivered. The
// sink's own window check is bypassed to let the emulator decide.
func TestCloudWatchIntegrationRejectedLogEventsInfo(t *testing.T) {
	ep := emulator(t)
	group, stream := uniqueName("/weft/it/"), "s"
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	s, _ := newSinkAt(t, ep, fmt.Sprintf("log_group: %q\nlog_stream: %s\nmessage: /k\ndlq_file: %s\n", group, stream, dlq))
	var tr tracked
	now := time.Now()
	items := []item{
		{ev: tr.event(now, nil), msg: "old", ts: now.Add(-15 * 24 * time.Hour).UnixMilli()},
		{ev: tr.event(now, nil), msg: "ok", ts: now.UnixMilli()},
		{ev: tr.event(now, nil), msg: "future", ts: now.Add(3 * time.Hour).UnixMilli()},
	}
	sc := new(putScratch)
	s.put(context.Background(), group, stream, items, sc) // creates the group and stream first
	s.Shutdown(context.Background())
	if ok, failed := tr.counts(); ok != 1 || failed != 2 {
		t.Fatalf("delivered %d, failed %d", ok, failed)
	}
	if got := messages(t, readerClient(ep), group, stream); fmt.Sprint(got) != "[ok]" {
		t.Fatalf("stored %v", got)
	}
	var types []string
	for _, d := range deadLetters(t, dlq) {
		types = append(types, errType(d))
		if r := d["error"].(map[string]any)["reason"].(string); !strings.Contains(r, "CloudWatch Logs rejected") {
			t.Fatalf("reason %q", r)
		}
	}
	if fmt.Sprint(types) != "[too_old too_new]" {
		t.Fatalf("dead-letter types %v", types)
	}
}

// The emulator's InvalidParameterException (events out of order, which the
// sink never sends itself) is dead-lettered after one call, with status 400.
func TestCloudWatchIntegrationInvalidParameter(t *testing.T) {
	ep := emulator(t)
	group, stream := uniqueName("/weft/it/"), "s"
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	s, reg := newSinkAt(t, ep, fmt.Sprintf("log_group: %q\nlog_stream: %s\ndlq_file: %s\n", group, stream, dlq))
	var tr tracked
	now := time.Now()
	items := []item{
		{ev: tr.event(now, nil), msg: "second", ts: now.UnixMilli()},
		{ev: tr.event(now, nil), msg: "first", ts: now.Add(-time.Second).UnixMilli()},
	}
	s.put(context.Background(), group, stream, items, new(putScratch))
	s.Shutdown(context.Background())
	if ok, failed := tr.counts(); ok != 0 || failed != 2 {
		t.Fatalf("delivered %d, failed %d", ok, failed)
	}
	d := deadLetters(t, dlq)
	if len(d) != 2 || errType(d[0]) != "InvalidParameterException" || d[0]["status"].(float64) != 400 {
		t.Fatalf("dead letters %v", d)
	}
	if v := metric(reg, "weft_cloudwatch_calls_total", "operation", "PutLogEvents", "result", "client_error"); v != 1 {
		t.Fatalf("client_error calls %v: an invalid parameter is not retried", v)
	}
}

// create_log_group: false against a missing group: dead-lettered, nothing
// created.
func TestCloudWatchIntegrationMissingGroupNotCreated(t *testing.T) {
	ep := emulator(t)
	group := uniqueName("/weft/it/")
	dlq := filepath.Join(t.TempDir(), "dlq.ndjson")
	s, _ := newSinkAt(t, ep, fmt.Sprintf("log_group: %q\nlog_stream: s\ncreate_log_group: false\ndlq_file: %s\nthreshold: {log_send_interval: 10ms}\n", group, dlq))
	var tr tracked
	s.Write(context.Background(), []*event.Event{tr.event(time.Now(), map[string]any{"a": "b"})})
	s.Shutdown(context.Background())
	if d := deadLetters(t, dlq); len(d) != 1 || errType(d[0]) != "log_group_not_found" {
		t.Fatalf("dead letters %v", d)
	}
	g, err := readerClient(ep).DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(group)})
	if err != nil || len(g.LogGroups) != 0 {
		t.Fatalf("a group was created: %v %+v", err, g)
	}
}
