// Package listen holds what network sources share: TLS settings, request
// authentication in Data Prepper's YAML shape, and bounded request bodies
// (size limits that also hold after gzip decompression).
package listen

import (
	"compress/gzip"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// TLS is the TLS part of a source's options, with Data Prepper's names.
type TLS struct {
	Enabled  bool   `yaml:"ssl" doc:"serve TLS"`
	CertFile string `yaml:"ssl_certificate_file" doc:"PEM certificate chain (with ssl)"`
	KeyFile  string `yaml:"ssl_key_file" doc:"PEM private key (with ssl)"`
	ClientCA string `yaml:"ssl_client_ca" doc:"PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS)"`
}

// Validate checks the TLS options belong together.
func (t *TLS) Validate() error {
	if !t.Enabled {
		return nil
	}
	if t.CertFile == "" || t.KeyFile == "" {
		return errors.New("ssl needs ssl_certificate_file and ssl_key_file")
	}
	return nil
}

// Config returns the server TLS configuration, or nil when TLS is off.
func (t *TLS) Config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCA != "" {
		pem, err := os.ReadFile(t.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("reading ssl_client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ssl_client_ca %s holds no PEM certificate", t.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Auth is Data Prepper's `authentication` block: exactly one of
// http_basic, bearer_token (weft) or unauthenticated.
type Auth struct {
	Basic *struct {
		Username string `yaml:"username" required:"true" doc:"user name clients must send"`
		Password string `yaml:"password" required:"true" secret:"true" doc:"password clients must send"`
	} `yaml:"http_basic" doc:"require HTTP basic authentication"`
	Bearer *struct {
		Token string `yaml:"token" required:"true" secret:"true" doc:"token clients must send as Authorization: Bearer <token>"`
	} `yaml:"bearer_token" doc:"require a bearer token"`
	Unauthenticated *struct{} `yaml:"unauthenticated" doc:"accept every request (the default)"`
}

// Validate checks that at most one method is chosen.
func (a *Auth) Validate() error {
	n := 0
	for _, set := range []bool{a.Basic != nil, a.Bearer != nil, a.Unauthenticated != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return errors.New("choose one of http_basic, bearer_token or unauthenticated")
	}
	return nil
}

// Check reports whether the request's Authorization header satisfies a.
// Comparisons are constant-time.
func (a *Auth) Check(header string) bool {
	switch {
	case a == nil:
		return true
	case a.Basic != nil:
		r := http.Request{Header: http.Header{"Authorization": []string{header}}}
		u, p, ok := r.BasicAuth()
		return ok && subtle.ConstantTimeCompare([]byte(u), []byte(a.Basic.Username)) == 1 &&
			subtle.ConstantTimeCompare([]byte(p), []byte(a.Basic.Password)) == 1
	case a.Bearer != nil:
		tok, ok := strings.CutPrefix(header, "Bearer ")
		return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(a.Bearer.Token)) == 1
	}
	return true
}

// Scheme is the WWW-Authenticate challenge for a 401.
func (a *Auth) Scheme() string {
	switch {
	case a != nil && a.Basic != nil:
		return `Basic realm="weft"`
	case a != nil && a.Bearer != nil:
		return `Bearer realm="weft"`
	}
	return ""
}

// ErrTooLarge is returned when a body exceeds its limit, compressed or not.
var ErrTooLarge = errors.New("request body too large")

// ReadBody reads a request body of at most limit bytes after decoding its
// Content-Encoding (gzip or identity), so a gzip bomb is cut off at limit.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	var body io.Reader = io.LimitReader(r.Body, limit+1)
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(body)
		if err != nil {
			return nil, fmt.Errorf("invalid gzip body: %w", err)
		}
		defer gz.Close()
		body = gz
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q", enc)
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("invalid gzip body: %w", err)
		}
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, ErrTooLarge
	}
	return data, nil
}
