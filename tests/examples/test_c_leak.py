"""The README's C demo (examples/c_leak.c) at NMTRACE_RATE=1: every live byte
is counted exactly, so the two leaking functions must show exactly what the
program prints, and the function that frees everything must show nothing."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "java"))
import nmtj  # noqa: E402  (shared with the Java tests)


def body(c):
    c.need_lib()
    c.need_nmreport()
    exe = os.path.join(c.build, "examples", "c_leak")
    nmtj.check(os.access(exe, os.X_OK), "%s missing: build the c_leak target" % exe)
    c.scratch("c_leak")
    p = c.run([exe, "2000", "4096"], env=c.recorded_env({"NMTRACE_RATE": 1}))
    nmtj.check(p.returncode == 0, "c_leak exited %d" % p.returncode)
    truth = {
        "leak_request_buffers": nmtj.printed_number(p.stdout, "leak_request_buffers leaked"),
        "leak_config_strings": nmtj.printed_number(p.stdout, "leak_config_strings leaked"),
    }
    js = c.report_json(c.main_profile()["path"])
    sites = {s["function"]: s for s in js["top_sites"]}
    top2 = [s["function"] for s in js["top_sites"][:2]]
    nmtj.check(top2 == ["leak_request_buffers", "leak_config_strings"], "top sites are %s" % top2)
    for fn, want in truth.items():
        got = sites[fn]["values"]["inuse_space"]
        nmtj.check(got == want, "%s: %d live bytes, the program leaked %d" % (fn, got, want))
        nmtj.check(sites[fn]["class"] == "exe", "%s has class %s, not exe" % (fn, sites[fn]["class"]))
    freed = sites.get("parse_and_free", {"values": {"inuse_space": 0}})["values"]["inuse_space"]
    nmtj.check(freed == 0, "parse_and_free shows %d live bytes, it frees everything" % freed)
    # Sites with nothing live are left out of the inuse ranking; ask for alloc_space.
    path = c.main_profile()["path"]
    allocs = {s["function"]: s for s in c.report_json("--alloc-space", path)["top_sites"]}
    alloc = allocs.get("parse_and_free", {"values": {"alloc_space": 0}})["values"]["alloc_space"]
    nmtj.check(alloc == 2000 * 8192, "parse_and_free allocated %d bytes in total, not %d" % (alloc, 2000 * 8192))


nmtj.main("examples_c_leak", body)
