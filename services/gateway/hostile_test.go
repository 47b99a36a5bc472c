package gateway_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/gateway"
)

// The hostile corpus (testdata/hostile) against a gateway whose only service is
// math: each input gets the status its index names, and an error shape when it
// is an error. tests/mesh sends the same corpus to a whole running mesh.
func TestHostileCorpus(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "hostile", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index map[string]struct {
		Path   string `json:"path"`
		Status int    `json:"status"` // with only the math service running
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, gateway.Config{}, nil)
	for name, c := range index {
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "hostile", name))
			if err != nil {
				t.Fatal(err)
			}
			status, out := f.post(t, c.Path, string(body))
			if status != c.Status {
				t.Fatalf("%s: status %d, want %d: %v", name, status, c.Status, out)
			}
			if status >= 400 {
				e, _ := out["error"].(map[string]any)
				if e["code"] == nil || e["message"] == "" {
					t.Fatalf("%s: error without code and message: %v", name, out)
				}
			}
		})
	}
}
