// Command weft is an observability agent: it collects traces and logs,
// correlates them by trace ID, masks and filters them, and ships them to
// OpenSearch, CloudWatch Logs and Prometheus. Pipelines are YAML files in
// Data Prepper's pipelines.yaml syntax.
package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/weft-agent/weft/agent"
	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/demo"
	"github.com/weft-agent/weft/pipelines"
	_ "github.com/weft-agent/weft/plugins/all"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

//go:embed deploy/pipelines/default.yaml
var defaultConfig []byte

const usage = `weft — one agent for traces and logs: collect, correlate, mask, filter, ship.

Usage:
  weft run [-c PATH]          run pipelines (built-in default when -c is omitted)
  weft demo [flags]           the built-in default plus a generated shop: spans and logs
                              in, correlated and masked documents out (weft demo --help)
  weft validate [-c PATH]     check a configuration (the built-in default without -c);
                              lists every error, exit 1 if any
  weft config print [-c PATH] print the resolved configuration with secrets redacted
  weft plugins [NAME]         list sources, processors and sinks with their options
  weft version                print the version

PATH is a YAML file or a directory of *.yaml/*.yml files in Data Prepper's
pipelines.yaml syntax, plus an optional top-level "weft:" section with agent
settings (admin address, log level and format, shutdown timeout, telemetry).
Values may use ${VAR}, ${VAR:-default} and ${file:/path}.

Flags for run, validate and config print:
  -c, --config PATH      configuration file or directory
      --log-level LEVEL  trace, debug, info, warn, error (overrides the config)
      --log-format FMT   json (default) or text
      --admin ADDR       admin server address (default 127.0.0.1:4900)
      --data-dir DIR     where components keep state, and where the built-in
                         default writes its documents (default $WEFT_DATA_DIR
                         or ./weft-data); configurations read it as ${WEFT_DATA_DIR}

The built-in default (deploy/pipelines/default.yaml) listens for OTLP on 4317
(gRPC) and 4318 (HTTP), Data Prepper's trace port 21890 and its HTTP log
endpoint 2021 (POST /log/ingest), extracts trace context, correlates logs with
their traces, masks personal data, and writes one NDJSON file per OpenSearch
index under the data directory. Addresses: WEFT_HOST (127.0.0.1),
WEFT_OTLP_GRPC_PORT, WEFT_OTLP_HTTP_PORT, WEFT_OTEL_TRACE_PORT, WEFT_HTTP_PORT,
WEFT_ADMIN_ADDRESS. MASK_KEY keys the masking hashes (random per run if unset).

Signals: SIGHUP reloads the configuration (an invalid one is rejected and the
running pipelines kept); SIGTERM and SIGINT drain the buffers and stop.
Admin endpoints: /healthz /readyz /metrics /pipelines.

Examples:
  weft demo --duration 30s                     # see it work: ./weft-data/*.ndjson
  weft run                                     # built-in default: listeners → ./weft-data
  weft validate -c deploy/pipelines/
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, stderr)
	case "demo":
		return cmdDemo(rest, stdout, stderr)
	case "validate":
		return cmdValidate(rest, stdout, stderr)
	case "config":
		if len(rest) == 0 || rest[0] != "print" {
			fmt.Fprintln(stderr, "usage: weft config print [-c PATH]")
			return 2
		}
		return cmdConfigPrint(rest[1:], stdout, stderr)
	case "plugins":
		return cmdPlugins(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, agent.Describe(version))
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "weft: unknown command %q\n\n%s", cmd, usage)
	return 2
}

func commonFlags(name string, stderr io.Writer) (*flag.FlagSet, *agent.Options) {
	fs := flag.NewFlagSet("weft "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	dataDir := "weft-data"
	if d := os.Getenv("WEFT_DATA_DIR"); d != "" {
		dataDir = d
	}
	o := &agent.Options{EmbeddedName: "default.yaml", Embedded: defaultConfig, Version: version, DataDir: dataDir}
	fs.StringVar(&o.ConfigPath, "c", "", "configuration file or directory")
	fs.StringVar(&o.ConfigPath, "config", "", "configuration file or directory")
	fs.StringVar(&o.LogLevel, "log-level", "", "log level")
	fs.StringVar(&o.LogFormat, "log-format", "", "log format: json or text")
	fs.StringVar(&o.AdminAddress, "admin", "", "admin server address")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "state directory")
	return fs, o
}

func cmdRun(args []string, stderr io.Writer) int {
	fs, o := commonFlags("run", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	randomKey := setDefaultEnv(o)
	a, err := agent.New(*o)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	if randomKey {
		a.Logger().Info("MASK_KEY is not set: masking hashes use a random key for this run (set MASK_KEY to keep them stable across runs)")
	}
	if err := a.Run(context.Background()); err != nil {
		a.Logger().WithError(err).Error("weft failed")
		if o.ConfigPath == "" {
			a.Logger().Error("the built-in default's ports move with WEFT_OTLP_GRPC_PORT, WEFT_OTLP_HTTP_PORT, WEFT_OTEL_TRACE_PORT, WEFT_HTTP_PORT and WEFT_ADMIN_ADDRESS (weft --help)")
		}
		return 1
	}
	return 0
}

// setDefaultEnv publishes the data directory as WEFT_DATA_DIR, where the
// built-in default writes its files (any configuration may use it), and,
// for the built-in default, gives MASK_KEY a random value when it is unset:
// a key compiled into the binary would make its hashes reversible by anyone.
// It reports whether it chose a random key.
func setDefaultEnv(o *agent.Options) bool {
	os.Setenv("WEFT_DATA_DIR", o.DataDir)
	if o.ConfigPath != "" || os.Getenv("MASK_KEY") != "" {
		return false
	}
	var key [32]byte
	rand.Read(key[:])
	os.Setenv("MASK_KEY", hex.EncodeToString(key[:]))
	return true
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs, o := commonFlags("demo", stderr)
	fs.Usage = func() {} // --help prints demo.Usage below; other errors a hint
	duration := fs.Duration("duration", 0, "")
	rate := fs.Float64("rate", 5, "")
	failures := fs.Float64("failures", 0.2, "")
	interval := fs.Duration("interval", 3*time.Second, "")
	seed := fs.Uint64("seed", 0, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, demo.Usage)
			return 0
		}
		fmt.Fprintln(stderr, "usage: weft demo [flags] (weft demo --help lists them)")
		return 2
	}
	if o.ConfigPath != "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "weft demo runs the built-in default; it takes no -c and no arguments (see weft demo --help)")
		return 2
	}
	if *rate <= 0 || *failures < 0 || *failures > 1 || *duration < 0 || *interval <= 0 {
		fmt.Fprintln(stderr, "weft demo: --rate and --interval must be above 0, --failures between 0 and 1, --duration not negative")
		return 2
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	setDefaultEnv(o)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The first signal drains; once it came, the default action is back,
	// so a second Ctrl-C quits at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := demo.Run(ctx, demo.Options{Agent: *o, Endpoints: demo.EndpointsFrom(os.LookupEnv, o.AdminAddress),
		Duration: *duration, Rate: *rate, FailureRate: *failures, Interval: *interval, Seed: *seed, Out: stdout})
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	return 0
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs, o := commonFlags("validate", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := agent.CheckConfig(*o)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	name := o.ConfigPath
	if name == "" {
		name = o.EmbeddedName + " (built-in default)"
	}
	fmt.Fprintf(stdout, "%s: %d pipelines OK (%s)\n", name, len(cfg.Pipelines), strings.Join(cfg.PipelineNames(), ", "))
	return 0
}

func cmdConfigPrint(args []string, stdout, stderr io.Writer) int {
	fs, o := commonFlags("config print", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := agent.CheckConfig(*o)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	out, err := cfg.Print()
	if err != nil {
		fmt.Fprintln(stderr, "weft:", err)
		return 1
	}
	stdout.Write(out)
	return 0
}

func printErrors(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, e.Error())
		}
		fmt.Fprintf(w, "%d error(s)\n", len(errs))
		return
	}
	fmt.Fprintln(w, "weft:", err)
}

func cmdPlugins(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weft plugins", flag.ContinueOnError)
	fs.SetOutput(stderr)
	markdown := fs.Bool("markdown", false, "print option tables as Markdown")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	filter := fs.Arg(0)
	found := false
	for _, f := range pipelines.Factories() {
		if filter != "" && f.Name != filter && !containsStr(f.Aliases, filter) {
			continue
		}
		found = true
		if *markdown {
			fmt.Fprint(stdout, PluginMarkdown(f))
			continue
		}
		title := fmt.Sprintf("%s %s", f.Kind, f.Name)
		if len(f.Aliases) > 0 {
			title += " (alias " + strings.Join(f.Aliases, ", ") + ")"
		}
		fmt.Fprintf(stdout, "%s — %s\n", title, f.Summary)
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		for _, o := range f.Options() {
			def := o.Default
			if def == "" {
				def = "-"
			}
			extra := ""
			if o.Required {
				extra = " (required)"
			}
			if len(o.Enum) > 0 {
				extra += " one of: " + strings.Join(o.Enum, ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s%s\n", o.Name, o.Type, def, o.Doc, extra)
		}
		tw.Flush()
		fmt.Fprintln(stdout)
	}
	if !found {
		fmt.Fprintf(stderr, "weft plugins: no plugin named %q\n", filter)
		return 1
	}
	return 0
}

// PluginMarkdown renders a plugin's options as the Markdown table its README
// carries.
func PluginMarkdown(f *pipelines.Factory) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s `%s`\n\n%s\n\n| option | type | default | meaning |\n|---|---|---|---|\n", f.Kind, f.Name, f.Summary)
	opts := f.Options()
	for _, o := range opts {
		def := o.Default
		if def != "" {
			def = "`" + def + "`"
		}
		meaning := o.Doc
		if o.Required {
			meaning = "**required.** " + meaning
		}
		if len(o.Enum) > 0 {
			meaning += " One of: " + strings.Join(o.Enum, ", ") + "."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", o.Name, o.Type, def, meaning)
	}
	b.WriteString("\n")
	return b.String()
}

func containsStr(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
