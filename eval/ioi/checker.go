package ioi

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// quotedInclude matches `#include "file"`, the includes a task ships itself.
var quotedInclude = regexp.MustCompile(`^\s*#\s*include\s*"([^"]+)"`)

// CheckerSource turns an IOI (CMS) checker into one self-contained source that
// speaks the sandbox's checker protocol.
//
// A CMS checker is called as `checker input correct_output contestant_output`
// and prints its score, 0 to 1, on stdout and a message on stderr. The sandbox
// calls a checker as testlib's are called, `checker input output answer`, and
// reads its exit code: 0 accepted, 1 wrong, 7 with "points X" first on stderr
// for a share X. The source returned renames the checker's main, calls it with
// the arguments in CMS's order, its stdout and stderr sent to files, and turns
// the score it printed into that exit code when it exits (returning from main
// and testlib's quit both end in exit, where the handler runs). A checker that
// prints no score, or one outside 0-1, exits 3: the sandbox reports the
// checker failing (SE), never a score.
//
// The sandbox compiles a checker as one file, so the headers it includes with
// quotes (testlib.h) are put in its place from the task's files: beside the
// checker first, then by name anywhere among them. A header it needs that the
// task does not ship is an error naming it.
func CheckerSource(src string, files map[string]string) (string, error) {
	var b strings.Builder
	b.WriteString(checkerPrologue)
	b.WriteString("#define main rewardmesh_cms_checker_main\n")
	if err := inline(&b, "checker/checker.cpp", src, files, map[string]bool{}); err != nil {
		return "", err
	}
	b.WriteString("\n#undef main\n")
	b.WriteString(checkerMain)
	return b.String(), nil
}

func inline(b *strings.Builder, name, src string, files map[string]string, done map[string]bool) error {
	done[name] = true
	for _, line := range strings.SplitAfter(src, "\n") {
		m := quotedInclude.FindStringSubmatch(line)
		if m == nil {
			b.WriteString(line)
			continue
		}
		inc, text, ok := findInclude(path.Dir(name), m[1], files)
		if !ok {
			return fmt.Errorf("checker includes %q, which is not among the task's grader files (the sandbox has no testlib.h of its own)", m[1])
		}
		if done[inc] {
			b.WriteString("\n") // included already: its guard would skip it anyway
			continue
		}
		fmt.Fprintf(b, "// rewardmesh: %s inlined\n", inc)
		if err := inline(b, inc, text, files, done); err != nil {
			return err
		}
		b.WriteString("\n")
	}
	return nil
}

func findInclude(dir, name string, files map[string]string) (string, string, bool) {
	if p := path.Join(dir, name); files[p] != "" {
		return p, files[p], true
	}
	if files[name] != "" {
		return name, files[name], true
	}
	base := path.Base(name)
	for p, text := range files {
		if path.Base(p) == base {
			return p, text, true
		}
	}
	return "", "", false
}

const checkerPrologue = `// rewardmesh: an IOI (CMS) checker adapted to testlib's exit codes.
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
static int rewardmesh_stderr = 2;
static void rewardmesh_report(void) {
	fflush(stdout);
	fflush(stderr);
	FILE *f = fopen("cms_checker_stdout.txt", "r");
	double x = -1;
	int got = f ? fscanf(f, "%lf", &x) : 0;
	if (f) fclose(f);
	if (got != 1 || !(x >= 0 && x <= 1)) {
		dprintf(rewardmesh_stderr, "the checker printed no score from 0 to 1 on stdout\n");
		_exit(3);
	}
	if (x >= 1) _exit(0);
	if (x <= 0) _exit(1);
	dprintf(rewardmesh_stderr, "points %.12g\n", x);
	_exit(7);
}
`

const checkerMain = `int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: checker input output answer\n");
		return 3;
	}
	rewardmesh_stderr = dup(2);
	if (rewardmesh_stderr < 0 || !freopen("cms_checker_stdout.txt", "w", stdout) || !freopen("cms_checker_stderr.txt", "w", stderr)) {
		return 3;
	}
	atexit(rewardmesh_report);
	char *cms[] = {argv[0], argv[1], argv[3], argv[2], NULL};
	return rewardmesh_cms_checker_main(4, cms);
}
`
