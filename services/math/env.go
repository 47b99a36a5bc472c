package mathsvc

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"
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

// OptionsFromEnv reads the service's options from REWARDMESH_MATH_* variables.
// A value that does not parse, or judge settings without a judge URL, is an
// error that names the variable.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	var opts Options
	var errs []error
	bad := func(name, v, want string) { errs = append(errs, fmt.Errorf("%s=%q: %s", name, v, want)) }
	integer := func(name string, least int, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < least {
				bad(name, v, fmt.Sprintf("want a whole number, at least %d", least))
				return
			}
			*dst = n
		}
	}
	j := &opts.Judge
	j.URL, j.Model = getenv(EnvJudgeURL), getenv(EnvJudgeModel)
	if path := getenv(EnvJudgePrompt); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvJudgePrompt, err))
		}
		j.Prompt = string(b)
	}
	if j.URL != "" {
		if u, err := url.Parse(j.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(EnvJudgeURL, j.URL, "want the API's base URL, such as http://vllm:8000/v1")
		}
		if j.Model == "" {
			errs = append(errs, fmt.Errorf("%s is set but %s is not: name the judge's model", EnvJudgeURL, EnvJudgeModel))
		}
	}
	if v := getenv(EnvJudgeTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(EnvJudgeTimeout, v, "want a duration such as 10s")
		}
		j.Timeout = d
	}
	if v := getenv(EnvJudgeThreshold); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f < 1) {
			bad(EnvJudgeThreshold, v, "want a probability between 0 and 1, such as 0.5")
		}
		j.Threshold = f
	}
	integer(EnvJudgeRetries, 0, &j.Retries)
	integer(EnvJudgeConcurrency, 1, &j.Concurrency)
	integer(EnvJudgeMaxTokens, 1, &j.MaxTokens)
	if v := getenv(EnvJudgeBudget); v != "" {
		integer(EnvJudgeBudget, 0, &opts.JudgeBudget)
		if opts.JudgeBudget == 0 {
			opts.JudgeBudget = -1 // 0 asks for no judge calls at all
		}
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
				errs = append(errs, fmt.Errorf("%s is set but %s is not: the judge needs its URL", name, EnvJudgeURL))
			}
		}
	}
	return opts, errors.Join(errs...)
}

// FromEnv builds the service from REWARDMESH_MATH_* variables.
func FromEnv(getenv func(string) string) (*Service, error) {
	opts, err := OptionsFromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("math: %w", err)
	}
	return New(opts)
}
