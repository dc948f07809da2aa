package refs_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/artvcs/art/objects"
	"github.com/artvcs/art/refs"
)

// hostileWords are names, types and aliases that are refused everywhere:
// they could leave a directory, pass for an option, clash with a lock
// file, hide in a listing or be another name on some file system.
var hostileWords = []string{
	"",
	".",
	"..",
	"../x",
	"x/..",
	"a/b",
	"a//b",
	"/abs",
	"a\\b",
	"-x",
	"--force",
	"_x",
	".x",
	".art",
	"x.",
	"x..",
	"a..b",
	"x.lock",
	"X.lock.",
	"a b",
	" a",
	"a ",
	"a:b",
	"a@b",
	"a@",
	"@a",
	"a\x00",
	"\x00a",
	"a\nb",
	"a\r",
	"a\tb",
	"a\x1b[31m",
	"a\x7f",
	"a\u0085",
	"ünï",
	"ｘ",        // fullwidth
	"a\u200bb", // zero-width space
	"\u0430",   // Cyrillic a
	"C:x",
	"a~1",
	"a*",
	"a?",
	"a%2f",
	strings.Repeat("n", refs.MaxNameLen+1),
	strings.Repeat("n", 10<<10),
	"\xff",
}

func TestHostileWordsRefused(t *testing.T) {
	for _, w := range hostileWords {
		for what, validate := range map[string]func(string) error{
			"ValidateName":    refs.ValidateName,
			"ValidateType":    refs.ValidateType,
			"ValidateJobType": refs.ValidateJobType,
			"ValidateAlias":   refs.ValidateAlias,
		} {
			err := validate(w)
			if !errors.Is(err, refs.ErrInvalidName) {
				t.Errorf("%s(%.40q) = %v, want ErrInvalidName", what, w, err)
				continue
			}
			checkMessage(t, what, w, err)
		}
	}
}

// TestParseRefusesHostileRefs: a reference built around a hostile name,
// or with ':' and '@' in odd places, is refused with ErrInvalidRef (and
// ErrInvalidName where a name is at fault), in a short message.
func TestParseRefusesHostileRefs(t *testing.T) {
	var in []string
	for _, w := range hostileWords {
		if !strings.ContainsAny(w, ":@") { // "a:b" is name a, alias b
			in = append(in, w, w+":latest", w+":v1", w+"@abcd")
		}
		in = append(in, "ds:"+w)
	}
	in = append(in,
		"ds:", "ds::v1", "ds:v1:", "ds:v1:x", ":", "::", "@", "ds@", "ds@@abcd", "ds@abcd@", "ds@abcd:v1",
		"ds:v1@abcd", "ds:best@abcd", "@abcd", ":v1", "ds:@abcd", "ds@:abcd", "ds@abcd/x", "ds@ABCD",
		"ds@"+strings.Repeat("a", 10<<10), "ds:"+strings.Repeat("v", 10<<10), "ds:v1\x00", "ds\x00:v1",
		"ds:latest.", "ds:-v1", "ds:v1.lock",
	)
	for _, s := range in {
		r, err := refs.Parse(s)
		if !errors.Is(err, refs.ErrInvalidRef) {
			t.Errorf("Parse(%.60q) = %+v, %v; want ErrInvalidRef", s, r, err)
			continue
		}
		checkMessage(t, "Parse", s, err)
	}
}

// checkMessage: an error names the input escaped and shortened, never
// raw control characters or kilobytes of it.
func checkMessage(t *testing.T, what, in string, err error) {
	t.Helper()
	msg := err.Error()
	if len(msg) > 400 {
		t.Errorf("%s(%.40q…): error of %d bytes", what, in, len(msg))
	}
	for _, r := range msg {
		if unicode.IsControl(r) {
			t.Errorf("%s(%.40q): error holds control character %U: %q", what, in, r, msg)
			break
		}
	}
}

// TestNamesAreSafeDirectories: every valid artifact name is also a valid
// file name (a checkout goes to ./NAME by default) that no file system
// takes for the repository.
func TestNamesAreSafeDirectories(t *testing.T) {
	for _, name := range []string{"a", "art", "ART", "bike-dataset", "model_v2", "x.y.z", "a-", "a_", "0", "lock", "a.locks",
		strings.Repeat("n", refs.MaxNameLen)} {
		if err := refs.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
			continue
		}
		if err := objects.ValidateName(name); err != nil {
			t.Errorf("artifact name %q is not a valid file name: %v", name, err)
		}
	}
}

// FuzzValidateName checks what the name grammar accepts: short ASCII
// words that start with a letter or digit, never "..", a trailing '.' or
// ".lock", always a valid file name, and a reference to their latest
// version.
func FuzzValidateName(f *testing.F) {
	for _, s := range append(hostileWords[:len(hostileWords)-2], "a", "bike-dataset", "x.y", "a.lock.b", "v1", "latest") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		errName, errAlias := refs.ValidateName(s), refs.ValidateAlias(s)
		if errName != nil {
			if !errors.Is(errName, refs.ErrInvalidName) {
				t.Fatalf("ValidateName(%q) = %v, not ErrInvalidName", s, errName)
			}
			if errAlias == nil {
				t.Fatalf("ValidateAlias(%q) accepted what ValidateName refuses (%v)", s, errName)
			}
			checkMessage(t, "ValidateName", s, errName)
			return
		}
		if refs.ValidateType(s) != nil || refs.ValidateJobType(s) != nil {
			t.Fatalf("ValidateName(%q) accepted, ValidateType or ValidateJobType refused", s)
		}
		if len(s) == 0 || len(s) > refs.MaxNameLen || strings.Contains(s, "..") || strings.HasSuffix(s, ".") ||
			strings.HasSuffix(s, ".lock") || strings.ContainsAny(s, "/\\:@ \x00\n") {
			t.Fatalf("ValidateName accepted %q", s)
		}
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 || s[i] < 0x20 {
				t.Fatalf("ValidateName accepted non-printable-ASCII %q", s)
			}
		}
		if c := s[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			t.Fatalf("ValidateName accepted %q, which starts with %q", s, c)
		}
		if err := objects.ValidateName(s); err != nil {
			t.Fatalf("valid artifact name %q is not a valid file name: %v", s, err)
		}
		r, err := refs.Parse(s)
		if err != nil || r != (refs.Ref{Name: s, Kind: refs.ByLatest}) {
			t.Fatalf("Parse(%q) = %+v, %v; want its latest version", s, r, err)
		}
		if errAlias != nil && !errors.Is(errAlias, refs.ErrReservedAlias) {
			t.Fatalf("ValidateAlias(%q) = %v; a valid name is a valid alias unless reserved", s, errAlias)
		}
	})
}
