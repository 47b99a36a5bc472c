package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/gateway"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// scriptedSandbox is a sandbox service on the mesh whose "run" answers are
// chosen by the item's source, so the mapping to SandboxFusion's answer can be
// checked for every outcome; the real sandbox's verdicts are tested with Docker.
// It keeps every item it was sent.
type scriptedSandbox struct {
	mu    sync.Mutex
	items []map[string]any
	tries map[string]int
}

func (sb *scriptedSandbox) run(_ context.Context, raw json.RawMessage) any {
	var item map[string]any
	if err := json.Unmarshal(raw, &item); err != nil {
		return map[string]any{"error": reward.Errorf(reward.Invalid, "decode: %v", err)}
	}
	sb.mu.Lock()
	sb.items = append(sb.items, item)
	source, _ := item["source"].(string)
	if sb.tries == nil {
		sb.tries = map[string]int{}
	}
	sb.tries[source]++
	try := sb.tries[source]
	sb.mu.Unlock()
	ok := map[string]any{"status": "ok", "exit_code": 0, "stdout": "3\n", "stderr": "", "time_ms": 11, "wall_ms": 15, "executor": "sandbox-replica-1"}
	switch source {
	case "ok":
		return ok
	case "ok-cpp":
		ok["compile"] = map[string]any{"status": "ok", "exit_code": 0, "stderr": "warning: x", "wall_ms": 900}
		return ok
	case "tle":
		return map[string]any{"status": "tle", "exit_code": 137, "stdout": "partial", "stderr": "", "wall_ms": 2000}
	case "re":
		return map[string]any{"status": "re", "exit_code": 1, "stdout": "", "stderr": "Traceback...\nZeroDivisionError: division by zero\n", "wall_ms": 20}
	case "mle":
		return map[string]any{"status": "mle", "exit_code": 0, "stdout": "", "stderr": "", "wall_ms": 20}
	case "ole":
		return map[string]any{"status": "ole", "exit_code": 0, "stdout": "yyyy", "stderr": "", "wall_ms": 20}
	case "ce-py":
		return map[string]any{"status": "ce", "exit_code": 1, "stdout": "", "stderr": "SyntaxError: invalid syntax", "wall_ms": 20}
	case "ce-cpp":
		return map[string]any{"status": "ce", "exit_code": 1, "stderr": "main.cpp:1: error",
			"compile": map[string]any{"status": "ce", "exit_code": 1, "stderr": "main.cpp:1: error", "wall_ms": 300}}
	case "compile-tle":
		return map[string]any{"status": "ce", "exit_code": 1, "stderr": "slow",
			"compile": map[string]any{"status": "tle", "exit_code": 1, "stderr": "slow", "wall_ms": 3000}}
	case "busy-twice":
		if try <= 2 {
			return map[string]any{"error": reward.Errorf(reward.Busy, "the sandbox queue is full")}
		}
		return ok
	case "se-once":
		if try == 1 {
			return map[string]any{"status": "se", "exit_code": -1, "stderr": "agent gone"}
		}
		return ok
	case "se-always":
		return map[string]any{"status": "se", "exit_code": -1, "stderr": "agent gone"}
	case "always-busy":
		return map[string]any{"error": reward.Errorf(reward.Busy, "the sandbox queue is full")}
	case "bad-path":
		return map[string]any{"error": reward.Errorf(reward.Invalid, "files: path \"../x\" leaves the working directory")}
	case "files":
		return map[string]any{"status": "ok", "exit_code": 0, "stdout": "", "stderr": "", "wall_ms": 5,
			"files": map[string]any{"out.txt": base64.StdEncoding.EncodeToString([]byte("written\n"))}}
	}
	return map[string]any{"error": reward.Errorf(reward.Internal, "no script for %q", source)}
}

func (sb *scriptedSandbox) last() map[string]any {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.items[len(sb.items)-1]
}

