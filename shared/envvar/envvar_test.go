package envvar

import (
	"strings"
	"testing"
	"time"
)

func TestReader(t *testing.T) {
	const name = "REWARDMESH_X"
	for _, tc := range []struct {
		value string
		read  func(r *Reader) any // the setting, from its default
		want  any                 // nil: refused
	}{
		{"", func(r *Reader) any { n := 7; r.Int(name, 1, &n); return n }, 7},
		{"12", func(r *Reader) any { n := 7; r.Int(name, 1, &n); return n }, 12},
		{"-1", func(r *Reader) any { n := 7; r.Int(name, -1, &n); return n }, -1},
		{"0", func(r *Reader) any { n := 7; r.Int(name, 1, &n); return n }, nil},
		{"x", func(r *Reader) any { n := 7; r.Int(name, 0, &n); return n }, nil},
		{"1.5", func(r *Reader) any { f := 1.0; r.Float(name, 0, &f); return f }, 1.5},
		{"-0.5", func(r *Reader) any { f := 1.0; r.Float(name, 0, &f); return f }, nil},
		{"Inf", func(r *Reader) any { f := 1.0; r.Float(name, 0, &f); return f }, nil},
		{"NaN", func(r *Reader) any { f := 1.0; r.Float(name, 0, &f); return f }, nil},
		{"90s", func(r *Reader) any { var d time.Duration; r.Duration(name, &d); return d }, 90 * time.Second},
		{"45", func(r *Reader) any { var d time.Duration; r.Duration(name, &d); return d }, 45 * time.Second},
		{"0", func(r *Reader) any { d := time.Hour; r.Duration(name, &d); return d }, time.Duration(0)},
		{"-1s", func(r *Reader) any { var d time.Duration; r.Duration(name, &d); return d }, nil},
		{"-5", func(r *Reader) any { var d time.Duration; r.Duration(name, &d); return d }, nil},
		{"99999999999999", func(r *Reader) any { var d time.Duration; r.Duration(name, &d); return d }, nil},
		{"soon", func(r *Reader) any { var d time.Duration; r.Duration(name, &d); return d }, nil},
		{"TRUE", func(r *Reader) any { var b bool; r.Bool(name, &b); return b }, true},
		{"0", func(r *Reader) any { b := true; r.Bool(name, &b); return b }, false},
		{"yes", func(r *Reader) any { var b bool; r.Bool(name, &b); return b }, nil},
		{"", func(r *Reader) any { s := "def"; r.String(name, &s); return s }, "def"},
		{"v", func(r *Reader) any { s := "def"; r.String(name, &s); return s }, "v"},
	} {
		r := NewReader(func(n string) string {
			if n == name {
				return tc.value
			}
			return ""
		})
		got := tc.read(r)
		err := r.Err()
		switch {
		case tc.want == nil && (err == nil || !strings.Contains(err.Error(), name)):
			t.Errorf("%q: err %v, want one naming %s", tc.value, err, name)
		case tc.want != nil && (err != nil || got != tc.want):
			t.Errorf("%q: %v (%T), %v; want %v", tc.value, got, got, err, tc.want)
		}
	}
}

func TestReaderJoinsEveryRefusal(t *testing.T) {
	r := NewReader(func(name string) string { return "bad" })
	var n int
	var d time.Duration
	r.Int("REWARDMESH_A", 0, &n)
	r.Duration("REWARDMESH_B", &d)
	err := r.Err()
	if err == nil || !strings.Contains(err.Error(), "REWARDMESH_A") || !strings.Contains(err.Error(), "REWARDMESH_B") {
		t.Errorf("err %v, want both variables named", err)
	}
}
