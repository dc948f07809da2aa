package remotetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// RequireMinIOEnv names the environment variable that, set to 1, turns a
// missing or broken MinIO from a skip into a test failure. `make test`
// sets it.
const RequireMinIOEnv = "ART_REQUIRE_MINIO"

// MinIOReadyTimeout bounds the wait for a started server to be ready.
const MinIOReadyTimeout = 60 * time.Second

// MinIOServer is a MinIO server this test binary started on 127.0.0.1,
// with an empty data directory of its own.
type MinIOServer struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Region    string

	client *s3.Client
	cmd    *exec.Cmd
	dir    string
	out    *tailBuffer
	exited chan struct{} // closed when the process has exited
	seq    atomic.Int64
}

var (
	minioMu   sync.Mutex
	minioDone bool // startMinIO ran
	minioSrv  *MinIOServer
	minioErr  error
)

// MinIO returns this test binary's MinIO server, starting it on first
// use. If MinIO cannot be found or started, the test is skipped, or fails
// when ART_REQUIRE_MINIO=1. The server runs until Main's tests end; a test
// binary that starts one must use Main as its TestMain.
//
// The binary is "minio" on PATH, else in $(go env GOBIN) or the bin
// directory of each $(go env GOPATH) entry, where `make minio` (run by
// `make test`) installs it.
func MinIO(tb testing.TB) *MinIOServer {
	tb.Helper()
	minioMu.Lock()
	if !minioDone {
		minioDone = true
		minioSrv, minioErr = startMinIO()
	}
	srv, err := minioSrv, minioErr
	minioMu.Unlock()
	if err != nil {
		if os.Getenv(RequireMinIOEnv) == "1" {
			tb.Fatalf("MinIO is required (%s=1) but unavailable: %v", RequireMinIOEnv, err)
		}
		tb.Skipf("skipping: MinIO unavailable: %v (`make test` installs MinIO and runs these tests)", err)
	}
	return srv
}

// Main runs the tests, stops the MinIO server if one was started, and
// exits with the tests' status. Use it as the body of TestMain.
func Main(m *testing.M) {
	code := m.Run()
	StopMinIO()
	os.Exit(code)
}

// StopMinIO stops the server MinIO started, if any: its whole process
// group, SIGTERM then SIGKILL after 10 s, and removes its data directory.
func StopMinIO() {
	minioMu.Lock()
	srv := minioSrv
	minioSrv, minioErr = nil, errors.New("the MinIO server was stopped")
	minioMu.Unlock()
	if srv != nil {
		srv.stop()
	}
}

// Client returns an S3 client for the server with its root credentials.
func (s *MinIOServer) Client() *s3.Client { return s.client }

// NewBucket creates an empty bucket with a fresh name and returns its
// name.
func (s *MinIOServer) NewBucket(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("art-test-%d-%s", s.seq.Add(1), randHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("create bucket %s on MinIO at %s: %v", name, s.Endpoint, err)
	}
	return name
}

// startMinIO finds the binary and starts a server, retrying on another
// port if the first one was taken meanwhile.
func startMinIO() (*MinIOServer, error) {
	bin, err := findMinIO()
	if err != nil {
		return nil, err
	}
	var errs []error
	for range 3 {
		srv, err := launchMinIO(bin)
		if err == nil {
			return srv, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// findMinIO looks for the minio binary on PATH, then where go install
// puts it.
func findMinIO() (string, error) {
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) == 2 {
			if gobin := strings.TrimSpace(lines[0]); gobin != "" {
				dirs = append(dirs, gobin)
			}
			for _, gp := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(gp, "bin"))
			}
		}
	} else if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	name := "minio"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no minio binary on PATH or in %s", strings.Join(dirs, ", "))
}

// launchMinIO starts bin on a free loopback port with a temp data
// directory and waits until it reports ready.
func launchMinIO(bin string) (*MinIOServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "art-minio-")
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	s := &MinIOServer{
		Endpoint:  "http://" + addr,
		AccessKey: "artminio",
		SecretKey: randHex(16),
		Region:    "us-east-1",
		dir:       dir,
		out:       &tailBuffer{max: 16 << 10},
		exited:    make(chan struct{}),
	}
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr,
		"--certs-dir", filepath.Join(dir, "certs"), filepath.Join(dir, "data"))
	cmd.Env = append(minioFreeEnv(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.SysProcAttr = sysProcAttr()
	s.cmd = cmd

	// Start and wait on a goroutine locked to its OS thread: on Linux the
	// child's parent-death signal fires when the thread that started it
	// ends, so that thread must outlive the child.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, err
	}
	s.client = s3.New(s3.Options{
		Region:                     s.Region,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	stopOnSignal(s)
	return s, nil
}

// waitReady polls the readiness endpoint for up to MinIOReadyTimeout.
func (s *MinIOServer) waitReady() error {
	deadline := time.Now().Add(MinIOReadyTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("minio exited before it was ready (%v); its output:\n%s", s.cmd.ProcessState, s.out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("minio not ready at %s after %v: %v; its output:\n%s", s.Endpoint, MinIOReadyTimeout, err, s.out)
		}
	}
}

// stop ends the server's process group and removes its data.
func (s *MinIOServer) stop() {
	signalGroup(s.cmd.Process, false)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		signalGroup(s.cmd.Process, true)
		<-s.exited
	}
	os.RemoveAll(s.dir)
}

// stopOnSignal stops s if the test binary is interrupted, then exits.
func stopOnSignal(s *MinIOServer) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-ch
		if !ok {
			return
		}
		s.stop()
		fmt.Fprintf(os.Stderr, "remotetest: stopped MinIO on %v\n", sig)
		os.Exit(1)
	}()
}

// minioFreeEnv is this process's environment without MINIO_ variables, so
// a developer's own MinIO settings do not leak into the test server.
func minioFreeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	return env
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = bytes.Clone(t.buf[over:])
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
