package scoring

import (
	"encoding/json"
	"testing"
)

// FuzzWithID: setting an id never loses the result's other fields.
func FuzzWithID(f *testing.F) {
	f.Add([]byte(`{"correct":true,"reward":1}`), []byte(`"a"`))
	f.Add([]byte(`{"id":3}`), []byte(`null`))
	f.Add([]byte(`[1]`), []byte(`7`))
	f.Fuzz(func(t *testing.T, result, id []byte) {
		out := withID(result, id)
		var before, after map[string]json.RawMessage
		if json.Unmarshal(result, &before) != nil {
			return
		}
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("withID(%q, %q) = %q: %v", result, id, out, err)
		}
		for k := range before {
			if k != "id" {
				if _, ok := after[k]; !ok {
					t.Fatalf("withID lost %q", k)
				}
			}
		}
	})
}
