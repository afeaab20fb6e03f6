package sinkcore

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestDLQWritesNDJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dlq.ndjson")
	q, err := OpenDLQ(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	err = q.Write([]DeadLetter{{
		Document: []byte(`{"msg":"a \"quoted\" line","n":1}`),
		Fields:   []Field{{"index", "logs-2024.05.01"}},
		Status:   400, Type: "mapper_parsing_exception", Reason: "failed to parse field [n]\n", Time: at,
	}, {
		Fields: []Field{{"log_group", "/aws/x"}, {"log_stream", "pod/c"}},
		Type:   "connection_error", Reason: "dial tcp: refused",
	}})
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	// Reopening appends.
	q, err = OpenDLQ(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Write([]DeadLetter{{Document: []byte(`{}`), Status: 409, Type: "t", Reason: "r"}}); err != nil {
		t.Fatal(err)
	}
	q.Close()
	if err := q.Write([]DeadLetter{{}}); err == nil {
		t.Fatal("Write after Close succeeded")
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	doc := r["document"].(map[string]any)
	if doc["msg"] != `a "quoted" line` || r["index"] != "logs-2024.05.01" || r["status"] != 400.0 ||
		r["time"] != "2024-05-01T10:00:00.123456789Z" {
		t.Fatalf("record 0: %v", r)
	}
	e := r["error"].(map[string]any)
	if e["type"] != "mapper_parsing_exception" || e["reason"] != "failed to parse field [n]\n" {
		t.Fatalf("error: %v", e)
	}
	if recs[1]["document"] != nil || recs[1]["log_group"] != "/aws/x" || recs[1]["log_stream"] != "pod/c" || recs[1]["status"] != 0.0 {
		t.Fatalf("record 1: %v", recs[1])
	}
	if _, err := time.Parse(time.RFC3339Nano, recs[1]["time"].(string)); err != nil {
		t.Fatal(err)
	}
	if recs[2]["status"] != 409.0 {
		t.Fatalf("record 2: %v", recs[2])
	}
}

func TestDLQConcurrentWritesKeepLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dlq.ndjson")
	q, err := OpenDLQ(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				q.Write([]DeadLetter{{Document: []byte(`{"a":1}`), Type: "x"}, {Document: []byte(`{"b":2}`), Type: "y"}})
			}
		}()
	}
	wg.Wait()
	q.Close()
	data, _ := os.ReadFile(path)
	n := 0
	sc := bufio.NewScanner(bytesReader(data))
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("invalid line %q", sc.Text())
		}
		n++
	}
	if n != 200 {
		t.Fatalf("%d lines, want 200", n)
	}
}
