"""nmtprof: an independent reader of nmtrace profiles, written from docs/FORMAT.md.

The recorder's integration tests use it instead of nmreport, so that they
check the recorder and the format document on their own (a second reader
written from the spec is the best test that the spec is complete), and give
ground-truth helpers: symbol ranges of a test binary from `nm`, to find which
recorded stacks pass through a given function.
"""
import os
import struct
import subprocess
import sys
import zlib

MAGIC = b"\x89NMT\r\n\x1a\n"
HEADER, INFO, STACK, MAPS, SNAP_BEGIN, COUNTERS, SITES, SNAP_END, SMAPS = range(1, 10)
JMETHOD, JCODE, JACCOUNTS = 10, 11, 12


class ProfileError(Exception):
    pass


class Reader:
    def __init__(self, data, off=0):
        self.d, self.o = data, off

    def u32(self):
        v = struct.unpack_from("<I", self.d, self.o)[0]
        self.o += 4
        return v

    def u64(self):
        v = struct.unpack_from("<Q", self.d, self.o)[0]
        self.o += 8
        return v

    def i64(self):
        v = struct.unpack_from("<q", self.d, self.o)[0]
        self.o += 8
        return v

    def str(self):
        n = self.u32()
        s = self.d[self.o:self.o + n]
        if len(s) != n:
            raise ProfileError("string past end of record")
        self.o += n
        return s


class Snapshot:
    def __init__(self, seq, reason, realtime, monotonic):
        self.seq, self.reason, self.realtime, self.monotonic = seq, reason, realtime, monotonic
        self.maps, self.counters, self.sites = [], {}, {}
        self.smaps = None     # SMAPS: the mappings with resident or swapped pages
        self.accounts = None  # JACCOUNTS, as read_accounts returns it


class Profile:
    def __init__(self, path):
        self.path = path
        self.header, self.info, self.stacks = None, {}, {}
        self.snapshots = []
        self.truncated = False
        self.other_records = {}
        self.types = {}  # record type -> number of valid records
        self.jcode_kinds = {}  # JCODE kind (1 loaded, 2 unloaded, 3 JVM code) -> records
        self.compiled = set()  # serials of the methods with a JCODE kind 1 (compiled code loaded)
        self.methods = {}  # JMETHOD serial -> "java.lang.Class.name" (named ones; a later one replaces)
        data = open(path, "rb").read()
        if data[:8] != MAGIC:
            raise ProfileError("not an nmtrace profile (bad magic)")
        off, cur = 8, None
        while off < len(data):
            if off + 8 > len(data):
                self.truncated = True
                break
            rtype, _flags, length = struct.unpack_from("<HHI", data, off)
            end = off + 8 + length + 4
            if length > (64 << 20):
                raise ProfileError("record length too large at %d" % off)
            if end > len(data):
                self.truncated = True
                break
            crc = struct.unpack_from("<I", data, end - 4)[0]
            if zlib.crc32(data[off:end - 4]) & 0xFFFFFFFF != crc:
                if end == len(data):
                    self.truncated = True
                    break
                raise ProfileError("checksum mismatch at byte %d" % off)
            payload = data[off + 8:end - 4]
            if self.header is None and rtype != HEADER:
                raise ProfileError("first record is not HEADER")
            cur = self._record(rtype, payload, cur)
            self.types[rtype] = self.types.get(rtype, 0) + 1
            off = end

    def _record(self, t, p, cur):
        r = Reader(p)
        if t == HEADER:
            h = {}
            h["version"], h["pid"], h["ppid"], h["flags"] = r.u32(), r.u32(), r.u32(), r.u32()
            h["start_realtime"], h["start_monotonic"], h["rate"] = r.u64(), r.u64(), r.u64()
            h["depth"], h["page_size"] = r.u32(), r.u32()
            h["producer"] = r.str().decode()
            h["exe"] = r.str().decode(errors="replace")
            h["cmdline"] = [a.decode(errors="replace") for a in r.str().split(b"\0") if a]
            h["hostname"] = r.str().decode(errors="replace")
            self.header = h
        elif t == INFO:
            for _ in range(r.u32()):
                k = r.str().decode()
                self.info[k] = r.str().decode(errors="replace")
        elif t == STACK:
            sid, n = r.u32(), r.u32()
            self.stacks[sid] = list(struct.unpack_from("<%dQ" % n, p, 8))
        elif t == SNAP_BEGIN:
            cur = Snapshot(r.u32(), r.u32(), r.u64(), r.u64())
        elif t == MAPS:
            for _ in range(r.u32()):
                start, end, off = r.u64(), r.u64(), r.u64()
                prot, dev, inode = r.u32(), r.u32(), r.u64()
                path = r.str().decode(errors="replace")
                bid = r.str()
                cur.maps.append(dict(start=start, end=end, offset=off, prot=prot, dev=dev,
                                     inode=inode, path=path, build_id=bid.hex()))
        elif t == COUNTERS:
            for _ in range(r.u32()):
                k = r.str().decode()
                cur.counters[k] = r.i64()
        elif t == SITES:
            n = r.u32()
            for i in range(n):
                f = struct.unpack_from("<II8Q", p, 4 + 72 * i)
                cur.sites[f[0]] = dict(flags=f[1], live_bytes=f[2], live_objects=f[3],
                                       alloc_bytes=f[4], alloc_objects=f[5], live_samples=f[6],
                                       alloc_samples=f[7], reserved=f[8], committed=f[9])
        elif t == SMAPS and cur is not None:
            cur.smaps = []
            for _ in range(r.u32()):
                f = struct.unpack_from("<5Q6I", p, r.o)
                r.o += 64
                cur.smaps.append(dict(start=f[0], end=f[1], rss=f[2], anonymous=f[3], swap=f[4],
                                      prot=f[5], kind=f[6], rstack=f[7], cstack=f[8],
                                      flags=f[9]))
            if r.o != len(p):
                raise ProfileError("SMAPS length does not match its count")
        elif t == JMETHOD:
            serial, status = r.u32(), r.u32()
            r.u64(), r.u32()  # method_id, modifiers
            cls, name = r.str().decode(errors="replace"), r.str().decode(errors="replace")
            if status == 0:
                self.methods[serial] = cls[1:-1].replace("/", ".") + "." + name
        elif t == JCODE:
            kind = r.u32()
            self.jcode_kinds[kind] = self.jcode_kinds.get(kind, 0) + 1
            if kind == 1 and len(p) >= 32:
                serial = struct.unpack_from("<I", p, 28)[0]  # after monotonic_ns, start, size
                if serial != 0:
                    self.compiled.add(serial)
        elif t == JACCOUNTS and cur is not None:
            cur.accounts = read_accounts(r)
        elif t == SNAP_END:
            seq, nsites = r.u32(), r.u32()
            if cur is None or cur.seq != seq or len(cur.sites) != nsites:
                raise ProfileError("SNAP_END does not match its snapshot")
            self.snapshots.append(cur)
            cur = None
        else:
            self.other_records[t] = self.other_records.get(t, 0) + 1
        return cur

    def last(self):
        if not self.snapshots:
            raise ProfileError("no complete snapshot")
        return self.snapshots[-1]


