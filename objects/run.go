package objects

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RunHeader is the first line of every encoded run.
const RunHeader = "art run 1\n"

// Run statuses a run object may hold. A run still running has no object:
// it is written once, when the run ends.
const (
	RunFinished = "finished"
	RunFailed   = "failed"
)

// MaxRunIDLen is the longest run ID. It is shorter than a hex object ID,
// so a string of 64 hex characters always names a commit, never a run.
const MaxRunIDLen = 32

// Run is a finished run: the job that consumed its inputs and produced its
// outputs. It is written once, when the run ends, so lineage can travel
// with the commits it names.
type Run struct {
	ID      string // 1..MaxRunIDLen lowercase letters and digits; see ValidateRunID
	JobType string // e.g. "train"
	Name    string // free text, "" if none
	// Config is a canonical JSON object (see CanonicalJSON); nil or empty
	// means {}.
	Config   json.RawMessage
	Host     string    // the machine the run started on, "" if unknown
	Started  time.Time // stored as UTC nanoseconds
	Finished time.Time // stored as UTC nanoseconds
	Status   string    // RunFinished or RunFailed
	Inputs   []ID      // commits the run used; Encode sorts them
	Outputs  []ID      // commits the run logged; Encode sorts them
}

// ValidateRunID checks that id is 1..MaxRunIDLen lowercase ASCII letters
// and digits, the form of the IDs art gives runs (8 base-36 characters).
func ValidateRunID(id string) error {
	if id == "" || len(id) > MaxRunIDLen {
		return fmt.Errorf("%w: run id %q must be 1 to %d characters", ErrMalformed, id, MaxRunIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return fmt.Errorf("%w: run id %q may hold only lowercase letters and digits", ErrMalformed, id)
		}
	}
	return nil
}

// Encode returns the canonical encoding of r:
//
//	art run 1
//	id <run id>
//	job_type <job type>
//	name <JSON string>
//	config <canonical JSON object>
//	host <JSON string>
//	started <unix nanoseconds>
//	finished <unix nanoseconds>
//	status finished|failed
//	input <commit id>    (one line per input, sorted, no duplicates)
//	output <commit id>   (one line per output, sorted, no duplicates)
//
// Inputs and outputs are sorted first; a duplicate is an error wrapping
// ErrMalformed, as is any invalid field.
func (r *Run) Encode() ([]byte, error) {
	if err := ValidateRunID(r.ID); err != nil {
		return nil, err
	}
	if err := validateLineField(r.JobType); err != nil {
		return nil, fmt.Errorf("%w: run job type %q", ErrMalformed, r.JobType)
	}
	if r.Status != RunFinished && r.Status != RunFailed {
		return nil, fmt.Errorf("%w: run status %q (want %s or %s)", ErrMalformed, r.Status, RunFinished, RunFailed)
	}
	config, err := CanonicalJSON(r.Config)
	if err != nil {
		return nil, err
	}
	name, err := marshalNoEscape(r.Name)
	if err != nil {
		return nil, err
	}
	host, err := marshalNoEscape(r.Host)
	if err != nil {
		return nil, err
	}
	inputs, err := sortedIDs("input", r.Inputs)
	if err != nil {
		return nil, err
	}
	outputs, err := sortedIDs("output", r.Outputs)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(256 + 72*(len(inputs)+len(outputs)) + len(config))
	b.WriteString(RunHeader)
	b.WriteString("id " + r.ID + "\n")
	b.WriteString("job_type " + r.JobType + "\n")
	b.WriteString("name ")
	b.Write(name)
	b.WriteString("\nconfig ")
	b.Write(config)
	b.WriteString("\nhost ")
	b.Write(host)
	b.WriteString("\nstarted " + strconv.FormatInt(r.Started.UnixNano(), 10) + "\n")
	b.WriteString("finished " + strconv.FormatInt(r.Finished.UnixNano(), 10) + "\n")
	b.WriteString("status " + r.Status + "\n")
	for _, id := range inputs {
		b.WriteString("input " + id.String() + "\n")
	}
	for _, id := range outputs {
		b.WriteString("output " + id.String() + "\n")
	}
	return b.Bytes(), nil
}

