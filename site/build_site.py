"""Build the course website into ``build/site/``: ``make site`` (``python site/build_site.py``).

Sphinx with MyST-NB and the Sphinx Book Theme render the notebooks that ``make run``
executed (``build/notebooks/``); a notebook with no executed copy there is shown from its
source in ``notebooks/`` with a warning on its page. Nothing is executed here
(``nb_execution_mode = "off"``) and nothing in ``notebooks/`` changes: the notebooks are
copied into a staging folder (``build/site-work/src``) and prepared there:

* after the title cell, a line with the Colab badge, a download link to the clean
  ``.ipynb`` and how this page's outputs were made (``<stem>.run.json`` from
  ``seglib.runner``: real settings or smoke mode, wall time, date, CPU cores);
* the Colab badge image is the site's own (``_static/colab-badge.svg``): no page loads
  anything from outside the site;
* a widget cell (one that builds ``widgets.*``) gets a note that the widget needs a
  running kernel (Jupyter or Colab), and its widget outputs, which a static page cannot
  show, are dropped; the static fallback the notebook drew without a front end stays;
* each figure's alt text, which ``seglib.viz`` stores as output metadata
  (``{"image/png": {"alt": ...}}``), is collected into ``alt_texts.json`` for the hook in
  ``conf.py`` that puts it on the ``<img>`` element;
* each deep dive (a section whose heading starts with ``Deeper:``, ``seglib.course``) becomes
  one ``<details class="deeper">`` block that opens on click, its heading the summary and any
  heading inside it a bold line (so that no page section opens inside the block); our-run
  figures and solutions are ``<details>`` blocks in the notebooks already;
* the "Check your understanding" cell (``quiz.show("NN")``) of a notebook with no executed
  copy gets the quiz that ``seglib.quiz.outputs`` renders, so every page has its quiz.

The landing page (``index.md``) is rendered from ``site/index.md.jinja``: the notebooks in
order with the first sentence of each one's introduction and its wall time at real
settings from the run records ("not measured yet" when there is none). MathJax comes from
the pinned ``jupyter-server-mathjax`` package, so the site works offline.

The finished site replaces ``build/site/`` only when the build succeeded (it is built in
``build/site.partial`` first).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import hashlib
import html
import json
import re
import shutil
import sys
import time
import tomllib
from base64 import b64decode
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(__file__).resolve().parent
NOTEBOOK_NAME = re.compile(r"^\d\d_[\w-]+\.ipynb$")
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
WIDGET_CALL = re.compile(r"\bwidgets\.(?!Layout\b)[A-Z]\w*\(|\bwidgets\.interact")
WIDGET_NOTE = (
    "```{note}\nThe next cell builds an interactive widget (WHAT). A widget needs a "
    "running kernel, so it works in Jupyter or Colab, not on this page: here you see what "
    "the notebook shows without a widget front end.\n```"
)


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else source


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def course_notebooks(folder: Path) -> list[Path]:
    """The course's notebooks ``NN_name.ipynb`` in reading order."""
    return sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name))


def title_and_summary(nb: dict) -> tuple[str, str]:
    """``("01 · Exploring ...", first sentence of the introduction)`` from the first cell."""
    lines = _text(nb["cells"][0]["source"]).splitlines()
    title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), "")
    prose = []
    for line in lines:
        if line.startswith("#") or line.startswith("[!["):
            if prose:
                break
            continue
        if not line.strip():
            if prose:
                break
            continue
        prose.append(line.strip())
    paragraph = " ".join(prose)
    # the first sentence: a stop after a word of two letters or more (not "F. Chollet")
    match = re.match(r"(.+?[\w)\]*`][\w)\]*`][.!?])(\s|$)", paragraph)
    return title, (match.group(1) if match else paragraph)


def read_run_record(executed_dir: Path, stem: str) -> dict | None:
    """``<stem>.run.json`` written by ``seglib.runner``, or None when there is none."""
    path = executed_dir / f"{stem}.run.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(
            f"{path}: unreadable run record ({error}); run `make run` again"
        ) from error


def real_time(record: dict | None) -> str:
    """The wall time at real settings for the landing page, or 'not measured yet'."""
    if record is None or record.get("smoke") or not record.get("ok"):
        return "not measured yet"
    day = str(record.get("finished", ""))[:10]
    cores = record.get("cpu_count")
    return f"{record['seconds'] / 60:.1f} min ({day}, {cores} CPU cores)"


