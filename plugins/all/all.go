// Package all links every plugin into the binary. It is the one place that
// names them; the engine knows none.
package all

import (
	// sources
	_ "github.com/weft-agent/weft/plugins/file"
	_ "github.com/weft-agent/weft/plugins/fluentbit"
	_ "github.com/weft-agent/weft/plugins/forward"
	_ "github.com/weft-agent/weft/plugins/http"
	_ "github.com/weft-agent/weft/plugins/otellogssource"
	_ "github.com/weft-agent/weft/plugins/otelmetrics"
	_ "github.com/weft-agent/weft/plugins/otelmetricssource"
	_ "github.com/weft-agent/weft/plugins/oteltracesource"
	_ "github.com/weft-agent/weft/plugins/otlp"
	_ "github.com/weft-agent/weft/plugins/stdin"
	_ "github.com/weft-agent/weft/plugins/tail"
	_ "github.com/weft-agent/weft/plugins/weftmetrics"

	// processors
	_ "github.com/weft-agent/weft/plugins/addentries"
	_ "github.com/weft-agent/weft/plugins/copyvalues"
	_ "github.com/weft-agent/weft/plugins/correlate"
	_ "github.com/weft-agent/weft/plugins/date"
	_ "github.com/weft-agent/weft/plugins/deleteentries"
	_ "github.com/weft-agent/weft/plugins/dropevents"
	_ "github.com/weft-agent/weft/plugins/emf"
	_ "github.com/weft-agent/weft/plugins/filter"
	_ "github.com/weft-agent/weft/plugins/grok"
	_ "github.com/weft-agent/weft/plugins/keyvalue"
	_ "github.com/weft-agent/weft/plugins/kubernetes"
	_ "github.com/weft-agent/weft/plugins/logmetrics"
	_ "github.com/weft-agent/weft/plugins/mask"
	_ "github.com/weft-agent/weft/plugins/obfuscate"
	_ "github.com/weft-agent/weft/plugins/oteltraceraw"
	_ "github.com/weft-agent/weft/plugins/parsejson"
	_ "github.com/weft-agent/weft/plugins/regex"
	_ "github.com/weft-agent/weft/plugins/renamekeys"
	_ "github.com/weft-agent/weft/plugins/selectfields"
	_ "github.com/weft-agent/weft/plugins/servicemapstateful"
	_ "github.com/weft-agent/weft/plugins/spanmetrics"
	_ "github.com/weft-agent/weft/plugins/tracecontext"

	// sinks
	_ "github.com/weft-agent/weft/exporters/blackhole"
	_ "github.com/weft-agent/weft/exporters/cloudwatch"
	_ "github.com/weft-agent/weft/exporters/file"
	_ "github.com/weft-agent/weft/exporters/opensearch"
	_ "github.com/weft-agent/weft/exporters/prometheus"
	_ "github.com/weft-agent/weft/exporters/stdout"
)
