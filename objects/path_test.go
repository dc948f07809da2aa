package objects_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/artvcs/art/objects"
)

var validNames = []string{
	"model.h5",
	"cat.png",
	"ünïcödé.txt",
	"a b.txt",
	"a..b",
	"..a",
	".gitignore",
	".artifacts",
	"art",
	"x",
	"日本語",
	"C", // a drive needs a colon
	"1:x",
	strings.Repeat("n", objects.MaxNameLen),
	strings.Repeat("é", objects.MaxNameLen/2) + "x", // 255 bytes, multi-byte runes
}

var invalidNames = []string{
	"",
	".",
	"..",
	"a/b",
	"/abs",
	"a\\b",
	"C:x",
	"c:",
	"z:file",
	".art",
	".ART",
	".Art",
	".aRt",
	"．ａｒｔ",       // fullwidth
	".a\u200brt", // zero-width space
	"\u200b.art",
	".art\ufeff",
	".\u00adart", // soft hyphen
	"a\x00b",
	"a\nb",
	"a\tb",
	"name\r",
	"\x7f",
	"trailing ",
	"trailing.",
	"...",
	"\xff\xfe",
	"a\xc3", // truncated UTF-8
	strings.Repeat("n", objects.MaxNameLen+1),
	strings.Repeat("é", 128), // 256 bytes
}

func TestValidateName(t *testing.T) {
	if got, want := len(validNames[len(validNames)-1]), 255; got != want {
		t.Fatalf("test table: multi-byte name is %d bytes, want %d", got, want)
	}
	for _, name := range validNames {
		if err := objects.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q)=%v, want nil", name, err)
		}
	}
	for _, name := range invalidNames {
		if err := objects.ValidateName(name); !errors.Is(err, objects.ErrInvalidPath) {
			t.Errorf("ValidateName(%q)=%v, want ErrInvalidPath", name, err)
		}
	}
}

func TestIsReservedName(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{".art", true},
		{".ART", true},
		{"．ａｒｔ", true},
		{".a\u200crt", true},
		{"art", false},
		{".arts", false},
		{"..art", false},
		{".art:x", true},
		{".ART::$INDEX_ALLOCATION", true},
		{"ART~1", true},
		{"ａｒｔ~１", true},
		{"art~", false},
		{"art~1x", false},
		{".ạrt", false},
	} {
		if got, want := objects.IsReservedName(tt.name), tt.want; got != want {
			t.Errorf("IsReservedName(%q)=%v, want %v", tt.name, got, want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"a", "a"},
		{"./a//b/", "a/b"},
		{"a/./b", "a/b"},
		{"images/cat.png", "images/cat.png"},
		{"./x", "x"},
		{"a b/ünï.txt", "a b/ünï.txt"},
		{"a..b/c", "a..b/c"},
		{strings.Repeat("d/", objects.MaxPathDepth), strings.TrimSuffix(strings.Repeat("d/", objects.MaxPathDepth), "/")},
	} {
		got, err := objects.CleanPath(tt.in)
		if err != nil {
			t.Errorf("CleanPath(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("CleanPath(%q)=%q, want %q", tt.in, got, tt.want)
		}
		if again, err := objects.CleanPath(got); err != nil || again != got {
			t.Errorf("CleanPath(%q)=%q, %v; not idempotent", got, again, err)
		}
	}
	for _, in := range []string{
		"",
		".",
		"./",
		"/",
		"//",
		"/x",
		"../x",
		"a/../b",
		"a/..",
		"..",
		"a\\b",
		"a/.art/b",
		".ART/config",
		"a/b\x00",
		"C:/x",
		"a/trailing /b",
		strings.Repeat("d/", objects.MaxPathDepth+1),
	} {
		if got, err := objects.CleanPath(in); !errors.Is(err, objects.ErrInvalidPath) {
			t.Errorf("CleanPath(%q)=%q, %v; want ErrInvalidPath", in, got, err)
		}
	}
}
