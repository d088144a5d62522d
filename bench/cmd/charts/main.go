// Command charts draws the figures of BENCHMARKS.md from the raw results
// in bench/results, so that a new run is redrawn with one command:
//
//	cd bench && go run ./cmd/charts
//
// It reads go test -bench output (medians of the samples of each
// benchmark) and the JSON reports of cmd/oauth2kit-load, and writes PNGs.
// It lives in the bench module so that the SDK never depends on
// gonum.org/v1/plot.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"log"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func main() {
	results := flag.String("results", "results", "`directory` of the raw results")
	out := flag.String("out", filepath.Join("..", "docs", "bench"), "`directory` the PNGs are written to")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("charts: ")
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	var failed bool
	for _, c := range []struct {
		name string
		draw func(results, out string) error
	}{
		{"verify", drawVerify},
		{"peers", drawPeers},
		{"load", drawLoad},
	} {
		if err := c.draw(*results, *out); err != nil {
			log.Printf("%s: %v", c.name, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// samples maps a benchmark's name, without the -GOMAXPROCS suffix, to its
// samples per unit.
type samples map[string]map[string][]float64

var procsSuffix = regexp.MustCompile(`-\d+$`)

// readBench parses go test -bench output, ignoring every other line.
func readBench(path string) (samples, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := samples{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(fields[0], "")
		if s[name] == nil {
			s[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			s[name][fields[i+1]] = append(s[name][fields[i+1]], v)
		}
	}
	return s, sc.Err()
}

// median returns the median of the samples of name in unit, or NaN.
func (s samples) median(name, unit string) float64 {
	xs := slices.Clone(s[name][unit])
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// drawVerify draws the variants of Verify per algorithm, ns/op on a log
// scale, from results/oauth2.txt.
func drawVerify(results, out string) error {
	s, err := readBench(filepath.Join(results, "oauth2.txt"))
	if err != nil {
		return err
	}
	algs := []string{"EdDSA", "ES256", "RS256", "HS256"}
	variants := []string{"bare-go-jose", "cold/no-revocation", "cold/memstore", "cold/view", "cached/no-revocation", "cached/memstore", "cached/view"}
	bars := &groupedBars{floor: 10}
	for _, v := range variants {
		vals := make([]float64, len(algs))
		for i, a := range algs {
			vals[i] = s.median("BenchmarkVerify/"+a+"/"+v, "ns/op")
		}
		bars.series = append(bars.series, barSeries{name: v, values: vals})
	}
	p := plot.New()
	p.Title.Text = "Verify: median ns/op per algorithm (log scale, lower is faster)"
	p.Y.Label.Text = "ns/op"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	// Room above the tallest bar for the legend, top right over the
	// cheapest algorithm's bars.
	p.Y.Min, p.Y.Max = bars.floor, 3e6
	p.NominalX(algs...)
	bars.addTo(p)
	p.Legend.Top = true
	return p.Save(22*vg.Centimeter, 12*vg.Centimeter, filepath.Join(out, "verify.png"))
}

// drawPeers draws each peer's throughput on the refresh grant and the
// protected route, from results/peers-rerun.txt.
func drawPeers(results, out string) error {
	s, err := readBench(filepath.Join(results, "peers-rerun.txt"))
	if err != nil {
		return err
	}
	peers := []string{"oauth2kit", "oauth2kit-nocache", "gooauth2", "gooauth2-noclientauth", "fosite"}
	// throughput is requests per second: the req/s metric where there is
	// one, else one request per ns/op.
	throughput := func(workload, peer string) float64 {
		name := "Benchmark" + workload + "/peer=" + peer
		if v := s.median(name, "req/s"); !math.IsNaN(v) {
			return v
		}
		return 1e9 / s.median(name, "ns/op")
	}
	for _, chart := range []struct {
		file, title string
		workloads   []string
		labels      []string
	}{
		{"peers-refresh.png", "Refresh grant over HTTP: requests/s (median, higher is faster)",
			[]string{"RefreshGrant", "RefreshGrantPublicClient"},
			[]string{"confidential client (bcrypt secret check)", "public client (no secret)"}},
		{"peers-route.png", "Protected route over HTTP: requests/s (median, higher is faster)",
			[]string{"ProtectedRoute", "ProtectedRouteParallel"},
			[]string{"one client goroutine", "parallel (GOMAXPROCS=2 goroutines)"}},
	} {
		bars := &groupedBars{}
		for _, peer := range peers {
			vals := make([]float64, len(chart.workloads))
			has := false
			for i, w := range chart.workloads {
				vals[i] = throughput(w, peer)
				has = has || !math.IsNaN(vals[i])
			}
			if !has {
				continue // a peer row the workload has not
			}
			bars.series = append(bars.series, barSeries{name: peer, values: vals})
		}
		p := plot.New()
		p.Title.Text = chart.title
		p.Y.Label.Text = "requests/s"
		p.Y.Min = 0
		p.NominalX(chart.labels...)
		bars.addTo(p)
		p.Legend.Top = true
		if err := p.Save(20*vg.Centimeter, 12*vg.Centimeter, filepath.Join(out, chart.file)); err != nil {
			return err
		}
	}
	return nil
}

// loadReport is the part of an oauth2kit-load JSON report the charts use;
// durations are in nanoseconds.
type loadReport struct {
	Rate       float64 `json:"rate"`
	Throughput float64 `json:"throughput"`
	Success    float64 `json:"success"`
	Metrics    struct {
		Latencies struct {
			P50 float64 `json:"50th"`
			P99 float64 `json:"99th"`
		} `json:"latencies"`
	} `json:"metrics"`
}

func readLoad(path string) (loadReport, error) {
	var r loadReport
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// loadRates are the fixed rates the load runs were made at.
var loadRates = []float64{500, 1000, 2000, 4000, 8000}

// drawLoad draws latency against offered load for /api/me and /api/ping,
// and their unpaced throughput, from results/load.
func drawLoad(results, out string) error {
	mixes := []struct{ name, label string }{{"me", "/api/me (verified)"}, {"public", "/api/ping (no auth)"}}
	lat := plot.New()
	lat.Title.Text = "Latency against offered load (demo server, memory store, loopback)"
	lat.X.Label.Text = "offered load, requests/s (log scale)"
	lat.Y.Label.Text = "latency, ms (log scale)"
	lat.X.Scale, lat.Y.Scale = plot.LogScale{}, plot.LogScale{}
	lat.X.Tick.Marker = plot.ConstantTicks(rateTicks())
	lat.Y.Tick.Marker = logTicks{}
	for i, m := range mixes {
		var p50, p99 plotter.XYs
		for _, rate := range loadRates {
			r, err := readLoad(filepath.Join(results, "load", fmt.Sprintf("%s-%.0f.json", m.name, rate)))
			if err != nil {
				return err
			}
			p50 = append(p50, plotter.XY{X: rate, Y: r.Metrics.Latencies.P50 / 1e6})
			p99 = append(p99, plotter.XY{X: rate, Y: r.Metrics.Latencies.P99 / 1e6})
		}
		for j, series := range []struct {
			xys  plotter.XYs
			name string
		}{{p50, "p50"}, {p99, "p99"}} {
			l, pts, err := plotter.NewLinePoints(series.xys)
			if err != nil {
				return err
			}
			l.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
			pts.Shape = plotutil.Shape(j)
			if j == 1 {
				l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			}
			lat.Add(l, pts)
			lat.Legend.Add(m.label+" "+series.name, l, pts)
		}
	}
	lat.Legend.Top, lat.Legend.Left = true, true
	if err := lat.Save(20*vg.Centimeter, 13*vg.Centimeter, filepath.Join(out, "load-latency.png")); err != nil {
		return err
	}
	return drawLoadMax(results, out, mixes)
}

// drawLoadMax draws the throughput of the unpaced runs (-rate 0 -workers
// 8), made alternately for the two mixes: <mix>-max.json, then
// <mix>-max-2.json and so on.
func drawLoadMax(results, out string, mixes []struct{ name, label string }) error {
	bars := &groupedBars{}
	var runs []string
	for _, m := range mixes {
		var vals []float64
		for run := 1; ; run++ {
			file := m.name + "-max.json"
			if run > 1 {
				file = fmt.Sprintf("%s-max-%d.json", m.name, run)
			}
			r, err := readLoad(filepath.Join(results, "load", file))
			if errors.Is(err, os.ErrNotExist) && run > 1 {
				break
			}
			if err != nil {
				return err
			}
			vals = append(vals, r.Throughput)
			if len(runs) < run {
				runs = append(runs, fmt.Sprint("run ", run))
			}
		}
		bars.series = append(bars.series, barSeries{name: m.label, values: vals})
	}
	p := plot.New()
	p.Title.Text = "Unpaced throughput, 8 workers (demo server, memory store, loopback)"
	p.Y.Label.Text = "successful requests/s"
	p.Y.Min = 0
	p.NominalX(runs...)
	bars.addTo(p)
	p.Legend.Top = true
	return p.Save(16*vg.Centimeter, 11*vg.Centimeter, filepath.Join(out, "load-max.png"))
}

func rateTicks() []plot.Tick {
	var ticks []plot.Tick
	for _, r := range loadRates {
		ticks = append(ticks, plot.Tick{Value: r, Label: strconv.FormatFloat(r, 'f', -1, 64)})
	}
	return ticks
}

// logTicks labels 1, 2 and 5 times each power of ten, which plot.LogTicks
// leaves unlabelled when a range spans less than a decade or two.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
	}
	return ticks
}

// barSeries is one bar per category, NaN for none.
type barSeries struct {
	name   string
	values []float64
}

// groupedBars draws series side by side within each category of a nominal
// X axis. Unlike plotter.BarChart, its bars rise from floor rather than 0,
// so that they can stand on a log scale.
type groupedBars struct {
	series []barSeries
	floor  float64
}

func (g *groupedBars) addTo(p *plot.Plot) {
	for i := range g.series {
		b := &seriesBars{g: g, i: i}
		p.Add(b)
		p.Legend.Add(g.series[i].name, b)
	}
}

// seriesBars is one series of a groupedBars, a plot.Plotter of its own so
// that it has a legend entry.
type seriesBars struct {
	g *groupedBars
	i int
}

const groupWidth = 0.8 // of a category's width

func (b *seriesBars) color() color.Color { return plotutil.Color(b.i) }

func (b *seriesBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := float64(len(b.g.series))
	w := groupWidth / n
	for cat, v := range b.g.series[b.i].values {
		if math.IsNaN(v) || v <= b.g.floor {
			continue
		}
		x := float64(cat) - groupWidth/2 + w*float64(b.i) + w/2
		rect := []vg.Point{
			{X: trX(x - w/2), Y: trY(b.g.floor)},
			{X: trX(x - w/2), Y: trY(v)},
			{X: trX(x + w/2), Y: trY(v)},
			{X: trX(x + w/2), Y: trY(b.g.floor)},
		}
		c.FillPolygon(b.color(), c.ClipPolygonY(rect))
	}
}

func (b *seriesBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	ymin, ymax = b.g.floor, b.g.floor
	for _, s := range b.g.series {
		for _, v := range s.values {
			if !math.IsNaN(v) {
				ymax = math.Max(ymax, v)
			}
		}
	}
	return -0.5, float64(len(b.g.series[b.i].values)) - 0.5, ymin, ymax * 1.25
}

func (b *seriesBars) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y},
		{X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y},
	}
	c.FillPolygon(b.color(), c.ClipPolygonY(pts))
}
