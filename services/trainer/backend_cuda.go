//go:build cuda

package trainer

import (
	"github.com/rewardmesh/rewardmesh/services/trainer/cuda"
	"github.com/rewardmesh/rewardmesh/services/trainer/policy"
)

// Only a -tags cuda build knows the cuda backend; see backends.
func init() {
	backends["cuda"] = func(spec policy.Spec, st policy.State, _ Config) (policy.Backend, error) {
		return cuda.NewPolicy(spec, st)
	}
}
