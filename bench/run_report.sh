#!/bin/sh
# run_report.sh: how fast, and in how much memory, nmreport reads a large
# profile, next to `go tool pprof` on the same data.
#
# One invocation: nmt_gen_profile writes a synthetic profile (100 000 distinct
# stacks x 20 snapshots by default, frames inside libc/libz/the generator so
# symbolization has real work), `nmreport --pprof` exports its last snapshot,
# then ROUNDS interleaved rounds time `nmreport --text` on the profile and
# `pprof -top` on the export. Prints median wall and CPU seconds and median
# peak RSS (from /usr/bin/time -v: Debian package `time`).
#
# usage: bench/run_report.sh [BUILD_DIR] [ROUNDS] [STACKS] [SNAPSHOTS]
# Temporary files live in one directory removed on exit. Not a test.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-${NMT_BUILD:-$here/../build}}
rounds=${2:-3}
stacks=${3:-100000}
snaps=${4:-20}

gen=$build/bin/nmt_gen_profile
nmreport=$build/bin/nmreport
for f in "$gen" "$nmreport"; do
    [ -x "$f" ] || { echo "run_report: $f not found (build targets nmt_gen_profile nmreport)" >&2; exit 1; }
done
timebin=/usr/bin/time
[ -x "$timebin" ] || { echo "run_report: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

pprof=
if command -v go >/dev/null 2>&1; then
    tooldir=$(go env GOTOOLDIR 2>/dev/null || true)
    # The pprof binary itself, so that `go`'s own start-up is not timed.
    if [ -n "$tooldir" ] && [ -x "$tooldir/pprof" ]; then pprof=$tooldir/pprof; fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nmt-report-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export PPROF_TMPDIR="$tmp" HOME="${HOME:-$tmp}"

# measure NAME CMD...: runs CMD under /usr/bin/time -v, output discarded, and
# appends "NAME wall_s cpu_s maxrss_kib" to $tmp/results.
measure() {
    name=$1
    shift
    if ! "$timebin" -v -o "$tmp/time.txt" "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"; then
        echo "run_report: $name failed:" >&2
        tail -3 "$tmp/err.txt" >&2
        exit 1
    fi
    awk -v name="$name" '
        /Elapsed \(wall clock\)/ { n = split($NF, t, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + t[i] }
        /User time/ { u = $NF } /System time/ { s = $NF }
        /Maximum resident set size/ { m = $NF }
        END { printf "%s %.2f %.2f %d\n", name, w, u + s, m }' "$tmp/time.txt" >>"$tmp/results"
}

echo "# run_report: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$gen" -o "$tmp/big.nmt" --stacks "$stacks" --snapshots "$snaps" >/dev/null
size=$(stat -c %s "$tmp/big.nmt")
echo "# profile: $stacks stacks x $snaps snapshots, $((size / 1048576)) MiB"

measure export "$nmreport" --pprof -o "$tmp/big.pb.gz" "$tmp/big.nmt"
echo "# pprof export: $(($(stat -c %s "$tmp/big.pb.gz") / 1024)) KiB"
[ -n "$pprof" ] || echo "# go's pprof not found: only nmreport is timed"

i=0
while [ "$i" -lt "$rounds" ]; do
    # Alternate which goes first, so neither always runs on a cold cache.
    if [ $((i % 2)) -eq 0 ]; then
        measure nmreport-text "$nmreport" --text "$tmp/big.nmt"
        [ -z "$pprof" ] || measure pprof-top "$pprof" -top "$tmp/big.pb.gz"
    else
        [ -z "$pprof" ] || measure pprof-top "$pprof" -top "$tmp/big.pb.gz"
        measure nmreport-text "$nmreport" --text "$tmp/big.nmt"
    fi
    i=$((i + 1))
done

echo
echo "| command | runs | median wall s | median cpu s | median peak RSS MiB |"
echo "|---|---|---|---|---|"
for name in nmreport-text pprof-top export; do
    grep "^$name " "$tmp/results" >"$tmp/one" || continue
    n=$(wc -l <"$tmp/one")
    med() { cut -d' ' -f"$1" "$tmp/one" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    printf '| %s | %d | %s | %s | %d |\n' "$name" "$n" "$(med 2)" "$(med 3)" "$(($(med 4 | cut -d. -f1) / 1024))"
done
echo
echo "(nmreport-text: \`nmreport --text\` on the .nmt; pprof-top: \`pprof -top\` on the"
echo " \`nmreport --pprof\` export of the same last snapshot; export: that conversion, once.)"
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
