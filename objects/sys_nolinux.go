//go:build !linux

package objects

import "errors"

var errNoSyncfs = errors.New("syncfs not supported")

func syncFS(dir string) error { return errNoSyncfs }
