package rm

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

func TestNormalizeGroups(t *testing.T) {
	// Expected values computed by hand (Python: statistics.stdev, the n-1 sample
	// standard deviation, and ε = 1e-6).
	tests := []struct {
		name   string
		scores []float64
		want   []float64
	}{
		{"four", []float64{1, 2, 3, 4}, []float64{-1.1618941038629222, -0.3872980346209741, 0.3872980346209741, 1.1618941038629222}},
		{"three", []float64{0.5, -1.25, 3.0}, []float64{-0.11704109240163567, -0.9363287392130853, 1.053369831614721}},
		{"all equal", []float64{2, 2, 2}, []float64{0, 0, 0}},
		{"one", []float64{7}, []float64{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := make([]member, len(tt.scores))
			for i, s := range tt.scores {
				g[i] = member{index: 10 + i, score: s}
			}
			got := normalizeGroups(map[string][]member{"g": g})
			for i, want := range tt.want {
				if v, ok := got[10+i]; !ok || math.Abs(v-want) > 1e-12 {
					t.Errorf("member %d: %v, want %v", i, v, want)
				}
			}
		})
	}
}

func TestIFRLReward(t *testing.T) {
	tests := []struct {
		follow bool
		norm   float64
		want   float64
	}{
		{false, 3, 0},
		{false, -3, 0},
		{true, 0, 1.5},
		// 1 + sigmoid(x) for the "three" group above, by hand.
		{true, -0.11704109240163567, 1.4707730833136283},
		{true, -0.9363287392130853, 1.2816425163050904},
		{true, 1.053369831614721, 1.7414214741231286},
		{true, 800, 2},  // no overflow
		{true, -800, 1}, // no overflow
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.follow, tt.norm), func(t *testing.T) {
			if got := IFRLReward(tt.follow, tt.norm); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("IFRLReward = %v, want %v", got, tt.want)
			}
		})
	}
}

// wordChecker stands in for IFEval in tests that are about the combination, not
// the checks: instruction "test:word" is followed when the response contains
// kwargs["word"].
func wordChecker(in ifeval.Input) (ifeval.Output, error) {
	var v ifeval.Verdict
	v.FollowAll = true
	for i, id := range in.InstructionIDs {
		if id != "test:word" {
			return ifeval.Output{}, fmt.Errorf("instruction %q is not supported", id)
		}
		word, _ := in.Kwargs[i]["word"].(string)
		ok := strings.Contains(in.Response, word)
		v.FollowList = append(v.FollowList, ok)
		v.FollowAll = v.FollowAll && ok
	}
	loose := ifeval.Verdict{FollowAll: true, FollowList: make([]bool, len(v.FollowList))}
	for i := range loose.FollowList {
		loose.FollowList[i] = true
	}
	return ifeval.Output{Strict: v, Loose: loose}, nil
}

func testService(t testing.TB, f *fakeRM, protocol Protocol) *Service {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Getenv = func(string) string { return "" }
	if f != nil {
		cfg.URL, cfg.Protocol = f.srv.URL, protocol
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.check = wordChecker
	if s.client != nil {
		s.client.cfg.Backoff, s.client.cfg.MaxBackoff = time.Millisecond, time.Millisecond
	}
	return s
}

func call(t *testing.T, h func(context.Context, []byte) ([]byte, error), payload string) []map[string]any {
	t.Helper()
	out, err := h(context.Background(), []byte(payload))
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	var resp struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	return resp.Results
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%v is not a number", v)
	}
	return f
}

