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
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
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
	// DefaultPartSize is the default part size of a multipart upload.
	DefaultPartSize = 16 << 20
	// DefaultMultipartThreshold is the default size above which
	// PutIfAbsent uploads in parts.
	DefaultMultipartThreshold = 64 << 20
	// MinPartSize and MaxPartSize are S3's bounds on a part.
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	// MaxPutSize is S3's limit on the content of one PutObject (5 GiB).
	MaxPutSize = 5 << 30
	// MaxObjectSize is S3's limit on one object (5 TiB).
	MaxObjectSize = 5 << 40
	// maxBufferedPut is the size up to which PutIfAbsent reads the
	// content into memory before sending it: the SDK can then retry the
	// request (on a 5xx or a dropped connection), which it cannot with a
	// body streamed from the caller's reader.
	maxBufferedPut = 1 << 20
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
	// PartSize is the part size of a multipart upload (one part is held
	// in memory per upload); 0 means DefaultPartSize. Objects above 10000
	// parts use larger parts.
	PartSize int64
	// MultipartThreshold is the size above which PutIfAbsent uploads in
	// parts; content up to it goes up in one PutObject, streamed from the
	// caller's reader. 0 means DefaultMultipartThreshold; otherwise it
	// lies in [MinPartSize, MaxPutSize].
	MultipartThreshold int64
}

// Transport is a remote.Transport on an S3 bucket; see the package doc.
type Transport struct {
	client    *s3.Client
	bucket    string
	prefix    string // "" or ending in "/"
	partSize  int64
	threshold int64 // the multipart threshold
	// stream is set if a PutObject body can be streamed from a reader
	// that cannot seek; see streamable.
	stream bool
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
	threshold := o.MultipartThreshold
	if threshold == 0 {
		threshold = DefaultMultipartThreshold
	}
	if threshold < MinPartSize || threshold > MaxPutSize {
		return nil, fmt.Errorf("s3remote: multipart threshold %d outside [%d, %d]", threshold, MinPartSize, int64(MaxPutSize))
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
	return &Transport{client: client, bucket: o.Bucket, prefix: prefix, partSize: partSize,
		threshold: threshold, stream: streamable(client.Options())}, nil
}

// streamable reports whether the client can send a PutObject body it
// cannot rewind. With UNSIGNED-PAYLOAD it reads the body once, while
// sending it, unless it must checksum the body first: that is when
// request checksums are on (AWS itself, or an endpoint whose environment
// asks for them) and the endpoint is plain http, where the SDK cannot
// send the checksum as a trailer and refuses a body that cannot seek.
func streamable(so s3.Options) bool {
	if so.RequestChecksumCalculation == aws.RequestChecksumCalculationWhenRequired {
		return true
	}
	return !strings.HasPrefix(strings.ToLower(aws.ToString(so.BaseEndpoint)), "http://")
}

// unsignedPayload makes a request send its body as UNSIGNED-PAYLOAD
// instead of signing its SHA-256: the SDK would otherwise hash every body
// on a plain-http endpoint (over https it already sends bodies unsigned),
// which costs CPU and needs a body it can read twice. What PutIfAbsent
// stores is checked where it matters: package repo verifies every object
// against its BLAKE3 ID when it reads it back.
var unsignedPayload = s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

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

// GetRange is GetObject with a Range header. The answer must name
// exactly the range asked for in its Content-Range: S3 answers a range
// that starts inside the content but runs past its end with the part that
// exists, which is remote.ErrInvalidRange here, and one that starts past
// the end with InvalidRange (416), mapped likewise.
func (t *Transport) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	ok, err := t.objectKey(key)
	if err != nil {
		return nil, err
	}
	if err := remote.ValidateRange(off, n); err != nil {
		return nil, err
	}
	out, err := t.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &t.bucket, Key: &ok, Range: aws.String(remote.RangeHeader(off, n))})
	if err != nil {
		return nil, t.mapErr(ctx, "get", key, err)
	}
	if err := checkRange(out, off, n); err != nil {
		out.Body.Close()
		return nil, fmt.Errorf("s3remote: get %s: %w", key, err)
	}
	return remote.NewSizedReader(out.Body, "s3remote", key, n), nil
}

// checkRange checks the answer to a GetObject for n bytes at off.
func checkRange(out *s3.GetObjectOutput, off, n int64) error {
	if out.ContentRange == nil {
		// The whole content, the range ignored (as some stores do for an
		// empty object): that is the range if it starts at 0 and the
		// content holds n bytes, and shows the range is not inside the
		// content if the content ends before it does.
		size := aws.ToInt64(out.ContentLength)
		switch {
		case out.ContentLength == nil || size < 0:
		case off == 0 && size == n:
			return nil
		case off+n > size:
			return fmt.Errorf("%w: %d bytes at offset %d of content that holds %d", remote.ErrInvalidRange, n, off, size)
		}
		return fmt.Errorf("%w: no Content-Range in the answer to a range request", remote.ErrBadResponse)
	}
	if err := remote.CheckContentRange(*out.ContentRange, off, n); err != nil {
		return err
	}
	if out.ContentLength == nil || *out.ContentLength != n {
		return fmt.Errorf("%w: Content-Length %d for a range of %d bytes", remote.ErrBadResponse, aws.ToInt64(out.ContentLength), n)
	}
	return nil
}

