//go:build !linux

package objects

import (
	"errors"
	"fmt"
)

var errNoSyncfs = fmt.Errorf("syncfs: %w", errors.ErrUnsupported)

func syncFS(dir string) error { return errNoSyncfs }

var errNoRenameNoReplace = fmt.Errorf("rename without replacing: %w", errors.ErrUnsupported)

func renameNoReplace(oldname, newname string) error { return errNoRenameNoReplace }
