package mathsvc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	mathsvc "github.com/rewardmesh/rewardmesh/services/math"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// rulesOnly is the service with no judge configured.
func rulesOnly(t testing.TB) *mathsvc.Service {
	t.Helper()
	svc, err := mathsvc.New(context.Background(), mathsvc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func serve(t *testing.T) *mesh.Client {
	t.Helper()
	emb, err := mesh.StartServer(mesh.ServerOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	nc, err := mesh.Connect(emb.ClientURL(), "math-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	svc, err := mesh.Serve(nc, rulesOnly(t).MeshConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(time.Second) })
	return mesh.NewClient(nc)
}

func call(t *testing.T, c *mesh.Client, op, body string) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.Call(ctx, "math", op, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.Results
}

func TestVerifyOverNATS(t *testing.T) {
	c := serve(t)
	rs := call(t, c, "verify", `{"items":[
		{"id":1,"gold":"\\frac{1}{2}","pred":"... so the answer is \\boxed{0.5}"},
		{"id":"b","gold":"(1, 2, 3)","pred":"\\boxed{(1,3,2)}"},
		{"id":3,"gold":"x"},
		{"id":4,"gold":"1","pred":"1","precision":-2},
		"not an object",
		{"gold":"{","pred":"`+strings.Repeat("}", 70000)+`"}]}`)
	if len(rs) != 6 {
		t.Fatalf("%d results", len(rs))
	}
	if rs[0]["id"] != 1.0 || rs[0]["correct"] != true || rs[0]["reward"] != 1.0 || rs[0]["pred_answer"] == "" {
		t.Errorf("1/2 vs 0.5: %v", rs[0])
	}
	if rs[1]["id"] != "b" || rs[1]["correct"] != false {
		t.Errorf("tuples are ordered: %v", rs[1])
	}
	for _, i := range []int{2, 3, 4} {
		if e, ok := rs[i]["error"].(map[string]any); !ok || e["code"] != "invalid" {
			t.Errorf("bad item %d: %v", i, rs[i])
		}
	}
	if rs[5]["correct"] != false || rs[5]["reason"] == nil {
		t.Errorf("oversized junk: %v", rs[5])
	}
}

func TestRewardsOverNATS(t *testing.T) {
	c := serve(t)
	rs := call(t, c, "rewards", `{"items":[
		{"id":"a","domain":"math","response":"The final answer is $\\boxed{(1, 2, 3)}$","reference":{"gold":"(1,2,3)"}},
		{"id":"b","domain":"math","response":"I think 7.","reference":"8"},
		{"id":"c","domain":"math","response":"4","reference":{"answer":"4"}}]}`)
	if rs[0]["reward"] != 1.0 || rs[0]["domain"] != "math" || rs[0]["details"] == nil {
		t.Errorf("tuple: %v", rs[0])
	}
	if rs[1]["reward"] != 0.0 || rs[1]["error"] != nil {
		t.Errorf("wrong answer, gold as a string: %v", rs[1])
	}
	if e, ok := rs[2]["error"].(map[string]any); !ok || e["code"] != "invalid" {
		t.Errorf("reference without gold: %v", rs[2])
	}
}

// FuzzEndpoints: any bytes a client sends to the math ops give one result per
// item or a client error, never a panic; every result is either a verdict or an
// item error with a code.
func FuzzEndpoints(f *testing.F) {
	for _, seed := range []string{
		`{"items":[{"gold":"1","pred":"1"}]}`, `{"items":[{"gold":null,"pred":5}]}`, `{"items":[{"gold":"x","pred":"y","precision":-1}]}`,
		`{"items":[{"domain":"math","response":"\\boxed{2}","reference":"2"}]}`, `{"items":[{"domain":"math","reference":{"gold":["1","2"]}}]}`,
		`{"items":[1,"a",null,[],{}]}`, `{"items":{}}`, "\xff", `{"items":[{"gold":"\\frac{","pred":"}}}"}]}`,
		`{"items":[{"gold":"3","pred":"3 or 5","targets":["latex","expr"],"question":"How many?","judge":true}]}`,
		`{"items":[{"gold":"3","pred":"3","targets":["string"]},{"gold":"3","pred":"3","targets":[]},{"gold":"3","pred":"3","question":7}]}`,
		`{"items":[{"domain":"math","response":"5","reference":{"gold":"5","targets":["expr"],"question":"What percent?","judge":false}}]}`,
	} {
		f.Add(seed)
	}
	eps := rulesOnly(f).Endpoints()
	f.Fuzz(func(t *testing.T, body string) {
		for _, ep := range eps {
			out, err := ep.Handler(context.Background(), []byte(body))
			if err != nil {
				continue // the whole body was not a batch: a client error
			}
			var resp struct {
				Results []map[string]any `json:"results"`
			}
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("%s answered undecodable JSON for %q: %v", ep.Name, body, err)
			}
			for _, r := range resp.Results {
				_, verdict := r["correct"]
				_, rewarded := r["reward"]
				e, failed := r["error"].(map[string]any)
				if failed && (e["code"] == nil || e["message"] == "") {
					t.Fatalf("%s: an item error without a code: %v", ep.Name, r)
				}
				if !failed && !verdict && !rewarded {
					t.Fatalf("%s: a result that is neither a verdict nor an error: %v", ep.Name, r)
				}
			}
		}
	})
}
