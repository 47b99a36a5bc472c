package sandbox

import (
	"slices"
	"strings"
)

// autoLanguages are the fence tags ExtractCode prefers when no language is
// asked for: a trailing shell or C snippet beside the answer (how to run it)
// must not be taken for the answer, but a program in any other language the
// sandbox runs may be.
var autoLanguages = []Language{Python, Cpp, Cpp20, Java, Kotlin, Go, Rust, JavaScript, TypeScript, Ruby, PyPy}

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
