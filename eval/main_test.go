package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain_(t *testing.T) {
	dir := t.TempDir()
	problems, gens := writeLCBFixture(t, dir)
	judge := newCountingJudge()
	var servers []string
	released := 0
	newJudge := func(server string) (Judge, func(), error) {
		servers = append(servers, server)
		return judge, func() { released++ }, nil
	}
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "out")
	err := Main(context.Background(), []string{"lcb", "--problems", problems, "--generations", gens, "--out", out, "--k", "1,2", "--server", "http://gw:8080"}, newJudge, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Main: %v\n%s", err, stderr.String())
	}
	if len(servers) != 1 || servers[0] != "http://gw:8080" || released != 1 {
		t.Errorf("newJudge got %q, released %d times", servers, released)
	}
	for _, want := range []string{"pass@1 = 0.6000", "pass@2 = 0.8667", "easy", "atcoder"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	// Progress (plain: stderr is no terminal) and the malformed rows go to stderr.
	for _, want := range []string{"lcb 17/17 (100%)", "row 2 bad1", "base64"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestMainFlags(t *testing.T) {
	noJudge := func(string) (Judge, func(), error) { return nil, nil, errors.New("should not start") }
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no benchmark", nil, "name a benchmark"},
		{"unknown benchmark", []string{"humaneval"}, "unknown benchmark"},
		{"missing flags", []string{"lcb", "--problems", "p"}, "missing --generations, --out"},
		{"bad k", []string{"lcb", "--problems", "p", "--generations", "g", "--out", "o", "--k", "1,zero"}, "--k"},
		{"stray argument", []string{"codeforces", "--problems", "p", "--generations", "g", "--out", "o", "extra"}, "unexpected argument"},
		{"lcb flag on codeforces", []string{"codeforces", "--start-date", "2024-01-01"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Main(context.Background(), tt.args, noJudge, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("judge fails to start", func(t *testing.T) {
		err := Main(context.Background(), []string{"lcb", "--problems", "p", "--generations", "g", "--out", "o"}, noJudge, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "should not start") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSystemErrorsAreNotCached(t *testing.T) {
	dir := t.TempDir()
	problems, gens := writeLCBFixture(t, dir)
	b, _ := json.Marshal([]map[string]any{{"question_id": "p1", "code_list": []string{"SYSFAIL", "ok"}}})
	os.WriteFile(gens, b, 0o644)
	out := filepath.Join(dir, "out")
	var stderr bytes.Buffer
	args := []string{"lcb", "--problems", problems, "--generations", gens, "--out", out, "--quiet"}
	first := newCountingJudge()
	err := Main(context.Background(), args, func(string) (Judge, func(), error) { return first, nil, nil }, &bytes.Buffer{}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "rerun to retry") {
		t.Fatalf("a run with a system error: err = %v", err)
	}
	second := newCountingJudge()
	Main(context.Background(), args, func(string) (Judge, func(), error) { return second, nil, nil }, &bytes.Buffer{}, &stderr)
	if second.sources["SYSFAIL"] != 1 || second.sources["ok"] != 0 {
		t.Errorf("rerun judged %v; want only the system error again", second.sources)
	}
}