func TestScoreOp(t *testing.T) {
	f := newFakeRM(t)
	s := testService(t, f, VLLMPooling)
	results := call(t, s.handleScore, `{"items":[
		{"id":"a","prompt":"Q: ","response":"#1","group":"g"},
		{"id":"b","messages":[{"role":"user","content":"Q"}],"response":"#2","group":"g"},
		{"id":"c","prompt":"Q: ","response":"#3","group":"g"},
		{"id":"d","prompt":"Q: ","response":"#4","group":"g"},
		{"id":"e","prompt":"Q: ","response":"#10"},
		{"id":"f","prompt":"Q: ","response":"#0.5","group":"h"},
		{"id":"g","response":"#1"},
		{"id":"h","prompt":"x","messages":[{"role":"user","content":"x"}],"response":"#1"},
		[1,2]
	]}`)
	if len(results) != 9 {
		t.Fatalf("%d results", len(results))
	}
	wantNorm := []float64{-1.1618941038629222, -0.3872980346209741, 0.3872980346209741, 1.1618941038629222}
	for i, want := range wantNorm {
		r := results[i]
		if r["error"] != nil {
			t.Fatalf("item %d: %v", i, r["error"])
		}
		if num(t, r["score"]) != float64(i+1) || math.Abs(num(t, r["normalized"])-want) > 1e-12 {
			t.Errorf("item %d: %v, want score %d normalized %v", i, r, i+1, want)
		}
	}
	if r := results[4]; r["id"] != "e" || num(t, r["score"]) != 10 || r["normalized"] != nil {
		t.Errorf("ungrouped item: %v", r)
	}
	if r := results[5]; num(t, r["normalized"]) != 0 {
		t.Errorf("group of one: %v, want normalized 0", r)
	}
	for _, i := range []int{6, 7, 8} {
		e, _ := results[i]["error"].(map[string]any)
		if e["code"] != "invalid" {
			t.Errorf("item %d: %v, want invalid", i, results[i])
		}
	}
}

func TestScoreWithoutModelIsUnavailable(t *testing.T) {
	s := testService(t, nil, "")
	results := call(t, s.handleScore, `{"items":[{"prompt":"q","response":"a"}]}`)
	e, _ := results[0]["error"].(map[string]any)
	if e["code"] != "unavailable" || !strings.Contains(e["message"].(string), "no reward model") || results[0]["score"] != nil {
		t.Errorf("%v, want unavailable and no score", results[0])
	}
}

func TestScoreGroupSkipsFailedMembers(t *testing.T) {
	f := newFakeRM(t)
	f.rejectWord = "TOO_LONG"
	s := testService(t, f, VLLMPooling)
	results := call(t, s.handleScore, `{"items":[
		{"prompt":"","response":"#1","group":"g"},
		{"prompt":"","response":"TOO_LONG #100","group":"g"},
		{"prompt":"","response":"#3","group":"g"}
	]}`)
	// The group is normalized over the members that were scored: 1 and 3.
	// By hand: mean 2, sample std √2, so ∓1/(√2+ε).
	if a, b := num(t, results[0]["normalized"]), num(t, results[2]["normalized"]); math.Abs(a+0.7071062811869011) > 1e-12 || math.Abs(b-0.7071062811869011) > 1e-12 {
		t.Errorf("normalized %v, %v; want ∓1/(√2+ε)", a, b)
	}
	if results[1]["error"] == nil {
		t.Errorf("rejected member: %v", results[1])
	}
}

