package sandbox_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// TestMeshRewards serves the sandbox on an embedded NATS server as `rewardmesh up`
// does and scores a batch through the `rewards` op, one item of it invalid.
func TestMeshRewards(t *testing.T) {
	s := newSandbox(t, sandbox.Config{})
	defer s.Close()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	svc, err := mesh.Serve(nc, s.MeshConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(30 * time.Second)

	ref := json.RawMessage(`{"tests":[{"input":"4\n","output":"16\n"},{"input":"5\n","output":"25\n"}]}`)
	items := []reward.Item{
		{ID: json.RawMessage(`"a"`), Domain: reward.Code, Response: "```python\nn = int(input())\nprint(n * n)\n```", Reference: ref},
		{ID: json.RawMessage(`"b"`), Domain: reward.Code, Response: "```python\nprint(16)\n```", Reference: ref},
		{ID: json.RawMessage(`"c"`), Domain: reward.Code, Response: "```python\nprint(16)\n```", Reference: json.RawMessage(`{"tests":[]}`)},
		{ID: json.RawMessage(`"d"`), Domain: reward.Code, Response: "```cpp\n#include <iostream>\nint main(){long n;std::cin>>n;std::cout<<n*n<<'\\n';}\n```", Reference: ref},
		// A Java block chooses Java; reference.language chooses Go for an untagged block.
		{ID: json.RawMessage(`"e"`), Domain: reward.Code, Response: "Here:\n```java\nimport java.util.*;\npublic class Sq { public static void main(String[] a) { long n = new Scanner(System.in).nextLong(); System.out.println(n * n); } }\n```", Reference: ref},
		{ID: json.RawMessage(`"f"`), Domain: reward.Code, Response: "```\npackage main\nimport \"fmt\"\nfunc main() { var n int; fmt.Scan(&n); fmt.Println(n * n) }\n```",
			Reference: json.RawMessage(`{"language":"golang","tests":[{"input":"4\n","output":"16\n"},{"input":"5\n","output":"25\n"}]}`)},
	}
	payload, _ := json.Marshal(map[string]any{"items": items})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := mesh.NewClient(nc).Call(ctx, sandbox.ServiceName, "rewards", payload)
	if err != nil {
		t.Fatalf("call rewards: %v", err)
	}
	var resp struct {
		Results []reward.Result `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Results) != len(items) {
		t.Fatalf("answer %s (%v)", out, err)
	}
	want := []struct {
		id      string
		reward  float64
		verdict reward.Verdict
		code    reward.ErrorCode
	}{{`"a"`, 1, reward.Accepted, ""}, {`"b"`, 0, reward.WrongAnswer, ""}, {`"c"`, 0, "", reward.Invalid}, {`"d"`, 1, reward.Accepted, ""}, {`"e"`, 1, reward.Accepted, ""}, {`"f"`, 1, reward.Accepted, ""}}
	for i, w := range want {
		r := resp.Results[i]
		if string(r.ID) != w.id || r.Reward != w.reward || r.Domain != reward.Code {
			t.Errorf("result %d: %+v, want id %s reward %v", i, r, w.id, w.reward)
			continue
		}
		if w.code != "" {
			if r.Error == nil || r.Error.Code != w.code {
				t.Errorf("result %d: error %v, want %s", i, r.Error, w.code)
			}
			continue
		}
		var d sandbox.RewardDetails
		if err := json.Unmarshal(r.Details, &d); err != nil || d.Verdict != w.verdict || d.Total != 2 {
			t.Errorf("result %d: details %s, want verdict %s", i, r.Details, w.verdict)
		}
	}
}
