//go:build !linux

package objects

import (
	"errors"

	"github.com/spf13/afero"
)

var errNoPlainOpen = errors.New("plain open not supported")

func openPlain(name string) (afero.File, error) { return nil, errNoPlainOpen }
