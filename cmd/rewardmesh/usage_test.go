package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every command and subcommand answers -h with its command line and examples on
// stdout, and succeeds without starting anything.
func TestEveryCommandHelp(t *testing.T) {
	var cases [][]string
	for name := range commands() {
		cases = append(cases, []string{name, "-h"})
	}
	for target := range benches() {
		cases = append(cases, []string{"bench", target, "-h"})
	}
	cases = append(cases,
		[]string{"serve", "math", "-h"}, []string{"serve", "gateway", "--help"}, []string{"serve", "trainer", "-h"},
		[]string{"images", "build", "-h"}, []string{"images", "list", "-h"}, []string{"eval", "lcb", "-h"}, []string{"eval", "codeforces", "-h"}, []string{"eval", "ioi", "-h"},
		[]string{"help", "eval", "ioi"},
		[]string{"-h"},
	)
	slices.SortFunc(cases, slices.Compare)
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, errOut, err := runWith(ctx, args...)
			if err != nil {
				t.Fatalf("err = %v\nstderr: %s", err, errOut)
			}
			if errOut != "" {
				t.Errorf("help went to stderr:\n%s", errOut)
			}
			if args[0] == "-h" {
				return // the command list, checked by TestUsageAndBadArguments
			}
			if args[0] == "help" {
				args = args[1:]
			}
			if !strings.HasPrefix(out, "usage: rewardmesh "+args[0]) {
				t.Errorf("stdout does not start with the command line:\n%s", out)
			}
			if !strings.Contains(out, "\nexamples:\n  rewardmesh "+args[0]) {
				t.Errorf("stdout has no examples:\n%s", out)
			}
		})
	}
}

// A bad flag prints the error and the help to stderr, and fails.
func TestBadFlagPrintsHelp(t *testing.T) {
	out, errOut, err := runWith(context.Background(), "stats", "--bogus")
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("err = %v", err)
	}
	if out != "" || !strings.Contains(errOut, "usage: rewardmesh stats") {
		t.Fatalf("stdout %q, stderr %q", out, errOut)
	}
}
