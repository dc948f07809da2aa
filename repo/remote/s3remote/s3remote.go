package s3remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/artvcs/art/repo/remote"
)

// ErrNoSuchBucket is returned (wrapped, with the bucket's name) by every
// method when the remote's bucket does not exist.
var ErrNoSuchBucket = errors.New("S3 bucket does not exist")

const (
	// DefaultPartSize is the default multipart threshold and part size.
	DefaultPartSize = 16 << 20
	// MinPartSize and MaxPartSize are S3's bounds on a part.
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	// MaxObjectSize is S3's limit on one object (5 TiB).
	MaxObjectSize = 5 << 40
	// maxParts is S3's limit on the parts of one upload.
	maxParts = 10000
	// defaultRegion is used when no region is configured.
	defaultRegion = "us-east-1"
)

// Options configure New. Empty fields come from the AWS environment and
// config files.
type Options struct {
	// Bucket is required.
	Bucket string
	// Prefix is the folder of the remote inside the bucket ("" for the
	// bucket's root): key K is stored as Prefix/K. Its segments follow
	// remote.ValidateKey.
	Prefix string
	// Endpoint overrides AWS_ENDPOINT_URL, for an S3-compatible store.
	Endpoint string
	// Region overrides AWS_REGION and the config files; without either it
	// is us-east-1.
	Region string
	// AccessKey and SecretKey, if set, replace the credential chain.
	AccessKey, SecretKey string
	// PartSize is the size above which PutIfAbsent uploads in parts, and
	// the part size (one part is held in memory per upload); 0 means
	// DefaultPartSize. Objects above 10000 parts use larger parts.
	PartSize int64
}

// Transport is a remote.Transport on an S3 bucket; see the package doc.
type Transport struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or ending in "/"
	partSize int64
	// bucketOK is set once the bucket is known to exist, so a bare 404
	// from HeadObject means the key is missing.
	bucketOK atomic.Bool
}

var (
	_ remote.Transport = (*Transport)(nil)
	_ remote.Opener    = Open
)

// Open returns a transport for s3://bucket/prefix, configured from the
// AWS environment.
func Open(ctx context.Context, u *url.URL) (remote.Transport, error) {
	if u.Scheme != "s3" {
		return nil, fmt.Errorf("%w: s3remote cannot open scheme %q", remote.ErrUnsupportedURL, u.Scheme)
	}
	if u.Host == "" || u.User != nil || u.Port() != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: want s3://bucket/prefix, got %q", remote.ErrUnsupportedURL, u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: s3 URL with a query or fragment (configure the endpoint with AWS_ENDPOINT_URL): %q", remote.ErrUnsupportedURL, u.Redacted())
	}
	t, err := New(ctx, Options{Bucket: u.Host, Prefix: u.Path})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// New returns a transport on o.Bucket. It loads the AWS configuration but
// does not contact the store.
func New(ctx context.Context, o Options) (*Transport, error) {
	if o.Bucket == "" {
		return nil, fmt.Errorf("%w: s3 remote without a bucket", remote.ErrUnsupportedURL)
	}
	prefix := strings.Trim(o.Prefix, "/")
	if prefix != "" {
		if err := remote.ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("%w: bucket prefix %q: %v", remote.ErrUnsupportedURL, o.Prefix, err)
		}
		prefix += "/"
	}
	partSize := o.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize || partSize > MaxPartSize {
		return nil, fmt.Errorf("s3remote: part size %d outside S3's bounds [%d, %d]", partSize, MinPartSize, MaxPartSize)
	}

	var lo []func(*config.LoadOptions) error
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	if o.Endpoint != "" {
		lo = append(lo, config.WithBaseEndpoint(o.Endpoint))
	}
	if o.AccessKey != "" || o.SecretKey != "" {
		lo = append(lo, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("s3remote: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	if cfg.Credentials != nil {
		cfg.Credentials = credentialsProvider{cfg.Credentials}
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		// Not a debug line on stderr for each object without a checksum.
		so.DisableLogOutputChecksumValidationSkipped = true
		if so.BaseEndpoint == nil || *so.BaseEndpoint == "" {
			return
		}
		// An S3-compatible store: bucket in the path, not the host name,
		// and no checksums the API does not require, unless the
		// environment asks for them (LoadDefaultConfig does not tell a
		// configured value from its default).
		so.UsePathStyle = true
		if os.Getenv("AWS_REQUEST_CHECKSUM_CALCULATION") == "" {
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}
		if os.Getenv("AWS_RESPONSE_CHECKSUM_VALIDATION") == "" {
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	return &Transport{client: client, bucket: o.Bucket, prefix: prefix, partSize: partSize}, nil
}

// objectKey validates key and returns its name in the bucket.
func (t *Transport) objectKey(key string) (string, error) {
	if err := remote.ValidateKey(key); err != nil {
		return "", err
	}
	return t.prefix + key, nil
}

// Stat is HeadObject.
func (t *Transport) Stat(ctx context.Context, key string) (remote.Info, error) {
	ok, err := t.objectKey(key)
	if err != nil {
		return remote.Info{}, err
	}
	out, err := t.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &t.bucket, Key: &ok})
	if err != nil {
		return remote.Info{}, t.mapErr(ctx, "stat", key, err)
	}
	t.bucketOK.Store(true)
	if out.ContentLength == nil {
		return remote.Info{}, fmt.Errorf("%w: HEAD %s without a Content-Length", remote.ErrBadResponse, key)
	}
	return remote.Info{Key: key, Size: *out.ContentLength, ETag: aws.ToString(out.ETag), ModTime: aws.ToTime(out.LastModified)}, nil
}

// Get is GetObject; the reader checks the body against Content-Length.
func (t *Transport) Get(ctx context.Context, key string) (io.ReadCloser, remote.Info, error) {
	ok, err := t.objectKey(key)
	if err != nil {
		return nil, remote.Info{}, err
	}
	out, err := t.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &t.bucket, Key: &ok})
	if err != nil {
		return nil, remote.Info{}, t.mapErr(ctx, "get", key, err)
	}
	if out.ContentLength == nil || *out.ContentLength < 0 {
		out.Body.Close()
		return nil, remote.Info{}, fmt.Errorf("%w: GET %s without a Content-Length", remote.ErrBadResponse, key)
	}
	in := remote.Info{Key: key, Size: *out.ContentLength, ETag: aws.ToString(out.ETag), ModTime: aws.ToTime(out.LastModified)}
	return remote.NewSizedReader(out.Body, "s3remote", key, in.Size), in, nil
}

