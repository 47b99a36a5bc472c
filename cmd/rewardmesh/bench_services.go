package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rewardmesh/rewardmesh/services/math/verify"
	"github.com/rewardmesh/rewardmesh/services/sandbox"
	"github.com/rewardmesh/rewardmesh/services/swe"
	"github.com/rewardmesh/rewardmesh/services/trainer"
)

// conformanceFile is the default path of a conformance file: ../shared/conformance
// beside the checkout, as the tests read it.
func conformanceFile(env *environment, parts ...string) string {
	dir := env.getenv("REWARDMESH_CONFORMANCE")
	if dir == "" {
		wd, _ := os.Getwd()
		dir = filepath.Join(filepath.Dir(wd), "shared", "conformance")
	}
	return filepath.Join(append([]string{dir}, parts...)...)
}

// benchSWE times the difflib port against CPython on the same pairs.
func benchSWE(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("bench swe", env)
	pairs := fs.String("pairs", conformanceFile(env, "swe", "difflib_ratio.jsonl"), "string pairs, JSON lines with a and b")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return swe.Bench(ctx, *pairs, env.stdout)
}

// benchSandbox times tests through the sandbox against the same programs run bare.
func benchSandbox(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("bench sandbox", env)
	var opts sandbox.BenchOptions
	fs.IntVar(&opts.Tests, "tests", 200, "runs per overhead measurement")
	fs.IntVar(&opts.Single, "single", 600, "one-run submissions per row of the single-run measurement (1 and 2 clients), per way: enough for a p99 that is not the one slowest run")
	isolation := fs.String("isolation", "process,fork", "the Python isolations measured, each in its own rows (process, fork)")
	fs.StringVar(&opts.LoadFile, "load", conformanceFile(env, "code", "codecontests_load.jsonl"), "CodeContests problems for the throughput run; empty skips it")
	langs := fs.String("languages", "", "only the per-test overhead of these languages, side by side: all, or a comma-separated list (python,java,go,...)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *langs == "all" {
		opts.Languages = sandbox.Languages
	} else if *langs != "" {
		for _, name := range strings.Split(*langs, ",") {
			l, ok := sandbox.ParseLanguage(name)
			if !ok {
				return fmt.Errorf("bench sandbox: unknown language %q", name)
			}
			opts.Languages = append(opts.Languages, l)
		}
	}
	for _, iso := range strings.Split(*isolation, ",") {
		if iso = strings.TrimSpace(iso); iso != "" {
			opts.Isolations = append(opts.Isolations, iso)
		}
	}
	sb, err := sandbox.New(ctx, sandbox.Config{BuildMissing: true})
	if err != nil {
		return err
	}
	defer sb.Close()
	return sandbox.Bench(ctx, sb, opts, env.stdout)
}

// benchTrainer measures tokens/s per policy backend.
func benchTrainer(ctx context.Context, env *environment, args []string) error {
	if err := newFlagSet("bench trainer", env).Parse(args); err != nil {
		return err
	}
	return trainer.Bench(ctx, env.stdout)
}

// benchMath times the verifier per pair over the conformance files, against the
// Math-Verify timings stored with them.
func benchMath(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet("bench math", env)
	dir := fs.String("dir", conformanceFile(env, "math"), "folder of the math conformance files")
	rounds := fs.Int("rounds", 20, "passes over the pairs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	report, err := verify.BenchPairs(ctx, *dir, *rounds)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, report.String())
	return nil
}
