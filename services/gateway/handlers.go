package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/nats-io/nuid"

	"github.com/rewardmesh/rewardmesh/services/gateway/scoring"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// decodeBatch reads the body every batch endpoint takes, {"items":[...]}, each
// item left for the engine to read.
func (s *server) decodeBatch(r *http.Request) ([]json.RawMessage, error) {
	var req struct {
		Items *[]json.RawMessage `json:"items"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	p := problems{}
	switch {
	case req.Items == nil:
		p["items"] = "required: a JSON array of items"
	case len(*req.Items) > s.cfg.MaxItems:
		return nil, reward.Errorf(reward.TooLarge, "%d items; at most %d per batch", len(*req.Items), s.cfg.MaxItems)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return *req.Items, nil
}

// handleBatch forwards a batch endpoint to its service's op.
func (s *server) handleBatch(op scoring.Op) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items, err := s.decodeBatch(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		results := make([]json.RawMessage, len(items))
		if err := s.engine.Batch(r.Context(), op, items, func(i int, res json.RawMessage) { results[i] = res }); err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"results": results})
	})
}

// handleRewards answers mixed-domain reward items.
func (s *server) handleRewards() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items, err := s.decodeBatch(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		results := make([]reward.Result, len(items))
		if err := s.engine.Score(r.Context(), items, func(i int, res reward.Result) { results[i] = res }); err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"results": results})
	})
}

// errNoJobs answers /v1/jobs on a gateway built without JetStream.
var errNoJobs = reward.Errorf(reward.Unavailable, "jobs need JetStream, which this gateway has no access to")

func (s *server) handleJobSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.jobs == nil {
			s.fail(w, r, errNoJobs)
			return
		}
		raw, err := s.decodeBatch(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		job := newJob(raw)
		if err := s.jobs.Submit(r.Context(), job); err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Location", "/v1/jobs/"+job.ID)
		encode(w, http.StatusAccepted, map[string]any{"job_id": job.ID, "results_subject": mesh.ResultsSubject(job.ID)})
	})
}

// newJob is a job of the items under a fresh id. An item that does not decode
// fails alone, as in /v1/rewards: the job answers it with its error and scores
// the rest.
func newJob(raw []json.RawMessage) mesh.Job {
	job := mesh.Job{ID: nuid.Next(), Items: make([]reward.Item, len(raw))}
	for i, item := range raw {
		if err := json.Unmarshal(item, &job.Items[i]); err != nil {
			job.Items[i] = reward.Item{ID: mesh.ItemID(item)}
			if job.Rejected == nil {
				job.Rejected = map[int]*reward.Error{}
			}
			job.Rejected[i] = reward.Errorf(reward.Invalid, "decode item: %v", err)
		}
	}
	return job
}

func (s *server) handleJobGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.jobs == nil {
			s.fail(w, r, errNoJobs)
			return
		}
		view, err := s.jobs.Get(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, view)
	})
}