// PutIfAbsent reads exactly size bytes of r and stores them unless the
// key exists: in one conditional PutObject up to the part size, else in a
// multipart upload completed conditionally.
func (t *Transport) PutIfAbsent(ctx context.Context, key string, r io.Reader, size int64) error {
	ok, err := t.objectKey(key)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("s3remote: put %s: negative size %d", key, size)
	}
	if size > MaxObjectSize {
		return fmt.Errorf("%w: %s: %d bytes is above S3's object size limit of %d", remote.ErrTooLarge, key, size, int64(MaxObjectSize))
	}
	if size > t.partSize {
		return t.putMultipart(ctx, key, ok, r, size)
	}
	buf := make([]byte, size)
	if err := readFull(ctx, r, buf, 0, size); err != nil {
		return fmt.Errorf("s3remote: put %s: %w", key, err)
	}
	if err := checkEnd(r, size); err != nil {
		return fmt.Errorf("s3remote: put %s: %w", key, err)
	}
	for attempt := 0; ; attempt++ {
		_, err := t.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        &t.bucket,
			Key:           &ok,
			Body:          bytes.NewReader(buf),
			ContentLength: aws.Int64(size),
			IfNoneMatch:   aws.String("*"),
		})
		switch {
		case err == nil:
			return nil
		case isStatus(err, 412):
			return fmt.Errorf("%w: %s", remote.ErrExists, key)
		case isStatus(err, 409) && attempt < 3:
			// A concurrent conditional write of the key: S3 asks for a
			// retry, which then sees the key if the other one won.
			if err := sleep(ctx, time.Duration(50<<attempt)*time.Millisecond); err != nil {
				return err
			}
		default:
			return t.mapErr(ctx, "put", key, err)
		}
	}
}

// putMultipart uploads size bytes of r in parts, one part in memory at a
// time, and completes the upload with If-None-Match: *. Steps:
//
//  1. HeadObject: an existing key returns remote.ErrExists before any
//     upload (the common case of a resumed push);
//  2. CreateMultipartUpload, then UploadPart for each part read from r;
//  3. check r holds nothing more, then CompleteMultipartUpload with
//     If-None-Match: *, which refuses (412) if the key appeared meanwhile.
//
// On every failure, including a refused completion, the upload is
// aborted, with a context that outlives ctx's cancellation.
func (t *Transport) putMultipart(ctx context.Context, key, ok string, r io.Reader, size int64) (err error) {
	if _, err := t.Stat(ctx, key); err == nil {
		return fmt.Errorf("%w: %s", remote.ErrExists, key)
	} else if !errors.Is(err, remote.ErrNotFound) {
		return err
	}
	partSize := t.partSize
	if n := (size + partSize - 1) / partSize; n > maxParts {
		const mib = 1 << 20
		partSize = ((size+maxParts-1)/maxParts + mib - 1) / mib * mib
	}
	created, err := t.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &t.bucket, Key: &ok})
	if err != nil {
		return t.mapErr(ctx, "put", key, err)
	}
	uploadID := created.UploadId
	done := false
	defer func() {
		if done {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, aerr := t.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &t.bucket, Key: &ok, UploadId: uploadID}); aerr != nil {
			err = errors.Join(err, fmt.Errorf("s3remote: abort upload of %s: %w", key, aerr))
		}
	}()

	buf := make([]byte, min(partSize, size))
	var parts []types.CompletedPart
	for off, num := int64(0), int32(1); off < size; num++ {
		n := min(partSize, size-off)
		if err := readFull(ctx, r, buf[:n], off, size); err != nil {
			return fmt.Errorf("s3remote: put %s: %w", key, err)
		}
		out, err := t.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        &t.bucket,
			Key:           &ok,
			UploadId:      uploadID,
			PartNumber:    aws.Int32(num),
			Body:          bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(n),
		})
		if err != nil {
			return t.mapErr(ctx, "put", key, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		off += n
	}
	if err := checkEnd(r, size); err != nil {
		return fmt.Errorf("s3remote: put %s: %w", key, err)
	}
	_, err = t.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &t.bucket,
		Key:             &ok,
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     aws.String("*"),
	})
	switch {
	case err == nil:
		done = true
		return nil
	case isStatus(err, 412):
		return fmt.Errorf("%w: %s", remote.ErrExists, key)
	case isStatus(err, 409):
		// A concurrent write of the key; the parts cannot be sent again
		// (r is consumed). If the key is there now, it exists.
		if _, serr := t.Stat(ctx, key); serr == nil {
			return fmt.Errorf("%w: %s", remote.ErrExists, key)
		}
		return fmt.Errorf("s3remote: put %s: conflicting concurrent write, retry: %w", key, err)
	default:
		return t.mapErr(ctx, "put", key, err)
	}
}

