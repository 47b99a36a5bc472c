package sandbox

import "strings"

// Language is a language the sandbox judges.
type Language string

const (
	Python Language = "python"
	Cpp    Language = "cpp"
)

// ParseLanguage accepts the API's language names and the usual aliases.
func ParseLanguage(s string) (Language, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "python", "python3", "py", "py3":
		return Python, true
	case "cpp", "c++", "cc", "cxx", "c++17", "cpp17":
		return Cpp, true
	}
	return "", false
}

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
		if isLang && (want == "" || lang == want) {
			return strings.Join(lines[open+1:close], "\n"), lang, true
		}
	}
	open, close := fences[len(fences)-2], fences[len(fences)-1]
	lang, _ := fenceLanguage(lines[open])
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
