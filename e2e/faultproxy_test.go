//go:build integration

package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultProxy is an HTTP(S) reverse proxy on 127.0.0.1 that sits between weft
// and OpenSearch. While a faultPlan is set it answers some requests itself
// (429, 503), drops connections (before or after forwarding), rejects single
// items of a bulk request the way OpenSearch does when its write queue is
// full, and delays responses. It records every request's headers.
type faultProxy struct {
	t      *testing.T
	target *url.URL
	client *http.Client
	ln     net.Listener
	srv    *http.Server
	URL    string // http://127.0.0.1:port or https://127.0.0.1:port

	mu sync.Mutex
	// stripAuth removes Authorization and X-Amz-* headers before forwarding
	// (the local OpenSearch has no security plugin).
	stripAuth bool
	// keepBodies records each request's body as received (for checking
	// signatures).
	keepBodies bool
	plan       faultPlan
	rng        *mrand.Rand
	seq        int // position in plan.Sequence
	reqs       []recordedRequest
	stats      proxyStats
}

// faultPlan says what the proxy does with each request. Probabilities are
// per request (bulk requests only unless AllPaths), tried in this order.
type faultPlan struct {
	AllPaths bool // also fault non-_bulk requests (health checks, templates...)
	// Down answers every (faulted) request with DownStatus (or drops the
	// connection when DownStatus is 0): OpenSearch is unreachable.
	Down       bool
	DownStatus int

	P429, P503 float64 // answer with this status without forwarding
	PDrop      float64 // hijack and close the connection without forwarding
	// PDropAfter forwards the request, then closes the connection instead of
	// answering: OpenSearch did the work but weft does not know it.
	PDropAfter float64
	// PPartial forwards a bulk request without ItemReject of its items and
	// answers those items with a per-item 429, as OpenSearch does.
	PPartial   float64
	ItemReject float64
	Delay      time.Duration // added before every forwarded response
	// Sequence, when set, replaces the probabilities: the k-th faulted
	// request gets Sequence[k % len] ("429", "503", "drop", "drop-after",
	// "partial", or "" to pass), so that every kind is seen in a short run.
	Sequence []string
}

type recordedRequest struct {
	Method string
	Host   string
	Path   string
	Query  string
	Header http.Header
	Body   []byte // when keepBodies
	Items  int    // bulk actions in the body (partial rejections only)
	Fault  string
}

type proxyStats struct {
	Requests, Bulk, Forwarded              int
	S429, S503, Drops, DropsAfter, Partial int
	ItemsRejected                          int
}

// newFaultProxy starts a proxy to target. tlsCert, if not nil, makes it
// serve HTTPS with that certificate.
func newFaultProxy(t *testing.T, target string, tlsCert *tls.Certificate) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{
		t:      t,
		target: u,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, ResponseHeaderTimeout: 60 * time.Second}},
		ln:     ln,
		rng:    mrand.New(mrand.NewPCG(1, 2)),
	}
	// handshake failures are expected in some tests: not logged
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	scheme := "http"
	if tlsCert != nil {
		scheme = "https"
		// HTTP/1.1 only, so that a connection can be hijacked and closed.
		p.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*tlsCert}, NextProtos: []string{"http/1.1"}}
		p.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		go p.srv.ServeTLS(ln, "", "")
	} else {
		go p.srv.Serve(ln)
	}
	p.URL = scheme + "://" + ln.Addr().String()
	t.Cleanup(func() {
		p.srv.Close()
		p.client.CloseIdleConnections()
	})
	return p
}

func (p *faultProxy) setPlan(plan faultPlan) {
	p.mu.Lock()
	p.plan, p.seq = plan, 0
	p.mu.Unlock()
}

func (p *faultProxy) recover() { p.setPlan(faultPlan{}) }

// setAuthHandling sets stripAuth and keepBodies.
func (p *faultProxy) setAuthHandling(stripAuth, keepBodies bool) {
	p.mu.Lock()
	p.stripAuth, p.keepBodies = stripAuth, keepBodies
	p.mu.Unlock()
}