// CompareAndSwap is PutObject with If-Match: etag, or If-None-Match: * to
// create; a failed condition is remote.ErrConflict.
func (t *Transport) CompareAndSwap(ctx context.Context, key, etag string, data []byte) (string, error) {
	ok, err := t.objectKey(key)
	if err != nil {
		return "", err
	}
	in := &s3.PutObjectInput{
		Bucket:        &t.bucket,
		Key:           &ok,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if etag == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	out, err := t.client.PutObject(ctx, in)
	if err != nil {
		if isStatus(err, 412) || isStatus(err, 409) || etag != "" && isCode(err, "NoSuchKey") {
			return "", fmt.Errorf("%w: %s is not at ETag %q", remote.ErrConflict, key, etag)
		}
		return "", t.mapErr(ctx, "swap", key, err)
	}
	if out.ETag == nil || *out.ETag == "" {
		return "", fmt.Errorf("%w: PUT %s returned no ETag", remote.ErrBadResponse, key)
	}
	return *out.ETag, nil
}

// List pages through ListObjectsV2 under the prefix, skipping objects
// whose names are not keys (written by something else).
func (t *Transport) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if err := remote.ValidatePrefix(prefix); err != nil {
		return err
	}
	in := &s3.ListObjectsV2Input{Bucket: &t.bucket}
	if p := t.prefix + prefix; p != "" {
		in.Prefix = aws.String(p)
	}
	pages := s3.NewListObjectsV2Paginator(t.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return t.mapErr(ctx, "list", prefix, err)
		}
		for _, o := range page.Contents {
			name := aws.ToString(o.Key)
			key, found := strings.CutPrefix(name, t.prefix)
			if !found || !strings.HasPrefix(key, prefix) || remote.ValidateKey(key) != nil {
				continue
			}
			if o.Size == nil {
				return fmt.Errorf("%w: listing of %s without a size", remote.ErrBadResponse, key)
			}
			if err := fn(remote.Info{Key: key, Size: *o.Size, ETag: aws.ToString(o.ETag), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete is HeadObject (S3 deletes a missing key without complaint) then
// DeleteObject.
func (t *Transport) Delete(ctx context.Context, key string) error {
	ok, err := t.objectKey(key)
	if err != nil {
		return err
	}
	if _, err := t.Stat(ctx, key); err != nil {
		return err
	}
	if _, err := t.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &t.bucket, Key: &ok}); err != nil {
		return t.mapErr(ctx, "delete", key, err)
	}
	return nil
}

// Close does nothing: the SDK client needs no closing.
func (t *Transport) Close() error { return nil }

// readFull fills buf from r (which is at offset off of size bytes),
// checking ctx between reads. r ending early wraps io.ErrUnexpectedEOF;
// r's own error is wrapped.
func readFull(ctx context.Context, r io.Reader, buf []byte, off, size int64) error {
	for n := 0; n < len(buf); {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := r.Read(buf[n:min(len(buf), n+1<<20)])
		n += m
		if err == io.EOF && n < len(buf) {
			return fmt.Errorf("reader ended after %d of %d bytes: %w", off+int64(n), size, io.ErrUnexpectedEOF)
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading content after %d of %d bytes: %w", off+int64(n), size, err)
		}
	}
	return ctx.Err()
}

// checkEnd reads past the size bytes taken from r: more content is an
// error wrapping remote.ErrTooLarge.
func checkEnd(r io.Reader, size int64) error {
	var one [1]byte
	for range 100 {
		m, err := r.Read(one[:])
		if m > 0 {
			return fmt.Errorf("%w: reader holds more than the %d bytes announced", remote.ErrTooLarge, size)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading content after %d bytes: %w", size, err)
		}
	}
	return fmt.Errorf("reading content after %d bytes: %w", size, io.ErrNoProgress)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
