package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/gateway"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// The wire contract, one file per endpoint under testdata/golden: each holds one
// or more exchanges, a request written by hand and the answer the gateway gave,
// so that a change of shape shows in review. `go test -run TestGolden -update`
// rewrites the answers from what the gateway answers now.
//
// A file is exchanges separated by a line of "=" (goldenExchange); an exchange is
// the request ("METHOD PATH", then the body), a line of "-", and the answer: the
// status, the headers a client reads, and the body, JSON indented. What varies from
// run to run is normalized: the request id, job ids and timestamps.

var update = flag.Bool("update", false, "rewrite the answers in testdata/golden from what the gateway answers")

const (
	goldenExchange = "\n==========\n"
	goldenAnswer   = "\n----------\n"
)

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f := newGoldenFixture(t)
			var rewritten []string
			jobID := ""
			for n, exchange := range strings.Split(strings.TrimSpace(string(raw)), goldenExchange) {
				request, want, _ := strings.Cut(exchange, goldenAnswer)
				got := f.exchange(t, request, &jobID)
				rewritten = append(rewritten, request+goldenAnswer+got)
				if !*update && strings.TrimSpace(got) != strings.TrimSpace(want) {
					t.Errorf("exchange %d, %s: the answer changed.\ngot:\n%s\nwant:\n%s", n+1, firstLine(request), got, want)
				}
			}
			if *update {
				if err := os.WriteFile(path, []byte(strings.Join(rewritten, goldenExchange)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// newGoldenFixture is a gateway with every service scripted on its NATS, so that
// each endpoint answers as it would on a whole mesh.
func newGoldenFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, gateway.Config{MaxItems: 8, Services: []string{"math", "rm", "sandbox", "swe"}}, nil)
	sb := &scriptedSandbox{}
	serve := func(cfg mesh.Config) {
		svc, err := mesh.Serve(f.nc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Stop(time.Second) })
	}
	serve(mesh.Config{Name: "sandbox", Endpoints: []mesh.Endpoint{
		{Name: "run", Handler: mesh.Batch(sb.run, 4)},
		{Name: "judge", Handler: mesh.Batch(scriptedJudge, 4)},
		{Name: "rewards", Handler: mesh.Batch(scriptedCodeReward, 4)},
	}})
	serve(mesh.Config{Name: "swe", Endpoints: []mesh.Endpoint{
		{Name: "reward", Handler: mesh.Batch(scriptedPatchReward, 4)},
		{Name: "similarity", Handler: mesh.Batch(scriptedSimilarity, 4)},
		{Name: "rewards", Handler: mesh.Batch(scriptedSWEReward, 4)},
	}})
	serve(mesh.Config{Name: "rm", Endpoints: []mesh.Endpoint{
		{Name: "score", Handler: scriptedRMScore},
		{Name: "if_verify", Handler: mesh.Batch(scriptedIFVerify, 4)},
		{Name: "rewards", Handler: mesh.Batch(scriptedRMReward, 4)},
	}})
	return f
}

// exchange sends one request and returns the answer as the golden file holds
// it. A job's id, once answered, stands as JOB_ID in later requests; a request
// for a job waits until the job is done.
func (f *fixture) exchange(t *testing.T, request string, jobID *string) string {
	t.Helper()
	line, body, _ := strings.Cut(request, "\n")
	method, path, ok := strings.Cut(strings.TrimSpace(line), " ")
	if !ok {
		t.Fatalf("request line %q: want METHOD PATH", line)
	}
	path = strings.ReplaceAll(path, "JOB_ID", *jobID)
	var status int
	var header http.Header
	var answer []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		status, header, answer = f.do(t, method, path, body)
		waitsForJob := method == http.MethodGet && strings.HasPrefix(path, "/v1/jobs/") && status == http.StatusOK
		if !waitsForJob || bytes.Contains(answer, []byte(`"state":"done"`)) || time.Now().After(deadline) {
			break
		}
	}
	var submitted struct {
		JobID string `json:"job_id"`
	}
	if json.Unmarshal(answer, &submitted) == nil && submitted.JobID != "" {
		*jobID = submitted.JobID
	}
	return goldenAnswerText(status, header, answer, *jobID)
}

func (f *fixture) do(t *testing.T, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, answer
}

var timestamp = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"`)

// goldenAnswerText is an answer as the golden file holds it.
func goldenAnswerText(status int, header http.Header, body []byte, jobID string) string {
	var out strings.Builder
	fmt.Fprintf(&out, "%d %s\n", status, http.StatusText(status))
	for _, name := range []string{"Content-Type", "Location", "X-Request-Id"} {
		v := header.Get(name)
		switch {
		case v == "":
			continue
		case name == "X-Request-Id":
			v = "(set)"
		}
		fmt.Fprintf(&out, "%s: %s\n", name, v)
	}
	out.WriteString("\n")
	var indented bytes.Buffer
	if json.Indent(&indented, body, "", "  ") == nil {
		body = indented.Bytes()
	}
	out.WriteString(strings.TrimSpace(string(body)))
	text := timestamp.ReplaceAllString(out.String(), `"TIME"`)
	if jobID != "" {
		text = strings.ReplaceAll(text, jobID, "JOB_ID")
	}
	return text
}

// The scripted services answer in their real shapes, by rules the golden files
// can be read against; the real scoring is tested in each service's package.

