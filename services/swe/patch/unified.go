package patch

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/sourcegraph/go-diff/diff"
)

// devNull is how a unified diff names the missing side of a created or deleted file.
const devNull = "/dev/null"

// ExtractDiff finds a unified diff in a model's answer: the contents of its
// ```diff / ```patch fences when it has any, else the text from the first line
// that starts a diff ("diff --git ", "--- " followed by "+++ "). It returns ""
// when the answer holds no diff.
func ExtractDiff(answer string) string {
	lines := strings.SplitAfter(answer, "\n")
	var fenced strings.Builder
	in := false
	for _, line := range lines {
		trimmed := strings.TrimRight(line, "\r\n")
		if !in {
			if tag, ok := strings.CutPrefix(trimmed, "```"); ok && (tag == "diff" || tag == "patch") {
				in = true
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			in = false
			continue
		}
		fenced.WriteString(line)
	}
	if fenced.Len() > 0 {
		return fenced.String()
	}
	for i, line := range lines {
		if strings.HasPrefix(line, "diff --git ") ||
			(strings.HasPrefix(line, "--- ") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "+++ ")) {
			return strings.Join(lines[i:], "")
		}
	}
	return ""
}

// ApplyUnifiedDiff parses text as a (git or plain) multi-file unified diff and
// applies it to original. It returns the new content of every file the diff
// touches: "" for a deleted file, and for a rename the new path's content (the old
// path becomes ""). Paths lose git's a/ and b/ prefixes.
//
// Hunks are applied in order. A hunk's old lines (context and removals) must
// occur in the file exactly, line endings included; they are looked for at the
// line the header names first, then at the nearest position after the previous
// hunk, as `git apply` and `patch` allow for shifted line numbers. The counts in
// the header are not checked: the body says what the hunk is.
func ApplyUnifiedDiff(original map[string]string, text string) (map[string]string, error) {
	// KeepCR: a CRLF file's diff carries its \r in every line, and the lines
	// must keep them to match the file and to rebuild it byte for byte.
	fds, err := diff.ParseMultiFileDiffOptions([]byte(text), diff.ParseOptions{KeepCR: true})
	if err != nil {
		return nil, &FormatError{Msg: "parse unified diff: " + err.Error()}
	}
	if len(fds) == 0 {
		return nil, &FormatError{Msg: "no file diffs found"}
	}
	out := map[string]string{}
	current := func(path string) string {
		if c, ok := out[path]; ok {
			return c
		}
		return original[path]
	}
	for _, fd := range fds {
		oldPath, newPath := diffPaths(fd)
		if oldPath == "" && newPath == "" {
			return nil, &FormatError{Msg: "file diff names no file"}
		}
		var content string
		if oldPath != "" {
			if _, ok := original[oldPath]; !ok {
				if _, ok := out[oldPath]; !ok {
					return nil, &FormatError{Msg: fmt.Sprintf("diff modifies %q, which is not among the original files", oldPath)}
				}
			}
			content = current(oldPath)
		}
		next, err := applyHunks(content, fd.Hunks)
		if errors.Is(err, ErrTooLarge) {
			return nil, fmt.Errorf("apply diff to %q: %w", firstNonEmpty(newPath, oldPath), err)
		}
		if err != nil {
			return nil, &FormatError{Msg: fmt.Sprintf("apply diff to %q: %v", firstNonEmpty(newPath, oldPath), err)}
		}
		switch {
		case newPath == "": // deleted
			out[oldPath] = ""
		case oldPath != "" && oldPath != newPath: // renamed
			out[oldPath] = ""
			out[newPath] = next
		default:
			out[newPath] = next
		}
	}
	return out, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// diffPaths returns the old and new paths of a file diff, "" for /dev/null,
// without git's a/ and b/ prefixes.
func diffPaths(fd *diff.FileDiff) (oldPath, newPath string) {
	oldPath = strings.TrimSuffix(fd.OrigName, "\r")
	newPath = strings.TrimSuffix(fd.NewName, "\r")
	gitPrefixes := (oldPath == devNull || strings.HasPrefix(oldPath, "a/")) &&
		(newPath == devNull || strings.HasPrefix(newPath, "b/"))
	if gitPrefixes {
		oldPath = strings.TrimPrefix(oldPath, "a/")
		newPath = strings.TrimPrefix(newPath, "b/")
	}
	if oldPath == devNull {
		oldPath = ""
	}
	if newPath == devNull {
		newPath = ""
	}
	return oldPath, newPath
}

// hunkLine is one body line: op is ' ', '-' or '+', text includes its "\n"
// unless the file has none there.
type hunkLine struct {
	op   byte
	text string
}

// hunkLines splits a go-diff hunk body back into lines with their newlines as
// they are in the files. go-diff keeps the body's last newline unless a "\ No
// newline" marker followed a new-side line, and records an old-side marker as
// the byte offset OrigNoNewlineAt just past the line it belongs to.
func hunkLines(h *diff.Hunk) []hunkLine {
	body := h.Body
	var lines []hunkLine
	for off := 0; off < len(body); {
		end := bytes.IndexByte(body[off:], '\n')
		var raw []byte
		next := len(body)
		if end >= 0 {
			raw = body[off : off+end+1]
			next = off + end + 1
		} else {
			raw = body[off:]
		}
		op := byte(' ')
		text := raw
		if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '-' || raw[0] == '+') {
			op, text = raw[0], raw[1:]
		} else if len(raw) == 1 && raw[0] == '\n' {
			// An empty line in a hand-written diff is an empty context line
			// whose leading space was lost (patch(1) accepts it too).
			op, text = ' ', raw
		}
		if op == '-' && h.OrigNoNewlineAt > 0 && int(h.OrigNoNewlineAt) == next {
			text = bytes.TrimSuffix(text, []byte("\n"))
		}
		lines = append(lines, hunkLine{op: op, text: string(text)})
		off = next
	}
	return lines
}

