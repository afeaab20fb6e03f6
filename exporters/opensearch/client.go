package opensearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/opensearch-project/opensearch-go/v4/signer"
	"github.com/opensearch-project/opensearch-go/v4/signer/awsv2"
)

// maxResponse bounds how much of a response body is read.
const maxResponse = 64 << 20

// client sends requests to the first reachable host. It never retries on
// its own except for failing over to the next host on a connection error;
// retry policy is the caller's.
type client struct {
	hosts         []*url.URL
	cur           atomic.Int32 // index of the host that answered last
	http          *http.Client
	transport     *http.Transport
	user, pass    string
	signer        signer.Signer
	socketTimeout time.Duration
	userAgent     string
}

// connError is a request that got no HTTP response from any host.
type connError struct {
	err error
}

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

func newClient(c *Config) (*client, error) {
	cl := &client{user: c.Username, pass: c.Password, socketTimeout: c.SocketTimeout, userAgent: "weft"}
	for _, h := range c.Hosts {
		u, err := url.Parse(strings.TrimRight(h, "/"))
		if err != nil {
			return nil, fmt.Errorf("host %q: %w", h, err)
		}
		cl.hosts = append(cl.hosts, u)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.Insecure} //nolint:gosec // the user's explicit choice
	if c.Cert != "" {
		pem, err := os.ReadFile(c.Cert)
		if err != nil {
			return nil, fmt.Errorf("cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cert: %s holds no PEM certificate", c.Cert)
		}
		tlsCfg.RootCAs = pool
	}
	if c.ClientCert != "" {
		pair, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client_cert/client_key: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{pair}
	}
	dialer := &net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}
	cl.transport = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   c.ConnectTimeout,
		MaxIdleConnsPerHost:   c.MaxInflight + 2,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	cl.http = &http.Client{Transport: cl.transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	if c.AWS != nil {
		s, err := newSigner(c.AWS)
		if err != nil {
			return nil, err
		}
		cl.signer = s
	}
	return cl, nil
}

// newSigner builds a SigV4 signer over the AWS SDK's default credential
// chain (environment, shared config and credentials files, web identity /
// IRSA, container and instance roles), assuming sts_role_arn when set.
func newSigner(a *AWSConfig) (signer.Signer, error) {
	ctx := context.Background()
	var opts []func(*awsconfig.LoadOptions) error
	if a.Region != "" {
		opts = append(opts, awsconfig.WithRegion(a.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("aws: no region: set aws.region (or AWS_REGION)")
	}
	if a.STSRoleARN != "" {
		p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), a.STSRoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "weft-opensearch-sink"
		})
		cfg.Credentials = aws.NewCredentialsCache(p)
	}
	service := "es"
	if a.Serverless {
		service = "aoss"
	}
	return awsv2.NewSignerWithService(cfg, service)
}

// request is one HTTP request to send.
type request struct {
	method string
	path   string // with query
	body   []byte
	gzip   bool   // body is gzip-compressed
	ctype  string // Content-Type (default application/json)
}

// trackedBody lets the caller know when the transport is done with the
// request body, so its buffer can be reused (the transport may still read
// it after the response arrived).
type trackedBody struct {
	*bytes.Reader
	wg   *sync.WaitGroup
	once sync.Once
}

func (b *trackedBody) Close() error {
	b.once.Do(b.wg.Done)
	return nil
}

// do sends req to the current host and, on a connection error, to each next
// host in turn. It returns the status and appends the response body to out.
// A *connError means no host answered; a ctx error means the caller gave up.
func (c *client) do(ctx context.Context, req request, out *[]byte) (status int, host string, err error) {
	var errs []error
	n := len(c.hosts)
	start := int(c.cur.Load())
	for i := 0; i < n; i++ {
		idx := (start + i) % n
		h := c.hosts[idx]
		status, err = c.once(ctx, h, req, out)
		if err == nil {
			if i > 0 {
				c.cur.Store(int32(idx))
			}
			return status, h.Host, nil
		}
		if ctx.Err() != nil {
			return 0, h.Host, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("%s: %w", h.Host, err))
	}
	// Start from the next host next time.
	c.cur.CompareAndSwap(int32(start), int32((start+1)%n))
	return 0, "", &connError{err: errors.Join(errs...)}
}

func (c *client) once(ctx context.Context, h *url.URL, r request, out *[]byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.socketTimeout)
	defer cancel()
	u := h.String() + r.path
	var body io.ReadCloser
	var wg sync.WaitGroup
	if r.body != nil {
		wg.Add(1)
		body = &trackedBody{Reader: bytes.NewReader(r.body), wg: &wg}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return 0, err
	}
	if r.body != nil {
		req.ContentLength = int64(len(r.body))
		buf := r.body
		req.GetBody = func() (io.ReadCloser, error) {
			wg.Add(1)
			return &trackedBody{Reader: bytes.NewReader(buf), wg: &wg}, nil
		}
		ct := r.ctype
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
		if r.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	if c.signer != nil {
		if err := c.signer.SignRequest(req); err != nil {
			if body != nil {
				body.Close()
			}
			return 0, fmt.Errorf("signing the request: %w", err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		wg.Wait()
		return 0, err
	}
	b := (*out)[:0]
	b, rerr := readAll(b, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	*out = b
	wg.Wait()
	if rerr != nil {
		return 0, fmt.Errorf("reading the response: %w", rerr)
	}
	return resp.StatusCode, nil
}

// readAll appends r's content to b.
func readAll(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				return b, nil
			}
			return b, err
		}
	}
}

func (c *client) close() {
	c.transport.CloseIdleConnections()
}
