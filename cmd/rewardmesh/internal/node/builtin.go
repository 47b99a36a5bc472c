package node

import (
	mathsvc "github.com/rewardmesh/rewardmesh/services/math"
	"github.com/rewardmesh/rewardmesh/services/rm"
	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/services/swe"
)

// services are the services a node can run, in start order, each with how it
// starts. Each reads its settings from REWARDMESH_* variables (its README lists
// them), so that `up`, `serve` and docker-compose configure them the same way.
func services() []service {
	return []service{
		{mathsvc.Name, startWith(mathsvc.ConfigFromEnv, mathsvc.New)},
		{rm.Name, startWith(rm.ConfigFromEnv, rm.New)},
		{sandbox.ServiceName, startWith(sandbox.ConfigFromEnv, sandbox.New, func(c *sandbox.Config, env Env) {
			c.Logger, c.Metrics = env.Log, env.Metrics
		})},
		{swe.Name, startWith(swe.ConfigFromEnv, swe.New)},
	}
}
