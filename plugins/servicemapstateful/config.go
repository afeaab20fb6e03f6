package servicemapstateful

import "time"

// Config is the service_map_stateful processor's configuration.
// window_duration is Data Prepper's (a bare number is seconds, as there);
// max_window_spans and virtual_node_peer_attributes are weft's.
type Config struct {
	WindowDuration            time.Duration `yaml:"window_duration" unit:"s" min:"1ms" doc:"the fixed window at the end of which relationships are evaluated and emitted"`
	MaxWindowSpans            int           `yaml:"max_window_spans" min:"1" doc:"most spans recorded in one window; reaching it ends the window early"`
	VirtualNodePeerAttributes []string      `yaml:"virtual_node_peer_attributes" doc:"span attributes, in order of precedence, that name the uninstrumented service a CLIENT or PRODUCER span calls when no span of another service is its child; an empty list turns virtual nodes off (Data Prepper's output)"`
}

// Defaults.
const (
	DefaultWindowDuration = 180 * time.Second
	DefaultMaxWindowSpans = 250_000
)

// DefaultVirtualNodePeerAttributes are the OpenTelemetry Collector
// servicegraph connector's defaults (peer.service, db.name, db.system),
// each followed by the name newer semantic conventions give it. Attributes
// every HTTP or RPC client span carries (server.address, net.peer.name)
// are left out: they would name a host, not a service, whenever the real
// server span is late or lost.
func DefaultVirtualNodePeerAttributes() []string {
	return []string{"peer.service", "service.peer.name", "db.name", "db.namespace", "db.system", "db.system.name"}
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{WindowDuration: DefaultWindowDuration, MaxWindowSpans: DefaultMaxWindowSpans,
		VirtualNodePeerAttributes: DefaultVirtualNodePeerAttributes()}
}
