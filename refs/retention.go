package refs

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Retention is an artifact's retention policy: which versions gc keeps.
// A version is kept if any rule keeps it; with no rule, every version is.
// Versions with aliases are always kept, and so are the inputs of the
// runs that produced kept versions (the caller applies that rule: see
// Expired).
type Retention struct {
	// KeepLast keeps the newest KeepLast versions (0: no such rule).
	KeepLast int64 `json:"keep_last,omitempty"`
	// KeepWithin keeps the versions created within KeepWithin of now (0:
	// no such rule).
	KeepWithin Duration `json:"keep_within,omitempty"`
}

// Duration is a time.Duration that encodes as its string ("720h0m0s").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// IsZero reports whether the policy has no rule (every version is kept).
func (p Retention) IsZero() bool { return p.KeepLast == 0 && p.KeepWithin == 0 }

// Validate checks the policy's bounds.
func (p Retention) Validate() error {
	if p.KeepLast < 0 || p.KeepWithin < 0 {
		return fmt.Errorf("%w: a retention policy keeps a positive number of versions, for a positive duration", ErrInvalidRetention)
	}
	return nil
}

// ErrInvalidRetention is returned for a retention policy out of bounds or
// that does not parse.
var ErrInvalidRetention = errors.New("invalid retention policy")

// String describes the policy ("keep the last 3 versions and those of the
// last 720h0m0s", "keep every version").
func (p Retention) String() string {
	switch {
	case p.IsZero():
		return "keep every version"
	case p.KeepWithin == 0:
		return fmt.Sprintf("keep the last %d versions", p.KeepLast)
	case p.KeepLast == 0:
		return fmt.Sprintf("keep the versions of the last %s", time.Duration(p.KeepWithin))
	}
	return fmt.Sprintf("keep the last %d versions and those of the last %s", p.KeepLast, time.Duration(p.KeepWithin))
}

// EncodeRetention returns the policy's canonical encoding ("" for none).
func EncodeRetention(p Retention) string {
	if p.IsZero() {
		return ""
	}
	b, _ := json.Marshal(p)
	return string(b)
}

// DecodeRetention parses EncodeRetention's output, strictly.
func DecodeRetention(s string) (Retention, error) {
	if s == "" {
		return Retention{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	var p Retention
	if err := dec.Decode(&p); err != nil || dec.More() {
		return Retention{}, fmt.Errorf("%w: %q", ErrInvalidRetention, s)
	}
	return p, p.Validate()
}

// Retention returns the retention policy of the artifact name.
func (x *Index) Retention(ctx context.Context, name string) (Retention, error) {
	var s string
	err := x.q.QueryRowContext(ctx, `SELECT retention FROM artifacts WHERE name = ?`, name).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return Retention{}, fmt.Errorf("%w: artifact %q", ErrNotFound, name)
	}
	if err != nil {
		return Retention{}, err
	}
	return DecodeRetention(s)
}

// SetRetention sets the retention policy of the artifact name (the zero
// policy clears it).
func (x *Index) SetRetention(ctx context.Context, name string, p Retention) error {
	if err := p.Validate(); err != nil {
		return err
	}
	res, err := x.q.ExecContext(ctx, `UPDATE artifacts SET retention = ? WHERE name = ?`, EncodeRetention(p), name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: artifact %q", ErrNotFound, name)
	}
	return nil
}

// Expired returns, of versions (one artifact's, ascending by number), those
// the policy lets go at now: not among the newest KeepLast, not created
// within KeepWithin of now, without aliases (and not the newest, which is
// "latest"), and not in
// keep (the versions the caller must keep: inputs of the runs that
// produced kept versions). With no rule nothing expires.
func Expired(versions []Version, p Retention, now time.Time, keep func(Version) bool) []Version {
	if p.IsZero() {
		return nil
	}
	var out []Version
	for i, v := range versions {
		newest := p.KeepLast > 0 && int64(len(versions)-i) <= p.KeepLast
		recent := p.KeepWithin > 0 && now.Sub(v.Created) < time.Duration(p.KeepWithin)
		// Any alias keeps a version, "latest" too: the newest version
		// never goes.
		aliased := len(v.Aliases) > 0 || i == len(versions)-1
		if newest || recent || aliased || keep != nil && keep(v) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// SetRemote records that version of name came from (and its missing files
// are fetched from) the remote remoteName.
func (x *Index) SetRemote(ctx context.Context, name string, version int64, remoteName string) error {
	res, err := x.q.ExecContext(ctx, `UPDATE versions SET remote = ? WHERE name = ? AND version = ?`, remoteName, name, version)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s:%s", ErrNotFound, name, VersionString(version))
	}
	return nil
}
