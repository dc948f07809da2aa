package s3remote

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/artvcs/art/repo/remote"
)

// mapErr maps an error of the store onto the remote sentinels; it is the
// one place that knows S3's error codes. The original error stays in the
// chain for errors.As.
func (t *Transport) mapErr(ctx context.Context, op, key string, err error) error {
	var ce *credentialsError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("s3remote: %s %s: %w", op, key, errors.Join(ctx.Err(), err))
	case isCode(err, "NoSuchBucket"):
		return t.noBucket(err)
	case isCode(err, "NoSuchKey", "NotFound") || isStatus(err, 404):
		if op == "stat" || op == "delete" {
			// A bare 404 from HeadObject: the key, or the bucket?
			if berr := t.checkBucket(ctx); berr != nil {
				return berr
			}
		}
		return fmt.Errorf("%w: %s", remote.ErrNotFound, key)
	case errors.As(err, &ce):
		return fmt.Errorf("%w: %s %s: no usable AWS credentials: %w", remote.ErrPermission, op, key, err)
	case isCode(err, "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
		"InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem") || isStatus(err, 403):
		return fmt.Errorf("%w: %s %s in bucket %s: %w", remote.ErrPermission, op, key, t.bucket, err)
	case isCode(err, "InvalidRange") || isStatus(err, 416):
		return fmt.Errorf("%w: %s %s: %w", remote.ErrInvalidRange, op, key, err)
	case isCode(err, "EntityTooLarge"):
		return fmt.Errorf("%w: %s %s: %w", remote.ErrTooLarge, op, key, err)
	}
	return fmt.Errorf("s3remote: %s %s in bucket %s: %w", op, key, t.bucket, err)
}

// checkBucket returns an error wrapping ErrNoSuchBucket if the bucket is
// missing. It asks the store once, until the bucket is seen to exist; an
// unclear answer (say, no permission to HeadBucket) counts as existing.
func (t *Transport) checkBucket(ctx context.Context) error {
	if t.bucketOK.Load() {
		return nil
	}
	_, err := t.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &t.bucket})
	switch {
	case err == nil:
		t.bucketOK.Store(true)
	case isCode(err, "NoSuchBucket", "NotFound") || isStatus(err, 404):
		return t.noBucket(err)
	}
	return nil
}

func (t *Transport) noBucket(err error) error {
	return fmt.Errorf("%w: s3://%s (create it first, or check the name and the endpoint): %w", ErrNoSuchBucket, t.bucket, err)
}

// isStatus reports whether err is an HTTP response with the given status.
func isStatus(err error, status int) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == status
}

// isSendError reports whether err is a request that got no response (the
// connection failed while it was sent or before its answer).
func isSendError(err error) bool {
	var se *smithyhttp.RequestSendError
	return errors.As(err, &se)
}

// isCode reports whether err is an API error with one of the codes.
func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// credentialsProvider marks errors of the credential chain, so mapErr
// can tell them from other failures before a request is sent.
type credentialsProvider struct{ p aws.CredentialsProvider }

func (c credentialsProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	cr, err := c.p.Retrieve(ctx)
	if err != nil {
		return cr, &credentialsError{err}
	}
	return cr, nil
}

// ProviderSources passes through the wrapped provider's sources, which
// the SDK reports in its user agent.
func (c credentialsProvider) ProviderSources() []aws.CredentialSource {
	if s, ok := c.p.(aws.CredentialProviderSource); ok {
		return s.ProviderSources()
	}
	return nil
}

type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }
