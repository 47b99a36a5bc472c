package gateway

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// The NeMo-Gym resources-server protocol, as NeMo-RL (env.should_use_nemo_gym)
// and prime-rl/verifiers reach it: an agent seeds a session with the dataset row,
// runs the policy, and posts the row plus the policy's OpenAI Responses object to
// /verify, which answers the same object with "reward" added. NeMo-RL retries a
// 5xx (or 408/429) as an infrastructure failure and gives up quickly on another
// 4xx as a bad row, so a failure of the mesh must never read as a 4xx or a 0.

// maxUnpackedTests bounds a packed unit_tests blob once inflated (NeMo-Gym packs
// LiveCodeBench tests with zlib), so a small body cannot inflate without end.
const maxUnpackedTests = 256 << 20

// handleSeedSession answers NeMo-Gym's /seed_session. rewardmesh keeps no state
// per rollout; an Environment Server's resources_session_id is echoed back, as
// NeMo-Gym's own servers do, and anything else (the agent posts the row) gets {}.
func (s *server) handleSeedSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			SessionID json.RawMessage `json:"resources_session_id"`
		}
		if r.ContentLength != 0 { // an empty body is an empty request
			if err := decode(r, &body); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		out := map[string]any{}
		if len(body.SessionID) > 0 && string(body.SessionID) != "null" {
			out["resources_session_id"] = body.SessionID
		}
		encode(w, http.StatusOK, out)
	})
}

// handleCloseSession answers NeMo-Gym's /close_session, which an Environment
// Server posts when an episode ends: {resources_session_id, episode_id} →
// {resources_session_id}. There is no state to release, so closing a session
// never seeded, or one closed already, succeeds as NeMo-Gym's contract asks.
func (s *server) handleCloseSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			SessionID *string `json:"resources_session_id"`
		}
		if err := decode(r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
		if body.SessionID == nil || *body.SessionID == "" {
			s.fail(w, r, reward.Errorf(reward.Invalid, "resources_session_id: a session id is required"))
			return
		}
		encode(w, http.StatusOK, map[string]string{"resources_session_id": *body.SessionID})
	})
}

// handleReverifyMode answers NeMo-Gym's GET /reverify_mode: "stateless", for
// /verify depends on nothing but its body and may run again after a crash.
func (s *server) handleReverifyMode() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, "stateless")
	})
}

// handleVerify answers NeMo-Gym's /verify: the request echoed back with "reward"
// added, and rewardmesh's domain and details under "rewardmesh".
func (s *server) handleVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var row map[string]json.RawMessage
		if err := decode(r, &row); err != nil {
			s.fail(w, r, err)
			return
		}
		if row == nil {
			s.fail(w, r, reward.Errorf(reward.Invalid, "the body must be a JSON object: the dataset row with the policy's response"))
			return
		}
		item, err := nemoGymItem(row)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		res := s.scoreWaiting(r.Context(), []reward.Item{item})[0]
		if res.Error != nil {
			s.fail(w, r, itemFailure(res.Error))
			return
		}
		row["reward"], _ = json.Marshal(res.Reward)
		row["rewardmesh"], _ = json.Marshal(map[string]any{"domain": res.Domain, "details": res.Details})
		encode(w, http.StatusOK, row)
	})
}

// nemoGymItem reads a /verify body into a reward item. The task is, in order: the
// row's own "domain" and "reference" (every rewardmesh domain); NeMo-Gym's code
// generation row (verifier_metadata.unit_tests, LiveCodeBench's format); its math
// row (expected_answer).
func nemoGymItem(row map[string]json.RawMessage) (reward.Item, error) {
	p := problems{}
	text, err := responseText(row["response"])
	if err != nil {
		p["response"] = err.Error()
	}
	var item reward.Item
	var domain reward.Domain
	_ = json.Unmarshal(row["domain"], &domain)
	var meta struct {
		UnitTests json.RawMessage `json:"unit_tests"`
	}
	_ = json.Unmarshal(row["verifier_metadata"], &meta)
	switch {
	case domain != "":
		item = reward.Item{Domain: domain, Reference: row["reference"]}
		if g, ok := row["group"]; ok && json.Unmarshal(g, &item.Group) != nil {
			p["group"] = "a string is needed"
		}
	case len(meta.UnitTests) > 0 && string(meta.UnitTests) != "null":
		ref, err := unitTestsReference(meta.UnitTests)
		if err != nil {
			p["verifier_metadata.unit_tests"] = err.Error()
		}
		item = reward.Item{Domain: reward.Code, Reference: ref}
	case len(row["expected_answer"]) > 0 && string(row["expected_answer"]) != "null":
		gold := string(row["expected_answer"])
		var s string
		if json.Unmarshal(row["expected_answer"], &s) == nil {
			gold = s
		} // else a number or other JSON value: its text is the gold answer
		item = reward.Item{Domain: reward.Math}
		item.Reference, _ = json.Marshal(map[string]string{"gold": gold})
	default:
		p["expected_answer"] = `the row names no task: give "expected_answer" (math), "verifier_metadata.unit_tests" (code) or "domain" with "reference"`
	}
	if err := p.err(); err != nil {
		return item, err
	}
	item.Response = text
	return item, nil
}