def run_line(record: dict | None, executed: bool) -> str:
    """One sentence on how this page's outputs were made."""
    if not executed:
        return ""
    if record is None:
        return "Outputs from an executed copy in `build/notebooks/` (no run record beside it)."
    how = "in smoke mode (tiny data, few steps; its numbers are not those of the real settings)"
    if not record.get("smoke"):
        how = "at its real settings"
    day = str(record.get("finished", ""))[:10]
    status = "" if record.get("ok") else f" **The run failed**: {record.get('error')}."
    return (
        f"Outputs from `make run` {how}, on {day}: {record['seconds'] / 60:.1f} min on "
        f"{record.get('cpu_count')} CPU cores.{status}"
    )


def _markdown_cell(cell_id: str, text: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": _lines(text)}


def _badge_line(nb: dict) -> str | None:
    for line in _text(nb["cells"][0]["source"]).splitlines():
        if BADGE_IMAGE in line:
            return line.strip()
    return None


def prepare_notebook(
    nb: dict, name: str, executed: bool, record: dict | None, alt_texts: dict
) -> dict:
    """Return the staged copy of one notebook (see the module docstring); fills ``alt_texts``
    with ``{sha256 of image bytes: alt}``."""
    nb = copy.deepcopy(nb)
    nb.get("metadata", {}).pop("widgets", None)  # no widget state: no widget JS from a CDN
    first = nb["cells"][0]
    badge = _badge_line(nb)
    local_badge = badge.replace(BADGE_IMAGE, "_static/colab-badge.svg") if badge else ""
    first["source"] = (
        _lines(_text(first["source"]).replace(badge, "").rstrip() + "\n")
        if badge
        else first["source"]
    )
    parts = []
    if local_badge:
        parts.append(local_badge)
    parts.append(f"{{download}}`Download this notebook (.ipynb, without outputs) <_ipynb/{name}>`")
    line = " · ".join(parts)
    if executed:
        line += "\n\n" + run_line(record, executed)
    note = [line]
    if not executed:
        note.append(
            "```{warning}\nThis notebook has no executed copy in `build/notebooks/` yet, so "
            "this page shows its source, without outputs or figures. `make run` executes it; "
            "`make site` then shows what it printed and drew.\n```"
        )
    cells = [first, _markdown_cell("site-about", "\n\n".join(note))]
    for cell in nb["cells"][1:]:
        if cell["cell_type"] == "code":
            source = _text(cell["source"])
            calls = sorted(set(m.group(0).rstrip("(") for m in WIDGET_CALL.finditer(source)))
            if calls:
                what = ", ".join(f"`{c}`" for c in calls)
                note_id = f"site-widget-note-{len(cells)}"
                cells.append(_markdown_cell(note_id, WIDGET_NOTE.replace("WHAT", what)))
            kept = []
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if WIDGET_VIEW in data or WIDGET_STATE in data:
                    continue
                for mime in IMAGE_TYPES:
                    alt = output.get("metadata", {}).get(mime, {}).get("alt")
                    if mime in data and alt:
                        raw = _text(data[mime])
                        blob = raw.encode() if mime == "image/svg+xml" else b64decode(raw)
                        alt_texts[hashlib.sha256(blob).hexdigest()] = alt
                kept.append(output)
            if "outputs" in cell:
                cell["outputs"] = kept
        cells.append(cell)
    nb["cells"] = fold_deep_dives(cells)
    if not executed:
        add_quiz(nb, name)
    return nb


QUIZ_CALL = re.compile(r"quiz\.show\(\s*[\"'](\d\d)[\"']\s*\)")


def add_quiz(nb: dict, name: str) -> None:
    """Give the quiz cell of a notebook that was not executed the quiz's outputs."""
    from seglib import quiz

    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and not cell.get("outputs"):
            match = QUIZ_CALL.search(_text(cell["source"]))
            if match:
                cell["outputs"] = quiz.outputs(match.group(1))


def fold_deep_dives(cells: list[dict]) -> list[dict]:
    """Each deep dive as one ``<details class="deeper">`` block (module docstring)."""
    from seglib import course

    spans = [s for s in course.sections({"cells": cells}) if s.kind == "deeper"]
    starts = {s.start: s for s in spans}
    ends: dict[int, int] = {}
    for s in spans:
        ends[s.end] = ends.get(s.end, 0) + 1
    inside = {i for s in spans for i in range(s.start + 1, s.end)}
    out = []
    for i, cell in enumerate(cells):
        for _ in range(ends.get(i, 0)):
            out.append(_markdown_cell(f"site-deeper-end-{i}", "</details>"))
        if i in starts:
            cell = copy.deepcopy(cell)
            first, _, rest = _text(cell["source"]).strip().partition("\n")
            title = html.escape(starts[i].title)
            summary = f'<details class="deeper">\n<summary>{title}</summary>\n\n'
            cell["source"] = _lines(summary + rest.strip() + "\n")
        elif i in inside and course.heading(cell) is not None:
            cell = copy.deepcopy(cell)
            first, _, rest = _text(cell["source"]).strip().partition("\n")
            cell["source"] = _lines(f"**{course.heading(cell)[1]}**\n{rest}")
        out.append(cell)
    for _ in range(ends.get(len(cells), 0)):
        out.append(_markdown_cell("site-deeper-end", "</details>"))
    return out


def _colab_config() -> tuple[str, str]:
    data = tomllib.loads((ROOT / "notebooks" / "colab.toml").read_text(encoding="utf-8"))
    return data["repo"], data["ref"]


def stage(notebooks_dir: Path, executed_dir: Path, staging: Path) -> list[dict]:
    """Fill ``staging`` with the site's sources; return one entry per notebook."""
    import jinja2

    if staging.exists():
        shutil.rmtree(staging)
    (staging / "_ipynb").mkdir(parents=True)
    shutil.copytree(SITE / "_static", staging / "_static")
    alt_texts, entries = {}, []
    for source in course_notebooks(notebooks_dir):
        executed_copy = executed_dir / source.name
        executed = executed_copy.is_file()
        nb = json.loads((executed_copy if executed else source).read_text(encoding="utf-8"))
        record = read_run_record(executed_dir, source.stem) if executed else None
        staged = prepare_notebook(nb, source.name, executed, record, alt_texts)
        (staging / source.name).write_text(json.dumps(staged, indent=1), encoding="utf-8")
        shutil.copy2(source, staging / "_ipynb" / source.name)
        title, summary = title_and_summary(nb)
        entries.append(
            {
                "name": source.name,
                "stem": source.stem,
                "title": title,
                "summary": summary,
                "executed": executed,
                "time": real_time(record),
            }
        )
    (staging / "alt_texts.json").write_text(json.dumps(alt_texts, indent=1), encoding="utf-8")
    repo, ref = _colab_config()
    template = jinja2.Template((SITE / "index.md.jinja").read_text(encoding="utf-8"))
    (staging / "index.md").write_text(
        template.render(notebooks=entries, repo=repo, ref=ref), encoding="utf-8"
    )
    return entries


def build(notebooks_dir: Path, executed_dir: Path, out: Path, work: Path) -> int:
    """Stage and run Sphinx; the new site replaces ``out`` only when Sphinx succeeded."""
    from sphinx.cmd.build import build_main

    entries = stage(notebooks_dir, executed_dir, work / "src")
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    args = ["-b", "html", "-q", "-c", str(SITE), "-d", str(work / "doctrees")]
    status = build_main([*args, str(work / "src"), str(partial)])
    if status != 0:
        print(f"sphinx-build failed ({status}); {out} left as it was", file=sys.stderr)
        return status
    if out.exists():
        shutil.rmtree(out)
    partial.replace(out)
    missing = [e["name"] for e in entries if not e["executed"]]
    pages = len([p for p in out.rglob("*.html") if "_static" not in p.parts])
    print(f"site: {out}/index.html, {pages} HTML pages, {len(entries)} notebooks")
    if missing:
        print("shown from source (no executed copy): " + ", ".join(missing))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--executed", type=Path, default=ROOT / "build" / "notebooks")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "site-work")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    status = build(args.notebooks, args.executed, args.out, args.work)
    if status == 0:
        print(f"built in {time.perf_counter() - start:.0f} s at {datetime.datetime.now():%H:%M}")
    return status


if __name__ == "__main__":
    sys.exit(main())
