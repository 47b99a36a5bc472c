package main

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The import rules of the README's layout table, checked on every Go file of
// the module: build-tagged ones too (the cuda trainer, the Linux-only agent),
// which `go list` on this machine would leave out.

// layoutViolation says why package pkg (relative to the module root, such as
// "services/math") may not import imp (a full import path), or "" when it may.
// test says whether the import is in pkg's tests.
func layoutViolation(modulePath, pkg, imp string, test bool) string {
	dep, local := strings.CutPrefix(imp, modulePath+"/")
	switch {
	case within(pkg, "shared/reward") && strings.Contains(strings.Split(imp, "/")[0], "."):
		return "shared/reward is the domain every service shares: it imports the standard library only"
	case within(pkg, "shared") && local && !within(dep, "shared"):
		return "every service imports shared/, so shared/ imports nothing of the module outside shared/"
	case within(pkg, "services/gateway") && local && within(dep, "services") && !within(dep, "services/gateway"):
		return "the gateway reaches services through their NATS subjects (shared/mesh), never their packages"
	case within(pkg, "services") && local && (within(dep, "services") && !within(dep, serviceOf(pkg)) || within(dep, "eval") || within(dep, "cmd")):
		return "a service imports no other service, the evaluator or a command: services talk over NATS, and a type two of them need belongs in shared/reward"
	case within(pkg, "eval") && !test && local && (within(dep, "services") || within(dep, "cmd")):
		return "the evaluator is a client of the mesh (the gateway's HTTP API, the sandbox's NATS subjects); only its tests may start a service"
	}
	return ""
}

// within reports whether p is dir or inside it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// serviceOf is the service folder a package under services/ belongs to.
func serviceOf(pkg string) string {
	parts := strings.SplitN(pkg, "/", 3)
	return path.Join(parts[0], parts[1])
}

func TestLayoutRules(t *testing.T) {
	const mod = "example.com/m"
	cases := []struct {
		pkg, imp string
		test     bool
		bad      bool
	}{
		{"shared/mesh", mod + "/shared/reward", false, false},
		{"shared/mesh", "github.com/nats-io/nats.go", false, false},
		{"shared/node", mod + "/services/gateway", false, true},
		{"shared/mesh", mod + "/services/math/verify", true, true},
		{"shared/cache", mod + "/eval", false, true},
		{"shared/reward", "encoding/json", false, false},
		{"shared/reward", "github.com/nats-io/nats.go", false, true},
		{"services/math", mod + "/services/math/verify", false, false},
		{"services/math", mod + "/shared/reward", false, false},
		{"services/sandbox/images", mod + "/sandbox-images", false, false},
		{"services/trainer", mod + "/services/math", false, true},
		{"services/rm/ifeval", mod + "/services/swe/difflib", true, true},
		{"services/swe", mod + "/eval/lcb", false, true},
		{"services/gateway", mod + "/services/sandbox", false, true},
		{"services/gateway/x", mod + "/services/gateway", false, false},
		{"eval", mod + "/shared/mesh", false, false},
		{"eval/lcb", mod + "/services/sandbox", false, true},
		{"eval/lcbconformance", mod + "/services/sandbox", true, false},
		{"cmd/rewardmesh", mod + "/services/sandbox", false, false},
		{"cmd/rewardmesh/internal/node", mod + "/services/gateway", false, false},
	}
	for _, tc := range cases {
		why := layoutViolation(mod, tc.pkg, tc.imp, tc.test)
		if (why != "") != tc.bad {
			t.Errorf("%s imports %s (test %v): violation %q, want one: %v", tc.pkg, tc.imp, tc.test, why, tc.bad)
		}
	}
}

// TestLayout holds the tree to the rules.
func TestLayout(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	modulePath := readModulePath(t, filepath.Join(root, "go.mod"))
	fset := token.NewFileSet()
	files := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || fileExists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir // not this module's packages
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		rel, _ := filepath.Rel(root, p)
		pkg := filepath.ToSlash(filepath.Dir(rel))
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			if why := layoutViolation(modulePath, pkg, imp, strings.HasSuffix(p, "_test.go")); why != "" {
				t.Errorf("%s imports %s: %s", filepath.ToSlash(rel), imp, why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("read only %d Go files under %s: is that the module root?", files, root)
	}
}

func readModulePath(t *testing.T, goMod string) string {
	t.Helper()
	f, err := os.Open(goMod)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.TrimSpace(mod)
		}
	}
	t.Fatalf("%s names no module", goMod)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
