"""make test-colab: run the course on Colab's own packages, installed as the notebooks do.

1. Finds the Python version Colab uses (``# python: 3.13`` in ``.ci/colab-constraints.txt``)
   on PATH or under pyenv; without it, says what it skips and exits 0.
2. Builds ``.venv-colab/`` with it: the part of Colab's set the course uses
   (:data:`COLAB_SET`) installed under the constraints, i.e. at Colab's versions. The venv
   is kept between runs, keyed by the constraints file and :data:`COLAB_SET`; every run
   first puts it back to the state just after that install (what the steps below added or
   changed is undone), so each run starts from Colab's set.
3. Runs every notebook setup cell's Colab branch, its ``%pip install`` lines in order
   (each distinct line once, seglib's last as in every cell), the seglib line pointed at
   this checkout instead of GitHub and nothing else changed (``--no-deps`` included). No
   constraints here, as on Colab. It fails when those installs change a package Colab
   already had that the lines do not name (that would take a runtime restart on Colab) or
   when pip prints a dependency-conflict ERROR (the student would see it), and prints what
   they changed.
4. Runs, in that venv and against the installed seglib (``python -P``: not this
   checkout's folder): tests/test_tfds.py, the data-loading tests (tests/test_data.py,
   tests/test_oxford.py) and every notebook under nbval in smoke mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / ".ci" / "colab-constraints.txt"
VENV = ROOT / ".venv-colab"
KEY_FILE = VENV / ".colab-key"
BASE_FILE = VENV / ".colab-base.txt"
#: What the course imports from Colab's set, and the test tools (pinned by Colab too, except
#: nbval, which takes the project's pin).
COLAB_SET = (
    "tensorflow",
    "keras",
    "tensorflow-datasets",
    "tensorflow-metadata",
    "protobuf",
    "etils",
    "ipywidgets",
    "ipython",
    "numpy",
    "pandas",
    "matplotlib",
    "scipy",
    "pillow",
    "pydot",
    "tqdm",
    "pytest",
    "nbclient",
    "nbformat",
    "ipykernel",
    "nbval==0.11.0",
)
TESTS = ("tests/test_tfds.py", "tests/test_data.py", "tests/test_oxford.py")
SEGLIB_URL = re.compile(r"seglib @ git\+https://github\.com/[^\"'\s]+")
#: Printed at the end: the versions this run used.
REPORTED = (
    "tensorflow",
    "keras",
    "tensorflow-datasets",
    "tensorflow-metadata",
    "protobuf",
    "etils",
    "importlib-resources",
    "ai-edge-litert",
    "numpy",
    "pandas",
    "ipywidgets",
    "ipython",
    "pytest",
    "nbval",
)


def say(message: str) -> None:
    print(f"[test-colab] {message}", flush=True)


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    say("$ " + " ".join(shlex.quote(str(a)) for a in args))
    return subprocess.run([str(a) for a in args], check=True, **kwargs)


def colab_python_version() -> str:
    match = re.search(r"(?m)^# python: (3\.\d+)$", CONSTRAINTS.read_text(encoding="utf-8"))
    if not match:
        raise SystemExit(f"{CONSTRAINTS}: no '# python: 3.X' line; regenerate it")
    return match.group(1)


def snapshot_date() -> str:
    match = re.search(r"(?m)^# snapshot: (\S+)$", CONSTRAINTS.read_text(encoding="utf-8"))
    return match.group(1) if match else "unknown"


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` (``3.13``): on PATH, else the newest under pyenv."""
    candidates = [shutil.which(f"python{version}")]
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    for root in filter(None, roots):
        found = sorted(Path(root, "versions").glob(f"{version}.*/bin/python{version}"))
        candidates += [str(p) for p in reversed(found)]
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
        if out == version:
            return candidate
    return None


def venv_key() -> str:
    digest = hashlib.sha256(CONSTRAINTS.read_bytes())
    digest.update("\n".join(COLAB_SET).encode())
    return digest.hexdigest()


def freeze(python: Path) -> dict[str, str]:
    """``{normalised name: line}`` of ``pip freeze`` (all packages, pip too)."""
    out = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    ).stdout
    lines = {}
    for line in out.splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(==| @ )", line)
        if match:
            lines[normalise(match.group(1))] = line.strip()
    return lines


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build_venv(interpreter: str) -> Path:
    python = VENV / "bin" / "python"
    key = venv_key()
    if python.exists() and KEY_FILE.is_file() and KEY_FILE.read_text().strip() == key:
        say(f"reusing {VENV.name}/ (built from this constraints file)")
        return python
    if VENV.exists():
        shutil.rmtree(VENV)
    run(interpreter, "-m", "venv", VENV)
    run(python, "-m", "pip", "install", "--quiet", "-c", CONSTRAINTS, *COLAB_SET)
    BASE_FILE.write_text(json.dumps(freeze(python), indent=1, sort_keys=True))
    KEY_FILE.write_text(key + "\n")
    return python