func newRunCodeFixture(t *testing.T) (*fixture, *scriptedSandbox) {
	t.Helper()
	f := newFixture(t, gateway.Config{Services: []string{"math", "sandbox"}}, nil)
	sb := &scriptedSandbox{}
	svc, err := mesh.Serve(f.nc, mesh.Config{Name: "sandbox", Endpoints: []mesh.Endpoint{{Name: "run", Handler: mesh.Batch(sb.run, 8)}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(time.Second) })
	return f, sb
}

func runCode(source, language string, extra string) string {
	return fmt.Sprintf(`{"code":%q,"language":%q,"compile_timeout":7,"run_timeout":2,"stdin":"1 2\n","files":{},"fetch_files":[]%s}`, source, language, extra)
}

func TestRunCodeMapsEveryOutcomeToSandboxFusion(t *testing.T) {
	f, _ := newRunCodeFixture(t)
	type want struct {
		status, compile, run string
		rc                   any // nil: no return code; else a number, or "nonzero"
		stderrHas            string
	}
	cases := []struct {
		source, language string
		want             want
	}{
		{"ok", "python", want{"Success", "", "Finished", 0.0, ""}},
		{"ok-cpp", "cpp", want{"Success", "Finished", "Finished", 0.0, ""}},
		{"tle", "python", want{"Failed", "", "TimeLimitExceeded", nil, ""}},
		{"re", "python", want{"Failed", "", "Finished", "nonzero", "ZeroDivisionError"}},
		{"mle", "python", want{"Failed", "", "Finished", "nonzero", "memory limit exceeded"}},
		{"ole", "python", want{"Failed", "", "Finished", "nonzero", "output limit exceeded"}},
		{"ce-py", "python", want{"Failed", "", "Finished", "nonzero", "SyntaxError"}},
		{"ce-cpp", "cpp", want{"Failed", "Finished", "", nil, ""}},
		{"compile-tle", "cpp", want{"Failed", "TimeLimitExceeded", "", nil, ""}},
		{"se-always", "python", want{"SandboxError", "", "Error", nil, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.source, func(t *testing.T) {
			code, out := f.post(t, "/run_code", runCode(tc.source, tc.language, ""))
			if code != 200 {
				t.Fatalf("status %d: %v", code, out)
			}
			if out["status"] != tc.want.status {
				t.Errorf("status %v, want %s", out["status"], tc.want.status)
			}
			for _, key := range []string{"status", "message", "compile_result", "run_result", "executor_pod_name", "files"} {
				if _, ok := out[key]; !ok {
					t.Errorf("answer lacks %q: %v", key, out)
				}
			}
			cr, _ := out["compile_result"].(map[string]any)
			switch {
			case tc.want.compile == "" && out["compile_result"] != nil:
				t.Errorf("compile_result %v, want null", out["compile_result"])
			case tc.want.compile != "" && (cr == nil || cr["status"] != tc.want.compile):
				t.Errorf("compile_result %v, want status %s", cr, tc.want.compile)
			}
			if tc.want.compile == "Finished" && tc.want.run == "" && (cr["return_code"] == nil || cr["return_code"] == 0.0) {
				t.Errorf("a compile error has return_code %v, want non-zero", cr["return_code"])
			}
			rr, _ := out["run_result"].(map[string]any)
			if tc.want.run == "" {
				if out["run_result"] != nil {
					t.Errorf("run_result %v, want null", out["run_result"])
				}
				return
			}
			if rr == nil || rr["status"] != tc.want.run {
				t.Fatalf("run_result %v, want status %s", rr, tc.want.run)
			}
			if tc.want.status == "SandboxError" {
				if msg, _ := out["message"].(string); msg == "" {
					t.Errorf("a SandboxError without a message")
				}
				return
			}
			switch w := tc.want.rc; w {
			case nil:
				if rr["return_code"] != nil {
					t.Errorf("return_code %v, want null", rr["return_code"])
				}
			case "nonzero":
				if rc, ok := rr["return_code"].(float64); !ok || rc == 0 {
					t.Errorf("return_code %v, want non-zero", rr["return_code"])
				}
			default:
				if rr["return_code"] != w {
					t.Errorf("return_code %v, want %v", rr["return_code"], w)
				}
			}
			if _, ok := rr["execution_time"].(float64); !ok {
				t.Errorf("execution_time %v, want seconds", rr["execution_time"])
			}
			if !strings.Contains(fmt.Sprint(rr["stderr"]), tc.want.stderrHas) {
				t.Errorf("stderr %q lacks %q", rr["stderr"], tc.want.stderrHas)
			}
		})
	}
	_, out := f.post(t, "/run_code", runCode("ok", "python", ""))
	if out["executor_pod_name"] != "sandbox-replica-1" {
		t.Errorf("executor_pod_name %v, want the replica's name", out["executor_pod_name"])
	}
	if rr := out["run_result"].(map[string]any); rr["stdout"] != "3\n" || rr["execution_time"] != 0.015 {
		t.Errorf("run_result %v: want stdout 3 and 0.015 s of wall time", rr)
	}
}

func TestRunCodeTranslatesTheRequest(t *testing.T) {
	f, sb := newRunCodeFixture(t)
	payload := base64.StdEncoding.EncodeToString([]byte("data\x00\xff"))
	// ROLL adds expected_stdout; SandboxFusion has args; neither concerns the run.
	body := runCode("files", "python", `,"memory_limit_MB":1024,"expected_stdout":"3","args":["-q"]`)
	body = strings.Replace(body, `"files":{}`, `"files":{"in/data.bin":"`+payload+`","skip.txt":null}`, 1)
	body = strings.Replace(body, `"fetch_files":[]`, `"fetch_files":["out.txt","missing.txt"]`, 1)
	code, out := f.post(t, "/run_code", body)
	if code != 200 || out["status"] != "Success" {
		t.Fatalf("status %d: %v", code, out)
	}
	item := sb.last()
	if item["wall_limit_ms"] != 2000.0 || item["clamp_limits"] != true || item["memory_limit_mb"] != 1024.0 || item["language"] != "python" {
		t.Errorf("sandbox item %v: want a 2000 ms wall limit, 1024 MB clamped", item)
	}
	if _, ok := item["compile_limit_ms"]; ok {
		t.Errorf("python has no compile, but the item carries compile_limit_ms")
	}
	files := item["files"].(map[string]any)
	if got, _ := base64.StdEncoding.DecodeString(fmt.Sprint(files["in/data.bin"])); string(got) != "data\x00\xff" || len(files) != 1 {
		t.Errorf("files sent %v: want in/data.bin's bytes and no null file", files)
	}
	if fmt.Sprint(item["fetch_files"]) != "[out.txt missing.txt]" {
		t.Errorf("fetch_files sent %v", item["fetch_files"])
	}
	if got := out["files"].(map[string]any); len(got) != 1 || got["out.txt"] != base64.StdEncoding.EncodeToString([]byte("written\n")) {
		t.Errorf("files answered %v: want out.txt in base64, and no missing file", got)
	}

	// Defaults: 10 s each, memory -1 is the sandbox's own default.
	f.post(t, "/run_code", `{"code":"ok-cpp","language":"cpp","memory_limit_MB":-1}`)
	item = sb.last()
	if item["wall_limit_ms"] != 10000.0 || item["compile_limit_ms"] != 10000.0 || item["memory_limit_mb"] != nil || item["stdin"] != "" {
		t.Errorf("defaults: sandbox item %v", item)
	}

	// 10 MB of stdin goes through whole.
	big := strings.Repeat("7 8\n", 10<<20/4)
	bigBody, _ := json.Marshal(map[string]any{"code": "ok", "language": "python", "stdin": big})
	if code, out := f.post(t, "/run_code", string(bigBody)); code != 200 || out["status"] != "Success" {
		t.Fatalf("10 MB of stdin: %d %v", code, out)
	}
	if got := sb.last()["stdin"]; got != big {
		t.Errorf("the sandbox got %d bytes of stdin, want %d", len(fmt.Sprint(got)), len(big))
	}
}

// SandboxFusion's language names reach the sandbox as its own, and a compiled
// language's run carries its compile timeout and answers a compile_result.
func TestRunCodeSandboxFusionLanguages(t *testing.T) {
	f, sb := newRunCodeFixture(t)
	for _, tc := range []struct {
		asked, sent string
		compiled    bool
	}{
		{"python", "python", false}, {"cpp", "cpp", true}, {"java", "java", true}, {"go", "go", true},
		{"nodejs", "javascript", false}, {"js", "javascript", false}, {"typescript", "typescript", true},
		{"ts", "typescript", true}, {"rust", "rust", true}, {"ruby", "ruby", false}, {"bash", "bash", false},
		{"kotlin", "kotlin", true}, {"pypy3", "pypy3", false},
	} {
		source := "ok"
		if tc.compiled {
			source = "ok-cpp"
		}
		code, out := f.post(t, "/run_code", runCode(source, tc.asked, ""))
		if code != 200 || out["status"] != "Success" {
			t.Fatalf("%s: %d %v", tc.asked, code, out)
		}
		item := sb.last()
		if item["language"] != tc.sent {
			t.Errorf("%s reached the sandbox as %v, want %s", tc.asked, item["language"], tc.sent)
		}
		if _, ok := item["compile_limit_ms"]; ok != tc.compiled {
			t.Errorf("%s: compile_limit_ms sent %v, want %v", tc.asked, ok, tc.compiled)
		}
		if (out["compile_result"] != nil) != tc.compiled {
			t.Errorf("%s: compile_result %v", tc.asked, out["compile_result"])
		}
	}
	if code, out := f.post(t, "/run_code", runCode("ok", "kotlin_script", "")); code != 200 || out["status"] != "SandboxError" {
		t.Errorf("kotlin_script (a script without main): %d %v, want SandboxError", code, out)
	}
}

func TestRunCodeWaitsOutBusyAndRetriesSystemErrors(t *testing.T) {
	f, sb := newRunCodeFixture(t)
	for _, source := range []string{"busy-twice", "se-once"} {
		code, out := f.post(t, "/run_code", runCode(source, "python", ""))
		if code != 200 || out["status"] != "Success" {
			t.Errorf("%s: %d %v, want Success after retrying", source, code, out)
		}
	}
	sb.mu.Lock()
	tries := sb.tries
	sb.mu.Unlock()
	if tries["busy-twice"] != 3 || tries["se-once"] != 2 {
		t.Errorf("tries %v: want busy-twice 3, se-once 2", tries)
	}
}

func TestRunCodeNoVerdictIs504(t *testing.T) {
	t.Parallel()
	f, _ := newRunCodeFixture(t)
	start := time.Now()
	// A sandbox busy past the budget (0.1 s run + 0.1 s compile + the margin) answers 504, the
	// status verl retries; never a 429 or 503, which it would score as a failed test.
	code, out := f.post(t, "/run_code", `{"code":"always-busy","language":"python","run_timeout":0.1,"compile_timeout":0.1}`)
	if code != 504 || out["status"] != "SandboxError" {
		t.Fatalf("always busy: %d %v, want 504 SandboxError", code, out)
	}
	if e, _ := out["error"].(map[string]any); e == nil || e["retryable"] != true {
		t.Errorf("error %v: want retryable", out["error"])
	}
	if waited := time.Since(start); waited < 5*time.Second {
		t.Errorf("answered after %v: the request's budget was not used to wait for a slot", waited)
	}
}

func TestRunCodeNoSandbox504(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Config{}, nil) // nothing serves sandbox.run
	code, out := f.post(t, "/run_code", `{"code":"print(1)","language":"python","run_timeout":0.1,"compile_timeout":0.1}`)
	if code != 504 || out["status"] != "SandboxError" {
		t.Fatalf("no sandbox: %d %v, want 504", code, out)
	}
}

func TestRunCodeBadInput(t *testing.T) {
	f, _ := newRunCodeFixture(t)
	cases := []struct {
		name, body string
		status     int
		says       string
	}{
		{"not JSON", `{"code":`, 400, "malformed JSON"},
		{"no code", `{"language":"python"}`, 400, "code"},
		{"no language", `{"code":"print(1)"}`, 400, "language"},
		{"bad base64", `{"code":"ok","language":"python","files":{"a.txt":"%%%not base64"}}`, 400, "a.txt"},
		{"negative timeout", `{"code":"ok","language":"python","run_timeout":-1}`, 400, "run_timeout"},
		{"fractional memory", `{"code":"ok","language":"python","memory_limit_MB":1.5}`, 400, "memory_limit_MB"},
		{"path escaping", `{"code":"bad-path","language":"python","files":{"../x":"eA=="}}`, 400, "leaves the working directory"},
		{"unknown language", `{"code":"ok","language":"cobol"}`, 200, "cobol"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := f.post(t, "/run_code", tc.body)
			if code != tc.status || out["status"] != "SandboxError" {
				t.Fatalf("%d %v, want %d SandboxError", code, out, tc.status)
			}
			if msg := fmt.Sprint(out["message"]); !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not say %q", msg, tc.says)
			}
		})
	}
	// The gateway is still up.
	if code, out := f.post(t, "/run_code", runCode("ok", "python", "")); code != 200 || out["status"] != "Success" {
		t.Fatalf("after bad input: %d %v", code, out)
	}
}

func TestPing(t *testing.T) {
	f, _ := newRunCodeFixture(t)
	resp, err := f.srv.Client().Get(f.srv.URL + "/v1/ping")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got string
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got != "pong" || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/ping: %d %q %v, want 200 \"pong\"", resp.StatusCode, got, err)
	}
}
