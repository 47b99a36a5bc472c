package eval

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// reportFixture is the summary of the fixture run, whose report the tests read.
func reportFixture(t *testing.T) (*Summary, string) {
	t.Helper()
	dir := t.TempDir()
	problems, gens := writeLCBFixture(t, dir)
	out := filepath.Join(dir, "out")
	sum, err := RunLCB(context.Background(), LCBConfig{Problems: problems, Generations: gens, Out: out}, newCountingJudge(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return sum, filepath.Join(out, ReportFile)
}

func TestReportIsSelfContained(t *testing.T) {
	_, path := reportFixture(t)
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	// Nothing to fetch: no src, no href, no url(), no script.
	if m := regexp.MustCompile(`(?i)(\ssrc=|\shref=|url\(|<script|<link)`).FindString(html); m != "" {
		t.Errorf("report references an external asset: %q", m)
	}
	for _, want := range []string{
		"pass@1 by difficulty", "pass@1 by platform", "verdicts (samples)", "slowest test per sample (ms)",
		">easy<", ">leetcode<", "60.0% (1)", // easy: one problem at 3/5
		"Rows not evaluated", "does not hold a str",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if n := strings.Count(html, "<svg"); n != 4 {
		t.Errorf("report has %d charts, want 4", n)
	}
}

func TestReportEscapes(t *testing.T) {
	sum := &Summary{Benchmark: "lcb", Verdicts: map[string]int{"AC": 1},
		ByDifficulty: []Group{{Name: `<script>alert(1)</script>`, Problems: 1, PassAt1: 1}}}
	html := string(RenderReport(sum))
	if strings.Contains(html, "<script>") {
		t.Error("a problem field was written into the page unescaped")
	}
}

// TestReportRendersInChromium renders the report in headless Chromium and checks
// the screenshot decodes and shows more than a blank page.
func TestReportRendersInChromium(t *testing.T) {
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("REWARDMESH_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("chromium is not installed (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (apt-get install chromium); REWARDMESH_REQUIRE_CHROMIUM=1 makes this fail")
	}
	_, path := reportFixture(t)
	shot := filepath.Join(t.TempDir(), "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--screenshot="+shot, "--window-size=1280,1400", "file://"+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, stderr.String())
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1400 {
		t.Errorf("screenshot is %v, want 1280x1400", b)
	}
	colors, dark := inkStats(img)
	// A blank page is one color; the charts alone bring in a dozen.
	if colors < 8 || dark < 0.005 {
		t.Errorf("screenshot looks blank: %d colors, %.4f of pixels dark", colors, dark)
	}
	if dir := os.Getenv("REWARDMESH_KEEP_SCREENSHOT"); dir != "" {
		data, _ := os.ReadFile(shot)
		os.WriteFile(filepath.Join(dir, "report.png"), data, 0o644)
	}
}

// inkStats counts distinct colors (to 4 bits a channel) and the fraction of
// pixels well away from white.
func inkStats(img image.Image) (int, float64) {
	seen := map[uint32]bool{}
	dark, total := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[(r>>12)<<8|(g>>12)<<4|bl>>12] = true
			if r+g+bl < 3*0xc000 {
				dark++
			}
			total++
		}
	}
	return len(seen), float64(dark) / float64(total)
}

func TestReportShortensSkipped(t *testing.T) {
	sum := &Summary{Benchmark: "lcb", Verdicts: map[string]int{}}
	for i := range 100 {
		sum.Skipped = append(sum.Skipped, "problem "+string(rune('a'+i%26))+" has no generations")
	}
	html := string(RenderReport(sum))
	if n := strings.Count(html, "<li>"); n != maxSkippedShown+1 || !strings.Contains(html, "and 70 more") {
		t.Errorf("report lists %d skipped entries", n)
	}
	if len(sum.Skipped) != 100 {
		t.Error("rendering shortened the summary's own list")
	}
}
