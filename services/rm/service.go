// Package rm is the reward-model service: it scores responses with a
// Bradley-Terry reward model served elsewhere (vLLM, an OpenAI-compatible
// endpoint, an OpenRLHF reward server), normalizes scores within groups, and
// checks instruction following with IFEval's verifiers (package ifeval),
// combining the two as Nemotron-Cascade's IF-RL stage does.
package rm

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval"
	"github.com/rewardmesh/rewardmesh/shared/envvar"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// Name is the service's name on the mesh.
const Name = "rm"

// DefaultMaxItemBytes bounds one item's text: far past any reward model's
// context, small enough that a runaway payload is refused before it is sent on.
const DefaultMaxItemBytes = 4 << 20

// Config configures the service. Every field has a flag and an environment
// variable (see Flags and ConfigFromEnv).
type Config struct {
	URL         string        // reward model server; empty runs without one (score answers unavailable)
	Protocol    Protocol      // how to speak to it (default vllm-pooling)
	Model       string        // the served model's name
	APIKeyEnv   string        // the environment variable that holds the API key
	BatchSize   int           // conversations per HTTP request
	Concurrency int           // HTTP requests in flight at once
	Timeout     time.Duration // one HTTP attempt
	Retries     int           // further attempts after 429, 5xx, timeouts and connection errors
	RawLogits   bool          // ask vLLM for the logit rather than its sigmoid
	PoolingTask string        // /pooling "task" (classify, token_classify); empty: the server's default
	ClassIndex  int           // /classify class to score by when there are several; -1: single class only
	// MaxItemBytes bounds one item's text (DefaultMaxItemBytes when 0).
	MaxItemBytes int
	// Parallel bounds the IFEval checks run at once (GOMAXPROCS when 0).
	Parallel int

	Getenv     func(string) string // reads APIKeyEnv; os.Getenv when nil
	HTTPClient *http.Client        // for the reward model server; a fresh client when nil
}

// Environment variables ConfigFromEnv reads.
const (
	EnvURL         = "REWARDMESH_RM_URL"
	EnvProtocol    = "REWARDMESH_RM_PROTOCOL"
	EnvModel       = "REWARDMESH_RM_MODEL"
	EnvAPIKeyEnv   = "REWARDMESH_RM_API_KEY_ENV"
	EnvBatchSize   = "REWARDMESH_RM_BATCH_SIZE"
	EnvConcurrency = "REWARDMESH_RM_CONCURRENCY"
	EnvTimeout     = "REWARDMESH_RM_TIMEOUT"
	EnvRetries     = "REWARDMESH_RM_RETRIES"
	EnvRawLogits   = "REWARDMESH_RM_RAW_LOGITS"
	EnvClassIndex  = "REWARDMESH_RM_CLASS_INDEX"
	EnvPoolingTask = "REWARDMESH_RM_POOLING_TASK"
)

// DefaultConfig is the configuration with nothing set.
func DefaultConfig() Config {
	return Config{
		Protocol:    VLLMPooling,
		APIKeyEnv:   "REWARDMESH_RM_API_KEY",
		BatchSize:   DefaultBatchSize,
		Concurrency: DefaultConcurrency,
		Timeout:     DefaultTimeout,
		Retries:     DefaultRetries,
		ClassIndex:  -1,
	}
}

// ConfigFromEnv is DefaultConfig overridden by the REWARDMESH_RM_* variables.
// A value that does not parse is an error that names the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	cfg.Getenv = getenv
	r := envvar.NewReader(getenv)
	r.String(EnvURL, &cfg.URL)
	if v := getenv(EnvProtocol); v != "" {
		cfg.Protocol = Protocol(v) // New refuses one it does not speak
	}
	r.String(EnvModel, &cfg.Model)
	r.String(EnvAPIKeyEnv, &cfg.APIKeyEnv)
	r.String(EnvPoolingTask, &cfg.PoolingTask)
	r.Int(EnvBatchSize, 1, &cfg.BatchSize)
	r.Int(EnvConcurrency, 1, &cfg.Concurrency)
	r.Int(EnvRetries, 0, &cfg.Retries)
	r.Int(EnvClassIndex, -1, &cfg.ClassIndex)
	r.Duration(EnvTimeout, &cfg.Timeout)
	r.Bool(EnvRawLogits, &cfg.RawLogits)
	return cfg, r.Err()
}

