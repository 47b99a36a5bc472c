package lcb

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rewardmesh/rewardmesh/shared/conformance"
)

// BenchmarkDecodeTests decodes the largest real row's hidden tests. "inflate" is
// the baseline: base64 and zlib alone, which any decoder must do; "decode" adds
// the pickle and the JSON, so the ratio of the two is what reading the pickle in
// Go costs over the bare inflation.
func BenchmarkDecodeTests(b *testing.B) {
	data, err := os.ReadFile(conformance.Path(b, "code", "lcb_problems.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	var biggest json.RawMessage
	var text string
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var row struct {
			Private json.RawMessage `json:"private_test_cases"`
		}
		json.Unmarshal([]byte(line), &row)
		if len(row.Private) > len(biggest) {
			biggest = row.Private
			json.Unmarshal(row.Private, &text)
		}
	}
	b.Run("inflate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			raw, _ := base64.StdEncoding.DecodeString(text)
			zr, _ := zlib.NewReader(bytes.NewReader(raw))
			io.ReadAll(zr)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeTests(biggest); err != nil {
				b.Fatal(err)
			}
		}
	})
}
