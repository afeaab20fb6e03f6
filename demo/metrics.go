package demo

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Sample is one line of the Prometheus text format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseMetrics reads the Prometheus text exposition format (what /metrics
// serves): comments are skipped, label values unescaped.
func ParseMetrics(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w: %q", n, err, line)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("no metric name")
	}
	s.Name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " ,")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.IndexByte(line, '=')
			if eq <= 0 || len(line) < eq+2 || line[eq+1] != '"' {
				return s, fmt.Errorf("malformed label")
			}
			key := line[:eq]
			line = line[eq+2:]
			var v strings.Builder
			closed := false
			for j := 0; j < len(line); j++ {
				c := line[j]
				if c == '\\' && j+1 < len(line) {
					j++
					switch line[j] {
					case 'n':
						v.WriteByte('\n')
					default:
						v.WriteByte(line[j])
					}
					continue
				}
				if c == '"' {
					line, closed = line[j+1:], true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				return s, fmt.Errorf("unterminated label value")
			}
			s.Labels[key] = v.String()
		}
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return s, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, err
	}
	s.Value = v
	return s, nil
}

// Snapshot is the agent's metrics at one moment.
type Snapshot struct {
	At      time.Time
	Samples []Sample
}

// Scrape reads http://admin/metrics.
func Scrape(ctx context.Context, client *http.Client, admin string) (Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		return Snapshot{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Snapshot{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Snapshot{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	samples, err := ParseMetrics(resp.Body)
	return Snapshot{At: time.Now(), Samples: samples}, err
}

// gatherSnapshot reads metrics in process, as /metrics would serve them.
func gatherSnapshot(g prometheus.Gatherer) (Snapshot, error) {
	mfs, err := g.Gather()
	if err != nil {
		return Snapshot{}, err
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			return Snapshot{}, err
		}
	}
	samples, err := ParseMetrics(&b)
	return Snapshot{At: time.Now(), Samples: samples}, err
}

// Sum adds the samples of a metric whose labels include every given
// name=value pair.
func (s Snapshot) Sum(name string, labels ...string) float64 {
	var total float64
	for _, x := range s.Samples {
		if x.Name == name && matches(x.Labels, labels) {
			total += x.Value
		}
	}
	return total
}

// By sums a metric per value of one label.
func (s Snapshot) By(name, label string, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for _, x := range s.Samples {
		if x.Name == name && matches(x.Labels, labels) {
			out[x.Labels[label]] += x.Value
		}
	}
	return out
}

func matches(have map[string]string, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if have[want[i]] != want[i+1] {
			return false
		}
	}
	return true
}

// pipelineOrder is the order of the default's pipelines, sources first.
var pipelineOrder = []string{"otlp", "dataprepper-traces", "http-logs", "logs", "spans", "service-map", "metrics"}

// Pipeline is one pipeline's accounting.
type Pipeline struct {
	Name                              string
	In, Out, Dropped, Failed, Created float64
	Buffered                          float64
	Rate                              float64 // events in per second over the interval
	held                              float64
}

// Balanced reports whether every event is accounted for: in (and created)
// = out + dropped + failed + still buffered or held.
func (p Pipeline) Balanced() bool {
	return p.In+p.Created == p.Out+p.Dropped+p.Failed+p.Buffered+p.held
}

// Summary is what the demo prints.
type Summary struct {
	Elapsed    time.Duration
	Generator  Stats
	Pipelines  []Pipeline
	Correlated float64            // logs that left correlate with their trace
	Logs       float64            // logs correlate handled (with or without trace context)
	Masked     map[string]float64 // values masked, by rule or detector
	SpanErrors float64            // spans with status error (span_metrics)
	SpanTotal  float64
}

// Summarize compares two snapshots.
func Summarize(prev, cur Snapshot, st Stats, elapsed time.Duration) Summary {
	s := Summary{Elapsed: elapsed, Generator: st, Masked: cur.By("weft_mask_fields_masked_total", "rule_or_detector")}
	logs := cur.By("weft_correlate_logs_total", "result")
	for _, v := range logs {
		s.Logs += v
	}
	s.Correlated = logs["correlated"]
	s.SpanTotal = cur.Sum("weft_span_requests_total")
	s.SpanErrors = cur.Sum("weft_span_errors_total")
	names := map[string]bool{}
	for _, x := range cur.Samples {
		if x.Name == "weft_pipeline_events_in_total" {
			names[x.Labels["pipeline"]] = true
		}
	}
	var order []string
	for _, n := range pipelineOrder {
		if names[n] {
			order = append(order, n)
			delete(names, n)
		}
	}
	var rest []string
	for n := range names {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	dt := cur.At.Sub(prev.At).Seconds()
	for _, n := range append(order, rest...) {
		p := Pipeline{Name: n,
			In:       cur.Sum("weft_pipeline_events_in_total", "pipeline", n),
			Out:      cur.Sum("weft_pipeline_events_out_total", "pipeline", n),
			Dropped:  cur.Sum("weft_pipeline_events_dropped_total", "pipeline", n),
			Failed:   cur.Sum("weft_pipeline_events_failed_total", "pipeline", n),
			Created:  cur.Sum("weft_pipeline_events_created_total", "pipeline", n),
			Buffered: cur.Sum("weft_buffer_events", "pipeline", n),
			held:     cur.Sum("weft_correlate_held_logs", "pipeline", n) + cur.Sum("weft_correlate_held_spans", "pipeline", n),
		}
		if dt > 0 {
			p.Rate = (p.In - prev.Sum("weft_pipeline_events_in_total", "pipeline", n)) / dt
		}
		s.Pipelines = append(s.Pipelines, p)
	}
	return s
}

// WriteLive prints the few lines shown every interval.
func (s Summary) WriteLive(w io.Writer) {
	fmt.Fprintf(w, "[%5s] checkouts %d (%d failed in payment)  spans %d  logs %d\n",
		s.Elapsed.Round(time.Second), s.Generator.Checkouts, s.Generator.Failed, s.Generator.Spans,
		s.Generator.OTLPLogs+s.Generator.LogsPosted)
	var rates []string
	for _, p := range s.Pipelines {
		rates = append(rates, fmt.Sprintf("%s %.0f", p.Name, p.Rate))
	}
	fmt.Fprintf(w, "        events/s  %s\n", strings.Join(rates, " · "))
	fmt.Fprintf(w, "        logs correlated %s  masked %s\n", s.correlated(), s.masked())
	if s.Generator.LastError != "" {
		fmt.Fprintf(w, "        generator: %s\n", s.Generator.LastError)
	}
}

func (s Summary) correlated() string {
	if s.Logs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%% (%.0f of %.0f)", 100*s.Correlated/s.Logs, s.Correlated, s.Logs)
}

func (s Summary) masked() string {
	type kv struct {
		k string
		v float64
	}
	var m []kv
	var total float64
	for k, v := range s.Masked {
		if v == 0 {
			continue
		}
		m = append(m, kv{k, v})
		total += v
	}
	if total == 0 {
		return "-"
	}
	sort.Slice(m, func(i, j int) bool { return m[i].v > m[j].v || m[i].v == m[j].v && m[i].k < m[j].k })
	var parts []string
	for _, x := range m {
		parts = append(parts, fmt.Sprintf("%s %.0f", x.k, x.v))
	}
	return fmt.Sprintf("%.0f values (%s)", total, strings.Join(parts, ", "))
}

// WriteFinal prints the totals after the run: per pipeline the accounting
// events in (+ created) = out + dropped + failed.
func (s Summary) WriteFinal(w io.Writer) {
	fmt.Fprintf(w, "\nweft demo: %s, %d checkouts (%d failed in payment): %d spans, %d OTLP log records, %d log records posted, %d metric points",
		s.Elapsed.Round(time.Second), s.Generator.Checkouts, s.Generator.Failed, s.Generator.Spans, s.Generator.OTLPLogs, s.Generator.LogsPosted,
		s.Generator.MetricPoints)
	if s.Generator.LogsRejected > 0 {
		fmt.Fprintf(w, ", %d log records NOT taken by the agent (last error: %s)", s.Generator.LogsRejected, s.Generator.LastError)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %-20s %9s %9s %9s %9s %9s  %s\n", "pipeline", "in", "created", "out", "dropped", "failed", "in+created = out+dropped+failed")
	for _, p := range s.Pipelines {
		ok := "yes"
		if !p.Balanced() {
			ok = fmt.Sprintf("NO (%.0f buffered or held)", p.Buffered+p.held)
		}
		fmt.Fprintf(w, "  %-20s %9.0f %9.0f %9.0f %9.0f %9.0f  %s\n", p.Name, p.In, p.Created, p.Out, p.Dropped, p.Failed, ok)
	}
	fmt.Fprintf(w, "  logs correlated with their trace: %s\n", s.correlated())
	fmt.Fprintf(w, "  masked: %s\n", s.masked())
	if s.SpanTotal > 0 {
		fmt.Fprintf(w, "  span RED metrics: %.0f spans, %.0f with status error\n", s.SpanTotal, s.SpanErrors)
	}
}
