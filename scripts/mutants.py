#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make mutants: runs kalloc's suites against realistic wrapper bugs.

Each mutant of mutants/mutants.ini is applied to a copy of the tree
(target/mutants/tree), the modules are rebuilt, and the VM runs the suites
the mutant names (SUITE=glob). A mutant is *killed* if the run fails, and
*survives* if it passes: then a test is missing. A mutant that no longer
applies (its text is gone) or does not compile is reported too: both fail
`make mutants`, so that the list keeps up with the code.

usage: mutants.py [--check] [NAME_GLOB]
  --check     only check that every mutant applies (no build, no VM)
"""

import configparser
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TREE = os.path.join(TOP, "target", "mutants", "tree")
REPORT = os.path.join(TOP, "target", "mutants", "report.txt")


def load():
    """The mutants, in file order."""
    ini = configparser.RawConfigParser()
    ini.optionxform = str
    with open(os.path.join(TOP, "mutants", "mutants.ini")) as f:
        ini.read_file(f)
    return [dict(ini[name], name=name) for name in ini.sections()]


def pattern(text):
    """A regex for `text`, any run of white space matching any other."""
    parts = [re.escape(p) for p in text.split()]
    return re.compile(r"\s+".join(parts))


def mutate(source, mutant):
    """`source` with the mutant applied, or an error message."""
    matches = list(pattern(mutant["from"]).finditer(source))
    if len(matches) != 1:
        return None, f"'from' occurs {len(matches)} times in {mutant['file']}"
    m = matches[0]
    return source[: m.start()] + mutant.get("to", "") + source[m.end():], None


def copy_tree():
    """A fresh copy of the files git tracks (and new ones it does not ignore)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=TOP, check=True, capture_output=True, text=True,
    ).stdout.split()
    shutil.rmtree(TREE, ignore_errors=True)
    for rel in files:
        src = os.path.join(TOP, rel)
        if not os.path.isfile(src):
            continue
        dst = os.path.join(TREE, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)


def run(cmd, env=None):
    """Runs `cmd` in the copy; returns (ok, last lines of its output)."""
    p = subprocess.run(cmd, cwd=TREE, env=env, capture_output=True, text=True)
    lines = (p.stderr + p.stdout).strip().splitlines()
    # The verdict's headline, if the harness printed one.
    verdicts = [l for l in lines if l.startswith(("kalloc: FAIL", "kalloc: PASS"))]
    return p.returncode == 0, (verdicts or lines or [""])[-1]


def main(argv):
    check_only = "--check" in argv
    globs = [a for a in argv if not a.startswith("--")] or ["*"]
    mutants = [m for m in load() if any(fnmatch.fnmatch(m["name"], g) for g in globs)]
    bad = []
    for m in mutants:
        with open(os.path.join(TOP, m["file"])) as f:
            _, err = mutate(f.read(), m)
        if err:
            bad.append(f"{m['name']}: {err}")
    if bad or check_only:
        for b in bad:
            print(f"kalloc: mutant does not apply: {b}", file=sys.stderr)
        print(f"kalloc: {len(mutants) - len(bad)} of {len(mutants)} mutants apply")
        return 1 if bad else 0

    copy_tree()
    results = []
    start = time.time()
    for i, m in enumerate(mutants, 1):
        # The copy is what is tested: the work tree may change meanwhile.
        path = os.path.join(TREE, m["file"])
        with open(path) as f:
            pristine = f.read()
        mutated, err = mutate(pristine, m)
        t0 = time.time()
        if err:
            results.append(("STALE", f"{'STALE':<26} {m['name']}: {err}"))
            print(f"kalloc: mutant {i}/{len(mutants)}: {results[-1][1]}", flush=True)
            continue
        with open(path, "w") as f:
            f.write(mutated)
        built, why = run(["scripts/build-module.sh", "modules"])
        if m.get("caught_by") == "build":
            # A compile-time check must refuse it: the build is the test.
            verdict = "SURVIVED" if built else "killed"
            why = why if built else "the module build refused it"
        elif not built:
            verdict = "INVALID (does not compile)"
        else:
            env = dict(os.environ, SUITE=m.get("suite", "*"))
            passed, why = run(["cargo", "run", "-q", "--bin", "kalloc-vm"], env)
            verdict = "SURVIVED" if passed else "killed"
        with open(path, "w") as f:
            f.write(pristine)
        line = f"{verdict:<26} {m['name']} ({m.get('suite', '*')}, {time.time() - t0:.0f} s): {why}"
        print(f"kalloc: mutant {i}/{len(mutants)}: {line}", flush=True)
        results.append((verdict, line))
    # Leave the copy's modules as the pristine tree builds them.
    run(["scripts/build-module.sh", "modules"])

    killed = sum(1 for v, _ in results if v == "killed")
    summary = (f"mutants: {killed} killed, {len(results) - killed} not killed, "
               f"of {len(results)}, in {time.time() - start:.0f} s")
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w") as f:
        f.write("\n".join(l for _, l in results) + "\n" + summary + "\n")
    for v, l in results:
        if v != "killed":
            print(f"kalloc: {l}")
    print(f"kalloc: {summary} (report: {REPORT})")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
