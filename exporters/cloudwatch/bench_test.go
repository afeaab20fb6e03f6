package cloudwatch

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// nopAPI accepts every call without sending anything.
type nopAPI struct{}

func (nopAPI) PutLogEvents(_ context.Context, in *cloudwatchlogs.PutLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutLogEventsOutput, error) {
	return &cloudwatchlogs.PutLogEventsOutput{}, nil
}

func (nopAPI) CreateLogGroup(context.Context, *cloudwatchlogs.CreateLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error) {
	return &cloudwatchlogs.CreateLogGroupOutput{}, nil
}

func (nopAPI) CreateLogStream(context.Context, *cloudwatchlogs.CreateLogStreamInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogStreamOutput, error) {
	return &cloudwatchlogs.CreateLogStreamOutput{}, nil
}

func (nopAPI) PutRetentionPolicy(context.Context, *cloudwatchlogs.PutRetentionPolicyInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error) {
	return &cloudwatchlogs.PutRetentionPolicyOutput{}, nil
}

// benchEvents makes n container log events of about 500 bytes of message,
// spread over 10 pods.
func benchEvents(n int, now time.Time) []*event.Event {
	line := strings.Repeat("GET /api/v1/orders/42 200 12ms user=alice trace=4bf92f3577b34da6a3ce929d0e0e4736 ", 7)[:480]
	evs := make([]*event.Event, n)
	for i := range evs {
		evs[i] = event.New(event.KindLog, now.Add(time.Duration(i)*time.Microsecond), map[string]any{
			"cluster": "prod",
			"log":     fmt.Sprintf("%s %08d", line, i),
			"stream":  "stdout",
			"kubernetes": map[string]any{
				"namespace_name": "shop", "pod_name": fmt.Sprintf("web-%d", i%10), "container_name": "app",
			},
		})
	}
	return evs
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkBatchBuild is the sink's whole CPU path per event, the network
// call replaced by a no-op: group and stream templates, the message (500
// bytes of text, or the event as JSON), batching by stream under the
// PutLogEvents limits, sorting, cutting into calls and building the
// PutLogEvents input. events/cpu-s is events per second of one core.
func BenchmarkBatchBuild(b *testing.B) {
	for _, mode := range []string{"text", "json"} {
		b.Run(mode, func(b *testing.B) {
			msg := "message: /log\n"
			if mode == "json" {
				msg = ""
			}
			cfg, err := pipelinestest.DecodeConfig("sink", "cloudwatch_logs", `
log_group: "/aws/containerinsights/${cluster}/application"
log_stream: "${/kubernetes/namespace_name}_${/kubernetes/pod_name}_${/kubernetes/container_name}"
aws: {region: us-east-1}
threshold: {log_send_interval: 1h}
`+msg)
			if err != nil {
				b.Fatal(err)
			}
			set, _ := pipelinestest.Settings("bench", "sink/0/cloudwatch_logs")
			s, err := newSink(set, cfg.(*Config), nopAPI{})
			if err != nil {
				b.Fatal(err)
			}
			s.Start(context.Background())
			const batch = 200
			evs := benchEvents(batch*50, time.Now())
			b.ReportAllocs()
			b.SetBytes(500)
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i += batch {
				off := (i / batch % 50) * batch
				n := min(batch, b.N-i)
				if err := s.Write(context.Background(), evs[off:off+n]); err != nil {
					b.Fatal(err)
				}
			}
			s.Shutdown(context.Background())
			b.StopTimer()
			cpu := cpuSeconds() - cpu0
			b.ReportMetric(float64(b.N)/cpu, "events/cpu-s")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkBuildCalls is the flush side alone for one stream's batch of
// 2,000 events of 500 bytes (one 1 MiB call): time-window check, sort,
// cut into calls, PutLogEvents input.
func BenchmarkBuildCalls(b *testing.B) {
	s := &Sink{cfg: NewConfig(), now: time.Now}
	now := time.Now()
	msg := strings.Repeat("x", 500)
	src := make([]item, 2000)
	for i := range src {
		src[i] = item{msg: msg, ts: now.Add(time.Duration(i%100) * time.Millisecond).UnixMilli()}
	}
	items := make([]item, len(src))
	sc := new(putScratch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(items, src)
		kept := s.checkWindow(items, "g", "s", sc)
		sortByTime(kept)
		for _, call := range splitCalls(kept, MaxBatchEvents, MaxBatchBytes) {
			buildInput(call, sc)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(src))/b.Elapsed().Seconds(), "events/s")
}