// maxLocateSteps bounds the line comparisons one diff may spend finding its
// hunks: a hostile diff against a file of identical lines is otherwise quadratic.
const maxLocateSteps = 50_000_000

func applyHunks(content string, hunks []*diff.Hunk) (string, error) {
	steps := 0
	file := strings.SplitAfter(content, "\n")
	if len(file) > 0 && file[len(file)-1] == "" {
		file = file[:len(file)-1]
	}
	var result []string
	pos := 0 // lines of file already copied or consumed
	for n, h := range hunks {
		var old, new []string
		for _, l := range hunkLines(h) {
			if l.op != '+' {
				old = append(old, l.text)
			}
			if l.op != '-' {
				new = append(new, l.text)
			}
		}
		want := int(h.OrigStartLine) - 1
		if len(old) == 0 && h.OrigLines == 0 {
			want = int(h.OrigStartLine) // "-N,0" inserts after line N
		}
		at, ok := locate(file, old, want, pos, &steps)
		if steps > maxLocateSteps {
			return "", fmt.Errorf("%w: locating hunk %d takes too long", ErrTooLarge, n+1)
		}
		if !ok {
			return "", fmt.Errorf("hunk %d (@@ -%d,%d @@) does not match the file", n+1, h.OrigStartLine, h.OrigLines)
		}
		result = append(result, file[pos:at]...)
		result = append(result, new...)
		pos = at + len(old)
	}
	result = append(result, file[pos:]...)
	return strings.Join(result, ""), nil
}

// locate finds where old occurs in file at or after from: at want if it matches
// there, else at the matching position nearest to want.
func locate(file, old []string, want, from int, steps *int) (int, bool) {
	want = min(max(want, from), len(file))
	matches := func(at int) bool {
		if at < from || at+len(old) > len(file) {
			return false
		}
		for i, line := range old {
			*steps++
			if file[at+i] != line {
				return false
			}
		}
		return true
	}
	if len(old) == 0 {
		// Nothing to check a pure insertion against: trust the header.
		return want, true
	}
	if matches(want) {
		return want, true
	}
	for d := 1; (want-d >= from || want+d+len(old) <= len(file)) && *steps <= maxLocateSteps; d++ {
		if matches(want - d) {
			return want - d, true
		}
		if matches(want + d) {
			return want + d, true
		}
	}
	return 0, false
}
