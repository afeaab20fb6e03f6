// Package selfmetrics reads weft's own metrics — what the admin server's
// /metrics serves — for components that forward them (the weft_metrics
// source and the prometheus sink's source: gatherer): in process through
// the host's gatherer when the agent hands it over, else over HTTP in the
// protobuf exposition format, with include/exclude glob filters on family
// names.
package selfmetrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// DefaultURL is the admin server's /metrics at its default address.
const DefaultURL = "http://127.0.0.1:4900/metrics"

// GathererHost is implemented by a pipelines.Host that hands components the
// agent's metric registries (pipelines.Graph does).
type GathererHost interface {
	Gatherer() prometheus.Gatherer
}

// acceptProto asks /metrics for the delimited protobuf format (exact
// values, no text parsing), falling back to text.
const acceptProto = `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3`

// Reader reads weft's metric families. It is safe for concurrent use.
type Reader struct {
	in   prometheus.Gatherer // in process, or nil
	url  string
	http *http.Client
}

// NewReader reads url when it is set; else the host's gatherer when host
// (a pipelines.Host) has one; else DefaultURL. timeout bounds an HTTP
// reading.
func NewReader(host any, url string, timeout time.Duration) *Reader {
	r := &Reader{url: url, http: &http.Client{Timeout: timeout}}
	if r.url == "" {
		if h, ok := host.(GathererHost); ok && h.Gatherer() != nil {
			r.in = h.Gatherer()
		} else {
			r.url = DefaultURL
		}
	}
	return r
}

// InProcess reports whether the metrics are read in process.
func (r *Reader) InProcess() bool { return r.in != nil }

// Read returns the metric families. With an error it may still return the
// families it could read.
func (r *Reader) Read(ctx context.Context) ([]*dto.MetricFamily, error) {
	if r.in != nil {
		return r.in.Gather()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptProto)
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", r.url, resp.StatusCode)
	}
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	var out []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("GET %s: %w", r.url, err)
		}
		out = append(out, mf)
	}
}

// Filter selects metric families by name with glob patterns (path.Match).
type Filter struct {
	Include []string // empty: every family
	Exclude []string
}

// Check reports the first pattern that is not a valid glob.
func (f Filter) Check() error {
	for _, p := range append(append([]string(nil), f.Include...), f.Exclude...) {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("%q is not a glob pattern: %v", p, err)
		}
	}
	return nil
}

// Wanted reports whether a family named name passes the filter.
func (f Filter) Wanted(name string) bool {
	if len(f.Include) > 0 {
		ok := false
		for _, p := range f.Include {
			if m, _ := path.Match(p, name); m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, p := range f.Exclude {
		if m, _ := path.Match(p, name); m {
			return false
		}
	}
	return true
}

// Every calls read every interval until stop is closed. The context read
// gets is cancelled when stop closes, so a reading, or a write blocked on
// a full buffer, ends with it.
func Every(stop <-chan struct{}, interval time.Duration, read func(context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			read(ctx)
		}
	}
}
