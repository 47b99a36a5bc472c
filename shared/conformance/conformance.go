// Package conformance finds the conformance data that lives beside the checkout
// (../shared/conformance), for tests to read as it is.
package conformance

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the conformance folder: $REWARDMESH_CONFORMANCE, or shared/conformance
// beside the repository that holds the working directory. When it is absent the
// test is skipped with a reason, unless REWARDMESH_REQUIRE_CONFORMANCE is set (CI
// sets it), in which case the test fails.
func Dir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("REWARDMESH_CONFORMANCE"); dir != "" {
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isRepoRoot(dir) {
			candidate := filepath.Join(filepath.Dir(dir), "shared", "conformance")
			if st, err := os.Stat(candidate); err == nil && st.IsDir() {
				return candidate
			}
		}
		if parent := filepath.Dir(dir); parent == dir {
			break
		}
	}
	if os.Getenv("REWARDMESH_REQUIRE_CONFORMANCE") != "" {
		t.Fatalf("conformance data not found beside the checkout (../shared/conformance)")
	}
	t.Skip("conformance data not found beside the checkout (../shared/conformance); set REWARDMESH_CONFORMANCE")
	return ""
}

// Path is Dir joined with parts.
func Path(t testing.TB, parts ...string) string {
	t.Helper()
	return filepath.Join(append([]string{Dir(t)}, parts...)...)
}

// isRepoRoot reports whether dir is the root of the rewardmesh checkout: it holds
// go.work (the tests module's go.mod sits one level below it).
func isRepoRoot(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "go.work"))
	return err == nil
}