// Flags registers the --rm-* flags on fs, defaulting to cfg's current values
// (so environment variables read first become the flags' defaults).
func (cfg *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&cfg.URL, "rm-url", cfg.URL, "reward model server base URL (e.g. http://127.0.0.1:8000); empty: no reward model (env "+EnvURL+")")
	fs.Func("rm-protocol", fmt.Sprintf("reward model protocol: %v (default %q, env %s)", Protocols, cfg.Protocol, EnvProtocol), func(s string) error {
		cfg.Protocol = Protocol(s)
		return nil
	})
	fs.StringVar(&cfg.Model, "rm-model", cfg.Model, "served reward model name (env "+EnvModel+")")
	fs.StringVar(&cfg.APIKeyEnv, "rm-api-key-env", cfg.APIKeyEnv, "environment variable holding the reward model API key (env "+EnvAPIKeyEnv+")")
	fs.IntVar(&cfg.BatchSize, "rm-batch-size", cfg.BatchSize, "conversations per HTTP request (env "+EnvBatchSize+")")
	fs.IntVar(&cfg.Concurrency, "rm-concurrency", cfg.Concurrency, "HTTP requests in flight to the reward model (env "+EnvConcurrency+")")
	fs.DurationVar(&cfg.Timeout, "rm-timeout", cfg.Timeout, "timeout of one HTTP attempt (env "+EnvTimeout+")")
	fs.IntVar(&cfg.Retries, "rm-retries", cfg.Retries, "retries after 429, 5xx, timeouts and connection errors (env "+EnvRetries+")")
	fs.BoolVar(&cfg.RawLogits, "rm-raw-logits", cfg.RawLogits, "ask vLLM for raw logits (use_activation=false) (env "+EnvRawLogits+")")
	fs.StringVar(&cfg.PoolingTask, "rm-pooling-task", cfg.PoolingTask, "vllm-pooling \"task\" (classify, token_classify); empty: the server's default (env "+EnvPoolingTask+")")
	fs.IntVar(&cfg.ClassIndex, "rm-class-index", cfg.ClassIndex, "/classify class whose probability is the score; -1: single-class models only (env "+EnvClassIndex+")")
}

// Service answers the rm service's operations.
type Service struct {
	cfg    Config
	client *Client // nil when no reward model is configured
	check  func(ifeval.Input) (ifeval.Output, error)
}

