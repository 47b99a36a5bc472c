package eval

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress reports how far a run is: a redrawn bar with rate and ETA when the
// writer is a terminal, plain lines (at most one every few seconds) otherwise,
// so a log file stays readable.
type Progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	label    string
	total    int
	done     int
	cached   int
	errors   int
	start    time.Time
	last     time.Time
	every    time.Duration
	now      func() time.Time
	finished bool
	drawn    int // done at the last draw, so Finish does not repeat it
}

// NewProgress reports to w (nil: nowhere) for total samples.
func NewProgress(w io.Writer, label string, total int) *Progress {
	p := &Progress{w: w, label: label, total: total, every: 5 * time.Second, now: time.Now}
	p.tty = isTerminal(w)
	if p.tty {
		p.every = 200 * time.Millisecond
	}
	p.start = p.now()
	return p
}

// isTerminal reports whether w is a character device, the mark of a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Cached counts n samples answered from the cache.
func (p *Progress) Cached(n int) { p.add(n, n, 0) }

// Judged counts n samples judged now, errs of them failed.
func (p *Progress) Judged(n, errs int) { p.add(n, 0, errs) }

func (p *Progress) add(n, cached, errs int) {
	if p == nil || (n == 0 && errs == 0) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.cached += cached
	p.errors += errs
	if now := p.now(); now.Sub(p.last) >= p.every || p.done >= p.total {
		p.last = now
		p.draw(now)
	}
}

// Finish draws the last state and ends the bar's line.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	if p.drawn != p.done || p.done == 0 {
		p.draw(p.now())
	}
	if p.tty && p.w != nil {
		fmt.Fprintln(p.w)
	}
}

// Line is the progress as text: counts, rate of judging and ETA. The rate
// leaves cached samples out, which cost nothing and would flatter the ETA.
func (p *Progress) line(now time.Time) string {
	elapsed := now.Sub(p.start)
	judged := p.done - p.cached
	rate := 0.0
	if elapsed > 0 {
		rate = float64(judged) / elapsed.Seconds()
	}
	eta := "?"
	if left := p.total - p.done; left <= 0 {
		eta = "0s"
	} else if rate > 0 {
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(p.done) / float64(p.total)
	}
	s := fmt.Sprintf("%s %d/%d (%.0f%%) %.1f samples/s ETA %s", p.label, p.done, p.total, pct, rate, eta)
	if p.cached > 0 {
		s += fmt.Sprintf(", %d cached", p.cached)
	}
	if p.errors > 0 {
		s += fmt.Sprintf(", %d errors", p.errors)
	}
	return s
}

func (p *Progress) draw(now time.Time) {
	if p.w == nil {
		return
	}
	p.drawn = p.done
	if !p.tty {
		fmt.Fprintln(p.w, p.line(now))
		return
	}
	const width = 30
	filled := width
	if p.total > 0 {
		filled = min(width, width*p.done/p.total)
	}
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	// \r and clear-to-end-of-line redraw the bar in place.
	fmt.Fprintf(p.w, "\r%s %s\x1b[K", bar, p.line(now))
}
