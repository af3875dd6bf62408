"""seccomp_allow: the system call numbers (x86-64) that systemd's
SystemCallFilter=@system-service allows, for rb_seccomp's RB_ALLOW: names
from system_service.txt, numbers from the kernel's header. None when the
header is missing or this is not x86-64 (the tests then skip)."""
import os
import platform
import re

HERE = os.path.dirname(os.path.abspath(__file__))
HEADERS = ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h")


def allow_numbers():
    """A comma-separated list of numbers, or None."""
    if platform.machine() != "x86_64":
        return None
    header = next((h for h in HEADERS if os.path.exists(h)), None)
    if header is None:
        return None
    nr = {}
    with open(header) as f:
        for line in f:
            m = re.match(r"#define __NR_(\w+)\s+(\d+)\s*$", line)
            if m:
                nr[m.group(1)] = int(m.group(2))
    with open(os.path.join(HERE, "system_service.txt")) as f:
        names = [w.strip() for w in f if w.strip() and not w.startswith("#")]
    nums = sorted({nr[n] for n in names if n in nr})
    return ",".join(str(n) for n in nums) if len(nums) > 100 else None
