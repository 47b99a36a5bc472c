package lcb

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// compressTests encodes tests the way LiveCodeBench ships hidden tests:
// json.dumps, pickle.dumps (protocol 4, hand-assembled), zlib, base64.
func compressTests(t testing.TB, tests []Test) string {
	t.Helper()
	js, err := json.Marshal(tests)
	if err != nil {
		t.Fatal(err)
	}
	return compressText(t, "\x80\x04X"+le32(len(js))+string(js)+"\x94.")
}

func compressText(t testing.TB, pickled string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write([]byte(pickled))
	zw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func le32(n int) string {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(n))
	return string(b)
}

func TestExtractCode(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"python fence", "Here:\n```python\nprint(1)\n```\nDone.", "print(1)"},
		{"bare fence", "```\na = 1\nb = 2\n```", "a = 1\nb = 2"},
		{"first block wins", "```python\nx\n```\ntext\n```python\ny\n```", "x"},
		{"no fence", "print(1)", ""},
		{"one fence", "```python\nprint(1)\n", ""},
		// lcb_runner looks for ``` anywhere in a line, even mid-sentence.
		{"inline backticks count", "use ```code``` here\nreal\n```", "real"},
		{"fence on same line as text", "Solution ```python\nx = 1\nend``` trailing", "x = 1"},
		{"empty block", "```\n```", ""},
		{"crlf kept", "```python\r\nprint(1)\r\n```", "print(1)\r"},
		{"indented fence", "  ```python\n  x\n  ```", "  x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExtractCode(tt.in); got != tt.want {
				t.Errorf("ExtractCode(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodeTests(t *testing.T) {
	tests := []Test{{Input: "1\n", Output: "2\n", TestType: Stdin}}
	asString := func(v string) json.RawMessage { b, _ := json.Marshal(v); return b }
	list, _ := json.Marshal(tests)
	cases := []struct {
		name string
		raw  json.RawMessage
		want int
		err  string
	}{
		{"json string", asString(string(list)), 1, ""},
		{"inline list", list, 1, ""},
		{"compressed", asString(compressTests(t, tests)), 1, ""},
		{"empty string", asString(""), 0, ""},
		{"bad base64", asString("not*base64"), 0, "base64"},
		{"not zlib", asString(base64.StdEncoding.EncodeToString([]byte("plain"))), 0, "zlib"},
		{"pickle of a list", asString(compressText(t, "\x80\x04]\x94.")), 0, "does not hold a str"},
		{"pickle of a non-json str", asString(compressText(t, "\x80\x04\x8c\x03abc\x94.")), 0, "test list"},
		{"bad testtype", asString(`[{"input":"","output":"","testtype":"file"}]`), 0, "neither stdin nor functional"},
		{"number", json.RawMessage("5"), 0, "want a string or a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeTests(c.raw)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.want {
				t.Fatalf("got %d tests, want %d", len(got), c.want)
			}
			if c.want > 0 && got[0] != tests[0] {
				t.Errorf("got %+v, want %+v", got[0], tests[0])
			}
		})
	}
}

