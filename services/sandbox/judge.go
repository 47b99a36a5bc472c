package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// JudgeItem is an item of POST /v1/code/judge.
type JudgeItem struct {
	Language      string            `json:"language"`
	Source        string            `json:"source"`
	Tests         []reward.TestCase `json:"tests"`
	Mode          string            `json:"mode,omitempty"` // stdin (default), functional or assert
	FnName        string            `json:"fn_name,omitempty"`
	TimeLimitMS   int               `json:"time_limit_ms,omitempty"`
	MemoryLimitMB int               `json:"memory_limit_mb,omitempty"`
	Compare       string            `json:"compare,omitempty"`
	Checker       *Checker          `json:"checker,omitempty"`
	// Interactor makes the problem interactive: testlib's convention, called as
	// `interactor input output` in a container of its own, its stdout the
	// solution's stdin and the solution's stdout its stdin. Its exit code is
	// the verdict (0 OK, 1 WA, 2 PE, 3 its own failure, 7 points).
	Interactor *Checker `json:"interactor,omitempty"`
	StopOnFail *bool    `json:"stop_on_fail,omitempty"` // default true
	// Subtasks group the tests IOI's way: a subtask earns its points times the
	// lowest score among its tests. With subtasks every test runs.
	Subtasks []Subtask `json:"subtasks,omitempty"`
	// Files are put beside the program before it compiles and runs (relative
	// path → text): headers, data, or an IOI grader, for a C++ program is
	// compiled together with every .cpp, .cc and .cxx file among them.
	Files map[string]string `json:"files,omitempty"`
	// Isolation is how a Python program starts: "fork" (the default), a copy
	// of the container's fork server, with the common modules loaded; or
	// "process", a fresh interpreter per test.
	Isolation string `json:"isolation,omitempty"`
}

// parseIsolation reads an item's isolation: whether it asks for a fresh
// process per run.
func parseIsolation(s string) (process bool, err error) {
	switch s {
	case "", "fork":
		return false, nil
	case "process":
		return true, nil
	}
	return false, reward.Errorf(reward.Invalid, "isolation %q: want fork or process", s)
}

// Subtask and SubtaskResult are the sandbox's and eval's one type (shared/reward).
type (
	Subtask       = reward.Subtask
	SubtaskResult = reward.SubtaskResult
)

// Checker is a testlib-style special checker, called as `checker input output answer`.
type Checker struct {
	Language string `json:"language"`
	Source   string `json:"source"`
}

// JudgeResult answers a JudgeItem.
type JudgeResult struct {
	Verdict       reward.Verdict `json:"verdict"`
	Passed        int            `json:"passed"`
	Total         int            `json:"total"`
	Tests         []TestResult   `json:"tests"`
	CompileOutput string         `json:"compile_output,omitempty"`
	// With subtasks: the points earned, the most there are, and each subtask.
	Score    *float64        `json:"score,omitempty"`
	MaxScore *float64        `json:"max_score,omitempty"`
	Subtasks []SubtaskResult `json:"subtasks,omitempty"`
}

// TestResult is one test's outcome.
type TestResult struct {
	Verdict  reward.Verdict `json:"verdict"`
	TimeMS   int64          `json:"time_ms"`
	MemoryKB int64          `json:"memory_kb"`
	// Score is the share of a points checker's points (verdict PA); absent
	// otherwise, where AC scores 1 and any other verdict 0.
	Score *float64 `json:"score,omitempty"`
}

// score is the test's share of its points.
func (tr TestResult) score() float64 {
	switch {
	case tr.Score != nil:
		return *tr.Score
	case tr.Verdict == reward.Accepted:
		return 1
	}
	return 0
}

// Compile limits: generous, since a compile error must come from the source.
var compileLimits = runner.Limits{CPUMillis: 30000, WallMillis: 60000, MemoryBytes: 1536 << 20, OutputBytes: 1 << 20, FileBytes: 256 << 20, Processes: 64}

// judgeSpec is a validated JudgeItem.
type judgeSpec struct {
	lang       Language
	source     string
	tests      []reward.TestCase
	functional bool
	fnName     string
	limits     runner.Limits
	cmp        Comparer
	checker    *Checker
	checkLang  Language
	interactor *Checker
	interLang  Language
	subtasks   []Subtask
	files      map[string]runner.File
	stopOnFail bool
	// asserts: mode assert, each test's input is code appended to the source;
	// exitOnly: a run that exits 0 passes, whatever it printed.
	asserts, exitOnly bool
	parallel          int  // tests at once; 0 is the sandbox's TestParallel
	process           bool // isolation "process"
}

