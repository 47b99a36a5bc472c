package mesh_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Restarting NATS (SIGKILL, then the same port and JetStream folder) while a job
// is in flight: every client reconnects, the job completes with every item
// answered, and synchronous requests work again.
func TestNATSRestartMidJob(t *testing.T) {
	path := requireServer(t, "nats-server")
	port := freePort(t)
	store := t.TempDir()
	natsArgs := []string{"-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", store}
	nats := start(t, "nats-server", path, natsArgs...)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitTCP(t, addr)
	url := "nats://" + addr

	start(t, "math", binary, "serve", "math", "--nats", url)
	httpPort := freePort(t)
	start(t, "gateway", binary, "serve", "gateway", "--nats", url, "--http", fmt.Sprintf("127.0.0.1:%d", httpPort))
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	waitHTTP(t, base+"/metrics")

	var items []string
	for i := range 5000 {
		items = append(items, fmt.Sprintf(`{"id":%d,"domain":"math","response":"\\boxed{%d}","reference":{"gold":"%d"}}`, i, i, i))
	}
	status, out := postJSON(t, base+"/v1/jobs", `{"items":[`+strings.Join(items, ",")+`]}`)
	if status != 202 {
		t.Fatalf("submit: %d %v", status, out)
	}
	id := out["job_id"].(string)

	_, before := getJSON(t, base+"/v1/jobs/"+id)
	nats.kill()
	t.Logf("NATS killed with the job %v, %v of 5000 results out", before["state"], before["done"])

	// While NATS is down, requests fail at once with a clear error; nothing hangs.
	began := time.Now()
	status, out = postJSON(t, base+"/v1/math/verify", `{"items":[{"gold":"2","pred":"2"}]}`)
	if e, _ := out["error"].(map[string]any); status < 500 || e["code"] == nil || time.Since(began) > 20*time.Second {
		t.Errorf("verify with NATS down: %d %v after %s", status, out, time.Since(began))
	}
	start(t, "nats-server (restarted)", path, natsArgs...)
	waitTCP(t, addr)

	var view map[string]any
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		var code int
		code, view = getJSON(t, base+"/v1/jobs/"+id)
		if code == 200 && view["state"] == "done" {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if view["state"] != "done" {
		t.Fatalf("job after a NATS restart: %v", view)
	}
	results := view["results"].([]any)
	if len(results) != 5000 {
		t.Fatalf("%d results, want 5000", len(results))
	}
	for i, r := range results {
		if r.(map[string]any)["reward"] != 1.0 {
			t.Fatalf("result %d: %v", i, r)
		}
	}
	status, out = postJSON(t, base+"/v1/math/verify", `{"items":[{"gold":"2","pred":"\\boxed{2}"}]}`)
	if status != 200 || out["results"].([]any)[0].(map[string]any)["correct"] != true {
		t.Fatalf("verify after the restart: %d %v", status, out)
	}
}

// The gateway's hostile corpus against the whole mesh, every service real: no
// input gets a 500 or a non-JSON answer, and the mesh still scores afterwards.
func TestHostileCorpusAgainstTheMesh(t *testing.T) {
	base, _ := startUp(t)
	dir := filepath.Join("..", "..", "services", "gateway", "testdata", "hostile")
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index map[string]struct {
		Path string `json:"path"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	for name, c := range index {
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		status, out := postJSON(t, base+c.Path, string(body))
		if status >= 500 && status != 503 {
			t.Errorf("%s: %d %v", name, status, out)
		}
		if status == 200 {
			for i, r := range out["results"].([]any) {
				res := r.(map[string]any)
				if e, ok := res["error"].(map[string]any); ok && (e["code"] == "internal" || e["message"] == "") {
					t.Errorf("%s item %d: %v", name, i, res)
				}
			}
		}
	}
	status, out := postJSON(t, base+"/v1/math/verify", `{"items":[{"gold":"3","pred":"\\boxed{3}"}]}`)
	if status != 200 || out["results"].([]any)[0].(map[string]any)["correct"] != true {
		t.Fatalf("after the corpus: %d %v", status, out)
	}
}

// SIGKILL the whole `up` process with a job of code items half done, and start it
// again on the same data folder: the job resumes and completes with every item
// answered, and no container of the dead process is left.
func TestUpKilledMidJobResumesWithoutOrphans(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker is not installed")
	}
	data := t.TempDir()
	port := freePort(t)
	args := []string{"up", "--http", fmt.Sprintf("127.0.0.1:%d", port), "--data", data}
	env := []string{"REWARDMESH_JOBS_ACK_WAIT=3s"}
	first := startEnv(t, env, "up (first)", binary, args...)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHealthy(t, base)

	var items []string
	for i := range 8 {
		items = append(items, fmt.Sprintf(`{"id":%d,"domain":"code","response":"`+"```python\\nimport time\\ntime.sleep(1)\\nprint(int(input())*2)\\n```"+`","reference":{"tests":[{"input":"%d\n","output":"%d\n"}]}}`, i, i, 2*i))
	}
	status, out := postJSON(t, base+"/v1/jobs", `{"items":[`+strings.Join(items, ",")+`]}`)
	if status != 202 {
		t.Fatalf("submit: %d %v", status, out)
	}
	id := out["job_id"].(string)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, v := getJSON(t, base+"/v1/jobs/"+id); v["done"] != nil && v["done"].(float64) >= 1 {
			break
		}
	}
	pid := first.cmd.Process.Pid
	first.kill()

	startEnv(t, env, "up (restarted)", binary, args...)
	waitHealthy(t, base)
	var view map[string]any
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if _, view = getJSON(t, base+"/v1/jobs/"+id); view["state"] == "done" {
			break
		}
	}
	if view["state"] != "done" {
		t.Fatalf("job after the restart: %v", view)
	}
	results := view["results"].([]any)
	if len(results) != 8 {
		t.Fatalf("%d results, want 8", len(results))
	}
	for i, r := range results {
		res := r.(map[string]any)
		if res["reward"] != 1.0 || res["error"] != nil {
			t.Errorf("item %d: %v", i, res)
		}
	}
	// The dead process's containers: their agents exit when its streams close, and
	// the new process's reconciler removes them.
	filter := fmt.Sprintf("label=rewardmesh.sandbox.pid=%d", pid)
	var left string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		b, err := exec.Command("docker", "ps", "-aq", "--filter", filter).Output()
		if err != nil {
			t.Fatal(err)
		}
		if left = strings.TrimSpace(string(b)); left == "" {
			return
		}
	}
	t.Errorf("containers of the killed process remain: %s", left)
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	waitHTTP(t, base+"/metrics")
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if status, _ := getJSON(t, base+"/healthz"); status == 200 {
			return
		}
	}
	t.Fatalf("%s did not become healthy", base)
}

// Restarting every sandbox container under a running mesh, with submissions in
// flight: each answer is AC or SE (our failure, said as such), never a wrong
// verdict, and the sandbox judges correctly afterwards.
func TestSandboxContainersRestartedMidBatch(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker is not installed")
	}
	base, p := startUp(t)
	waitHealthy(t, base)
	filter := fmt.Sprintf("label=rewardmesh.sandbox.pid=%d", p.cmd.Process.Pid)

	type answer struct {
		status int
		out    map[string]any
	}
	answers := make(chan answer, 6)
	for i := range 6 {
		go func() {
			body := fmt.Sprintf(`{"items":[{"language":"python","source":"import time\ntime.sleep(3)\nprint(int(input())+1)","tests":[{"input":"%d\n","output":"%d\n"}],"time_limit_ms":10000}]}`, i, i+1)
			status, out := postJSON(t, base+"/v1/code/judge", body)
			answers <- answer{status, out}
		}()
	}
	// The pool makes its containers after start-up, and on a loaded machine
	// (CI runs other Docker suites beside this one) that takes seconds. Wait
	// until the mesh has more Python containers than the one it keeps warm, so
	// at least one holds a running program (3 s each), then restart them all.
	ps := func(filters ...string) []string {
		args := []string{"ps", "-q", "--filter", filter}
		for _, f := range filters {
			args = append(args, "--filter", f)
		}
		out, err := exec.Command("docker", args...).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(out))
	}
	for deadline := time.Now().Add(30 * time.Second); len(ps("label=rewardmesh.sandbox=python")) < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no busy sandbox containers of the mesh to restart within 30s")
		}
	}
	ids := []byte(strings.Join(ps(), " "))
	// The sandbox's containers are auto-removed, so the daemon's stop removes them
	// and the start half of the restart fails: from the sandbox's side, its
	// containers die under it mid-test, which is the fault to survive.
	restart := exec.Command("docker", append([]string{"restart", "-t", "0"}, strings.Fields(string(ids))...)...)
	out, err := restart.CombinedOutput()
	t.Logf("docker restart of %d containers: %v\n%s", len(strings.Fields(string(ids))), err, out)
	verdicts := map[string]int{}
	for range 6 {
		a := <-answers
		if a.status != 200 {
			t.Errorf("judge while containers restarted: %d %v", a.status, a.out)
			continue
		}
		v := fmt.Sprint(a.out["results"].([]any)[0].(map[string]any)["verdict"])
		verdicts[v]++
		if v != "AC" && v != "SE" {
			t.Errorf("a wrong verdict while containers restarted: %v", a.out)
		}
	}
	t.Logf("verdicts while containers restarted: %v", verdicts)
	status, after := postJSON(t, base+"/v1/code/judge", `{"items":[{"language":"python","source":"print(int(input())*3)","tests":[{"input":"5\n","output":"15\n"}]}]}`)
	if status != 200 || after["results"].([]any)[0].(map[string]any)["verdict"] != "AC" {
		t.Fatalf("after the restart: %d %v", status, after)
	}
}

// A bounded load run (mixed math and code, the mesh in process): it stops by
// itself, every request answers 200 and every item gets a real answer.
func TestBoundedLoadAnswersEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("load run")
	}
	p := start(t, "bench load", binary, "bench", "load", "--duration", "15s", "--clients", "4", "--batch", "8")
	select {
	case <-p.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("bench load did not stop by itself")
	}
	out := p.out.String()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("bench load exited %d:\n%s", code, tail(out, 3000))
	}
	t.Logf("%s", tail(out, 1500))
	for _, want := range []string{"item errors by code: map[]", "peak RSS"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench load output lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`HTTP status: map\[(.*)\]`).FindStringSubmatch(out); m == nil || !regexp.MustCompile(`^200:\d+$`).MatchString(m[1]) {
		t.Errorf("requests not all 200: %v", m)
	}
}

// Two sandbox replicas behind one gateway; one is SIGKILLed while a batch of
// programs is being judged. Its work goes to the other (the gateway hears its
// heartbeats stop and sends the chunk again), and every item is answered once,
// correctly.
func TestSandboxReplicaKilledMidBatch(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker is not installed")
	}
	url := startNATS(t)
	a := start(t, "sandbox A", binary, "serve", "sandbox", "--nats", url)
	b := start(t, "sandbox B", binary, "serve", "sandbox", "--nats", url)
	port := freePort(t)
	// Chunks of two items, so that both replicas hold part of the batch.
	startEnv(t, []string{"REWARDMESH_GATEWAY_CHUNK_SIZE=2"}, "gateway", binary, "serve", "gateway", "--nats", url, "--http", fmt.Sprintf("127.0.0.1:%d", port))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/metrics")
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, h := getJSON(t, base+"/healthz"); h["services"] != nil && h["services"].(map[string]any)["sandbox"] == "up" {
			break
		}
	}
	var items []string
	for i := range 12 {
		items = append(items, fmt.Sprintf(`{"id":%d,"domain":"code","response":"`+"```python\\nimport time\\ntime.sleep(1)\\nprint(int(input())+7)\\n```"+`","reference":{"tests":[{"input":"%d\n","output":"%d\n"}]}}`, i, i, i+7))
	}
	type answer struct {
		status int
		out    map[string]any
	}
	done := make(chan answer, 1)
	go func() {
		status, out := postJSON(t, base+"/v1/rewards", `{"items":[`+strings.Join(items, ",")+`]}`)
		done <- answer{status, out}
	}()
	// The victim is a replica whose containers are running a program right now.
	var victim *proc
	for deadline := time.Now().Add(30 * time.Second); victim == nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, p := range []*proc{a, b} {
			if judging(p.cmd.Process.Pid) {
				victim = p
				break
			}
		}
	}
	if victim == nil {
		t.Fatalf("no replica was seen judging")
	}
	victim.kill()
	var got answer
	select {
	case got = <-done:
	case <-time.After(90 * time.Second):
		t.Fatalf("the batch did not finish after a replica died")
	}
	if got.status != 200 {
		t.Fatalf("batch: %d %v", got.status, got.out)
	}
	results := got.out["results"].([]any)
	if len(results) != 12 {
		t.Fatalf("%d results for 12 items", len(results))
	}
	for i, r := range results {
		res := r.(map[string]any)
		if res["id"] != float64(i) || res["reward"] != 1.0 || res["error"] != nil {
			t.Errorf("item %d: %v", i, res)
		}
	}
}

// judging reports whether a container of the sandbox process pid is running a
// Python program now (a process besides the runner agent).
func judging(pid int) bool {
	ids, err := exec.Command("docker", "ps", "-q", "--filter", fmt.Sprintf("label=rewardmesh.sandbox.pid=%d", pid)).Output()
	if err != nil {
		return false
	}
	for _, id := range strings.Fields(string(ids)) {
		top, _ := exec.Command("docker", "top", id, "-o", "pid,args").Output()
		// Besides the agent: the idle fork server alone is no program; a copy
		// of it shows the server's command line, so two of them are one.
		var progs []string
		for _, line := range strings.Split(strings.TrimSpace(string(top)), "\n")[1:] {
			if strings.Contains(line, "python") {
				progs = append(progs, line)
			}
		}
		if len(progs) >= 2 || len(progs) == 1 && !strings.Contains(progs[0], "fork server") {
			return true
		}
	}
	return false
}

// Overload past what the gateway will wait for: with a one-submission sandbox
// queue and no patience for busy replicas, sixteen clients sending only programs
// get busy answers, at once, in 200 responses: no timeouts, no 5xx, no crash.
func TestOverloadAnswersBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("load run")
	}
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	up := startEnv(t, []string{"REWARDMESH_GATEWAY_BUSY_RETRY_FOR=1ms", "REWARDMESH_SANDBOX_CONCURRENCY=1", "REWARDMESH_SANDBOX_QUEUE=1"},
		"up", binary, "up", "--http", fmt.Sprintf("127.0.0.1:%d", port))
	waitHealthy(t, base)
	p := start(t, "bench load", binary, "bench", "load", "--server", base, "--duration", "10s", "--clients", "16", "--batch", "4", "--code", "1")
	select {
	case <-p.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("bench load did not stop by itself")
	}
	out := p.out.String()
	t.Logf("%s", tail(out, 1500))
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("bench load exited %d", code)
	}
	if !regexp.MustCompile(`item errors by code: map\[busy:\d+\]`).MatchString(out) {
		t.Errorf("overload did not answer busy (and only busy)")
	}
	if m := regexp.MustCompile(`HTTP status: map\[(.*)\]`).FindStringSubmatch(out); m == nil || !regexp.MustCompile(`^200:\d+$`).MatchString(m[1]) {
		t.Errorf("requests not all 200 under overload: %v", m)
	}
	if lat := regexp.MustCompile(`max (\S+)`).FindStringSubmatch(out); lat != nil {
		if d, err := time.ParseDuration(lat[1]); err == nil && d > 30*time.Second {
			t.Errorf("a request took %s under overload: busy should answer at once", d)
		}
	}
	select {
	case <-up.done:
		t.Fatalf("up died under overload")
	default:
	}
	waitHealthy(t, base)
}
