package s3remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/artvcs/art/repo/remote"
	"github.com/artvcs/art/repo/remote/remotetest"
)

// sentRequest is one request a recordingClient saw go out.
type sentRequest struct {
	op            string
	payloadSHA256 string // X-Amz-Content-Sha256 as signed
}

// recordRequests replaces tr's client by one that records every request
// it sends, after signing.
func recordRequests(tr *Transport) func() []sentRequest {
	var (
		mu   sync.Mutex
		sent []sentRequest
	)
	o := tr.client.Options()
	o.APIOptions = append(slices.Clone(o.APIOptions), func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("recordRequests",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				r := sentRequest{op: awsmiddleware.GetOperationName(ctx)}
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					r.payloadSHA256 = req.Header.Get("X-Amz-Content-Sha256")
				}
				mu.Lock()
				sent = append(sent, r)
				mu.Unlock()
				return next.HandleDeserialize(ctx, in)
			}), middleware.After)
	})
	tr.client = s3.New(o)
	return func() []sentRequest {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sent)
	}
}

// TestStreamedPut: content between 1 MiB and the multipart threshold (a
// pack of 16.5 MiB) goes up in one unsigned PutObject streamed from the
// reader, without a copy of it in memory.
func TestStreamedPut(t *testing.T) {
	tr := newTest(t, options(t))
	sent := recordRequests(tr)
	const size = 16<<20 + 512<<10
	key := "packs/" + strings.Repeat("a", 64) + ".pack"
	src := &hashReader{r: remotetest.NewGenReader(size, 21), h: sha256.New()}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := tr.PutIfAbsent(context.Background(), key, src, size); err != nil {
		t.Fatalf("PutIfAbsent(%d bytes): %v", size, err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("PutIfAbsent of %d bytes allocated %d bytes; want the body streamed, not buffered", size, alloc)
	}
	reqs := sent()
	if len(reqs) != 1 || reqs[0].op != "PutObject" || reqs[0].payloadSHA256 != "UNSIGNED-PAYLOAD" {
		t.Errorf("requests sent: %+v; want one PutObject with UNSIGNED-PAYLOAD", reqs)
	}
	rc, in, err := tr.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if n, err := io.Copy(h, rc); err != nil || n != size || in.Size != size {
		t.Fatalf("read back %d bytes (Info.Size %d), %v; want %d", n, in.Size, err, size)
	}
	if !bytes.Equal(h.Sum(nil), src.h.Sum(nil)) {
		t.Fatalf("content read back differs from content put")
	}
	// Over it: refused. MinIO answers 412 (or cuts the connection) after
	// taking part of the body.
	again := &countingReader{r: remotetest.NewGenReader(size, 22)}
	if err := tr.PutIfAbsent(context.Background(), key, again, size); !errors.Is(err, remote.ErrExists) {
		t.Fatalf("second PutIfAbsent: %v, want ErrExists", err)
	}
	t.Logf("the refused put read %d of its %d bytes", again.n, size)
}

// TestMultipartUnsigned: parts go up unsigned too.
func TestMultipartUnsigned(t *testing.T) {
	o := options(t)
	o.PartSize = MinPartSize
	o.MultipartThreshold = MinPartSize
	tr := newTest(t, o)
	sent := recordRequests(tr)
	const size = 2*MinPartSize + 1
	if err := tr.PutIfAbsent(context.Background(), "objects/ab/cd", remotetest.NewGenReader(size, 23), size); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range sent() {
		if r.op == "HeadBucket" {
			continue // once per transport, after a HeadObject's 404
		}
		ops = append(ops, r.op)
		if r.op == "UploadPart" && r.payloadSHA256 != "UNSIGNED-PAYLOAD" {
			t.Errorf("UploadPart signed its payload: %q", r.payloadSHA256)
		}
	}
	want := []string{"HeadObject", "CreateMultipartUpload", "UploadPart", "UploadPart", "UploadPart", "CompleteMultipartUpload"}
	if !slices.Equal(ops, want) {
		t.Errorf("requests %q, want %q", ops, want)
	}
}

// TestStreamedPutBadReader: a streamed body whose reader fails, even at
// its very end, or holds fewer or more bytes than announced, stores
// nothing; the error is the reader's.
func TestStreamedPutBadReader(t *testing.T) {
	tr := newTest(t, options(t))
	const size = 6 << 20
	errCorrupt := errors.New("content does not match its ID")
	key := "objects/ab/" + strings.Repeat("c", 62)
	for _, tc := range []struct {
		name string
		r    io.Reader
		want error
	}{
		{"fails at the last byte", &remotetest.FailingReader{R: remotetest.NewGenReader(size, 1), Left: size - 1, Err: errCorrupt}, errCorrupt},
		// A verifying reader: every byte, then its error instead of EOF.
		{"fails at EOF", io.MultiReader(remotetest.NewGenReader(size, 1), &remotetest.FailingReader{Err: errCorrupt}), errCorrupt},
		{"short", remotetest.NewGenReader(size-1, 1), io.ErrUnexpectedEOF},
		{"long", remotetest.NewGenReader(size+1, 1), remote.ErrTooLarge},
	} {
		err := tr.PutIfAbsent(context.Background(), key, tc.r, size)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err=%v, want %v", tc.name, err, tc.want)
		}
		if _, err := tr.Stat(context.Background(), key); !errors.Is(err, remote.ErrNotFound) {
			t.Fatalf("%s: Stat after the failed put: %v, want ErrNotFound", tc.name, err)
		}
	}
	if err := tr.PutIfAbsent(context.Background(), key, remotetest.NewGenReader(size, 1), size); err != nil {
		t.Fatalf("a good put after the failed ones: %v", err)
	}
}

