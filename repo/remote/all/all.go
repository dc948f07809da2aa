// Package all registers every remote driver with package remote: a
// directory (plain paths and file:// URLs), S3 (s3://bucket/prefix) and
// `art serve` (http:// and https://). Import it for its side effect in
// programs that open remotes by URL.
package all

import (
	"github.com/artvcs/art/repo/remote"
	"github.com/artvcs/art/repo/remote/dirremote"
	"github.com/artvcs/art/repo/remote/httpremote"
	"github.com/artvcs/art/repo/remote/s3remote"
)

func init() {
	remote.Register("file", dirremote.Open)
	remote.Register("s3", s3remote.Open)
	remote.Register("http", httpremote.Open)
	remote.Register("https", httpremote.Open)
}