// New checks cfg and builds the service. With no URL it runs without a reward
// model: instruction following works, reward model scores answer unavailable.
// It loads IFEval's language profiles now rather than on the first request
// that needs them (most of a second), and waits on nothing else: the reward
// model is first called by the first item that needs it.
func New(_ context.Context, cfg Config) (*Service, error) {
	if err := ifeval.Preload(); err != nil {
		return nil, fmt.Errorf("rm service: %w", err)
	}
	if cfg.MaxItemBytes <= 0 {
		cfg.MaxItemBytes = DefaultMaxItemBytes
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = runtime.GOMAXPROCS(0)
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Protocol == "" {
		cfg.Protocol = VLLMPooling
	}
	s := &Service{cfg: cfg, check: ifeval.Check}
	if strings.TrimSpace(cfg.URL) == "" {
		return s, nil
	}
	var key string
	if cfg.APIKeyEnv != "" {
		key = cfg.Getenv(cfg.APIKeyEnv)
	}
	client, err := NewClient(ClientConfig{
		URL:         cfg.URL,
		Protocol:    cfg.Protocol,
		Model:       cfg.Model,
		APIKey:      key,
		BatchSize:   cfg.BatchSize,
		Concurrency: cfg.Concurrency,
		Timeout:     cfg.Timeout,
		Retries:     cfg.Retries,
		RawLogits:   cfg.RawLogits,
		PoolingTask: cfg.PoolingTask,
		ClassIndex:  cfg.ClassIndex,
		HTTPClient:  cfg.HTTPClient,
	})
	if err != nil {
		return nil, fmt.Errorf("rm service: %w", err)
	}
	s.client = client
	return s, nil
}

// Close releases what the service holds: nothing that outlives a request.
func (s *Service) Close() error { return nil }

// Endpoints are the service's mesh operations: score (POST /v1/rm/score),
// if_verify (POST /v1/if/verify) and rewards (domains rm and if).
func (s *Service) Endpoints() []mesh.Endpoint {
	return []mesh.Endpoint{
		{Name: "score", Handler: s.handleScore},
		{Name: "if_verify", Handler: mesh.Batch(s.verifyItem, s.cfg.Parallel)},
		{Name: "rewards", Handler: s.handleRewards},
	}
}

// MeshConfig is the service ready for mesh.Serve.
func (s *Service) MeshConfig() mesh.Config {
	return mesh.Config{
		Name:        Name,
		Description: "reward model scores, instruction following (IFEval) and the IF-RL combination",
		Endpoints:   s.Endpoints(),
	}
}

// noModel is every reward model item's answer when none is configured: never
// a made-up score.
func noModel() *reward.Error {
	return reward.Errorf(reward.Unavailable, "no reward model is configured on the rm service: set %s to a vLLM or OpenAI-compatible server", EnvURL)
}

// scoreResult is one result of POST /v1/rm/score.
type scoreResult struct {
	ID         json.RawMessage `json:"id,omitempty"`
	Score      *float64        `json:"score,omitempty"`
	Normalized *float64        `json:"normalized,omitempty"`
	Error      *reward.Error   `json:"error,omitempty"`
}

// handleScore scores a batch. It is not mesh.Batch: normalization needs every
// score of a group, so the whole batch is scored before any result is built.
func (s *Service) handleScore(ctx context.Context, payload []byte) ([]byte, error) {
	items, err := mesh.DecodeBatch(payload)
	if err != nil {
		return nil, err
	}
	results := make([]scoreResult, len(items))
	groupOf := make([]string, len(items))
	var convs []Conversation
	var at []int // convs[k] belongs to item at[k]
	for i, raw := range items {
		it, conv, ierr := decodeScoreItem(raw, s.cfg.MaxItemBytes)
		results[i].ID = it.ID
		groupOf[i] = it.Group
		switch {
		case ierr != nil:
			results[i].Error = ierr
		case s.client == nil:
			results[i].Error = noModel()
		default:
			convs = append(convs, conv)
			at = append(at, i)
		}
	}
	if len(convs) == 0 {
		return mesh.EncodeResults(results)
	}
	scored := s.client.Score(ctx, convs)
	groups := make(map[string][]member)
	for k, sc := range scored {
		i := at[k]
		if sc.Err != nil {
			results[i].Error = sc.Err
			continue
		}
		results[i].Score = &sc.Score
		if g := groupOf[i]; g != "" {
			groups[g] = append(groups[g], member{index: i, score: sc.Score})
		}
	}
	for i, v := range normalizeGroups(groups) {
		results[i].Normalized = &v
	}
	return mesh.EncodeResults(results)
}

// verifyResult is one result of POST /v1/if/verify.
type verifyResult struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Strict *ifeval.Verdict `json:"strict,omitempty"`
	Loose  *ifeval.Verdict `json:"loose,omitempty"`
	Error  *reward.Error   `json:"error,omitempty"`
}

func (s *Service) verifyItem(ctx context.Context, raw json.RawMessage) any {
	it, err := decodeIFItem(raw, s.cfg.MaxItemBytes)
	if err != nil {
		return verifyResult{ID: it.ID, Error: err}
	}
	out, err := s.checkBefore(ctx, it.Input)
	if err != nil {
		return verifyResult{ID: it.ID, Error: err}
	}
	return verifyResult{ID: it.ID, Strict: &out.Strict, Loose: &out.Loose}
}