func TestRewardsMixedBatch(t *testing.T) {
	f := newFakeRM(t)
	s := testService(t, f, VLLMPooling)
	ifRef := func(word string) string {
		return fmt.Sprintf(`{"prompt":"Say %s.","instruction_id_list":["test:word"],"kwargs":[{"word":%q,"unused":null}]}`, word, word)
	}
	payload := fmt.Sprintf(`{"items":[
		{"id":1,"domain":"if","response":"yes #0.5","reference":%s,"group":"p1"},
		{"id":2,"domain":"rm","response":"#1","reference":{"prompt":"q"},"group":"p1"},
		{"id":3,"domain":"if","response":"no #-1.25","reference":%s,"group":"p1"},
		{"id":4,"domain":"rm","response":"#2","reference":{"messages":[{"role":"user","content":"q"}]},"group":"p1"},
		{"id":5,"domain":"if","response":"yes #3","reference":%s,"group":"p1"},
		{"id":6,"domain":"if","response":"yes","reference":%s},
		{"id":7,"domain":"math","response":"1","reference":{}},
		{"id":8,"domain":"if","response":"no","reference":%s},
		{"id":9,"domain":"if","response":"yes","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}],"mode":"loud"}}
	]}`, ifRef("yes"), ifRef("yes"), ifRef("yes"), ifRef("yes"), ifRef("yes"))
	results := call(t, s.handleRewards, payload)
	if len(results) != 9 {
		t.Fatalf("%d results", len(results))
	}
	// The if group p1 has RM scores 0.5, -1.25, 3 (the "three" group): items 1 and
	// 5 follow and get 1 + sigmoid(normalized); item 3 does not and gets 0.
	want := map[int]float64{0: 1.4707730833136283, 2: 0, 4: 1.7414214741231286}
	for i, w := range want {
		if results[i]["error"] != nil {
			t.Fatalf("item %d: %v", i, results[i]["error"])
		}
		if got := num(t, results[i]["reward"]); math.Abs(got-w) > 1e-12 {
			t.Errorf("item %d: reward %v, want %v (%v)", i, got, w, results[i])
		}
		d := results[i]["details"].(map[string]any)
		if d["rule"] != "if_rl" || num(t, d["group_size"]) != 3 {
			t.Errorf("item %d details: %v", i, d)
		}
	}
	// The rm group p1 is separate from the if group p1: scores 1 and 2.
	// By hand: mean 1.5, sample std √0.5, so ∓0.5/(√0.5+ε).
	if a, b := num(t, results[1]["reward"]), num(t, results[3]["reward"]); math.Abs(a+0.7071057811879616) > 1e-12 || math.Abs(b-0.7071057811879616) > 1e-12 {
		t.Errorf("rm group rewards %v, %v; want ∓0.5/(√0.5+ε)", a, b)
	}
	if d := results[1]["details"].(map[string]any); num(t, d["score"]) != 1 {
		t.Errorf("rm details %v", d)
	}
	// Ungrouped if items: IFEval's verdict alone.
	if r := results[5]; num(t, r["reward"]) != 1 || r["details"].(map[string]any)["rule"] != "follow_all" {
		t.Errorf("ungrouped follow: %v", r)
	}
	if r := results[7]; num(t, r["reward"]) != 0 {
		t.Errorf("ungrouped violation: %v", r)
	}
	for _, i := range []int{6, 8} {
		if e, _ := results[i]["error"].(map[string]any); e["code"] != "invalid" {
			t.Errorf("item %d: %v, want invalid", i, results[i])
		}
	}
	if results[0]["domain"] != "if" || num(t, results[0]["id"]) != 1 {
		t.Errorf("id/domain not echoed: %v", results[0])
	}
}

func TestRewardsIFLooseMode(t *testing.T) {
	s := testService(t, nil, "")
	results := call(t, s.handleRewards, `{"items":[
		{"domain":"if","response":"nope","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}],"mode":"loose"}},
		{"domain":"if","response":"nope","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}]}}
	]}`)
	if num(t, results[0]["reward"]) != 1 || num(t, results[1]["reward"]) != 0 {
		t.Errorf("loose %v, strict %v; want 1 and 0", results[0], results[1])
	}
}

func TestRewardsWithoutModel(t *testing.T) {
	s := testService(t, nil, "")
	results := call(t, s.handleRewards, `{"items":[
		{"domain":"rm","response":"a","reference":{"prompt":"q"}},
		{"domain":"if","response":"yes","group":"g","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}]}}
	]}`)
	if e, _ := results[0]["error"].(map[string]any); e["code"] != "unavailable" {
		t.Errorf("rm item: %v, want unavailable", results[0])
	}
	if r := results[1]; r["error"] != nil || num(t, r["reward"]) != 1 || r["details"].(map[string]any)["rule"] != "follow_all" {
		t.Errorf("if item without a model: %v, want IFEval's verdict alone", r)
	}
}

