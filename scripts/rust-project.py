#!/usr/bin/env python3
"""Fixes up the rust-project.json that the kernel's `make rust-analyzer`
writes for kalloc (M=...), so that editors see kalloc's crates as Kbuild
builds them:

- src/lib.rs is the crate `kalloc` (the kernel names it after its file),
  with `kalloc_selftest` set, as in kalloc.ko;
- the crates that use it (the self-test module's root, the sample driver,
  the benchmarks) depend on it; those the kernel's script does not list are
  added, with the library's settings.

usage: rust-project.py IN OUT
"""
import json
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARY = os.path.join(TOP, "src/lib.rs")
# The crate roots that `use kalloc::...`, by their display names.
USERS = {
    "kalloc_main": os.path.join(TOP, "src/selftest/kalloc_main.rs"),
    "sample_main": os.path.join(TOP, "samples/sample_main.rs"),
    "bench_rust": os.path.join(TOP, "bench/bench_rust.rs"),
}


def fix(project):
    crates = project["crates"]
    index = {os.path.realpath(c["root_module"]): i for i, c in enumerate(crates)}
    lib = index.get(os.path.realpath(LIBRARY))
    if lib is None:
        raise SystemExit(f"kalloc: {LIBRARY} is not in the kernel's rust-project.json")
    library = crates[lib]
    library["display_name"] = "kalloc"
    if "kalloc_selftest" not in library["cfg"]:
        library["cfg"].append("kalloc_selftest")
    for name, root in USERS.items():
        i = index.get(os.path.realpath(root))
        if i is None:
            crate = json.loads(json.dumps(library))
            crate.update(display_name=name, root_module=root)
            crate["cfg"] = [c for c in crate["cfg"] if c != "kalloc_selftest"]
            crates.append(crate)
            i = len(crates) - 1
        deps = crates[i]["deps"]
        if not any(d["name"] == "kalloc" for d in deps):
            deps.append({"crate": lib, "name": "kalloc"})
    return project


def main(argv):
    src, dst = argv[1:3]
    with open(src) as f:
        project = fix(json.load(f))
    with open(dst, "w") as f:
        json.dump(project, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
