package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/nats-io/nuid"

	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// batchRequest is the body of every batch endpoint.
type batchRequest struct {
	Items []json.RawMessage `json:"items"`
}

func (s *Server) decodeBatch(r *http.Request) ([]json.RawMessage, error) {
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
		return nil, errorf(http.StatusRequestEntityTooLarge, reward.TooLarge, "%d items; at most %d per batch", len(*req.Items), s.cfg.MaxItems)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return *req.Items, nil
}

// handleBatch forwards a batch endpoint to its service.
func (s *Server) handleBatch(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items, err := s.decodeBatch(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		results := make([]json.RawMessage, len(items))
		if err := s.dispatch(r.Context(), rt, items, func(i int, res json.RawMessage) { results[i] = res }); err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"results": results})
	})
}

// cachedDomains are the domains whose reward is a pure function of the item. A
// reward-model score depends on the model served and on the item's group.
var cachedDomains = map[reward.Domain]bool{reward.Math: true, reward.Code: true, reward.SWE: true}

// score answers mixed-domain reward items, each through emit as soon as it is
// known: items go to their domain's service, every service at once. It returns an
// error only when no item reached a service.
func (s *Server) score(ctx context.Context, items []json.RawMessage, emit func(i int, r reward.Result)) error {
	type subset struct {
		rt      route
		raw     []json.RawMessage
		indexes []int
		domains []reward.Domain
	}
	subsets := map[route]*subset{}
	var order []route
	for i, raw := range items {
		var item reward.Item
		if err := json.Unmarshal(raw, &item); err != nil {
			emit(i, reward.Result{ID: itemID(raw), Error: reward.Errorf(reward.Invalid, "decode item: %v", err)})
			continue
		}
		service, ok := item.Domain.Service()
		if !ok {
			emit(i, reward.Result{ID: item.ID, Domain: item.Domain, Error: reward.Errorf(reward.Invalid,
				"unknown domain %q: use one of %v", item.Domain, reward.Domains)})
			continue
		}
		rt := route{service: service, op: "rewards", cached: cachedDomains[item.Domain], whole: service == "rm"}
		sub := subsets[rt]
		if sub == nil {
			sub = &subset{rt: rt}
			subsets[rt] = sub
			order = append(order, rt)
		}
		sub.raw = append(sub.raw, raw)
		sub.indexes = append(sub.indexes, i)
		sub.domains = append(sub.domains, item.Domain)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		called int
	)
	for _, rt := range order {
		sub := subsets[rt]
		called++
		wg.Go(func() {
			err := s.dispatch(ctx, rt, sub.raw, func(k int, raw json.RawMessage) {
				var res reward.Result
				if err := json.Unmarshal(raw, &res); err != nil {
					res = reward.Result{Error: reward.Errorf(reward.Internal, "%s answered an undecodable result", rt.service)}
				}
				if res.ID == nil {
					res.ID = itemID(sub.raw[k])
				}
				if res.Domain == "" {
					res.Domain = sub.domains[k]
				}
				emit(sub.indexes[k], res)
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if called > 0 && len(errs) == called && len(subsets) > 0 {
		return errs[0]
	}
	return nil
}

func (s *Server) handleRewards() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items, err := s.decodeBatch(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		results := make([]reward.Result, len(items))
		if err := s.score(r.Context(), items, func(i int, res reward.Result) { results[i] = res }); err != nil {
			s.fail(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"results": results})
	})
}

// JobScorer scores a job's items for the job worker, as /v1/rewards does, with
// one difference: nobody waits on a job, so an item the mesh could not score now
// (a service restarting, NATS reconnecting, every replica busy) is tried again
// with backoff for up to JobRetryFor before its error is published, a
// reward-model group whole. Items unanswered when ctx ends leave the job unacked,
// for another worker.
func (s *Server) JobScorer() mesh.Scorer {
	return func(ctx context.Context, items []reward.Item, emit func(int, reward.Result)) {
		s.scoreRetrying(ctx, items, s.cfg.JobRetryFor, emit)
	}
}

func (s *Server) handleJobSubmit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.jobs == nil {
			s.fail(w, r, errorf(http.StatusServiceUnavailable, reward.Unavailable, "jobs need JetStream, which this gateway has no access to"))
			return
		}
		raw, err := s.decodeBatch(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		// An item that does not decode fails alone, as in /v1/rewards: the job
		// answers it with its error and scores the rest.
		job := mesh.Job{ID: nuid.Next(), Items: make([]reward.Item, len(raw))}
		for i, item := range raw {
			if err := json.Unmarshal(item, &job.Items[i]); err != nil {
				job.Items[i] = reward.Item{ID: itemID(item)}
				if job.Rejected == nil {
					job.Rejected = map[int]*reward.Error{}
				}
				job.Rejected[i] = reward.Errorf(reward.Invalid, "decode item: %v", err)
			}
		}
		if err := s.jobs.Submit(r.Context(), job); err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Location", "/v1/jobs/"+job.ID)
		encode(w, http.StatusAccepted, map[string]any{"job_id": job.ID, "results_subject": mesh.ResultsSubject(job.ID)})
	})
}

func (s *Server) handleJobGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.jobs == nil {
			s.fail(w, r, errorf(http.StatusServiceUnavailable, reward.Unavailable, "jobs need JetStream, which this gateway has no access to"))
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

// handleOpenRLHF speaks OpenRLHF's remote reward protocol. A label that is a JSON
// object with "domain" routes by domain (its "reference", or the object's other
// fields, is the reference); any other label is a math gold answer. The response
// scored is the query less its prompt.
func (s *Server) handleOpenRLHF() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Query   []string          `json:"query"`
			Prompts []string          `json:"prompts"`
			Labels  []json.RawMessage `json:"labels"`
		}
		if err := decode(r, &req); err != nil {
			s.fail(w, r, err)
			return
		}
		p := problems{}
		if req.Query == nil {
			p["query"] = "required: the prompts with their responses"
		}
		if len(req.Labels) != len(req.Query) {
			p["labels"] = fmt.Sprintf("need one label per query: %d labels for %d queries", len(req.Labels), len(req.Query))
		}
		if req.Prompts != nil && len(req.Prompts) != len(req.Query) {
			p["prompts"] = fmt.Sprintf("need one prompt per query: %d prompts for %d queries", len(req.Prompts), len(req.Query))
		}
		if len(req.Query) > s.cfg.MaxItems {
			s.fail(w, r, errorf(http.StatusRequestEntityTooLarge, reward.TooLarge, "%d queries; at most %d per request", len(req.Query), s.cfg.MaxItems))
			return
		}
		if err := p.err(); err != nil {
			s.fail(w, r, err)
			return
		}
		// With several reward URLs OpenRLHF splits a batch among them and sends the
		// later ones empty lists when it runs short: they are answered empty lists.
		items := make([]reward.Item, len(req.Query))
		for i, q := range req.Query {
			response := q
			if req.Prompts != nil {
				response = strings.TrimPrefix(q, req.Prompts[i])
			}
			items[i] = labelItem(req.Labels[i])
			items[i].Response = response
		}
		// The protocol has no place for an item's error, and a 0 in its place would
		// teach the policy something false. An item the mesh could not score, even
		// after waiting out a short outage, fails the request with a 5xx (retryable
		// where the mesh may recover), which OpenRLHF's client retries; an item that
		// is wrong itself (a bad label) scores 0, flagged per sample in
		// extra_logs.reward_error (numeric, as OpenRLHF logs extra_logs) and logged.
		var (
			unscored      *reward.Error
			unscoredCount int
			bad           []string
		)
		rewards := make([]float64, len(items))
		failed := make([]float64, len(items))
		for i, res := range s.scoreWaiting(r.Context(), items) {
			rewards[i] = res.Reward
			if res.Error == nil {
				continue
			}
			failed[i], rewards[i] = 1, 0
			if !itemAtFault(res.Error) {
				unscoredCount++
				if unscored == nil {
					unscored = res.Error
				}
			} else if len(bad) < 3 {
				bad = append(bad, fmt.Sprintf("query %d: %s", i, res.Error.Message))
			}
		}
		if unscored != nil {
			s.fail(w, r, itemFailure(&reward.Error{
				Code:      unscored.Code,
				Message:   fmt.Sprintf("%d of %d queries could not be scored now, retry the request: %s", unscoredCount, len(items), unscored.Message),
				Retryable: meshFailed(unscored),
			}))
			return
		}
		if len(bad) > 0 {
			s.log.Warn("get_reward: items failed and score 0", "request_id", middleware.GetReqID(r.Context()), "first", strings.Join(bad, "; "))
		}
		encode(w, http.StatusOK, map[string]any{"rewards": rewards, "scores": rewards, "extra_logs": map[string]any{"reward_error": failed}})
	})
}

// labelItem turns an OpenRLHF label into a reward item without its response.
func labelItem(label json.RawMessage) reward.Item {
	text := label
	var s string
	if json.Unmarshal(label, &s) == nil {
		text = json.RawMessage(s)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(text, &obj) == nil {
		var domain reward.Domain
		if json.Unmarshal(obj["domain"], &domain) == nil && domain != "" {
			item := reward.Item{Domain: domain}
			_ = json.Unmarshal(obj["group"], &item.Group)
			if ref, ok := obj["reference"]; ok {
				item.Reference = ref
			} else {
				delete(obj, "domain")
				delete(obj, "group")
				item.Reference, _ = json.Marshal(obj)
			}
			return item
		}
	}
	gold := s
	if json.Unmarshal(label, &s) != nil {
		gold = string(label) // a number or other JSON value: its text is the gold answer
	}
	ref, _ := json.Marshal(map[string]string{"gold": gold})
	return reward.Item{Domain: reward.Math, Reference: ref}
}