def restore_base(python: Path) -> None:
    """Undo what an earlier run's setup-cell installs changed: back to Colab's set."""
    base = json.loads(BASE_FILE.read_text())
    now = freeze(python)
    extra = sorted(n for n in now if n not in base)
    changed = sorted(base[n] for n in base if now.get(n) != base[n])
    if extra:
        run(python, "-m", "pip", "uninstall", "--quiet", "--yes", *extra)
    if changed:
        run(python, "-m", "pip", "install", "--quiet", "--no-deps", *changed)


def setup_cell_installs() -> list[list[str]]:
    """The ``%pip install`` lines of every notebook's Colab branch, each distinct line once,
    in notebook order, as pip arguments with seglib's GitHub URL pointed at this checkout."""
    commands: list[list[str]] = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        setup = next(c for c in cells if c["cell_type"] == "code")
        lines = "".join(setup["source"]).splitlines()
        start = lines.index('if "google.colab" in sys.modules:')
        for line in lines[start + 1 :]:
            if line and not line.startswith((" ", "\t")):
                break  # the end of the Colab branch
            line = line.strip()
            if line.startswith("%pip install"):
                line = line.split("  #")[0]  # a trailing comment
                args = shlex.split(line)[1:]
                args = [SEGLIB_URL.sub(f"seglib @ {ROOT.as_uri()}", a) for a in args]
                if args not in commands:
                    commands.append(args)
    if not any(any(a.startswith("seglib @ ") for a in c) for c in commands):
        raise SystemExit("no notebook setup cell installs seglib in its Colab branch")
    # Every setup cell installs seglib last; across notebooks, keep that order.
    return sorted(commands, key=lambda c: any(a.startswith("seglib @ ") for a in c))


def named(args: list[str]) -> set[str]:
    """The package names an install command asks for (``name==1``, ``name @ url``)."""
    names = set()
    for arg in args:
        if not arg.startswith("-"):
            names.add(normalise(re.split(r"\s*(?:@|==|>=|<=|~=|!=|<|>)", arg)[0]))
    return names


def main() -> int:
    started = time.perf_counter()
    version = colab_python_version()
    interpreter = find_python(version)
    if interpreter is None:
        say(
            f"SKIPPED: no Python {version} (Colab's version) on PATH or under pyenv, so the "
            "check on Colab's packages did not run. Install it (pyenv install "
            f"{version}) to run it."
        )
        return 0
    say(f"Colab's set of {snapshot_date()} on Python {version} ({interpreter})")
    python = build_venv(interpreter)
    restore_base(python)
    before = freeze(python)
    asked: set[str] = set()
    conflicts = []
    for args in setup_cell_installs():
        shown = run(python, "-m", "pip", *args, capture_output=True, text=True)
        output = shown.stdout + shown.stderr
        print(output, end="", flush=True)
        if "dependency conflicts" in output:  # pip's ERROR, shown in the student's notebook
            conflicts.append(" ".join(args))
        asked |= named(args)
    after = freeze(python)
    added = sorted(after[n] for n in after if n not in before)
    changed = sorted(f"{before[n]} -> {after[n]}" for n in before if after.get(n) != before[n])
    say("the setup cells added: " + (", ".join(added) or "nothing"))
    say("the setup cells changed: " + (", ".join(changed) or "nothing"))
    if conflicts:
        say(
            "FAILED: pip printed a dependency-conflict ERROR for: "
            + "; ".join(conflicts)
            + " (install what seglib needs before seglib, which goes in last with --no-deps)"
        )
        return 1
    unasked = [n for n in before if after.get(n) != before[n] and n not in asked]
    if unasked:
        say(
            "FAILED: the setup cells changed packages Colab already had and that they do not "
            f"name: {', '.join(sorted(unasked))}; on Colab that takes a runtime restart"
        )
        return 1
    env = dict(os.environ)
    if not env.get("SEGLIB_DATA", "").strip():
        env["SEGLIB_DATA"] = "synthetic"  # as make test: offline, no data needed
    env.pop("PYTHONPATH", None)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # ipykernel 6's debugger warns on Python 3.13
    where = subprocess.run(
        [str(python), "-P", "-c", "import seglib; print(seglib.__file__)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    say(f"seglib under test: {where}")
    failures = 0
    tests = [t for t in TESTS if (ROOT / t).exists()]
    result = subprocess.run(
        [str(python), "-P", "-m", "pytest", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        env=env,
    )
    failures += result.returncode != 0
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    env["SEGLIB_SMOKE"] = "1"
    if os.path.isdir(env["SEGLIB_DATA"]):
        env["SEGLIB_DATA"] = os.path.abspath(env["SEGLIB_DATA"])
    result = subprocess.run(
        [str(python), "-P", "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", *notebooks],
        cwd=ROOT / "notebooks",
        env=env,
    )
    failures += result.returncode != 0
    versions = freeze(python)
    used = [versions[normalise(n)] for n in REPORTED if normalise(n) in versions]
    say(f"Python {version}; versions used: " + ", ".join(used))
    minutes = (time.perf_counter() - started) / 60
    verdict = "FAILED" if failures else "passed"
    say(f"{verdict} on Colab's set of {snapshot_date()} in {minutes:.1f} min")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
