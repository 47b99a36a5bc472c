package gateway

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rewardmesh/rewardmesh/services/gateway/scoring"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// routes is every route of the API in one place.
func (s *server) routes(reg *prometheus.Registry) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(s.requestLog)
	r.Use(s.recoverer)

	r.Get("/healthz", s.handleHealth().ServeHTTP)
	r.Method(http.MethodGet, "/v1/ping", s.handlePing()) // SandboxFusion's health check
	r.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))

	r.Group(func(r chi.Router) {
		r.Use(s.limits)
		r.Method(http.MethodPost, "/v1/math/verify", s.handleBatch(scoring.Op{Service: "math", Name: "verify", Cached: true}))
		r.Method(http.MethodPost, "/v1/code/run", s.handleBatch(scoring.Op{Service: "sandbox", Name: "run"}))
		r.Method(http.MethodPost, "/v1/code/judge", s.handleBatch(scoring.Op{Service: "sandbox", Name: "judge"}))
		r.Method(http.MethodPost, "/v1/swe/reward", s.handleBatch(scoring.Op{Service: "swe", Name: "reward", Cached: true}))
		r.Method(http.MethodPost, "/v1/swe/similarity", s.handleBatch(scoring.Op{Service: "swe", Name: "similarity", Cached: true}))
		// Group normalization needs the whole batch in one call.
		r.Method(http.MethodPost, "/v1/rm/score", s.handleBatch(scoring.Op{Service: "rm", Name: "score", Whole: true}))
		r.Method(http.MethodPost, "/v1/if/verify", s.handleBatch(scoring.Op{Service: "rm", Name: "if_verify", Cached: true}))
		r.Method(http.MethodPost, "/v1/rewards", s.handleRewards())
		r.Method(http.MethodPost, "/v1/jobs", s.handleJobSubmit())
		r.Method(http.MethodGet, "/v1/jobs/{id}", s.handleJobGet())
		r.Method(http.MethodPost, "/get_reward", s.handleOpenRLHF())
		r.Method(http.MethodPost, "/run_code", s.handleRunCode())
		r.Method(http.MethodPost, "/seed_session", s.handleSeedSession())
		r.Method(http.MethodPost, "/close_session", s.handleCloseSession())
		r.Method(http.MethodGet, "/reverify_mode", s.handleReverifyMode())
		r.Method(http.MethodPost, "/verify", s.handleVerify())
		r.Method(http.MethodPost, "/reward", s.handleSlime())
	})

	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, reward.Errorf(reward.NotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		// The one status not from the code's table: the client's fault is
		// "invalid", and HTTP has a more precise status for which one.
		s.answerError(w, r, http.StatusMethodNotAllowed, reward.Errorf(reward.Invalid, "%s is not allowed on %s", r.Method, r.URL.Path), nil)
	})
	return r
}
