package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rewardmesh/rewardmesh/services/gateway/scoring"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// SandboxFusion's /run_code, as verl (reward_model.sandbox_fusion.url), ROLL
// (code_url) and verl's sandbox tool send it: one program run per request. The
// handler translates it into one sandbox "run" item and the answer back into
// SandboxFusion's RunCodeResponse.
//
// verl retries only a 504 and scores any other non-2xx, and SandboxError, as a
// failed test. So a request never answers busy: it waits for a sandbox slot
// inside its own budget (compile + run timeouts + a margin), and a mesh that
// could not run the program in that time answers 504 — never a verdict.

// sandboxFusionLanguages maps SandboxFusion's language names to the sandbox's,
// and the sandbox's own names beyond them (pypy3, kotlin, c, cpp20).
// SandboxFusion's kotlin_script runs a script without a main, which the
// sandbox's Kotlin does not.
var sandboxFusionLanguages = map[string]string{
	"python":     "python",
	"pypy3":      "pypy3",
	"cpp":        "cpp",
	"cpp20":      "cpp20",
	"c":          "c",
	"java":       "java",
	"kotlin":     "kotlin",
	"go":         "go",
	"nodejs":     "javascript",
	"js":         "javascript",
	"javascript": "javascript",
	"typescript": "typescript",
	"ts":         "typescript",
	"rust":       "rust",
	"ruby":       "ruby",
	"bash":       "bash",
}

// compiledLanguages are the sandbox languages with a compile step, whose
// compile_result is not null (TypeScript's is its transpile).
var compiledLanguages = map[string]bool{
	"cpp": true, "cpp20": true, "c": true, "java": true, "kotlin": true, "go": true, "rust": true, "typescript": true,
}

// runCodeRequest is SandboxFusion's RunCodeRequest. Fields it has that the
// sandbox has no use for (args, for pytest) and fields other clients add (ROLL's
// expected_stdout) are ignored.
type runCodeRequest struct {
	Code           *string            `json:"code"`
	Language       *string            `json:"language"`
	CompileTimeout *json.Number       `json:"compile_timeout"`
	RunTimeout     *json.Number       `json:"run_timeout"`
	MemoryLimitMB  *json.Number       `json:"memory_limit_MB"`
	Stdin          *string            `json:"stdin"`
	Files          map[string]*string `json:"files"`
	FetchFiles     []string           `json:"fetch_files"`
}

// commandRunResult is SandboxFusion's CommandRunResult.
type commandRunResult struct {
	Status        string   `json:"status"` // Finished, Error, TimeLimitExceeded
	ExecutionTime *float64 `json:"execution_time"`
	ReturnCode    *int     `json:"return_code"`
	Stdout        *string  `json:"stdout"`
	Stderr        *string  `json:"stderr"`
}

// runCodeResponse is SandboxFusion's RunCodeResponse. Error is rewardmesh's own
// error object, present on a 4xx or 5xx beside SandboxFusion's fields.
type runCodeResponse struct {
	Status          string            `json:"status"` // Success, Failed, SandboxError
	Message         string            `json:"message"`
	CompileResult   *commandRunResult `json:"compile_result"`
	RunResult       *commandRunResult `json:"run_result"`
	ExecutorPodName *string           `json:"executor_pod_name"`
	Files           map[string][]byte `json:"files"`
	Error           *reward.Error     `json:"error,omitempty"`
}

// sandboxRun is the part of the sandbox's run result this adapter reads.
type sandboxRun struct {
	Status   string            `json:"status"`
	ExitCode int               `json:"exit_code"`
	Stdout   string            `json:"stdout"`
	Stderr   string            `json:"stderr"`
	WallMS   int64             `json:"wall_ms"`
	Files    map[string][]byte `json:"files"`
	Executor string            `json:"executor"`
	Compile  *struct {
		Status   string `json:"status"`
		ExitCode int    `json:"exit_code"`
		Stderr   string `json:"stderr"`
		WallMS   int64  `json:"wall_ms"`
	} `json:"compile"`
	Error *reward.Error `json:"error"`
}

// SandboxFusion's defaults.
const (
	defaultRunCodeTimeout = 10.0 // seconds, compile and run each
	// runCodeMargin is what a request's budget allows beyond its compile and
	// run timeouts for waiting on a slot and the trip. verl's client waits 10 s
	// beyond them, so a 504 reaches it before it gives up.
	runCodeMargin = 8 * time.Second
)

func (s *server) handleRunCode() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run, err := s.runCodeRun(r)
		if err != nil {
			s.failRunCode(w, r, err)
			return
		}
		if run.lang == "" {
			// SandboxFusion answers a language it has no runner for as its own
			// error; so does this endpoint, naming what it runs instead.
			names := slices.Sorted(maps.Keys(sandboxFusionLanguages))
			encode(w, http.StatusOK, runCodeResponse{Status: "SandboxError", Files: map[string][]byte{},
				Message: fmt.Sprintf("language %q is not run by this sandbox; it runs %s", run.asked, strings.Join(names, ", "))})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), run.budget)
		defer cancel()
		res, err := s.runInSandbox(ctx, run.item)
		if err != nil {
			s.failRunCode(w, r, err)
			return
		}
		encode(w, http.StatusOK, sandboxFusionResponse(res, compiledLanguages[run.lang]))
	})
}

