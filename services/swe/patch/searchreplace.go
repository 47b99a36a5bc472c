// Package patch turns a model's output into new file contents: SWE-RL's
// <think>/<solution> extraction, its SEARCH/REPLACE edit blocks (parsed and applied
// exactly as SWE-RL does), and unified diffs (parsed with sourcegraph/go-diff,
// applied here with context checking).
package patch

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/rewardmesh/rewardmesh/services/swe/difflib"
)

// FormatError is a response that cannot be parsed or applied. Its message is
// SWE-RL's own FormatError text where SWE-RL has one, so metadata matches.
type FormatError struct{ Msg string }

func (e *FormatError) Error() string { return e.Msg }

func formatErrorf(msg string) *FormatError { return &FormatError{Msg: msg} }

// ThoughtSolution is SWE-RL's extract_thought_solution: each of <think>, </think>,
// <solution>, </solution> must occur exactly once (checked in that order); the
// thought and the answer are the text after the opening tag up to the closing one
// (or to the end when the closing tag comes first), stripped as Python's
// str.strip() does; an empty thought is an error. Tag order is not checked.
func ThoughtSolution(output string) (thought, answer string, err error) {
	for _, tag := range []string{"<think>", "</think>", "<solution>", "</solution>"} {
		if strings.Count(output, tag) != 1 {
			return "", "", formatErrorf("count of " + tag + " is not 1")
		}
	}
	thought = between(output, "<think>", "</think>")
	answer = between(output, "<solution>", "</solution>")
	if thought == "" {
		return "", "", formatErrorf("Thought is empty")
	}
	return thought, answer, nil
}

// between is s.split(open)[1].split(close)[0].strip() for tags that occur once.
func between(s, open, close string) string {
	_, after, _ := strings.Cut(s, open)
	before, _, _ := strings.Cut(after, close)
	return difflib.Strip(before)
}

// searchReplaceRE is SWE-RL's pattern, character for character. Go's regexp is
// leftmost-first like Python's re, `.` excludes only \n in both, and [\s\S] is
// every character in both, so FindAll returns what re.findall does.
var searchReplaceRE = regexp.MustCompile("```.*?\\n### (.*)\\n<<<<<<< SEARCH\\n([\\s\\S]*?)\\n=======\\n([\\s\\S]*?)\\n>>>>>>> REPLACE\\n```")

// Edit is one SEARCH/REPLACE pair.
type Edit struct{ Search, Replace string }

// FileEdits are the edits addressed to one path, in the order they appear.
type FileEdits struct {
	Path  string
	Edits []Edit
}

// ParseSearchReplace is SWE-RL's parse_search_replace: every non-overlapping
// match of the block pattern, grouped by path in order of first appearance. The
// path is not trimmed. Blocks that do not match are skipped silently, as there.
func ParseSearchReplace(answer string) []FileEdits {
	var out []FileEdits
	index := map[string]int{}
	for _, m := range searchReplaceRE.FindAllStringSubmatch(answer, -1) {
		path := m[1]
		i, ok := index[path]
		if !ok {
			i = len(out)
			index[path] = i
			out = append(out, FileEdits{Path: path})
		}
		out[i].Edits = append(out[i].Edits, Edit{Search: m[2], Replace: m[3]})
	}
	return out
}

// ApplyOptions choose between SWE-RL's strictness and Nemotron-Cascade's.
type ApplyOptions struct {
	// AllowIdentical accepts a block whose SEARCH equals its REPLACE (it must
	// still be found in the file). SWE-RL rejects the whole response for one.
	AllowIdentical bool
	// MaxFileBytes caps a file's size after each edit (0: DefaultMaxFileBytes).
	// An empty SEARCH inserts REPLACE before every line, so a small response can
	// otherwise ask for gigabytes.
	MaxFileBytes int
}

// DefaultMaxFileBytes is the cap on an edited file when ApplyOptions leave it 0.
const DefaultMaxFileBytes = 8 << 20

// ErrTooLarge is returned (wrapped) when an edit would grow a file past the cap.
var ErrTooLarge = errors.New("patch: edited file exceeds the size cap")

// ApplySearchReplace is SWE-RL's apply_code_change: for each path, start from
// "\n" + the original (empty when absent), and for each edit in order require
// "\n"+SEARCH to occur and replace every occurrence with "\n"+REPLACE. It returns
// the new content of every path the edits address.
func ApplySearchReplace(original map[string]string, files []FileEdits, opts ApplyOptions) (map[string]string, error) {
	maxBytes := opts.MaxFileBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxFileBytes
	}
	out := make(map[string]string, len(files))
	for _, f := range files {
		content := "\n" + original[f.Path]
		for _, e := range f.Edits {
			if e.Search == e.Replace && !opts.AllowIdentical {
				return nil, formatErrorf("Search and replace blocks are identical")
			}
			search, replace := "\n"+e.Search, "\n"+e.Replace
			if !strings.Contains(content, search) {
				return nil, formatErrorf("Search block not found in the code: " + search)
			}
			if grow := len(replace) - len(search); grow > 0 {
				if n := strings.Count(content, search); len(content)+n*grow > maxBytes {
					return nil, fmt.Errorf("%w (%d bytes) in %q", ErrTooLarge, maxBytes, f.Path)
				}
			}
			content = strings.ReplaceAll(content, search, replace)
		}
		out[f.Path] = content[1:]
	}
	return out, nil
}
