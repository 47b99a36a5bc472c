package sandbox

import (
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/rewardmesh/rewardmesh/services/sandbox/runner"
)

// Language is a language the sandbox judges.
type Language string

const (
	Python     Language = "python"
	PyPy       Language = "pypy3" // PyPy 3: Python with a JIT
	Cpp        Language = "cpp"   // C++17, with bits/stdc++.h precompiled
	Cpp20      Language = "cpp20" // C++20
	C          Language = "c"     // C17 with GNU extensions
	Java       Language = "java"  // OpenJDK 17
	Kotlin     Language = "kotlin"
	Go         Language = "go"
	JavaScript Language = "javascript" // Node.js
	TypeScript Language = "typescript" // transpiled to JavaScript, run by Node.js
	Rust       Language = "rust"       // edition 2021
	Ruby       Language = "ruby"
	Bash       Language = "bash"
)

// Languages are the languages the sandbox runs.
var Languages = []Language{Python, PyPy, Cpp, Cpp20, C, Java, Kotlin, Go, JavaScript, TypeScript, Rust, Ruby, Bash}

// The images that run more than one language, or one under another name (see
// image); the other languages' images bear their own names.
const (
	nodeImage Language = "node"
	pypyImage Language = "pypy"
)

// ParseLanguage accepts the API's language names and the usual aliases:
// SandboxFusion's (nodejs, js, ts, go, ...) and LeetCode's, which LiveCodeBench
// uses (python3, golang, javascript, ...).
func ParseLanguage(s string) (Language, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "python", "python3", "py", "py3", "cpython":
		return Python, true
	case "pypy3", "pypy", "pypy 3":
		return PyPy, true
	case "cpp", "c++", "cc", "cxx", "c++17", "cpp17", "c++14", "cpp14", "c++11", "cpp11", "gnu++17":
		return Cpp, true
	case "cpp20", "c++20", "c++2a", "cpp2a", "gnu++20":
		return Cpp20, true
	case "c", "gcc", "c17", "c11", "c99":
		return C, true
	case "java", "java17", "java 17", "openjdk":
		return Java, true
	case "kotlin", "kt":
		return Kotlin, true
	case "go", "golang":
		return Go, true
	case "javascript", "js", "nodejs", "node", "node.js":
		return JavaScript, true
	case "typescript", "ts":
		return TypeScript, true
	case "rust", "rs":
		return Rust, true
	case "ruby", "rb":
		return Ruby, true
	case "bash", "sh", "shell":
		return Bash, true
	}
	return "", false
}

// languageNames lists the languages for an error message.
func languageNames() string {
	names := make([]string, len(Languages))
	for i, l := range Languages {
		names[i] = string(l)
	}
	return strings.Join(names, ", ")
}

// image is the image (and pool of containers) that runs l: the C++ image has
// gcc and g++, the Java image kotlinc, the Node image TypeScript's transpiler,
// and the Python image bash.
func (l Language) image() Language {
	switch l {
	case Cpp, Cpp20, C:
		return Cpp
	case Java, Kotlin:
		return Java
	case JavaScript, TypeScript:
		return nodeImage
	case PyPy:
		return pypyImage
	case Go, Rust, Ruby:
		return l
	}
	return Python
}

// compiled reports whether l is compiled to an artifact before it runs.
func (l Language) compiled() bool {
	switch l {
	case Cpp, Cpp20, C, Java, Kotlin, Go, Rust, TypeScript:
		return true
	}
	return false
}

// jvm reports whether l runs on the JVM.
func (l Language) jvm() bool { return l == Java || l == Kotlin }

// compiler is the C family's compile command up to its output and sources; the
// C++17 flags are the ones the image's precompiled bits/stdc++.h was built with.
// Programs link dynamically: a static binary (2 MB) would start faster, but
// the agent decodes each binary it is sent, and its memory's peak is carried
// into every later program's ru_maxrss (see runner.freeMemory), so every C++
// run would report some 25 MB.
func (l Language) compiler() []string {
	switch l {
	case Cpp:
		return []string{"g++", "-O2", "-std=c++17", "-pipe"}
	case Cpp20:
		return []string{"g++", "-O2", "-std=c++20", "-pipe"}
	case C:
		return []string{"gcc", "-O2", "-std=gnu17", "-pipe"}
	}
	return nil
}