// TestStreamedPutReleasesReader: once PutIfAbsent has returned, the
// request body no longer reads the caller's reader, even when the store
// answered before taking the body.
func TestStreamedPutReleasesReader(t *testing.T) {
	var r countingReader
	b := &streamBody{ctx: context.Background(), r: &r, size: 10}
	if n, err := b.Read(make([]byte, 4)); n != 4 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if sent, err := b.stop(); sent != 4 || err != nil {
		t.Fatalf("stop = %d, %v; want 4, nil", sent, err)
	}
	if n, err := b.Read(make([]byte, 4)); n != 0 || !errors.Is(err, errBodyStopped) {
		t.Fatalf("Read after stop = %d, %v; want 0, errBodyStopped", n, err)
	}
	if r.n != 4 {
		t.Fatalf("the reader gave %d bytes, want 4", r.n)
	}
}

// TestStreamable: a client that must checksum a body before sending it
// (request checksums on a plain-http endpoint) cannot stream one.
func TestStreamable(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		calc     aws.RequestChecksumCalculation
		want     bool
	}{
		{"", aws.RequestChecksumCalculationWhenSupported, true},
		{"https://s3.example.com", aws.RequestChecksumCalculationWhenSupported, true},
		{"http://127.0.0.1:9000", aws.RequestChecksumCalculationWhenRequired, true},
		{"http://127.0.0.1:9000", aws.RequestChecksumCalculationWhenSupported, false},
		{"HTTP://minio:9000", aws.RequestChecksumCalculationWhenSupported, false},
	} {
		so := s3.Options{RequestChecksumCalculation: tc.calc}
		if tc.endpoint != "" {
			so.BaseEndpoint = aws.String(tc.endpoint)
		}
		if got := streamable(so); got != tc.want {
			t.Errorf("streamable(endpoint %q, checksums %v) = %v, want %v", tc.endpoint, tc.calc, got, tc.want)
		}
	}
}

// TestPutWithChecksumsOverHTTP: with request checksums asked for by the
// environment on a plain-http endpoint, content is read into memory up to
// the part size and then sent in parts, and still arrives whole.
func TestPutWithChecksumsOverHTTP(t *testing.T) {
	t.Setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "when_supported")
	o := options(t)
	o.PartSize = MinPartSize
	tr := newTest(t, o)
	if tr.stream {
		t.Fatalf("the transport would stream bodies it must checksum first")
	}
	for i, size := range []int64{3 << 20, MinPartSize + 100} {
		key := fmt.Sprintf("objects/ab/%d", i)
		if err := tr.PutIfAbsent(context.Background(), key, remotetest.NewGenReader(size, 3), size); err != nil {
			t.Fatalf("PutIfAbsent(%d bytes): %v", size, err)
		}
		want, _ := io.ReadAll(remotetest.NewGenReader(size, 3))
		if got, _ := remotetest.MustGet(t, tr, key); !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: content read back differs", size)
		}
	}
	noUploadsLeft(t, tr)
}

