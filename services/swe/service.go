package swe

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"time"
	"unicode/utf8"

	"github.com/rewardmesh/rewardmesh/services/swe/difflib"
	"github.com/rewardmesh/rewardmesh/services/swe/judge"
	"github.com/rewardmesh/rewardmesh/shared/envvar"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Name is the service's name on the mesh.
const Name = "swe"

// Defaults for Config's zero values.
const (
	DefaultMaxItemBytes = 4 << 20
	DefaultItemTimeout  = 60 * time.Second
	DefaultAPIKeyEnv    = "OPENAI_API_KEY"
)

// Config configures the swe service. The zero value serves lexical rewards with
// default limits and no judge.
type Config struct {
	// JudgeURL is the OpenAI-compatible API base (e.g. http://vllm:8000/v1);
	// empty means no semantic judge.
	JudgeURL   string
	JudgeModel string
	// JudgeAPIKeyEnv names the environment variable holding the API key
	// (DefaultAPIKeyEnv when empty); an unset variable sends no key.
	JudgeAPIKeyEnv string
	// JudgePrompt is a prompt template file replacing the built-in one
	// (judge.DefaultPrompt): text/template with {{.Predicted}} and {{.Oracle}}.
	JudgePrompt      string
	JudgeTimeout     time.Duration // per HTTP attempt; default 60s
	JudgeRetries     int           // retries on 429/5xx/network errors; default 3, negative for none
	JudgeConcurrency int           // requests in flight to the judge; default 8

	// AllowUntagged makes the cascade rule accept a response with no
	// <think>/<solution> tags at all as a bare answer (default: -1, as SWE-RL).
	AllowUntagged bool

	// MaxItemBytes caps one item's JSON (default 4 MiB); larger is too_large.
	MaxItemBytes int
	// ItemTimeout bounds one item's scoring, judge included (default 60s).
	ItemTimeout time.Duration
	// WorkBudget bounds each SequenceMatcher run in inner steps
	// (difflib.DefaultBudget when 0); past it the item is too_large.
	WorkBudget int64
	// Parallel is how many items of a batch are scored at once: GOMAXPROCS when
	// 0, or at least JudgeConcurrency (default 8) with a judge, whose calls wait
	// on the network rather than a core.
	Parallel int

	Getenv     func(string) string // for the API key; os.Getenv when nil
	HTTPClient *http.Client        // for the judge; a fresh client when nil
}

// The environment variables ConfigFromEnv reads (the README lists them).
const (
	EnvJudgeURL         = "REWARDMESH_SWE_JUDGE_URL"
	EnvJudgeModel       = "REWARDMESH_SWE_JUDGE_MODEL"
	EnvJudgeAPIKeyEnv   = "REWARDMESH_SWE_JUDGE_API_KEY_ENV"
	EnvJudgePrompt      = "REWARDMESH_SWE_JUDGE_PROMPT"
	EnvJudgeTimeout     = "REWARDMESH_SWE_JUDGE_TIMEOUT"
	EnvJudgeRetries     = "REWARDMESH_SWE_JUDGE_RETRIES"
	EnvJudgeConcurrency = "REWARDMESH_SWE_JUDGE_CONCURRENCY"
	EnvAllowUntagged    = "REWARDMESH_SWE_ALLOW_UNTAGGED"
)

// ConfigFromEnv reads the service's configuration from REWARDMESH_SWE_*
// variables over the zero Config's defaults. A value that does not parse is an
// error that names the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{Getenv: getenv}
	r := envvar.NewReader(getenv)
	r.String(EnvJudgeURL, &cfg.JudgeURL)
	r.String(EnvJudgeModel, &cfg.JudgeModel)
	r.String(EnvJudgeAPIKeyEnv, &cfg.JudgeAPIKeyEnv)
	r.String(EnvJudgePrompt, &cfg.JudgePrompt)
	r.Duration(EnvJudgeTimeout, &cfg.JudgeTimeout)
	r.Int(EnvJudgeRetries, -1, &cfg.JudgeRetries) // -1: none
	r.Int(EnvJudgeConcurrency, 1, &cfg.JudgeConcurrency)
	r.Bool(EnvAllowUntagged, &cfg.AllowUntagged)
	return cfg, r.Err()
}

// Service answers the swe ops.
type Service struct {
	cfg    Config
	scorer *Scorer
}

