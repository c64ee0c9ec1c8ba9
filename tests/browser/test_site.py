"""The course website in Chromium: every page, link, image and alt text; search; landing page.

A session fixture executes a few notebooks in smoke mode with ``seglib.runner`` (the cheap
ones, by default 01 and 06; ``SEGLIB_SITE_NOTEBOOKS="all"`` or a list of names for more),
builds the site from them with ``site/build_site.py`` into a temporary folder (so ``make
test`` never replaces the site ``make site`` built at real settings in ``build/site/``), and
serves it on 127.0.0.1. The other notebooks appear from their source, as ``make site``
shows a notebook with no executed copy. Screenshots of the landing page and of notebook
01's page go to ``build/browser/``. The last two tests break one alt text and one link in a
copy of the site and check that the same checks catch them.

``SEGLIB_SITE_EXECUTED=<folder>`` builds from executed notebooks already there (for
instance ``build/notebooks`` after a smoke ``make run``) instead of running any.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sitecheck
from conftest import SCREENSHOTS, VIEWPORT, _is_loopback, kernel_env

ROOT = sitecheck.ROOT
CHEAP = ("01_data_exploration.ipynb", "06_your_own_images.ipynb")
RUN_S = 900  # smoke runs of the chosen notebooks on a busy 2-core machine
BUILD_S = 300
COURSE = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _chosen() -> list[str]:
    value = os.environ.get("SEGLIB_SITE_NOTEBOOKS", "").strip()
    if value == "all":
        return COURSE
    return value.split() if value else list(CHEAP)


@pytest.fixture(scope="session")
def smoke_site(chromium, tmp_path_factory):
    """Build the site from smoke-mode runs; return its folder."""
    tmp = tmp_path_factory.mktemp("site")
    executed = tmp / "executed"
    given = os.environ.get("SEGLIB_SITE_EXECUTED", "").strip()
    if given:
        executed = Path(given).resolve()
    else:
        env = kernel_env()  # SEGLIB_SMOKE=1, synthetic data unless SEGLIB_DATA says otherwise
        names = [str(ROOT / "notebooks" / name) for name in _chosen()]
        run = subprocess.run(
            [sys.executable, "-m", "seglib.runner", "--out", str(executed), *names],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_S,
        )
        output = f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        assert run.returncode == 0, f"smoke runs failed:\n{output}"
    out = tmp / "site"
    command = [sys.executable, str(ROOT / "site" / "build_site.py"), "--executed", str(executed)]
    command += ["--out", str(out), "--work", str(tmp / "work")]
    build = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_S)
    assert build.returncode == 0, f"site build failed:\n{build.stdout}\n{build.stderr[-4000:]}"
    return out


@pytest.fixture
def site_page(browser):
    """A fresh browser context whose requests outside 127.0.0.1 are aborted (and fail)."""
    context = browser.new_context(viewport=VIEWPORT)

    def only_loopback(route):
        if _is_loopback(route.request.url):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_loopback)
    yield context.new_page()
    context.close()


def test_every_page_loads_cleanly_with_working_links_images_and_alt_text(smoke_site, site_page):
    pages = sitecheck.pages(smoke_site)
    for name in COURSE:
        assert name.replace(".ipynb", ".html") in pages
    assert {"index.html", "search.html"} <= set(pages)
    problems, checked = [], {}
    with sitecheck.serve(smoke_site) as base:
        for name in pages:
            problems += sitecheck.check_page(site_page, base, name, checked)
            footer = site_page.locator("footer.bd-footer-content").inner_text()
            for words in ("Apache License 2.0", "CC BY-SA 4.0", "Parkhi", "Cats and Dogs"):
                if words not in footer:
                    problems.append(f"{name}: footer lacks {words!r}")
            if name == "01_data_exploration.html":
                figures = site_page.locator("article .cell_output img").count()
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                site_page.screenshot(path=str(SCREENSHOTS / "site-notebook-01.png"))
    assert not problems, "\n".join(problems)
    assert figures > 0  # notebook 01 ran in smoke mode: its figures are on the page
    assert any(u.endswith(".png") and "_images/" in u for u in checked)  # images were checked


def test_landing_page_lists_every_notebook_and_how_to_run_it(smoke_site, site_page):
    with sitecheck.serve(smoke_site) as base:
        site_page.goto(f"{base}/index.html")
        main = site_page.locator("article")
        links = main.locator("table a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
        assert links == [name.replace(".ipynb", ".html") for name in COURSE]  # all, in order
        text = main.inner_text()
        rows = main.locator("table tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        site_page.screenshot(path=str(SCREENSHOTS / "site-landing.png"), full_page=True)
        # the toc in the sidebar and prev/next links come from the theme
        sidebar = site_page.locator(".bd-sidebar-primary").inner_text()
        assert all(re.search(rf"\b{name[:2]} ·", sidebar) for name in COURSE)
        assert site_page.locator(".prev-next-area a").count() >= 1
    for words in ("make run", "make test", "Colab", "What you need to know first", "For whom"):
        assert words in text
    assert [row[0][:2] for row in rows] == [name[:2] for name in COURSE]
    assert all(row[1] for row in rows)  # one line on what each notebook is about
    # smoke runs are not the real settings: no time is shown as if it were; runs at real
    # settings (SEGLIB_SITE_EXECUTED=build/notebooks after `make run`) show their wall time
    assert [row[2] for row in rows] == _expected_times(), rows


def _expected_times() -> list[str]:
    """The landing page's time column: what the run records say, as the builder words it."""
    given = os.environ.get("SEGLIB_SITE_EXECUTED", "").strip()
    if not given:  # the fixture's own smoke runs
        return ["not measured yet"] * len(COURSE)
    builder = sitecheck.load_builder()
    folder = Path(given).resolve()
    return [builder.real_time(builder.read_run_record(folder, Path(name).stem)) for name in COURSE]


