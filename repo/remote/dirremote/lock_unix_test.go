//go:build unix

package dirremote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/artvcs/art/repo/remote/remotetest"
	"golang.org/x/sys/unix"
)

const helperEnv = "ART_DIRREMOTE_LOCK_HELPER"

// TestLockHolderHelper is not a test: run by TestKilledHolderReleasesLock
// in a child process, it takes the lock of the key file named by the
// environment, says so, and sleeps until killed.
func TestLockHolderHelper(t *testing.T) {
	p := os.Getenv(helperEnv)
	if p == "" {
		t.Skip("helper process only")
	}
	if _, err := lockKey(context.Background(), p); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	os.Exit(1)
}

// TestKilledHolderReleasesLock: a process killed with SIGKILL while it
// holds a key's lock does not block the next swap.
func TestKilledHolderReleasesLock(t *testing.T) {
	tr := newTest(t)
	e := remotetest.MustSwap(t, tr, "refs/a.json", "", []byte("one"))
	keyFile := filepath.Join(tr.Root(), "refs", "a.json")

	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolderHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+keyFile)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v; want %q", line, err, "locked\n")
	}

	// While it lives, the lock holds.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := tr.CompareAndSwap(ctx, "refs/a.json", e, []byte("two")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("swap while another process holds the lock: err=%v, want DeadlineExceeded", err)
	}
	if got, _ := remotetest.MustGet(t, tr, "refs/a.json"); string(got) != "one" {
		t.Fatalf("content changed under a held lock: %q", got)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The lock file it held is still there, unlocked.
	if _, err := os.Stat(lockPath(keyFile)); err != nil {
		t.Fatalf("lock file of the killed holder: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	start := time.Now()
	if _, err := tr.CompareAndSwap(ctx2, "refs/a.json", e, []byte("two")); err != nil {
		t.Fatalf("swap after the holder was killed: %v", err)
	}
	t.Logf("lock taken %v after the holder died", time.Since(start).Round(time.Millisecond))
}

// TestLockSurvivesRemoval: a waiter that opened the lock file before the
// holder removed it must not also hold the lock with whoever creates the
// next lock file.
func TestLockSurvivesRemoval(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.json")
	ctx := context.Background()
	unlock, err := lockKey(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	// A waiter holding a descriptor of the soon-removed lock file.
	stale, err := os.Open(lockPath(p))
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	unlock()
	if err := unix.Flock(int(stale.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("flock of the removed lock file: %v", err)
	}
	if sameFile(stale, lockPath(p)) {
		t.Fatalf("sameFile says a removed lock file is current")
	}
	// The stale flock must not stop a new locker, and the new locker's
	// lock excludes a third.
	unlock2, err := lockKey(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := lockKey(short, p); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second locker err=%v, want DeadlineExceeded", err)
	}
	unlock2()
}
