package eval

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
)

// ReportFile is the name of the HTML report inside an output folder.
const ReportFile = "report.html"

// verdictColors give each verdict the same color in every chart.
var verdictColors = map[string]string{
	"AC": "#2e7d32", "WA": "#c62828", "TLE": "#ef6c00", "MLE": "#6a1b9a", "RE": "#ad1457",
	"CE": "#4e342e", "OLE": "#00838f", "SE": "#455a64", "ERROR": "#000000",
}

// RenderReport draws the summary as one self-contained HTML page: every chart
// is inline SVG and there is no script, font or stylesheet to fetch, so the page
// reads the same offline and in a CI artifact.
func RenderReport(sum *Summary) []byte {
	var buf bytes.Buffer
	// Codeforces problems have a rating, not a difficulty, and a source.
	diffName, platName := "difficulty", "platform"
	switch sum.Benchmark {
	case "codeforces":
		diffName, platName = "rating", "source"
	case "ioi":
		// IOI scores tasks, not samples: the task table carries the score.
		diffName, platName = "score (chosen submissions)", "day"
	}
	data := reportData{
		S:          sum,
		DiffName:   diffName,
		PlatName:   platName,
		Difficulty: barChart("pass@1 by "+diffName, groupsToBars(sum.ByDifficulty), true),
		Platform:   barChart("pass@1 by "+platName, groupsToBars(sum.ByPlatform), true),
		Verdicts:   barChart("verdicts (samples)", verdictBars(sum.Verdicts), false),
		Runtime:    barChart("slowest test per sample (ms)", runtimeBars(sum.runtimes), false),
		Problems:   sum.problemRows,
		Skipped:    sum.Skipped,
	}
	// A partial generations file leaves most of a dataset skipped; summary.json
	// keeps the whole list, the page its head.
	if n := len(data.Skipped); n > maxSkippedShown {
		data.Skipped = append(data.Skipped[:maxSkippedShown:maxSkippedShown], fmt.Sprintf("… and %d more (see summary.json)", n-maxSkippedShown))
	}
	if err := reportTemplate.Execute(&buf, data); err != nil {
		// The template is fixed and its data plain; failing here is a bug, and
		// the page says so rather than vanish.
		return []byte("<!doctype html><title>report</title><p>report failed: " + template.HTMLEscapeString(err.Error()))
	}
	return buf.Bytes()
}

type reportData struct {
	S                                       *Summary
	DiffName, PlatName                      string
	Difficulty, Platform, Verdicts, Runtime template.HTML
	Problems                                []problemReport
	Skipped                                 []string
}

const maxSkippedShown = 30

type bar struct {
	Label string
	Value float64
	Note  string
	Color string
}

func groupsToBars(groups []Group) []bar {
	var out []bar
	for _, g := range groups {
		out = append(out, bar{Label: g.Name, Value: g.PassAt1, Note: fmt.Sprintf("%.1f%% (%d)", 100*g.PassAt1, g.Problems), Color: "#1565c0"})
	}
	return out
}

func verdictBars(counts map[string]int) []bar {
	order := []string{"AC", "WA", "TLE", "MLE", "RE", "CE", "OLE", "SE", "ERROR"}
	var out []bar
	for _, v := range order {
		if n := counts[v]; n > 0 {
			out = append(out, bar{Label: v, Value: float64(n), Note: fmt.Sprint(n), Color: verdictColors[v]})
		}
	}
	var other []string
	for v := range counts {
		if !slices.Contains(order, v) {
			other = append(other, v)
		}
	}
	slices.Sort(other)
	for _, v := range other {
		out = append(out, bar{Label: v, Value: float64(counts[v]), Note: fmt.Sprint(counts[v]), Color: "#757575"})
	}
	return out
}

// runtimeBars bins runtimes on a 1-2-5 scale, which keeps a 3 ms program and a
// 3 s one on the same readable chart.
func runtimeBars(ms []float64) []bar {
	edges := []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}
	counts := make([]int, len(edges)+1)
	for _, v := range ms {
		i, _ := slices.BinarySearch(edges, v)
		if i < len(edges) && edges[i] == v {
			i++
		}
		counts[i]++
	}
	var out []bar
	for i, n := range counts {
		var label string
		switch {
		case i == 0:
			label = fmt.Sprintf("<%g", edges[0])
		case i == len(edges):
			label = fmt.Sprintf("≥%g", edges[i-1])
		default:
			label = fmt.Sprintf("%g–%g", edges[i-1], edges[i])
		}
		out = append(out, bar{Label: label, Value: float64(n), Note: fmt.Sprint(n), Color: "#00897b"})
	}
	// Trim empty bins at both ends; keep the inner ones so gaps show.
	first, last := 0, len(out)-1
	for first < last && out[first].Value == 0 {
		first++
	}
	for last > first && out[last].Value == 0 {
		last--
	}
	return out[first : last+1]
}

