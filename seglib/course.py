"""The course's notebook layout as code: core path and deep dives, folded blocks, student copies.

The README's *How a notebook is laid out, and teaching with it* describes the layout; this
module reads and writes it:

* A **section** starts at a Markdown cell whose first line is a heading (``#`` to ``######``)
  and runs to the next heading of the same or a higher level.
* A **deep dive** is a section whose heading text starts with ``Deeper:``. It is folded by
  default: its heading cell has ``"jp-MarkdownHeadingCollapsed": true`` (JupyterLab 4) and
  its id is listed in the notebook's ``metadata.colab.collapsed_sections`` (Colab, which
  reads the cell's ``metadata.id``); the site turns it into a ``<details>`` block. Deep dives
  still run.
* The **core path** is every Markdown cell outside deep dives and the ``Exercises`` and
  ``Solutions`` sections: at most :data:`CORE_WORDS` words (:func:`core_words`).
* **Folded blocks**: our run's figures (tag ``our-run``) and solutions (tag ``solution``) are
  Markdown cells that are one ``<details>`` element each, so they open on click in
  JupyterLab, Colab and on the site; the tags are what a student copy drops.
* **Student copies** (``make student``): nbconvert's ``TagRemovePreprocessor`` removes the
  cells tagged :data:`TEACHER_TAGS`; code cells are kept as they are, so a student copy runs
  exactly the code the teacher's copy runs.

Run ``python -m seglib.course fold notebooks/*.ipynb`` after adding a deep dive (it sets the
folded state), ``python -m seglib.course words notebooks/*.ipynb`` for the word counts,
``python -m seglib.course check notebooks/*.ipynb`` for every rule above.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

#: Most words of prose on a notebook's core path (issue 30, NOTEBOOKS.md).
CORE_WORDS = 1500
#: Cells a student copy drops.
TEACHER_TAGS = ("solution", "our-run")
DEEPER = "Deeper:"
#: JupyterLab 4's cell metadata key for a collapsed heading.
JUPYTERLAB_COLLAPSED = "jp-MarkdownHeadingCollapsed"
_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.\-][A-Za-z0-9]+)*")


def text(cell: dict) -> str:
    """A cell's source as one string."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def heading(cell: dict) -> tuple[int, str] | None:
    """``(level, text)`` when ``cell`` is a Markdown cell whose first line is a heading."""
    if cell.get("cell_type") != "markdown":
        return None
    lines = text(cell).strip().splitlines()
    match = _HEADING.match(lines[0]) if lines else None
    return (len(match.group(1)), match.group(2)) if match else None


@dataclass(frozen=True)
class Section:
    """Cells ``start`` (the heading) to ``end`` (exclusive) of a notebook; ``kind`` is
    ``"deeper"``, ``"exercises"``, ``"solutions"``, ``"quiz"`` or ``"core"``."""

    kind: str
    title: str
    level: int
    start: int
    end: int


def _kind(title: str) -> str:
    lowered = title.lower()
    if title.startswith(DEEPER):
        return "deeper"
    if lowered.startswith("exercises"):
        return "exercises"
    if lowered.startswith("solutions"):
        return "solutions"
    if lowered.startswith("check your understanding"):
        return "quiz"
    return "core"


def sections(nb: dict) -> list[Section]:
    """Every section of ``nb`` with a non-core kind (deep dives, exercises, solutions, quiz),
    outermost first; a deep dive inside an exercise section is listed once, as exercises."""
    cells = nb["cells"]
    found: list[Section] = []
    for i, cell in enumerate(cells):
        h = heading(cell)
        if h is None or _kind(h[1]) == "core":
            continue
        level = h[0]
        end = len(cells)
        for j in range(i + 1, len(cells)):
            hj = heading(cells[j])
            if hj is not None and hj[0] <= level:
                end = j
                break
        if any(s.start <= i < s.end for s in found):
            continue
        found.append(Section(_kind(h[1]), h[1], level, i, end))
    return found


def kind_of_cells(nb: dict) -> list[str]:
    """The kind of section each cell of ``nb`` is in (``"core"`` outside all of them)."""
    kinds = ["core"] * len(nb["cells"])
    for s in sections(nb):
        for i in range(s.start, s.end):
            kinds[i] = s.kind
    return kinds


def words(markdown: str) -> int:
    """Words of prose in a Markdown text: fenced code, HTML tags, link and image targets
    left out; an inline code span counts as words like any other."""
    body = _FENCE.sub(" ", markdown)
    body = re.sub(r"<[^>]+>", " ", body)
    body = re.sub(r"\]\([^)]*\)", "]", body)
    return len(_WORD.findall(body))


def _markdown_words(nb: dict, counted) -> int:
    """Words of the Markdown cells whose section kind satisfies ``counted(kind)``."""
    kinds = kind_of_cells(nb)
    return sum(
        words(text(cell))
        for cell, kind in zip(nb["cells"], kinds, strict=True)
        if cell["cell_type"] == "markdown" and counted(kind)
    )


def core_words(nb: dict) -> int:
    """Words of Markdown on the core path: outside deep dives, exercises and solutions."""
    return _markdown_words(nb, lambda kind: kind not in ("deeper", "exercises", "solutions"))


def deeper_words(nb: dict) -> int:
    """Words of Markdown in the deep dives."""
    return _markdown_words(nb, lambda kind: kind == "deeper")


