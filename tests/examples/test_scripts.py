"""The example scripts (examples/*.sh) still run and still show what
examples/README.md says they show: each must exit 0 and print its key line;
every command they print names its profile by an absolute path that exists,
and no run leaves a perf map behind (nothing asked the JVM for one).
--set a|b|jemalloc picks a group, to keep each test short."""
import glob
import os
import re
import subprocess
import time
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "java"))
import nmtj  # noqa: E402  (shared with the Java tests)

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "examples"))

GROUPS = {
    "a": [("demo.sh", r"leak_request_buffers \[c_leak\] \(exe\)"),
          ("jni_leak.sh", r"nmex_session_open \[libnmexjni\.so\] \(jni\)"),
          ("direct_buffers.sh", r"java\.nio\.ByteBuffer\.allocateDirect"),
          ("unsafe_leak.sh", r"sun\.misc\.Unsafe\.allocateMemory"),
          ("levelling.sh", r"leak-suspect +nmex_session_open")],
    "b": [("nio_cache.sh", r"sun\.nio\.ch\.Util\.getTemporaryDirectBuffer"),
          ("metaspace.sh", r"metaspace::VirtualSpaceNode::commit_range"),
          ("reflection.sh", r"MethodAccessorGenerator\.generateMethod"),
          ("warmup.sh", r"verdict: RSS is within the reasonable total"),
          ("cache_leak.sh", r"1\. Unsafe memory not freed: leak-suspect\n(.|\n)*2\. a cache or business growth that levels off: levels-off")],
    "jemalloc": [("jemalloc_compare.sh", r"%\s+nmex_session_open\n(.|\n)*nmex_session_open \[libnmexjni\.so\]")],
}


def body(c):
    group = c.rest[c.rest.index("--set") + 1] if "--set" in c.rest else "a"
    c.need_java()
    c.need_lib()
    c.need_nmreport()
    nmtj.check(os.access(c.launcher, os.X_OK), "%s missing: the scripts run the launcher" % c.launcher)
    if group == "jemalloc" and not glob.glob("/usr/lib/*/libjemalloc.so.2") + glob.glob("/usr/lib/libjemalloc.so.2"):
        nmtj.skip("libjemalloc.so.2 is not installed")
    out_dir = c.scratch("scripts_" + group)
    env = c.plain_env()
    env.update({"NMTRACE_BUILD": c.build, "OUT": out_dir, "JAVA": c.args.java or "java"})
    for script, want in GROUPS[group]:
        started = time.time() - 1  # a perf map older than the run is another process's (pid reuse)
        try:
            p = subprocess.run(["bash", os.path.join(SRC, script)], env=env, cwd=out_dir, timeout=150,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        except subprocess.TimeoutExpired:
            nmtj.fail("%s did not finish in 150 s" % script)
        print("%s: exit %d, %d lines" % (script, p.returncode, len(p.stdout.splitlines())))
        nmtj.check(p.returncode == 0, "%s exited %d:\n%s" % (script, p.returncode, p.stdout[-1500:]))
        nmtj.check(re.search(want, p.stdout), "%s did not print /%s/:\n%s" % (script, want, p.stdout[-1500:]))
        for line in p.stdout.splitlines():
            if line.startswith("$ "):
                for path in re.findall(r"(?<![\w%])\S+\.\d+\.nmt\b", line):
                    nmtj.check(path.startswith("/") and os.path.isfile(path),
                               "%s printed %r: %s is not an absolute path of a profile" % (script, line, path))
        for log in glob.glob(os.path.join(out_dir, "*.launcher.log")):
            for pid in re.findall(r"profile written to \S+\.(\d+)\.nmt", open(log).read()):
                perf = "/tmp/perf-%s.map" % pid
                nmtj.check(not (os.path.exists(perf) and os.path.getmtime(perf) >= started),
                           "%s left %s" % (script, perf))


nmtj.main("examples_scripts", body)
