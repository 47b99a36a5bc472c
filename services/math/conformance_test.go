package mathsvc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// TestConformanceOverAPI runs Math-Verify's own suite through the verify op,
// each case's options (match_types, float_rounding, strict) as the item's
// "targets", "precision" and "strict": what a client over HTTP gets, which must
// be what the library gets (268/270).
func TestConformanceOverAPI(t *testing.T) {
	data, err := os.ReadFile(conformance.Path(t, "math", "mathverify_cases.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	var expected []bool
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var row struct {
			Gold     json.RawMessage `json:"gold"`
			Pred     *string         `json:"pred"`
			Expected bool            `json:"expected"`
			Config   *struct {
				MatchTypes []string `json:"match_types"`
				Precision  int      `json:"precision"`
				Strict     *bool    `json:"strict"`
			} `json:"config"`
		}
		if err := json.Unmarshal(line, &row); err != nil {
			t.Fatal(err)
		}
		if row.Pred == nil {
			continue
		}
		item := map[string]any{"gold": row.Gold, "pred": *row.Pred}
		if c := row.Config; c != nil {
			item["precision"], item["strict"] = c.Precision, c.Strict
			var targets []string
			for _, m := range c.MatchTypes {
				targets = append(targets, strings.SplitN(m, "(", 2)[0]) // "latex(default boxed_match_priority=50)"
			}
			item["targets"] = targets
		}
		b, _ := json.Marshal(item)
		items, expected = append(items, string(b)), append(expected, row.Expected)
	}
	out, err := rulesOnly(t).Endpoints()[0].Handler(context.Background(), []byte(`{"items":[`+strings.Join(items, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Results []struct {
			Correct bool `json:"correct"`
			Error   any  `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	agree := 0
	for i, r := range resp.Results {
		if r.Error != nil {
			t.Errorf("item %d failed: %v", i, r.Error)
		}
		if r.Correct == expected[i] {
			agree++
		} else {
			t.Logf("miss %d: %s", i, items[i])
		}
	}
	t.Logf("over the API: %d/%d agree", agree, len(items))
	if agree < 268 {
		t.Errorf("over the API %d/%d agree, want at least 268 (the library's figure)", agree, len(items))
	}
}
