package httpremote

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
)

// Scope is what a token allows.
type Scope int

const (
	// ScopeRead allows Stat, Get and List.
	ScopeRead Scope = 1
	// ScopeReadWrite also allows PutIfAbsent, CompareAndSwap and Delete.
	ScopeReadWrite Scope = 2
)

func (s Scope) String() string {
	switch s {
	case ScopeRead:
		return "read"
	case ScopeReadWrite:
		return "write"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// MinTokenLen is the shortest token NewHandler and LoadTokens accept.
const MinTokenLen = 16

// maxTokenLen bounds a token, and so the Authorization header we parse.
const maxTokenLen = 4096

// Token is a bearer token and the scope it grants. Its String, GoString
// and LogValue methods never show Secret, so a Token printed or logged by
// mistake does not leak.
type Token struct {
	Scope  Scope
	Secret string // at least MinTokenLen characters of RFC 6750 b64token
}

func (t Token) String() string       { return "Token{" + t.Scope.String() + ", <redacted>}" }
func (t Token) GoString() string     { return t.String() }
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// ErrTokenFile wraps every error LoadTokens returns about the file's
// content or permissions.
var ErrTokenFile = errors.New("bad token file")

// checkSecret reports what is wrong with a token's secret, without
// quoting it.
func checkSecret(s string) error {
	if len(s) < MinTokenLen {
		return fmt.Errorf("token shorter than %d characters", MinTokenLen)
	}
	if len(s) > maxTokenLen {
		return fmt.Errorf("token longer than %d characters", maxTokenLen)
	}
	if !isB64Token(s) {
		return errors.New("token holds characters other than letters, digits and -._~+/ (with '=' only at the end)")
	}
	return nil
}

// isB64Token reports whether s is an RFC 6750 b64token: 1*( ALPHA / DIGIT
// / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// maxTokenFile bounds a token file.
const maxTokenFile = 1 << 20

// LoadTokens reads a token file: one token per line, "read <token>" or
// "write <token>" (write grants read-write), blank lines and lines starting
// with '#' ignored. Tokens are at least MinTokenLen characters of RFC 6750
// b64token (letters, digits, -._~+/ and trailing '='); a token may appear
// once. The file must not be accessible to other users (no permission bits
// for "other", e.g. mode 0600 or 0640): LoadTokens refuses it otherwise, as
// anyone on the machine could read the tokens. Errors name the file and the
// line, never a token.
func LoadTokens(path string) ([]Token, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrTokenFile, path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("%w: %s is accessible to other users (mode %#o); run chmod 600 %s", ErrTokenFile, path, fi.Mode().Perm(), path)
	}
	if fi.Size() > maxTokenFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTokenFile, path, maxTokenFile)
	}
	var (
		tokens []Token
		seen   = map[string]int{}
	)
	sc := bufio.NewScanner(io.LimitReader(f, maxTokenFile))
	sc.Buffer(make([]byte, 0, 64<<10), maxTokenFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%w: %s:%d: want \"read <token>\" or \"write <token>\"", ErrTokenFile, path, n)
		}
		var scope Scope
		switch fields[0] {
		case "read":
			scope = ScopeRead
		case "write":
			scope = ScopeReadWrite
		default:
			return nil, fmt.Errorf("%w: %s:%d: scope must be read or write", ErrTokenFile, path, n)
		}
		if err := checkSecret(fields[1]); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrTokenFile, path, n, err)
		}
		if prev, dup := seen[fields[1]]; dup {
			return nil, fmt.Errorf("%w: %s:%d: same token as line %d", ErrTokenFile, path, n, prev)
		}
		seen[fields[1]] = n
		tokens = append(tokens, Token{Scope: scope, Secret: fields[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTokenFile, path, err)
	}
	return tokens, nil
}

// authenticator checks bearer tokens. It keeps only SHA-256 digests of the
// secrets, so every comparison is between 32-byte values and takes the same
// time whatever the presented token's length.
type authenticator struct {
	digests [][sha256.Size]byte
	scopes  []Scope
}

func newAuthenticator(tokens []Token) (*authenticator, error) {
	a := &authenticator{}
	seen := map[[sha256.Size]byte]int{}
	for i, t := range tokens {
		if t.Scope != ScopeRead && t.Scope != ScopeReadWrite {
			return nil, fmt.Errorf("httpremote: token %d: invalid scope %d", i+1, int(t.Scope))
		}
		if err := checkSecret(t.Secret); err != nil {
			return nil, fmt.Errorf("httpremote: token %d: %v", i+1, err)
		}
		d := sha256.Sum256([]byte(t.Secret))
		if prev, dup := seen[d]; dup {
			return nil, fmt.Errorf("httpremote: token %d is the same as token %d", i+1, prev)
		}
		seen[d] = i + 1
		a.digests = append(a.digests, d)
		a.scopes = append(a.scopes, t.Scope)
	}
	return a, nil
}

// scope returns the scope of the token presented, or 0 if it matches
// none. It compares against every configured token, without stopping at
// a match, in constant time per token.
func (a *authenticator) scope(presented string) Scope {
	d := sha256.Sum256([]byte(presented))
	scope := 0
	for i := range a.digests {
		eq := subtle.ConstantTimeCompare(d[:], a.digests[i][:])
		scope = subtle.ConstantTimeSelect(eq, int(a.scopes[i]), scope)
	}
	return Scope(scope)
}

// bearer extracts the token from an Authorization header value; ok is
// false if the header is not a well-formed bearer credential.
func bearer(h string) (token string, ok bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || len(h) > len(prefix)+maxTokenLen || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	token = strings.TrimLeft(h[len(prefix):], " ")
	if !isB64Token(token) {
		return "", false
	}
	return token, true
}
