package gateway_test

import (
	"testing"
	"time"

	"github.com/rewardmesh/rewardmesh/services/gateway"
)

// slime posts one sample per request, its prompt text or chat messages, and reads
// the reward with --reward-key reward.
func TestSlimeReward(t *testing.T) {
	f := newFixture(t, gateway.Config{OutageWaitFor: 100 * time.Millisecond}, nil)
	for name, c := range map[string]struct {
		body   string
		reward float64
	}{
		"gold label":           {`{"prompt":"2+2?","response":"4","label":"4"}`, 1},
		"wrong answer":         {`{"prompt":"2+2?","response":"5","label":"4"}`, 0},
		"number label":         {`{"prompt":"2+2?","response":"4","label":4}`, 1},
		"messages, domain obj": {`{"prompt":[{"role":"user","content":"x"}],"response":"9","label":{"domain":"math","reference":{"gold":"9"}}}`, 1},
		"domain in a string":   {`{"prompt":"x","response":"9","label":"{\"domain\":\"math\",\"reference\":{\"gold\":\"9\"}}"}`, 1},
	} {
		t.Run(name, func(t *testing.T) {
			status, out := f.post(t, "/reward", c.body)
			if status != 200 || out["reward"] != c.reward || out["domain"] != "math" {
				t.Errorf("%d %v, want reward %v", status, out, c.reward)
			}
		})
	}

	for name, body := range map[string]string{
		"no label":       `{"prompt":"x","response":"4"}`,
		"null label":     `{"prompt":"x","response":"4","label":null}`,
		"no response":    `{"prompt":"x","label":"4"}`,
		"unknown domain": `{"prompt":"x","response":"4","label":{"domain":"chess"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			status, out := f.post(t, "/reward", body)
			if e, _ := out["error"].(map[string]any); status != 400 || e["code"] != "invalid" {
				t.Errorf("%d %v, want 400 invalid", status, out)
			}
		})
	}

	// No sandbox runs here: a retryable 503, which slime's client retries.
	status, out := f.post(t, "/reward", `{"prompt":"x","response":"print(1)","label":{"domain":"code","reference":{"tests":[{"input":"","output":"1"}]}}}`)
	if e, _ := out["error"].(map[string]any); status != 503 || e["retryable"] != true {
		t.Errorf("unscorable sample: %d %v, want a retryable 503", status, out)
	}
}
