package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// logsAPI is the part of the CloudWatch Logs client the sink uses (tests
// and the benchmark substitute it).
type logsAPI interface {
	PutLogEvents(ctx context.Context, in *cloudwatchlogs.PutLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutLogEventsOutput, error)
	CreateLogGroup(ctx context.Context, in *cloudwatchlogs.CreateLogGroupInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error)
	CreateLogStream(ctx context.Context, in *cloudwatchlogs.CreateLogStreamInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogStreamOutput, error)
	PutRetentionPolicy(ctx context.Context, in *cloudwatchlogs.PutRetentionPolicyInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error)
}

// newClient builds the CloudWatch Logs client: the SDK's default credential
// chain (environment, shared config and credentials files, web identity /
// IRSA, container and instance roles), assuming aws.sts_role_arn when set,
// the endpoint override, the extra headers, and no SDK retries (the sink
// retries with its own backoff and counts every attempt).
func newClient(c *Config) (*cloudwatchlogs.Client, *http.Transport, error) {
	ctx := context.Background()
	a := c.AWS
	if a == nil {
		a = &AWSConfig{}
	}
	// A BuildableClient, so that the SDK can apply AWS_CA_BUNDLE / ca_bundle.
	hc := awshttp.NewBuildableClient().
		WithTimeout(c.RequestTimeout).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = min(c.RequestTimeout, 10*time.Second) }).
		WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = c.MaxInflight + 2
			t.IdleConnTimeout = 90 * time.Second
		})
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(hc),
		awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
		awsconfig.WithAppID("weft"),
	}
	if a.Region != "" {
		opts = append(opts, awsconfig.WithRegion(a.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("aws: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, nil, errors.New("aws: no region: set aws.region (or AWS_REGION)")
	}
	// The SDK configured the buildable client (CA bundle included); take
	// its transport into a client of our own, so that its idle connections
	// can be closed at shutdown.
	var tr *http.Transport
	if b, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		tr = b.GetTransport()
		cfg.HTTPClient = &http.Client{Transport: tr, Timeout: c.RequestTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if a.STSRoleARN != "" {
		p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), a.STSRoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "weft-cloudwatch-logs-sink"
			if a.STSExternalID != "" {
				o.ExternalID = aws.String(a.STSExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(p)
	}
	// Header overrides in a stable order (the signature covers them).
	names := make([]string, 0, len(c.HeaderOverrides))
	for k := range c.HeaderOverrides {
		names = append(names, k)
	}
	sort.Strings(names)
	cl := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.Retryer = aws.NopRetryer{}
		for _, k := range names {
			o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue(k, c.HeaderOverrides[k]))
		}
	})
	return cl, tr, nil
}

// errClass is what the sink does about a failed call.
type errClass int

const (
	classRetry         errClass = iota // throttling, 5xx, network: retried with backoff
	classNotFound                      // the group or stream is missing
	classAlreadyExists                 // a create found it there: fine
	classAccepted                      // DataAlreadyAcceptedException: delivered before
	classPermanent                     // refused for good: dead-lettered
)

// callError describes a failed call.
type callError struct {
	class  errClass
	result string // calls_total result label
	status int    // HTTP status, 0 without a response
	code   string // AWS error code, or network_error
	msg    string
}

// classify reads an SDK error.
func classify(err error) callError {
	ce := callError{msg: err.Error()}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		ce.status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		ce.code = ae.ErrorCode()
		if m := ae.ErrorMessage(); m != "" {
			ce.msg = m
		}
	}
	switch ce.code {
	case "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded":
		ce.class, ce.result = classRetry, "throttled"
		return ce
	case "ServiceUnavailableException", "ServiceUnavailable", "InternalFailure", "InternalServerException", "InternalError":
		ce.class, ce.result = classRetry, "server_error"
		return ce
	case "InvalidSequenceTokenException", "OperationAbortedException", "ExpiredTokenException", "RequestExpired", "RequestTimeout", "RequestTimeoutException":
		// Legacy sequence tokens, concurrent creates, credentials being
		// refreshed, clock trouble: worth another try.
		ce.class, ce.result = classRetry, "retryable_error"
		return ce
	case "ResourceNotFoundException":
		ce.class, ce.result = classNotFound, "not_found"
		return ce
	case "ResourceAlreadyExistsException":
		ce.class, ce.result = classAlreadyExists, "already_exists"
		return ce
	case "DataAlreadyAcceptedException":
		ce.class, ce.result = classAccepted, "already_accepted"
		return ce
	}
	switch {
	case ce.status == 429:
		ce.class, ce.result = classRetry, "throttled"
		if ce.code == "" {
			ce.code = "ThrottlingException"
		}
	case ce.status >= 500:
		ce.class, ce.result = classRetry, "server_error"
		if ce.code == "" || ce.code == "UnknownError" {
			ce.code = fmt.Sprintf("http_%d", ce.status)
		}
	case ce.status == 0:
		// No response: connection refused or reset, timeout, DNS, or no
		// credentials yet.
		ce.class, ce.result = classRetry, "network_error"
		if ce.code == "" {
			ce.code = "network_error"
		}
	default:
		ce.class, ce.result = classPermanent, "client_error"
		if ce.code == "" || ce.code == "UnknownError" {
			ce.code = fmt.Sprintf("http_%d", ce.status)
		}
	}
	return ce
}
