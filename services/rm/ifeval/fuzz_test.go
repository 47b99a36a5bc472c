package ifeval

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzCheck feeds random responses and random kwargs (any JSON object) to every
// instruction: Check must either refuse the input with ErrInvalid or return one
// verdict per instruction, never panic.
func FuzzCheck(f *testing.F) {
	f.Add("Hello, world.\n\n* a\n* b", uint8(0), `{"keywords":["a(b"]}`)
	f.Add("SECTION 1 x", uint8(14), `{"section_spliter":"[","num_sections":1}`)
	f.Add("P.S. hi", uint8(10), `{"postscript_marker":"(?P<x>"}`)
	f.Add("text", uint8(3), `{"letter":"é","let_frequency":-1,"let_relation":"at least"}`)
	f.Add("```json\n[NaN]\n```", uint8(15), `{}`)
	f.Add("a\n\nb", uint8(8), `{"num_paragraphs":2,"nth_paragraph":1.5,"first_word":"a"}`)
	f.Add("x", uint8(20), `{"capital_frequency":1e308,"capital_relation":"at least","extra":null}`)
	ids := Instructions()
	f.Fuzz(func(t *testing.T, response string, pick uint8, kwargsJSON string) {
		var kwargs map[string]any
		if json.Unmarshal([]byte(kwargsJSON), &kwargs) != nil {
			return
		}
		id := ids[int(pick)%len(ids)]
		out, err := Check(Input{Prompt: "p", Response: response, InstructionIDs: []string{id}, Kwargs: []map[string]any{kwargs}})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s %s: error %v does not wrap ErrInvalid", id, kwargsJSON, err)
			}
			return
		}
		if len(out.Strict.FollowList) != 1 || len(out.Loose.FollowList) != 1 {
			t.Fatalf("%s: verdict lists %v %v", id, out.Strict.FollowList, out.Loose.FollowList)
		}
		// Loose tries the response itself first, so it never loses a strict pass.
		if out.Strict.FollowList[0] && !out.Loose.FollowList[0] {
			t.Fatalf("%s %s on %q: strict passes but loose fails", id, kwargsJSON, response)
		}
	})
}
