module github.com/rewardmesh/rewardmesh/tests

go 1.26.8

require github.com/rewardmesh/rewardmesh v0.0.0

replace github.com/rewardmesh/rewardmesh => ../
