package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rewardmesh/rewardmesh/services/gateway/scoring"
	"github.com/rewardmesh/rewardmesh/shared/cache"
	"github.com/rewardmesh/rewardmesh/shared/mesh"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// FuzzLabelItem: any OpenRLHF label becomes a reward item without panicking, and
// a label that is not a domain object is always a math gold answer.
func FuzzLabelItem(f *testing.F) {
	for _, seed := range []string{`"4"`, `4`, `null`, `"{\"domain\":\"code\"}"`, `{"domain":"swe","reference":{}}`,
		`{"domain":5}`, `"{"`, `[1,2]`, `{"domain":"math","group":"g","gold":"1"}`, "\"\xff\""} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, label []byte) {
		item := labelItem(json.RawMessage(label))
		if item.Domain == "" {
			t.Fatalf("label %q gave no domain", label)
		}
		if item.Domain == reward.Math {
			var ref map[string]any
			if json.Unmarshal(item.Reference, &ref) != nil && len(item.Reference) > 0 {
				t.Fatalf("label %q gave an undecodable math reference %q", label, item.Reference)
			}
		}
	})
}

// FuzzAPIBodies: whatever a client sends, every endpoint answers JSON with a 2xx
// or a 4xx/503 error shape, never a 500 or a panic. No service runs, so every
// well-formed item is answered unavailable.
func FuzzAPIBodies(f *testing.F) {
	emb, err := mesh.StartServer(mesh.ServerOptions{StoreDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	defer emb.Close()
	nc, err := mesh.Connect(emb.ClientURL(), "fuzz", nil)
	if err != nil {
		f.Fatal(err)
	}
	defer nc.Close()
	reg := prometheus.NewRegistry()
	client := mesh.NewClient(nc)
	engine := scoring.New(scoring.Config{}, client, cache.NewMemory(100), reg)
	handler := NewServer(Config{MaxBodyBytes: 1 << 20, OutageWaitFor: time.Millisecond}, engine, client, nil, nil, reg)
	paths := []string{"/v1/math/verify", "/v1/rewards", "/get_reward", "/v1/jobs", "/v1/swe/similarity", "/v1/rm/score",
		"/verify", "/reward", "/seed_session"}
	for i, seed := range []string{`{"items":[]}`, `{"items":[{"domain":"math"}]}`, `{"query":["a"],"labels":["1"]}`,
		`{"items":[1,"x",null,{"domain":"zzz"}]}`, `{"items":[{"domain":"math","id":{"nested":[1]}}]}`, "{\"items\":[\"\xff\xfe\"]}",
		`{"items":` + strings.Repeat("[", 100) + `}`, `{"query":null,"labels":null}`,
		`{"expected_answer":"4","response":{"output":[{"type":"message","content":[{"type":"output_text","text":"4"}]}]}}`,
		`{"verifier_metadata":{"unit_tests":{"packed":"eJyrVsrMKygtKVayilYyVIqtBQAvvwVH"}},"response":{"output":[]}}`,
		`{"prompt":[{"role":"user","content":"x"}],"response":"4","label":{"domain":"math","reference":{"gold":"4"}}}`} {
		f.Add(uint8(i), []byte(seed))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable && rec.Code != http.StatusGatewayTimeout {
			t.Fatalf("%s %q answered %d: %s", path, body, rec.Code, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %q answered non-JSON %q", path, body, rec.Body)
		}
		if rec.Code >= 400 {
			e, _ := out["error"].(map[string]any)
			if e["code"] == nil || e["message"] == nil {
				t.Fatalf("%s %q: error without code and message: %v", path, body, out)
			}
		}
	})
}
