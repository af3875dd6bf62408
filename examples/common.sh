# common.sh: sourced by the example scripts. Finds the build, records a
# command with the nmtrace launcher and shows nmreport commands as it runs them.
#
# Environment: NMTRACE_BUILD (default: the repository's build/), OUT (where
# profiles go; default: a new directory under /tmp), JAVA (default: java).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${NMTRACE_BUILD:-$here/../build}
if ! BUILD=$(cd "$BUILD" 2>/dev/null && pwd); then
    echo "$(basename "$0"): no build directory ${NMTRACE_BUILD:-$here/../build}" \
        "(build with cmake -S . -B build, or set NMTRACE_BUILD)" >&2
    exit 2
fi
NMTRACE=$BUILD/bin/nmtrace
NMREPORT=$BUILD/bin/nmreport
NMLIB=$BUILD/lib/libnmtrace.so
CLASSES=$BUILD/examples/classes
JNILIB=$BUILD/examples/lib
JAVA=${JAVA:-java}
OUT=${OUT:-$(mktemp -d /tmp/nmtrace-example.XXXXXX)}
mkdir -p "$OUT"

# need FILE...: stop with one line when a build artefact is missing.
need() {
    local f
    for f in "$@"; do
        if [ ! -e "$f" ]; then
            echo "$(basename "$0"): $f is missing: build it first (cmake --build $BUILD)" >&2
            exit 2
        fi
    done
}

need_java() {
    need "$CLASSES" "$JNILIB/libnmexjni.so"
    command -v "$JAVA" >/dev/null || { echo "$(basename "$0"): no java (set JAVA)" >&2; exit 2; }
}

# say CMD...: print the command as it can be copied and run from anywhere
# (absolute paths, shell quoting).
say() {
    printf '$'
    printf ' %q' "$@"
    printf '\n'
}

# show CMD...: print the command, then run it.
show() {
    echo
    say "$@"
    "$@"
}

# record NAME [nmtrace options] -- CMD...: runs CMD under nmtrace with its
# profile in $OUT/NAME.<pid>.nmt; sets PROFILE to that file and RC to CMD's
# exit status.
record() {
    local name=$1 log
    shift
    need "$NMTRACE" "$NMLIB" "$NMREPORT"
    log=$OUT/$name.launcher.log
    say "$NMTRACE" -o "$OUT/$name.%p.nmt" "$@"
    RC=0
    "$NMTRACE" -o "$OUT/$name.%p.nmt" "$@" 2>"$log" || RC=$?
    cat "$log" >&2
    PROFILE=$(sed -n 's/^nmtrace: profile written to //p' "$log" | head -n 1)
    if [ -z "$PROFILE" ]; then
        echo "$(basename "$0"): no profile was written (see $log)" >&2
        exit 1
    fi
}