// libraries are linked after the sources.
func (l Language) libraries() []string {
	if l == C {
		return []string{"-lm"}
	}
	return nil
}

// sourceFile is where the program's source goes (for Java, the default; see
// sourceFor).
func (l Language) sourceFile() string {
	switch l {
	case Python, PyPy:
		return solutionFile
	case Bash:
		return "main.sh"
	case C:
		return "main.c"
	case Java:
		return "Main.java"
	case Kotlin:
		return "main.kt"
	case Go:
		return "main.go"
	case JavaScript:
		return "main.js"
	case TypeScript:
		return "main.ts"
	case Rust:
		return "main.rs"
	case Ruby:
		return "main.rb"
	}
	return "main.cpp"
}

// sourceFor is where a compiled program called name goes: a Java file is named
// after its public class, as javac requires.
func (l Language) sourceFor(name, source string) string {
	if l == Java {
		return javaClasses(source).file
	}
	return name + path.Ext(l.sourceFile())
}

// artifact is what compiling a program called name makes: a binary, a jar
// (the JVM languages) or a JavaScript file (TypeScript).
func (l Language) artifact(name string) string {
	switch {
	case l.jvm():
		return name + ".jar"
	case l == TypeScript:
		return name + ".js"
	}
	return name
}

// compileCommand compiles src (and the C family's extra sources) to out.
func (l Language) compileCommand(src, out, source string, extra []string) []string {
	switch l {
	case Java:
		// javac writes a class file a class; the jar holds them all and names
		// the class whose main runs.
		return []string{"sh", "-c", javaBuild, "javac", javaClasses(source).main, out, src}
	case Kotlin:
		return []string{"kotlinc", "-nowarn", src, "-include-runtime", "-d", out}
	case Go:
		return []string{"go", "build", "-o", out, src}
	case Rust:
		return []string{"rustc", "-O", "--edition", "2021", "-C", "debuginfo=0", "-C", "strip=debuginfo", "-o", out, src}
	case TypeScript:
		return []string{"node", "-e", tsTranspile, src, out}
	}
	argv := append(append([]string{}, l.compiler()...), "-o", out, src)
	return append(append(argv, extra...), l.libraries()...)
}

// javaBuild compiles $3 into a jar $2 whose entry point is $1. The compiler's
// JVM stops at the first JIT tier: a short compile spends its time starting,
// and tier 1 starts fastest.
const javaBuild = `set -e
rm -rf .classes && mkdir .classes
javac -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC -encoding UTF-8 -d .classes "$3"
jar -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC --create --no-compress --file "$2" --main-class "$1" -C .classes .
rm -rf .classes`

// tsTranspile turns TypeScript ($1) into JavaScript ($2) with the compiler's
// transpiler, as ts-node --transpile-only and tsx do: no type check, so a
// program needs no type declarations (Node's own are not packaged), but a
// syntax error is a compile error.
const tsTranspile = `const ts = require("typescript"), fs = require("fs");
const [src, out] = process.argv.slice(1);
const res = ts.transpileModule(fs.readFileSync(src, "utf8"), {
  fileName: src, reportDiagnostics: true,
  compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS },
});
const errors = (res.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
for (const d of errors) {
  const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
  console.error(src + "(" + (at.line + 1) + "," + (at.character + 1) + "): error TS" + d.code + ": " + ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}
if (errors.length) process.exit(1);
fs.writeFileSync(out, res.outputText);`

