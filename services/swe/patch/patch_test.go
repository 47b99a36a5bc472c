package patch

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/services/swe/difflib"
)

func TestThoughtSolution(t *testing.T) {
	tests := []struct {
		name, in        string
		thought, answer string
		err             string
	}{
		{"plain", "<think> why </think>\n<solution>\nX\n</solution>", "why", "X", ""},
		{"reversed sections", "<solution>S</solution><think>T</think>", "T", "S", ""},
		{"close before open runs to end", "</think><think>T<solution>S</solution>", "T<solution>S</solution>", "S", ""},
		{"no think", "<solution>S</solution>", "", "", "count of <think> is not 1"},
		{"two solution closes", "<think>T</think><solution>S</solution></solution>", "", "", "count of </solution> is not 1"},
		{"empty thought", "<think>\u3000\u00a0\x1c</think><solution>S</solution>", "", "", "Thought is empty"},
		{"zero-width space is a thought", "<think>\u200b</think><solution>S</solution>", "\u200b", "S", ""},
		{"uppercase tags do not count", "<THINK>T</THINK><solution>S</solution>", "", "", "count of <think> is not 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			thought, answer, err := ThoughtSolution(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || thought != tt.thought || answer != tt.answer {
				t.Errorf("got (%q, %q, %v), want (%q, %q)", thought, answer, err, tt.thought, tt.answer)
			}
		})
	}
}