// PutIfAbsent stores exactly size bytes of r unless the key exists, by
// one of three routes, each conditional (If-None-Match: *):
//
//   - up to 1 MiB (maxBufferedPut): read into memory, then one PutObject,
//     which the SDK can retry;
//   - up to the multipart threshold: one PutObject whose body streams
//     from r, unsigned, never held in memory whole (if the client cannot
//     stream, see streamable, up to the part size: read into memory);
//   - above: a multipart upload, one part in memory at a time.
//
// A reader that fails, ends early or runs long never yields a whole body:
// the request fails and no key is left.
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
	switch {
	case size <= maxBufferedPut || !t.stream && size <= t.partSize:
		return t.putBuffered(ctx, key, ok, r, size)
	case size <= t.threshold && t.stream:
		return t.putStreamed(ctx, key, ok, r, size)
	}
	return t.putMultipart(ctx, key, ok, r, size)
}

// putBuffered reads size bytes of r, checks r ends there, and stores them
// with one conditional PutObject.
func (t *Transport) putBuffered(ctx context.Context, key, ok string, r io.Reader, size int64) error {
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
		}, unsignedPayload)
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

// putStreamed stores size bytes of r with one conditional PutObject whose
// body is r itself, through a streamBody: the content is read once, while
// it is sent, and never held in memory whole. The request cannot be sent
// again (r is consumed), so a 409 (a concurrent write of the key) is
// answered from a Stat.
func (t *Transport) putStreamed(ctx context.Context, key, ok string, r io.Reader, size int64) error {
	body := &streamBody{ctx: ctx, r: r, size: size}
	_, err := t.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &t.bucket,
		Key:           &ok,
		Body:          body,
		ContentLength: aws.Int64(size),
		IfNoneMatch:   aws.String("*"),
	}, unsignedPayload, noRetry)
	// The HTTP client may still hold the body: stop it before r goes
	// back to the caller. A failure of r explains the request's.
	sent, berr := body.stop()
	switch {
	case berr != nil:
		return fmt.Errorf("s3remote: put %s: %w", key, berr)
	case err == nil && sent != size:
		return fmt.Errorf("%w: put %s: the store answered after %d of %d bytes", remote.ErrBadResponse, key, sent, size)
	case err == nil:
		return nil
	case isStatus(err, 412), isStatus(err, 409):
		return t.putConflict(ctx, key, err)
	case isSendError(err) && ctx.Err() == nil:
		// No answer: a store that refuses a put over an existing key
		// while the body is still coming (MinIO does, after its 100
		// Continue) may cut the connection before the client reads the
		// 412. If the key is there now, it exists (or the put landed and
		// its answer was lost, which also reads as ErrExists).
		if _, serr := t.Stat(ctx, key); serr == nil {
			return fmt.Errorf("%w: %s", remote.ErrExists, key)
		}
	}
	return t.mapErr(ctx, "put", key, err)
}

// putConflict explains a conditional put's 412 (the key exists) or 409 (a
// concurrent write of the key, which the body, consumed, cannot be sent
// again to win: if the key is there now, it exists).
func (t *Transport) putConflict(ctx context.Context, key string, err error) error {
	if isStatus(err, 412) {
		return fmt.Errorf("%w: %s", remote.ErrExists, key)
	}
	if _, serr := t.Stat(ctx, key); serr == nil {
		return fmt.Errorf("%w: %s", remote.ErrExists, key)
	}
	return fmt.Errorf("s3remote: put %s: conflicting concurrent write, retry: %w", key, err)
}

// noRetry turns off the SDK's retries, for a request whose body cannot be
// sent twice: a retry would wait out its backoff only to fail rewinding
// the body.
func noRetry(o *s3.Options) { o.Retryer = aws.NopRetryer{} }

// streamBody is a request body streamed from the caller's reader. It
// yields exactly size bytes of r and withholds the last ones until it has
// seen r end there: if r fails, ends early or runs long (or ctx ends),
// Read fails before the body is complete, so the HTTP client aborts the
// request and the store, short of bytes, keeps nothing. After stop it
// never touches r again.
type streamBody struct {
	ctx  context.Context
	mu   sync.Mutex // held while reading r
	r    io.Reader
	size int64
	n    int64 // bytes yielded
	err  error // the first failure, sticky
	done bool  // stopped
}

var errBodyStopped = errors.New("request body read after the request ended")

func (b *streamBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.done:
		return 0, errBodyStopped
	case b.err != nil:
		return 0, b.err
	case b.n == b.size:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	if err := b.ctx.Err(); err != nil {
		b.err = err
		return 0, err
	}
	if left := b.size - b.n; int64(len(p)) > left {
		p = p[:left]
	}
	m, err := b.r.Read(p)
	end := b.n + int64(m)
	switch {
	case err != nil && err != io.EOF:
		b.err = fmt.Errorf("reading content after %d of %d bytes: %w", end, b.size, err)
	case err == io.EOF && end < b.size:
		b.err = fmt.Errorf("reader ended after %d of %d bytes: %w", end, b.size, io.ErrUnexpectedEOF)
	case err == nil && end == b.size:
		b.err = checkEnd(b.r, b.size)
	}
	if b.err != nil {
		return 0, b.err
	}
	b.n = end
	return m, nil
}

// stop waits for a Read in progress, makes later ones fail, and returns
// the bytes yielded and the body's failure, if any.
func (b *streamBody) stop() (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	return b.n, b.err
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
		}, unsignedPayload)
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
	case isStatus(err, 412), isStatus(err, 409):
		return t.putConflict(ctx, key, err)
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
