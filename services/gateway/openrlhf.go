package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// handleOpenRLHF speaks OpenRLHF's remote reward protocol. A label that is a JSON
// object with "domain" routes by domain (its "reference", or the object's other
// fields, is the reference); any other label is a math gold answer. The response
// scored is the query less its prompt.
//
// The protocol has no place for an item's error, and a 0 in its place would teach
// the policy something false. An item the mesh could not score, even after
// waiting out a short outage, fails the request with a 5xx (retryable where the
// mesh may recover), which OpenRLHF's client retries; an item that is wrong
// itself (a bad label) scores 0, flagged per sample in extra_logs.reward_error
// (numeric, as OpenRLHF logs extra_logs) and logged.
func (s *server) handleOpenRLHF() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items, err := s.decodeOpenRLHF(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
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
				Retryable: unscored.MeshFailed(),
			}))
			return
		}
		if len(bad) > 0 {
			s.log.Warn("get_reward: items failed and score 0", "request_id", middleware.GetReqID(r.Context()), "first", strings.Join(bad, "; "))
		}
		encode(w, http.StatusOK, map[string]any{"rewards": rewards, "scores": rewards, "extra_logs": map[string]any{"reward_error": failed}})
	})
}

// decodeOpenRLHF reads and checks a /get_reward body: one reward item per query.
// With several reward URLs OpenRLHF splits a batch among them and sends the later
// ones empty lists when it runs short: they are answered empty lists.
func (s *server) decodeOpenRLHF(r *http.Request) ([]reward.Item, error) {
	var req struct {
		Query   []string          `json:"query"`
		Prompts []string          `json:"prompts"`
		Labels  []json.RawMessage `json:"labels"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
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
		return nil, reward.Errorf(reward.TooLarge, "%d queries; at most %d per request", len(req.Query), s.cfg.MaxItems)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	items := make([]reward.Item, len(req.Query))
	for i, q := range req.Query {
		response := q
		if req.Prompts != nil {
			response = strings.TrimPrefix(q, req.Prompts[i])
		}
		items[i] = labelItem(req.Labels[i])
		items[i].Response = response
	}
	return items, nil
}

// labelItem turns an OpenRLHF label (slime's too) into a reward item without its
// response.
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