func (s *Sandbox) limits(timeMS, memMB int) (runner.Limits, error) {
	if timeMS < 0 || memMB < 0 {
		return runner.Limits{}, reward.Errorf(reward.Invalid, "time_limit_ms and memory_limit_mb must not be negative")
	}
	if timeMS == 0 {
		timeMS = s.cfg.DefaultTimeLimitMS
	}
	if memMB == 0 {
		memMB = s.cfg.DefaultMemoryLimitMB
	}
	if timeMS > s.cfg.MaxTimeLimitMS {
		return runner.Limits{}, reward.Errorf(reward.Invalid, "time_limit_ms %d is over the sandbox's %d", timeMS, s.cfg.MaxTimeLimitMS)
	}
	if maxMB := s.cfg.maxTestMemoryMB(); memMB > maxMB {
		return runner.Limits{}, reward.Errorf(reward.Invalid, "memory_limit_mb %d is over the sandbox's %d", memMB, maxMB)
	}
	return runner.Limits{
		CPUMillis: int64(timeMS),
		// Wall time allows for a loaded host, but a sleeping program is still
		// stopped soon after its CPU limit.
		WallMillis:  int64(timeMS) + max(500, int64(timeMS)/2),
		MemoryBytes: int64(memMB) << 20,
		OutputBytes: s.cfg.OutputLimitBytes,
		FileBytes:   64 << 20,
		Processes:   128,
	}, nil
}

func (s *Sandbox) validateJudge(it JudgeItem) (judgeSpec, error) {
	var sp judgeSpec
	lang, ok := ParseLanguage(it.Language)
	if !ok {
		return sp, reward.Errorf(reward.Invalid, "language %q: want one of %s", it.Language, languageNames())
	}
	if len(it.Tests) == 0 {
		return sp, reward.Errorf(reward.Invalid, "tests: at least one test is needed")
	}
	sp.lang, sp.source, sp.tests = lang, it.Source, it.Tests
	var err error
	if sp.process, err = parseIsolation(it.Isolation); err != nil {
		return sp, err
	}
	switch it.Mode {
	case "", "stdin":
	case "functional":
		if lang != Python {
			return sp, reward.Errorf(reward.Invalid, "mode functional: only python is supported")
		}
		if !isIdentifier(it.FnName) {
			return sp, reward.Errorf(reward.Invalid, "fn_name %q: a Python identifier is needed in functional mode", it.FnName)
		}
		for i, t := range it.Tests {
			if err := functionalArgsValid(t.Input); err != nil {
				return sp, reward.Errorf(reward.Invalid, "tests[%d].input: %v", i, err)
			}
			if !json.Valid([]byte(t.Output)) {
				return sp, reward.Errorf(reward.Invalid, "tests[%d].output: a JSON value is needed in functional mode", i)
			}
		}
		sp.functional, sp.fnName = true, it.FnName
	case "assert":
		// MultiPL-E's (and HumanEval's) convention, for any language: a test is
		// code appended to the program, and passes when the whole exits 0.
		if len(it.Subtasks) > 0 || it.Checker != nil || it.Interactor != nil {
			return sp, reward.Errorf(reward.Invalid, "mode assert: no subtasks, checker or interactor (a test passes by its exit code)")
		}
		sp.asserts = true
	default:
		return sp, reward.Errorf(reward.Invalid, "mode %q: want stdin, functional or assert", it.Mode)
	}
	cmp, err := ParseCompare(it.Compare)
	if err != nil {
		return sp, reward.Errorf(reward.Invalid, "%v", err)
	}
	sp.cmp = cmp
	if sp.limits, err = s.limits(it.TimeLimitMS, it.MemoryLimitMB); err != nil {
		return sp, err
	}
	sp.limits = lang.limits(sp.limits)
	if it.Checker != nil {
		cl, ok := ParseLanguage(it.Checker.Language)
		if !ok {
			return sp, reward.Errorf(reward.Invalid, "checker.language %q: want one of %s", it.Checker.Language, languageNames())
		}
		if sp.functional {
			return sp, reward.Errorf(reward.Invalid, "checker: only stdin tests take a checker")
		}
		sp.checker, sp.checkLang = it.Checker, cl
	}
	if it.Interactor != nil {
		il, ok := ParseLanguage(it.Interactor.Language)
		if !ok {
			return sp, reward.Errorf(reward.Invalid, "interactor.language %q: want one of %s", it.Interactor.Language, languageNames())
		}
		if sp.functional || sp.checker != nil {
			return sp, reward.Errorf(reward.Invalid, "interactor: an interactive problem takes stdin mode and no checker (the interactor gives the verdict)")
		}
		// One test at a time: each holds the interactor's container.
		sp.interactor, sp.interLang, sp.parallel = it.Interactor, il, 1
	}
	sp.stopOnFail = it.StopOnFail == nil || *it.StopOnFail
	if sp.files, err = judgeFiles(lang, it.Files); err != nil {
		return sp, err
	}
	if len(it.Subtasks) > 0 {
		if err := validSubtasks(it.Subtasks, len(it.Tests)); err != nil {
			return sp, err
		}
		// Every subtask's lowest score needs its tests run, past a failure too.
		sp.subtasks, sp.stopOnFail = it.Subtasks, false
	}
	return sp, nil
}