def test_search_for_iou_finds_notebook_01(smoke_site, site_page):
    with sitecheck.serve(smoke_site) as base:
        found = sitecheck.search(site_page, base, "IoU")
    assert "01_data_exploration.html" in found, found


def test_widget_cells_say_they_need_jupyter_or_colab(smoke_site, site_page):
    with sitecheck.serve(smoke_site) as base:
        for name in ("06_your_own_images.html", "07_compare_models.html"):
            site_page.goto(f"{base}/{name}")
            text = site_page.locator("article").inner_text()
            assert "it works in Jupyter or Colab" in text, name
            assert "Download this notebook" in text
            badge = site_page.locator("article a[href*='colab.research.google.com'] img").first
            assert badge.get_attribute("alt") == "Open In Colab"
            download = site_page.locator("article a.download").first.get_attribute("href")
            assert sitecheck.status(f"{base}/{download}") == 200


def _doctored(smoke_site, tmp_path):
    copy = tmp_path / "site"
    shutil.copytree(smoke_site, copy)
    return copy


def test_the_checks_catch_a_figure_without_alt_text(smoke_site, site_page, tmp_path):
    copy = _doctored(smoke_site, tmp_path)
    page_file = copy / "01_data_exploration.html"
    html = page_file.read_text(encoding="utf-8")
    figure = re.compile(r'(<img alt=")[^"]+(" src="_images/[0-9a-f]{64}\.png")')
    assert figure.search(html), "no output figure found on notebook 01's page"
    page_file.write_text(figure.sub(r"\1\2", html, count=1), encoding="utf-8")
    with sitecheck.serve(copy) as base:
        problems = sitecheck.check_page(site_page, base, "01_data_exploration.html", {})
    assert len(problems) == 1 and "image without alt text" in problems[0], problems


def test_the_checks_catch_a_broken_link(smoke_site, site_page, tmp_path):
    copy = _doctored(smoke_site, tmp_path)
    index = copy / "index.html"
    html = index.read_text(encoding="utf-8")
    assert 'href="02_pretrained_unet.html"' in html
    index.write_text(
        html.replace('href="02_pretrained_unet.html"', 'href="02_renamed.html"', 1),
        encoding="utf-8",
    )
    with sitecheck.serve(copy) as base:
        problems = sitecheck.check_page(site_page, base, "index.html", {})
    assert len(problems) == 1 and "02_renamed.html -> 404" in problems[0], problems


def test_every_notebook_page_has_its_quiz_and_it_answers(smoke_site, site_page):
    """Executed or not, each notebook's page draws its quiz (jupyterquiz's script runs on a
    static page) and a click on an answer shows that answer's feedback."""
    with sitecheck.serve(smoke_site) as base:
        for name in COURSE:
            site_page.goto(f"{base}/{name.replace('.ipynb', '.html')}")
            buttons = site_page.locator("article label.MCButton")
            buttons.first.wait_for(timeout=15_000)
            assert buttons.count() >= 8, f"{name}: {buttons.count()} answer buttons"
            buttons.first.click()
            feedback = buttons.first.evaluate(
                'l => document.getElementById("fb" + l.id.split("-")[0]).innerText'
            )
            assert feedback.strip(), f"{name}: no feedback after a click"


def test_a_deep_dive_and_a_solution_are_folded_and_open_on_click(smoke_site, site_page):
    """Deep dives ("Deeper: ...") and solutions are closed <details> blocks that a click opens."""
    opened = set()
    with sitecheck.serve(smoke_site) as base:
        for name in COURSE:
            site_page.goto(f"{base}/{name.replace('.ipynb', '.html')}")
            blocks = {
                "deeper": site_page.locator("article details.deeper"),
                "solution": site_page.locator("article details", has_text="Solution"),
            }
            for kind, found in blocks.items():
                if kind in opened or found.count() == 0:
                    continue
                block = found.first
                assert block.get_attribute("open") is None, f"{name}: {kind} open on load"
                inside = block.locator(":scope > :not(summary)").first
                assert not inside.is_visible(), f"{name}: {kind} content visible while folded"
                block.locator("summary").first.click()
                assert block.get_attribute("open") is not None
                assert inside.is_visible(), f"{name}: {kind} content hidden after the click"
                opened.add(kind)
    assert opened == {"deeper", "solution"}, f"found and opened only {opened}"


def test_no_output_shows_a_path_of_this_machine(smoke_site):
    """The notebooks executed for the site print no absolute path of this machine: not the
    checkout, not the data folder, weights or example photo, not the run's own folder."""
    given = os.environ.get("SEGLIB_SITE_EXECUTED", "").strip()
    executed = Path(given).resolve() if given else smoke_site.parent / "executed"
    paths = {str(ROOT), str(executed.parent)}
    for variable in ("SEGLIB_DATA", "SEGLIB_ENCODER_WEIGHTS", "SEGLIB_EXAMPLE_IMAGE"):
        value = os.environ.get(variable, "").strip()
        if value and Path(value).is_absolute():
            paths.add(str(Path(value).parent))
    found = []
    for notebook in sorted(executed.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            text = json.dumps(cell.get("outputs", []))
            found += [f"{notebook.name}, cell {i}: {p}" for p in sorted(paths) if p in text]
    assert list(executed.glob("[0-9][0-9]_*.ipynb")), "no executed notebook to read"
    assert not found, "\n".join(found)
