#!/usr/bin/env python3
"""Check that the Python versions the project claims are true: ``make check-python``.

1. Consistency: ``requires-python`` in ``pyproject.toml`` is the claim. README.md's
   "You need Python X.Y to X.Y", ``environment.yml``'s ``python=X.Y`` and ruff's
   ``target-version`` must agree with it (README: the same first and last minor version;
   environment.yml: a claimed version; ruff: the oldest claimed version), and
   ``environment.yml`` must list the same pins as ``pyproject.toml``.
2. Resolution: for every claimed minor version whose interpreter exists on this machine
   (``pythonX.Y`` on PATH, or a pyenv install), ``pythonX.Y -m pip install --dry-run
   --ignore-installed --report`` resolves the pinned set (dependencies and the ``dev``
   extra) from the package index. One line per version: ``resolved: N packages`` or
   ``FAILED: <what pip said>``. A claimed version with no interpreter here is reported
   and skipped.

Exit status 1 when a consistency check fails or a checked version does not resolve.
``--python 3.10`` checks the given versions instead of the claimed ones (to show that
a version outside the claim really fails). Standard library only: runs with any
``python3`` >= 3.11 (for ``tomllib``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    sys.exit(f"{Path(__file__).name}: needs Python 3.11 or later (tomllib); this is {sys.version}")

ROOT = Path(__file__).resolve().parent.parent
_CLAUSE = re.compile(r"^\s*(~=|==|!=|<=|>=|<|>)\s*(\d+(?:\.\d+)*)(\.\*)?\s*$")
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)\s*$")


# ---------------------------------------------------------------------------
# Reading the claims
# ---------------------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _satisfies(version: tuple[int, ...], op: str, bound: tuple[int, ...], prefix: bool) -> bool:
    """PEP 440 for release numbers: ``==3.12`` is 3.12.0 only, ``==3.12.*`` any 3.12."""
    width = max(len(version), len(bound))
    v = version + (0,) * (width - len(version))
    b = bound + (0,) * (width - len(bound))
    if op in ("==", "!="):
        equal = v[: len(bound)] == bound if prefix else v == b
        return equal if op == "==" else not equal
    if op == "~=":  # ~=3.11 means >=3.11, ==3.*
        return v >= b and v[: len(bound) - 1] == bound[:-1]
    return {">=": v >= b, ">": v > b, "<=": v <= b, "<": v < b}[op]


def claimed_minors(requires_python: str, candidates=None) -> list[str]:
    """Minor versions ``"3.Y"`` that ``requires_python`` admits (any patch release of them).

    Args:
        requires_python: a PEP 440 specifier such as ``">=3.11,<3.14"`` (release
            numbers only, no pre-releases).
        candidates: minor versions to test, default 3.0 to 3.30.

    Raises:
        ValueError: a clause is not ``OP VERSION`` with OP in ~= == != <= >= < >.
    """
    clauses = []
    for text in requires_python.split(","):
        match = _CLAUSE.match(text)
        if not match:
            raise ValueError(f"requires-python: cannot read the clause {text.strip()!r}")
        if match.group(3) and match.group(1) not in ("==", "!="):
            raise ValueError(f"requires-python: '.*' only goes with == or != in {text.strip()!r}")
        clauses.append((match.group(1), _version(match.group(2)), bool(match.group(3))))
    minors = candidates or [f"3.{y}" for y in range(31)]
    claimed = []
    for minor in minors:
        patches = [_version(minor) + (p,) for p in (0, 99)]
        if any(all(_satisfies(v, *clause) for clause in clauses) for v in patches):
            claimed.append(minor)
    return claimed


def read_pins(pyproject: dict) -> list[str]:
    """``name==version`` strings: the project's dependencies and its ``dev`` extra."""
    project = pyproject["project"]
    return list(project["dependencies"]) + list(
        project.get("optional-dependencies", {}).get("dev", [])
    )


