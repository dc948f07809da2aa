package objects_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/artvcs/art/objects"
)

// Known answers from the BLAKE3 reference implementation; they are what
// `b3sum` prints for the same input.
var b3sumTests = []struct {
	in   string
	want string
}{
	{"", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
	{"abc", "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"},
}

func TestHashKnownAnswers(t *testing.T) {
	for _, tt := range b3sumTests {
		if got, want := objects.Hash([]byte(tt.in)).String(), tt.want; got != want {
			t.Errorf("Hash(%q)=%s, want %s", tt.in, got, want)
		}
		h := objects.NewHasher()
		h.Write([]byte(tt.in))
		if got, want := h.Sum().String(), tt.want; got != want {
			t.Errorf("Hasher(%q).Sum()=%s, want %s", tt.in, got, want)
		}
	}
}

func TestHasherStreamingEqualsHash(t *testing.T) {
	data := make([]byte, 3<<20+17) // spans many BLAKE3 chunks, odd length
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	want := objects.Hash(data)
	for _, step := range []int{1, 63, 64, 1023, 1024, 1025, 64 << 10, len(data)} {
		if step == 1 && testing.Short() {
			continue
		}
		h := objects.NewHasher()
		for off := 0; off < len(data); off += step {
			end := min(off+step, len(data))
			if n, err := h.Write(data[off:end]); err != nil || n != end-off {
				t.Fatalf("Write=%d, %v", n, err)
			}
		}
		if got := h.Sum(); got != want {
			t.Fatalf("step %d: streaming Sum()=%s, want %s", step, got, want)
		}
		// Sum does not consume the state.
		if got := h.Sum(); got != want {
			t.Fatalf("step %d: second Sum()=%s, want %s", step, got, want)
		}
	}
	h := objects.NewHasher()
	h.Write([]byte("junk"))
	h.Reset()
	h.Write([]byte("abc"))
	if got, want := h.Sum().String(), b3sumTests[1].want; got != want {
		t.Fatalf("after Reset: Sum()=%s, want %s", got, want)
	}
}

func TestParseID(t *testing.T) {
	const good = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
	id, err := objects.ParseID(good)
	if err != nil {
		t.Fatalf("ParseID(%q): %v", good, err)
	}
	if got, want := id, objects.Hash([]byte("abc")); got != want {
		t.Fatalf("ParseID=%s, want %s", got, want)
	}
	if got, want := id.String(), good; got != want {
		t.Fatalf("String()=%s, want %s", got, want)
	}
	if got, want := id.Short(), good[:12]; got != want {
		t.Fatalf("Short()=%s, want %s", got, want)
	}
	if id.IsZero() || !objects.ZeroID.IsZero() {
		t.Fatalf("IsZero wrong")
	}

	for _, s := range []string{
		"",
		strings.ToUpper(good),
		"6437B3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85", // one uppercase letter
		good[:63],
		good + "0",
		good[:62] + "zz",
		good[:62] + "0x",
		good[:62] + " 5",
		"0x" + good[:62],
		good[:31] + "é" + good[33:],
	} {
		if _, err := objects.ParseID(s); !errors.Is(err, objects.ErrInvalidID) {
			t.Errorf("ParseID(%q) err=%v, want ErrInvalidID", s, err)
		}
		var u objects.ID
		if err := u.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", s)
		}
	}

	b, err := id.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var back objects.ID
	if err := back.UnmarshalText(b); err != nil || back != id {
		t.Fatalf("UnmarshalText(MarshalText())=%s, %v; want %s", back, err, id)
	}
}

func TestIsIDPrefix(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"", false},
		{"a", true},
		{"0123456789abcdef", true},
		{"ABCD", false},
		{"abcg", false},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
	} {
		if got, want := objects.IsIDPrefix(tt.s), tt.want; got != want {
			t.Errorf("IsIDPrefix(%q)=%v, want %v", tt.s, got, want)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	data := bytes.Repeat([]byte{0x5a}, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		objects.Hash(data)
	}
}
