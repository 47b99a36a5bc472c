package cf

import (
	"strings"
	"testing"
)

func TestParseProblem(t *testing.T) {
	tests := []struct {
		name, line string
		check      func(*Problem) bool
		err        string
	}{
		{"ours", `{"id":"A1","contest_id":"77","index":"A","points":750,"time_limit_ms":1500,"memory_limit_mb":64,"tests":[{"input":"1","output":"1"}],"compare":"float:1e-6"}`,
			func(p *Problem) bool {
				return p.ID == "A1" && p.Contest == "77" && p.Points == 750 && p.TimeLimitMS == 1500 && p.MemoryLimitMB == 64 && p.Compare == "float:1e-6" && len(p.Tests) == 1
			}, ""},
		{"codecontests name gives contest and index", `{"name":"1238_B. Kill 'Em All","source":"CODEFORCES","tests":[{"input":"","output":""}]}`,
			func(p *Problem) bool { return p.ID == "1238_B. Kill 'Em All" && p.Contest == "1238" && p.Index == "B" }, ""},
		{"codechef pools by source", `{"id":"cc-0","name":"a3","source":"CODECHEF","tests":[{"input":"","output":""}]}`,
			func(p *Problem) bool {
				return p.Contest == "codechef" && p.TimeLimitMS == DefaultTimeLimitMS && p.MemoryLimitMB == DefaultMemoryLimitMB
			}, ""},
		{"numeric source enum", `{"name":"x","source":1,"public_tests":{"input":["a"],"output":["b"]}}`,
			func(p *Problem) bool { return p.Contest == "codechef" && p.Tests[0].Output == "b" }, ""},
		{"seconds", `{"id":"x","time_limit":1.5,"tests":[{"input":"","output":""}]}`, func(p *Problem) bool { return p.TimeLimitMS == 1500 }, ""},
		{"zero codecontests time falls back", `{"id":"x","time_limit":{"seconds":0,"nanos":0},"tests":[{"input":"","output":""}]}`, func(p *Problem) bool { return p.TimeLimitMS == DefaultTimeLimitMS }, ""},
		{"no id", `{"tests":[]}`, nil, "no id"},
		{"no tests", `{"id":"x"}`, nil, "no tests"},
		{"negative time", `{"id":"x","time_limit_ms":-1,"tests":[{"input":"","output":""}]}`, nil, "not positive"},
		{"bad time", `{"id":"x","time_limit":"soon","tests":[{"input":"","output":""}]}`, nil, "time_limit"},
		{"half a checker", `{"id":"x","checker":{"language":"cpp"},"tests":[{"input":"","output":""}]}`, nil, "checker needs"},
		{"test without output", `{"id":"x","tests":[{"input":"1"}]}`, nil, "needs input and output"},
		{"column mismatch", `{"id":"x","private_tests":{"input":["1"],"output":[]}}`, nil, "1 inputs but 0 outputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProblem([]byte(tt.line), true)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(p) {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func TestParseGenerations(t *testing.T) {
	gens, errs, err := ParseGenerations([]byte(`[{"id":"a","code_list":["x"]},{"problem_id":5,"language":"cpp","output_list":["`+"```cpp\\nint main(){}\\n```"+`"]},{"code_list":["y"]},{"id":"a","code_list":["z"]}]`), "python")
	if err != nil {
		t.Fatal(err)
	}
	if gens["a"].Codes[0] != "x" || gens["a"].Language != "python" || gens["5"].Codes[0] != "int main(){}" || gens["5"].Language != "cpp" {
		t.Errorf("got %+v %+v", gens["a"], gens["5"])
	}
	if len(errs) != 2 {
		t.Errorf("errors %+v, want 2 (no id, duplicate)", errs)
	}
}

func FuzzParseProblem(f *testing.F) {
	f.Add([]byte(`{"id":"a","tests":[{"input":"1","output":"2"}],"time_limit":{"seconds":1,"nanos":0}}`))
	f.Add([]byte(`{"name":"1_A. x","public_tests":{"input":["1"],"output":["1"]},"memory_limit_bytes":1e9}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		p, err := ParseProblem(line, true)
		if err != nil {
			return
		}
		if p.ID == "" || len(p.Tests) == 0 || p.TimeLimitMS <= 0 || p.MemoryLimitMB <= 0 {
			t.Fatalf("accepted a problem without id, tests or limits: %+v", p)
		}
	})
}

func FuzzParseGenerations(f *testing.F) {
	f.Add([]byte(`[{"id":"a","code_list":["x"]}]`))
	f.Add([]byte("{\"id\":1,\"output_list\":[\"```\\nx\\n```\"]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		gens, _, err := ParseGenerations(data, "python")
		if err != nil {
			return
		}
		for id, g := range gens {
			if id == "" || len(g.Codes) == 0 || g.Language == "" {
				t.Fatalf("accepted %+v", g)
			}
		}
	})
}