func TestRewardsIFRLWhenModelFails(t *testing.T) {
	f := newFakeRM(t)
	f.failures, f.failStatus = 100, 503
	s := testService(t, f, VLLMPooling)
	s.client.cfg.Retries = 0
	ref := `{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}]}`
	results := call(t, s.handleRewards, `{"items":[
		{"domain":"if","response":"yes","group":"g","reference":`+ref+`},
		{"domain":"if","response":"no","group":"g","reference":`+ref+`}
	]}`)
	if e, _ := results[0]["error"].(map[string]any); e["code"] != "unavailable" || !strings.Contains(e["message"].(string), "IF-RL") {
		t.Errorf("following item: %v, want unavailable: no made-up combination", results[0])
	}
	if r := results[1]; r["error"] != nil || num(t, r["reward"]) != 0 {
		t.Errorf("violating item: %v, want 0 (the model's score cannot change it)", r)
	}
}

func TestIFVerifyOp(t *testing.T) {
	s := testService(t, nil, "")
	results := call(t, s.Endpoints()[1].Handler, `{"items":[
		{"id":"k1","prompt":"p","response":"yes","instruction_id_list":["test:word","test:word"],"kwargs":[{"word":"yes"},{"word":"maybe"}]},
		{"id":"k2","prompt":"p","response":"yes","instruction_id_list":["test:word"],"kwargs":[]},
		{"id":"k3","prompt":"p","response":"yes","instruction_id_list":["nope:x"]},
		{"id":"k4","prompt":"p","response":"yes","instruction_id_list":[]}
	]}`)
	strict := results[0]["strict"].(map[string]any)
	if strict["follow_all_instructions"] != false || fmt.Sprint(strict["follow_instruction_list"]) != "[true false]" || results[0]["id"] != "k1" {
		t.Errorf("k1: %v", results[0])
	}
	if results[0]["loose"] == nil {
		t.Errorf("k1 has no loose verdict: %v", results[0])
	}
	for _, i := range []int{1, 2, 3} {
		if e, _ := results[i]["error"].(map[string]any); e["code"] != "invalid" {
			t.Errorf("item %d: %v, want invalid", i, results[i])
		}
	}
}

func TestCheckerPanicStaysInItsItem(t *testing.T) {
	s := testService(t, nil, "")
	s.check = func(in ifeval.Input) (ifeval.Output, error) {
		if in.Response == "boom" {
			panic("index out of range")
		}
		return wordChecker(in)
	}
	results := call(t, s.handleRewards, `{"items":[
		{"domain":"if","response":"boom","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}]}},
		{"domain":"if","response":"yes","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}]}}
	]}`)
	if e, _ := results[0]["error"].(map[string]any); e["code"] != "internal" {
		t.Errorf("panicking item: %v", results[0])
	}
	if num(t, results[1]["reward"]) != 1 {
		t.Errorf("neighbour: %v", results[1])
	}
}

