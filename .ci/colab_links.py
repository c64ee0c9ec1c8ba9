"""Point every notebook's Colab badge and install cell at one repository and ref.

``make colab-links REPO=owner/name REF=tag`` runs ``python .ci/colab_links.py --repo ... --ref
...``: it writes ``notebooks/colab.toml`` (the one source of truth) and rewrites, in every
``notebooks/NN_*.ipynb``, the badge link in the first cell and the ``%pip install`` line of
the setup cell. Without arguments it only rewrites the notebooks from the file. Other cells
and the notebooks' layout are left as they are.
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


def read_config(path: Path | None = None) -> tuple[str, str]:
    """Return ``(repo, ref)`` from ``notebooks/colab.toml`` (or ``path``)."""
    data = tomllib.loads((path or CONFIG).read_text(encoding="utf-8"))
    return data["repo"], data["ref"]


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
    new_source = INSTALL.sub(install_spec(repo, ref), source)
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
