"""Checks a venv against tests/requirements.txt; run by .ci/python-env with the venv's python.

Usage: python check-requirements.py REQUIREMENTS [--specs]

With --specs it prints the normalised requirement specs (what pip installs; comments dropped),
which .ci/python-env hashes to decide whether pip must run. Without it, it checks that every
requirement is installed at its pinned version and that every module named after `# import:`
imports. Every problem is reported, each on one line, then it exits 1; exit 0 means all hold.
"""

import importlib
import importlib.metadata
import re
import sys

LINE = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(?P<version>\S+)$")


def parse(path):
    """[(line number, spec, dist name, pinned version, [modules])], problems"""
    reqs, problems = [], []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            spec, _, comment = raw.partition("#")
            spec = spec.strip()
            if not spec:
                continue
            where = f"{path}:{n}"
            m = LINE.match(spec)
            if not m:
                problems.append(f"{where}: `{spec}` is not an exact pin (name==version)")
                continue
            comment = comment.strip()
            if not comment.startswith("import:"):
                problems.append(f"{where}: `{spec}` names no module (add `# import: module`)")
                continue
            modules = [x.strip() for x in comment[len("import:"):].split(",") if x.strip()]
            if not modules:
                problems.append(f"{where}: `{spec}` names no module after `# import:`")
                continue
            reqs.append((where, spec, m["name"], m["version"], modules))
    return reqs, problems


def check(path):
    reqs, problems = parse(path)
    for where, spec, name, version, modules in reqs:
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{where}: {name} is not installed (want {version})")
            continue
        if have != version:
            problems.append(f"{where}: {name} {have} is installed, {version} is pinned")
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception as e:  # any failure to import is the finding
                problems.append(f"{where}: `import {module}` fails: {type(e).__name__}: {e}")
    return reqs, problems


def main():
    args = sys.argv[1:]
    if not args or len(args) > 2 or (len(args) == 2 and args[1] != "--specs"):
        print(__doc__, file=sys.stderr)
        return 2
    if len(args) == 2:
        reqs, problems = parse(args[0])
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        print("\n".join(spec for _, spec, _, _, _ in reqs))
        return 0
    reqs, problems = check(args[0])
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"{len(reqs)} requirements installed at their pins, "
          f"{sum(len(r[4]) for r in reqs)} modules import", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
