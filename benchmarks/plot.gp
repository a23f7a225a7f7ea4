# benchmarks/plot.gp: one workload's chart for benchmarks/run (which writes the data file).
#
#   gnuplot -e "datafile='W.dat'; outfile='W.png'; wtitle='...'" benchmarks/plot.gp
#
# The data file has one line per system that ran the workload (the windowed ones, nexmark-q5,
# nexmark-q7 and windowed-count, have no raw line): name, colour index (1 raw, 2 rill, 3 kstreams),
# records/s median, min, max, records per CPU-second median, min, max. Two panels of bars
# (median) with min-max error bars: throughput on the left, efficiency on the right.
# windowed-count has a bar per system and configuration (rill-eos-100ms, ...): the run script
# then sets xrot (degrees) to slant the long names.
if (!exists("datafile") || !exists("outfile")) {
  print "usage: gnuplot -e \"datafile='W.dat'; outfile='W.png'; wtitle='...'\" benchmarks/plot.gp"
  exit status 2
}
if (!exists("wtitle")) wtitle = datafile

set terminal pngcairo size 1100,520 font "DejaVu Sans,11" noenhanced
set output outfile
set datafile commentschars "#"

set style line 1 lc rgb "#7f7f7f"   # raw
set style line 2 lc rgb "#1f77b4"   # rill
set style line 3 lc rgb "#d62728"   # kstreams
set linetype 1 lc rgb "#7f7f7f"
set linetype 2 lc rgb "#1f77b4"
set linetype 3 lc rgb "#d62728"

set multiplot layout 1,2 title wtitle font "DejaVu Sans,12"
set style fill solid 0.75 border -1
set boxwidth 0.6
set key off
set grid ytics lc rgb "#dddddd"
set yrange [0:*]
set offsets 0.5, 0.5, graph 0.12, 0
set xtics nomirror scale 0
if (exists("xrot")) set xtics rotate by xrot right
set ytics nomirror
set format y "%.1s%c"
set lmargin 10

# Error bars (min to max) as arrows with flat heads.
set style arrow 1 heads size screen 0.01,90 lw 1.5 lc rgb "black"
# Labels: the median above each bar's error bar.
label(x) = x >= 1e6 ? sprintf("%.2fM", x / 1e6) : (x >= 1e3 ? sprintf("%.0fk", x / 1e3) : sprintf("%.0f", x))

set title "records per second (higher is better)"
set ylabel "records/s"
plot datafile using 0:3:2:xtic(1) with boxes lc variable, \
     '' using 0:4:(0):($5 - $4) with vectors arrowstyle 1, \
     '' using 0:5:(label($3)) with labels offset 0,1 font "DejaVu Sans,10"

set title "records per CPU-second (higher is better)"
set ylabel "records/CPU-s"
plot datafile using 0:6:2:xtic(1) with boxes lc variable, \
     '' using 0:7:(0):($8 - $7) with vectors arrowstyle 1, \
     '' using 0:8:(label($6)) with labels offset 0,1 font "DejaVu Sans,10"

unset multiplot