// scriptedJudge accepts a program that mentions "a+b".
func scriptedJudge(_ context.Context, raw json.RawMessage) any {
	var in struct {
		Source string            `json:"source"`
		Tests  []reward.TestCase `json:"tests"`
	}
	if err := mesh.DecodeItem(raw, &in); err != nil {
		return mesh.ItemError{Error: err}
	}
	verdict, passed := reward.Accepted, len(in.Tests)
	if !strings.Contains(in.Source, "a+b") {
		verdict, passed = reward.WrongAnswer, 0
	}
	tests := make([]map[string]any, len(in.Tests))
	for i := range tests {
		tests[i] = map[string]any{"verdict": verdict, "time_ms": 3, "memory_kb": 1024}
	}
	return map[string]any{"verdict": verdict, "passed": passed, "total": len(in.Tests), "tests": tests}
}

// scriptedCodeReward accepts a response that prints.
func scriptedCodeReward(_ context.Context, raw json.RawMessage) any {
	var in reward.Item
	if err := mesh.DecodeItem(raw, &in); err != nil {
		return reward.Result{Domain: reward.Code, Error: err}
	}
	if !strings.Contains(in.Response, "print") {
		return reward.Result{ID: in.ID, Domain: reward.Code, Details: json.RawMessage(`{"verdict":"WA","passed":0,"total":1}`)}
	}
	return reward.Result{ID: in.ID, Domain: reward.Code, Reward: 1, Details: json.RawMessage(`{"verdict":"AC","passed":1,"total":1}`)}
}

// scriptedPatchReward rewards a response that mentions the oracle's new text.
func scriptedPatchReward(_ context.Context, raw json.RawMessage) any {
	var in struct {
		ID          json.RawMessage   `json:"id,omitempty"`
		Response    string            `json:"response"`
		OracleFiles map[string]string `json:"oracle_files"`
	}
	if err := mesh.DecodeItem(raw, &in); err != nil {
		return mesh.ItemError{Error: err}
	}
	out := struct {
		ID      json.RawMessage `json:"id,omitempty"`
		Reward  float64         `json:"reward"`
		Lexical float64         `json:"lexical"`
		Reason  string          `json:"reason"`
	}{ID: in.ID, Reward: -1, Reason: "no oracle text in the response"}
	for _, text := range in.OracleFiles {
		if strings.Contains(in.Response, strings.TrimSpace(text)) {
			out.Reward, out.Lexical, out.Reason = 1, 1, ""
		}
	}
	return out
}

// scriptedSimilarity answers difflib's ratio for the pairs the golden files use.
func scriptedSimilarity(_ context.Context, raw json.RawMessage) any {
	var in struct {
		A, B *string
	}
	if err := mesh.DecodeItem(raw, &in); err != nil {
		return mesh.ItemError{Error: err}
	}
	if in.A == nil || in.B == nil {
		return mesh.ItemError{Error: reward.Errorf(reward.Invalid, "a and b are required strings")}
	}
	ratio := map[[2]string]float64{{"kitten", "sitting"}: 0.6153846153846154}[[2]string{*in.A, *in.B}]
	if *in.A == *in.B {
		ratio = 1
	}
	return map[string]any{"ratio": ratio}
}

func scriptedSWEReward(_ context.Context, raw json.RawMessage) any {
	var in reward.Item
	if err := mesh.DecodeItem(raw, &in); err != nil {
		return reward.Result{Domain: reward.SWE, Error: err}
	}
	return reward.Result{ID: in.ID, Domain: reward.SWE, Reward: 1, Details: json.RawMessage(`{"rule":"cascade","lexical":1,"reason":""}`)}
}

// scriptedRMScore scores a response by its length, normalized within its group
// by the group's mean: the whole batch is needed, as for a real reward model.
func scriptedRMScore(_ context.Context, payload []byte) ([]byte, error) {
	items, err := mesh.DecodeBatch(payload)
	if err != nil {
		return nil, err
	}
	type result struct {
		ID         json.RawMessage `json:"id,omitempty"`
		Score      float64         `json:"score"`
		Normalized *float64        `json:"normalized,omitempty"`
	}
	results := make([]result, len(items))
	groups := map[string][]int{}
	sums := map[string]float64{}
	for i, raw := range items {
		var in struct {
			ID       json.RawMessage `json:"id,omitempty"`
			Response string          `json:"response"`
			Group    string          `json:"group"`
		}
		_ = json.Unmarshal(raw, &in)
		results[i] = result{ID: in.ID, Score: float64(len(in.Response))}
		if in.Group != "" {
			groups[in.Group] = append(groups[in.Group], i)
			sums[in.Group] += results[i].Score
		}
	}
	for g, members := range groups {
		mean := sums[g] / float64(len(members))
		for _, i := range members {
			v := results[i].Score - mean
			results[i].Normalized = &v
		}
	}
	return mesh.EncodeResults(results)
}

// scriptedIFVerify follows every instruction of a response in lowercase.
func scriptedIFVerify(_ context.Context, raw json.RawMessage) any {
	var in struct {
		Response     string   `json:"response"`
		Instructions []string `json:"instruction_id_list"`
	}
	if err := mesh.DecodeItem(raw, &in); err != nil {
		return mesh.ItemError{Error: err}
	}
	follows := in.Response == strings.ToLower(in.Response)
	list := make([]bool, len(in.Instructions))
	for i := range list {
		list[i] = follows
	}
	verdict := map[string]any{"follow_all_instructions": follows, "follow_instruction_list": list}
	return map[string]any{"strict": verdict, "loose": verdict}
}

func scriptedRMReward(_ context.Context, raw json.RawMessage) any {
	var in reward.Item
	if err := mesh.DecodeItem(raw, &in); err != nil {
		return reward.Result{Error: err}
	}
	return reward.Result{ID: in.ID, Domain: in.Domain, Reward: 0.5, Details: json.RawMessage(`{"score":0.5}`)}
}