// TestGetRangeAnswers: GetRange checks the store's answer against the
// range asked for, against a fake store.
func TestGetRangeAnswers(t *testing.T) {
	content := []byte(strings.Repeat("abcdefghij", 10))
	for _, tc := range []struct {
		name         string
		off, n       int64
		status       int
		contentRange string
		body         []byte
		openErr      error
		readErr      error
	}{
		{"exact", 10, 20, 206, "bytes 10-29/100", content[10:30], nil, nil},
		{"whole content without Content-Range", 0, 100, 200, "", content, nil, nil},
		{"range ignored", 10, 20, 200, "", content, remote.ErrBadResponse, nil},
		{"range ignored, content shorter", 90, 20, 200, "", content, remote.ErrInvalidRange, nil},
		{"empty object, range ignored", 0, 1, 200, "", nil, remote.ErrInvalidRange, nil},
		{"the tail that exists", 90, 20, 206, "bytes 90-99/100", content[90:], remote.ErrInvalidRange, nil},
		{"another range", 10, 20, 206, "bytes 0-19/100", content[:20], remote.ErrBadResponse, nil},
		{"Content-Length not the range's", 10, 20, 206, "bytes 10-29/100", content[10:40], remote.ErrBadResponse, nil},
		{"malformed Content-Range", 10, 20, 206, "10-29/100", content[10:30], remote.ErrBadResponse, nil},
		{"cut body", 10, 20, 206, "bytes 10-29/100", content[10:20], nil, remote.ErrBadResponse},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if want := fmt.Sprintf("bytes=%d-%d", tc.off, tc.off+tc.n-1); r.Header.Get("Range") != want {
				t.Errorf("%s: Range %q, want %q", tc.name, r.Header.Get("Range"), want)
			}
			if tc.contentRange != "" {
				w.Header().Set("Content-Range", tc.contentRange)
			}
			length := len(tc.body)
			if tc.name == "cut body" {
				length = 20
			}
			w.Header().Set("Content-Length", fmt.Sprint(length))
			w.WriteHeader(tc.status)
			w.Write(tc.body)
		}))
		tr := newTest(t, Options{Bucket: "bucket", Endpoint: srv.URL, AccessKey: "a", SecretKey: "b"})
		rc, err := tr.GetRange(context.Background(), "objects/ab/cd", tc.off, tc.n)
		switch {
		case tc.openErr != nil:
			if !errors.Is(err, tc.openErr) {
				t.Errorf("%s: GetRange err=%v, want %v", tc.name, err, tc.openErr)
			}
			if rc != nil {
				rc.Close()
			}
		case err != nil:
			t.Errorf("%s: GetRange: %v", tc.name, err)
		default:
			got, err := io.ReadAll(rc)
			rc.Close()
			if tc.readErr != nil && !errors.Is(err, tc.readErr) || tc.readErr == nil && (err != nil || !bytes.Equal(got, content[tc.off:tc.off+tc.n])) {
				t.Errorf("%s: read %q, %v; want the range or %v", tc.name, got, err, tc.readErr)
			}
		}
		srv.Close()
	}
}

// TestGetRangeInvalidRangeFromStore: the store's InvalidRange (416) is
// remote.ErrInvalidRange, against the real MinIO.
func TestGetRangeInvalidRangeFromStore(t *testing.T) {
	tr := newTest(t, options(t))
	remotetest.MustPut(t, tr, "objects/ab/cd", []byte("0123456789"))
	rc, err := tr.GetRange(context.Background(), "objects/ab/cd", 10, 1)
	if !errors.Is(err, remote.ErrInvalidRange) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("GetRange at the end: %v, want ErrInvalidRange", err)
	}
	mustContain(t, err.Error(), "InvalidRange")
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}

type hashReader struct {
	r io.Reader
	h hash.Hash
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

// countingReader counts the bytes read from r (endless zeros if r is nil).
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	var n int
	var err error
	if c.r == nil {
		n = len(p)
		clear(p)
	} else {
		n, err = c.r.Read(p)
	}
	c.n += int64(n)
	return n, err
}
