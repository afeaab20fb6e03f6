package config

import "time"

// Agent holds the agent-wide settings from the top-level `weft:` section.
type Agent struct {
	Admin           AdminSettings   `yaml:"admin" doc:"the admin HTTP server (health, readiness, metrics, pipelines)"`
	Log             LogSettings     `yaml:"log" doc:"the agent's own log output"`
	ShutdownTimeout time.Duration   `yaml:"shutdown_timeout" unit:"s" doc:"how long SIGTERM may spend draining buffers before the rest is counted as lost"`
	Telemetry       TelemetryConfig `yaml:"telemetry" doc:"the agent's own traces (startup, reload, sink flushes) over OTLP"`
}

// AdminSettings configures the admin server.
type AdminSettings struct {
	Address string `yaml:"address" doc:"listen address of the admin server; empty disables it"`
}

// LogSettings configures the agent's logs.
type LogSettings struct {
	Level  string `yaml:"level" enum:"trace,debug,info,warn,warning,error" doc:"minimum level written"`
	Format string `yaml:"format" enum:"json,text" doc:"json (default) or text"`
}

// TelemetryConfig configures self-tracing.
type TelemetryConfig struct {
	Traces TracesConfig `yaml:"traces"`
}

// TracesConfig configures the OTLP exporter for the agent's own spans.
type TracesConfig struct {
	Endpoint    string            `yaml:"endpoint" doc:"OTLP endpoint (host:port); empty disables self-tracing"`
	Protocol    string            `yaml:"protocol" enum:"grpc,http" doc:"grpc (port 4317) or http (port 4318, /v1/traces)"`
	Insecure    bool              `yaml:"insecure" doc:"plaintext instead of TLS"`
	Headers     map[string]string `yaml:"headers" secret:"true" doc:"extra request headers (e.g. authorization)"`
	SampleRatio float64           `yaml:"sample_ratio" min:"0" max:"1" doc:"fraction of the agent's own traces kept"`
}

// DefaultAgent returns the agent settings used when none are given.
func DefaultAgent() Agent {
	return Agent{
		Admin:           AdminSettings{Address: "127.0.0.1:4900"},
		Log:             LogSettings{Level: "info", Format: "json"},
		ShutdownTimeout: 30 * time.Second,
		Telemetry:       TelemetryConfig{Traces: TracesConfig{Protocol: "grpc", SampleRatio: 1}},
	}
}
