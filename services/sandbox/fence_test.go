package sandbox

import "testing"

func TestExtractCode(t *testing.T) {
	cases := []struct {
		name, response string
		want           Language
		code           string
		tagged         Language
		ok             bool
	}{
		{"python block", "Here:\n```python\nprint(1)\n```\nDone.", "", "print(1)", Python, true},
		{"last block wins", "```python\nprint(1)\n```\ntext\n```python\nprint(2)\n```", "", "print(2)", Python, true},
		{"cpp block", "```cpp\nint main(){}\n```", "", "int main(){}", Cpp, true},
		{"wanted language preferred over a later block", "```python\nprint(1)\n```\n```text\noutput: 1\n```", Python, "print(1)", Python, true},
		{"later untagged block is LCB's choice", "```python\nprint(1)\n```\n```\nprint(2)\n```", "", "print(1)", Python, true},
		{"untagged only", "```\nprint(3)\n```", "", "print(3)", "", true},
		{"no fence", "print(1)", "", "", "", false},
		{"unclosed fence", "```python\nprint(1)", "", "", "", false},
		{"three fences take the last two lines", "```python\na\n```\nb\n```", Cpp, "b", "", true},
		{"fence inside a line", "code: ```python\nx = 1\n``` end", "", "x = 1", Python, true},
		{"py3 alias", "```py3\nprint(4)\n```", Python, "print(4)", Python, true},
		{"c++ alias", "```c++\nint main(){}\n```", Cpp, "int main(){}", Cpp, true},
		{"a c block asked for", "```c\nint main(void){}\n```", C, "int main(void){}", C, true},
		// A trailing shell block (how to run it) is not the answer unless bash
		// is asked for; it does not choose the language either.
		{"trailing shell block", "```python\nprint(1)\n```\nRun it:\n```bash\npython3 main.py\n```", "", "print(1)", Python, true},
		{"shell block asked for", "```python\nprint(1)\n```\n```bash\necho 1\n```", Bash, "echo 1", Bash, true},
		{"only a shell block", "```sh\necho 1\n```", "", "echo 1", "", true},
		{"a java block chooses java", "```java\npublic class A {}\n```\nRun:\n```bash\njava A\n```", "", "public class A {}", Java, true},
		{"a golang block", "```golang\npackage main\n```", "", "package main", Go, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, tagged, ok := ExtractCode(tc.response, tc.want)
			if code != tc.code || tagged != tc.tagged || ok != tc.ok {
				t.Fatalf("ExtractCode = %q, %q, %v; want %q, %q, %v", code, tagged, ok, tc.code, tc.tagged, tc.ok)
			}
		})
	}
}

func FuzzExtractCode(f *testing.F) {
	f.Add("```python\nprint(1)\n```", "python")
	f.Add("```\n```\n```cpp\n", "cpp")
	f.Add("no code", "")
	f.Fuzz(func(t *testing.T, response, lang string) {
		want, _ := ParseLanguage(lang)
		code, _, ok := ExtractCode(response, want)
		if !ok && code != "" {
			t.Fatalf("no block but code %q", code)
		}
		if ok && len(code) > len(response) {
			t.Fatalf("code longer than the response")
		}
	})
}
