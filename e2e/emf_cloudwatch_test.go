//go:build integration

// The emf processor through the cloudwatch_logs sink into the moto
// CloudWatch Logs emulator (test/cloudwatch/start.sh; WEFT_CLOUDWATCH_ENDPOINT):
//
//	WEFT_CLOUDWATCH_ENDPOINT=$(test/cloudwatch/start.sh) go test -race -count=1 -tags integration -run CloudWatchEMF ./e2e/
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// TestCloudWatchEMF: span_metrics' series, read by weft_metrics and made
// EMF documents by emf, reach CloudWatch Logs as log events (the group and
// stream created by weft). Read back with GetLogEvents, every message is a
// valid EMF document as it was made (nothing wraps it), stamped with the
// document's own Timestamp, in order, and the deltas add up to what
// /metrics shows, after two exports and after shutdown.
func TestCloudWatchEMF(t *testing.T) {
	endpoint := cwEndpoint(t)
	cl := cwClient(t, endpoint)
	group, stream := "/weft/emf-"+cwRunID(), "metrics"
	dir := t.TempDir()
	otlpAddr := freeAddr(t)
	cfg := filepath.Join(dir, "weft.yaml")
	writeFile(t, cfg, emfConfig(otlpAddr[strings.LastIndexByte(otlpAddr, ':')+1:], fmt.Sprintf(`    - cloudwatch_logs:
        endpoint: %q
        aws: {region: us-east-1}
        log_group: %q
        log_stream: %q
        threshold: {batch_size: 100, log_send_interval: 200ms}`, endpoint, group, stream)))
	p := cwStartWeft(t, cfg)

	read := func() []map[string]any {
		evs := cwGetAll(t, cl, group, stream)
		docs := make([]map[string]any, 0, len(evs))
		last := int64(0)
		for _, ev := range evs {
			var d map[string]any
			if err := json.Unmarshal([]byte(*ev.Message), &d); err != nil {
				t.Fatalf("log event is not JSON: %v: %s", err, *ev.Message)
			}
			ts, _ := d["_aws"].(map[string]any)["Timestamp"].(float64)
			if int64(ts) != *ev.Timestamp {
				t.Fatalf("log event timestamp %d, document Timestamp %v", *ev.Timestamp, ts)
			}
			if *ev.Timestamp < last {
				t.Fatalf("log events out of order: %d after %d", *ev.Timestamp, last)
			}
			last = *ev.Timestamp
			docs = append(docs, d)
		}
		return docs
	}
	streamExists := func() bool {
		resp, err := cl.DescribeLogStreams(context.Background(), &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
		return err == nil && len(resp.LogStreams) > 0
	}
	for round := 1; round <= 2; round++ {
		emfPostSpans(t, otlpAddr)
		eventually(t, 10*time.Second, fmt.Sprintf("span_metrics counting %d spans", 8*round), func() bool {
			return p.metric("weft_span_requests_total") == float64(8*round)
		})
		var why string
		eventually(t, 20*time.Second, "EMF deltas in CloudWatch Logs adding up to /metrics", func() bool {
			if !streamExists() {
				why = "no log stream yet"
				return false
			}
			_, body := p.get("/metrics")
			ok, d := emfMatches(emfTotals(t, read()), body)
			why = d
			return ok
		})
		if why != "" {
			t.Fatal(why)
		}
	}
	_, body := p.get("/metrics")
	p.cwStop()
	docs := read()
	if ok, why := emfMatches(emfTotals(t, docs), body); !ok {
		t.Fatalf("after shutdown: %s", why)
	}
	if sent := sumMetric(body, "weft_component_events_sent_total", `pipeline="metrics-pipeline"`, `component="sink/0/cloudwatch_logs"`); sent > float64(len(docs)) {
		t.Fatalf("the sink delivered %v documents, CloudWatch Logs holds %d", sent, len(docs))
	}
	t.Logf("%d EMF documents in %s/%s", len(docs), group, stream)
}
