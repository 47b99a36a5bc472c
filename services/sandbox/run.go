package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// RunItem is an item of POST /v1/code/run: one program, run once. It is also
// what the gateway's SandboxFusion endpoint (/run_code) asks of the sandbox.
type RunItem struct {
	Language      string `json:"language"`
	Source        string `json:"source"`
	Stdin         string `json:"stdin,omitempty"`
	TimeLimitMS   int    `json:"time_limit_ms,omitempty"`
	MemoryLimitMB int    `json:"memory_limit_mb,omitempty"`
	// WallLimitMS, when set, bounds the run by the wall clock (SandboxFusion's
	// run_timeout), and its CPU time by the same. Unset, the CPU time is bounded
	// by TimeLimitMS and the wall clock by a margin over it.
	WallLimitMS int `json:"wall_limit_ms,omitempty"`
	// CompileLimitMS bounds a compiled language's compile by the wall clock
	// [the sandbox's own compile limits: 30 s of CPU, 60 s of wall time].
	CompileLimitMS int `json:"compile_limit_ms,omitempty"`
	// ClampLimits lowers a limit over the sandbox's maximum to that maximum
	// instead of refusing the item (SandboxFusion clients send 1024 MB whatever
	// the sandbox allows).
	ClampLimits bool `json:"clamp_limits,omitempty"`
	// Files are written into the program's working directory before it starts
	// (paths relative to it; contents base64 in JSON). FetchFiles are read back
	// from it after the run.
	Files      map[string][]byte `json:"files,omitempty"`
	FetchFiles []string          `json:"fetch_files,omitempty"`
	// Isolation is how a Python program starts: "fork" (the default) or
	// "process" (see JudgeItem).
	Isolation string `json:"isolation,omitempty"`
	// Queue waits in line for a slot until the request's deadline when the
	// sandbox's queue is full, instead of answering busy at once (for a caller
	// with a budget to wait and no other replica to try).
	Queue bool `json:"queue,omitempty"`
}

// RunResult answers a RunItem. Status is ok, tle, mle, re, ce, ole or se.
type RunResult struct {
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	TimeMS   int64  `json:"time_ms"`
	WallMS   int64  `json:"wall_ms"`
	MemoryKB int64  `json:"memory_kb"`
	// Compile is how the compile of a compiled language went (absent for Python).
	Compile *CompileResult `json:"compile,omitempty"`
	// Files holds each of FetchFiles that the run left as a regular file;
	// FetchErrors says why any other was left out.
	Files       map[string][]byte `json:"files,omitempty"`
	FetchErrors map[string]string `json:"fetch_errors,omitempty"`
	// Executor names the sandbox replica that ran the program.
	Executor string `json:"executor,omitempty"`
}

// CompileResult is a compile step: status ok, ce (the compiler refused) or tle.
type CompileResult struct {
	Status   string `json:"status"`
	ExitCode int    `json:"exit_code"`
	Stderr   string `json:"stderr"`
	WallMS   int64  `json:"wall_ms"`
	// Cached: an identical compile's binary was reused; WallMS is that compile's.
	Cached bool `json:"cached,omitempty"`
}

// Limits on what a run may carry in and out.
const (
	maxRunFiles       = 1000
	maxRunPathBytes   = 1024
	maxFetchFileBytes = 64 << 20 // the most a program may write to one file (runLimits' FileBytes)
	maxFetchBytes     = 64 << 20 // all fetched files of one run together
)

// syntaxCheckFile is where a run's Python syntax check goes: a name a user's
// files are unlikely to need.
const syntaxCheckFile = ".rewardmesh-syntax-check.py"

