package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// palette gives each server a fixed colour; getty stands out.
var palette = map[string]string{
	"getty":       "#d62728",
	"std":         "#7f7f7f",
	"gnet":        "#1f77b4",
	"nbio":        "#2ca02c",
	"gnet-frames": "#6baed6",
	"nbio-frames": "#74c476",
	"netpoll":     "#9467bd",
	"evio":        "#8c564b",
	"dubbo-getty": "#ff7f0e",
	"go-epoll":    "#17becf",
	"c-epoll":     "#bcbd22",
}

func colour(name string, i int) string {
	if c, ok := palette[name]; ok {
		return c
	}
	extra := []string{"#e377c2", "#aec7e8", "#98df8a", "#ffbb78"}
	return extra[i%len(extra)]
}

// svgChart draws two grouped bar panels for a suite: messages per second
// and messages per server CPU-second, one group per cell, one bar per
// server (median), with the min–max range as a whisker on the first panel.
// Cells differ by orders of magnitude, so each group is scaled to its best
// server (1.0); the absolute value is in each bar's tooltip.
func svgChart(s *suiteResult) string {
	const (
		width   = 960
		panelH  = 300
		left    = 70
		right   = 20
		top     = 40
		gap     = 70
		legendH = 40
	)
	height := top + 2*panelH + gap + legendH + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(s.Title))
	panels := []struct {
		title string
		val   func(summary) float64
		lo    func(summary) float64
		hi    func(summary) float64
	}{
		{"messages per second, relative to the best server of each cell (median; whisker: min–max)", func(m summary) float64 { return m.MsgsPerSec },
			func(m summary) float64 { return m.MsgsMin }, func(m summary) float64 { return m.MsgsMax }},
		{"messages per server CPU-second, relative to the best server of each cell (median)", func(m summary) float64 { return m.MsgsPerCPUSec }, nil, nil},
	}
	for pi, p := range panels {
		y0 := top + pi*(panelH+gap)
		drawPanel(&b, s, p.title, p.val, p.lo, p.hi, left, y0, width-left-right, panelH)
	}
	// Legend.
	ly := top + 2*panelH + gap + 20
	x := left
	for i, n := range s.Servers {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`, x, ly, colour(n, i))
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", x+16, ly+11, html.EscapeString(n))
		x += 22 + 8*len(n) + 14
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func drawPanel(b *strings.Builder, s *suiteResult, title string, val, lo, hi func(summary) float64, x0, y0, w, h int) {
	plotTop := y0 + 20
	plotH := h - 36
	base := float64(plotTop + plotH)
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13">%s</text>`+"\n", x0, y0+10, html.EscapeString(title))
	const top = 1.2 // whiskers may pass the best median
	for v := 0.0; v <= top+0.01; v += 0.2 {
		y := base - v/top*float64(plotH)
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, x0, x0+w, y, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%.1f</text>`+"\n", x0-6, y+4, v)
	}
	n := len(s.Cells)
	if n == 0 {
		return
	}
	groupW := float64(w) / float64(n)
	barW := groupW * 0.8 / float64(max(len(s.Servers), 1))
	for ci, c := range s.Cells {
		best := 0.0
		for _, r := range c.Rows {
			best = math.Max(best, val(r.Summary))
		}
		if best == 0 {
			best = 1
		}
		gx := float64(x0) + float64(ci)*groupW + groupW*0.1
		for ri, r := range c.Rows {
			m := r.Summary
			if m.N == 0 {
				continue
			}
			v := val(m)
			bh := math.Min(v/best, top) / top * float64(plotH)
			x := gx + float64(ri)*barW
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
				x, base-bh, barW*0.9, bh, colour(r.Server, ri), html.EscapeString(r.Server), kilo(v))
			if lo != nil && hi != nil {
				yl := base - math.Min(lo(m)/best, top)/top*float64(plotH)
				yh := base - math.Min(hi(m)/best, top)/top*float64(plotH)
				cx := x + barW*0.45
				fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black"/>`, cx, cx, yl, yh)
			}
			b.WriteString("\n")
		}
		cx := gx + groupW*0.4
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d conns</text>`, cx, base+14, c.Conns)
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s, depth %d</text>`+"\n", cx, base+28, size(c.Size), c.Depth)
	}
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.0f" y2="%.0f" stroke="black"/>`+"\n", x0, x0+w, base, base)
}
