package pipelinestest

import (
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
)

// Event decodes a JSON object into a log event at the Unix epoch, failing
// the test on bad JSON.
func Event(t testing.TB, js string) *event.Event {
	t.Helper()
	m, err := event.DecodeJSONObject([]byte(js))
	if err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return event.New(event.KindLog, time.Unix(0, 0), m)
}

// MustProcessor builds a registered processor from YAML options, failing
// the test on a config error.
func MustProcessor(t testing.TB, plugin, opts string) pipelines.Processor {
	t.Helper()
	p, _, err := Processor(plugin, opts)
	if err != nil {
		t.Fatalf("config %q: %v", opts, err)
	}
	return p
}
