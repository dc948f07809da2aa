package s3remote

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/artvcs/art/repo/remote"
	"github.com/artvcs/art/repo/remote/remotetest"
)

func TestMain(m *testing.M) {
	// Keep the developer's AWS setup out of the tests: no profile, no
	// credentials, no endpoint, no instance metadata probing.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			os.Unsetenv(k)
		}
	}
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	remotetest.Main(m)
}

// options returns Options for a fresh bucket on the test MinIO.
func options(t *testing.T) Options {
	t.Helper()
	srv := remotetest.MinIO(t)
	return Options{
		Bucket:    srv.NewBucket(t),
		Endpoint:  srv.Endpoint,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
	}
}

func newTest(t *testing.T, o Options) *Transport {
	t.Helper()
	tr, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestConformance(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Transport {
		o := options(t)
		o.Prefix = "team/art-remote"
		tr := newTest(t, o)
		t.Cleanup(func() { noUploadsLeft(t, tr) })
		return tr
	})
}

// TestConformanceMultipart runs the suite with the smallest parts and a
// multipart threshold of 32 MiB, so its large puts go up in parts (and
// those between 1 and 32 MiB streamed).
func TestConformanceMultipart(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Transport {
		o := options(t)
		o.PartSize = MinPartSize
		o.MultipartThreshold = 32 << 20
		tr := newTest(t, o)
		t.Cleanup(func() { noUploadsLeft(t, tr) })
		return tr
	})
}

// noUploadsLeft checks that no multipart upload is left in the bucket.
func noUploadsLeft(t *testing.T, tr *Transport) {
	t.Helper()
	out, err := tr.client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &tr.bucket})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	if len(out.Uploads) > 0 {
		t.Errorf("%d multipart uploads left in the bucket, first of %s", len(out.Uploads), aws.ToString(out.Uploads[0].Key))
	}
}

