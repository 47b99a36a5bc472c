//go:build race

package trainer

// raceEnabled: the race detector slows the policy's arithmetic several-fold.
const raceEnabled = true