// barChart draws labelled vertical bars as SVG. fraction charts run 0 to 1.
func barChart(title string, bars []bar, fraction bool) template.HTML {
	const w, h, top, bottom, left = 560.0, 270.0, 44.0, 46.0, 44.0
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="%s">`, w, h, w, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&sb, `<rect x="0" y="0" width="%g" height="%g" fill="#fafafa" stroke="#ddd"/>`, w, h)
	fmt.Fprintf(&sb, `<text x="%g" y="20" font-size="14" font-weight="bold" text-anchor="middle">%s</text>`, w/2, template.HTMLEscapeString(title))
	if len(bars) == 0 {
		fmt.Fprintf(&sb, `<text x="%g" y="%g" font-size="13" text-anchor="middle" fill="#777">no data</text></svg>`, w/2, h/2)
		return template.HTML(sb.String())
	}
	maxV := 1.0
	if !fraction {
		maxV = 0
		for _, b := range bars {
			maxV = math.Max(maxV, b.Value)
		}
		// A multiple of four keeps the four gridlines on whole counts.
		maxV = math.Max(4, math.Ceil(maxV/4)*4)
	}
	plotH := h - top - bottom
	plotW := w - left - 10
	// Axis with four gridlines.
	for i := 0; i <= 4; i++ {
		y := top + plotH*(1-float64(i)/4)
		v := maxV * float64(i) / 4
		label := fmt.Sprintf("%.0f", v)
		if fraction {
			label = fmt.Sprintf("%.0f%%", 100*v)
		}
		fmt.Fprintf(&sb, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e0e0e0"/>`, left, y, w-10, y)
		fmt.Fprintf(&sb, `<text x="%g" y="%.1f" font-size="10" text-anchor="end" fill="#555">%s</text>`, left-4, y+3, label)
	}
	slot := plotW / float64(len(bars))
	bw := math.Min(slot*0.7, 80)
	for i, b := range bars {
		x := left + slot*float64(i) + (slot-bw)/2
		bh := plotH * b.Value / maxV
		y := top + plotH - bh
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
			x, y, bw, bh, b.Color, template.HTMLEscapeString(b.Label), template.HTMLEscapeString(b.Note))
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle">%s</text>`, x+bw/2, y-3, template.HTMLEscapeString(b.Note))
		fmt.Fprintf(&sb, `<text x="%.1f" y="%g" font-size="10" text-anchor="middle">%s</text>`, x+bw/2, h-bottom+14, template.HTMLEscapeString(b.Label))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) },
	"color": func(v string) template.CSS {
		if c, ok := verdictColors[v]; ok {
			return template.CSS(c)
		}
		return "#757575"
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>rewardmesh eval {{.S.Benchmark}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#212121;background:#fff}
h1{font-size:22px} h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.v{display:inline-block;min-width:30px;color:#fff;font-size:11px;text-align:center;margin:1px;border-radius:3px}
.big{font-size:28px;font-weight:bold}
</style></head><body>
<h1>rewardmesh eval: {{.S.Benchmark}}</h1>
<p>{{.S.Problems}} problems, {{.S.Samples}} samples ({{.S.Judged}} judged in this run, {{.S.Cached}} from the cache{{if .S.Deduplicated}}, {{.S.Deduplicated}} duplicates judged once{{end}}){{if .S.Errors}}, <b>{{.S.Errors}} could not be graded — rerun to retry them</b>{{end}}.</p>
{{if .S.PassAtK}}<table><tr>{{range .S.PassAtK}}<th>pass@{{.K}}</th>{{end}}</tr><tr>{{range .S.PassAtK}}<td class="big">{{pct .Value}}</td>{{end}}</tr></table>{{end}}
{{if .S.IOI}}<table><tr><th>IOI</th><th>tasks</th><th>score, chosen submissions</th><th>score, all submissions</th><th>of</th><th>medal</th><th>skipped</th></tr>
{{range .S.IOI}}<tr><td>{{.Year}}</td><td>{{.Tasks}}</td><td class="big">{{printf "%g" .Score}}</td><td>{{printf "%g" .BestScore}}</td><td>{{printf "%g" .MaxScore}}</td><td>{{.Medal}}</td><td>{{.Skipped}}</td></tr>{{end}}
</table>{{end}}
<div class="charts">
{{if ne .S.Benchmark "ioi"}}{{.Difficulty}}
{{.Platform}}{{end}}
{{.Verdicts}}
{{.Runtime}}
</div>
{{if .S.Contests}}<h2>Contests</h2>
<table><tr><th>contest</th><th>problems</th><th>solved</th><th>expected solved (Σ pass@1)</th><th>points</th></tr>
{{range .S.Contests}}<tr><td>{{.Contest}}</td><td>{{.Problems}}</td><td>{{.Solved}}</td><td>{{printf "%.2f" .Expected}}</td><td>{{printf "%g" .Points}}</td></tr>{{end}}
</table>{{end}}
<h2>Problems</h2>
<table><tr><th>problem</th><th>{{.DiffName}}</th><th>{{.PlatName}}</th><th>passed</th><th>verdicts</th></tr>
{{range .Problems}}<tr><td>{{.ID}}</td><td>{{.Difficulty}}</td><td>{{.Platform}}</td><td>{{.Passed}}/{{.Samples}}</td><td>{{range .Verdicts}}<span class="v" style="background:{{color .}}">{{.}}</span>{{end}}</td></tr>{{end}}
</table>
{{if .S.RowErrors}}<h2>Rows not evaluated</h2>
<table><tr><th>line</th><th>id</th><th>error</th></tr>
{{range .S.RowErrors}}<tr><td>{{.Line}}</td><td>{{.QuestionID}}</td><td>{{.Err}}</td></tr>{{end}}
</table>{{end}}
{{if .Skipped}}<h2>Skipped</h2><ul>{{range .Skipped}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))
