package refs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/artvcs/art/refs"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want refs.Ref
		str  string // canonical spelling; in if empty
	}{
		{"name", refs.Ref{Name: "name", Kind: refs.ByLatest}, "name:latest"},
		{"name:latest", refs.Ref{Name: "name", Kind: refs.ByLatest}, ""},
		{"name:v0", refs.Ref{Name: "name", Kind: refs.ByVersion, Version: 0}, ""},
		{"name:v3", refs.Ref{Name: "name", Kind: refs.ByVersion, Version: 3}, ""},
		{"name:v9223372036854775807", refs.Ref{Name: "name", Kind: refs.ByVersion, Version: 9223372036854775807}, ""},
		{"name:best-ap50", refs.Ref{Name: "name", Kind: refs.ByAlias, Alias: "best-ap50"}, ""},
		{"name:v01", refs.Ref{Name: "name", Kind: refs.ByAlias, Alias: "v01"}, ""}, // leading zero: not a version
		{"name:v", refs.Ref{Name: "name", Kind: refs.ByAlias, Alias: "v"}, ""},
		{"name:v-1", refs.Ref{Name: "name", Kind: refs.ByAlias, Alias: "v-1"}, ""},
		{"name:v3a", refs.Ref{Name: "name", Kind: refs.ByAlias, Alias: "v3a"}, ""},
		{"name:V3", refs.Ref{Name: "name", Kind: refs.ByAlias, Alias: "V3"}, ""},
		{"name:Latest", refs.Ref{Name: "name", Kind: refs.ByAlias, Alias: "Latest"}, ""},
		{"name:v99999999999999999999", refs.Ref{Name: "name", Kind: refs.ByAlias, Alias: "v99999999999999999999"}, ""},
		{"name@abcd", refs.Ref{Name: "name", Kind: refs.ByID, IDPrefix: "abcd"}, ""},
		{"name@abcd1234", refs.Ref{Name: "name", Kind: refs.ByID, IDPrefix: "abcd1234"}, ""},
		{"name@" + strings.Repeat("0", 64), refs.Ref{Name: "name", Kind: refs.ByID, IDPrefix: strings.Repeat("0", 64)}, ""},
		{"bike-dataset.v2_final:prod", refs.Ref{Name: "bike-dataset.v2_final", Kind: refs.ByAlias, Alias: "prod"}, ""},
		{"0day", refs.Ref{Name: "0day", Kind: refs.ByLatest}, "0day:latest"},
		{strings.Repeat("n", 128), refs.Ref{Name: strings.Repeat("n", 128), Kind: refs.ByLatest}, strings.Repeat("n", 128) + ":latest"},
	} {
		got, err := refs.Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q)=%+v, want %+v", tt.in, got, tt.want)
		}
		want := tt.str
		if want == "" {
			want = tt.in
		}
		if got := got.String(); got != want {
			t.Errorf("Parse(%q).String()=%q, want %q", tt.in, got, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"../x",
		"a/b",
		"a//b",
		"/abs",
		"-x",
		".x",
		"_x",
		"x.lock",
		"x.lock:v1",
		"a..b",
		"a b",
		"a\tb",
		"ünï",
		strings.Repeat("n", 10<<10),
		strings.Repeat("n", 129),
		"name@ab",
		"name@abc",
		"name@ABCD",
		"name@abcg",
		"name@" + strings.Repeat("a", 65),
		"name@",
		"@abcd",
		"name@abcd:v1",
		"name:v1@abcd",
		"name:",
		":v1",
		":",
		"name:a:b",
		"name:-x",
		"name:.x",
		"name:a b",
		"name:x.lock",
		"name:" + strings.Repeat("a", 129),
		"name:/x",
	} {
		if got, err := refs.Parse(in); !errors.Is(err, refs.ErrInvalidRef) {
			t.Errorf("Parse(%.60q)=%+v, %v; want ErrInvalidRef", in, got, err)
		}
	}
}

