package rm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rewardmesh/rewardmesh/services/rm/ifeval"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// conversationFields are how an item names what the reward model reads:
// chat messages (the server applies the template) or a formatted prompt.
type conversationFields struct {
	Messages []Message `json:"messages"`
	Prompt   *string   `json:"prompt"`
}

// conversation checks the fields and joins them with the response.
func (f conversationFields) conversation(response string, maxBytes int) (Conversation, *reward.Error) {
	switch {
	case f.Messages != nil && f.Prompt != nil:
		return Conversation{}, reward.Errorf(reward.Invalid, "give messages or prompt, not both")
	case f.Messages == nil && f.Prompt == nil:
		return Conversation{}, reward.Errorf(reward.Invalid, "give messages (chat turns before the response) or prompt (the formatted text before it)")
	}
	size := len(response)
	if f.Prompt != nil {
		size += len(*f.Prompt)
	}
	if len(f.Messages) == 0 && f.Messages != nil {
		return Conversation{}, reward.Errorf(reward.Invalid, "messages is empty: give at least the user's turn")
	}
	for i, m := range f.Messages {
		if strings.TrimSpace(m.Role) == "" {
			return Conversation{}, reward.Errorf(reward.Invalid, "messages[%d]: role is missing", i)
		}
		size += len(m.Role) + len(m.Content)
	}
	if maxBytes > 0 && size > maxBytes {
		return Conversation{}, reward.Errorf(reward.TooLarge, "conversation of %d bytes is over the %d-byte limit", size, maxBytes)
	}
	conv := Conversation{Messages: f.Messages, Response: response}
	if f.Prompt != nil {
		conv.Prompt = *f.Prompt
	}
	return conv, nil
}

// scoreItem is one item of POST /v1/rm/score.
type scoreItem struct {
	ID json.RawMessage `json:"id,omitempty"`
	conversationFields
	Response *string `json:"response"`
	Group    string  `json:"group"`
}

// decodeScoreItem reads and checks a /v1/rm/score item.
func decodeScoreItem(raw json.RawMessage, maxBytes int) (scoreItem, Conversation, *reward.Error) {
	var it scoreItem
	if err := decodeObject(raw, &it); err != nil {
		return it, Conversation{}, err
	}
	if it.Response == nil {
		return it, Conversation{}, reward.Errorf(reward.Invalid, "response is missing")
	}
	conv, err := it.conversation(*it.Response, maxBytes)
	return it, conv, err
}

// ifItem is one item of POST /v1/if/verify: IFEval's row format.
type ifItem struct {
	ID json.RawMessage `json:"id,omitempty"`
	ifeval.Input
}

// ifReference is the reference of a /v1/rewards item of domain "if".
type ifReference struct {
	Prompt         *string          `json:"prompt"`
	InstructionIDs []string         `json:"instruction_id_list"`
	Kwargs         []map[string]any `json:"kwargs"`
	Mode           string           `json:"mode"`
	// Messages, when given, is what the reward model reads before the response
	// (a system turn, earlier turns); otherwise it reads the prompt as the
	// user's turn.
	Messages []Message `json:"messages"`
}

// checkIFInput validates an IFEval row and lines its kwargs up with its
// instructions.
func checkIFInput(in *ifeval.Input, maxBytes int) *reward.Error {
	if len(in.InstructionIDs) == 0 {
		return reward.Errorf(reward.Invalid, "instruction_id_list is empty")
	}
	for i, id := range in.InstructionIDs {
		if strings.TrimSpace(id) == "" {
			return reward.Errorf(reward.Invalid, "instruction_id_list[%d] is empty", i)
		}
	}
	switch {
	case in.Kwargs == nil:
		in.Kwargs = make([]map[string]any, len(in.InstructionIDs))
	case len(in.Kwargs) != len(in.InstructionIDs):
		return reward.Errorf(reward.Invalid, "kwargs has %d entries for %d instructions: they go in the same order, one each", len(in.Kwargs), len(in.InstructionIDs))
	}
	for i, kw := range in.Kwargs {
		// Hugging Face's copy of IFEval fills every kwarg of every instruction
		// with null; IFEval itself passes only the ones that were set.
		clean := make(map[string]any, len(kw))
		for k, v := range kw {
			if v != nil {
				clean[k] = v
			}
		}
		in.Kwargs[i] = clean
	}
	if maxBytes > 0 && len(in.Prompt)+len(in.Response) > maxBytes {
		return reward.Errorf(reward.TooLarge, "prompt and response of %d bytes are over the %d-byte limit", len(in.Prompt)+len(in.Response), maxBytes)
	}
	return nil
}

// decodeIFItem reads and checks a /v1/if/verify item.
func decodeIFItem(raw json.RawMessage, maxBytes int) (ifItem, *reward.Error) {
	var it ifItem
	if err := decodeObject(raw, &it); err != nil {
		return it, err
	}
	return it, checkIFInput(&it.Input, maxBytes)
}

// ifRewardRequest is a /v1/rewards item of domain "if", decoded.
type ifRewardRequest struct {
	input    ifeval.Input
	loose    bool
	messages []Message // what the reward model reads before the response
	custom   bool      // messages came from the reference, not the prompt
}

func decodeIFReference(item reward.Item, maxBytes int) (ifRewardRequest, *reward.Error) {
	var ref ifReference
	if err := decodeObject(item.Reference, &ref); err != nil {
		return ifRewardRequest{}, prefixed("reference", err)
	}
	if ref.Prompt == nil {
		return ifRewardRequest{}, reward.Errorf(reward.Invalid, "reference.prompt is missing")
	}
	req := ifRewardRequest{
		input: ifeval.Input{Prompt: *ref.Prompt, Response: item.Response, InstructionIDs: ref.InstructionIDs, Kwargs: ref.Kwargs},
	}
	switch ref.Mode {
	case "", "strict":
	case "loose":
		req.loose = true
	default:
		return req, reward.Errorf(reward.Invalid, "reference.mode %q: want strict or loose", ref.Mode)
	}
	if err := checkIFInput(&req.input, maxBytes); err != nil {
		return req, prefixed("reference", err)
	}
	req.messages = []Message{{Role: "user", Content: *ref.Prompt}}
	if ref.Messages != nil {
		if _, err := (conversationFields{Messages: ref.Messages}).conversation(item.Response, maxBytes); err != nil {
			return req, prefixed("reference", err)
		}
		req.messages, req.custom = ref.Messages, true
	}
	return req, nil
}

// decodeRMReference reads the reference of a /v1/rewards item of domain "rm".
func decodeRMReference(item reward.Item, maxBytes int) (Conversation, *reward.Error) {
	var f conversationFields
	if err := decodeObject(item.Reference, &f); err != nil {
		return Conversation{}, prefixed("reference", err)
	}
	conv, err := f.conversation(item.Response, maxBytes)
	if err != nil {
		return conv, prefixed("reference", err)
	}
	return conv, nil
}

// decodeObject decodes one JSON object (not null, not an array) into v.
func decodeObject(raw json.RawMessage, v any) *reward.Error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return reward.Errorf(reward.Invalid, "want a JSON object, got %s", describeJSON(trimmed))
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		return reward.Errorf(reward.Invalid, "decode: %v", err)
	}
	return nil
}

func describeJSON(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return fmt.Sprintf("%q", short(string(b)))
}

func prefixed(field string, err *reward.Error) *reward.Error {
	return &reward.Error{Code: err.Code, Message: field + ": " + err.Message}
}