// checkBefore runs the check but answers timeout when the caller's deadline
// comes first, so one pathological response cannot hold a batch past it (the
// check finishes on its own and its answer is dropped).
func (s *Service) checkBefore(ctx context.Context, in ifeval.Input) (ifeval.Output, *reward.Error) {
	if ctx.Err() != nil {
		return ifeval.Output{}, reward.Errorf(reward.Timeout, "deadline passed before the instruction check ran")
	}
	if _, ok := ctx.Deadline(); !ok {
		return s.runCheck(in)
	}
	type answer struct {
		out ifeval.Output
		err *reward.Error
	}
	done := make(chan answer, 1)
	go func() {
		out, err := s.runCheck(in)
		done <- answer{out, err}
	}()
	select {
	case a := <-done:
		return a.out, a.err
	case <-ctx.Done():
		return ifeval.Output{}, reward.Errorf(reward.Timeout, "instruction check did not finish before the deadline")
	}
}

// runCheck runs IFEval's checkers, keeping a checker's panic to its own item.
func (s *Service) runCheck(in ifeval.Input) (out ifeval.Output, rerr *reward.Error) {
	defer func() {
		if r := recover(); r != nil {
			rerr = reward.Errorf(reward.Internal, "instruction check panicked: %v", r)
		}
	}()
	out, err := s.check(in)
	if err != nil {
		return out, reward.Errorf(reward.Invalid, "instruction check: %v", err)
	}
	if len(out.Strict.FollowList) != len(in.InstructionIDs) || len(out.Loose.FollowList) != len(in.InstructionIDs) {
		return out, reward.Errorf(reward.Internal, "instruction check answered %d/%d verdicts for %d instructions",
			len(out.Strict.FollowList), len(out.Loose.FollowList), len(in.InstructionIDs))
	}
	return out, nil
}

// ifDetails is the details of a domain "if" reward.
type ifDetails struct {
	Mode         string         `json:"mode"`
	FollowAll    bool           `json:"follow_all_instructions"`
	FollowList   []bool         `json:"follow_instruction_list"`
	Rule         string         `json:"rule"` // "follow_all" or "if_rl"
	RMScore      *float64       `json:"rm_score,omitempty"`
	RMNormalized *float64       `json:"rm_normalized,omitempty"`
	GroupSize    int            `json:"group_size,omitempty"`
	Strict       ifeval.Verdict `json:"strict"`
	Loose        ifeval.Verdict `json:"loose"`
}

// rmDetails is the details of a domain "rm" reward.
type rmDetails struct {
	Score      float64  `json:"score"`
	Normalized *float64 `json:"normalized,omitempty"`
	GroupSize  int      `json:"group_size,omitempty"`
}

// rewardTask is one item of a rewards batch on its way through.
type rewardTask struct {
	item   reward.Item
	err    *reward.Error
	conv   *Conversation // what the reward model scores, when it must
	ifReq  *ifRewardRequest
	ifOut  ifeval.Output
	rm     Scored
	hasRM  bool
	group  string // "domain/group" key; "" when not grouped
	normal *float64
	size   int
}

// handleRewards answers /v1/rewards items of domains rm and if. Groups span
// the batch, so every reward model score is in before any group is
// normalized; IFEval checks run meanwhile. A group is keyed by domain and
// group name: an rm group and an if group of the same name are different
// prompts.
func (s *Service) handleRewards(ctx context.Context, payload []byte) ([]byte, error) {
	items, err := mesh.DecodeBatch(payload)
	if err != nil {
		return nil, err
	}
	tasks := make([]rewardTask, len(items))
	for i, raw := range items {
		tasks[i] = s.prepareReward(raw)
	}

	var convs []Conversation
	var at []int
	for i := range tasks {
		if t := &tasks[i]; t.err == nil && t.conv != nil {
			convs = append(convs, *t.conv)
			at = append(at, i)
		}
	}
	var wg sync.WaitGroup
	if len(convs) > 0 {
		wg.Go(func() {
			for k, sc := range s.client.Score(ctx, convs) {
				tasks[at[k]].rm, tasks[at[k]].hasRM = sc, true
			}
		})
	}
	s.runChecks(ctx, tasks)
	wg.Wait()

	groups := make(map[string][]member)
	for i := range tasks {
		t := &tasks[i]
		if t.err == nil && t.hasRM && t.rm.Err == nil && t.group != "" {
			groups[t.group] = append(groups[t.group], member{index: i, score: t.rm.Score})
		}
	}
	for i, v := range normalizeGroups(groups) {
		tasks[i].normal = &v
		tasks[i].size = len(groups[tasks[i].group])
	}
	results := make([]reward.Result, len(tasks))
	for i := range tasks {
		results[i] = tasks[i].result()
	}
	return mesh.EncodeResults(results)
}