// runCodeRun is a validated RunCodeRequest: the sandbox run item and the
// request's budget, or lang "" for a language the sandbox does not run.
type runCodeRun struct {
	item   json.RawMessage
	asked  string // the language as the client named it
	lang   string // the sandbox's name for it
	budget time.Duration
}

// runCodeRun validates a RunCodeRequest and turns it into a sandbox run item.
func (s *server) runCodeRun(r *http.Request) (runCodeRun, error) {
	var req runCodeRequest
	if err := decode(r, &req); err != nil {
		return runCodeRun{}, err
	}
	limits, err := req.check()
	if err != nil {
		return runCodeRun{}, err
	}
	run := runCodeRun{asked: *req.Language, lang: sandboxFusionLanguages[*req.Language]}
	if run.lang == "" {
		return run, nil
	}
	// verl's client waits compile + run timeouts + 10 s whatever the language;
	// this budget ends before it, so the 504 reaches it.
	run.budget = time.Duration((limits.compileSeconds+limits.runSeconds)*float64(time.Second)) + runCodeMargin
	if run.item, err = req.sandboxItem(run.lang, limits); err != nil {
		return runCodeRun{}, reward.Errorf(reward.Internal, "encode the run: %v", err)
	}
	return run, nil
}

// runCodeLimits are a RunCodeRequest's limits and files, checked.
type runCodeLimits struct {
	compileSeconds, runSeconds float64
	memoryMB                   int // 0: the sandbox's default
	files                      map[string][]byte
}

// check validates the request: every problem at once, as a 400.
func (req *runCodeRequest) check() (runCodeLimits, error) {
	p := problems{}
	if req.Code == nil {
		p["code"] = "required: the program's source"
	}
	if req.Language == nil || *req.Language == "" {
		p["language"] = "required: the language to run the code in (python, cpp, java, go, nodejs, typescript, rust, ruby, bash, ...)"
	}
	var l runCodeLimits
	var msg string
	if l.compileSeconds, msg = seconds(req.CompileTimeout); msg != "" {
		p["compile_timeout"] = msg
	}
	if l.runSeconds, msg = seconds(req.RunTimeout); msg != "" {
		p["run_timeout"] = msg
	}
	if req.MemoryLimitMB != nil {
		v, err := req.MemoryLimitMB.Float64()
		switch {
		case err != nil || v != math.Trunc(v) || v > math.MaxInt32:
			p["memory_limit_MB"] = "want a whole number of megabytes, or -1 for the default"
		case v > 0:
			l.memoryMB = int(v)
		}
	}
	l.files = make(map[string][]byte, len(req.Files))
	for name, content := range req.Files {
		// SandboxFusion writes only string contents, and skips these names.
		if content == nil || strings.Contains(name, "IGNORE_THIS_FILE") {
			continue
		}
		data, err := decodeBase64(*content)
		if err != nil {
			p["files["+name+"]"] = "not base64: " + err.Error()
			continue
		}
		l.files[name] = data
	}
	return l, p.err()
}

// sandboxItem is the sandbox run item for the request, in the sandbox's lang.
func (req *runCodeRequest) sandboxItem(lang string, l runCodeLimits) (json.RawMessage, error) {
	stdin := ""
	if req.Stdin != nil {
		stdin = *req.Stdin
	}
	item := map[string]any{
		"language":      lang,
		"source":        *req.Code,
		"stdin":         stdin,
		"wall_limit_ms": int(math.Ceil(l.runSeconds * 1000)),
		"clamp_limits":  true,
		"queue":         true,
		"files":         l.files,
		"fetch_files":   req.FetchFiles,
	}
	if compiledLanguages[lang] {
		item["compile_limit_ms"] = int(math.Ceil(l.compileSeconds * 1000))
	}
	if l.memoryMB > 0 {
		item["memory_limit_mb"] = l.memoryMB
	}
	return json.Marshal(item)
}

// seconds reads a SandboxFusion timeout: seconds, default 10, positive.
func seconds(n *json.Number) (float64, string) {
	if n == nil {
		return defaultRunCodeTimeout, ""
	}
	v, err := n.Float64()
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, "want a positive number of seconds"
	}
	return min(v, 24*3600), ""
}

// decodeBase64 decodes standard base64 as Python's b64decode does by default:
// line breaks are ignored, and padding may be left off.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if data, err := base64.StdEncoding.DecodeString(s); err == nil {
		return data, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// sandboxRunOp is the sandbox's op that runs one program; its runs are never