func TestParseErrorWrapsInvalidName(t *testing.T) {
	_, err := refs.Parse("-x:v1")
	if !errors.Is(err, refs.ErrInvalidRef) || !errors.Is(err, refs.ErrInvalidName) {
		t.Fatalf("Parse(-x:v1) err=%v, want ErrInvalidRef and ErrInvalidName", err)
	}
}

func TestValidateName(t *testing.T) {
	for _, name := range []string{
		"a", "A", "0", "bike-dataset", "model_v2", "x.y.z", "a-", "a_", "a.b-c_d",
		strings.Repeat("n", refs.MaxNameLen),
	} {
		if err := refs.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q)=%v, want nil", name, err)
		}
		if err := refs.ValidateType(name); err != nil {
			t.Errorf("ValidateType(%q)=%v, want nil", name, err)
		}
	}
	for _, name := range []string{
		"",
		strings.Repeat("n", refs.MaxNameLen+1),
		"a b",
		" a",
		"a ",
		"a/b",
		"a\\b",
		".a",
		"-a",
		"_a",
		"a:b",
		"a@b",
		"a..b",
		"a.lock",
		"é",
		"a\x00",
		"a\n",
	} {
		if err := refs.ValidateName(name); !errors.Is(err, refs.ErrInvalidName) {
			t.Errorf("ValidateName(%q)=%v, want ErrInvalidName", name, err)
		}
		if err := refs.ValidateType(name); !errors.Is(err, refs.ErrInvalidName) {
			t.Errorf("ValidateType(%q)=%v, want ErrInvalidName", name, err)
		}
	}
}

func TestValidateAlias(t *testing.T) {
	for _, a := range []string{"best", "prod", "best-ap50", "v01", "v", "v1a", "V7", "Latest", "latest2", "x.y"} {
		if err := refs.ValidateAlias(a); err != nil {
			t.Errorf("ValidateAlias(%q)=%v, want nil", a, err)
		}
	}
	for _, a := range []string{"latest", "v0", "v7", "v123"} {
		err := refs.ValidateAlias(a)
		if !errors.Is(err, refs.ErrReservedAlias) {
			t.Errorf("ValidateAlias(%q)=%v, want ErrReservedAlias", a, err)
		}
		if errors.Is(err, refs.ErrInvalidName) {
			t.Errorf("ValidateAlias(%q)=%v, want only ErrReservedAlias", a, err)
		}
	}
	for _, a := range []string{"", "-x", "a b", "a:b", "a.lock", strings.Repeat("a", 129)} {
		if err := refs.ValidateAlias(a); !errors.Is(err, refs.ErrInvalidName) {
			t.Errorf("ValidateAlias(%q)=%v, want ErrInvalidName", a, err)
		}
	}
}

func TestVersionString(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "v0"}, {3, "v3"}, {1234, "v1234"}} {
		if got := refs.VersionString(tt.n); got != tt.want {
			t.Errorf("VersionString(%d)=%q, want %q", tt.n, got, tt.want)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"name", "name:latest", "name:v3", "name:best-ap50", "name@abcd1234", "name:v01",
		"", "../x", "a//b", "-x", "x.lock", "name@ab", "name@ABCD", "name:", "a:b:c", "a@b@c",
		"name:v99999999999999999999", "n:v0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := refs.Parse(s)
		if err != nil {
			return
		}
		if err := refs.ValidateName(r.Name); err != nil {
			t.Fatalf("Parse(%q) accepted name %q: %v", s, r.Name, err)
		}
		str := r.String()
		back, err := refs.Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q).String()=%q does not parse: %v", s, str, err)
		}
		if back != r {
			t.Fatalf("Parse(%q)=%+v; String()=%q parses to %+v", s, r, str, back)
		}
		if back.String() != str {
			t.Fatalf("String not stable: %q -> %q", str, back.String())
		}
		switch r.Kind {
		case refs.ByAlias:
			if r.Alias == refs.Latest {
				t.Fatalf("Parse(%q) gave alias %q", s, r.Alias)
			}
		case refs.ByID:
			if len(r.IDPrefix) < refs.MinIDPrefix {
				t.Fatalf("Parse(%q) gave short prefix %q", s, r.IDPrefix)
			}
		}
	})
}