func TestBatchLevelErrors(t *testing.T) {
	s := testService(t, nil, "")
	for name, h := range map[string]func(context.Context, []byte) ([]byte, error){"score": s.handleScore, "rewards": s.handleRewards} {
		t.Run(name, func(t *testing.T) {
			_, err := h(context.Background(), []byte(`{"items":`))
			if e := reward.AsError(err); e == nil || e.Code != reward.Invalid {
				t.Errorf("error %v, want invalid", err)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		EnvURL: "http://rm:8000", EnvProtocol: "vllm-classify", EnvModel: "m", EnvAPIKeyEnv: "MY_KEY",
		EnvBatchSize: "16", EnvConcurrency: "4", EnvTimeout: "5s", EnvRetries: "7", EnvRawLogits: "true", EnvClassIndex: "1",
		"MY_KEY": "k",
	}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "http://rm:8000" || cfg.Protocol != VLLMClassify || cfg.Model != "m" || cfg.APIKeyEnv != "MY_KEY" ||
		cfg.BatchSize != 16 || cfg.Concurrency != 4 || cfg.Timeout != 5*time.Second || cfg.Retries != 7 || !cfg.RawLogits || cfg.ClassIndex != 1 {
		t.Errorf("config %+v", cfg)
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.client.cfg.APIKey != "k" || s.client.Endpoint() != "http://rm:8000/classify" {
		t.Errorf("client %+v", s.client.cfg)
	}
	if _, err := ConfigFromEnv(func(k string) string { return map[string]string{EnvBatchSize: "x", EnvTimeout: "soon"}[k] }); err == nil {
		t.Error("bad values accepted")
	}
	if _, err := New(context.Background(), Config{URL: "http://h", Protocol: "grpc"}); err == nil {
		t.Error("unknown protocol accepted")
	}
}

func TestSlowCheckAnswersTimeout(t *testing.T) {
	s := testService(t, nil, "")
	release := make(chan struct{})
	defer close(release)
	s.check = func(in ifeval.Input) (ifeval.Output, error) {
		if in.Response == "slow" {
			<-release
		}
		return wordChecker(in)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	out, err := s.handleRewards(ctx, []byte(`{"items":[
		{"domain":"if","response":"slow","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}]}},
		{"domain":"if","response":"yes","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}]}}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Results []reward.Result `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if e := resp.Results[0].Error; e == nil || e.Code != reward.Timeout {
		t.Errorf("slow item: %+v, want timeout", resp.Results[0])
	}
	if r := resp.Results[1]; r.Error != nil || r.Reward != 1 {
		t.Errorf("fast item: %+v", r)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{EnvURL: "http://env:1", EnvBatchSize: "4"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("rm", flag.ContinueOnError)
	cfg.Flags(fs)
	if err := fs.Parse([]string{"--rm-url", "http://flag:2", "--rm-protocol", "openai-chat", "--rm-timeout", "3s"}); err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "http://flag:2" || cfg.Protocol != OpenAIChat || cfg.Timeout != 3*time.Second || cfg.BatchSize != 4 {
		t.Errorf("config %+v: flags should override, the environment should stay the default", cfg)
	}
}

func TestIFRLConversationPerProtocol(t *testing.T) {
	ref := `{"prompt":"Say yes.","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}]}`
	refMsgs := `{"prompt":"Say yes.","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}],"messages":[{"role":"system","content":"S"},{"role":"user","content":"Say yes."}]}`
	tests := []struct {
		protocol Protocol
		ref      string
		check    func(t *testing.T, body map[string]any)
	}{
		{VLLMPooling, ref, func(t *testing.T, body map[string]any) {
			// The two requests race, so either response may be the first body.
			msgs, _ := body["messages"].([]any)
			if len(msgs) != 2 || fmt.Sprint(msgs[0]) != "map[content:Say yes. role:user]" || msgs[1].(map[string]any)["role"] != "assistant" {
				t.Errorf("messages %v, want the prompt as the user turn", body["messages"])
			}
		}},
		{VLLMPooling, refMsgs, func(t *testing.T, body map[string]any) {
			if msgs, _ := body["messages"].([]any); len(msgs) != 3 {
				t.Errorf("messages %v, want the reference's turns and the response", body["messages"])
			}
		}},
		{VLLMScore, ref, func(t *testing.T, body map[string]any) {
			if fmt.Sprint(body["text_1"]) != "[Say yes. Say yes.]" {
				t.Errorf("text_1 %v, want the prompt", body["text_1"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.protocol), func(t *testing.T) {
			f := newFakeRM(t)
			s := testService(t, f, tt.protocol)
			s.client.cfg.BatchSize = 8
			results := call(t, s.handleRewards, `{"items":[
				{"domain":"if","response":"yes #1","group":"g","reference":`+tt.ref+`},
				{"domain":"if","response":"yes #3","group":"g","reference":`+tt.ref+`}
			]}`)
			// By hand: normalized ∓1/(√2+ε); 1 + sigmoid of that.
			lo, hi := 1+sigmoid(-0.7071062811869011), 1+sigmoid(0.7071062811869011)
			if a, b := num(t, results[0]["reward"]), num(t, results[1]["reward"]); math.Abs(a-lo) > 1e-12 || math.Abs(b-hi) > 1e-12 {
				t.Fatalf("rewards %v, %v; want %v, %v (%v)", a, b, lo, hi, results)
			}
			tt.check(t, f.bodies[0])
		})
	}
}
