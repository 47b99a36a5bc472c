package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// handleSlime answers slime's remote reward model (--rm-type remote_rm --rm-url
// URL): one sample per request, {"prompt": text or messages, "response", "label"},
// the label read as OpenRLHF's (a math gold, or a JSON object with domain and
// reference). The answer is an object, {"reward", "domain", "details"}, from which
// slime takes the reward with --reward-key reward. slime's client retries every
// non-2xx with backoff (10 tries, about 2.5 minutes) and then fails the rollout,
// so an error is never dressed up as a reward.
func (s *server) handleSlime() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The prompt slime also sends is not what rewardmesh scores; a label that
		// needs it (a reward model's) carries it in its reference.
		var req struct {
			Response *string         `json:"response"`
			Label    json.RawMessage `json:"label"`
		}
		if err := decode(r, &req); err != nil {
			s.fail(w, r, err)
			return
		}
		p := problems{}
		if req.Response == nil {
			p["response"] = "required: the policy's response, a string"
		}
		if len(req.Label) == 0 || string(req.Label) == "null" {
			p["label"] = "required: a math gold answer, or a JSON object with domain and reference"
		}
		if err := p.err(); err != nil {
			s.fail(w, r, err)
			return
		}
		item := labelItem(req.Label)
		item.Response = *req.Response
		res := s.scoreWaiting(r.Context(), []reward.Item{item})[0]
		if res.Error != nil {
			s.fail(w, r, itemFailure(res.Error))
			return
		}
		encode(w, http.StatusOK, map[string]any{"reward": res.Reward, "domain": res.Domain, "details": res.Details})
	})
}