// TestPrefix: the transport sees only its prefix of the bucket, and a
// transport on the bucket's root sees the prefixed keys below it.
func TestPrefix(t *testing.T) {
	o := options(t)
	root := newTest(t, o)
	o.Prefix = "/team/remote/"
	sub := newTest(t, o)
	remotetest.MustPut(t, root, "refs/outside.json", []byte("x"))
	remotetest.MustPut(t, sub, "refs/inside.json", []byte("y"))
	// Not a key (a space): written by something else, skipped by List.
	if _, err := root.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: &o.Bucket, Key: aws.String("team/remote/refs/not a key"), Body: strings.NewReader(""),
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tr   *Transport
		want []string
	}{
		{sub, []string{"refs/inside.json"}},
		{root, []string{"refs/outside.json", "team/remote/refs/inside.json"}},
	} {
		var got []string
		if err := tc.tr.List(context.Background(), "", func(in remote.Info) error { got = append(got, in.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("List with prefix %q = %q, want %q", tc.tr.prefix, got, tc.want)
		}
	}
	if got, _ := remotetest.MustGet(t, root, "team/remote/refs/inside.json"); string(got) != "y" {
		t.Errorf("object under the prefix holds %q", got)
	}
	for _, bad := range []string{"a//b", "../x", "a b"} {
		o.Prefix = bad
		if _, err := New(context.Background(), o); !errors.Is(err, remote.ErrUnsupportedURL) {
			t.Errorf("New with prefix %q: err=%v, want ErrUnsupportedURL", bad, err)
		}
	}
}

// TestOpenFromEnvironment: Open takes endpoint and credentials from the
// standard variables, with no region configured.
func TestOpenFromEnvironment(t *testing.T) {
	o := options(t)
	srv := remotetest.MinIO(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	u, err := url.Parse("s3://" + o.Bucket + "/some/prefix")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Open(context.Background(), u)
	if err != nil {
		t.Fatalf("Open(%s): %v", u, err)
	}
	defer tr.Close()
	e := remotetest.MustSwap(t, tr, "refs/a.json", "", []byte("from env"))
	if st, err := tr.Stat(context.Background(), "refs/a.json"); err != nil || st.ETag != e {
		t.Errorf("Stat=%+v, %v; want ETag %q", st, err, e)
	}
	so := tr.(*Transport).client.Options()
	if so.Region != defaultRegion {
		t.Errorf("region %q, want the default %q", so.Region, defaultRegion)
	}
	if !so.UsePathStyle || so.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired ||
		so.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired {
		t.Errorf("with an endpoint: path style %v, checksums %v/%v; want path style, checksums when required",
			so.UsePathStyle, so.RequestChecksumCalculation, so.ResponseChecksumValidation)
	}
	// Without an endpoint (AWS itself): virtual-hosted style, default checksums.
	os.Unsetenv("AWS_ENDPOINT_URL")
	aws3, err := New(context.Background(), Options{Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if so := aws3.client.Options(); so.UsePathStyle || so.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenSupported {
		t.Errorf("without an endpoint: path style %v, request checksums %v; want virtual-hosted, when supported", so.UsePathStyle, so.RequestChecksumCalculation)
	}
}

func TestOpenURL(t *testing.T) {
	for _, raw := range []string{"s3://", "s3:///prefix", "s3://user@bucket/x", "s3://bucket:9000/x", "s3://bucket/x?endpoint=y", "file:///x", "s3://bucket/a//b"} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(context.Background(), u); !errors.Is(err, remote.ErrUnsupportedURL) {
			t.Errorf("Open(%q) err=%v, want ErrUnsupportedURL", raw, err)
		}
	}
}

// everyMethod calls each method of tr once and returns the errors by name.
func everyMethod(tr remote.Transport) map[string]error {
	ctx := context.Background()
	errs := map[string]error{}
	_, errs["Stat"] = tr.Stat(ctx, "refs/a.json")
	rc, _, err := tr.Get(ctx, "refs/a.json")
	if rc != nil {
		rc.Close()
	}
	errs["Get"] = err
	errs["PutIfAbsent"] = tr.PutIfAbsent(ctx, "refs/a.json", strings.NewReader("x"), 1)
	_, errs["CompareAndSwap"] = tr.CompareAndSwap(ctx, "refs/b.json", "", []byte("x"))
	errs["List"] = tr.List(ctx, "refs/", func(remote.Info) error { return nil })
	errs["Delete"] = tr.Delete(ctx, "refs/a.json")
	return errs
}

func TestWrongSecret(t *testing.T) {
	o := options(t)
	good := newTest(t, o)
	remotetest.MustPut(t, good, "refs/a.json", []byte("x"))
	o.SecretKey = "not-the-secret"
	for name, err := range everyMethod(newTest(t, o)) {
		if !errors.Is(err, remote.ErrPermission) {
			t.Errorf("%s with a wrong secret: err=%v, want ErrPermission", name, err)
		}
	}
}

func TestNoSuchBucket(t *testing.T) {
	o := options(t)
	o.Bucket = "art-no-such-bucket"
	for name, err := range everyMethod(newTest(t, o)) {
		if !errors.Is(err, ErrNoSuchBucket) || errors.Is(err, remote.ErrNotFound) || !strings.Contains(err.Error(), o.Bucket) {
			t.Errorf("%s on a missing bucket: err=%v, want ErrNoSuchBucket naming the bucket", name, err)
		}
	}
}

// TestMultipartRefusesKeyThatAppeared: a key written by someone else
// while a multipart upload runs is not overwritten by its completion.
// This checks that the store enforces If-None-Match on
// CompleteMultipartUpload.
func TestMultipartRefusesKeyThatAppeared(t *testing.T) {
	o := options(t)
	o.PartSize = MinPartSize
	o.MultipartThreshold = MinPartSize
	tr := newTest(t, o)
	other := newTest(t, o)
	const size = 2*MinPartSize + 1000
	key := "objects/ab/" + strings.Repeat("e", 62)
	r := &hookReader{r: remotetest.NewGenReader(size, 1), at: MinPartSize + 1, hook: func() {
		remotetest.MustPut(t, other, key, []byte("the other writer"))
	}}
	err := tr.PutIfAbsent(context.Background(), key, r, size)
	if !r.fired {
		t.Fatalf("the hook did not run")
	}
	if !errors.Is(err, remote.ErrExists) {
		t.Fatalf("multipart put over a key that appeared meanwhile: err=%v, want ErrExists", err)
	}
	if got, _ := remotetest.MustGet(t, tr, key); string(got) != "the other writer" {
		t.Errorf("key holds %d bytes, not the other writer's", len(got))
	}
	noUploadsLeft(t, tr)
}

// TestMultipartCanceled: canceling a multipart put aborts the upload.
func TestMultipartCanceled(t *testing.T) {
	o := options(t)
	o.PartSize = MinPartSize
	o.MultipartThreshold = MinPartSize
	tr := newTest(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const size = 3 * MinPartSize
	r := &hookReader{r: remotetest.NewGenReader(size, 2), at: 2*MinPartSize + 10, hook: cancel}
	if err := tr.PutIfAbsent(ctx, "objects/ab/cd", r, size); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled multipart put: err=%v, want context.Canceled", err)
	}
	noUploadsLeft(t, tr)
	if _, err := tr.Stat(context.Background(), "objects/ab/cd"); !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("Stat after a canceled put: err=%v, want ErrNotFound", err)
	}
}

// TestGetShortBody: a body shorter than its Content-Length is
// ErrBadResponse, against a fake store that cuts the body.
func TestGetShortBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/bucket/refs/a.json" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", "10")
		w.Header().Set("ETag", `"abc"`)
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	tr := newTest(t, Options{Bucket: "bucket", Endpoint: srv.URL, AccessKey: "a", SecretKey: "b"})
	rc, in, err := tr.Get(context.Background(), "refs/a.json")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	if in.Size != 10 || in.ETag != `"abc"` {
		t.Errorf("Info=%+v, want size 10, ETag %q", in, `"abc"`)
	}
	got, err := io.ReadAll(rc)
	if !errors.Is(err, remote.ErrBadResponse) {
		t.Errorf("reading a cut body: %q, err=%v; want ErrBadResponse", got, err)
	}
}