def read_accounts(r):
    """A JACCOUNTS payload (docs/FORMAT.md section 5)."""
    a = dict(taken_ns=r.u64(), have=r.u32())
    a["threads"], a["daemon_threads"], a["loaded_classes"] = r.u32(), r.u32(), r.u32()
    a["total_loaded_classes"], a["unloaded_classes"], a["max_direct"] = r.u64(), r.u64(), r.u64()
    none = (1 << 64) - 1
    a["pools"] = {}
    for _ in range(r.u32()):
        name = r.str().decode(errors="replace")
        heap, used, committed, mx = r.u32() == 0, r.u64(), r.u64(), r.u64()
        a["pools"][name] = dict(heap=heap, used=used, committed=committed,
                                max=None if mx == none else mx)
    a["buffers"] = {}
    for _ in range(r.u32()):
        name = r.str().decode(errors="replace")
        a["buffers"][name] = dict(count=r.u64(), capacity=r.u64(), used=r.u64())
    a["nmt"] = {}
    for _ in range(r.u32()):
        name = r.str().decode(errors="replace")
        a["nmt"][name] = dict(reserved=r.u64(), committed=r.u64())
    if r.o != len(r.d):
        raise ProfileError("JACCOUNTS has %d bytes after its last field" % (len(r.d) - r.o))
    return a


class Symbols:
    """Function ranges of one ELF from `nm`, mapped through a snapshot's maps."""

    def __init__(self, binary):
        self.binary = os.path.realpath(binary)
        out = subprocess.run(["nm", "-S", "--defined-only", self.binary], check=True,
                             capture_output=True, text=True).stdout
        self.funcs = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[2] in "tTwW":
                self.funcs.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
        hdr = subprocess.run(["readelf", "-lW", self.binary], check=True, capture_output=True,
                             text=True).stdout
        self.loads = []
        for line in hdr.splitlines():
            f = line.split()
            if f and f[0] == "LOAD":
                self.loads.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))

    def function_at(self, snap, addr):
        for m in snap.maps:
            if m["start"] <= addr < m["end"] and os.path.realpath(m["path"]) == self.binary:
                foff = addr - m["start"] + m["offset"]
                for off, vaddr, filesz in self.loads:
                    if off <= foff < off + filesz:
                        va = foff - off + vaddr
                        for start, size, name in self.funcs:
                            if start <= va < start + size:
                                return name
        return None


def stacks_through(prof, snap, syms, func):
    """Stack ids of the snapshot whose frames (return addresses - 1) pass through func."""
    out = []
    for sid in snap.sites:
        frames = prof.stacks.get(sid, [])
        for i, a in enumerate(frames):
            if a >> 63:
                continue
            if syms.function_at(snap, a - 1 if i > 0 else a) == func:
                out.append(sid)
                break
    return out


def site_total(prof, snap, syms, func, field):
    return sum(snap.sites[s][field] for s in stacks_through(prof, snap, syms, func))


if __name__ == "__main__":
    p = Profile(sys.argv[1])
    s = p.last()
    print(p.header)
    print("snapshots", len(p.snapshots), "stacks", len(p.stacks), "sites", len(s.sites))
    for k in sorted(s.counters):
        print(" ", k, s.counters[k])
