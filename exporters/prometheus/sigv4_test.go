package prometheus

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestSigV4ForAMP signs a remote write request with static credentials and
// checks the Authorization header's shape (service aps, the region, the
// signed headers) and its signature, recomputed here from the Signature
// Version 4 algorithm itself.
func TestSigV4ForAMP(t *testing.T) {
	signer := &sigv4{
		creds:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token"),
		region: "us-west-2", signer: v4.NewSigner(),
		now: func() time.Time { return time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC) },
	}
	body := compress(nil, appendSeries(nil, string(appendLabels(nil, Labels{{"__name__", "up"}})), []Sample{{1, 1714557600000}}))
	u := "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-1234/api/v1/remote_write"
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	setHeaders(req.Header)
	if err := signer.sign(context.Background(), req, body); err != nil {
		t.Fatal(err)
	}
	auth := req.Header.Get("Authorization")
	m := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-west-2/aps/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`).FindStringSubmatch(auth)
	if m == nil {
		t.Fatalf("Authorization header %q", auth)
	}
	signed := strings.Split(m[1], ";")
	for _, h := range []string{"host", "x-amz-date", "content-type", "content-encoding", "x-prometheus-remote-write-version", "x-amz-security-token"} {
		if !contains(signed, h) {
			t.Errorf("header %s not signed: %v", h, signed)
		}
	}
	if got := req.Header.Get("X-Amz-Date"); got != "20240501T100000Z" {
		t.Errorf("X-Amz-Date %q", got)
	}
	if got := req.Header.Get("X-Amz-Security-Token"); got != "session-token" {
		t.Errorf("X-Amz-Security-Token %q", got)
	}
	want := referenceSignature(req, signed, body, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20240501", "us-west-2", "aps")
	if m[2] != want {
		t.Errorf("signature %s, want %s", m[2], want)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// referenceSignature computes a SigV4 signature from the specification:
// canonical request, string to sign, derived key.
func referenceSignature(req *http.Request, signed []string, body []byte, secret, date, region, service string) string {
	sort.Strings(signed)
	var canon strings.Builder
	canon.WriteString(req.Method + "\n")
	canon.WriteString(escapePath(req.URL.EscapedPath()) + "\n")
	canon.WriteString(req.URL.RawQuery + "\n")
	for _, h := range signed {
		v := req.Header.Get(h)
		switch h {
		case "host":
			v = req.URL.Host
		case "content-length":
			v = fmt.Sprint(req.ContentLength)
		}
		canon.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	canon.WriteString("\n" + strings.Join(signed, ";") + "\n")
	sum := sha256.Sum256(body)
	canon.WriteString(hex.EncodeToString(sum[:]))
	crh := sha256.Sum256([]byte(canon.String()))
	scope := fmt.Sprintf("%s/%s/%s/aws4_request", date, region, service)
	sts := "AWS4-HMAC-SHA256\n" + req.Header.Get("X-Amz-Date") + "\n" + scope + "\n" + hex.EncodeToString(crh[:])
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+secret), date)
	k = mac(k, region)
	k = mac(k, service)
	k = mac(k, "aws4_request")
	return hex.EncodeToString(mac(k, sts))
}

// escapePath URI-encodes each path segment again, as SigV4 does for every
// service except S3.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(url.PathEscape(s), "%2F", "/")
	}
	return strings.Join(parts, "/")
}

// TestSigV4Sink checks that the sink signs what it sends (the receiver sees
// the aps signature) when the aws block is set.
func TestSigV4Sink(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	c := NewConfig()
	c.URL = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"
	c.AWS = &AWSConfig{}
	cl, err := newClient(c)
	if err != nil {
		t.Fatal(err)
	}
	if cl.signer == nil || cl.signer.region != "eu-west-1" {
		t.Fatalf("signer %+v (region from the URL)", cl.signer)
	}
	req, _ := http.NewRequest(http.MethodPost, c.URL, nil)
	if err := cl.signer.sign(context.Background(), req, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if a := req.Header.Get("Authorization"); !strings.Contains(a, "/eu-west-1/aps/aws4_request") {
		t.Errorf("Authorization %q", a)
	}
}