// New builds the service, loading the judge's prompt when a judge is
// configured. It waits on nothing: the judge is first called by the first item
// that needs it.
func New(_ context.Context, cfg Config) (*Service, error) {
	if cfg.MaxItemBytes <= 0 {
		cfg.MaxItemBytes = DefaultMaxItemBytes
	}
	if cfg.ItemTimeout <= 0 {
		cfg.ItemTimeout = DefaultItemTimeout
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.JudgeAPIKeyEnv == "" {
		cfg.JudgeAPIKeyEnv = DefaultAPIKeyEnv
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = runtime.GOMAXPROCS(0)
		if cfg.JudgeURL != "" {
			cfg.Parallel = max(cfg.Parallel, cmp.Or(cfg.JudgeConcurrency, 8))
		}
	}
	s := &Service{cfg: cfg, scorer: &Scorer{AllowUntagged: cfg.AllowUntagged, WorkBudget: cfg.WorkBudget}}
	if cfg.JudgeURL != "" {
		j, err := judge.New(judge.Config{
			Endpoint:       cfg.JudgeURL,
			Model:          cfg.JudgeModel,
			APIKey:         cfg.Getenv(cfg.JudgeAPIKeyEnv),
			PromptPath:     cfg.JudgePrompt,
			Timeout:        cfg.JudgeTimeout,
			MaxRetries:     cfg.JudgeRetries,
			MaxConcurrency: cfg.JudgeConcurrency,
			HTTPClient:     cfg.HTTPClient,
		})
		if err != nil {
			return nil, fmt.Errorf("swe: configure judge: %w", err)
		}
		s.scorer.Judge = j
	}
	return s, nil
}

// Close releases what the service holds: nothing that outlives a request.
func (s *Service) Close() error { return nil }

// Scorer is the service's scorer, for callers that score in-process.
func (s *Service) Scorer() *Scorer { return s.scorer }

// Endpoints are the service's mesh ops: reward, similarity and rewards.
func (s *Service) Endpoints() []mesh.Endpoint {
	return []mesh.Endpoint{
		{Name: "reward", Handler: mesh.Batch(s.rewardItem, s.cfg.Parallel)},
		{Name: "similarity", Handler: mesh.Batch(s.similarityItem, s.cfg.Parallel)},
		{Name: "rewards", Handler: mesh.Batch(s.rewardsItem, s.cfg.Parallel)},
	}
}

// MeshConfig is the service as mesh.Serve takes it.
func (s *Service) MeshConfig() mesh.Config {
	return mesh.Config{
		Name:        Name,
		Description: "SWE patch rewards: SWE-RL lexical similarity and the Nemotron-Cascade rule",
		Endpoints:   s.Endpoints(),
	}
}

// rewardRequest is a POST /v1/swe/reward item, and (without ID and Response) the
// reference of a domain "swe" reward.Item.
type rewardRequest struct {
	ID            json.RawMessage   `json:"id,omitempty"`
	Response      string            `json:"response"`
	OriginalFiles map[string]string `json:"original_files"`
	OraclePatch   *string           `json:"oracle_patch"`
	OracleFiles   map[string]string `json:"oracle_files"`
	Semantic      *bool             `json:"semantic"`
	Rule          string            `json:"rule"`
}

type rewardResponse struct {
	ID       json.RawMessage `json:"id,omitempty"`
	Reward   float64         `json:"reward"`
	Lexical  float64         `json:"lexical"`
	Semantic *float64        `json:"semantic,omitempty"`
	Reason   string          `json:"reason"`
}

// task checks a request and turns it into a Task.
func (r *rewardRequest) task() (Task, *reward.Error) {
	if r.OriginalFiles == nil {
		return Task{}, reward.Errorf(reward.Invalid, "original_files is required (an object of path to content)")
	}
	switch {
	case r.OraclePatch != nil && r.OracleFiles != nil:
		return Task{}, reward.Errorf(reward.Invalid, "give oracle_patch or oracle_files, not both")
	case r.OraclePatch == nil && r.OracleFiles == nil:
		return Task{}, reward.Errorf(reward.Invalid, "oracle_patch or oracle_files is required")
	}
	t := Task{
		Response:      r.Response,
		OriginalFiles: r.OriginalFiles,
		OracleFiles:   r.OracleFiles,
		Rule:          r.Rule,
		Semantic:      r.Semantic,
	}
	if r.OraclePatch != nil {
		t.OraclePatch = *r.OraclePatch
	}
	return t, nil
}

// checkSize answers too_large for an item past the cap.
func (s *Service) checkSize(item json.RawMessage) *reward.Error {
	if len(item) > s.cfg.MaxItemBytes {
		return reward.Errorf(reward.TooLarge, "item is %d bytes; the limit is %d", len(item), s.cfg.MaxItemBytes)
	}
	return nil
}

func (s *Service) score(ctx context.Context, t Task) (Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ItemTimeout)
	defer cancel()
	out, err := s.scorer.Score(ctx, t)
	if err != nil {
		var e *reward.Error
		if !errors.As(err, &e) && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
			err = reward.Errorf(reward.Timeout, "score patch: %v", err)
		}
	}
	return out, err
}