func (p *faultProxy) snapshot() (proxyStats, []recordedRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats, append([]recordedRequest(nil), p.reqs...)
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	isBulk := strings.HasSuffix(r.URL.Path, "/_bulk")

	// decide
	p.mu.Lock()
	plan := p.plan
	rec := recordedRequest{Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone()}
	if p.keepBodies {
		rec.Body = body
	}
	stripAuth := p.stripAuth
	p.stats.Requests++
	if isBulk {
		p.stats.Bulk++
	}
	fault := ""
	if (isBulk || plan.AllPaths) && len(plan.Sequence) > 0 {
		fault = plan.Sequence[p.seq%len(plan.Sequence)]
		p.seq++
		if fault == "partial" && !isBulk {
			fault = ""
		}
	} else if isBulk || plan.AllPaths {
		x := p.rng.Float64()
		switch {
		case plan.Down && plan.DownStatus == 0:
			fault = "drop"
		case plan.Down:
			fault = fmt.Sprint(plan.DownStatus)
		case x < plan.P429:
			fault = "429"
		case x < plan.P429+plan.P503:
			fault = "503"
		case x < plan.P429+plan.P503+plan.PDrop:
			fault = "drop"
		case x < plan.P429+plan.P503+plan.PDrop+plan.PDropAfter:
			fault = "drop-after"
		case isBulk && x < plan.P429+plan.P503+plan.PDrop+plan.PDropAfter+plan.PPartial:
			fault = "partial"
		}
	}
	p.mu.Unlock()

	// Only a partial rejection needs the body's actions (parsing every bulk
	// in the race-instrumented test binary would slow the whole run).
	var actions []bulkAction
	if fault == "partial" {
		plain := body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				http.Error(w, "proxy: bad gzip body: "+err.Error(), 400)
				return
			}
			if plain, err = io.ReadAll(zr); err != nil {
				http.Error(w, "proxy: bad gzip body: "+err.Error(), 400)
				return
			}
		}
		actions = proxySplitBulk(plain)
		rec.Items = len(actions)
	}

	p.mu.Lock()
	var rejected []bool
	if fault == "partial" {
		rejected = make([]bool, len(actions))
		n := 0
		for i := range actions {
			if p.rng.Float64() < plan.ItemReject {
				rejected[i] = true
				n++
			}
		}
		if n == 0 && len(actions) > 0 {
			rejected[p.rng.IntN(len(actions))] = true
			n = 1
		}
		p.stats.ItemsRejected += n
		p.stats.Partial++
	}
	switch fault {
	case "429", "503", "500", "502", "504":
		if fault == "429" {
			p.stats.S429++
		} else {
			p.stats.S503++
		}
	case "drop":
		p.stats.Drops++
	case "drop-after":
		p.stats.DropsAfter++
	}
	rec.Fault = fault
	p.reqs = append(p.reqs, rec)
	p.mu.Unlock()

	switch fault {
	case "429":
		proxyWriteJSON(w, 429, `{"error":{"type":"es_rejected_execution_exception","reason":"injected by faultproxy"},"status":429}`)
		return
	case "500", "502", "503", "504":
		var code int
		fmt.Sscan(fault, &code)
		proxyWriteJSON(w, code, fmt.Sprintf(`{"error":{"type":"unavailable","reason":"injected by faultproxy"},"status":%d}`, code))
		return
	case "drop":
		proxyHijackClose(w)
		return
	}

	// forward
	outBody, gz := body, r.Header.Get("Content-Encoding") == "gzip"
	if fault == "partial" {
		var b bytes.Buffer
		for i, a := range actions {
			if !rejected[i] {
				b.Write(a.raw)
			}
		}
		outBody, gz = b.Bytes(), false
	}
	target := *p.target
	target.Path = strings.TrimSuffix(p.target.Path, "/") + r.URL.Path
	target.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), bytes.NewReader(outBody))
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	for k, vs := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
			"Content-Length", "Accept-Encoding", "Content-Encoding", "Host":
			continue
		case "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256":
			if stripAuth {
				continue
			}
		}
		out.Header[k] = vs
	}
	if gz {
		out.Header.Set("Content-Encoding", "gzip")
	}
	if fault == "partial" && len(outBody) == 0 {
		// every item rejected: nothing to forward
		p.writeBulkResponse(w, nil, actions, rejected, plan.Delay)
		return
	}
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, "proxy: "+err.Error(), 502)
		return
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, "proxy: "+err.Error(), 502)
		return
	}
	p.mu.Lock()
	p.stats.Forwarded++
	p.mu.Unlock()
	if fault == "drop-after" {
		proxyHijackClose(w)
		return
	}
	if fault == "partial" {
		if resp.StatusCode != 200 {
			time.Sleep(plan.Delay)
			proxyWriteJSON(w, resp.StatusCode, string(respBody))
			return
		}
		p.writeBulkResponse(w, respBody, actions, rejected, plan.Delay)
		return
	}
	time.Sleep(plan.Delay)
	for k, vs := range resp.Header {
		switch k {
		case "Content-Length", "Content-Encoding", "Transfer-Encoding", "Connection":
			continue
		}
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(respBody)))
	w.WriteHeader(resp.StatusCode)
	w.Write(respBody)
}

