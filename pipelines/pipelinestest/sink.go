package pipelinestest

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/weft-agent/weft/pipelines"
)

// Source builds a registered source from YAML options.
func Source(plugin, yamlText string) (pipelines.Source, *prometheus.Registry, error) {
	cfg, err := DecodeConfig(pipelines.KindSource, plugin, yamlText)
	if err != nil {
		return nil, nil, err
	}
	s, reg := Settings("test", "source/"+plugin)
	src, err := pipelines.CreateSource(plugin, s, cfg)
	return src, reg, err
}

// Sink builds a registered sink from YAML options.
func Sink(plugin, yamlText string) (pipelines.Sink, *prometheus.Registry, error) {
	cfg, err := DecodeConfig(pipelines.KindSink, plugin, yamlText)
	if err != nil {
		return nil, nil, err
	}
	s, reg := Settings("test", "sink/0/"+plugin)
	sk, err := pipelines.CreateSink(plugin, s, cfg)
	return sk, reg, err
}

// CounterValue sums the samples of the counter (or gauge) family name whose
// labels include every given name/value pair (labels alternate name, value).
// It returns 0 when there is none.
func CounterValue(g prometheus.Gatherer, name string, labels ...string) float64 {
	fams, err := g.Gather()
	if err != nil {
		panic("pipelinestest: gathering metrics: " + err.Error())
	}
	total := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.Counter != nil:
					total += m.Counter.GetValue()
				case m.Gauge != nil:
					total += m.Gauge.GetValue()
				}
			}
		}
	}
	return total
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// CheckREADME fails t unless the plugin's README (path) has a table row for
// every option the config struct declares, showing its default, so the
// documentation cannot drift from the code.
func CheckREADME(t testing.TB, kind pipelines.Kind, plugin, path string) {
	t.Helper()
	f, ok := pipelines.Lookup(kind, plugin)
	if !ok {
		t.Fatalf("no %s %q registered", kind, plugin)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	inOptions := false // only the table under "## Options"
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "## ") {
			inOptions = line == "## Options"
		}
		if !inOptions || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[strings.Trim(cells[0], "`")] = cells
	}
	opts := f.Options()
	known := map[string]bool{}
	for _, o := range opts {
		known[o.Name] = true
		row, ok := rows[o.Name]
		if !ok || len(row) < 4 {
			t.Errorf("%s: option %q is not in the options table", path, o.Name)
			continue
		}
		if typ := strings.Trim(row[1], "`"); !strings.HasPrefix(typ, o.Type) {
			t.Errorf("%s: option %q: the table says type %q, the code %q", path, o.Name, typ, o.Type)
		}
		if o.Default != "" && !strings.Contains(row[2], "`"+o.Default+"`") && strings.Trim(row[2], "`") != o.Default {
			t.Errorf("%s: option %q: the row does not show the default `%s`: %v", path, o.Name, o.Default, row)
		}
		if o.Required && !strings.Contains(strings.ToLower(strings.Join(row, "|")), "required") {
			t.Errorf("%s: option %q is required but its row does not say so", path, o.Name)
		}
	}
	for name := range rows {
		if !known[name] {
			t.Errorf("%s: the table lists %q, which the code does not have", path, name)
		}
	}
}
