package sinkcore

import "github.com/prometheus/client_golang/prometheus"

// Register registers c on reg and returns it, or returns the collector of
// the same type already registered under the same descriptor (a component
// recreated by a reload keeps its series). Sinks with metrics of their own,
// beyond the standard ones of NewMetrics, use it the same way.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	return register(reg, c)
}