def _pin_map(pins) -> dict[str, str]:
    out = {}
    for pin in pins:
        match = _PIN.match(pin)
        if match:
            out[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return out


def consistency_problems(root: Path) -> tuple[dict, list[str]]:
    """Compare README.md, environment.yml and ruff's target with ``requires-python``.

    Returns:
        ``(facts, problems)``: what was read (for printing) and one message per mismatch.
    """
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    spec = pyproject["project"].get("requires-python")
    problems: list[str] = []
    if not spec:
        return {}, ["pyproject.toml: no requires-python"]
    claimed = claimed_minors(spec)
    if not claimed:
        return {"requires-python": spec}, [f"requires-python {spec!r} admits no 3.x version"]
    lo, hi = claimed[0], claimed[-1]
    facts = {"requires-python": spec, "claimed": claimed}

    readme = (root / "README.md").read_text(encoding="utf-8")
    stated = re.findall(r"Python (3\.\d+) to (3\.\d+)", readme)
    facts["README.md"] = ", ".join(f"{a} to {b}" for a, b in stated) or "none"
    if not stated:
        problems.append(f"README.md: no 'Python X.Y to X.Y' sentence (expected {lo} to {hi})")
    for a, b in stated:
        if (a, b) != (lo, hi):
            problems.append(f"README.md says Python {a} to {b}; requires-python means {lo} to {hi}")

    env_text = (root / "environment.yml").read_text(encoding="utf-8")
    env_python = re.findall(r"^\s*-\s*python\s*=+\s*(3\.\d+)", env_text, flags=re.MULTILINE)
    facts["environment.yml"] = ", ".join(env_python) or "none"
    if len(env_python) != 1:
        problems.append(f"environment.yml: expected one 'python=3.Y' line, found {env_python}")
    elif env_python[0] not in claimed:
        problems.append(f"environment.yml asks for python={env_python[0]}, not in {lo}..{hi}")
    env_pins = _pin_map(re.findall(r"^\s*-\s*([A-Za-z0-9][^\s#]*==[^\s#]+)", env_text, re.M))
    project_pins = _pin_map(read_pins(pyproject))
    for name in sorted(set(env_pins) | set(project_pins)):
        if env_pins.get(name) != project_pins.get(name):
            problems.append(
                f"environment.yml pins {name}=={env_pins.get(name)} but pyproject.toml "
                f"{name}=={project_pins.get(name)}"
            )

    target = pyproject.get("tool", {}).get("ruff", {}).get("target-version")
    facts["ruff target-version"] = target or "none"
    expected = "py" + lo.replace(".", "")
    if target != expected:
        problems.append(
            f"ruff target-version is {target!r}; the oldest claimed Python needs {expected!r}"
        )
    return facts, problems


# ---------------------------------------------------------------------------
# Resolving the pins under each interpreter
# ---------------------------------------------------------------------------


def _reports_version(executable: str, minor: str) -> bool:
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == minor


def find_interpreter(minor: str) -> str | None:
    """Path of a working ``python3.Y`` (PATH first, then pyenv's versions), or None."""
    candidates = []
    on_path = shutil.which(f"python{minor}")
    if on_path:
        candidates.append(on_path)
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    installs = glob.glob(
        os.path.join(pyenv_root, "versions", f"{minor}.*", "bin", f"python{minor}")
    )

    def newest_first(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", Path(path).parents[1].name))

    candidates += sorted(installs, key=newest_first, reverse=True)
    for executable in candidates:  # a pyenv shim on PATH may exist and still refuse to run
        if _reports_version(executable, minor):
            return executable
    return None


def _pip_reason(stderr: str, limit: int = 400) -> str:
    """pip's ERROR lines, without the long list of versions skipped for Requires-Python."""
    errors = [
        re.sub(r"\(from versions: ([^)]{60})[^)]*\)", r"(from versions: \1...)", line.strip())
        for line in stderr.splitlines()
        if line.startswith("ERROR:") and not line.startswith("ERROR: Ignored the following")
    ]
    text = " / ".join(errors) if errors else (stderr.strip().splitlines() or ["(no output)"])[-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def resolve(executable: str, pins: list[str], timeout: float = 900) -> tuple[bool, str]:
    """Run ``pip install --dry-run`` for ``pins`` under ``executable``.

    Returns:
        ``(True, "resolved: N packages")`` or ``(False, "FAILED: <reason>")``.
    """
    with tempfile.TemporaryDirectory(prefix="check-python-") as tmp:
        report = Path(tmp) / "report.json"
        command = [executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"]
        command += ["--quiet", "--report", str(report), *pins]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, f"FAILED: pip did not finish within {timeout:.0f} s"
        if done.returncode != 0 or not report.is_file():
            return False, f"FAILED: {_pip_reason(done.stderr)}"
        installed = json.loads(report.read_text())["install"]
    resolved = {
        re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"]
        for item in installed
    }
    wrong = [
        f"{name}=={want} (got {resolved.get(name)})"
        for name, want in _pin_map(pins).items()
        if resolved.get(name) != want
    ]
    if wrong:
        return False, "FAILED: the resolution does not honour " + ", ".join(wrong)
    return True, f"resolved: {len(installed)} packages"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="project folder (default: this repo)"
    )
    parser.add_argument(
        "--python",
        action="append",
        metavar="X.Y",
        help="check this minor version instead of the claimed ones (repeatable)",
    )
    parser.add_argument(
        "--no-resolve", action="store_true", help="only the consistency checks (no index access)"
    )
    args = parser.parse_args(argv)

    facts, problems = consistency_problems(args.root)
    for key, value in facts.items():
        print(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    for problem in problems:
        print(f"MISMATCH: {problem}")
    if not problems:
        print("README.md, environment.yml and ruff agree with requires-python")
    failed = bool(problems)
    if args.no_resolve:
        return int(failed)

    pyproject = tomllib.loads((args.root / "pyproject.toml").read_text(encoding="utf-8"))
    pins = read_pins(pyproject)
    versions = args.python or facts.get("claimed", [])
    print(f"resolving {len(pins)} pins (dependencies + dev) with pip install --dry-run:")
    for minor in versions:
        label = "claimed" if minor in facts.get("claimed", []) else "NOT claimed"
        executable = find_interpreter(minor)
        if executable is None:
            print(
                f"  Python {minor} ({label}): no interpreter on this machine, skipped", flush=True
            )
            continue
        ok, line = resolve(executable, pins)
        print(f"  Python {minor} ({label}, {executable}): {line}", flush=True)
        failed |= not ok
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
