package emf

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// FuzzProcess: any JSON object, as a metric event, read twice (the second
// time a minute later, so cumulative series give deltas), never panics, and
// every document that comes out is valid EMF.
func FuzzProcess(f *testing.F) {
	for _, s := range []string{
		`{"name":"g","value":1}`,
		`{"name":"c","kind":"counter","labels":{"a":"b","n":{"x":1}},"value":"12","timestamp":1763900000}`,
		`{"name":"h","kind":"histogram","buckets":[{"le":1,"count":2},{"le":"+Inf","count":3}],"count":3,"sum":2}`,
		`{"name":"h","kind":"HISTOGRAM","aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA","explicitBounds":[1,2],"bucketCountsList":[1,0,4],"count":5,"sum":9,"min":0,"max":7}`,
		`{"name":"s","kind":"summary","count":4,"sum":1e308}`,
		`{"name":"x","kind":"SUM","isMonotonic":true,"value":1e308,"startTime":"2999-01-01T00:00:00Z","metric.attributes.a@b":true}`,
		`{"name":"_aws","value":1,"labels":{"_aws":"x","g":"y"}}`,
		`{"name":"h","kind":"histogram","buckets":[{"le":1e308,"count":2},{"le":1.7e308,"count":3}],"count":3,"sum":1e308}`,
		`{"name":"c","kind":"counter","value":-1.7e308}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := event.DecodeJSONObject([]byte(s))
		if err != nil {
			return
		}
		proc, err := New(testSettings(), NewConfig())
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			ev := event.New(event.KindMetric, time.Unix(1763900000+int64(i*60), 0), event.DeepCopyMap(m))
			if _, ok := m["timestamp"]; ok {
				ev.Mutable()["timestamp"] = int64(1763900000000 + i*60_000)
			}
			for _, out := range proc.Process(context.Background(), []*event.Event{ev}) {
				var doc map[string]any
				if err := json.Unmarshal(out.AppendJSON(nil), &doc); err != nil {
					t.Fatalf("output is not JSON: %v", err)
				}
				if _, ok := doc["_aws"]; !ok {
					continue
				}
				if err := CheckDocument(doc); err != nil {
					t.Fatalf("input %s: invalid EMF %s: %v", s, out.AppendJSON(nil), err)
				}
			}
		}
	})
}
