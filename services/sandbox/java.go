package sandbox

import (
	"strings"
	"unicode"
)

// javaProgram is how a Java source is compiled and run: the file it must be
// written to, and the class whose main runs.
type javaProgram struct {
	file string // Name.java
	main string // the class to run, with its package
}

// maxJavaName bounds a class name used as a file name.
const maxJavaName = 200

// javaClasses reads a Java source's top-level types, skipping comments, string,
// text-block and character literals: the file is named after the public type
// (javac requires it), and the class run is the type that declares main (the
// public one first), else the public type, else the first type. A source with
// no type it can read is Main.java and runs Main, which javac then explains.
func javaClasses(source string) javaProgram {
	var (
		pkg         []string
		inPackage   bool
		public      bool // "public" seen among the modifiers of the next top-level type
		wantName    bool // a type keyword was just seen at depth 0
		types       []javaType
		depth       int
		prev, prev2 string // the last two tokens, to find "void main ("
	)
	for tok := range javaTokens(source) {
		switch {
		case tok == "{":
			depth++
		case tok == "}":
			if depth > 0 {
				depth--
			}
			if depth == 0 {
				public = false
			}
		case depth == 0 && tok == ";":
			inPackage, public = false, false
		case depth == 0 && inPackage:
			if tok != "." {
				pkg = append(pkg, tok)
			}
		case depth == 0 && wantName:
			wantName = false
			if isJavaIdentifier(tok) && len(tok) <= maxJavaName {
				types = append(types, javaType{name: tok, public: public})
			}
			public = false
		case depth == 0 && tok == "package" && len(types) == 0:
			inPackage, pkg = true, nil
		case depth == 0 && tok == "public":
			public = true
		case depth == 0 && (tok == "class" || tok == "interface" || tok == "enum" || tok == "record"):
			wantName = true
		case depth >= 1 && tok == "(" && prev == "main" && prev2 == "void" && len(types) > 0:
			types[len(types)-1].main = true
		}
		prev2, prev = prev, tok
	}
	pick := func(ok func(javaType) bool) string {
		for _, t := range types {
			if ok(t) {
				return t.name
			}
		}
		return ""
	}
	file := pick(func(t javaType) bool { return t.public })
	main := pick(func(t javaType) bool { return t.public && t.main })
	if main == "" {
		main = pick(func(t javaType) bool { return t.main })
	}
	if main == "" {
		main = file
	}
	if main == "" {
		main = pick(func(javaType) bool { return true })
	}
	if main == "" {
		main = "Main"
	}
	if file == "" {
		file = main
	}
	qualified := main
	if len(pkg) > 0 && validJavaPackage(pkg) {
		qualified = strings.Join(pkg, ".") + "." + main
	}
	return javaProgram{file: file + ".java", main: qualified}
}

type javaType struct {
	name         string
	public, main bool
}

func validJavaPackage(parts []string) bool {
	n := 0
	for _, p := range parts {
		if !isJavaIdentifier(p) {
			return false
		}
		n += len(p) + 1
	}
	return n <= maxJavaName
}

// javaTokens yields a Java source's identifiers, keywords and punctuation,
// without comments and literals (a literal yields nothing).
func javaTokens(src string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		rs := []rune(src)
		for i := 0; i < len(rs); {
			r := rs[i]
			switch {
			case unicode.IsSpace(r):
				i++
			case r == '/' && i+1 < len(rs) && rs[i+1] == '/':
				for i < len(rs) && rs[i] != '\n' {
					i++
				}
			case r == '/' && i+1 < len(rs) && rs[i+1] == '*':
				i += 2
				for i < len(rs) && !(rs[i] == '*' && i+1 < len(rs) && rs[i+1] == '/') {
					i++
				}
				i += 2
			case r == '"' && i+2 < len(rs) && rs[i+1] == '"' && rs[i+2] == '"':
				// A text block ends at the next unescaped """.
				i += 3
				for i < len(rs) && !(rs[i] == '"' && i+2 < len(rs) && rs[i+1] == '"' && rs[i+2] == '"') {
					if rs[i] == '\\' {
						i++
					}
					i++
				}
				i += 3
			case r == '"' || r == '\'':
				i++
				for i < len(rs) && rs[i] != r && rs[i] != '\n' {
					if rs[i] == '\\' {
						i++
					}
					i++
				}
				i++
			case javaIdentStart(r):
				j := i + 1
				for j < len(rs) && javaIdentPart(rs[j]) {
					j++
				}
				if !yield(string(rs[i:j])) {
					return
				}
				i = j
			default:
				if !yield(string(r)) {
					return
				}
				i++
			}
		}
	}
}

func javaIdentStart(r rune) bool { return r == '_' || r == '$' || unicode.IsLetter(r) }
func javaIdentPart(r rune) bool  { return javaIdentStart(r) || unicode.IsDigit(r) }

func isJavaIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if i == 0 && !javaIdentStart(r) || !javaIdentPart(r) {
			return false
		}
	}
	switch s {
	case "class", "interface", "enum", "public", "static", "void", "package", "import", "final", "abstract":
		return false
	}
	return true
}