// Run runs a program once on the given stdin.
func (s *Sandbox) Run(ctx context.Context, it RunItem) (RunResult, error) {
	lang, ok := ParseLanguage(it.Language)
	if !ok {
		return RunResult{}, reward.Errorf(reward.Invalid, "language %q: want one of %s", it.Language, languageNames())
	}
	lim, err := s.runLimits(it)
	if err != nil {
		return RunResult{}, err
	}
	if it.WallLimitMS > 0 {
		// The caller's own wall clock (SandboxFusion's run_timeout), which
		// the language does not stretch.
		lim.AddressSpaceBytes = lang.limits(lim).AddressSpaceBytes
	} else {
		lim = lang.limits(lim)
	}
	files, err := runFiles(lang, it)
	if err != nil {
		return RunResult{}, err
	}
	process, err := parseIsolation(it.Isolation)
	if err != nil {
		return RunResult{}, err
	}
	admit := s.admit
	if it.Queue {
		admit = s.admitQueued
	}
	start := time.Now()
	release, err := admit(ctx)
	if err != nil {
		return RunResult{}, err
	}
	defer release()
	t := s.metrics.since(stageQueue, lang, start)
	ss, err := s.open(ctx, lang)
	if err != nil {
		return RunResult{}, err
	}
	defer ss.close()
	ss.process = process
	s.metrics.since(stageAcquire, lang, t)
	res, err := ss.run(ctx, lang, it, files, lim)
	s.metrics.since(stageTotal, lang, start)
	if err != nil {
		return s.runSystemError(ctx, err)
	}
	res.Executor = s.owner.ID
	return res, nil
}

// runLimits are a run's limits: the judge's, or SandboxFusion's wall-clock
// limit when the item sets one; clamped to the maxima when the item asks.
func (s *Sandbox) runLimits(it RunItem) (runner.Limits, error) {
	if it.WallLimitMS < 0 || it.CompileLimitMS < 0 {
		return runner.Limits{}, reward.Errorf(reward.Invalid, "wall_limit_ms and compile_limit_ms must not be negative")
	}
	timeMS, memMB, wallMS := it.TimeLimitMS, it.MemoryLimitMB, it.WallLimitMS
	if it.ClampLimits {
		timeMS = min(timeMS, s.cfg.MaxTimeLimitMS)
		memMB = min(memMB, s.cfg.maxTestMemoryMB())
		wallMS = min(wallMS, s.cfg.MaxTimeLimitMS)
	}
	if wallMS > 0 {
		if wallMS > s.cfg.MaxTimeLimitMS {
			return runner.Limits{}, reward.Errorf(reward.Invalid, "wall_limit_ms %d is over the sandbox's %d", wallMS, s.cfg.MaxTimeLimitMS)
		}
		if timeMS == 0 || timeMS > wallMS {
			timeMS = wallMS
		}
	}
	lim, err := s.limits(timeMS, memMB)
	if err != nil {
		return lim, err
	}
	if wallMS > 0 {
		lim.WallMillis = int64(wallMS)
	}
	return lim, nil
}

// runFiles checks the item's files and paths and returns what to write: the
// user's files and the program's source.
func runFiles(lang Language, it RunItem) (map[string]runner.File, error) {
	if len(it.Files) > maxRunFiles || len(it.FetchFiles) > maxRunFiles {
		return nil, reward.Errorf(reward.Invalid, "at most %d files and %d fetch_files", maxRunFiles, maxRunFiles)
	}
	files := make(map[string]runner.File, len(it.Files)+1)
	for name, data := range it.Files {
		clean, err := itemPath(lang, name)
		if err != nil {
			return nil, err
		}
		files[clean] = runner.File{Data: data}
	}
	for _, name := range it.FetchFiles {
		if _, err := workPath(name); err != nil {
			return nil, reward.Errorf(reward.Invalid, "fetch_files: %v", err)
		}
	}
	if !lang.compiled() {
		files[lang.sourceFile()] = runner.File{Data: []byte(it.Source)}
	}
	return files, nil
}

// itemPath checks the name of a file an item brings: a relative path inside
// the working directory, none where the sandbox puts the program.
func itemPath(lang Language, name string) (string, error) {
	clean, err := workPath(name)
	if err != nil {
		return "", reward.Errorf(reward.Invalid, "files: %v", err)
	}
	if slices.Contains(ownFiles(lang), clean) {
		return "", reward.Errorf(reward.Invalid, "files: %q is where the sandbox puts the program; use another name", name)
	}
	return clean, nil
}

