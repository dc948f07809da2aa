package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/artvcs/art/refs"
)

// DefaultUploadType is the type Upload gives a tag's first version.
const DefaultUploadType = "artifact"

// Upload stores the file or directory at localPath as a version of the
// artifact named tag, under artifactPath inside it ("" for the root):
// dstack's artifacts.upload(local_path, artifact_path, tag). A directory's
// contents go under artifactPath/; a file goes to artifactPath/<its name>.
// The artifact keeps the type of its first version (DefaultUploadType for
// a new one). As with Log, uploading unchanged content creates nothing.
func (r *Repo) Upload(ctx context.Context, localPath, artifactPath, tag string) (Version, bool, error) {
	if tag == "" {
		return Version{}, false, errors.New("upload: give a tag to attach the files to")
	}
	typ, err := r.index().ArtifactType(ctx, tag)
	if errors.Is(err, refs.ErrNotFound) {
		typ = DefaultUploadType
	} else if err != nil {
		return Version{}, false, err
	}
	a := r.NewArtifact(tag, typ)
	fi, err := r.fs.Stat(localPath)
	if err != nil {
		return Version{}, false, fmt.Errorf("upload: %w", err)
	}
	if fi.IsDir() {
		err = a.AddDir(localPath, artifactPath)
	} else {
		name := ""
		if artifactPath != "" {
			name = strings.TrimSuffix(artifactPath, "/") + "/"
		}
		err = a.AddFile(localPath, name)
	}
	if err != nil {
		return Version{}, false, fmt.Errorf("upload: %w", err)
	}
	return r.Log(ctx, a, nil)
}

// DownloadTag checks out the files of the version tag names (a tag, or any
// reference such as "my_tag:v2") into localPath, "" meaning the current
// directory: dstack's artifacts.download(tag, artifact_path, local_path).
// artifactPath restricts it to one file or directory ("" for all).
func (r *Repo) DownloadTag(ctx context.Context, tag, artifactPath, localPath string) (CheckoutResult, error) {
	if localPath == "" {
		localPath = "."
	}
	return r.Checkout(ctx, tag, localPath, &CheckoutOptions{Path: artifactPath})
}
