// Package demo is `weft demo`: the agent on its built-in default
// configuration plus a traffic generator that plays the shop of the shared
// fixtures (client → order → payment → inventory, some checkouts failing in
// payment) as real OTLP spans and as logs in the formats the reference
// services write, and a live summary read from the agent's /metrics.
package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/weft-agent/weft/agent"
)

// Usage is `weft demo --help`.
const Usage = `Usage: weft demo [flags]

Runs the agent on its built-in default configuration (as 'weft run' does) and
a generator that plays a small shop against it: checkouts go client → order →
payment → inventory as real OTLP spans (OpenTelemetry Go SDK; client and order
export to 4317 over gRPC, payment to 4318 over HTTP, inventory to Data
Prepper's 21890), and the services log the way the reference services do:
payment in the Python OpenTelemetry logging format, order as logrus JSON with
B3 headers, inventory as CRI container lines (all three posted to 2021 as
Fluent Bit's http output posts them) and the client as OTLP log records. The
logs carry the spans' trace IDs, e-mail addresses, card numbers, phone
numbers, IP addresses and bearer tokens; some checkouts fail in payment. The
order service also exports its checkout counter as an OTLP metric (4318).

Every few seconds it prints what the agent reports on /metrics: events per
second per pipeline, the share of logs correlated with their trace and the
values masked. Ctrl-C (SIGINT) or SIGTERM, or the end of --duration, stops the
generator, drains the agent and prints the totals, every pipeline's accounting
and the files written under the data directory.

Flags:
  --duration D      stop after D (e.g. 30s, 5m); 0 runs until Ctrl-C (default 0)
  --rate N          checkouts per second (default 5)
  --failures F      share of checkouts failing in payment, 0 to 1 (default 0.2)
  --interval D      how often the live summary is printed (default 3s)
  --seed N          reproducible customers, failures and durations (default: random)
  --data-dir DIR    where the documents are written (default $WEFT_DATA_DIR or ./weft-data)
  --admin ADDR      admin server: /metrics, /readyz (default $WEFT_ADMIN_ADDRESS or 127.0.0.1:4900)
  --log-level LEVEL the agent's log level (default warn, so that the summary stands out)

Ports and host come from the environment, as for the built-in default:
WEFT_HOST (127.0.0.1), WEFT_OTLP_GRPC_PORT (4317), WEFT_OTLP_HTTP_PORT (4318),
WEFT_OTEL_TRACE_PORT (21890), WEFT_HTTP_PORT (2021). MASK_KEY keys the hashes.
`

// Options configure a demo run.
type Options struct {
	// Agent runs the built-in default; Run replaces Signals (it stops the
	// agent itself when ctx ends).
	Agent agent.Options
	// Endpoints must be the listeners and admin address of that
	// configuration.
	Endpoints Endpoints
	// Duration ends the run; 0 runs until ctx ends (SIGINT, SIGTERM).
	Duration time.Duration
	// Rate is checkouts per second, FailureRate the share failing.
	Rate, FailureRate float64
	// Interval is how often the live summary is printed.
	Interval time.Duration
	// Seed makes the checkouts reproducible (0: random).
	Seed uint64
	Out  io.Writer
}

// drainTimeout bounds the wait, after the generator stopped, for the
// agent's buffers to empty and held logs (correlate's max_wait is 3 s) to
// leave, before the final summary and the agent's shutdown.
const drainTimeout = 8 * time.Second

