"""--growth tells a leak from business growth: a native cache that fills up
and then levels off (nmex_cache_entry_new, 32 MiB) runs beside a smaller leak
that never stops (nmex_session_open, 16 MiB by the end). Snapshots are taken
each time tracked memory grew by 2 MiB. The leak must be ranked above the
cache, called a leak suspect, and the cache must not be called one.

Sampling at NMTRACE_RATE=1024 keeps the comparison far from noise: a cache
entry (8 KiB) is sampled with p = 1 - exp(-8) > 0.9996, so the cache's
estimate moves by a few entries at most (standard deviation about 14 KiB
even if all 4000 entries were replaced), while the leak adds 1.4 MB per phase
(1000-byte blocks, p = 0.62: standard deviation 29 KiB per phase)."""
import nmtj

LEAK, CACHE = "nmex_session_open", "nmex_cache_entry_new"


def body(c):
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    c.scratch("growth")
    _, prof = nmtj.record_java(c, "Levelling", 12, 4000, 8192, 2000, 1400, 80,
                               env={"NMTRACE_RATE": 1024, "NMTRACE_SEED": 3, "NMTRACE_GROWTH": 2 << 20})
    text = c.report("--growth", prof)
    lines = text.splitlines()
    leak = [i for i, l in enumerate(lines) if LEAK in l]
    cache = [i for i, l in enumerate(lines) if CACHE in l]
    nmtj.check(leak, "--growth does not list %s at all" % LEAK)
    nmtj.check(not cache or leak[0] < cache[0], "--growth ranks %s (line %d) above %s (line %d)" % (
        CACHE, cache[0] if cache else -1, LEAK, leak[0]))
    nmtj.check("leak-suspect" in lines[leak[0]], "%s is not called a leak suspect: %s" % (LEAK, lines[leak[0]]))
    nmtj.check(not cache or "leak-suspect" not in lines[cache[0]],
               "the levelling cache is called a leak suspect: %s" % lines[cache[0]])
    # The same fact from the data: from the first snapshot by which the leak
    # had reached 60 % of its end (phase 8 of 12 or so; the cache is full
    # after phase 2) to the last one, the leak grew and the cache did not.
    # Chosen by the leak's own progress, not by time: a JVM that a busy
    # machine starts slowly moves every time, not the phases.
    times = nmtj.read_profile(prof)["times"]
    nmtj.check(len(times) >= 4, "only %d snapshots: NMTRACE_GROWTH did not trigger" % len(times))

    def leak_at(seq):
        js = c.report_json("--snapshot", seq, prof)
        return sum(s["values"]["inuse_space"] for s in js["top_sites"] if s["function"] == LEAK)
    end = leak_at(times[-1][0])
    base = next(seq for seq, _ in times if leak_at(seq) >= 0.6 * end)
    nmtj.check(base != times[-1][0], "no snapshot between 60 %% of the leak and its end: %s" % times)
    late = c.report_json("--base-snapshot", base, prof)
    grew = {s["function"]: s["values"]["inuse_space"] for s in late["top_sites"]}
    print("growth after snapshot %d (%.2fs of %.2fs, the leak at %.0f %% of its end): %s" % (
        base, dict(times)[base], times[-1][1], 100 * leak_at(base) / end,
        {k: grew.get(k, 0) for k in (LEAK, CACHE)}))
    nmtj.check(grew.get(LEAK, 0) > 4 * abs(grew.get(CACHE, 0)),
               "late in the run %s grew %d bytes, %s %d" % (LEAK, grew.get(LEAK, 0), CACHE, grew.get(CACHE, 0)))

nmtj.main("java_growth_ranking", body)
