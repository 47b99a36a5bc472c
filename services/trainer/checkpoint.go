package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

const (
	checkpointFile   = "checkpoint.json"
	checkpointFormat = 1
)

// checkpoint is everything a killed run needs to continue as if it had not stopped:
// the policy and Adam state, the step and the sampler's RNG, and the groups published
// but not yet trained on, with every reward applied to them so far. Rewards are
// acknowledged on the results stream only once a checkpoint holding them (or the
// update they went into) is on disk.
type checkpoint struct {
	Format  int          `json:"format"`
	Run     string       `json:"run"`
	Task    string       `json:"task"`
	Spec    policy.Spec  `json:"spec"`
	Prompts int          `json:"prompts"`
	Group   int          `json:"group"`
	LR      float64      `json:"lr"`
	Clip    float64      `json:"clip"`
	Stale   int          `json:"staleness"`
	Step    int          `json:"step"`    // updates applied: the policy version
	Sampled int          `json:"sampled"` // steps whose groups have been sampled and published
	Policy  policy.State `json:"policy"`
	RNG     []byte       `json:"rng"`
	Pending []*group     `json:"pending"`

	// A cascade stage's: its tasks (empty for sort3 alone), the network's layout,
	// the max response length, the sampling temperature and the prompt pool.
	Tasks       []string    `json:"tasks,omitempty"`
	Layout      *layout     `json:"layout,omitempty"`
	MaxLen      int         `json:"max_len,omitempty"`
	Temperature float64     `json:"temperature,omitempty"`
	Pool        *promptPool `json:"pool,omitempty"`
}

// taskIndexes are the cascade indexes of a stage's task names.
func taskIndexes(names []string) ([]int, error) {
	out := make([]int, len(names))
	for i, n := range names {
		ti, _, ok := lookupTask(n)
		if !ok {
			return nil, fmt.Errorf("task %q: want one of %v", n, TaskNames())
		}
		out[i] = ti
	}
	return out, nil
}

// checkPrompt rejects a prompt that is not one of a stage task's.
func checkPrompt(taskIndex int, prompt []int32, tasks []int) error {
	if !slices.Contains(tasks, taskIndex) {
		return fmt.Errorf("a prompt of task %d, not one of the stage's", taskIndex)
	}
	if len(prompt) != cascadeTasks[taskIndex].PromptLen() {
		return errors.New("a prompt of the wrong length")
	}
	for _, p := range prompt {
		if p < 0 || p > 9 {
			return errors.New("a prompt holds a non-digit")
		}
	}
	return nil
}

// writeCheckpoint replaces dir/checkpoint.json atomically: a crash leaves the old
// file or the new one, never a torn one.
func writeCheckpoint(dir string, c *checkpoint) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	return writeAtomic(filepath.Join(dir, checkpointFile), data)
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// readCheckpoint loads dir/checkpoint.json; os.ErrNotExist when there is none.
func readCheckpoint(dir string) (*checkpoint, error) {
	data, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil {
		return nil, err
	}
	var c checkpoint
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("decode checkpoint: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", filepath.Join(dir, checkpointFile), err)
	}
	return &c, nil
}