// command runs a compiled program's artifact, or an interpreted program's
// source, before the limits' flags (withLimits) go in.
func (l Language) command(file string) []string {
	switch l {
	case Python:
		return []string{"python3", file}
	case PyPy:
		return []string{"pypy3", file}
	case Bash:
		return []string{"bash", file}
	case Ruby:
		return []string{"ruby", file}
	case JavaScript, TypeScript:
		return []string{"node", file}
	case Java, Kotlin:
		// One GC thread and no shared performance file: a test's threads and
		// files count against it. Contest judges give the JVM a large stack.
		return []string{"java", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xss64m", "-jar", file}
	}
	return []string{"./" + file}
}

// withLimits adds the flags a runtime sizes its heap by: the JVM's -Xmx and
// V8's old space, each the run's memory limit, so the runtime collects
// garbage before it reaches the limit instead of growing past it.
func withLimits(argv []string, lim runner.Limits) []string {
	if len(argv) == 0 || lim.MemoryBytes <= 0 {
		return argv
	}
	mb := strconv.FormatInt(max(16, lim.MemoryBytes>>20), 10)
	var flag string
	switch argv[0] {
	case "java":
		flag = "-Xmx" + mb + "m"
	case "node":
		flag = "--max-old-space-size=" + mb
	default:
		return argv
	}
	return append([]string{argv[0], flag}, argv[1:]...)
}

// jvmTimeFactor scales the JVM languages' time limits: contest judges give
// Java and Kotlin twice C++'s time (the JVM's start and JIT warm-up cost
// hundreds of milliseconds of CPU before a program's own work).
const jvmTimeFactor = 2

// limits adapts a run's limits to l: the JVM's longer time, and no
// address-space limit for the runtimes that reserve far more address space
// than they use (the JVM, V8, Go's). Their memory is still bounded: the agent
// meters all the run's processes together against MemoryBytes.
func (l Language) limits(lim runner.Limits) runner.Limits {
	if l.jvm() {
		lim.CPUMillis *= jvmTimeFactor
		lim.WallMillis *= jvmTimeFactor
	}
	if l.reservesAddressSpace() {
		lim.AddressSpaceBytes = -1
	}
	return lim
}

// compileLimits are a compile's limits for l (see limits). The compilers of
// the languages past the C family run on runtimes that reserve address space
// (javac and kotlinc on the JVM, the TypeScript transpiler on V8, go on Go's),
// or use much of it at once (rustc with LLVM).
func (l Language) compileLimits(lim runner.Limits) runner.Limits {
	if l.compiled() && l.compiler() == nil {
		lim.AddressSpaceBytes = -1
	}
	return lim
}

func (l Language) reservesAddressSpace() bool {
	switch l {
	case Java, Kotlin, Go, JavaScript, TypeScript:
		return true
	}
	return false
}

// outOfMemory reports whether a program that failed ran out of memory, by its
// runtime's own report: under an address-space limit an allocation fails
// inside the program (Python's MemoryError, C++'s std::bad_alloc); a runtime
// with a heap limit reports reaching it.
func outOfMemory(lang Language, resp runner.Response) bool {
	stderr := string(resp.Stderr)
	switch lang {
	case Python, PyPy:
		return strings.HasPrefix(lastLine(stderr), "MemoryError")
	case Cpp, Cpp20:
		return resp.Signal == int(syscall.SIGABRT) && strings.Contains(stderr, "std::bad_alloc")
	case Java, Kotlin:
		// Not "unable to create native thread": that is the process limit.
		return strings.Contains(stderr, "java.lang.OutOfMemoryError") && !strings.Contains(stderr, "native thread")
	case JavaScript, TypeScript:
		return strings.Contains(stderr, "JavaScript heap out of memory")
	case Go:
		return strings.Contains(stderr, "fatal error: runtime: out of memory")
	case Rust:
		return strings.Contains(stderr, "memory allocation of ") && strings.Contains(stderr, " failed")
	case Ruby:
		return strings.Contains(stderr, "NoMemoryError") || strings.Contains(stderr, "failed to allocate memory")
	case Bash:
		return strings.Contains(stderr, "xmalloc: ") || strings.Contains(stderr, "xrealloc: ")
	}
	return false
}
