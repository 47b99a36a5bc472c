package sandbox

import (
	"slices"
	"strings"
)

// Language is a language the sandbox judges.
type Language string

const (
	Python Language = "python"
	Cpp    Language = "cpp"   // C++17, with bits/stdc++.h precompiled
	Cpp20  Language = "cpp20" // C++20
	C      Language = "c"     // C17 with GNU extensions
	Bash   Language = "bash"
)

// Languages are the languages the sandbox runs.
var Languages = []Language{Python, Cpp, Cpp20, C, Bash}

// ParseLanguage accepts the API's language names and the usual aliases.
func ParseLanguage(s string) (Language, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "python", "python3", "py", "py3":
		return Python, true
	case "cpp", "c++", "cc", "cxx", "c++17", "cpp17", "c++14", "cpp14", "c++11", "cpp11":
		return Cpp, true
	case "cpp20", "c++20", "c++2a", "cpp2a":
		return Cpp20, true
	case "c", "gcc", "c17", "c11", "c99":
		return C, true
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

// image is the language whose image (and pool of containers) runs l: the C++
// image has gcc and g++, and every image has bash.
func (l Language) image() Language {
	switch l {
	case Cpp, Cpp20, C:
		return Cpp
	}
	return Python
}

// compiled reports whether l is compiled to a binary before it runs.
func (l Language) compiled() bool { return l.compiler() != nil }

// compiler is the compile command up to its output and sources; nil for an
// interpreted language. The C++17 flags are the ones the image's precompiled
// bits/stdc++.h was built with.
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

// sourceFile is where the program's source goes.
func (l Language) sourceFile() string {
	switch l {
	case Python:
		return solutionFile
	case Bash:
		return "main.sh"
	case C:
		return "main.c"
	}
	return "main.cpp"
}

// autoLanguages are the fence tags ExtractCode prefers when no language is
// asked for: a trailing shell or C snippet beside the answer (how to run it)
// must not be taken for the answer.
var autoLanguages = []Language{Python, Cpp, Cpp20}

// ExtractCode takes the program out of a model's response the way LiveCodeBench
// does: the lines between the last two lines that contain "```". Where the
// response tags blocks with a language, the last block tagged with want (or, when
// want is empty, with any language the sandbox runs) is preferred, so prose with a
// trailing untagged snippet does not hide the answer. It returns the code, the
// language its fence names ("" when untagged) and whether there was a block.
func ExtractCode(response string, want Language) (code string, tagged Language, ok bool) {
	lines := strings.Split(response, "\n")
	var fences []int
	for i, l := range lines {
		if strings.Contains(l, "```") {
			fences = append(fences, i)
		}
	}
	if len(fences) < 2 {
		return "", "", false
	}
	// Pair fences in order: an opening line carries the info string.
	for k := (len(fences)/2 - 1) * 2; k >= 0; k -= 2 {
		open, close := fences[k], fences[k+1]
		lang, isLang := fenceLanguage(lines[open])
		if isLang && ((want == "" && slices.Contains(autoLanguages, lang)) || lang == want) {
			return strings.Join(lines[open+1:close], "\n"), lang, true
		}
	}
	open, close := fences[len(fences)-2], fences[len(fences)-1]
	lang, _ := fenceLanguage(lines[open])
	if lang != want && !slices.Contains(autoLanguages, lang) {
		lang = "" // a block not asked for does not choose the language
	}
	return strings.Join(lines[open+1:close], "\n"), lang, true
}

// fenceLanguage reads the info string after the first "```" on a fence line.
func fenceLanguage(line string) (Language, bool) {
	_, info, _ := strings.Cut(line, "```")
	word, _, _ := strings.Cut(strings.TrimSpace(info), " ")
	if word == "" {
		return "", false
	}
	return ParseLanguage(word)
}