// cached (a program may read the clock, or the dice).
var sandboxRunOp = scoring.Op{Service: "sandbox", Name: "run"}

// runInSandbox sends one run to the sandbox and waits for its answer until
// ctx's deadline: busy replicas, a replica that is not reachable yet, and the
// sandbox's own system errors are tried again, with short jittered backoff so
// that many waiting clients share slots fairly.
func (s *server) runInSandbox(ctx context.Context, item json.RawMessage) (sandboxRun, error) {
	backoff := 10 * time.Millisecond
	systemErrors := 0
	for {
		var (
			res     sandboxRun
			lastErr error
		)
		result, err := s.engine.CallItem(ctx, sandboxRunOp, item)
		switch {
		case err != nil:
			lastErr = err
		case json.Unmarshal(result, &res) != nil:
			return res, reward.Errorf(reward.Internal, "the sandbox answered an undecodable run result")
		case res.Error != nil:
			lastErr = res.Error
		case res.Status == "se" && systemErrors == 0:
			// Our failure, not the program's: once more, in another container.
			systemErrors++
			lastErr = reward.Errorf(reward.Internal, "the sandbox failed to run the program: %s", res.Stderr)
		default:
			return res, nil
		}
		e := reward.AsError(lastErr)
		if !e.Retryable && e.Code != reward.Busy && e.Code != reward.Unavailable && e.Code != reward.Internal {
			return res, e
		}
		select {
		case <-time.After(backoff/2 + rand.N(backoff)):
			backoff = min(2*backoff, 250*time.Millisecond)
		case <-ctx.Done():
			return res, reward.Errorf(reward.Timeout, "no sandbox could run the program within the request's budget (compile + run timeouts + %s): %s", runCodeMargin, e.Message)
		}
	}
}

// sandboxFusionResponse maps a sandbox run to SandboxFusion's answer:
// ok → Success; tle → Failed with the run TimeLimitExceeded and no return code;
// re, mle, ole → Failed with the run Finished and a non-zero return code, the
// reason in stderr; ce → Failed with the compile Finished and non-zero (or
// TimeLimitExceeded), no run; se → SandboxError.
func sandboxFusionResponse(res sandboxRun, compiled bool) runCodeResponse {
	out := runCodeResponse{Status: "Failed", Files: map[string][]byte{}}
	if res.Executor != "" {
		out.ExecutorPodName = &res.Executor
	}
	for name, data := range res.Files {
		out.Files[name] = data
	}
	if compiled && res.Compile != nil {
		c := res.Compile
		out.CompileResult = command("Finished", c.WallMS, c.ExitCode, "", c.Stderr)
		if c.Status == "tle" {
			out.CompileResult.Status, out.CompileResult.ReturnCode = "TimeLimitExceeded", nil
		}
		if c.Status != "ok" {
			return out
		}
	}
	switch res.Status {
	case "ok":
		out.Status = "Success"
		out.RunResult = command("Finished", res.WallMS, 0, res.Stdout, res.Stderr)
	case "tle":
		out.RunResult = command("TimeLimitExceeded", res.WallMS, 0, res.Stdout, res.Stderr)
		out.RunResult.ReturnCode = nil
	case "se":
		out.Status, out.Message = "SandboxError", "the sandbox failed to run the program: "+res.Stderr
		out.RunResult = &commandRunResult{Status: "Error", Stderr: &res.Stderr}
	default: // re, mle, ole, and ce of an interpreted language (a syntax error)
		stderr := res.Stderr
		switch res.Status {
		case "mle":
			stderr += "\nrewardmesh: memory limit exceeded\n"
		case "ole":
			stderr += "\nrewardmesh: output limit exceeded\n"
		}
		code := res.ExitCode
		if code == 0 {
			code = 1 // killed for a limit: never a clean exit
		}
		out.RunResult = command("Finished", res.WallMS, code, res.Stdout, stderr)
	}
	return out
}

func command(status string, wallMS int64, code int, stdout, stderr string) *commandRunResult {
	secs := float64(wallMS) / 1000
	return &commandRunResult{Status: status, ExecutionTime: &secs, ReturnCode: &code, Stdout: &stdout, Stderr: &stderr}
}

// failRunCode answers a request that got no verdict: 4xx when the request was
// wrong, 504 when the mesh could not run it in time (the one status verl
// retries), in SandboxFusion's shape with rewardmesh's error beside it.
func (s *server) failRunCode(w http.ResponseWriter, r *http.Request, err error) {
	e, hidden := clientError(err)
	failure := *e
	status := httpStatus(e)
	if status >= http.StatusInternalServerError || status == http.StatusTooManyRequests {
		status = http.StatusGatewayTimeout
		failure.Retryable = true
	}
	s.logFailure(r, status, &failure, hidden)
	encode(w, status, runCodeResponse{Status: "SandboxError", Message: failure.Message, Files: map[string][]byte{}, Error: &failure})
}

func (s *server) handlePing() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, "pong")
	})
}