// TestRealProblems reads LiveCodeBench's real rows: each decodes, with the
// mode its metadata implies and test counts that are the rows' own.
func TestRealProblems(t *testing.T) {
	data, err := os.ReadFile(conformance.Path(t, "code", "lcb_problems.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		mode TestType
		fn   string
	}{
		"1873_A": {Stdin, ""}, "2727": {Functional, "countSeniors"}, "abc301_a": {Stdin, ""},
		"1110_D": {Stdin, ""}, "a3": {Stdin, ""},
	}
	n := 0
	err = ReadLines(bytes.NewReader(data), func(line int, b []byte) error {
		p, err := ParseProblem(b)
		if err != nil {
			t.Errorf("line %d: %v", line, err)
			return nil
		}
		n++
		w, ok := want[p.QuestionID]
		if !ok {
			t.Errorf("unexpected problem %q", p.QuestionID)
			return nil
		}
		if p.Mode() != w.mode || p.FuncName != w.fn {
			t.Errorf("%s: mode %s fn %q, want %s %q", p.QuestionID, p.Mode(), p.FuncName, w.mode, w.fn)
		}
		for _, tc := range p.Tests() {
			if tc.TestType != w.mode {
				t.Errorf("%s: a test is %s, the problem %s", p.QuestionID, tc.TestType, w.mode)
				break
			}
		}
		if len(p.Private) == 0 || p.ContestDate.IsZero() {
			t.Errorf("%s: %d private tests, date %v", p.QuestionID, len(p.Private), p.ContestDate)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("parsed %d problems, want 5", n)
	}
}

func TestParseProblemErrors(t *testing.T) {
	good := map[string]any{
		"question_id": "q1", "platform": "atcoder", "contest_date": "2024-01-02T00:00:00",
		"difficulty": "easy", "metadata": "{}", "public_test_cases": `[{"input":"1","output":"1","testtype":"stdin"}]`,
		"private_test_cases": "",
	}
	with := func(k string, v any) []byte {
		m := map[string]any{}
		for a, b := range good {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	if _, err := ParseProblem(with("x", nil)); err != nil {
		t.Fatalf("good row: %v", err)
	}
	cases := []struct {
		name string
		line []byte
		want string
	}{
		{"not json", []byte("{"), "decode row"},
		{"no id", with("question_id", nil), "question_id is missing"},
		{"no public", with("public_test_cases", nil), "public_test_cases is missing"},
		{"no private", with("private_test_cases", nil), "private_test_cases is missing"},
		{"bad base64", with("private_test_cases", "@@@@"), "base64"},
		{"pickle not str", with("private_test_cases", compressText(t, "\x80\x04K\x07.")), "BININT1"},
		{"bad date", with("contest_date", "yesterday"), "contest_date"},
		{"bad metadata", with("metadata", "{not json"), "metadata"},
		{"no tests", with("public_test_cases", "[]"), "no tests"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseProblem(c.line)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestParseGenerations(t *testing.T) {
	t.Run("code_list", func(t *testing.T) {
		g, err := ParseGenerations([]byte(`[{"question_id":"a","code_list":["x","y"]},{"question_id":7,"code_list":["z"]}]`))
		if err != nil {
			t.Fatal(err)
		}
		if len(g.ByID["a"].CodeList) != 2 || g.ByID["7"].CodeList[0] != "z" || len(g.Errors) != 0 {
			t.Errorf("got %+v", g)
		}
	})
	t.Run("output_list", func(t *testing.T) {
		g, err := ParseGenerations([]byte(`[{"question_id":"a","output_list":["Sure:\n` + "```python\\nprint(1)\\n```" + `","no code"]}]`))
		if err != nil {
			t.Fatal(err)
		}
		got := g.ByID["a"]
		if got.CodeList[0] != "print(1)" || got.CodeList[1] != "" || len(got.OutputList) != 2 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("json lines", func(t *testing.T) {
		g, err := ParseGenerations([]byte("{\"question_id\":\"a\",\"code_list\":[\"x\"]}\n{\"question_id\":\"b\",\"code_list\":[\"y\"]}\n"))
		if err != nil || len(g.ByID) != 2 {
			t.Fatalf("got %+v, %v", g, err)
		}
	})
	t.Run("list of lists", func(t *testing.T) {
		g, err := ParseGenerations([]byte(`[["a","b"],["c"]]`))
		if err != nil || len(g.Positional) != 2 || g.Positional[1][0] != "c" {
			t.Fatalf("got %+v, %v", g, err)
		}
	})
	t.Run("bad entries reported, rest kept", func(t *testing.T) {
		g, err := ParseGenerations([]byte(`[{"code_list":["x"]},{"question_id":"b"},{"question_id":"c","code_list":["y"]},{"question_id":"c","code_list":["z"]},5]`))
		if err != nil {
			t.Fatal(err)
		}
		if len(g.ByID) != 1 || g.ByID["c"].CodeList[0] != "y" || len(g.Errors) != 4 {
			t.Errorf("got ByID %v errors %+v", g.ByID, g.Errors)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if _, err := ParseGenerations(nil); err == nil {
			t.Error("empty file accepted")
		}
	})
}

func FuzzExtractCode(f *testing.F) {
	f.Add("```python\nprint(1)\n```")
	f.Add("no fences")
	f.Fuzz(func(t *testing.T, s string) {
		code := ExtractCode(s)
		if len(code) > len(s) {
			t.Fatalf("extracted %d bytes from %d", len(code), len(s))
		}
		if code != "" && !strings.Contains(s, code) {
			t.Fatalf("extracted code %q is not part of the response", code)
		}
	})
}

func FuzzParseProblem(f *testing.F) {
	f.Add([]byte(`{"question_id":"a","public_test_cases":"[]","private_test_cases":"eJwLycgsVgCi4vzcVIWknMS8bD0FAE1GB00=","metadata":"{\"func_name\":\"f\"}"}`))
	f.Add([]byte(`{"question_id":1,"contest_date":"2024-01-01","public_test_cases":[{"input":"","output":""}],"private_test_cases":""}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		p, err := ParseProblem(line)
		if err == nil && p.QuestionID == "" {
			t.Fatal("a problem without an id was accepted")
		}
	})
}

func FuzzDecodeTests(f *testing.F) {
	f.Add([]byte(`"[{\"input\":\"1\",\"output\":\"2\",\"testtype\":\"stdin\"}]"`))
	f.Add([]byte(`"eJwLycgsVgCi4vzcVIWknMS8bD0FAE1GB00="`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = DecodeTests(raw)
	})
}

func FuzzParseGenerations(f *testing.F) {
	f.Add([]byte(`[{"question_id":"a","code_list":["x"]}]`))
	f.Add([]byte(`[["a"]]`))
	f.Add([]byte("{\"question_id\":\"a\",\"output_list\":[\"```\\nx\\n```\"]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGenerations(data)
		if err != nil {
			return
		}
		for id, gen := range g.ByID {
			if id == "" || len(gen.CodeList) == 0 {
				t.Fatalf("accepted an entry without id or code: %+v", gen)
			}
		}
	})
}