// judgeFiles checks a judge item's files: relative paths inside the working
// directory, none where the sandbox puts the program.
func judgeFiles(lang Language, files map[string]string) (map[string]runner.File, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if len(files) > maxRunFiles {
		return nil, reward.Errorf(reward.Invalid, "files: at most %d", maxRunFiles)
	}
	out := make(map[string]runner.File, len(files))
	for name, text := range files {
		clean, err := itemPath(lang, name)
		if err != nil {
			return nil, err
		}
		out[clean] = runner.File{Data: []byte(text)}
	}
	return out, nil
}

// sourcesFor are the sources of lang among files (a C or C++ grader), in a
// fixed order, to compile with the program.
func sourcesFor(lang Language, files map[string]runner.File) []string {
	exts := []string{".cpp", ".cc", ".cxx"}
	if lang == C {
		exts = []string{".c"}
	}
	var srcs []string
	for name := range files {
		if slices.Contains(exts, path.Ext(name)) {
			srcs = append(srcs, name)
		}
	}
	slices.Sort(srcs)
	return srcs
}

func validSubtasks(subtasks []Subtask, tests int) error {
	for i, st := range subtasks {
		if math.IsNaN(st.Points) || math.IsInf(st.Points, 0) || st.Points < 0 {
			return reward.Errorf(reward.Invalid, "subtasks[%d].points: a finite number, not negative, is needed", i)
		}
		if len(st.Tests) == 0 {
			return reward.Errorf(reward.Invalid, "subtasks[%d].tests: at least one test index is needed", i)
		}
		for _, t := range st.Tests {
			if t < 0 || t >= tests {
				return reward.Errorf(reward.Invalid, "subtasks[%d].tests: index %d is not a test (there are %d)", i, t, tests)
			}
		}
	}
	return nil
}