func TestParseSearchReplace(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []FileEdits
	}{
		{"one block", "```python\n### a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```",
			[]FileEdits{{"a.py", []Edit{{"x = 1", "x = 2"}}}}},
		{"fence info and path kept verbatim", "```python title=x\n###  a.py \n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```",
			[]FileEdits{{" a.py ", []Edit{{"x", "y"}}}}},
		{"grouped by path in first-seen order",
			"```\n### b.py\n<<<<<<< SEARCH\n1\n=======\n2\n>>>>>>> REPLACE\n```\n```\n### a.py\n<<<<<<< SEARCH\n3\n=======\n4\n>>>>>>> REPLACE\n```\n```\n### b.py\n<<<<<<< SEARCH\n5\n=======\n6\n>>>>>>> REPLACE\n```",
			[]FileEdits{{"b.py", []Edit{{"1", "2"}, {"5", "6"}}}, {"a.py", []Edit{{"3", "4"}}}}},
		{"empty search needs a blank line", "```\n### n.py\n<<<<<<< SEARCH\n\n=======\nnew\n>>>>>>> REPLACE\n```",
			[]FileEdits{{"n.py", []Edit{{"", "new"}}}}},
		{"no blank line: no match", "```\n### n.py\n<<<<<<< SEARCH\n=======\nnew\n>>>>>>> REPLACE\n```", nil},
		{"CRLF output yields nothing", "```\r\n### a.py\r\n<<<<<<< SEARCH\r\nx\r\n=======\r\ny\r\n>>>>>>> REPLACE\r\n```", nil},
		{"divider inside code ends SEARCH early", "```\n### a.py\n<<<<<<< SEARCH\na\n=======\nb\n=======\nc\n>>>>>>> REPLACE\n```",
			[]FileEdits{{"a.py", []Edit{{"a", "b\n=======\nc"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseSearchReplace(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestApplySearchReplace(t *testing.T) {
	orig := map[string]string{"a.py": "x = 1\nxx = 1\ny = x\n"}
	tests := []struct {
		name  string
		edits []FileEdits
		opts  ApplyOptions
		want  map[string]string
		err   string
	}{
		{"replaces every line-prefix occurrence", []FileEdits{{"a.py", []Edit{{"x", "z"}}}}, ApplyOptions{},
			map[string]string{"a.py": "z = 1\nzx = 1\ny = x\n"}, ""},
		{"start anchored", []FileEdits{{"a.py", []Edit{{"= 1", "= 2"}}}}, ApplyOptions{}, nil, "Search block not found in the code: \n= 1"},
		{"identical rejected", []FileEdits{{"a.py", []Edit{{"y = x", "y = x"}}}}, ApplyOptions{}, nil, "Search and replace blocks are identical"},
		{"identical allowed", []FileEdits{{"a.py", []Edit{{"y = x", "y = x"}}}}, ApplyOptions{AllowIdentical: true},
			map[string]string{"a.py": orig["a.py"]}, ""},
		{"absent path with empty search creates", []FileEdits{{"new.py", []Edit{{"", "hello"}}}}, ApplyOptions{},
			map[string]string{"new.py": "hello"}, ""},
		{"chained edits see earlier ones", []FileEdits{{"a.py", []Edit{{"y = x", "y = w"}, {"y = w", "y = v"}}}}, ApplyOptions{},
			map[string]string{"a.py": "x = 1\nxx = 1\ny = v\n"}, ""},
		{"size cap", []FileEdits{{"a.py", []Edit{{"", strings.Repeat("q", 100)}}}}, ApplyOptions{MaxFileBytes: 200}, nil, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ApplySearchReplace(orig, tt.edits, tt.opts)
			switch {
			case tt.err == "too large":
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("err %v, want ErrTooLarge", err)
				}
			case tt.err != "":
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
			case err != nil:
				t.Fatal(err)
			case !reflect.DeepEqual(got, tt.want):
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestApplyUnifiedDiff(t *testing.T) {
	orig := map[string]string{
		"a.py":    "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
		"crlf.py": "a\r\nb\r\nc\r\n",
		"nonl.py": "a\nb",
		"gone.py": "bye\n",
		"my f.py": "s\n",
		"old.py":  "r\n",
	}
	tests := []struct {
		name string
		diff string
		want map[string]string
		err  bool
	}{
		{"git modify", "diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n@@ -2,3 +2,3 @@\n 2\n-3\n+three\n 4\n",
			map[string]string{"a.py": "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n"}, false},
		{"shifted line numbers", "--- a/a.py\n+++ b/a.py\n@@ -5,3 +5,3 @@\n 2\n-3\n+three\n 4\n",
			map[string]string{"a.py": "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n"}, false},
		{"two hunks", "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n-1\n+one\n 2\n@@ -9,2 +9,3 @@\n 9\n 10\n+11\n",
			map[string]string{"a.py": "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n"}, false},
		{"context mismatch", "--- a/a.py\n+++ b/a.py\n@@ -2,3 +2,3 @@\n 2\n-30\n+three\n 4\n", nil, true},
		{"crlf kept", "--- a/crlf.py\n+++ b/crlf.py\n@@ -1,3 +1,3 @@\n a\r\n-b\r\n+B\r\n c\r\n",
			map[string]string{"crlf.py": "a\r\nB\r\nc\r\n"}, false},
		{"no newline at end, both sides", "--- a/nonl.py\n+++ b/nonl.py\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n\\ No newline at end of file\n",
			map[string]string{"nonl.py": "A\nb"}, false},
		{"adds final newline", "--- a/nonl.py\n+++ b/nonl.py\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
			map[string]string{"nonl.py": "a\nb\n"}, false},
		{"new file", "diff --git a/n.py b/n.py\nnew file mode 100644\nindex 0000000..1\n--- /dev/null\n+++ b/n.py\n@@ -0,0 +1,2 @@\n+x\n+y\n",
			map[string]string{"n.py": "x\ny\n"}, false},
		{"deleted file", "--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n",
			map[string]string{"gone.py": ""}, false},
		{"path with space and git tab", "--- a/my f.py\t\n+++ b/my f.py\t\n@@ -1 +1 @@\n-s\n+t\n",
			map[string]string{"my f.py": "t\n"}, false},
		{"missing file", "--- a/none.py\n+++ b/none.py\n@@ -1 +1 @@\n-s\n+t\n", nil, true},
		{"multi-file", "--- a/a.py\n+++ b/a.py\n@@ -10 +10 @@\n-10\n+ten\n--- a/old.py\n+++ b/old.py\n@@ -1 +1,2 @@\n r\n+s\n",
			map[string]string{"a.py": "1\n2\n3\n4\n5\n6\n7\n8\n9\nten\n", "old.py": "r\ns\n"}, false},
		{"garbage", "this is not a diff", nil, true},
		{"empty new file, git headers only", "diff --git a/e.py b/e.py\nnew file mode 100644\nindex 0000000..e69de29\n",
			map[string]string{"e.py": ""}, false},
		{"pure rename", "diff --git a/old.py b/new.py\nsimilarity index 100%\nrename from old.py\nrename to new.py\n",
			map[string]string{"old.py": "", "new.py": "r\n"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ApplyUnifiedDiff(orig, tt.diff)
			if tt.err {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExtractDiff(t *testing.T) {
	d := "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
	tests := []struct{ in, want string }{
		{"Here is the fix:\n```diff\n" + d + "```\nDone.", d},
		{"Prose first.\n" + d, d},
		{"no diff here", ""},
	}
	for _, tt := range tests {
		if got := ExtractDiff(tt.in); got != tt.want {
			t.Errorf("ExtractDiff(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseSearchReplace(f *testing.F) {
	f.Add("```python\n### a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```", "x = 1\n")
	f.Add("```\n### n.py\n<<<<<<< SEARCH\n\n=======\nnew\n>>>>>>> REPLACE\n```", "")
	f.Fuzz(func(t *testing.T, answer, file string) {
		if thought, _, err := ThoughtSolution(answer); err == nil && (thought == "" || difflib.Strip(thought) != thought) {
			t.Fatalf("thought %q is empty or unstripped", thought)
		}
		files := ParseSearchReplace(answer)
		for _, fe := range files {
			if strings.Contains(fe.Path, "\n") {
				t.Fatalf("path %q spans lines", fe.Path)
			}
			for _, e := range fe.Edits {
				// A parsed block, written back in the same form, parses to itself
				// unless its own text holds a marker line (which the lazy match
				// would stop at).
				if strings.Contains(e.Search, "\n=======\n") || strings.Contains(e.Replace, "\n>>>>>>> REPLACE\n```") {
					continue
				}
				again := ParseSearchReplace("```\n### " + fe.Path + "\n<<<<<<< SEARCH\n" + e.Search + "\n=======\n" + e.Replace + "\n>>>>>>> REPLACE\n```")
				if len(again) != 1 || len(again[0].Edits) != 1 || again[0].Edits[0] != e {
					t.Fatalf("block %q did not round-trip: %q", e, again)
				}
			}
		}
		orig := map[string]string{}
		for _, fe := range files {
			orig[fe.Path] = file
		}
		_, _ = ApplySearchReplace(orig, files, ApplyOptions{MaxFileBytes: 1 << 16})
	})
}

// FuzzApplyUnifiedDiff applies arbitrary diff text (it must never panic), and
// checks the round trip: a diff made by difflib from a to b, applied to a, gives b.
func FuzzApplyUnifiedDiff(f *testing.F) {
	f.Add("1\n2\n3\n", "1\ntwo\n3\n", "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-1\n+2\n")
	f.Add("", "x\n", "--- /dev/null\n+++ b/f\n@@ -0,0 +1 @@\n+x\n")
	f.Add("a\nb\nc\nd\ne\nf\ng\nh\ni\n", "a\nB\nc\nd\ne\nf\ng\nH\ni\n", "")
	f.Fuzz(func(t *testing.T, a, b, text string) {
		_, _ = ApplyUnifiedDiff(map[string]string{"f": a}, text)

		if !plainLines(a) || !plainLines(b) {
			return
		}
		d, err := difflib.UnifiedDiff(context.Background(), difflib.SplitLines(a), difflib.SplitLines(b), 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d == "" {
			return
		}
		got, err := ApplyUnifiedDiff(map[string]string{"f": a}, "--- a/f\n+++ b/f\n"+d+"\n")
		if err != nil {
			t.Fatalf("apply own diff %q: %v", d, err)
		}
		if got["f"] != b {
			t.Fatalf("round trip gave %q, want %q (diff %q)", got["f"], b, d)
		}
	})
}

// plainLines reports whether s is "\n"-terminated lines with no other line
// break splitlines knows, so the line diff describes it fully.
func plainLines(s string) bool {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return false
	}
	for _, r := range s {
		if r != '\n' && strings.ContainsRune("\r\v\f\x1c\x1d\x1e\u0085\u2028\u2029", r) {
			return false
		}
	}
	return true
}
