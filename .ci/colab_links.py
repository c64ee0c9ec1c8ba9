"""Point every notebook's Colab badge and install cell at one repository and ref.

``make colab-links REPO=owner/name REF=tag`` runs ``python .ci/colab_links.py --repo ... --ref
...``: it writes ``notebooks/colab.toml`` (the one source of truth) and rewrites, in every
``notebooks/NN_*.ipynb``, the badge link in the first cell and, in the setup cell, the
``%pip install`` line of seglib and the one of ``colab_extras`` (what the course needs beyond
Colab's own packages, with the comment above it; added before seglib's line when missing).
Without arguments it only rewrites the notebooks from the file. Other cells and the
notebooks' layout are left as they are.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "notebooks" / "colab.toml"
BADGE = re.compile(
    r"https://colab\.research\.google\.com/github/[^)\s\"]+/notebooks/([\w.-]+\.ipynb)"
)
INSTALL = re.compile(r"\"seglib @ git\+https://github\.com/[^\"]*\"")
REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
REF = re.compile(r"^[A-Za-z0-9_./-]+$")
EXTRAS_COMMENT = (
    "# TFDS on Colab: a tensorflow-metadata that Colab's protobuf accepts; importlib-resources"
)
EXTRAS = re.compile(
    r"(?m)^([ \t]*)# TFDS on Colab:[^\n]*\n[ \t]*%pip install --quiet(?: \"[^\"\s]+\")+$"
)
INSTALL_LINE = re.compile(
    r"(?m)^([ \t]*)%pip install[^\n]*\"seglib @ git\+https://github\.com/[^\n]*$"
)


def read_config(path: Path | None = None) -> tuple[str, str]:
    """Return ``(repo, ref)`` from ``notebooks/colab.toml`` (or ``path``)."""
    data = tomllib.loads((path or CONFIG).read_text(encoding="utf-8"))
    return data["repo"], data["ref"]


def read_extras(path: Path | None = None) -> list[str]:
    """Return ``colab_extras`` from ``notebooks/colab.toml``: exact pins, ``name==version``.

    Raises:
        ValueError: an entry is not an exact pin.
    """
    data = tomllib.loads((path or CONFIG).read_text(encoding="utf-8"))
    extras = list(data.get("colab_extras", []))
    for spec in extras:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+", spec):
            raise ValueError(f"colab.toml: colab_extras entry {spec!r} is not 'name==version'")
    return extras


def extras_block(indent: str, extras: list[str]) -> str:
    """The comment and ``%pip install`` line of ``extras``, at ``indent``."""
    specs = " ".join(f'"{spec}"' for spec in extras)
    return f"{indent}{EXTRAS_COMMENT}\n{indent}%pip install --quiet {specs}"


def with_extras(source: str, extras: list[str]) -> str:
    """``source`` with its extras block set to ``extras`` (inserted before seglib's install
    line when missing, removed when ``extras`` is empty). Before, so that seglib, installed
    last with ``--no-deps``, is not yet there when pip checks the extras' dependants: else
    pip prints an ERROR listing seglib's own pins that Colab's versions do not meet."""
    match = EXTRAS.search(source)
    if match:
        block = extras_block(match.group(1), extras) if extras else ""
        end = match.end() + (1 if not extras and source[match.end() : match.end() + 1] else 0)
        return source[: match.start()] + block + source[end:]
    if not extras:
        return source
    install = INSTALL_LINE.search(source)
    block = extras_block(install.group(1), extras)
    return source[: install.start()] + block + "\n" + source[install.start() :]


def badge_url(repo: str, ref: str, name: str) -> str:
    return f"https://colab.research.google.com/github/{repo}/blob/{ref}/notebooks/{name}"


def install_spec(repo: str, ref: str) -> str:
    return f'"seglib @ git+https://github.com/{repo}@{ref}"'


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def rewrite(path: Path, repo: str, ref: str) -> bool:
    """Rewrite one notebook's badge and install line; return True when it changed.

    Raises:
        ValueError: the notebook has no badge or no install line to rewrite.
    """
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    cells = nb["cells"]
    title = "".join(cells[0]["source"])
    if not BADGE.search(title):
        raise ValueError(f"{path.name}: no Colab badge link in the first cell")
    new_title = BADGE.sub(badge_url(repo, ref, path.name), title)
    setup = next((c for c in cells if c["cell_type"] == "code"), None)
    source = "".join(setup["source"]) if setup else ""
    if not INSTALL.search(source):
        raise ValueError(f"{path.name}: no 'seglib @ git+https://github.com/...' install line")
    new_source = with_extras(INSTALL.sub(install_spec(repo, ref), source), read_extras())
    if new_title == title and new_source == source:
        return False
    cells[0]["source"] = new_title.splitlines(keepends=True)
    setup["source"] = new_source.splitlines(keepends=True)
    path.write_text(
        json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return True


def write_config(repo: str, ref: str) -> None:
    text = CONFIG.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^repo = ".*"$', f'repo = "{repo}"', text)
    text = re.sub(r'(?m)^ref = ".*"$', f'ref = "{ref}"', text)
    CONFIG.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default="", help="owner/name on GitHub")
    parser.add_argument("--ref", default="", help="tag, branch or commit")
    args = parser.parse_args(argv)
    if bool(args.repo) != bool(args.ref):
        parser.error("give both REPO=owner/name and REF=tag, or neither")
    if args.repo:
        if not REPO.match(args.repo):
            parser.error(f"REPO must look like owner/name, got {args.repo!r}")
        if not REF.match(args.ref):
            parser.error(f"REF must be a tag, branch or commit, got {args.ref!r}")
        write_config(args.repo, args.ref)
    repo, ref = read_config()
    changed = [p.name for p in notebooks() if rewrite(p, repo, ref)]
    print(f"Colab links point at github.com/{repo} @ {ref}; rewrote {len(changed)} notebook(s)")
    for name in changed:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
