//go:build !linux

package objects

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/spf13/afero"
)

var errNoTmpfile = fmt.Errorf("O_TMPFILE: %w", errors.ErrUnsupported)

func openAnonymous(dir string, perm os.FileMode) (afero.File, error) { return nil, errNoTmpfile }

func linkAnonymous(f afero.File, final string) error { return errNoTmpfile }

func randUint() uint64 { return rand.Uint64() }

func startWriteback(f *os.File) {}
