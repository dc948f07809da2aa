package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/artvcs/art/repo"
)

// versionJSON is a version in --json output (docs/architecture.md, "The CLI
// contract").
type versionJSON struct {
	Name        string          `json:"name"`
	Type        string          `json:"type"`
	Version     string          `json:"version"` // "v3"
	ID          string          `json:"id"`      // commit ID
	Digest      string          `json:"digest"`  // root tree ID
	Size        int64           `json:"size"`
	Files       int64           `json:"files"`
	Aliases     []string        `json:"aliases"` // sorted, with "latest" on the newest
	Description string          `json:"description"`
	Metadata    json.RawMessage `json:"metadata"`
	CreatedAt   string          `json:"created_at"` // RFC 3339, UTC
	Producer    *string         `json:"producer"`   // run ID or null
	// Added is how many bytes the version added to the object store when
	// it was recorded (null when unknown, after a reindex).
	Added *int64 `json:"added"`
}

func newVersionJSON(v repo.Version) versionJSON {
	out := versionJSON{
		Name:        v.Name,
		Type:        v.Type,
		Version:     versionString(v.Version.Version),
		ID:          v.Version.Commit.String(),
		Digest:      v.Tree.String(),
		Size:        v.Size,
		Files:       v.Files,
		Aliases:     v.Aliases,
		Description: v.Description,
		Metadata:    v.Metadata,
		CreatedAt:   v.Created.UTC().Format(time.RFC3339Nano),
	}
	if out.Aliases == nil {
		out.Aliases = []string{}
	}
	if len(out.Metadata) == 0 {
		out.Metadata = json.RawMessage("{}")
	}
	if v.Producer != "" {
		p := v.Producer
		out.Producer = &p
	}
	if v.Added >= 0 {
		n := v.Added
		out.Added = &n
	}
	return out
}

// versionString formats a version number as "vN".
func versionString(n int64) string { return "v" + strconv.FormatInt(n, 10) }

// formatBytes formats n bytes for people: "512 B", "12.3 KiB", "4.0 GiB".
func formatBytes(n int64) string {
	if n < 0 {
		return "?"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// plural formats n with the noun, adding an "s" unless n is 1.
func plural(n int64, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// formatTime formats t in the local time zone to the minute, like a log.
func formatTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }

// formatAliases formats aliases as "[latest, best]", or "" if none.
func formatAliases(aliases []string) string {
	if len(aliases) == 0 {
		return ""
	}
	return "[" + strings.Join(aliases, ", ") + "]"
}

// oneLine collapses s to its first line, for tables.
func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// table writes rows of cells as aligned columns, without trailing spaces.
type table struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

// newTable returns a table writing to w with padding spaces between
// columns.
func newTable(w io.Writer, padding int) *table {
	t := &table{w: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 4, padding, ' ', 0)
	return t
}

func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

// flush writes the table out.
func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(t.buf.String(), "\n") {
		if line != "" {
			out.WriteString(strings.TrimRight(line, " \n") + "\n")
		}
	}
	_, err := io.WriteString(t.w, out.String())
	return err
}

// formatAdded says what a version added to the store.
func formatAdded(v repo.Version) string {
	switch {
	case v.Added >= 0:
		return "+" + formatBytes(v.Added) + " stored"
	case v.Remote != "":
		return "from " + v.Remote
	}
	return "+? stored"
}
