package runner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	reqs := []Request{
		{ID: 1, Op: OpPing},
		{ID: 2, Op: OpWrite, Files: map[string]File{"main.py": {Data: []byte("print(1)\n\x00\xff"), Exec: true}}},
		{ID: 3, Op: OpRun, Argv: []string{"python3", "main.py"}, Stdin: []byte("1 2\n"), Limits: Limits{CPUMillis: 1000, MemoryBytes: 1 << 28}},
	}
	var buf bytes.Buffer
	for _, r := range reqs {
		if err := WriteFrame(&buf, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range reqs {
		var got Request
		if err := ReadFrame(&buf, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip: got %+v, want %+v", got, want)
		}
	}
	var end Request
	if err := ReadFrame(&buf, &end); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	huge := make([]byte, 4)
	binary.BigEndian.PutUint32(huge, MaxFrame+1)
	cases := map[string][]byte{
		"truncated header": {0, 0},
		"truncated body":   {0, 0, 0, 10, '{'},
		"too large":        huge,
		"not json":         {0, 0, 0, 2, 'x', 'y'},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			var r Response
			err := ReadFrame(bytes.NewReader(data), &r)
			if err == nil || errors.Is(err, io.EOF) {
				t.Fatalf("ReadFrame(%q) = %v, want a decoding error", data, err)
			}
		})
	}
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteFrame(&buf, Response{ID: 7, Status: StatusOK, Stdout: []byte("hi")})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for range 4 {
			var resp Response
			if err := ReadFrame(r, &resp); err != nil {
				return
			}
		}
	})
}