// scoreSubtasks adds IOI's scores to a result whose every test ran: a
// subtask's score is its points times the lowest score among its tests.
func scoreSubtasks(res *JudgeResult, subtasks []Subtask) {
	var total, most float64
	for _, st := range subtasks {
		r := SubtaskResult{Name: st.Name, Points: st.Points, Verdict: reward.Accepted}
		low := 1.0
		for _, i := range st.Tests {
			tr := res.Tests[i]
			low = min(low, tr.score())
			if r.Verdict == reward.Accepted && tr.Verdict != reward.Accepted {
				r.Verdict = tr.Verdict
			}
		}
		r.Score = st.Points * low
		total += r.Score
		most += st.Points
		res.Subtasks = append(res.Subtasks, r)
	}
	res.Score, res.MaxScore = &total, &most
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

// Judge runs a submission against its tests.
func (s *Sandbox) Judge(ctx context.Context, it JudgeItem) (JudgeResult, error) {
	sp, err := s.validateJudge(it)
	if err != nil {
		return JudgeResult{}, err
	}
	start := time.Now()
	release, err := s.admit(ctx)
	if err != nil {
		return JudgeResult{}, err
	}
	defer release()
	s.metrics.since(stageQueue, sp.lang, start)
	defer s.metrics.since(stageTotal, sp.lang, start)
	return s.judge(ctx, sp)
}

// session is one submission's container.
type session struct {
	s    *Sandbox
	pool Boxes
	c    Box
	bad  bool // the container must not serve again
	// pending are files written to the session but not yet sent: they go with
	// its next run (see do).
	pending map[string]runner.File
	// process: every Python run starts a fresh interpreter (isolation
	// "process") instead of being a copy of the container's fork server.
	process bool
	// resetAsked: the last run carried ResetAfter, and the agent may be
	// resetting the container now; a later request waits for that reset.
	resetAsked bool
}

func (s *Sandbox) open(ctx context.Context, lang Language) (*session, error) {
	p, err := s.boxesFor(ctx, lang)
	if err != nil {
		return nil, err
	}
	// A container that dies while it starts (killed, or the daemon restarting
	// it) fails only that start: another is tried, up to acquireTries in all,
	// before the item is answered unavailable.
	var c Box
	for try := 1; ; try++ {
		if c, err = p.Acquire(ctx); err == nil {
			break
		}
		if errors.Is(err, ErrBoxesClosed) {
			return nil, reward.Errorf(reward.Unavailable, "the sandbox is shutting down")
		}
		if try == acquireTries || ctx.Err() != nil {
			return nil, reward.Errorf(reward.Unavailable, "get a %s sandbox: %v", lang, err)
		}
		s.log.Warn("a sandbox failed to start; trying another", "language", lang, "err", err)
	}
	return &session{s: s, pool: p, c: c}, nil
}

// acquireTries is how many containers a submission may try to start.
const acquireTries = 3

func (ss *session) close() {
	if ss.bad {
		ss.pool.Discard(ss.c)
		return
	}
	ss.pool.Release(ss.c)
}

// do sends a request; any failure of the exchange itself marks the container bad.
//
// A write is not sent on its own: its files wait for the session's next run,
// which takes them along (the agent writes a run's files before it starts it),
// so a submission of one test costs one round trip, as a /run_code run does. A
// read first sends what waits.
func (ss *session) do(ctx context.Context, req runner.Request) (runner.Response, error) {
	switch req.Op {
	case runner.OpWrite:
		if ss.pending == nil {
			ss.pending = map[string]runner.File{}
		}
		maps.Copy(ss.pending, req.Files)
		if pendingBytes(ss.pending) <= carryMax {
			return runner.Response{ID: req.ID}, nil
		}
		req = ss.carry(req)
	case runner.OpRead:
		if len(ss.pending) > 0 {
			if _, err := ss.send(ctx, ss.carry(runner.Request{Op: runner.OpWrite})); err != nil {
				return runner.Response{}, err
			}
		}
	case runner.OpRun:
		if pendingBytes(ss.pending)+len(req.Stdin) > carryMax {
			// Too much for one frame with the run: sent ahead on their own.
			if _, err := ss.send(ctx, ss.carry(runner.Request{Op: runner.OpWrite})); err != nil {
				return runner.Response{}, err
			}
		}
		req = ss.carry(req)
	}
	return ss.send(ctx, req)
}

// send sends req as it is, a run once a CPU is free.
func (ss *session) send(ctx context.Context, req runner.Request) (runner.Response, error) {
	if err := ss.awaitReset(ctx); err != nil {
		return runner.Response{}, err
	}
	if req.Op == runner.OpRun {
		req.Fork = !ss.process && len(req.Argv) > 0 && req.Argv[0] == "python3"
		// A program runs only on a free CPU: oversubscribed cores would stretch
		// wall time and turn slow-but-correct programs into false TLEs.
		select {
		case ss.s.cpus <- struct{}{}:
			defer func() { <-ss.s.cpus }()
		case <-ctx.Done():
			return runner.Response{}, fmt.Errorf("wait for a CPU: %w", ctx.Err())
		}
	}
	resp, err := ss.c.Do(ctx, req)
	if err != nil && (errors.Is(err, runner.ErrAgentGone) || ctx.Err() != nil) {
		ss.bad = true
	}
	ss.resetAsked = req.ResetAfter && err == nil
	return resp, err
}

// awaitReset waits for the reset a run with ResetAfter asked for, before the
// session sends anything more: the agent answers the run first and resets
// after, and a request sent between would be wiped. A last run is marked so
// when the session expects nothing after it; something after it (a Python
// syntax check on a runtime error) is rare, and carries its own files. A reset
// that fails marks the container bad (it serves no other submission), and the
// session goes on with it.
func (ss *session) awaitReset(ctx context.Context) error {
	if !ss.resetAsked {
		return nil
	}
	ss.resetAsked = false
	b, ok := ss.c.(interface {
		AwaitReset(context.Context) (runner.Response, bool, error)
	})
	if !ok {
		return nil
	}
	if _, _, err := b.AwaitReset(ctx); err != nil {
		ss.bad = true
		if errors.Is(err, runner.ErrAgentGone) || ctx.Err() != nil {
			return err
		}
	}
	return nil
}

// carryMax bounds the files that wait for a run, and a run with them and its
// stdin, well under a frame's limit once base64-encoded.
const carryMax = runner.MaxFrame / 4

// carry gives req the files waiting to be written, its own over theirs.
func (ss *session) carry(req runner.Request) runner.Request {
	if len(ss.pending) == 0 {
		return req
	}
	files := ss.pending
	maps.Copy(files, req.Files)
	req.Files, ss.pending = files, nil
	return req
}

func pendingBytes(files map[string]runner.File) int {
	n := 0
	for _, f := range files {
		n += len(f.Data)
	}
	return n
}

// prepared is a submission ready to run: the command for a test, and how its
// compile went (for a compiled language).
type prepared struct {
	argv          []string
	compileOutput string
	compileFailed bool
	// compileTimedOut: the compile ran past its limit. A longer limit might
	// succeed, so the outcome is not cached.
	compileTimedOut bool
	compileExit     int
	compileWallMS   int64
	compileCached   bool // the binary came from the cache: no compile ran now
	// carry is the cached binary, when the caller asked to send it with the
	// run instead of writing it now (one round trip fewer).
	carry map[string]runner.File
}

// prepare writes the submission into the session and compiles it (a compiled
// language) or checks its syntax (Python).
//
// A Python program is checked for syntax first only with checkFirst (a
// checker, which must compile before it judges anything). A submission runs at
// once: the check would be a second interpreter start for every submission,
// and a syntax error shows as RE in every test, which the judge then confirms
// with the check (see syntaxError).
//
// files (the item's own: headers, a grader, data) are written beside the
// program first; a C or C++ program is compiled together with the sources among them.
func (ss *session) prepare(ctx context.Context, lang Language, source string, functional bool, fnName string, checkFirst bool, files map[string]runner.File) (prepared, error) {
	if lang.compiled() && len(files) > 0 {
		if _, err := ss.do(ctx, runner.Request{Op: runner.OpWrite, Files: files}); err != nil {
			return prepared{}, fmt.Errorf("write the item's files: %w", err)
		}
	}
	if lang.compiled() {
		return ss.compile(ctx, lang, source, "main", compileLimits, filesKey(files), false, sourcesFor(lang, files))
	}
	switch lang {
	default:
		all := map[string]runner.File{lang.sourceFile(): {Data: []byte(source)}}
		maps.Copy(all, files)
		if _, err := ss.do(ctx, runner.Request{Op: runner.OpWrite, Files: all}); err != nil {
			return prepared{}, fmt.Errorf("write the submission: %w", err)
		}
		return prepared{argv: lang.command(lang.sourceFile())}, nil
	case Python:
		all := pythonFiles(source, functional, fnName)
		maps.Copy(all, files)
		argv := []string{"python3", solutionFile}
		if functional {
			argv = []string{"python3", harnessFile}
		}
		if _, err := ss.do(ctx, runner.Request{Op: runner.OpWrite, Files: all}); err != nil {
			return prepared{}, fmt.Errorf("write the submission: %w", err)
		}
		if checkFirst {
			ce, out, err := ss.syntaxError(ctx, source, functional)
			if err != nil {
				return prepared{}, err
			}
			if ce {
				return prepared{compileFailed: true, compileOutput: out}, nil
			}
		}
		return prepared{argv: argv}, nil
	}
}

// pythonFiles are the files a Python submission runs from.
func pythonFiles(source string, functional bool, fnName string) map[string]runner.File {
	files := map[string]runner.File{solutionFile: {Data: []byte(source)}}
	if functional {
		files[harnessFile] = runner.File{Data: []byte(functionalHarness(fnName))}
	}
	return files
}

// compile compiles source to name's artifact (./name, name.jar, name.js) under
// lim, or writes the artifact an identical compile made before. context is
// anything else the compile reads (the hash of files written beside the source,
// which it may include); it is part of the cache key.
//
// An artifact from the cache is written into the container at once, or, with
// carry, left in prepared.carry for the caller's run to take along.
//
// extra are more sources to compile with it (an IOI grader), already written;
// context must then cover them (filesKey), as it does the headers beside it.
func (ss *session) compile(ctx context.Context, lang Language, source, name string, lim runner.Limits, context string, carry bool, extra []string) (prepared, error) {
	lim = lang.compileLimits(lim)
	artifact := lang.artifact(name)
	command := lang.compileCommand(lang.sourceFor(name, source), artifact, source, extra)
	sum := sha256.Sum256([]byte(strings.Join(command, "\x00") + "\x00" + context + "\x00" + source))
	key := hex.EncodeToString(sum[:])
	for {
		entry, leader := ss.s.cache.begin(key)
		if leader {
			entry.result, entry.binary, entry.err = ss.compileIn(ctx, lang, source, name, lim, command)
			if len(entry.binary) > 0 {
				sum := sha256.Sum256(entry.binary)
				entry.binaryKey = hex.EncodeToString(sum[:])
			}
			ss.s.cache.finish(key, entry)
			return entry.result, entry.err
		}
		select {
		case <-entry.done:
		case <-ctx.Done():
			return prepared{}, fmt.Errorf("wait for an identical compile: %w", ctx.Err())
		}
		if entry.result.compileTimedOut {
			continue // its limit may have been shorter than ours: compile again
		}
		if entry.err != nil || entry.result.compileFailed {
			return entry.result, entry.err
		}
		res := entry.result
		res.compileCached = true
		binary := map[string]runner.File{artifact: {Data: entry.binary, Exec: true, Key: entry.binaryKey}}
		if carry {
			res.carry = binary
			return res, nil
		}
		if _, err := ss.do(ctx, runner.Request{Op: runner.OpWrite, Files: binary}); err != nil {
			return prepared{}, fmt.Errorf("write the compiled binary: %w", err)
		}
		return res, nil
	}
}

func (ss *session) compileIn(ctx context.Context, lang Language, source, name string, lim runner.Limits, command []string) (prepared, []byte, error) {
	src, artifact := lang.sourceFor(name, source), lang.artifact(name)
	resp, err := ss.do(ctx, runner.Request{Op: runner.OpRun, Files: map[string]runner.File{src: {Data: []byte(source)}}, Argv: command, Limits: lim})
	if err != nil {
		return prepared{}, nil, fmt.Errorf("compile: %w", err)
	}
	if resp.Status == runner.StatusFailed {
		return prepared{}, nil, fmt.Errorf("compile: %s", resp.Error)
	}
	out := string(resp.Stderr)
	res := prepared{argv: lang.command(artifact), compileOutput: out, compileExit: resp.ExitCode, compileWallMS: resp.WallMicros / 1000}
	if resp.Status != runner.StatusOK {
		res.argv, res.compileFailed = nil, true
		if resp.Status == runner.StatusTLE {
			res.compileTimedOut = true
			res.compileOutput += "\ncompilation exceeded its time limit"
		}
		if res.compileExit == 0 {
			res.compileExit = 1
		}
		return res, nil, nil
	}
	bin, err := ss.do(ctx, runner.Request{Op: runner.OpRead, Path: artifact})
	if err != nil {
		return prepared{}, nil, fmt.Errorf("read the compiled binary: %w", err)
	}
	return res, bin.Data, nil
}

func (s *Sandbox) judge(ctx context.Context, sp judgeSpec) (JudgeResult, error) {
	if sp.asserts {
		return s.judgeAsserts(ctx, sp)
	}
	// tests is always a list in the answer, empty when none ran (CE, SE).
	res := JudgeResult{Total: len(sp.tests), Tests: []TestResult{}}
	t := time.Now()
	ss, err := s.open(ctx, sp.lang)
	if err != nil {
		return res, err
	}
	defer ss.close()
	t = s.metrics.since(stageAcquire, sp.lang, t)
	ss.process = sp.process
	prep, err := ss.prepare(ctx, sp.lang, sp.source, sp.functional, sp.fnName, false, sp.files)
	if err != nil {
		return s.systemError(ctx, res, err)
	}
	if sp.lang.compiled() {
		s.metrics.since(stageCompile, sp.lang, t)
	} else {
		s.metrics.since(stageWrite, sp.lang, t)
	}
	res.CompileOutput = prep.compileOutput
	if prep.compileFailed {
		res.Verdict = reward.CompileError
		return res, nil
	}
	var check *checkerSession
	if sp.checker != nil {
		check, err = s.openChecker(ctx, sp.checker, sp.checkLang)
		if err != nil {
			return res, err
		}
		defer check.close()
	}
	if sp.interactor != nil {
		if check, err = s.openChecker(ctx, sp.interactor, sp.interLang); err != nil {
			return res, err
		}
		check.interactive = true
		defer check.close()
	}

	results := make([]*TestResult, len(sp.tests))
	var (
		mu        sync.Mutex
		firstFail = len(sp.tests) // lowest index of a failed test
		sysErr    error
	)
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range sp.tests {
			mu.Lock()
			stop := (sp.stopOnFail && firstFail < len(sp.tests)) || sysErr != nil
			mu.Unlock()
			if stop || ctx.Err() != nil {
				return
			}
			next <- i
		}
	}()
	parallel := sp.parallel
	if parallel <= 0 {
		parallel = s.cfg.TestParallel
	}
	parallel = min(parallel, len(sp.tests))
	var wg sync.WaitGroup
	for w := range parallel {
		wg.Go(func() {
			lane := ss
			if w > 0 {
				// A container runs one test at a time: its cgroup is the test's
				// meter. Another test at once needs a container of its own, one
				// idle now; without one, the other workers take the tests.
				if lane = s.openLane(ctx, sp, ss.pool); lane == nil {
					return
				}
				defer lane.close()
			}
			for i := range next {
				// The feeder may have handed this test out before an earlier one
				// failed: with stopOnFail it is not run.
				mu.Lock()
				skip := sp.stopOnFail && firstFail < i
				mu.Unlock()
				if skip {
					continue
				}
				// The last test is the last run of the lane that takes it.
				tr, err := lane.runTest(ctx, sp, prep.argv, sp.tests[i], check, i == len(sp.tests)-1)
				mu.Lock()
				if err != nil {
					if sysErr == nil {
						sysErr = err
					}
				} else {
					results[i] = &tr
					if tr.Verdict != reward.Accepted && i < firstFail {
						firstFail = i
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Drain the feeder if the workers stopped early.
	for range next {
	}
	if sysErr != nil {
		return s.systemError(ctx, res, sysErr)
	}
	if err := ctx.Err(); err != nil {
		return res, reward.Errorf(reward.Timeout, "judging stopped at the deadline: %v", err)
	}
	if sp.lang == Python && slices.ContainsFunc(results, func(tr *TestResult) bool { return tr != nil && tr.Verdict == reward.RuntimeError }) {
		// A syntax error fails every test as RE: compiling the source without
		// running it, which the program cannot fake, tells one from a crash.
		ce, out, err := ss.syntaxError(ctx, sp.source, sp.functional)
		if err != nil {
			return s.systemError(ctx, res, err)
		}
		if ce {
			res.Verdict, res.CompileOutput = reward.CompileError, out
			return res, nil
		}
	}
	res.Verdict = reward.Accepted
	for i, tr := range results {
		if tr == nil || (sp.stopOnFail && i > firstFail) {
			break
		}
		res.Tests = append(res.Tests, *tr)
		if tr.Verdict == reward.Accepted {
			res.Passed++
		} else if res.Verdict == reward.Accepted {
			res.Verdict = tr.Verdict
		}
	}
	if len(sp.subtasks) > 0 {
		if len(res.Tests) != len(sp.tests) {
			return s.systemError(ctx, res, fmt.Errorf("%d of %d tests ran: the subtasks cannot be scored", len(res.Tests), len(sp.tests)))
		}
		scoreSubtasks(&res, sp.subtasks)
	}
	return res, nil
}

// openLane returns an idle container of the pool ready to run the
// submission's tests, or nil when none is idle or it cannot be made ready (the
// submission's own container runs the tests then).
func (s *Sandbox) openLane(ctx context.Context, sp judgeSpec, p Boxes) *session {
	c := p.TryAcquire()
	if c == nil {
		return nil
	}
	lane := &session{s: s, pool: p, c: c, process: sp.process}
	var err error
	switch {
	case sp.lang == Python:
		all := pythonFiles(sp.source, sp.functional, sp.fnName)
		maps.Copy(all, sp.files)
		_, err = lane.do(ctx, runner.Request{Op: runner.OpWrite, Files: all})
	case sp.lang.compiled():
		// The binary the submission's container compiled comes from the cache.
		var prep prepared
		if len(sp.files) > 0 {
			_, err = lane.do(ctx, runner.Request{Op: runner.OpWrite, Files: sp.files})
		}
		if err == nil {
			prep, err = lane.compile(ctx, sp.lang, sp.source, "main", compileLimits, filesKey(sp.files), false, sourcesFor(sp.lang, sp.files))
		}
		if err == nil && prep.compileFailed {
			err = errors.New("the compile failed in a second container")
		}
	default:
		all := map[string]runner.File{sp.lang.sourceFile(): {Data: []byte(sp.source)}}
		maps.Copy(all, sp.files)
		_, err = lane.do(ctx, runner.Request{Op: runner.OpWrite, Files: all})
	}
	if err != nil {
		lane.close()
		return nil
	}
	return lane
}

// systemError turns a failure of ours into the SE verdict, or into a timeout when
// the caller's deadline was the cause.
func (s *Sandbox) systemError(ctx context.Context, res JudgeResult, err error) (JudgeResult, error) {
	if ctx.Err() != nil {
		return res, reward.Errorf(reward.Timeout, "judging stopped at the deadline: %v", err)
	}
	var rerr *reward.Error
	if errors.As(err, &rerr) {
		return res, rerr
	}
	s.log.Warn("sandbox system error", "err", err)
	res.Verdict = reward.SystemError
	res.Tests = []TestResult{}
	res.Passed = 0
	res.CompileOutput = err.Error()
	return res, nil
}

// runTest runs one test and decides its verdict.
//
// last marks the lane's last run: the agent resets the container once it has
// answered it (see Pool.Release), as a /run_code run does.
func (ss *session) runTest(ctx context.Context, sp judgeSpec, argv []string, tc reward.TestCase, check *checkerSession, last bool) (TestResult, error) {
	if check != nil && check.interactive {
		return ss.interact(ctx, sp, argv, tc, check)
	}
	argv = withLimits(argv, sp.limits)
	if sp.exitOnly && argv[0] == "java" {
		// Mode assert: Java's assert statements run only with -ea.
		argv = append([]string{"java", "-ea"}, argv[1:]...)
	}
	start := time.Now()
	resp, err := ss.do(ctx, runner.Request{Op: runner.OpRun, Argv: argv, Stdin: []byte(tc.Input), Limits: sp.limits, ResetAfter: last})
	if err != nil {
		return TestResult{}, fmt.Errorf("run a test: %w", err)
	}
	ss.s.metrics.since(stageRun, sp.lang, start)
	tr := TestResult{TimeMS: timeMS(resp, sp.limits), MemoryKB: resp.MemoryKB}
	if resp.Status == runner.StatusFailed {
		return tr, fmt.Errorf("run a test: %s", resp.Error)
	}
	tr.Verdict = runVerdict(sp.lang, resp)
	if tr.Verdict != reward.Accepted {
		return tr, nil
	}
	switch {
	case sp.functional:
		got, ok, err := functionalResult(string(resp.Stdout))
		if err != nil {
			tr.Verdict = reward.RuntimeError
			return tr, nil
		}
		if !ok {
			tr.Verdict = reward.WrongAnswer
			return tr, nil
		}
		equal, err := pyEqualJSON(got, []byte(tc.Output))
		if err != nil || !equal {
			tr.Verdict = reward.WrongAnswer
		}
	case check != nil:
		v, score, err := check.check(ctx, tc, resp.Stdout)
		if err != nil {
			return tr, err
		}
		tr.Verdict = v
		if v == reward.PartiallyAccepted {
			tr.Score = &score
		}
	case sp.exitOnly:
	default:
		if !sp.cmp.Equal(string(resp.Stdout), tc.Output) {
			tr.Verdict = reward.WrongAnswer
		}
	}
	return tr, nil
}

// timeMS reports CPU time, or wall time when the wall clock stopped the program
// (a sleeping program uses no CPU).
func timeMS(resp runner.Response, lim runner.Limits) int64 {
	cpu := resp.CPUMicros / 1000
	if resp.Status == runner.StatusTLE && cpu <= lim.CPUMillis {
		return resp.WallMicros / 1000
	}
	return cpu
}

// runVerdict maps how a program ended to a verdict before its output is
// compared. Running out of memory may show as the language's own error
// (outOfMemory).
func runVerdict(lang Language, resp runner.Response) reward.Verdict {
	switch resp.Status {
	case runner.StatusOK:
		return reward.Accepted
	case runner.StatusTLE:
		return reward.TimeLimitExceeded
	case runner.StatusMLE:
		return reward.MemoryLimitExceeded
	case runner.StatusOLE:
		return reward.OutputLimitExceeded
	case runner.StatusFailed:
		return reward.SystemError
	}
	if outOfMemory(lang, resp) {
		return reward.MemoryLimitExceeded
	}
	return reward.RuntimeError
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n\r ")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
