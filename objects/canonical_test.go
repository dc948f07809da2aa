package objects_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/artvcs/art/objects"
)

var (
	idA = mustID("a").String()
	idB = mustID("b").String()
)

func readGolden(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecodeTreeAcceptsCanonical(t *testing.T) {
	for _, s := range []string{
		"art tree 1\n",
		"art tree 1\nfile\ta\t0\t" + idA + "\n",
		"art tree 1\nexec\ta\t10\t" + idA + "\nfile\tb\t9223372036854775807\t" + idB + "\n",
		"art tree 1\ndir\tA\t" + idA + "\nfile\tb.txt\t1\t" + idB + "\n",
		"art tree 1\nref\tr\t0\t-\tx\n",
		"art tree 1\nref\tr\t-\tetag\ts3://b/k\n",
	} {
		if _, err := objects.DecodeTree([]byte(s)); err != nil {
			t.Errorf("DecodeTree(%q): %v", s, err)
		}
	}
}

func TestDecodeTreeRejectsNonCanonical(t *testing.T) {
	const h = "art tree 1\n"
	file := func(name, size, id string) string { return "file\t" + name + "\t" + size + "\t" + id + "\n" }
	for _, tt := range []struct {
		what string
		in   string
	}{
		{"empty input", ""},
		{"bad header", "art tree 2\n"},
		{"header without newline", "art tree 1"},
		{"uppercase header", "ART TREE 1\n"},
		{"commit header", objects.CommitHeader},
		{"leading blank line", "\n" + h},
		{"unsorted", h + file("b", "1", idA) + file("a", "1", idB)},
		{"unsorted by bytes", h + file("a", "1", idA) + file("B", "1", idB)},
		{"duplicate", h + file("a", "1", idA) + file("a", "1", idA)},
		{"duplicate of other kind", h + "dir\ta\t" + idA + "\n" + file("a", "1", idA)},
		{"case-only duplicate", h + file("A.txt", "1", idA) + file("a.txt", "1", idB)},
		{"unicode case-only duplicate", h + file("Ä", "1", idA) + file("ä", "1", idB)},
		{"leading zero size", h + file("a", "05", idA)},
		{"double zero size", h + file("a", "00", idA)},
		{"plus size", h + file("a", "+5", idA)},
		{"negative size", h + file("a", "-5", idA)},
		{"minus zero size", h + file("a", "-0", idA)},
		{"empty size", h + file("a", "", idA)},
		{"hex size", h + file("a", "0x10", idA)},
		{"space in size", h + file("a", " 5", idA)},
		{"size overflow", h + file("a", "9223372036854775808", idA)},
		{"uppercase id", h + file("a", "1", strings.ToUpper(idA))},
		{"short id", h + file("a", "1", idA[:63])},
		{"uppercase dir id", h + "dir\ta\t" + strings.ToUpper(idA) + "\n"},
		{"missing trailing newline", strings.TrimSuffix(h+file("a", "1", idA), "\n")},
		{"CRLF", h + strings.TrimSuffix(file("a", "1", idA), "\n") + "\r\n"},
		{"trailing blank line", h + file("a", "1", idA) + "\n"},
		{"extra field file", h + "file\ta\t1\t" + idA + "\textra\n"},
		{"extra field dir", h + "dir\ta\t" + idA + "\t0\n"},
		{"extra field ref", h + "ref\ta\t1\t-\turi\textra\n"},
		{"missing field file", h + "file\ta\t" + idA + "\n"},
		{"missing field ref", h + "ref\ta\t1\turi\n"},
		{"trailing tab", h + "file\ta\t1\t" + idA + "\t\n"},
		{"spaces for tabs", h + "file a 1 " + idA + "\n"},
		{"unknown kind", h + "link\ta\t" + idA + "\n"},
		{"uppercase kind", h + "FILE\ta\t1\t" + idA + "\n"},
		{"name ..", h + file("..", "1", idA)},
		{"name .", h + file(".", "1", idA)},
		{"name empty", h + file("", "1", idA)},
		{"name .art", h + "dir\t.art\t" + idA + "\n"},
		{"name .ART", h + "dir\t.ART\t" + idA + "\n"},
		{"name a/b", h + file("a/b", "1", idA)},
		{"name a\\b", h + file("a\\b", "1", idA)},
		{"name with NUL", h + file("a\x00", "1", idA)},
		{"name with CR", h + file("a\r", "1", idA)},
		{"name trailing dot", h + file("a.", "1", idA)},
		{"name invalid utf-8", h + file("\xff", "1", idA)},
		{"ref size -1 spelled out", h + "ref\tr\t-1\t-\turi\n"},
		{"ref leading zero size", h + "ref\tr\t01\t-\turi\n"},
		{"ref empty digest", h + "ref\tr\t1\t\turi\n"},
		{"ref empty uri", h + "ref\tr\t1\t-\t\n"},
		{"ref uri -", h + "ref\tr\t1\t-\t-\n"},
		{"ref uri with space", h + "ref\tr\t1\t-\ta b\n"},
		{"ref uri non-ascii", h + "ref\tr\t1\t-\thttps://ex.com/ü\n"},
		{"ref uri too long", h + "ref\tr\t1\t-\t" + strings.Repeat("u", 4097) + "\n"},
		{"ref digest too long", h + "ref\tr\t1\t" + strings.Repeat("d", 513) + "\turi\n"},
	} {
		if tr, err := objects.DecodeTree([]byte(tt.in)); err == nil {
			t.Errorf("%s: DecodeTree(%q)=%+v, want error", tt.what, tt.in, tr)
		} else if !errors.Is(err, objects.ErrMalformed) && !errors.Is(err, objects.ErrInvalidPath) {
			t.Errorf("%s: DecodeTree(%q) err=%v, want ErrMalformed or ErrInvalidPath", tt.what, tt.in, err)
		}
	}
}

func TestTreeEncodeRejectsInvalid(t *testing.T) {
	for _, tt := range []struct {
		what string
		e    []objects.TreeEntry
	}{
		{"bad name", []objects.TreeEntry{{Name: "..", Kind: objects.KindFile, ID: mustID("x")}}},
		{"no kind", []objects.TreeEntry{{Name: "a"}}},
		{"negative file size", []objects.TreeEntry{{Name: "a", Kind: objects.KindFile, Size: -1}}},
		{"dir with size", []objects.TreeEntry{{Name: "a", Kind: objects.KindDir, Size: 1}}},
		{"dir with exec", []objects.TreeEntry{{Name: "a", Kind: objects.KindDir, Exec: true}}},
		{"ref with id", []objects.TreeEntry{{Name: "a", Kind: objects.KindRef, ID: mustID("x"), URI: "u"}}},
		{"ref size -2", []objects.TreeEntry{{Name: "a", Kind: objects.KindRef, Size: -2, URI: "u"}}},
		{"ref without uri", []objects.TreeEntry{{Name: "a", Kind: objects.KindRef}}},
		{"duplicate", []objects.TreeEntry{
			{Name: "a", Kind: objects.KindFile}, {Name: "a", Kind: objects.KindDir}}},
		{"case-only duplicate", []objects.TreeEntry{
			{Name: "a.txt", Kind: objects.KindFile}, {Name: "A.txt", Kind: objects.KindFile}}},
	} {
		if _, err := (&objects.Tree{Entries: tt.e}).Encode(); err == nil {
			t.Errorf("%s: Encode accepted %+v", tt.what, tt.e)
		}
	}
}

// commitLines returns the golden commit's lines (without newlines).
func commitLines(tb testing.TB) []string {
	tb.Helper()
	return strings.Split(strings.TrimSuffix(string(readGolden(tb, "commit-v1.golden")), "\n"), "\n")
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") + "\n" }

// replaceField returns the golden commit with the value of field key
// replaced by value.
func replaceField(tb testing.TB, key, value string) string {
	tb.Helper()
	lines := commitLines(tb)
	for i, l := range lines {
		if strings.HasPrefix(l, key+" ") {
			lines[i] = key + " " + value
			return joinLines(lines)
		}
	}
	tb.Fatalf("golden commit has no %q field", key)
	return ""
}

func dropField(tb testing.TB, key string) string {
	tb.Helper()
	lines := commitLines(tb)
	for i, l := range lines {
		if strings.HasPrefix(l, key+" ") {
			return joinLines(append(lines[:i:i], lines[i+1:]...))
		}
	}
	tb.Fatalf("golden commit has no %q field", key)
	return ""
}

func swapLines(tb testing.TB, i, j int) string {
	tb.Helper()
	lines := commitLines(tb)
	lines[i], lines[j] = lines[j], lines[i]
	return joinLines(lines)
}

func TestDecodeCommitRejectsNonCanonical(t *testing.T) {
	golden := string(readGolden(t, "commit-v1.golden"))
	if _, err := objects.DecodeCommit([]byte(golden)); err != nil {
		t.Fatalf("DecodeCommit(golden): %v", err)
	}
	n := len(commitLines(t))
	for _, tt := range []struct {
		what string
		in   string
	}{
		{"empty", ""},
		{"header only", objects.CommitHeader},
		{"header without newline", "art commit 1"},
		{"bad header", strings.Replace(golden, "art commit 1", "art commit 2", 1)},
		{"tree header", strings.Replace(golden, "art commit 1", "art tree 1", 1)},
		{"missing trailing newline", strings.TrimSuffix(golden, "\n")},
		{"trailing blank line", golden + "\n"},
		{"trailing line", golden + "extra field\n"},
		{"repeated field", golden + "metadata {}\n"},
		{"CRLF", strings.ReplaceAll(golden, "\n", "\r\n")},
		{"name and type swapped", swapLines(t, 1, 2)},
		{"version and tree swapped", swapLines(t, 3, 4)},
		{"parent and created swapped", swapLines(t, 5, 6)},
		{"description and metadata swapped", swapLines(t, n-2, n-1)},
		{"missing name", dropField(t, "name")},
		{"missing type", dropField(t, "type")},
		{"missing version", dropField(t, "version")},
		{"missing tree", dropField(t, "tree")},
		{"missing created", dropField(t, "created")},
		{"missing description", dropField(t, "description")},
		{"missing metadata", dropField(t, "metadata")},
		{"two spaces after key", replaceField(t, "name", " bike-dataset")},
		{"empty name", replaceField(t, "name", "")},
		{"name with space", replaceField(t, "name", "bike dataset")},
		{"empty run", replaceField(t, "run", "")},
		{"leading zero version", replaceField(t, "version", "03")},
		{"plus version", replaceField(t, "version", "+3")},
		{"negative version", replaceField(t, "version", "-3")},
		{"uppercase tree", replaceField(t, "tree", strings.ToUpper(mustID("tree").String()))},
		{"zero tree", replaceField(t, "tree", objects.ZeroID.String())},
		{"zero parent", replaceField(t, "parent", objects.ZeroID.String())},
		{"uppercase parent", replaceField(t, "parent", strings.ToUpper(mustID("parent").String()))},
		{"plus created", replaceField(t, "created", "+1715949296789012345")},
		{"leading zero created", replaceField(t, "created", "01715949296789012345")},
		{"minus zero created", replaceField(t, "created", "-0")},
		{"created in seconds", replaceField(t, "created", "1715949296.789")},
		{"unquoted description", replaceField(t, "description", "hello")},
		{"description with escaped ASCII", replaceField(t, "description", `"\u0041"`)},
		{"description with HTML escape", replaceField(t, "description", `"\u003c"`)},
		{"description null", replaceField(t, "description", "null")},
		{"description with trailing space", replaceField(t, "description", `"x" `)},
		{"metadata with space", replaceField(t, "metadata", `{"a":2, "b":1}`)},
		{"metadata unsorted", replaceField(t, "metadata", `{"b":1,"a":2}`)},
		{"metadata unsorted with space", replaceField(t, "metadata", `{"b":1, "a":2}`)},
		{"metadata 1.0", replaceField(t, "metadata", `{"a":1.0}`)},
		{"metadata exponent", replaceField(t, "metadata", `{"a":1E3}`)},
		{"metadata duplicate key", replaceField(t, "metadata", `{"a":1,"a":1}`)},
		{"metadata escaped HTML", replaceField(t, "metadata", `{"a":"\u003c"}`)},
		{"metadata empty", replaceField(t, "metadata", ``)},
		{"metadata null", replaceField(t, "metadata", `null`)},
		{"metadata array", replaceField(t, "metadata", `[]`)},
		{"metadata trailing data", replaceField(t, "metadata", `{}}`)},
	} {
		if c, err := objects.DecodeCommit([]byte(tt.in)); err == nil {
			t.Errorf("%s: DecodeCommit(%q)=%+v, want error", tt.what, tt.in, c)
		} else if !errors.Is(err, objects.ErrMalformed) {
			t.Errorf("%s: DecodeCommit(%q) err=%v, want ErrMalformed", tt.what, tt.in, err)
		}
	}
}

func TestCommitEncodeRejectsInvalid(t *testing.T) {
	base := func() *objects.Commit {
		return &objects.Commit{Name: "n", Type: "t", Tree: mustID("t"), Created: time.Unix(1, 0)}
	}
	for _, tt := range []struct {
		what   string
		modify func(*objects.Commit)
	}{
		{"empty name", func(c *objects.Commit) { c.Name = "" }},
		{"name with newline", func(c *objects.Commit) { c.Name = "a\nb" }},
		{"type with space", func(c *objects.Commit) { c.Type = "a b" }},
		{"run with tab", func(c *objects.Commit) { c.Run = "r\t1" }},
		{"negative version", func(c *objects.Commit) { c.Version = -1 }},
		{"zero tree", func(c *objects.Commit) { c.Tree = objects.ZeroID }},
		{"metadata array", func(c *objects.Commit) { c.Metadata = []byte(`[1]`) }},
		{"metadata invalid", func(c *objects.Commit) { c.Metadata = []byte(`{`) }},
	} {
		c := base()
		tt.modify(c)
		if _, err := c.Encode(); !errors.Is(err, objects.ErrMalformed) {
			t.Errorf("%s: Encode err=%v, want ErrMalformed", tt.what, err)
		}
	}
}

func TestCanonicalJSON(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{``, `{}`},
		{" \n\t", `{}`},
		{`{}`, `{}`},
		{` { } `, `{}`},
		{`{"b":1,"a":2}`, `{"a":2,"b":1}`},
		{`{"b": 1, "a": {"d": 1, "c": [3, 2, 1]}}`, `{"a":{"c":[3,2,1],"d":1},"b":1}`},
		{`{"a":1.0}`, `{"a":1}`},
		{`{"a":-0.0}`, `{"a":0}`},
		{`{"a":1e3}`, `{"a":1000}`},
		{`{"a":1.5E+2}`, `{"a":150}`},
		{`{"a":0.5}`, `{"a":0.5}`},
		{`{"a":0.10}`, `{"a":0.1}`},
		{`{"a":1e-7}`, `{"a":1e-07}`},
		{`{"a":1e21}`, `{"a":1e+21}`},
		{`{"a":9223372036854775807}`, `{"a":9223372036854775807}`},
		{`{"a":-9223372036854775808}`, `{"a":-9223372036854775808}`},
		{`{"a":"<&>"}`, `{"a":"<&>"}`},
		{`{"a":"\u00fc\u0041"}`, `{"a":"üA"}`},
		{`{"a":"\n\"\\"}`, `{"a":"\n\"\\"}`},
		{`{"a":true,"b":false,"c":null}`, `{"a":true,"b":false,"c":null}`},
		{`{"a":1,"a":2}`, `{"a":2}`},
		{`{"é":1,"e":2,"z":3}`, `{"e":2,"z":3,"é":1}`},
	} {
		got, err := objects.CanonicalJSON([]byte(tt.in))
		if err != nil {
			t.Errorf("CanonicalJSON(%q): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("CanonicalJSON(%q)=%s, want %s", tt.in, got, tt.want)
		}
		again, err := objects.CanonicalJSON(got)
		if err != nil || string(again) != string(got) {
			t.Errorf("CanonicalJSON(%s)=%s, %v; not idempotent", got, again, err)
		}
	}
	for _, in := range []string{
		`[]`,
		`[{"a":1}]`,
		`1`,
		`"s"`,
		`null`,
		`true`,
		`{`,
		`{"a":}`,
		`{'a':1}`,
		`{"a":1}}`,
		`{"a":1}]`,
		`{"a":1} {"b":2}`,
		`{"a":1}x`,
		`{"a":1e400}`,
		`{"a":NaN}`,
		strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100),
	} {
		if got, err := objects.CanonicalJSON([]byte(in)); !errors.Is(err, objects.ErrMalformed) {
			t.Errorf("CanonicalJSON(%.40q)=%s, %v; want ErrMalformed", in, got, err)
		}
	}
}