// sortedIDs returns a sorted copy of ids, refusing duplicates and zero IDs.
func sortedIDs(what string, ids []ID) ([]ID, error) {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	for i, id := range out {
		if id.IsZero() {
			return nil, fmt.Errorf("%w: run %s is the zero id", ErrMalformed, what)
		}
		if i > 0 && out[i-1] == id {
			return nil, fmt.Errorf("%w: run lists %s %s twice", ErrMalformed, what, id.Short())
		}
	}
	return out, nil
}

// DecodeRun parses the canonical encoding of a run and rejects any other
// form with an error wrapping ErrMalformed.
func DecodeRun(b []byte) (*Run, error) {
	s := string(b)
	if !strings.HasPrefix(s, RunHeader) {
		return nil, fmt.Errorf("%w: not a run (missing %q header)", ErrMalformed, strings.TrimSpace(RunHeader))
	}
	s = s[len(RunHeader):]
	if s == "" || !strings.HasSuffix(s, "\n") {
		return nil, fmt.Errorf("%w: run: no fields or unterminated line", ErrMalformed)
	}
	lines := strings.Split(s[:len(s)-1], "\n")
	next := func(key string) (string, error) {
		if len(lines) == 0 || !strings.HasPrefix(lines[0], key+" ") {
			return "", fmt.Errorf("%w: run: missing %q", ErrMalformed, key)
		}
		v := lines[0][len(key)+1:]
		lines = lines[1:]
		return v, nil
	}
	r := &Run{}
	var err error
	var v string
	if r.ID, err = next("id"); err != nil {
		return nil, err
	}
	if r.JobType, err = next("job_type"); err != nil {
		return nil, err
	}
	if v, err = next("name"); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(v), &r.Name); err != nil {
		return nil, fmt.Errorf("%w: run: bad name", ErrMalformed)
	}
	if v, err = next("config"); err != nil {
		return nil, err
	}
	r.Config = json.RawMessage(v)
	if v, err = next("host"); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(v), &r.Host); err != nil {
		return nil, fmt.Errorf("%w: run: bad host", ErrMalformed)
	}
	for _, f := range []struct {
		key string
		t   *time.Time
	}{{"started", &r.Started}, {"finished", &r.Finished}} {
		if v, err = next(f.key); err != nil {
			return nil, err
		}
		ns, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: run: bad %s time", ErrMalformed, f.key)
		}
		*f.t = time.Unix(0, ns).UTC()
	}
	if r.Status, err = next("status"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key string
		ids *[]ID
	}{{"input", &r.Inputs}, {"output", &r.Outputs}} {
		for len(lines) > 0 && strings.HasPrefix(lines[0], f.key+" ") {
			id, err := ParseID(lines[0][len(f.key)+1:])
			if err != nil {
				return nil, fmt.Errorf("%w: run: bad %s id", ErrMalformed, f.key)
			}
			*f.ids = append(*f.ids, id)
			lines = lines[1:]
		}
	}
	if len(lines) != 0 {
		return nil, fmt.Errorf("%w: run: unexpected line %q", ErrMalformed, truncate(lines[0]))
	}
	enc, err := r.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(enc, b) {
		return nil, fmt.Errorf("%w: run is not in canonical form", ErrMalformed)
	}
	return r, nil
}

// ReadRun reads, verifies and decodes a run object. Undecodable bytes are
// reported as a *CorruptError naming id.
func ReadRun(ctx context.Context, s Getter, id ID) (*Run, error) {
	b, err := ReadAll(ctx, s, id, MaxMetaObjectSize)
	if err != nil {
		return nil, err
	}
	r, err := DecodeRun(b)
	if err != nil {
		return nil, &CorruptError{ID: id, Reason: err.Error()}
	}
	return r, nil
}