def deeper_headings(nb: dict) -> list[int]:
    """Indices of every cell whose heading starts with ``Deeper:`` (nested ones too)."""
    return [
        i
        for i, cell in enumerate(nb["cells"])
        if (h := heading(cell)) is not None and h[1].startswith(DEEPER)
    ]


def fold(nb: dict) -> int:
    """Set the folded state of every deep dive's heading (JupyterLab and Colab); unfold
    headings that are no longer deep dives. Returns the number of cells changed."""
    changed = 0
    collapsed = []
    deeper = set(deeper_headings(nb))
    for i, cell in enumerate(nb["cells"]):
        meta = cell.setdefault("metadata", {})
        before = json.dumps(meta, sort_keys=True)
        if i in deeper:
            meta[JUPYTERLAB_COLLAPSED] = True
            meta["id"] = cell["id"]
            collapsed.append(cell["id"])
        elif cell["cell_type"] == "markdown":
            meta.pop(JUPYTERLAB_COLLAPSED, None)
        changed += before != json.dumps(meta, sort_keys=True)
    colab = nb.setdefault("metadata", {}).setdefault("colab", {})
    if colab.get("collapsed_sections") != collapsed:
        colab["collapsed_sections"] = collapsed
        changed += 1
    return changed


def is_folded_block(cell: dict) -> bool:
    """True when a Markdown cell is one ``<details>`` element with a ``<summary>``."""
    body = text(cell).strip()
    return (
        cell.get("cell_type") == "markdown"
        and body.startswith("<details")
        and "<summary>" in body.split("\n", 1)[0] + body
        and body.endswith("</details>")
    )


def tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def problems(nb: dict, name: str = "notebook") -> list[str]:
    """Every way ``nb`` breaks the layout rules of the module docstring, one line each."""
    found = []
    n = core_words(nb)
    if n > CORE_WORDS:
        found.append(f"{name}: core path has {n} words (at most {CORE_WORDS})")
    colab = nb.get("metadata", {}).get("colab", {}).get("collapsed_sections", [])
    for i in deeper_headings(nb):
        cell = nb["cells"][i]
        meta = cell.get("metadata", {})
        if meta.get(JUPYTERLAB_COLLAPSED) is not True or cell["id"] not in colab:
            found.append(f"{name}, cell {i}: deep dive not folded (python -m seglib.course fold)")
        if meta.get("id") != cell["id"]:
            found.append(f"{name}, cell {i}: deep dive heading needs metadata.id for Colab")
    for i, cell in enumerate(nb["cells"]):
        teacher = [t for t in tags(cell) if t in TEACHER_TAGS]
        if teacher and not is_folded_block(cell):
            found.append(f"{name}, cell {i}: tagged {teacher[0]} but not one <details> block")
        if cell["cell_type"] == "code" and teacher:
            found.append(
                f"{name}, cell {i}: a code cell tagged {teacher[0]} (student copies differ)"
            )
        if cell["cell_type"] == "markdown" and not teacher and "Our run" in text(cell):
            found.append(f"{name}, cell {i}: our run's figures outside a cell tagged our-run")
    kinds = {s.kind for s in sections(nb)}
    if "quiz" not in kinds:
        found.append(f"{name}: no 'Check your understanding' section")
    if not any("quiz.show(" in text(c) for c in nb["cells"] if c["cell_type"] == "code"):
        found.append(f"{name}: no code cell calls quiz.show(...)")
    return found


def read(path: Path) -> dict:
    """A notebook file as a plain dict (sources joined into strings by nbformat)."""
    import nbformat

    return nbformat.read(path, as_version=4)


def write(nb: dict, path: Path) -> None:
    """Write ``nb`` in nbformat's layout (what Jupyter and nbstripout write), through a
    temporary file renamed into place."""
    from seglib.files import new_temporary_file

    import nbformat

    path = Path(path)
    tmp = new_temporary_file(path.parent, path.stem, ".ipynb")
    try:
        nbformat.write(nbformat.from_dict(nb), tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def student_copies(paths: list[Path], out: Path) -> list[Path]:
    """Write a student copy of each notebook into ``out`` (same file names): the cells tagged
    :data:`TEACHER_TAGS` removed by nbconvert's ``TagRemovePreprocessor``, everything else
    as is. Each copy is written to a temporary name and renamed when complete.

    Returns:
        the paths written.

    Raises:
        FileNotFoundError: a notebook in ``paths`` does not exist.
    """
    import nbformat
    from nbconvert.preprocessors import TagRemovePreprocessor

    out.mkdir(parents=True, exist_ok=True)
    remover = TagRemovePreprocessor(remove_cell_tags=set(TEACHER_TAGS), enabled=True)
    written = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such notebook")
        nb = nbformat.read(path, as_version=4)
        nb, _ = remover.preprocess(nb, {})
        write(nb, out / path.name)
        written.append(out / path.name)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seglib.course", description=__doc__)
    parser.add_argument("command", choices=["words", "fold", "check", "student"])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("build/student"))
    args = parser.parse_args(argv)
    if args.command == "student":
        for path in student_copies(args.notebooks, args.out):
            print(f"wrote {path}")
        return 0
    failed = False
    for path in args.notebooks:
        nb = read(path)
        if args.command == "words":
            n = core_words(nb)
            print(f"{path.name:45} core {n:5} words, deep dives {deeper_words(nb):5} words")
        elif args.command == "fold":
            if fold(nb):
                write(nb, path)
                print(f"folded the deep dives of {path.name}")
        else:
            for line in problems(nb, path.name):
                print(line)
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