// Run starts the agent, waits until it is ready, plays the shop until ctx
// ends or Duration passes, then drains: the generator flushes every span
// and log, the agent's pipelines empty, the final summary is printed and
// the agent stops. It returns an error when the agent fails to start or
// stops by itself, or when events could not be delivered.
func Run(ctx context.Context, o Options) error {
	if o.Interval <= 0 {
		o.Interval = 3 * time.Second
	}
	o.Agent.Signals = make(chan os.Signal) // never fires: ctx stops the agent
	a, err := agent.New(o.Agent)
	if err != nil {
		return err
	}
	agentCtx, stopAgent := context.WithCancel(context.Background())
	agentDone := make(chan error, 1)
	go func() { agentDone <- a.Run(agentCtx) }()
	agentStopped := false
	defer func() {
		if !agentStopped {
			stopAgent()
			<-agentDone
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	if err := waitReady(ctx, client, o.Endpoints.Admin, agentDone, &agentStopped); err != nil {
		if ctx.Err() != nil {
			return nil // stopped (Ctrl-C) before anything was sent
		}
		return err
	}

	gen, err := NewGenerator(ctx, GeneratorConfig{Endpoints: o.Endpoints, Rate: o.Rate, FailureRate: o.FailureRate, Seed: o.Seed})
	if err != nil {
		return err
	}
	dataDir := o.Agent.DataDir
	fmt.Fprintf(o.Out, "weft demo: the agent runs its built-in default (weft run); the shop sends %.3g checkouts/s, %.0f%% failing in payment:\n"+
		"  spans over OTLP to %s (gRPC), %s (HTTP) and %s (Data Prepper); logs to http://%s/log/ingest and OTLP.\n"+
		"  Documents go to %s/, metrics to http://%s/metrics. Ctrl-C stops (the agent drains first).\n\n",
		o.Rate, 100*o.FailureRate, o.Endpoints.OTLPGRPC, o.Endpoints.OTLPHTTP, o.Endpoints.OTelTrace, o.Endpoints.HTTPLogs,
		filepath.Clean(dataDir), o.Endpoints.Admin)

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	if o.Duration > 0 {
		runCtx, cancelRun = context.WithTimeout(ctx, o.Duration)
		defer cancelRun()
	}
	start := time.Now()
	prev, _ := Scrape(ctx, client, o.Endpoints.Admin)
	genDone := make(chan error, 1)
	go func() { genDone <- gen.Run(runCtx) }()

	tick := time.NewTicker(o.Interval)
	var agentErr error
loop:
	for {
		select {
		case <-runCtx.Done():
			break loop
		case agentErr = <-agentDone:
			agentStopped = true
			cancelRun()
			break loop
		case <-tick.C:
			cur, err := Scrape(ctx, client, o.Endpoints.Admin)
			if err != nil {
				fmt.Fprintf(o.Out, "weft demo: reading metrics: %v\n", err)
				continue
			}
			Summarize(prev, cur, gen.Stats(), time.Since(start)).WriteLive(o.Out)
			prev = cur
		}
	}
	tick.Stop()
	fmt.Fprintln(o.Out, "\nweft demo: stopping the generator and draining the agent … (Ctrl-C again quits at once)")
	genErr := <-genDone
	elapsed := time.Since(start)
	if agentStopped {
		return errors.Join(fmt.Errorf("the agent stopped by itself: %v", agentErr), genErr)
	}

	// Wait for every event to leave the pipelines, then take the final
	// numbers while the admin server still answers.
	final := drain(client, o.Endpoints.Admin, prev, gen.Stats(), elapsed)
	stopAgent()
	agentErr = <-agentDone
	agentStopped = true
	// The shutdown flushes stateful processors (the service map's last
	// window): read the counts again, in process, once it is over.
	if after, err := gatherSnapshot(a.Gatherer()); err == nil {
		final = Summarize(prev, after, gen.Stats(), elapsed)
	} else {
		fmt.Fprintf(o.Out, "weft demo: reading the final metrics: %v (showing those before shutdown)\n", err)
	}
	final.WriteFinal(o.Out)
	writeFiles(o.Out, dataDir)
	var errs []error
	if agentErr != nil {
		errs = append(errs, agentErr)
	}
	if genErr != nil {
		errs = append(errs, fmt.Errorf("generator: %w", genErr))
	}
	if st := gen.Stats(); st.LogsRejected > 0 {
		errs = append(errs, fmt.Errorf("%d log records were not taken by the agent: %s", st.LogsRejected, st.LastError))
	}
	for _, p := range final.Pipelines {
		if p.Failed > 0 {
			errs = append(errs, fmt.Errorf("pipeline %s: %.0f events could not be delivered (weft_pipeline_events_failed_total)", p.Name, p.Failed))
		}
	}
	return errors.Join(errs...)
}

// EndpointsFrom derives the listeners of the built-in default from the
// environment variables it reads (lookup is os.LookupEnv) and the admin
// address. A wildcard host is reached on loopback.
func EndpointsFrom(lookup func(string) (string, bool), admin string) Endpoints {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && v != "" {
			return v
		}
		return def
	}
	host := get("WEFT_HOST", "127.0.0.1")
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	if admin == "" {
		admin = get("WEFT_ADMIN_ADDRESS", "127.0.0.1:4900")
	}
	if h, p, err := net.SplitHostPort(admin); err == nil {
		if ip := net.ParseIP(h); h == "" || ip != nil && ip.IsUnspecified() {
			admin = net.JoinHostPort("127.0.0.1", p)
		}
	}
	return Endpoints{
		OTLPGRPC:  net.JoinHostPort(host, get("WEFT_OTLP_GRPC_PORT", "4317")),
		OTLPHTTP:  net.JoinHostPort(host, get("WEFT_OTLP_HTTP_PORT", "4318")),
		OTelTrace: net.JoinHostPort(host, get("WEFT_OTEL_TRACE_PORT", "21890")),
		HTTPLogs:  net.JoinHostPort(host, get("WEFT_HTTP_PORT", "2021")),
		Admin:     admin,
	}
}

func waitReady(ctx context.Context, client *http.Client, admin string, agentDone <-chan error, stopped *bool) error {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-agentDone:
			*stopped = true
			if err == nil {
				err = errors.New("stopped before it was ready")
			}
			return fmt.Errorf("the agent did not start: %w (the ports move with WEFT_OTLP_GRPC_PORT, WEFT_OTLP_HTTP_PORT, WEFT_OTEL_TRACE_PORT, WEFT_HTTP_PORT and --admin; see weft demo --help)", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("the agent's admin server at %s did not report ready within 30s", admin)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// drain waits until no pipeline buffers or holds events any more (or
// drainTimeout passes) and returns the summary at that point.
func drain(client *http.Client, admin string, prev Snapshot, st Stats, elapsed time.Duration) Summary {
	deadline := time.Now().Add(drainTimeout)
	var s Summary
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		cur, err := Scrape(ctx, client, admin)
		cancel()
		if err == nil {
			s = Summarize(prev, cur, st, elapsed)
			settled := true
			for _, p := range s.Pipelines {
				settled = settled && p.Buffered == 0 && p.held == 0 && p.Balanced()
			}
			if settled {
				return s
			}
		}
		if time.Now().After(deadline) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeFiles lists the NDJSON files in the data directory with their
// document counts, and shows one correlated, masked log.
func writeFiles(w io.Writer, dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if len(paths) == 0 {
		fmt.Fprintf(w, "  no documents in %s/\n", dir)
		return
	}
	sort.Strings(paths)
	fmt.Fprintf(w, "  documents (one JSON object per line, as the OpenSearch sink would index them):\n")
	var sample map[string]any
	for _, p := range paths {
		n, s := countDocs(p)
		fmt.Fprintf(w, "    %-60s %7d\n", p, n)
		if sample == nil {
			sample = s
		}
	}
	if sample != nil {
		b, _ := json.MarshalIndent(sample, "    ", "  ")
		fmt.Fprintf(w, "  a payment log, correlated with its trace (traceStatus %v) and masked:\n    %s\n", sample["traceStatus"], b)
	}
}

// countDocs counts a file's lines and returns a correlated, masked log of
// the payment service from it, if it has one: one of a failed checkout
// when there is one.
func countDocs(path string) (int, map[string]any) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	n := 0
	var sample map[string]any
	for sc.Scan() {
		n++
		if sample != nil && sample["traceStatus"] == "error" {
			continue
		}
		var d map[string]any
		if json.Unmarshal(sc.Bytes(), &d) == nil && d["traceCorrelated"] == true && d["serviceName"] == "payment" && d["log"] != nil {
			sample = d // the first, or better the first of a failed checkout
		}
	}
	return n, sample
}
