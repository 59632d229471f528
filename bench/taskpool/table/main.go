// Command table turns the output of the taskpool benchmarks (go test -bench,
// any -count) into the Markdown tables of README.md. Rates are the best of
// the runs of each benchmark (on a shared machine other programs only ever
// slow a run down); ratios, CPU time, allocations and delays are medians.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var name = regexp.MustCompile(`^BenchmarkPools/task=(\w+)/subs=(\d+)/pool=(\S+?)(-\d+)?$`)

type key struct{ task, subs, pool string }

func main() {
	runs := map[key]map[string][]float64{}
	var pools []string
	ceiling := map[string][]float64{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		metrics := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				metrics[f[i+1]] = v
			}
		}
		if strings.HasPrefix(f[0], "BenchmarkCeiling") {
			for u, v := range metrics {
				ceiling[u] = append(ceiling[u], v)
			}
			continue
		}
		m := name.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		k := key{m[1], m[2], m[3]}
		if !slices.Contains(pools, k.pool) {
			pools = append(pools, k.pool)
		}
		if runs[k] == nil {
			runs[k] = map[string][]float64{}
		}
		for u, v := range metrics {
			runs[k][u] = append(runs[k][u], v)
		}
	}
	subs := []string{"2", "8", "64"}
	table := func(task, title, unit, format string) {
		pick := median
		if strings.HasPrefix(unit, "Mtasks") {
			pick = slices.Max[[]float64]
		}
		fmt.Printf("\n%s\n\n| pool | %s |\n|---|%s\n", title, strings.Join(prefix("subs=", subs), " | "), strings.Repeat("---:|", len(subs)))
		for _, p := range pools {
			row := []string{p}
			for _, s := range subs {
				vs := runs[key{task, s, p}][unit]
				if len(vs) == 0 {
					row = append(row, "")
					continue
				}
				row = append(row, fmt.Sprintf(format, pick(vs)))
			}
			fmt.Printf("| %s |\n", strings.Join(row, " | "))
		}
	}
	for _, task := range []string{"tiny", "1us"} {
		fmt.Printf("\n### task=%s\n", task)
		table(task, "M tasks/s (wall clock, best run)", "Mtasks/s", "%.2f")
		if task == "1us" {
			table(task, "% of the ceiling measured just before the run (wall clock, median)", "%ceiling", "%.0f%%")
			table(task, "% of the process's CPU time spent in the tasks (median)", "%cpu-in-task", "%.1f%%")
		}
		table(task, "CPU ns per task, whole process (median)", "cpu-ns/task", "%.0f")
		table(task, "allocs per task (median)", "allocs/op", "%.2f")
		table(task, "p99 queueing delay, µs: Submit to start, 1 task in 64 (median)", "p99-wait-us", "%.0f")
	}
	if len(ceiling) > 0 {
		fmt.Printf("\nCeiling: %.2f M tasks/s (best run) of the ~1 µs task (%.0f ns of CPU each, median) on all cores, no pool.\n",
			slices.Max(ceiling["Mtasks/s-ceiling"]), median(ceiling["cpu-ns/task"]))
	}
}

func prefix(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
