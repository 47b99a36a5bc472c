// Package lcbconformance holds the proof that `rewardmesh eval lcb` grades
// LiveCodeBench as a correct judge must: it runs the conformance problems and
// generations through the real Docker sandbox and compares every graded_list
// with lcb_expected.json. It is a package of its own so that the evaluator's
// other tests never depend on the sandbox building.
package lcbconformance
