package rm

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/reward"
)

func TestDecodeScoreItem(t *testing.T) {
	tests := []struct {
		raw      string
		want     Conversation
		wantCode reward.ErrorCode
		wantIn   string
	}{
		{`{"prompt":"P","response":"R"}`, Conversation{Prompt: "P", Response: "R"}, "", ""},
		{`{"prompt":"","response":""}`, Conversation{Response: ""}, "", ""},
		{`{"messages":[{"role":"user","content":"q"}],"response":"R","group":"g"}`,
			Conversation{Messages: []Message{{Role: "user", Content: "q"}}, Response: "R"}, "", ""},
		{`{"response":"R"}`, Conversation{}, reward.Invalid, "give messages"},
		{`{"prompt":"P"}`, Conversation{}, reward.Invalid, "response is missing"},
		{`{"prompt":"P","messages":[{"role":"user","content":"q"}],"response":"R"}`, Conversation{}, reward.Invalid, "not both"},
		{`{"messages":[],"response":"R"}`, Conversation{}, reward.Invalid, "empty"},
		{`{"messages":[{"content":"q"}],"response":"R"}`, Conversation{}, reward.Invalid, "role is missing"},
		{`{"messages":[{"role":"user","content":["parts"]}],"response":"R"}`, Conversation{}, reward.Invalid, "decode"},
		{`{"prompt":"` + strings.Repeat("x", 2000) + `","response":"R"}`, Conversation{}, reward.TooLarge, "limit"},
		{`[1]`, Conversation{}, reward.Invalid, "an array"},
		{`null`, Conversation{}, reward.Invalid, "null"},
	}
	for _, tt := range tests {
		t.Run(short(tt.raw), func(t *testing.T) {
			_, conv, err := decodeScoreItem(json.RawMessage(tt.raw), 1024)
			if tt.wantCode == "" {
				if err != nil || !reflect.DeepEqual(conv, tt.want) {
					t.Errorf("got %+v, %v; want %+v", conv, err, tt.want)
				}
				return
			}
			if err == nil || err.Code != tt.wantCode || !strings.Contains(err.Message, tt.wantIn) {
				t.Errorf("error %v, want %s containing %q", err, tt.wantCode, tt.wantIn)
			}
		})
	}
}

func TestDecodeIFItemKwargs(t *testing.T) {
	tests := []struct {
		raw      string
		want     []map[string]any
		wantCode reward.ErrorCode
	}{
		// NeMo-Gym's and Hugging Face's copies carry null entries and null keys.
		{`{"prompt":"p","response":"r","instruction_id_list":["a","b","c"],"kwargs":[{},null,{"num_words":204,"relation":"less than","x":null}]}`,
			[]map[string]any{{}, {}, {"num_words": 204.0, "relation": "less than"}}, ""},
		{`{"prompt":"p","response":"r","instruction_id_list":["a","b"]}`, []map[string]any{{}, {}}, ""},
		{`{"prompt":"p","response":"r","instruction_id_list":["a","b"],"kwargs":[{}]}`, nil, reward.Invalid},
		{`{"prompt":"p","response":"r","instruction_id_list":[]}`, nil, reward.Invalid},
		{`{"prompt":"p","response":"r","instruction_id_list":[" "]}`, nil, reward.Invalid},
		{`{"prompt":"p","response":"r","instruction_id_list":"a"}`, nil, reward.Invalid},
	}
	for _, tt := range tests {
		t.Run(short(tt.raw), func(t *testing.T) {
			it, err := decodeIFItem(json.RawMessage(tt.raw), 1<<20)
			if tt.wantCode != "" {
				if err == nil || err.Code != tt.wantCode {
					t.Errorf("error %v, want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(it.Kwargs, tt.want) {
				t.Errorf("kwargs %#v, %v; want %#v", it.Kwargs, err, tt.want)
			}
		})
	}
}
