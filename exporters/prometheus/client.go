package prometheus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// maxResponse bounds how much of a response body is read (error messages).
const maxResponse = 64 << 10

// awsService is the SigV4 service name of Amazon Managed Service for
// Prometheus.
const awsService = "aps"

// client posts remote write requests. It never retries; the sender does.
type client struct {
	url        string
	http       *http.Client
	transport  *http.Transport
	user, pass string
	signer     *sigv4
	timeout    time.Duration
}

// sigv4 signs requests for Amazon Managed Service for Prometheus.
type sigv4 struct {
	creds  aws.CredentialsProvider
	region string
	signer *v4.Signer
	now    func() time.Time
}

func newClient(c *Config) (*client, error) {
	cl := &client{url: c.URL, timeout: c.RequestTimeout}
	if a := c.Authentication; a != nil && a.HTTPBasic != nil {
		cl.user, cl.pass = a.HTTPBasic.Username, a.HTTPBasic.Password
	}
	dialer := &net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}
	cl.transport = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   c.ConnectTimeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       c.IdleTimeout,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	cl.http = &http.Client{Transport: cl.transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	if c.AWS != nil {
		s, err := newSigV4(c.AWS, c.URL)
		if err != nil {
			return nil, err
		}
		cl.signer = s
	}
	return cl, nil
}

// newSigV4 loads credentials from the AWS SDK's default chain (environment,
// shared files, web identity / IRSA, container and instance roles),
// assuming sts_role_arn when set.
func newSigV4(a *AWSConfig, rawURL string) (*sigv4, error) {
	region := a.Region
	if region == "" {
		region = regionFromURL(rawURL)
	}
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("aws: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("aws: no region: set aws.region (or AWS_REGION)")
	}
	creds := cfg.Credentials
	if a.STSRoleARN != "" {
		p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), a.STSRoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "weft-prometheus-sink"
			if a.STSExternalID != "" {
				o.ExternalID = aws.String(a.STSExternalID)
			}
		})
		creds = aws.NewCredentialsCache(p)
	}
	return &sigv4{creds: creds, region: cfg.Region, signer: v4.NewSigner(), now: time.Now}, nil
}

// regionFromURL reads the region of an AMP workspace URL
// (aps-workspaces.<region>.amazonaws.com).
func regionFromURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 4 && parts[0] == "aps-workspaces" {
		return parts[1]
	}
	return ""
}

// sign adds the SigV4 headers (Authorization, X-Amz-Date, and
// X-Amz-Security-Token for temporary credentials) for body.
func (s *sigv4) sign(ctx context.Context, req *http.Request, body []byte) error {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("aws credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	return s.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), awsService, s.region, s.now())
}

// response is what came back for one request.
type response struct {
	status     int
	body       []byte
	retryAfter time.Duration
}

// post sends one snappy-compressed WriteRequest. An error means no HTTP
// response arrived (connection error, timeout, or ctx ended).
func (c *client) post(ctx context.Context, body []byte) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.ContentLength = int64(len(body))
	setHeaders(req.Header)
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	if c.signer != nil {
		if err := c.signer.sign(ctx, req, body); err != nil {
			return response{}, fmt.Errorf("signing the request: %w", err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil && resp.StatusCode/100 != 2 {
		return response{}, fmt.Errorf("reading the response: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	return response{status: resp.StatusCode, body: b, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}, nil
}

// setHeaders sets the headers the remote write 1.0 specification requires.
func setHeaders(h http.Header) {
	h.Set("Content-Encoding", "snappy")
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	h.Set("User-Agent", "weft")
}

// retryAfter reads a Retry-After header given in seconds or as an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func (c *client) close() { c.transport.CloseIdleConnections() }
