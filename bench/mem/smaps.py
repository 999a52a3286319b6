#!/usr/bin/env python3
"""Where a process's resident memory is: /proc/PID/smaps grouped by kind of mapping.

Usage: smaps.py PID [--json | --line]. Kinds (kB of Rss each, and of Pss for the shared ones):
  managed assemblies   *.dll mapped from disk (IL and R2R code of the framework and our own)
  runtime libraries    libcoreclr, libclrjit, libSystem.*.so, other lib*.so of the .NET install
  librdkafka + deps    librdkafka and what it loads (ssl, crypto, sasl, zstd, lz4, ...), libc, libstdc++ and the rest
  executable           the program's own file
  jit double-mapped    /memfd:doublemapper: the runtime's executable memory (JIT code, stubs), mapped twice under
                       W^X (once writable, once executable); RSS counts both views
  thread stacks        anonymous rw mappings right after a guard page (---p) of a thread's stack size, and [stack]
  malloc arenas        glibc's per-thread arenas: 64 MiB-aligned anonymous heaps; [heap] is the main arena
  other anonymous      the GC heap, the runtime's own heaps, large mallocs (mmap'd), everything else anonymous
"""
import json
import os
import re
import sys

ARENA = 64 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def mappings(pid):
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                if cur:
                    yield cur
                cur = {"start": int(m[1], 16), "end": int(m[2], 16), "perms": m[3], "name": m[4].strip()}
                continue
            k, _, v = line.partition(":")
            if v.strip().endswith("kB"):
                cur[k] = int(v.split()[0])
    if cur:
        yield cur


def kind(m, prev, exe):
    name = m["name"]
    if name.startswith("/memfd:doublemapper"):
        return "jit double-mapped"
    if name == "[heap]":
        return "malloc arenas"
    if name == "[stack]":
        return "thread stacks"
    if name.startswith("["):
        return "kernel ([vdso], [vvar], ...)"
    if name:
        base = os.path.basename(name.replace(" (deleted)", ""))
        if name == exe:
            return "executable"
        if base.endswith(".dll"):
            return "managed assemblies"
        if "/dotnet/" in name or "/shared/Microsoft." in name or base.startswith(("libcoreclr", "libclrjit", "libSystem.", "libhostfxr", "libhostpolicy", "libclrgc", "libmscordaccore")):
            return "runtime libraries"
        return "librdkafka + other native libraries"
    # anonymous: a thread's stack sits right above its guard page (one page, no access), glibc's per-thread arenas
    # start on a 64 MiB boundary and are at most that long
    if prev is not None and prev["perms"] == "---p" and not prev["name"] and prev["end"] == m["start"] and prev["end"] - prev["start"] == PAGE:
        return "thread stacks"
    if m["start"] % ARENA == 0 and m["end"] - m["start"] <= ARENA and m["perms"] == "rw-p":
        return "malloc arenas"
    return "other anonymous"


def main():
    pid = int(sys.argv[1])
    exe = os.readlink(f"/proc/{pid}/exe")
    totals = {}
    prev = None
    maps = list(mappings(pid))
    for m in maps:
        k = kind(m, prev, exe)
        t = totals.setdefault(k, {"rss_kb": 0, "pss_kb": 0, "mappings": 0})
        t["rss_kb"] += m.get("Rss", 0)
        t["pss_kb"] += m.get("Pss", 0)
        if m.get("Rss", 0):
            t["mappings"] += 1
        prev = m
    threads = len(os.listdir(f"/proc/{pid}/task"))
    rss = sum(t["rss_kb"] for t in totals.values())
    if "--json" in sys.argv:
        print(json.dumps({"rss_kb": rss, "threads": threads, "kinds": totals}))
        return
    if "--line" in sys.argv:
        print(", ".join(f"{k} {t['rss_kb'] / 1024:.1f}" for k, t in sorted(totals.items(), key=lambda kv: -kv[1]["rss_kb"]) if t["rss_kb"] >= 102) + " (MB)")
        return
    print(f"Rss {rss / 1024:.1f} MB, {threads} threads")
    for k, t in sorted(totals.items(), key=lambda kv: -kv[1]["rss_kb"]):
        if t["rss_kb"]:
            print(f"  {k:38s} {t['rss_kb'] / 1024:7.1f} MB rss  {t['pss_kb'] / 1024:7.1f} MB pss  ({t['mappings']} mappings)")


if __name__ == "__main__":
    main()
