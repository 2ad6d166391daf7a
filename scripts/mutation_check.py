"""Mutation check: deliberate errors in the model are caught by meaning-based tests.

Each mutation edits one line of a copy of the package (in a temporary directory) and runs the
meaning-based tests (``tests/test_mechanisms.py`` and ``tests/test_scale_invariance.py``; never
the regression pin) against the copy. A mutation is *caught* when at least one of those tests
fails. The script prints one line per mutation with the failing tests and exits non-zero if a
mutation survives or if a mutation no longer applies (the line it edits has changed).

Usage::

    .venv/bin/python scripts/mutation_check.py            # all mutations, ~1-2 min
    .venv/bin/python scripts/mutation_check.py --list     # what they are
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ("tests/test_mechanisms.py", "tests/test_scale_invariance.py")


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str


MUTATIONS: tuple[Mutation, ...] = (
    Mutation("transformation hazard x12", "sim/core/hazards.py",
             "return h * pop.readiness[idx]", "return h * pop.readiness[idx] * 12"),
    Mutation("cluster-city share of the transformation stage over all firms, not above-scale firms",
             "sim/core/hazards.py",
             'rates["cc"] * cc_num / np.maximum(cc_den - 1.0, 1.0)',
             'rates["cc"] * cc_num / np.maximum(state.cc_n - 1.0, 1.0)'),
    Mutation("pilot cloud rate x12", "sim/core/policies.py",
             "self.cloud_park[s:e + 1, chosen] += rc[s:e + 1, None]",
             "self.cloud_park[s:e + 1, chosen] += rc[s:e + 1, None] * 12"),
    Mutation("refused voucher claimants keep their old threshold (the rule before the fix)",
             "sim/core/stages.py",
             "fresh = lam[drop] + state.rng_refusal.standard_exponential(drop.size, dtype=np.float32)",
             "fresh = state.thr_cloud[drop]"),
    Mutation("churn starts at onboarding instead of when the subsidy ends", "sim/core/stages.py",
             'cut = int(np.searchsorted(ends, ends.dtype.type(k), side="right"))', "cut = w.size"),
)


def copy_tree(dest: Path) -> None:
    for name in ("sim", "tests", "scripts", "scenarios"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")


def apply(mutation: Mutation, dest: Path) -> None:
    path = dest / mutation.file
    text = path.read_text(encoding="utf-8")
    if text.count(mutation.old) != 1:
        raise SystemExit(f"mutation {mutation.name!r} does not apply: {mutation.old!r} occurs "
                         f"{text.count(mutation.old)} times in {mutation.file}")
    path.write_text(text.replace(mutation.old, mutation.new), encoding="utf-8")


def failing_tests(dest: Path) -> list[str]:
    """Node ids of the meaning-based tests failing in ``dest`` (-m 'not slow')."""
    # The NumPy kernel: the mutated lines are its operations; the compiled kernel is held to the
    # same bytes by tests/test_kernel.py.
    env = {**os.environ, "PYTHONPATH": str(dest), "MPLBACKEND": "Agg", "GDCLOUD_KERNEL": "numpy"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider", "-rf", *TESTS],
        cwd=dest, env=env, capture_output=True, text=True, timeout=1200)
    return [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("FAILED ")]


def run(mutations: tuple[Mutation, ...] = MUTATIONS) -> dict[str, list[str]]:
    """Mutation name -> failing meaning-based tests (empty: the mutation survived)."""
    caught: dict[str, list[str]] = {}
    for m in mutations:
        with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
            dest = Path(tmp)
            copy_tree(dest)
            apply(m, dest)
            caught[m.name] = failing_tests(dest)
    return caught


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = ap.parse_args(argv)
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name}: {m.file}: {m.old!r} -> {m.new!r}")
        return 0
    caught = run()
    for name, tests in caught.items():
        status = f"caught by {len(tests)} test(s): " + ", ".join(t.split("::")[-1] for t in tests) if tests else "SURVIVED"
        print(f"{name}: {status}")
    return 0 if all(caught.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
