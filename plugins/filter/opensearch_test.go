package filter

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

// The same corpus and queries, run by a real OpenSearch: the ids it
// returned are recorded in testdata/opensearch_results.json, and weft must
// select the same documents. To re-record against a running node:
//
//	WEFT_FILTER_OPENSEARCH=http://127.0.0.1:19200 go test -run TestSameSelectionAsOpenSearch ./plugins/filter/
//
// The index uses an explicit mapping of the kind a real one has: text for
// prose (message, day_of_week), keyword for identifiers, numbers and dates
// typed. That is where weft's semantics (term/prefix/wildcard compare whole
// values, match analyzes strings) coincide with OpenSearch's, so queries
// that rely on weft's own conventions (.keyword read from a base field) are
// left out, and "now" date math is anchored to the tests' fixed clock.

const osResultsFile = "testdata/opensearch_results.json"

const osMapping = `{"mappings": {"dynamic": "strict", "properties": {
  "id": {"type": "long"},
  "day_of_week": {"type": "text"},
  "level": {"type": "keyword"},
  "status": {"type": "integer"},
  "latency_ms": {"type": "double"},
  "message": {"type": "text"},
  "timestamp": {"type": "date_nanos"},
  "ts_ms": {"type": "date"},
  "tags": {"type": "keyword"},
  "kubernetes": {"properties": {"namespace_name": {"type": "keyword"}, "pod_name": {"type": "keyword"},
    "labels": {"properties": {"app": {"type": "keyword"}}}}},
  "span": {"properties": {"attributes": {"properties": {"http@method": {"type": "keyword"}}}}},
  "customer": {"properties": {"name": {"type": "keyword"}, "email": {"type": "keyword"},
    "orders": {"properties": {"id": {"type": "keyword"}, "total": {"type": "double"}}}}}
}}}`

// osSkip are cases that depend on weft's own conventions.
var osSkip = map[string]bool{
	".keyword reads the whole string (exact)": true, // no dynamic .keyword sub-field in this mapping
}

// osQuery is the query OpenSearch runs for a case: "now" anchored to
// fixedNow, the search body's wrapper removed.
func osQuery(qc queryCase) string {
	q := strings.ReplaceAll(qc.query, `"now-`, `"`+fixedNow.Format("2006-01-02T15:04:05Z")+`||-`)
	if strings.HasPrefix(q, `{"query": `) {
		q = strings.TrimSuffix(strings.TrimPrefix(q, `{"query": `), "}")
	}
	return q
}

type osResult struct {
	Name  string  `json:"name"`
	Query string  `json:"query"`
	IDs   []int64 `json:"ids"`
}

func TestSameSelectionAsOpenSearch(t *testing.T) {
	docs := genDocs(200, 1)
	if url := os.Getenv("WEFT_FILTER_OPENSEARCH"); url != "" {
		recordOpenSearch(t, url, docs)
	}
	data, err := os.ReadFile(osResultsFile)
	if err != nil {
		t.Fatal(err)
	}
	var recorded struct {
		Source  string     `json:"source"`
		Corpus  string     `json:"corpus"`
		Results []osResult `json:"results"`
	}
	if err := json.Unmarshal(data, &recorded); err != nil {
		t.Fatal(err)
	}
	if fp := corpusFingerprint(t, docs); recorded.Corpus != fp {
		t.Fatalf("the generated corpus changed (%s, recorded %s): re-record (see the comment above)", fp, recorded.Corpus)
	}
	byName := map[string]osResult{}
	for _, r := range recorded.Results {
		byName[r.Name] = r
	}
	compared := 0
	for _, qc := range queryCases {
		if osSkip[qc.name] {
			continue
		}
		r, ok := byName[qc.name]
		if !ok || r.Query != osQuery(qc) {
			t.Errorf("%s: not recorded for this query; re-record (see the comment above)", qc.name)
			continue
		}
		q, err := CompileQuery(qc.query)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for i := range docs {
			if q.Match(docs[i].fields()) {
				got = append(got, docs[i].ID)
			}
		}
		if !slices.Equal(got, r.IDs) {
			t.Errorf("%s: weft selects %d documents, OpenSearch %d\n only weft %v\n only OpenSearch %v",
				qc.name, len(got), len(r.IDs), minus(got, r.IDs), minus(r.IDs, got))
		}
		compared++
	}
	if compared < 30 {
		t.Errorf("only %d queries compared", compared)
	}
}

// corpusFingerprint is a SHA-256 of the documents as JSON lines.
func corpusFingerprint(t *testing.T, docs []tdoc) string {
	h := sha256.New()
	for i := range docs {
		b, err := json.Marshal(docs[i].fields())
		if err != nil {
			t.Fatal(err)
		}
		h.Write(append(b, '\n'))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func recordOpenSearch(t *testing.T, url string, docs []tdoc) {
	call := func(method, path, body string) []byte {
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 && !(method == "DELETE" && resp.StatusCode == 404) {
			t.Fatalf("%s %s: %s: %s", method, path, resp.Status, b)
		}
		return b
	}
	const index = "weft-filter-test"
	call("DELETE", "/"+index, "")
	call("PUT", "/"+index, osMapping)
	var bulk bytes.Buffer
	for i := range docs {
		fmt.Fprintf(&bulk, `{"index": {"_id": "%d"}}`+"\n", docs[i].ID)
		b, err := json.Marshal(docs[i].fields())
		if err != nil {
			t.Fatal(err)
		}
		bulk.Write(b)
		bulk.WriteByte('\n')
	}
	if b := call("POST", "/"+index+"/_bulk?refresh=true", bulk.String()); bytes.Contains(b, []byte(`"errors":true`)) {
		t.Fatalf("bulk: %s", b)
	}
	var info struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	json.Unmarshal(call("GET", "/", ""), &info)
	var results []osResult
	for _, qc := range queryCases {
		if osSkip[qc.name] {
			continue
		}
		q := osQuery(qc)
		b := call("POST", "/"+index+"/_search", `{"size": 1000, "_source": false, "sort": [{"id": "asc"}], "query": `+q+`}`)
		var sr struct {
			Hits struct {
				Hits []struct {
					ID string `json:"_id"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(b, &sr); err != nil {
			t.Fatal(err)
		}
		ids := []int64{}
		for _, h := range sr.Hits.Hits {
			var id int64
			fmt.Sscan(h.ID, &id)
			ids = append(ids, id)
		}
		results = append(results, osResult{Name: qc.name, Query: q, IDs: ids})
	}
	out, err := json.MarshalIndent(map[string]any{
		"source":  "OpenSearch " + info.Version.Number + ": genDocs(200, 1) indexed with osMapping, each query run with _search",
		"corpus":  corpusFingerprint(t, docs),
		"results": results,
	}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(osResultsFile, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d queries from OpenSearch %s", len(results), info.Version.Number)
}
