package rm

import (
	"context"
	"encoding/json"
	"math"
	"testing"
)

func FuzzDecodeScoreItem(f *testing.F) {
	for _, seed := range []string{
		`{"id":"a","messages":[{"role":"user","content":"q"}],"response":"r","group":"g"}`,
		`{"prompt":"q","response":"r"}`,
		`{"prompt":"q","messages":[],"response":"r"}`,
		`{"messages":[{"role":"","content":"q"}],"response":"r"}`,
		`{"messages":null,"response":"r"}`,
		`{"prompt":null}`,
		`[]`, `null`, `"x"`, `{"response":7}`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, conv, err := decodeScoreItem(raw, 1<<10)
		if err != nil {
			if err.Code == "" || err.Message == "" {
				t.Fatalf("error without code or message: %+v", err)
			}
			return
		}
		if conv.chat() && conv.Prompt != "" {
			t.Fatalf("conversation has both messages and prompt: %+v", conv)
		}
		size := len(conv.Prompt) + len(conv.Response)
		for _, m := range conv.Messages {
			size += len(m.Role) + len(m.Content)
		}
		if size > 1<<10 {
			t.Fatalf("%d bytes passed the 1024-byte limit", size)
		}
	})
}

func FuzzDecodeIFItem(f *testing.F) {
	for _, seed := range []string{
		`{"prompt":"p","response":"r","instruction_id_list":["punctuation:no_comma"],"kwargs":[{}]}`,
		`{"key":1000,"prompt":"p","response":"r","instruction_id_list":["a","b"],"kwargs":[{"x":null},{"n":3}]}`,
		`{"instruction_id_list":["a"],"kwargs":[{},{}]}`,
		`{"instruction_id_list":[""]}`,
		`{"kwargs":[null]}`, `[]`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		it, err := decodeIFItem(raw, 1<<16)
		if err != nil {
			return
		}
		if len(it.Kwargs) != len(it.InstructionIDs) || len(it.InstructionIDs) == 0 {
			t.Fatalf("accepted %d instructions with %d kwargs", len(it.InstructionIDs), len(it.Kwargs))
		}
		for _, kw := range it.Kwargs {
			for k, v := range kw {
				if v == nil {
					t.Fatalf("null kwarg %q kept", k)
				}
			}
		}
	})
}

// FuzzRewards runs whole rewards batches (no reward model, the test checker)
// and checks every item gets exactly one answer.
func FuzzRewards(f *testing.F) {
	for _, seed := range []string{
		`{"items":[{"domain":"if","response":"yes","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":"yes"}]},"group":"g"}]}`,
		`{"items":[{"domain":"rm","response":"a","reference":{"prompt":"q"}}]}`,
		`{"items":[{"domain":"if","reference":null},{"domain":"swe"},7,null,"x"]}`,
		`{"items":[{"domain":"if","response":"","reference":{"prompt":"p","instruction_id_list":["test:word"],"kwargs":[{"word":""}],"mode":"loose","messages":[]}}]}`,
		`{"items":null}`, `{}`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	s := testService(f, nil, "")
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := s.handleRewards(context.Background(), payload)
		if err != nil {
			return
		}
		var req struct {
			Items []json.RawMessage `json:"items"`
		}
		_ = json.Unmarshal(payload, &req)
		var resp struct {
			Results []map[string]any `json:"results"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		if len(resp.Results) != len(req.Items) {
			t.Fatalf("%d results for %d items", len(resp.Results), len(req.Items))
		}
		for i, r := range resp.Results {
			if (r["error"] == nil) == (r["details"] == nil) {
				t.Fatalf("result %d has neither or both of error and details: %v", i, r)
			}
		}
	})
}

// FuzzServerResponses feeds arbitrary bodies to every protocol's decoder: a
// broken server gets an error, never a panic or a score that is not a number.
func FuzzServerResponses(f *testing.F) {
	for _, seed := range []string{
		`{"data":[{"index":0,"object":"pooling","data":[1.5]},{"index":1,"data":[[0.1],[2]]}]}`,
		`{"data":[{"index":1,"label":"LABEL_0","probs":[0.7],"num_classes":1},{"index":0,"probs":[0.2]}]}`,
		`{"data":[{"index":0,"object":"score","score":0.9},{"index":1,"score":-1}]}`,
		`{"choices":[{"message":{"content":"reward:-25.625"},"logprobs":{"content":[{"token":"reward","logprob":-25.625}]}}]}`,
		`{"rewards":[1,2],"scores":[1,2],"extra_logs":{}}`,
		`{"data":[{"index":-1}]}`, `{"data":null}`, `<html>`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, p := range Protocols {
			c := &Client{cfg: ClientConfig{Protocol: p, ClassIndex: 0, ScoreKey: "reward"}}
			n := 2
			if p == OpenAIChat {
				n = 1
			}
			scores, err := c.decode(raw, n)
			if err != nil {
				continue
			}
			if len(scores) != n {
				t.Fatalf("%s: %d scores for %d inputs", p, len(scores), n)
			}
			for _, s := range scores {
				if math.IsNaN(s) || math.IsInf(s, 0) {
					t.Fatalf("%s: score %v", p, s)
				}
			}
		}
	})
}
