package ifeval

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// args reads one instruction's kwargs with the types the official
// build_description expects. JSON numbers arrive as float64 (or json.Number
// when the caller decodes with UseNumber); null means absent, as harnesses
// that read the Hugging Face copy of IFEval (which fills every key with null)
// treat it.
type args struct {
	m map[string]any
}

// newArgs checks that every non-null key is one that build_description takes:
// Python raises TypeError for an unexpected keyword argument, so we refuse it too.
func newArgs(m map[string]any, allowed []string) (args, error) {
	var unknown []string
	for k, v := range m {
		if v == nil {
			continue
		}
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		if len(allowed) == 0 {
			return args{}, fmt.Errorf("takes no kwargs, got %s", strings.Join(unknown, ", "))
		}
		return args{}, fmt.Errorf("unexpected kwargs %s (accepted: %s)", strings.Join(unknown, ", "), strings.Join(allowed, ", "))
	}
	return args{m: m}, nil
}

// str returns a string kwarg; ok is false when it is absent or null.
func (a args) str(name string) (s string, ok bool, err error) {
	v := a.m[name]
	if v == nil {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, fmt.Errorf("kwarg %s must be a string, got %s", name, jsonType(v))
	}
	return s, true, nil
}

// requiredStr is str where the official code would draw a random value when the
// kwarg is missing: we refuse instead, since a reward must be reproducible.
func (a args) requiredStr(name string) (string, error) {
	s, ok, err := a.str(name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("kwarg %s is required (the official code would pick one at random)", name)
	}
	return s, nil
}

// num returns a numeric kwarg; ok is false when it is absent or null.
func (a args) num(name string) (n float64, ok bool, err error) {
	switch v := a.m[name].(type) {
	case nil:
		return 0, false, nil
	case float64:
		n = v
	case float32:
		n = float64(v)
	case int:
		n = float64(v)
	case int64:
		n = float64(v)
	case json.Number:
		f, perr := v.Float64()
		if perr != nil {
			return 0, false, fmt.Errorf("kwarg %s: %w", name, perr)
		}
		n = f
	default:
		return 0, false, fmt.Errorf("kwarg %s must be a number, got %s", name, jsonType(v))
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false, fmt.Errorf("kwarg %s must be finite", name)
	}
	return n, true, nil
}

// count is a non-negative numeric threshold; the official code draws a random
// one when it is missing or negative, so both are errors here.
func (a args) count(name string) (float64, error) {
	n, ok, err := a.num(name)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("kwarg %s is required (the official code would pick one at random)", name)
	}
	if n < 0 {
		return 0, fmt.Errorf("kwarg %s must be >= 0, got %v (the official code would pick one at random)", name, n)
	}
	return n, nil
}

// strList returns a list-of-strings kwarg; ok is false when absent, null or empty
// (the official code treats an empty list as missing).
func (a args) strList(name string) (list []string, ok bool, err error) {
	v := a.m[name]
	if v == nil {
		return nil, false, nil
	}
	switch l := v.(type) {
	case []string:
		list = l
	case []any:
		for i, e := range l {
			s, isStr := e.(string)
			if !isStr {
				return nil, false, fmt.Errorf("kwarg %s[%d] must be a string, got %s", name, i, jsonType(e))
			}
			list = append(list, s)
		}
	default:
		return nil, false, fmt.Errorf("kwarg %s must be a list of strings, got %s", name, jsonType(v))
	}
	return list, len(list) > 0, nil
}

// relation reads a comparison ("less than" or "at least"), which Python validates.
func (a args) relation(name string) (relation, error) {
	s, err := a.requiredStr(name)
	if err != nil {
		return 0, err
	}
	switch s {
	case "less than":
		return lessThan, nil
	case "at least":
		return atLeast, nil
	}
	return 0, fmt.Errorf(`kwarg %s must be "less than" or "at least", got %q`, name, s)
}

type relation int

const (
	lessThan relation = iota
	atLeast
)

func (r relation) holds(actual int, threshold float64) bool {
	if r == lessThan {
		return float64(actual) < threshold
	}
	return float64(actual) >= threshold
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, float32, int, int64, json.Number:
		return "number"
	case []any, []string:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