// responseText is the text a NeMo-Gym server scores: every output_text part of
// the response's message items, joined as the OpenAI SDK's output_text joins
// them. Reasoning, tool calls and refusals are not the answer.
func responseText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("required: the OpenAI Responses object the policy produced")
	}
	var resp struct {
		Output []struct {
			Type    string          `json:"type"`
			Content json.RawMessage `json:"content"`
		} `json:"output"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return "", fmt.Errorf("an OpenAI Responses object is needed: %v", err)
	}
	var text strings.Builder
	for i, out := range resp.Output {
		if out.Type != "message" {
			continue
		}
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(out.Content, &parts); err != nil {
			return "", fmt.Errorf("output[%d].content: a list of content parts is needed: %v", i, err)
		}
		for _, part := range parts {
			if part.Type == "output_text" {
				text.WriteString(part.Text)
			}
		}
	}
	return text.String(), nil
}

// unitTestsReference turns NeMo-Gym's code_gen tests ({inputs, outputs,
// fn_name?}, LiveCodeBench's format, or {packed, fn_name?} with inputs and outputs
// zlib-compressed and base64-encoded) into a code reference. A fn_name makes the
// tests functional (LeetCode style), as in LiveCodeBench.
func unitTestsReference(raw json.RawMessage) (json.RawMessage, error) {
	var tests struct {
		Inputs  []string `json:"inputs"`
		Outputs []string `json:"outputs"`
		FnName  *string  `json:"fn_name"`
		Packed  *string  `json:"packed"`
	}
	if err := json.Unmarshal(raw, &tests); err != nil {
		return nil, fmt.Errorf("{inputs, outputs, fn_name?} with strings is needed: %v", err)
	}
	if tests.Packed != nil {
		unpacked, err := unpackTests(*tests.Packed)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(unpacked, &tests); err != nil {
			return nil, fmt.Errorf("packed: {inputs, outputs} with strings is needed: %v", err)
		}
	}
	if len(tests.Inputs) != len(tests.Outputs) {
		return nil, fmt.Errorf("%d inputs for %d outputs: one output per input is needed", len(tests.Inputs), len(tests.Outputs))
	}
	if len(tests.Inputs) == 0 {
		return nil, fmt.Errorf("no tests: a program cannot be judged without any")
	}
	cases := make([]reward.TestCase, len(tests.Inputs))
	for i := range cases {
		cases[i] = reward.TestCase{Input: tests.Inputs[i], Output: tests.Outputs[i]}
	}
	ref := map[string]any{"tests": cases}
	if tests.FnName != nil && *tests.FnName != "" {
		ref["mode"], ref["fn_name"] = "functional", *tests.FnName
	}
	return json.Marshal(ref)
}

func unpackTests(packed string) ([]byte, error) {
	compressed, err := base64.StdEncoding.DecodeString(packed)
	if err != nil {
		return nil, fmt.Errorf("packed: base64 is needed: %v", err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("packed: zlib data is needed: %v", err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxUnpackedTests+1))
	if err != nil {
		return nil, fmt.Errorf("packed: inflate: %v", err)
	}
	if len(out) > maxUnpackedTests {
		return nil, fmt.Errorf("packed: over %d bytes once inflated", maxUnpackedTests)
	}
	return out, nil
}
