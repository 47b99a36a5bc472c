package mathsvc

import (
	"fmt"
	"net/url"
	"os"
	"strconv"

	"github.com/rewardmesh/rewardmesh/shared/envvar"
)

// The environment variables that configure the service (the README lists them).
const (
	EnvJudgeURL         = "REWARDMESH_MATH_JUDGE_URL"
	EnvJudgeModel       = "REWARDMESH_MATH_JUDGE_MODEL"
	EnvJudgeAPIKeyEnv   = "REWARDMESH_MATH_JUDGE_API_KEY_ENV"
	EnvJudgePrompt      = "REWARDMESH_MATH_JUDGE_PROMPT"
	EnvJudgeTimeout     = "REWARDMESH_MATH_JUDGE_TIMEOUT"
	EnvJudgeRetries     = "REWARDMESH_MATH_JUDGE_RETRIES"
	EnvJudgeConcurrency = "REWARDMESH_MATH_JUDGE_CONCURRENCY"
	EnvJudgeBudget      = "REWARDMESH_MATH_JUDGE_BUDGET"
	EnvJudgeThreshold   = "REWARDMESH_MATH_JUDGE_THRESHOLD"
	EnvJudgeMaxTokens   = "REWARDMESH_MATH_JUDGE_MAX_TOKENS"
)

// DefaultAPIKeyEnv names the variable holding the judge's API key when
// REWARDMESH_MATH_JUDGE_API_KEY_ENV does not name another.
const DefaultAPIKeyEnv = "OPENAI_API_KEY"

// ConfigFromEnv reads the service's configuration from REWARDMESH_MATH_*
// variables. A value that does not parse, or judge settings without a judge
// URL, is an error that names the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	r := envvar.NewReader(getenv)
	j := &cfg.Judge
	r.String(EnvJudgeURL, &j.URL)
	r.String(EnvJudgeModel, &j.Model)
	if path := getenv(EnvJudgePrompt); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			r.Fail(fmt.Errorf("%s: %w", EnvJudgePrompt, err))
		}
		j.Prompt = string(b)
	}
	if j.URL != "" {
		if u, err := url.Parse(j.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.Refuse(EnvJudgeURL, j.URL, "the API's base URL, such as http://vllm:8000/v1")
		}
		if j.Model == "" {
			r.Fail(fmt.Errorf("%s is set but %s is not: name the judge's model", EnvJudgeURL, EnvJudgeModel))
		}
	}
	r.Duration(EnvJudgeTimeout, &j.Timeout)
	if v := getenv(EnvJudgeThreshold); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f < 1) {
			r.Refuse(EnvJudgeThreshold, v, "a probability between 0 and 1, such as 0.5")
		}
		j.Threshold = f
	}
	r.Int(EnvJudgeRetries, 0, &j.Retries)
	r.Int(EnvJudgeConcurrency, 1, &j.Concurrency)
	r.Int(EnvJudgeMaxTokens, 1, &j.MaxTokens)
	r.Int(EnvJudgeBudget, 0, &cfg.JudgeBudget)
	if getenv(EnvJudgeBudget) != "" && cfg.JudgeBudget == 0 {
		cfg.JudgeBudget = -1 // 0 asks for no judge calls at all
	}
	keyEnv := getenv(EnvJudgeAPIKeyEnv)
	if keyEnv == "" {
		keyEnv = DefaultAPIKeyEnv
	}
	j.APIKey = getenv(keyEnv)
	if j.URL == "" {
		for _, name := range []string{EnvJudgeModel, EnvJudgePrompt, EnvJudgeTimeout, EnvJudgeRetries, EnvJudgeConcurrency,
			EnvJudgeBudget, EnvJudgeThreshold, EnvJudgeMaxTokens, EnvJudgeAPIKeyEnv} {
			if getenv(name) != "" {
				r.Fail(fmt.Errorf("%s is set but %s is not: the judge needs its URL", name, EnvJudgeURL))
			}
		}
	}
	return cfg, r.Err()
}
