"""site/build_site.py's staging: what each page and the landing page are made of (no Sphinx)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("build_site", ROOT / "site" / "build_site.py")
build_site = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_site)

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image bytes").decode()


def _record(**changes) -> dict:
    record = {"notebook": "01_x.ipynb", "ok": True, "seconds": 1404.0, "error": None}
    record.update(smoke=False, finished="2026-11-29T10:00:00+00:00", cpu_count=2)
    record.update(changes)
    return record


def test_landing_page_times_come_from_real_runs_only():
    assert build_site.real_time(_record()) == "23.4 min (2026-11-29, 2 CPU cores)"
    assert build_site.real_time(_record(smoke=True)) == "not measured yet"
    assert build_site.real_time(_record(ok=False)) == "not measured yet"
    assert build_site.real_time(None) == "not measured yet"


def _executed_widget_notebook() -> dict:
    badge = (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/o/r/blob/v1/notebooks/06_x.ipynb)"
    )
    figure = {
        "output_type": "display_data",
        "data": {"image/png": PNG, "text/plain": "<Figure>"},
        "metadata": {"image/png": {"alt": "photo 3 with its mask"}},
    }
    widget = {
        "output_type": "display_data",
        "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
            "text/plain": "VBox()",
        },
        "metadata": {},
    }
    code = "upload = widgets.FileUpload()\nbox = widgets.VBox([upload])\ndisplay(box)"
    return {
        "metadata": {"widgets": {"state": {}}},
        "cells": [
            {
                "cell_type": "markdown",
                "id": "a",
                "metadata": {},
                "source": f"# 06 · X\n\nIt is.\n\n{badge}",
            },
            {
                "cell_type": "code",
                "id": "b",
                "metadata": {},
                "source": "plot()",
                "outputs": [figure],
            },
            {"cell_type": "code", "id": "c", "metadata": {}, "source": code, "outputs": [widget]},
        ],
    }


def test_a_page_gets_its_badge_download_link_widget_note_and_alt_texts():
    alt_texts = {}
    nb = build_site.prepare_notebook(
        _executed_widget_notebook(), "06_x.ipynb", True, _record(smoke=True), alt_texts
    )
    assert "widgets" not in nb["metadata"]  # no widget JavaScript from a CDN
    first, about = nb["cells"][0], "".join(nb["cells"][1]["source"])
    assert build_site.BADGE_IMAGE not in "".join(first["source"])
    assert "_static/colab-badge.svg" in about and "<_ipynb/06_x.ipynb>" in about
    assert "in smoke mode" in about and "23.4 min on 2 CPU cores" in about
    note = "".join(nb["cells"][3]["source"])
    assert "it works in Jupyter or Colab" in note
    assert "`widgets.FileUpload`, `widgets.VBox`" in note
    assert nb["cells"][4]["outputs"] == []  # the widget view a static page cannot show
    assert len(nb["cells"][2]["outputs"]) == 1  # the figure stays
    digest = hashlib.sha256(base64.b64decode(PNG)).hexdigest()
    assert alt_texts == {digest: "photo 3 with its mask"}
    assert all(cell.get("id") for cell in nb["cells"])  # valid nbformat 4.5


def test_a_notebook_without_executed_copy_is_staged_from_source_with_a_warning(tmp_path):
    sources = tmp_path / "notebooks"
    sources.mkdir()
    for path in sorted((ROOT / "notebooks").glob("0[12]_*.ipynb")):
        shutil.copy2(path, sources / path.name)
    executed = tmp_path / "executed"
    executed.mkdir()
    first = sorted(sources.glob("*.ipynb"))[0]
    shutil.copy2(first, executed / first.name)
    (executed / f"{first.stem}.run.json").write_text(json.dumps(_record()))
    entries = build_site.stage(sources, executed, tmp_path / "src")
    assert [e["executed"] for e in entries] == [True, False]
    index = (tmp_path / "src" / "index.md").read_text()
    assert "23.4 min (2026-11-29, 2 CPU cores)" in index and "not measured yet" in index
    for entry in entries:
        assert f"]({entry['name']})" in index and f"\n{entry['stem']}\n" in index
    second = json.loads((tmp_path / "src" / entries[1]["name"]).read_text())
    assert "no executed copy" in "".join(second["cells"][1]["source"])
    assert (tmp_path / "src" / "_ipynb" / entries[1]["name"]).read_bytes() == (
        sources / entries[1]["name"]
    ).read_bytes()  # the download is the clean source
    assert json.loads((tmp_path / "src" / "alt_texts.json").read_text()) == {}


def test_an_unreadable_run_record_stops_the_build_with_its_name(tmp_path):
    (tmp_path / "01_x.run.json").write_text("{not json")
    with pytest.raises(SystemExit, match="01_x.run.json: unreadable run record"):
        build_site.read_run_record(tmp_path, "01_x")
