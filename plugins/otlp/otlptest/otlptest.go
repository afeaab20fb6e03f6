// Package otlptest has helpers for tests of OTLP receivers: a throw-away
// certificate authority, gzip bombs and a gRPC client that sends raw bytes.
package otlptest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
)

// Certs are PEM files of a test CA, a server certificate for 127.0.0.1 and
// localhost, and a client certificate, all signed by the CA.
type Certs struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	// Pool holds the CA, for clients.
	Pool *x509.CertPool
	// Client is the client key pair.
	Client tls.Certificate
}

// NewCerts writes a fresh CA and certificates into dir.
func NewCerts(t testing.TB, dir string) *Certs {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "weft test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	c := &Certs{CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"), Pool: x509.NewCertPool()}
	writePEM(t, c.CA, "CERTIFICATE", caDER)
	c.Pool.AddCert(caCert)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, certFile, keyFile string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	}
	issue(2, "weft server", x509.ExtKeyUsageServerAuth, c.ServerCert, c.ServerKey)
	issue(3, "weft client", x509.ExtKeyUsageClientAuth, c.ClientCert, c.ClientKey)
	var err2 error
	c.Client, err2 = tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
	if err2 != nil {
		t.Fatal(err2)
	}
	return c
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// GzipBomb returns a gzip body that decompresses to n zero bytes (rounded
// up to 16 MiB), built as repeated gzip members so that making it is cheap:
// 1 GiB of zeros costs about 1 MiB.
func GzipBomb(t testing.TB, n int64) []byte {
	t.Helper()
	const chunk = 16 << 20
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	if _, err := zw.Write(make([]byte, chunk)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	var out bytes.Buffer
	for done := int64(0); done < n; done += chunk {
		out.Write(member.Bytes())
	}
	return out.Bytes()
}

// rawCodec sends []byte as they are and decodes responses into *[]byte.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// InvokeRaw calls a unary gRPC method with body as the request message
// bytes (for malformed protobuf) and returns the response bytes.
func InvokeRaw(ctx context.Context, cc *grpc.ClientConn, method string, body []byte, opts ...grpc.CallOption) ([]byte, error) {
	var resp []byte
	err := cc.Invoke(ctx, method, body, &resp, append(opts, grpc.ForceCodecV2(rawCodec{}))...)
	return resp, err
}