// prepareReward decodes one rewards item and decides what it needs.
func (s *Service) prepareReward(raw json.RawMessage) rewardTask {
	var t rewardTask
	if err := decodeObject(raw, &t.item); err != nil {
		t.err = err
		return t
	}
	switch t.item.Domain {
	case reward.RM:
		conv, err := decodeRMReference(t.item, s.cfg.MaxItemBytes)
		switch {
		case err != nil:
			t.err = err
		case s.client == nil:
			t.err = noModel()
		default:
			t.conv = &conv
		}
	case reward.IF:
		req, err := decodeIFReference(t.item, s.cfg.MaxItemBytes)
		if err != nil {
			t.err = err
			return t
		}
		t.ifReq = &req
		// The IF-RL combination needs the group's reward model scores; without a
		// group or a reward model the reward is IFEval's verdict alone.
		switch {
		case t.item.Group == "" || s.client == nil:
		case s.client.TakesChat() || req.custom:
			t.conv = &Conversation{Messages: req.messages, Response: t.item.Response}
		default:
			// A text-only protocol (score, openrlhf) reads IFEval's prompt as it is.
			t.conv = &Conversation{Prompt: req.input.Prompt, Response: t.item.Response}
		}
	default:
		t.err = reward.Errorf(reward.Invalid, "domain %q is not scored by the rm service (want rm or if)", t.item.Domain)
	}
	if t.err == nil && t.item.Group != "" {
		t.group = string(t.item.Domain) + "/" + t.item.Group
	}
	return t
}

// runChecks runs the IFEval checks of the batch's if items, at most Parallel
// at once.
func (s *Service) runChecks(ctx context.Context, tasks []rewardTask) {
	sem := make(chan struct{}, s.cfg.Parallel)
	var wg sync.WaitGroup
	for i := range tasks {
		t := &tasks[i]
		if t.err != nil || t.ifReq == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t.ifOut, t.err = s.checkBefore(ctx, t.ifReq.input)
		})
	}
	wg.Wait()
}

// result builds the item's reward.
func (t *rewardTask) result() reward.Result {
	res := reward.Result{ID: t.item.ID, Domain: t.item.Domain}
	if t.err != nil {
		res.Error = t.err
		return res
	}
	var details any
	switch t.item.Domain {
	case reward.RM:
		if t.rm.Err != nil {
			res.Error = t.rm.Err
			return res
		}
		d := rmDetails{Score: t.rm.Score, Normalized: t.normal, GroupSize: t.size}
		res.Reward = t.rm.Score
		if t.normal != nil {
			res.Reward = *t.normal
		}
		details = d
	case reward.IF:
		verdict := t.ifOut.Strict
		mode := "strict"
		if t.ifReq.loose {
			verdict, mode = t.ifOut.Loose, "loose"
		}
		d := ifDetails{
			Mode: mode, FollowAll: verdict.FollowAll, FollowList: verdict.FollowList,
			Rule: "follow_all", Strict: t.ifOut.Strict, Loose: t.ifOut.Loose,
		}
		res.Reward = 0
		if verdict.FollowAll {
			res.Reward = 1
		}
		if t.hasRM {
			d.Rule = "if_rl"
			switch {
			case t.rm.Err == nil:
				d.RMScore, d.RMNormalized, d.GroupSize = &t.rm.Score, t.normal, t.size
				res.Reward = IFRLReward(verdict.FollowAll, *t.normal)
			case verdict.FollowAll:
				// The combination needs the score; a bare 1 would be on another scale
				// than the group's other rewards.
				res.Error = &reward.Error{Code: t.rm.Err.Code, Message: "IF-RL needs the reward model score: " + t.rm.Err.Message}
				return res
			default:
				// Not following the instructions is 0 whatever the reward model says.
				res.Reward = 0
			}
		}
		details = d
	}
	raw, err := json.Marshal(details)
	if err != nil {
		res.Error = reward.Errorf(reward.Internal, "encode details: %v", err)
		return res
	}
	res.Details = raw
	return res
}
