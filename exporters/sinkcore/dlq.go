package sinkcore

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/weft-agent/weft/pipelines/event"
)

// DeadLetter is one document a destination refused for good.
//
// It is written as one JSON line:
//
//	{"document":{...},"index":"logs-2024.05.01","status":400,
//	 "error":{"type":"mapper_parsing_exception","reason":"..."},"time":"2024-05-01T10:00:00.123456789Z"}
//
// where the keys between "document" and "status" are the destination fields
// (Fields, in order: "index" for OpenSearch, log group and stream for
// CloudWatch Logs).
type DeadLetter struct {
	// Document is the document's JSON (nil writes null).
	Document []byte
	// Fields name where the document was going.
	Fields []Field
	// Status is the destination's status code for the document (0 when it
	// was never answered: a connection error, or refused before sending).
	Status int
	// Type is a short machine-readable error type; Reason explains it.
	Type   string
	Reason string
	// Time is when it was dead-lettered (zero: now).
	Time time.Time
}

// Field is a destination field of a dead letter.
type Field struct {
	Key   string
	Value string
}

// AppendJSON appends the dead letter as one JSON object (no newline).
func (d *DeadLetter) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"document":`...)
	if len(d.Document) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, d.Document...)
	}
	for _, f := range d.Fields {
		dst = append(dst, ',')
		dst = event.AppendJSON(dst, f.Key)
		dst = append(dst, ':')
		dst = event.AppendJSON(dst, f.Value)
	}
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(d.Status), 10)
	dst = append(dst, `,"error":{"type":`...)
	dst = event.AppendJSON(dst, d.Type)
	dst = append(dst, `,"reason":`...)
	dst = event.AppendJSON(dst, d.Reason)
	dst = append(dst, `},"time":"`...)
	t := d.Time
	if t.IsZero() {
		t = time.Now()
	}
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `"}`...)
}

// DLQ appends dead letters to an NDJSON file. Each Write is one write(2)
// followed by fsync, so a batch of dead letters is on disk before the
// documents are counted as dead-lettered. It is safe for concurrent use.
type DLQ struct {
	path string

	mu  sync.Mutex
	f   *os.File
	buf []byte
}

// OpenDLQ opens (creating it and its directory if needed) the file for
// appending.
func OpenDLQ(path string) (*DLQ, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("dead-letter file %s: creating the directory: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	return &DLQ{path: path, f: f}, nil
}

// Path returns the file's path.
func (q *DLQ) Path() string { return q.path }

// Write appends the dead letters and syncs the file.
func (q *DLQ) Write(recs []DeadLetter) error {
	if len(recs) == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return fmt.Errorf("dead-letter file %s is closed", q.path)
	}
	buf := q.buf[:0]
	now := time.Now()
	for i := range recs {
		r := recs[i]
		if r.Time.IsZero() {
			r.Time = now
		}
		buf = r.AppendJSON(buf)
		buf = append(buf, '\n')
	}
	_, err := q.f.Write(buf)
	if cap(buf) <= 1<<20 {
		q.buf = buf[:0]
	} else {
		q.buf = nil
	}
	if err != nil {
		return fmt.Errorf("writing dead letters to %s: %w", q.path, err)
	}
	if err := q.f.Sync(); err != nil {
		return fmt.Errorf("syncing dead letters to %s: %w", q.path, err)
	}
	return nil
}

// Close closes the file; later writes fail.
func (q *DLQ) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return nil
	}
	err := q.f.Close()
	q.f = nil
	return err
}
