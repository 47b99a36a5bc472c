package pickle

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// Pickles built by hand from the opcode definitions in CPython's
// Lib/pickletools.py, one per protocol as pickle.dumps writes a str.
func le32(n int) string {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(n))
	return string(b)
}
func le64(n int) string {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(n))
	return string(b)
}

func TestDecodeString(t *testing.T) {
	const s = `[{"input": "1\n", "output": "2\n"}]`
	tests := []struct {
		name, pickle, want string
	}{
		// Protocol 0: UNICODE (raw-unicode-escape, with \n escaped), PUT, STOP.
		{"protocol 0", `V[{"input": "1\u005cn", "output": "2\u005cn"}]` + "\np0\n.", s},
		{"protocol 0 newline", `Va\u000ab` + "\np0\n.", "a\nb"},
		// Protocol 1: BINUNICODE, BINPUT.
		{"protocol 1", "X" + le32(len(s)) + s + "q\x00.", s},
		{"protocol 2", "\x80\x02X" + le32(len(s)) + s + "q\x00.", s},
		{"protocol 3", "\x80\x03X" + le32(len(s)) + s + "q\x00.", s},
		// Protocol 4: FRAME, SHORT_BINUNICODE for short strings, MEMOIZE.
		{"protocol 4 short", "\x80\x04\x95" + le64(len(s)+3) + "\x8c" + string(rune(len(s))) + s + "\x94.", s},
		{"protocol 4 long", "\x80\x04\x95" + le64(len(s)+6) + "X" + le32(len(s)) + s + "\x94.", s},
		{"protocol 5 binunicode8", "\x80\x05\x95" + le64(len(s)+10) + "\x8d" + le64(len(s)) + s + "\x94.", s},
		{"long binput", "\x80\x02X" + le32(3) + "abcr\x00\x00\x00\x00.", "abc"},
		{"empty string", "\x80\x04\x8c\x00\x94.", ""},
		{"utf-8", "\x80\x04\x8c\x06h\xc3\xa9\xe2\x82\xac\x94.", "hé€"},
		{"protocol 0 latin-1 and escapes", "Vcaf\xe9 \\u20ac \\U0001F600\np0\n.", "café € 😀"},
		// An even run of backslashes before u is not an escape (CPython's rule).
		{"protocol 0 even backslashes", "Va\\\\u0041\np0\n.", `a\\u0041`},
		{"protocol 0 odd backslashes", "Va\\\\\\u0041\np0\n.", `a\\A`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeString([]byte(tt.pickle))
			if err != nil {
				t.Fatalf("DecodeString: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeStringErrors(t *testing.T) {
	tests := []struct {
		name, pickle, want string
		notString          bool
	}{
		{"empty", "", "without STOP", false},
		{"list", "\x80\x04]\x94.", "EMPTY_LIST", true},
		{"int", "\x80\x04K\x05.", "BININT1", true},
		{"bytes", "\x80\x03C\x03abcq\x00.", "SHORT_BINBYTES", true},
		{"global", "\x80\x02cos\nsystem\nq\x00.", "GLOBAL", true},
		{"reduce after string", "\x80\x04\x8c\x01a\x94R.", "REDUCE", true},
		{"two strings", "\x80\x04\x8c\x01a\x8c\x01b.", "leaves 2 values", true},
		{"nothing", "\x80\x04.", "nothing on the stack", true},
		{"no stop", "\x80\x04\x8c\x01a", "without STOP", false},
		{"short length", "\x80\x04X\xff\x00\x00\x00abc.", "claims 255 bytes", false},
		{"huge length", "\x80\x05\x8d\xff\xff\xff\xff\xff\xff\xff\xffabc.", "claims", false},
		{"huge frame", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f.", "FRAME", false},
		{"future protocol", "\x80\x06\x8c\x00.", "protocol 6", false},
		{"bad utf-8", "\x80\x04\x8c\x02\xff\xfe.", "not valid UTF-8", false},
		{"unknown opcode", "\x80\x04\xff.", "unknown opcode 0xff", false},
		{"memo get leaves two", "\x80\x04\x8c\x01a\x94h\x00.", "leaves 2 values", true},
		{"empty memo get", "\x80\x04h\x03.", "memo slot 3", false},
		{"memoize empty stack", "\x80\x04\x94.", "empty stack", false},
		{"bad put index", "Vabc\npx\n.", "not a number", false},
		{"truncated escape", "V\\u12\np0\n.", "truncated", false},
		{"escape past unicode", "V\\U00110000\np0\n.", "not a code point", false},
		{"unterminated unicode", "Vabc", "cut short", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeString([]byte(tt.pickle))
			if err == nil {
				t.Fatal("DecodeString succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if errors.Is(err, ErrNotString) != tt.notString {
				t.Errorf("errors.Is(err, ErrNotString) = %v, want %v (%v)", !tt.notString, tt.notString, err)
			}
		})
	}
}

// TestRealRows decodes the hidden tests of LiveCodeBench's real rows: every one
// is a pickled str holding a JSON list of tests.
func TestRealRows(t *testing.T) {
	data, err := os.ReadFile(conformance.Path(t, "code", "lcb_problems.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var row struct {
			QuestionID string `json:"question_id"`
			Private    string `json:"private_test_cases"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		t.Run(row.QuestionID, func(t *testing.T) {
			raw, err := base64.StdEncoding.DecodeString(row.Private)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := zlib.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			pickled, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			s, err := DecodeString(pickled)
			if err != nil {
				t.Fatalf("DecodeString: %v", err)
			}
			var tests []map[string]string
			if err := json.Unmarshal([]byte(s), &tests); err != nil {
				t.Fatalf("decoded text is not a JSON list of tests: %v", err)
			}
			if len(tests) == 0 || tests[0]["testtype"] == "" {
				t.Errorf("decoded %d tests, first %v", len(tests), tests)
			}
		})
		rows++
	}
	if rows != 5 {
		t.Errorf("read %d rows, want 5", rows)
	}
}

func FuzzDecodeString(f *testing.F) {
	f.Add([]byte("\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00\x8c\x07[1, 2]\n\x94."))
	f.Add([]byte("Vabc\\u0041\np0\n."))
	f.Add([]byte("\x80\x02X\x03\x00\x00\x00abcq\x00."))
	f.Add([]byte("\x80\x04]\x94."))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeString(data)
		if err != nil {
			return
		}
		// Whatever decodes must survive a round trip through protocol 4.
		enc := "\x80\x04X" + le32(len(s)) + s + "\x94."
		back, err := DecodeString([]byte(enc))
		if err != nil || back != s {
			t.Fatalf("round trip of %q: got %q, %v", s, back, err)
		}
	})
}