// check rejects a checkpoint whose parts do not fit together, so a corrupt or
// hand-edited file fails at load rather than as an index panic mid-run.
func (c *checkpoint) check() error {
	if c.Format != checkpointFormat {
		return fmt.Errorf("format %d, want %d", c.Format, checkpointFormat)
	}
	if !validRunID(c.Run) {
		return fmt.Errorf("bad run id %q", c.Run)
	}
	if len(c.Tasks) > 0 {
		return c.checkStage()
	}
	if c.Layout != nil || c.Pool != nil || c.MaxLen != 0 {
		return errors.New("a sort3 checkpoint with a cascade stage's layout or prompt pool")
	}
	if c.Task != "sort3" {
		return fmt.Errorf("task %q", c.Task)
	}
	if !sameTaskShape(c.Spec, sort3Spec(c.Spec.Embed, c.Spec.Hidden)) {
		return fmt.Errorf("spec %+v is not a sort3 network", c.Spec)
	}
	if err := c.Spec.Validate(); err != nil {
		return err
	}
	if err := c.Policy.Check(c.Spec); err != nil {
		return err
	}
	if c.Step < 0 || c.Sampled < c.Step || c.Prompts <= 0 || c.Group < 2 {
		return fmt.Errorf("step %d sampled %d prompts %d group %d do not fit", c.Step, c.Sampled, c.Prompts, c.Group)
	}
	for _, g := range c.Pending {
		if g == nil || g.Step < c.Step || g.Step >= c.Sampled || g.Task != 0 || g.Epoch != 0 || len(g.Prompt) != sort3Digits ||
			len(g.Responses) != c.Group || len(g.OldLogp) != c.Group || len(g.Rewards) != c.Group || len(g.Have) != c.Group || (g.Failed != nil && len(g.Failed) != c.Group) {
			return errors.New("a pending group does not fit the run")
		}
		for j := range g.Responses {
			if len(g.Responses[j]) != sort3Response || len(g.OldLogp[j]) != sort3Response {
				return errors.New("a pending response does not fit the run")
			}
			for _, a := range g.Responses[j] {
				if a < 0 || int(a) >= c.Spec.Actions {
					return errors.New("a pending response holds a token outside the actions")
				}
			}
		}
		for _, p := range g.Prompt {
			if p < 0 || p > 9 {
				return errors.New("a pending prompt holds a non-digit")
			}
		}
	}
	return nil
}

// checkStage is check for a cascade stage's checkpoint.
func (c *checkpoint) checkStage() error {
	tasks, err := taskIndexes(c.Tasks)
	if err != nil {
		return err
	}
	if c.Layout == nil || !c.Layout.TaskToken || c.Layout.PromptSlots != maxPromptLen() || c.Layout.ResponseSlots < 0 || c.Layout.ResponseSlots > 64 {
		return errors.New("a cascade checkpoint without a cascade layout")
	}
	if c.MaxLen < 1 || c.MaxLen > c.Layout.ResponseSlots+1 || c.Temperature < 0 {
		return fmt.Errorf("max_len %d temperature %v do not fit", c.MaxLen, c.Temperature)
	}
	if !sameTaskShape(c.Spec, c.Layout.spec(c.Spec.Embed, c.Spec.Hidden)) {
		return fmt.Errorf("spec %+v is not the layout's network", c.Spec)
	}
	if err := c.Spec.Validate(); err != nil {
		return err
	}
	if err := c.Policy.Check(c.Spec); err != nil {
		return err
	}
	if c.Step < 0 || c.Sampled < c.Step || c.Prompts <= 0 || c.Group < 2 {
		return fmt.Errorf("step %d sampled %d prompts %d group %d do not fit", c.Step, c.Sampled, c.Prompts, c.Group)
	}
	if c.Pool == nil {
		return errors.New("a cascade checkpoint without its prompt pool")
	}
	if err := c.Pool.check(tasks); err != nil {
		return err
	}
	for _, g := range c.Pending {
		if g == nil || g.Step < c.Step || g.Step >= c.Sampled ||
			len(g.Responses) != c.Group || len(g.OldLogp) != c.Group || len(g.Rewards) != c.Group || len(g.Have) != c.Group || (g.Failed != nil && len(g.Failed) != c.Group) {
			return errors.New("a pending group does not fit the run")
		}
		if err := checkPrompt(g.Task, g.Prompt, tasks); err != nil {
			return err
		}
		n := cascadeTasks[g.Task].ResponseLen(c.MaxLen)
		for j := range g.Responses {
			if len(g.Responses[j]) != n || len(g.OldLogp[j]) != n {
				return errors.New("a pending response does not fit the run")
			}
			for _, a := range g.Responses[j] {
				if a < 0 || int(a) >= c.Spec.Actions {
					return errors.New("a pending response holds a token outside the actions")
				}
			}
		}
	}
	return nil
}
