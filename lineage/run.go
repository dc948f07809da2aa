package lineage

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/artvcs/art/objects"
)

var (
	// ErrNotFound is returned for a run ID that names no run.
	ErrNotFound = errors.New("run not found")
	// ErrNotRunning is returned when a run that has already finished (or
	// failed) is used, logged to or finished again.
	ErrNotRunning = errors.New("run is not running")
	// ErrInvalidRunID is returned for a string that cannot be a run ID.
	ErrInvalidRunID = errors.New("invalid run id")
	// ErrInvalidStatus is returned for a status other than the three below.
	ErrInvalidStatus = errors.New("invalid run status")
)

// Run statuses.
const (
	StatusRunning  = "running"
	StatusFinished = objects.RunFinished
	StatusFailed   = objects.RunFailed
)

// RunIDLen is the length of the IDs NewRunID makes.
const RunIDLen = 8

const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

// NewRunID returns a random run ID of RunIDLen lowercase base-36
// characters, from crypto/rand (36^8 ≈ 2.8e12 IDs).
func NewRunID() (string, error) {
	var id [RunIDLen]byte
	var buf [32]byte
	n := 0
	for n < len(id) {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("new run id: %w", err)
		}
		for _, b := range buf {
			// 252 = 7*36: rejecting larger bytes keeps every digit equally likely.
			if b < 252 && n < len(id) {
				id[n] = base36[b%36]
				n++
			}
		}
	}
	return string(id[:]), nil
}

// ValidateRunID checks that id could name a run (objects.ValidateRunID),
// wrapping ErrInvalidRunID.
func ValidateRunID(id string) error {
	if objects.ValidateRunID(id) != nil {
		return fmt.Errorf("%w: %q (a run ID is %d lowercase letters and digits)", ErrInvalidRunID, id, RunIDLen)
	}
	return nil
}

// ValidateStatus checks that status is one a run can end with: finished or
// failed.
func ValidateStatus(status string) error {
	if status != StatusFinished && status != StatusFailed {
		return fmt.Errorf("%w: %q (want %s or %s)", ErrInvalidStatus, status, StatusFinished, StatusFailed)
	}
	return nil
}

// Run is the record of one run.
type Run struct {
	ID      string
	JobType string
	Name    string // "" if none
	// Config is a canonical JSON object (objects.CanonicalJSON).
	Config   json.RawMessage
	Host     string
	Started  time.Time
	Finished time.Time // zero while running
	Status   string    // StatusRunning, StatusFinished or StatusFailed
	// Object is the run object written when the run ended; zero while it
	// is running.
	Object objects.ID
}

// Running reports whether the run has not ended.
func (r Run) Running() bool { return r.Status == StatusRunning }

// ObjectOf returns the run object of r, ended with status at finished,
// with the given inputs and outputs.
func (r Run) ObjectOf(status string, finished time.Time, inputs, outputs []objects.ID) *objects.Run {
	return &objects.Run{
		ID: r.ID, JobType: r.JobType, Name: r.Name, Config: r.Config, Host: r.Host,
		Started: r.Started.UTC(), Finished: finished.UTC(), Status: status,
		Inputs: inputs, Outputs: outputs,
	}
}

// FromObject returns the record of the run object o stored as id.
func FromObject(id objects.ID, o *objects.Run) Run {
	config := o.Config
	if len(config) == 0 {
		config = json.RawMessage("{}")
	}
	return Run{
		ID: o.ID, JobType: o.JobType, Name: o.Name, Config: config, Host: o.Host,
		Started: o.Started.UTC(), Finished: o.Finished.UTC(), Status: o.Status, Object: id,
	}
}
