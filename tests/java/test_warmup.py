"""JVM warm-up without -XX:+AlwaysPreTouch: RSS grows as the heap is touched,
but the profile carries the reasonable total computed from the sizing flags
(256 + 64 + 64 + 64 MiB) and `nmreport --rss` reports the run as within it."""
import nmtj

FLAGS = ["-Xms256m", "-XX:MaxMetaspaceSize=64m", "-XX:MaxDirectMemorySize=64m", "-XX:ReservedCodeCacheSize=64m"]
REASONABLE = (256 + 64 + 64 + 64) << 20


def body(c):
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    c.scratch("warmup")
    out, prof = nmtj.record_java(c, "WarmUp", 160, 8, 100, jvm=FLAGS, heap="-Xmx256m",
                                 env={"NMTRACE_INTERVAL": 1})
    js = c.report_json(prof)
    f = js["files"][0]
    info = f["info"]
    nmtj.check("jvm.reasonable_total" in info, "no jvm.reasonable_total in the profile's INFO")
    nmtj.check(int(info["jvm.reasonable_total"]) == REASONABLE, "jvm.reasonable_total is %s, the flags sum to %d"
               % (info["jvm.reasonable_total"], REASONABLE))
    rss = f["counters"].get("proc.rss", 0)
    start = nmtj.printed_number(out, "RSS grew from") << 20
    print("RSS %s at the last snapshot (%s at start), reasonable total %s" % (
        nmtj.mib(rss), nmtj.mib(start), nmtj.mib(REASONABLE)))
    nmtj.check(rss > start + (100 << 20), "RSS did not grow with the heap (%d bytes): not a warm-up" % rss)
    text = c.report("--rss", prof)
    verdict = [l for l in text.splitlines() if l.startswith("verdict:")]
    nmtj.check(verdict and "within the reasonable total" in verdict[0],
               "--rss does not report the run within the reasonable total: %s" % (verdict or text[-300:]))


nmtj.main("java_warmup", body)
