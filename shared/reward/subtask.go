package reward

// Subtask is a group of a code item's tests worth points, IOI's way: the
// indices of its tests in the item's tests. The sandbox scores it and eval
// reads the score, so both speak this one type.
type Subtask struct {
	Name   string  `json:"name,omitempty"`
	Points float64 `json:"points"`
	Tests  []int   `json:"tests"`
}

// SubtaskResult is a subtask's outcome: Points times the lowest test score,
// and the first verdict among its tests that is not AC (else AC).
type SubtaskResult struct {
	Name    string  `json:"name,omitempty"`
	Points  float64 `json:"points"`
	Score   float64 `json:"score"`
	Verdict Verdict `json:"verdict"`
}