// ownFiles are where the sandbox puts a program of lang and its helpers: an
// item's files may not take their names.
func ownFiles(lang Language) []string {
	own := []string{syntaxCheckFile, lang.sourceFile()}
	switch {
	case lang == Python:
		own = append(own, harnessFile)
	case lang.compiled():
		own = append(own, "main", lang.artifact("main"))
	}
	return own
}

// workPath cleans a path that must name a file inside the working directory.
func workPath(name string) (string, error) {
	switch {
	case name == "" || len(name) > maxRunPathBytes || strings.ContainsRune(name, 0):
		return "", fmt.Errorf("path %q: want a relative path of 1 to %d bytes", name, maxRunPathBytes)
	case path.IsAbs(name):
		return "", fmt.Errorf("path %q: absolute paths are not allowed; paths are relative to the working directory", name)
	}
	clean := path.Clean(name)
	if clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path %q leaves the working directory", name)
	}
	return clean, nil
}

// filesKey hashes the files a compile may read beside its source.
func filesKey(files map[string]runner.File) string {
	if len(files) == 0 {
		return ""
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, name := range names {
		sum := sha256.Sum256(files[name].Data)
		fmt.Fprintf(h, "%q %x\n", name, sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// run is one run in the session: write the files, compile, run, read back.
func (ss *session) run(ctx context.Context, lang Language, it RunItem, files map[string]runner.File, lim runner.Limits) (RunResult, error) {
	m := ss.s.metrics
	t := time.Now()
	// An interpreted program's files go in with its run, and so does a cached
	// binary: one round trip to the agent. A compiled program's own files are
	// written first, for its compile.
	runFiles := files
	if lang.compiled() && len(files) > 0 {
		if _, err := ss.do(ctx, runner.Request{Op: runner.OpWrite, Files: files}); err != nil {
			return RunResult{}, fmt.Errorf("write the program's files: %w", err)
		}
		t = m.since(stageWrite, lang, t)
		runFiles = nil
	}
	argv := lang.command(lang.sourceFile())
	var compile *CompileResult
	if lang.compiled() {
		// files holds only the user's files here: the source goes in with the compile.
		climits := compileLimits
		if it.CompileLimitMS > 0 {
			climits.WallMillis = min(climits.WallMillis, int64(it.CompileLimitMS))
			climits.CPUMillis = min(climits.CPUMillis, int64(it.CompileLimitMS))
		}
		prep, err := ss.compile(ctx, lang, it.Source, "main", climits, filesKey(files), true, sourcesFor(lang, files))
		if err != nil {
			return RunResult{}, err
		}
		t = m.since(stageCompile, lang, t)
		compile = &CompileResult{Status: "ok", ExitCode: prep.compileExit, Stderr: validUTF8(prep.compileOutput), WallMS: prep.compileWallMS, Cached: prep.compileCached}
		if prep.compileFailed {
			compile.Status = "ce"
			if prep.compileTimedOut {
				compile.Status = "tle"
			}
			res := RunResult{Status: "ce", ExitCode: 1, Stderr: compile.Stderr, Compile: compile}
			return res, ss.fetch(ctx, it.FetchFiles, &res)
		}
		argv = prep.argv
		runFiles = prep.carry
	}
	// With nothing to fetch after it, the run is the submission's last request:
	// the agent resets the container once it has answered (see Pool.Release).
	resp, err := ss.do(ctx, runner.Request{Op: runner.OpRun, Files: runFiles, Argv: withLimits(argv, lim), Stdin: []byte(it.Stdin), Limits: lim,
		ResetAfter: len(it.FetchFiles) == 0})
	if err != nil {
		return RunResult{}, err
	}
	t = m.since(stageRun, lang, t)
	if resp.Status == runner.StatusFailed {
		return RunResult{}, fmt.Errorf("run: %s", resp.Error)
	}
	status := strings.ToLower(string(runVerdict(lang, resp)))
	if status == "ac" {
		status = "ok"
	}
	res := RunResult{
		Status:   status,
		ExitCode: resp.ExitCode,
		Stdout:   validUTF8(string(resp.Stdout)),
		Stderr:   validUTF8(string(resp.Stderr)),
		TimeMS:   timeMS(resp, lim),
		WallMS:   resp.WallMicros / 1000,
		MemoryKB: resp.MemoryKB,
		Compile:  compile,
	}
	if lang == Python && status == "re" && looksLikeSyntaxError(res.Stderr) {
		// The program is not checked before it runs (that would cost a second
		// interpreter start on every run); a failure that reads like a syntax
		// error is confirmed by compiling the source without running it, which
		// the program cannot fake.
		if ce, out, err := ss.syntaxError(ctx, it.Source, false); err != nil {
			return RunResult{}, err
		} else if ce {
			res = RunResult{Status: "ce", ExitCode: 1, Stderr: validUTF8(out), WallMS: res.WallMS}
		}
	}
	if len(it.FetchFiles) == 0 {
		return res, nil
	}
	err = ss.fetch(ctx, it.FetchFiles, &res)
	m.since(stageFetch, lang, t)
	return res, err
}

func looksLikeSyntaxError(stderr string) bool {
	last := lastLine(stderr)
	return strings.HasPrefix(last, "SyntaxError") || strings.HasPrefix(last, "IndentationError") || strings.HasPrefix(last, "TabError")
}

// syntaxError compiles the Python source without running it: whether it has a
// syntax error, and the compiler's message. The source goes in again with the
// check, so nothing the program wrote while it ran can change the answer.
func (ss *session) syntaxError(ctx context.Context, source string, functional bool) (bool, string, error) {
	files := map[string]runner.File{syntaxCheckFile: {Data: []byte(syntaxCheck(functional))}, solutionFile: {Data: []byte(source)}}
	resp, err := ss.do(ctx, runner.Request{Op: runner.OpRun, Files: files, Argv: []string{"python3", syntaxCheckFile}, Limits: compileLimits})
	if err != nil {
		return false, "", fmt.Errorf("check the program's syntax: %w", err)
	}
	switch resp.Status {
	case runner.StatusOK:
		return false, "", nil
	case runner.StatusFailed:
		return false, "", fmt.Errorf("check the program's syntax: %s", resp.Error)
	}
	return true, string(resp.Stderr), nil
}

// fetch reads back the files a run asked for. A file that is missing, not a
// regular file or too large is left out with the reason; only a failure of
// the container is an error.
func (ss *session) fetch(ctx context.Context, names []string, res *RunResult) error {
	total := 0
	for _, name := range names {
		clean, _ := workPath(name) // checked in runFiles
		if _, done := res.Files[name]; done {
			continue
		}
		resp, err := ss.do(ctx, runner.Request{Op: runner.OpRead, Path: clean, Limits: runner.Limits{FileBytes: maxFetchFileBytes}})
		if err != nil {
			if errors.Is(err, runner.ErrAgentGone) || ctx.Err() != nil {
				return fmt.Errorf("fetch %s: %w", name, err)
			}
			setFetchError(res, name, err.Error())
			continue
		}
		if total+len(resp.Data) > maxFetchBytes {
			setFetchError(res, name, fmt.Sprintf("the fetched files are over %d bytes together", maxFetchBytes))
			continue
		}
		total += len(resp.Data)
		if res.Files == nil {
			res.Files = map[string][]byte{}
		}
		res.Files[name] = resp.Data
	}
	return nil
}

func setFetchError(res *RunResult, name, why string) {
	if res.FetchErrors == nil {
		res.FetchErrors = map[string]string{}
	}
	res.FetchErrors[name] = why
}

func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func (s *Sandbox) runSystemError(ctx context.Context, err error) (RunResult, error) {
	if ctx.Err() != nil {
		return RunResult{}, reward.Errorf(reward.Timeout, "run stopped at the deadline: %v", err)
	}
	var rerr *reward.Error
	if errors.As(err, &rerr) {
		return RunResult{}, rerr
	}
	s.log.Warn("sandbox system error", "err", err)
	return RunResult{Status: "se", ExitCode: -1, Stderr: err.Error(), Executor: s.owner.ID}, nil
}
