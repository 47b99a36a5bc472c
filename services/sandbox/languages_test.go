package sandbox

import (
	"slices"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/sandbox/images"
	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
)

func TestParseLanguageAliases(t *testing.T) {
	for name, want := range map[string]Language{
		// SandboxFusion's names.
		"python": Python, "cpp": Cpp, "java": Java, "go": Go, "nodejs": JavaScript, "js": JavaScript,
		"typescript": TypeScript, "ts": TypeScript, "rust": Rust, "ruby": Ruby, "bash": Bash,
		// LeetCode's, as LiveCodeBench names them.
		"python3": Python, "golang": Go, "javascript": JavaScript, "kotlin": Kotlin, "c": C, "C++": Cpp,
		"pypy3": PyPy, "PyPy": PyPy, " Java ": Java, "cpp20": Cpp20,
	} {
		if got, ok := ParseLanguage(name); !ok || got != want {
			t.Errorf("ParseLanguage(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "cobol", "kotlin_script", "go_test", "pytest"} {
		if got, ok := ParseLanguage(name); ok {
			t.Errorf("ParseLanguage(%q) = %q, want none", name, got)
		}
	}
}

// Every language runs in an image the images package builds, under its own
// name; every language has an echo program for the bench.
func TestLanguagesHaveImages(t *testing.T) {
	for _, l := range Languages {
		if !slices.Contains(images.Languages, images.Language(l.image())) {
			t.Errorf("%s runs in image %q, which images.Languages does not build", l, l.image())
		}
		if got, ok := ParseLanguage(string(l)); !ok || got != l {
			t.Errorf("ParseLanguage(%q) = %q, %v", l, got, ok)
		}
		if echoPrograms[l] == "" {
			t.Errorf("%s has no echo program for the bench", l)
		}
	}
}

func TestLanguageLimits(t *testing.T) {
	lim := runner.Limits{CPUMillis: 1000, WallMillis: 1500, MemoryBytes: 256 << 20}
	for _, tc := range []struct {
		lang      Language
		cpu, wall int64
		as        int64
	}{
		{Python, 1000, 1500, 0}, {Cpp, 1000, 1500, 0}, {Rust, 1000, 1500, 0}, {Ruby, 1000, 1500, 0},
		{Java, 2000, 3000, -1}, {Kotlin, 2000, 3000, -1}, {Go, 1000, 1500, -1},
		{JavaScript, 1000, 1500, -1}, {TypeScript, 1000, 1500, -1},
	} {
		got := tc.lang.limits(lim)
		if got.CPUMillis != tc.cpu || got.WallMillis != tc.wall || got.AddressSpaceBytes != tc.as || got.MemoryBytes != lim.MemoryBytes {
			t.Errorf("%s: %+v, want cpu %d wall %d address space %d", tc.lang, got, tc.cpu, tc.wall, tc.as)
		}
	}
	if got := Cpp.compileLimits(compileLimits); got.AddressSpaceBytes != 0 {
		t.Errorf("g++ compiles under RLIMIT_AS, got %+v", got)
	}
	if got := Java.compileLimits(compileLimits); got.AddressSpaceBytes != -1 {
		t.Errorf("javac runs on the JVM, got %+v", got)
	}
}

func TestWithLimits(t *testing.T) {
	lim := runner.Limits{MemoryBytes: 256 << 20}
	if got := withLimits(Java.command("main.jar"), lim); got[0] != "java" || got[1] != "-Xmx256m" || got[len(got)-1] != "main.jar" {
		t.Errorf("java: %q", got)
	}
	if got := withLimits(JavaScript.command("main.js"), lim); !slices.Equal(got, []string{"node", "--max-old-space-size=256", "main.js"}) {
		t.Errorf("node: %q", got)
	}
	if got := withLimits(Go.command("main"), lim); !slices.Equal(got, []string{"./main"}) {
		t.Errorf("go: %q", got)
	}
	argv := Java.command("main.jar")
	_ = withLimits(argv, lim)
	if argv[1] == "-Xmx256m" {
		t.Errorf("withLimits changed its argument: %q", argv)
	}
}
