// Package reward holds the types every rewardmesh service shares: a reward item and
// its result, the error shape clients see, a code verdict, a test case and a job.
// It imports only the standard library; each dependency (NATS, Redis, Docker, HTTP)
// lives in a package of its own that speaks these types.
package reward

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Domain names which service scores an item in /v1/rewards.
type Domain string

const (
	Math Domain = "math"
	Code Domain = "code"
	SWE  Domain = "swe"
	RM   Domain = "rm"
	IF   Domain = "if"
)

// Domains lists every domain /v1/rewards accepts, in a stable order.
var Domains = []Domain{Math, Code, SWE, RM, IF}

// Service returns the mesh service that scores the domain, and false for an
// unknown domain. Instruction following is checked by the rm service.
func (d Domain) Service() (string, bool) {
	switch d {
	case Math:
		return "math", true
	case Code:
		return "sandbox", true
	case SWE:
		return "swe", true
	case RM, IF:
		return "rm", true
	}
	return "", false
}

// Cached reports whether the domain's reward is a pure function of the item (less
// its id), so that a cache may answer it. A reward-model score is not: it depends
// on the model served and on the item's group, and so does the IF-RL combination
// of an instruction-following item with a group.
func (d Domain) Cached() bool {
	return d == Math || d == Code || d == SWE
}

// WholeGroup reports whether the domain's rewards may be normalized within a
// group of items scored together (a reward model's, and IF-RL's, which combines
// it), so that a batch's items of the domain reach their service in one call,
// never split into chunks.
func (d Domain) WholeGroup() bool {
	return d == RM || d == IF
}

// Item is one entry of a /v1/rewards batch. Reference carries the domain's own
// fields (a math gold answer, code tests, oracle files...).
type Item struct {
	ID        json.RawMessage `json:"id,omitempty"`
	Domain    Domain          `json:"domain"`
	Response  string          `json:"response"`
	Reference json.RawMessage `json:"reference,omitempty"`
	Group     string          `json:"group,omitempty"`
}

// NormalizedGroup is the group an item's reward is normalized within: its Group
// when the domain is scored by a reward model (rm), whose scores are normalized over
// the group's members in one request; "" otherwise. Such a group must always be
// scored whole, also when some of its items are retried.
func (it Item) NormalizedGroup() string {
	if it.Domain == RM && it.Group != "" {
		return it.Group
	}
	return ""
}

// Result answers one Item. A failure of the item alone is carried in Error and
// never fails the batch.
type Result struct {
	ID      json.RawMessage `json:"id,omitempty"`
	Reward  float64         `json:"reward"`
	Domain  Domain          `json:"domain"`
	Details json.RawMessage `json:"details,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Failed returns a result that reports err for item.
func Failed(item Item, err error) Result {
	return Result{ID: item.ID, Domain: item.Domain, Error: AsError(err)}
}

// ErrorCode is what a client sees of a failure. One table (HTTPStatus) maps it to
// HTTP; the mesh carries it in NATS service error headers.
type ErrorCode string

const (
	Invalid     ErrorCode = "invalid"
	TooLarge    ErrorCode = "too_large"
	NotFound    ErrorCode = "not_found"
	Unavailable ErrorCode = "unavailable"
	Timeout     ErrorCode = "timeout"
	Busy        ErrorCode = "busy"
	Internal    ErrorCode = "internal"
)

// HTTPStatus maps an error code to the status a whole-request failure answers.
func (c ErrorCode) HTTPStatus() int {
	switch c {
	case Invalid:
		return 400
	case NotFound:
		return 404
	case TooLarge:
		return 413
	case Busy:
		return 429
	case Unavailable:
		return 503
	case Timeout:
		return 504
	}
	return 500
}

// Error is the error shape of the API: `{"code","message"}`.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
	// Retryable marks a failure of the mesh rather than of the item (a service
	// not reachable now, a replica that fell silent, a deadline): the same item
	// sent again later may well succeed.
	Retryable bool `json:"retryable,omitempty"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// MeshFailed says whether the error is a failure of the mesh rather than of the
// item (a service not reachable now, a silent replica, every replica busy): the
// same item sent again later may well be scored.
func (e *Error) MeshFailed() bool {
	return e != nil && (e.Retryable || e.Code == Busy)
}

// Errorf builds an *Error with a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError turns any error into the API's shape. Errors that are not an *Error are
// internal: the client sees their message but no more.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: err.Error()}
}

// Verdict is a code judge's answer for a test or a submission.
type Verdict string

const (
	Accepted            Verdict = "AC"
	WrongAnswer         Verdict = "WA"
	TimeLimitExceeded   Verdict = "TLE"
	MemoryLimitExceeded Verdict = "MLE"
	RuntimeError        Verdict = "RE"
	CompileError        Verdict = "CE"
	OutputLimitExceeded Verdict = "OLE"
	SystemError         Verdict = "SE"
	// PartiallyAccepted is a test a points checker (testlib's exit code 7)
	// gave a share of its points, more than none and less than all.
	PartiallyAccepted Verdict = "PA"
)

// TestCase is one input and the output a correct program prints for it.
type TestCase struct {
	Input  string `json:"input"`
	Output string `json:"output"`
}

// JobState is where an asynchronous job stands.
type JobState string

const (
	JobQueued  JobState = "queued"
	JobRunning JobState = "running"
	JobDone    JobState = "done"
)

// Job is an asynchronous /v1/rewards batch: posted once, read back by id, and
// its results also published for consumers that do not poll. A job does not fail
// as a whole: as in /v1/rewards, each item that fails carries its own error.
type Job struct {
	ID       string    `json:"job_id"`
	State    JobState  `json:"state"`
	Created  time.Time `json:"created"`
	Finished time.Time `json:"finished,omitzero"`
	Total    int       `json:"total"`
}
