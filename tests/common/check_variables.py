"""One list of NMTRACE_* variables: the table in common/nmc_vars.c (which the
recorder and the launcher check values against, and whose names are the
"known" ones of the unknown-variable warning) names exactly the variables of
README.md's table, and every NMTRACE_* name that a program or script of the
repository reads is in it. A variable added in one place only fails here.

usage: check_variables.py [REPO]
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = re.compile(r"\bNMTRACE_[A-Z][A-Z0-9_]*\b")
READ_EXT = (".c", ".h", ".sh", ".py", ".java")


def main():
    repo = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", ".."))
    table_src = open(os.path.join(repo, "common", "nmc_vars.c")).read()
    table = set(re.findall(r'^\s*\{"(NMTRACE_[A-Z0-9_]+)",', table_src, re.M))
    readme = open(os.path.join(repo, "README.md")).read()
    documented = set(re.findall(r"^\| `(NMTRACE_[A-Z0-9_]+)`", readme, re.M))
    problems = []
    if len(table) < 10 or len(documented) < 10:
        problems.append("found %d names in common/nmc_vars.c and %d in README.md's table: "
                        "has their layout changed?" % (len(table), len(documented)))
    for n in sorted(table - documented):
        problems.append("%s is in common/nmc_vars.c but not in README.md's variable table" % n)
    for n in sorted(documented - table):
        problems.append("%s is in README.md's variable table but not in common/nmc_vars.c "
                        "(the recorder would call it unknown)" % n)
    for top, dirs, files in os.walk(repo):
        rel = os.path.relpath(top, repo)
        dirs[:] = [d for d in dirs if not d.startswith((".", "build")) and
                   not (rel == "." and d == "tests")]
        for f in files:
            if not f.endswith(READ_EXT):
                continue
            path = os.path.join(top, f)
            text = open(path, encoding="utf-8", errors="replace").read()
            for n in sorted(set(NAME.findall(text)) - table):
                problems.append("%s uses %s, which common/nmc_vars.c does not list"
                                % (os.path.relpath(path, repo), n))
    for p in problems:
        print("FAIL: " + p)
    print("NMTRACE_* variables: %d in the table, %d problems" % (len(table), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
