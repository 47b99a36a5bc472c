package sandbox

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
	"github.com/rewardmesh/rewardmesh/shared/reward"
)

// echoPrograms read a line and print it back, one a language: what the
// languages' rows measure is the cost of starting and judging a program.
var echoPrograms = map[Language]string{
	Python:     trivialPython,
	PyPy:       trivialPython,
	Cpp:        trivialCpp,
	Cpp20:      trivialCpp,
	C:          "#include <stdio.h>\nint main(void){char b[64];if(scanf(\"%63s\",b)==1)puts(b);return 0;}\n",
	Java:       "import java.io.*;\npublic class Main {\n  public static void main(String[] a) throws IOException {\n    System.out.println(new BufferedReader(new InputStreamReader(System.in)).readLine());\n  }\n}\n",
	Kotlin:     "fun main() {\n    println(readLine())\n}\n",
	Go:         "package main\n\nimport (\n\t\"bufio\"\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\ts := bufio.NewScanner(os.Stdin)\n\ts.Scan()\n\tfmt.Println(s.Text())\n}\n",
	JavaScript: "console.log(require(\"fs\").readFileSync(0, \"utf8\").split(\"\\n\")[0]);\n",
	TypeScript: "const line: string = require(\"fs\").readFileSync(0, \"utf8\").split(\"\\n\")[0];\nconsole.log(line);\n",
	Rust:       "fn main() {\n    let mut s = String::new();\n    std::io::stdin().read_line(&mut s).unwrap();\n    print!(\"{}\", s);\n}\n",
	Ruby:       "puts gets\n",
	Bash:       "read -r l\necho \"$l\"\n",
}

// benchLanguages writes one row a language, side by side: the time per test
// through the service (one submission of n tests in sequence), the same
// program's own run as the agent times it in the same container (the bare
// process: fork, exec, the runtime's start, exit), and the difference, the
// sandbox's overhead per test. Where this host has the language's runtime
// (python3, pypy3, node, ruby, bash), the program run bare on the host too.
func benchLanguages(ctx context.Context, s *Sandbox, langs []Language, n, rounds int, w io.Writer) error {
	fmt.Fprintf(w, "%-10s  %10s  %12s  %10s  %10s  (ms per test; medians of %d rounds of %d tests)\n",
		"language", "service", "in container", "overhead", "host bare", rounds, n)
	for _, lang := range langs {
		if err := benchLanguage(ctx, s, lang, n, rounds, w); err != nil {
			return err
		}
	}
	return nil
}

func benchLanguage(ctx context.Context, s *Sandbox, lang Language, n, rounds int, w io.Writer) error {
	src, ok := echoPrograms[lang]
	if !ok {
		return fmt.Errorf("bench: no echo program for %s", lang)
	}
	tests := make([]reward.TestCase, n)
	for i := range tests {
		tests[i] = reward.TestCase{Input: fmt.Sprintf("%d\n", i), Output: fmt.Sprintf("%d\n", i)}
	}
	sp, err := s.validateJudge(JudgeItem{Language: string(lang), Source: src, Tests: tests, TimeLimitMS: 5000})
	if err != nil {
		return err
	}
	sp.parallel = 1
	// Warm up: the first submission compiles and fills the pool.
	if res, err := s.judge(ctx, sp); err != nil || res.Verdict != reward.Accepted {
		return fmt.Errorf("bench %s warm-up: %+v, %v", lang, res, err)
	}
	host := hostCommand(lang, src)
	var svc, inside, bare []time.Duration
	for range rounds {
		start := time.Now()
		res, err := s.judge(ctx, sp)
		if err != nil {
			return fmt.Errorf("bench %s: %w", lang, err)
		}
		if res.Verdict != reward.Accepted {
			return fmt.Errorf("bench %s: verdict %s (%s)", lang, res.Verdict, res.CompileOutput)
		}
		svc = append(svc, time.Since(start)/time.Duration(n))
		d, err := s.processTimes(ctx, sp)
		if err != nil {
			return fmt.Errorf("bench %s in the container: %w", lang, err)
		}
		inside = append(inside, d/time.Duration(n))
		if host != nil {
			d, err := host(ctx, tests)
			if err != nil {
				return fmt.Errorf("bench %s on the host: %w", lang, err)
			}
			bare = append(bare, d/time.Duration(n))
		}
	}
	hostCol := "-"
	if len(bare) > 0 {
		hostCol = fmt.Sprintf("%.2f", ms(median(bare)))
	}
	sv, in := median(svc), median(inside)
	fmt.Fprintf(w, "%-10s  %10.2f  %12.2f  %10.2f  %10s\n", lang, ms(sv), ms(in), ms(sv-in), hostCol)
	return nil
}

// processTimes runs the submission's tests in one container straight through
// the agent, without the judge, and sums the wall time the agent measured for
// each program, from its start to its exit.
func (s *Sandbox) processTimes(ctx context.Context, sp judgeSpec) (time.Duration, error) {
	ss, err := s.open(ctx, sp.lang)
	if err != nil {
		return 0, err
	}
	defer ss.close()
	ss.process = true
	prep, err := ss.prepare(ctx, sp.lang, sp.source, false, "", false, nil)
	if err != nil {
		return 0, err
	}
	if prep.compileFailed {
		return 0, fmt.Errorf("compile: %s", prep.compileOutput)
	}
	var total time.Duration
	for _, tc := range sp.tests {
		resp, err := ss.c.Do(ctx, ss.carry(runner.Request{Op: runner.OpRun, Argv: withLimits(prep.argv, sp.limits), Stdin: []byte(tc.Input), Limits: sp.limits}))
		if err != nil {
			return 0, err
		}
		if resp.Status != runner.StatusOK {
			return 0, fmt.Errorf("status %s: %s", resp.Status, resp.Stderr)
		}
		total += time.Duration(resp.WallMicros) * time.Microsecond
	}
	return total, nil
}

// hostCommand runs an interpreted language's program bare on this host when
// the host has its interpreter; nil otherwise (the compiled languages' host
// rows are the Python and C++ rows of Bench).
func hostCommand(lang Language, src string) func(context.Context, []reward.TestCase) (time.Duration, error) {
	var argv []string
	switch lang {
	case Python:
		py, err := BarePython()
		if err != nil {
			return nil
		}
		argv = []string{py, "-c", src}
	case PyPy, Ruby, Bash, JavaScript:
		prog := lang.command("")[0]
		path, err := exec.LookPath(prog)
		if err != nil {
			return nil
		}
		flag := map[string]string{"pypy3": "-c", "ruby": "-e", "bash": "-c", "node": "-e"}[prog]
		argv = []string{path, flag, src}
	default:
		return nil
	}
	return func(ctx context.Context, tests []reward.TestCase) (time.Duration, error) {
		return runBare(ctx, argv, tests)
	}
}
