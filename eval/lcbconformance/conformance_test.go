package lcbconformance

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/eval"
	"github.com/rewardmesh/rewardmesh/eval/internal/evaltest"
	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
	"github.com/rewardmesh/rewardmesh/services/sandbox/sandboxtest"
	"github.com/rewardmesh/rewardmesh/shared/conformance"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
)

// requireDocker skips (or, under REWARDMESH_REQUIRE_DOCKER=1, fails) when Docker
// or the sandbox images are absent.
func requireDocker(t *testing.T) {
	t.Helper()
	sandboxtest.RequireDocker(t, images.Python)
}

// startSandbox starts the real sandbox and serves it on an embedded NATS
// server exactly as `rewardmesh up` does (its MeshConfig on the mesh), and
// returns the evaluator's mesh judge for it.
func startSandbox(t *testing.T, ctx context.Context) eval.Judge {
	t.Helper()
	requireDocker(t)
	sb, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	nc := evaltest.StartNATS(t)
	svc, err := mesh.Serve(nc, sb.MeshConfig())
	if err != nil {
		t.Fatalf("serve sandbox: %v", err)
	}
	t.Cleanup(func() { svc.Stop(30 * time.Second) })
	return eval.NewMeshJudge(nc)
}

func TestLCBConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the 26 LiveCodeBench samples in Docker, TLE cases included; not in -short")
	}
	dir := conformance.Path(t, "code")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	judge := startSandbox(t, ctx)

	out := t.TempDir()
	sum, err := eval.RunLCB(ctx, eval.LCBConfig{
		Problems:    filepath.Join(dir, "lcb_problems.jsonl"),
		Generations: filepath.Join(dir, "lcb_generations.json"),
		Out:         out,
	}, judge, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.RowErrors) > 0 {
		t.Errorf("row errors on real rows: %+v", sum.RowErrors)
	}

	var expected map[string]json.RawMessage
	evaltest.ReadJSON(t, filepath.Join(dir, "lcb_expected.json"), &expected)
	var got []struct {
		QuestionID string   `json:"question_id"`
		GradedList []bool   `json:"graded_list"`
		PassAt1    float64  `json:"pass@1"`
		Metadata   []string `json:"metadata"`
	}
	evaltest.ReadJSON(t, filepath.Join(out, "lcb_generations_codegeneration_output_eval_all.json"), &got)
	matched, total, verdictsMatched := 0, 0, 0
	seen := 0
	for _, g := range got {
		raw, ok := expected[g.QuestionID]
		if !ok {
			t.Errorf("unexpected problem %s", g.QuestionID)
			continue
		}
		seen++
		var want struct {
			Verdicts   []string `json:"verdicts"`
			GradedList []bool   `json:"graded_list"`
			PassAt1    float64  `json:"pass@1"`
		}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		for i := range want.GradedList {
			total++
			if i < len(g.GradedList) && g.GradedList[i] == want.GradedList[i] {
				matched++
			} else {
				t.Errorf("%s sample %d: graded %v, want %v (expected verdict %s; metadata %s)", g.QuestionID, i, at(g.GradedList, i), want.GradedList[i], want.Verdicts[i], at(g.Metadata, i))
			}
		}
		for i, v := range want.Verdicts {
			got := "AC"
			if i < len(g.Metadata) {
				var meta struct {
					Verdict string `json:"verdict"`
				}
				json.Unmarshal([]byte(g.Metadata[i]), &meta)
				if meta.Verdict != "" {
					got = meta.Verdict
				}
			}
			// A Python syntax error may be reported as CE or RE (README of the data).
			if got != v && !(v == "CE" && got == "RE") && !(v == "RE" && got == "CE") {
				t.Errorf("%s sample %d: verdict %s, want %s", g.QuestionID, i, got, v)
			} else {
				verdictsMatched++
			}
		}
		if !reflect.DeepEqual(g.GradedList, want.GradedList) || g.PassAt1 != want.PassAt1 {
			t.Errorf("%s: graded_list %v pass@1 %v, want %v %v", g.QuestionID, g.GradedList, g.PassAt1, want.GradedList, want.PassAt1)
		}
	}
	if seen != len(expected)-1 { // lcb_expected.json also carries "_notes"
		t.Errorf("graded %d problems, expected file has %d", seen, len(expected)-1)
	}
	t.Logf("conformance: %d of %d graded_list entries and %d of %d verdicts match lcb_expected.json (%d problems); verdicts %v", matched, total, verdictsMatched, total, seen, sum.Verdicts)
}

func at[T any](s []T, i int) any {
	if i < len(s) {
		return s[i]
	}
	return "(missing)"
}
