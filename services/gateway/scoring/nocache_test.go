package scoring

import (
	"encoding/json"
	"testing"
)

// A result its service marks no_cache (a math verdict a model judge was asked
// about) is not stored: served to a mesh with another judge, or none, it would
// be a verdict nobody there gave.
func TestNoCacheResultsAreNotCached(t *testing.T) {
	for result, uncached := range map[string]bool{
		`{"correct":true,"reward":1,"decided_by":"rules"}`:                   false,
		`{"correct":true,"reward":1,"decided_by":"judge","no_cache":true}`:   true,
		`{"id":"a","reward":1,"domain":"math","details":{},"no_cache":true}`: true,
		`{"reward":0,"no_cache":false}`:                                      false,
		`{"error":{"code":"busy","message":"every replica is busy"}}`:        true,
	} {
		if got := hasError(json.RawMessage(result)); got != uncached {
			t.Errorf("%s: not cached %v, want %v", result, got, uncached)
		}
	}
}