// writeBulkResponse merges OpenSearch's answer for the forwarded items with a
// per-item 429 for each rejected one, in the original order.
func (p *faultProxy) writeBulkResponse(w http.ResponseWriter, upstream []byte, actions []bulkAction, rejected []bool, delay time.Duration) {
	var up struct {
		Took  int               `json:"took"`
		Items []json.RawMessage `json:"items"`
	}
	if upstream != nil {
		if err := json.Unmarshal(upstream, &up); err != nil {
			http.Error(w, "proxy: bad bulk response: "+err.Error(), 502)
			return
		}
	}
	items := make([]json.RawMessage, 0, len(actions))
	j := 0
	for i, a := range actions {
		if rejected[i] {
			item := map[string]any{a.op: map[string]any{
				"_index": a.index, "_id": a.id, "status": 429,
				"error": map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution of item (injected by faultproxy)"},
			}}
			b, _ := json.Marshal(item)
			items = append(items, b)
			continue
		}
		if j >= len(up.Items) {
			http.Error(w, "proxy: upstream answered fewer items than forwarded", 502)
			return
		}
		items = append(items, up.Items[j])
		j++
	}
	b, _ := json.Marshal(map[string]any{"took": up.Took, "errors": true, "items": items})
	time.Sleep(delay)
	proxyWriteJSON(w, 200, string(b))
}

func proxyWriteJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(code)
	io.WriteString(w, body)
}

func proxyHijackClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("faultproxy: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST, like a crashed peer
		}
		conn.Close()
	}
}

// bulkAction is one action of a _bulk body: its lines (action line and,
// except for delete, the source line) as sent.
type bulkAction struct {
	op, index, id string
	raw           []byte
}

func proxySplitBulk(body []byte) []bulkAction {
	var out []bulkAction
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var meta map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(line, &meta); err != nil || len(meta) != 1 {
			continue // not an action line: should not happen
		}
		var a bulkAction
		for op, m := range meta {
			a.op, a.index, a.id = op, m.Index, m.ID
		}
		raw := append(append([]byte(nil), line...), '\n')
		if a.op != "delete" && sc.Scan() {
			raw = append(append(raw, sc.Bytes()...), '\n')
		}
		a.raw = raw
		out = append(out, a)
	}
	return out
}

// testCA is a self-signed certificate authority made for one test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	PEMPath string
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"weft e2e"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, PEMPath: path}
}

// serverCert issues a certificate for 127.0.0.1 and localhost.
func (ca *testCA) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano() + 1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}
}