// TestHugeSize: absurd sizes are refused before anything is read or sent.
func TestHugeSize(t *testing.T) {
	tr := newTest(t, Options{Bucket: "b", Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "b"})
	for _, size := range []int64{MaxObjectSize + 1, 1<<63 - 1} {
		if err := tr.PutIfAbsent(context.Background(), "objects/ab/cd", strings.NewReader("x"), size); !errors.Is(err, remote.ErrTooLarge) {
			t.Errorf("PutIfAbsent of %d bytes: err=%v, want ErrTooLarge", size, err)
		}
	}
}

func TestPartSizeBounds(t *testing.T) {
	for _, ps := range []int64{1 << 20, MaxPartSize + 1} {
		if _, err := New(context.Background(), Options{Bucket: "b", PartSize: ps}); err == nil {
			t.Errorf("New with part size %d succeeded", ps)
		}
	}
	for _, th := range []int64{-1, 1 << 20, MaxPutSize + 1} {
		if _, err := New(context.Background(), Options{Bucket: "b", MultipartThreshold: th}); err == nil {
			t.Errorf("New with multipart threshold %d succeeded", th)
		}
	}
}

// hookReader calls hook once, when at bytes of r have been read.
type hookReader struct {
	r     io.Reader
	n, at int64
	hook  func()
	fired bool
}

func (h *hookReader) Read(p []byte) (int, error) {
	if !h.fired && int64(len(p)) > h.at-h.n {
		p = p[:max(h.at-h.n, 1)]
	}
	n, err := h.r.Read(p)
	h.n += int64(n)
	if !h.fired && h.n >= h.at {
		h.fired = true
		h.hook()
	}
	return n, err
}