func (s *Service) rewardItem(ctx context.Context, item json.RawMessage) any {
	var req rewardRequest
	if e := mesh.DecodeItem(item, &req); e != nil {
		return mesh.ItemError{Error: e}
	}
	if e := s.checkSize(item); e != nil {
		return mesh.ItemError{ID: req.ID, Error: e}
	}
	t, e := req.task()
	if e != nil {
		return mesh.ItemError{ID: req.ID, Error: e}
	}
	out, err := s.score(ctx, t)
	if err != nil {
		return mesh.ItemError{ID: req.ID, Error: reward.AsError(err)}
	}
	return rewardResponse{ID: req.ID, Reward: out.Reward, Lexical: out.Lexical, Semantic: out.Semantic, Reason: shortReason(out.Reason)}
}

// shortReason keeps a reason readable: SWE-RL's "Search block not found" message
// carries the whole SEARCH text.
func shortReason(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

type similarityRequest struct {
	ID       json.RawMessage `json:"id,omitempty"`
	A        *string         `json:"a"`
	B        *string         `json:"b"`
	Autojunk *bool           `json:"autojunk"`
}

type similarityResponse struct {
	ID    json.RawMessage `json:"id,omitempty"`
	Ratio float64         `json:"ratio"`
}

func (s *Service) similarityItem(ctx context.Context, item json.RawMessage) any {
	var req similarityRequest
	if e := mesh.DecodeItem(item, &req); e != nil {
		return mesh.ItemError{Error: e}
	}
	if e := s.checkSize(item); e != nil {
		return mesh.ItemError{ID: req.ID, Error: e}
	}
	if req.A == nil || req.B == nil {
		return mesh.ItemError{ID: req.ID, Error: reward.Errorf(reward.Invalid, "a and b are required strings")}
	}
	autojunk := true // Python's default
	if req.Autojunk != nil {
		autojunk = *req.Autojunk
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ItemTimeout)
	defer cancel()
	r, err := difflib.Ratio(ctx, *req.A, *req.B, difflib.Options{Autojunk: autojunk, Budget: s.cfg.WorkBudget})
	if err != nil {
		return mesh.ItemError{ID: req.ID, Error: reward.AsError(limitError("similarity", err))}
	}
	return similarityResponse{ID: req.ID, Ratio: r}
}

// Details is what a domain "swe" reward.Result carries.
type Details struct {
	Rule         string      `json:"rule"`
	Lexical      float64     `json:"lexical"`
	Semantic     *float64    `json:"semantic,omitempty"`
	Reason       string      `json:"reason"`
	Similarities []PathScore `json:"similarities,omitempty"`
}

// PathScore is one file's lexical similarity.
type PathScore struct {
	Path       string  `json:"path"`
	Similarity float64 `json:"similarity"`
}

func (s *Service) rewardsItem(ctx context.Context, raw json.RawMessage) any {
	var item reward.Item
	if e := mesh.DecodeItem(raw, &item); e != nil {
		return reward.Result{Domain: reward.SWE, Error: e}
	}
	if e := s.checkSize(raw); e != nil {
		return reward.Failed(item, e)
	}
	if item.Domain != "" && item.Domain != reward.SWE {
		return reward.Failed(item, reward.Errorf(reward.Invalid, "domain %q sent to the swe service", item.Domain))
	}
	item.Domain = reward.SWE
	var ref rewardRequest
	if len(item.Reference) == 0 {
		return reward.Failed(item, reward.Errorf(reward.Invalid, "reference is required: {original_files, oracle_patch|oracle_files}"))
	}
	if err := json.Unmarshal(item.Reference, &ref); err != nil {
		return reward.Failed(item, reward.Errorf(reward.Invalid, "decode reference: %v", err))
	}
	ref.Response = item.Response
	t, e := ref.task()
	if e != nil {
		return reward.Failed(item, e)
	}
	out, err := s.score(ctx, t)
	if err != nil {
		return reward.Failed(item, err)
	}
	rule := t.Rule
	if rule == "" {
		rule = RuleCascade
	}
	d := Details{Rule: rule, Lexical: out.Lexical, Semantic: out.Semantic, Reason: shortReason(out.Reason)}
	for _, fs := range out.Similarities {
		d.Similarities = append(d.Similarities, PathScore{Path: fs.Path, Similarity: fs.Similarity})
	}
	details, err := json.Marshal(d)
	if err != nil {
		return reward.Failed(item, reward.Errorf(reward.Internal, "encode details: %v", err))
	}
	return reward.Result{ID: item.ID, Reward: out.Reward, Domain: reward.SWE, Details: details}
}
