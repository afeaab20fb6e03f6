package opensearch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func serverCAFile(t *testing.T, f *fakeOS) string {
	t.Helper()
	return writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})))
}

// clientCertFiles makes a self-signed client certificate and key.
func clientCertFiles(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "weft-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, "client.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, "client-key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}

func TestTLSWithCAFile(t *testing.T) {
	f := newFakeWith(t, &tls.Config{})
	s, _ := newSink(t, f, "index: logs\nflush_timeout: 5ms\ncert: "+serverCAFile(t, f)+"\n")
	var tr tracked
	s.Write(context.Background(), tr.events(2, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 2 })
}

func TestTLSInsecure(t *testing.T) {
	f := newFakeWith(t, &tls.Config{})
	s, _ := newSink(t, f, "index: logs\nflush_timeout: 5ms\ninsecure: true\n")
	var tr tracked
	s.Write(context.Background(), tr.events(1, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 1 })
}

func TestTLSUntrustedIsAConnectionError(t *testing.T) {
	f := newFakeWith(t, &tls.Config{})
	dlq := dlqPath(t)
	s, reg := newSink(t, f, "index: logs\nflush_timeout: 5ms\nmax_retries: 0\ndlq_file: "+dlq+"\n")
	var tr tracked
	s.Write(context.Background(), tr.events(1, logEvent))
	waitFor(t, "the dead letter", func() bool { _, fail := tr.counts(); return fail == 1 })
	recs := readDLQ(t, dlq)
	if len(recs) != 1 || !strings.Contains(recs[0]["error"].(map[string]any)["reason"].(string), "certificate") {
		t.Fatalf("dead letters %v", recs)
	}
	if v := metric(reg, "weft_opensearch_bulk_requests_total", "status", "error"); v != 1 {
		t.Fatalf("requests{error} %v", v)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	f := newFakeWith(t, &tls.Config{ClientAuth: tls.RequireAnyClientCert})
	certFile, keyFile := clientCertFiles(t)
	s, _ := newSink(t, f, "index: logs\nflush_timeout: 5ms\ncert: "+serverCAFile(t, f)+"\nclient_cert: "+certFile+"\nclient_key: "+keyFile+"\n")
	var tr tracked
	s.Write(context.Background(), tr.events(1, logEvent))
	waitFor(t, "delivery", func() bool { ok, _ := tr.counts(); return ok == 1 })
	if cn := bulkRequests(f)[0].PeerCN; cn != "weft-client" {
		t.Fatalf("client certificate %q", cn)
	}
}

func TestBadClientKeyFailsAtBuild(t *testing.T) {
	certFile, _ := clientCertFiles(t)
	bad := writeFile(t, "bad.pem", "nope")
	_, _, err := newSinkErr("hosts: [https://127.0.0.1:1]\nindex: logs\nclient_cert: " + certFile + "\nclient_key: " + bad + "\n")
	if err == nil || !strings.Contains(err.Error(), "client_cert") {
		t.Fatalf("err = %v", err)
	}
}
