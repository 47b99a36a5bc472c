package trainer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// The trainer speaks the mesh's job protocol (shared/mesh, api/subjects.md): it
// publishes a Job per group to the jobs stream, and the gateway's job worker scores
// each item and publishes every item's ResultMsg, as it completes and in any order,
// to the results stream.
type (
	Job       = mesh.Job
	ResultMsg = mesh.ResultMsg
)

const (
	JobsStream     = mesh.JobsStream
	JobsSubject    = mesh.SubmitSubject
	ResultsStream  = mesh.ResultsStream
	headerMsgID    = jetstream.MsgIDHeader
	jobIDTrainerNS = "trainer"
)

// ResultsPrefix starts every result subject.
var ResultsPrefix = mesh.ResultsSubject("")

// jobMeta is the trainer's meta on each job: which step and group it is, and the
// policy version that sampled it, so a stale result can be told apart on arrival.
type jobMeta struct {
	Run     string `json:"run"`
	Step    int    `json:"step"`
	Group   int    `json:"group"`
	Version int    `json:"version"`
}

// ResultSubject is where the results of job id are published.
func ResultSubject(jobID string) string { return mesh.ResultsSubject(jobID) }

// ResultMsgID is the dedupe id of one result: the mesh's own, which the job
// worker publishes each result under.
func ResultMsgID(jobID string, index int) string { return mesh.ResultMsgID(jobID, index) }

// validRunID reports whether run is one job-id token: [A-Za-z0-9_-]+.
func validRunID(run string) bool {
	if run == "" || len(run) > 64 {
		return false
	}
	for _, c := range run {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func jobID(run string, step, group int) string {
	return fmt.Sprintf("%s.%s.%d.%d", jobIDTrainerNS, run, step, group)
}

// parseJobID splits a trainer job id into its step and group.
func parseJobID(run, id string) (step, group int, err error) {
	rest, ok := strings.CutPrefix(id, jobIDTrainerNS+"."+run+".")
	if !ok {
		return 0, 0, fmt.Errorf("job id %q is not of run %q", id, run)
	}
	s, g, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, 0, fmt.Errorf("job id %q: want %s.<run>.<step>.<group>", id, jobIDTrainerNS)
	}
	if step, err = strconv.Atoi(s); err != nil || step < 0 {
		return 0, 0, fmt.Errorf("job id %q: bad step %q", id, s)
	}
	if group, err = strconv.Atoi(g); err != nil || group < 0 {
		return 0, 0, fmt.Errorf("job id %q: bad group %q", id, g)
	}
	return step, group, nil
}

// decodeResult parses a result message body, rejecting what cannot be applied.
func decodeResult(data []byte) (ResultMsg, error) {
	var m ResultMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("decode result: %w", err)
	}
	if m.JobID == "" {
		return m, fmt.Errorf("decode result: no job_id")
	}
	if m.Index < 0 || m.Total <= 0 || m.Index >= m.Total {
		return m, fmt.Errorf("decode result %s: index %d outside total %d", m.JobID, m.Index, m.Total)
	}
	return m, nil
}
