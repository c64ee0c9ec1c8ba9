"""Notebooks 06 and 07 in JupyterLab, used as a person uses them: run all, upload, pick, slide.

Each test opens its notebook in a fresh workspace, runs every cell through the Run menu in
smoke mode, then works the widgets and checks what appears. Screenshots of every step go to
``build/browser/`` (see ``conftest.py`` for the server and the browser).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import labpage
import numpy as np
import pytest
from conftest import screenshot
from PIL import Image, ImageDraw, ImageFilter

RUN_ALL_S = 300  # Run All on a busy 2-core machine, models trained by `make nbval` present
WIDGET_S = 90  # one widget round trip: segment two photos, or redraw one figure

FITS_TEXT = """el => {
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.font = getComputedStyle(el).font;
    const texts = el.tagName === "SELECT" ? [...el.options].map(o => o.text) : [el.innerText];
    const widest = Math.max(...texts.map(t => ctx.measureText(t).width));
    const room = el.clientWidth - (el.tagName === "SELECT" ? 24 : 0);  // the arrow
    return {widest, room, fits: widest <= room && el.scrollWidth <= el.clientWidth};
}"""


def _drawn_photo(path: Path, seed: int) -> Path:
    """A photo-like JPEG: a textured background and a blurred, furry 'pet' in the middle."""
    rng = np.random.default_rng(seed)
    height, width = 360, 480
    noise = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    background = (np.array([90, 140, 90]) + noise).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    dx, dy = rng.integers(-80, 80), rng.integers(-30, 30)  # each seed its own pose and coat
    coat = tuple(int(c) for c in rng.integers(60, 220, 3))
    draw.ellipse((140 + dx, 90 + dy, 340 + dx, 300 + dy), fill=coat)
    draw.ellipse((170 + dx, 40 + dy, 310 + dx, 160 + dy), fill=coat)
    image.filter(ImageFilter.GaussianBlur(2)).save(path, quality=92)
    return path


def _example_photo(tmp: Path) -> Path:
    """SEGLIB_EXAMPLE_IMAGE, or a photo generated here when it is unset."""
    value = os.environ.get("SEGLIB_EXAMPLE_IMAGE", "").strip()
    if value:
        return Path(value).expanduser().resolve()
    return _drawn_photo(tmp / "example_photo.jpg", seed=1)


def _second_photo(tmp: Path) -> Path:
    """The first test-split photo of the SEGLIB_DATA folder, or a generated one."""
    source = Path(os.environ.get("SEGLIB_DATA", "").strip() or "synthetic")
    listing = source / "annotations" / "test.txt"
    if listing.is_file():
        for line in listing.read_text().splitlines():
            if line and not line.startswith("#"):
                candidate = source / "images" / f"{line.split()[0]}.jpg"
                if candidate.is_file():
                    # copied under a plain name: the saved files are named after it
                    content = candidate.read_bytes()
                    (tmp / "second_photo.jpg").write_bytes(content)
                    return tmp / "second_photo.jpg"
    return _drawn_photo(tmp / "second_photo.jpg", seed=2)


def _files(folder: Path) -> dict[Path, str]:
    """Every file under ``folder`` with the SHA-256 of its content."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def _saved_sets(text: str) -> list[list[str]]:
    """The file names of each ``saved a_mask.png, a_overlay.png, a_cutout.png`` line."""
    return [line.split(", ") for line in re.findall(r"^saved (.+)$", text, flags=re.M)]


def _upload(page, files: list[Path]) -> None:
    """Choose files in the FileUpload (its <input type=file> is not in the page)."""
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files([str(f) for f in files])


def _no_stderr_in_widgets(page) -> None:
    """No warning or log line (stderr) inside any widget's output."""
    found = labpage.stderr_outputs(page, f"{labpage.NOTEBOOK} .widget-output")
    assert not found, f"stderr in widget output: {found}"


def test_06_upload_segments_each_photo_at_once(page, lab, tmp_path):
    example, second = _example_photo(tmp_path), _second_photo(tmp_path)
    truncated = tmp_path / "truncated.jpg"
    whole = example.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])

    labpage.open_notebook(page, lab, "06_your_own_images.ipynb")
    seconds = labpage.run_all(page, RUN_ALL_S)
    print(f"06: Run All took {seconds:.0f} s")
    labpage.assert_clean(page)
    cell = labpage.cell_with(page, ".widget-upload")
    output = cell.locator(".widget-output")
    button = cell.locator(".widget-upload")
    cell.scroll_into_view_if_needed()
    screenshot(page, "06-1-run-all")
    assert output.locator("img").count() == 0, "the upload's output is not empty before an upload"

    before = _files(lab.root / "outputs")
    _upload(page, [example, second])
    labpage.wait_for(
        lambda: len(_saved_sets(output.inner_text())) >= 2, WIDGET_S, "two photos saved", page
    )
    labpage.wait_idle(page, WIDGET_S)
    _scroll_to_top(button)
    screenshot(page, "06-2-uploaded-two-photos")

    label = button.evaluate(FITS_TEXT)
    assert "(2)" in button.inner_text() and label["fits"], f"upload count hidden: {label}"
    figures = output.locator("img")
    # The text can arrive before the browser has rendered the figure above it (a busy
    # machine): wait for the figures, then check there are exactly as many.
    labpage.wait_for(lambda: figures.count() >= 2, WIDGET_S, "two figures", page)
    assert figures.count() == 2, "one photo | overlay | cut-out figure per photo"
    for k in range(2):
        assert figures.nth(k).evaluate("img => img.complete && img.naturalWidth > 300")
    sets = _saved_sets(output.inner_text())
    for names, photo in zip(sets, (example, second), strict=True):
        _check_saved_set(lab.root / "outputs", names, photo, before)
    after_first = _files(lab.root / "outputs")
    for path, digest in before.items():
        assert after_first.get(path) == digest, f"{path} was overwritten or removed"

    _upload(page, [truncated, example])  # a broken file first: the next one must still work
    labpage.wait_for(
        lambda: len(_saved_sets(output.inner_text())) >= 3, WIDGET_S, "the third photo", page
    )
    labpage.wait_idle(page, WIDGET_S)
    text = output.inner_text()
    assert re.search(r"ImageError: truncated\.jpg: .*truncated", text), text
    labpage.wait_for(lambda: output.locator("img").count() >= 3, WIDGET_S, "a third figure", page)
    assert output.locator("img").count() == 3
    again = _saved_sets(text)[2]
    _check_saved_set(lab.root / "outputs", again, example, after_first)
    assert again != sets[0], "the second upload of a photo must not reuse the first one's names"
    for path, digest in after_first.items():
        assert _files(lab.root / "outputs").get(path) == digest, f"{path} was overwritten"
    output.scroll_into_view_if_needed()
    screenshot(page, "06-3-truncated-then-photo")

    _no_stderr_in_widgets(page)
    labpage.assert_clean(page)


def _check_saved_set(outputs: Path, names: list[str], photo: Path, before: dict) -> None:
    """Mask, overlay and cut-out of ``photo``: new files, numbered after earlier sets."""
    assert [n.rsplit("_", 1)[1] for n in names] == ["mask.png", "overlay.png", "cutout.png"]
    stem = names[0].removesuffix("_mask.png")
    assert re.fullmatch(re.escape(re.sub(r"[^A-Za-z0-9._-]+", "_", photo.stem)) + r"(-\d+)?", stem)
    with Image.open(photo) as im:
        size = im.size
    earlier = sum(
        1
        for p in before
        if re.fullmatch(re.escape(photo.stem) + r"(-\d+)?_mask\.png", p.name)
        and p.parent.name != "batch"
    )
    expected = photo.stem if earlier == 0 else f"{photo.stem}-{earlier + 1}"
    assert stem == expected, f"expected the set {expected} after {earlier} earlier set(s)"
    for name, mode in zip(names, ("P", "RGB", "RGBA"), strict=True):
        found = [p for p in outputs.rglob(name) if p.parent.name != "batch"]
        assert len(found) == 1, f"{name}: {len(found)} files"
        assert found[0] not in before, f"{name} existed before this upload"
        with Image.open(io.BytesIO(found[0].read_bytes())) as im:
            assert im.mode == mode and im.size == size, (name, im.mode, im.size, size)


def _scroll_to_top(locator) -> None:
    locator.evaluate("el => el.scrollIntoView({block: 'start'})")


def _image_src(cell) -> str:
    images = cell.locator(".widget-interact .widget-output img")
    return images.first.get_attribute("src") if images.count() == 1 else ""


def test_07_dropdown_and_slider_redraw_the_figure(page, lab):
    labpage.open_notebook(page, lab, "07_compare_models.ipynb")
    seconds = labpage.run_all(page, RUN_ALL_S)
    print(f"07: Run All took {seconds:.0f} s")
    labpage.assert_clean(page)
    text = labpage.notebook_text(page)
    assert "retracing" not in text
    test_photos = int(re.search(r"'test': (\d+)", text).group(1))  # the split scored in cell 4

    table = page.locator(f"{labpage.NOTEBOOK} .jp-OutputArea-output table", has_text="s/epoch")
    _scroll_to_top(table)
    screenshot(page, "07-0-comparison-table")
    fit = table.evaluate(
        "t => ({table: t.scrollWidth, room: t.closest('.jp-OutputArea-output').clientWidth})"
    )
    assert fit["table"] <= fit["room"], f"the comparison table is wider than the page: {fit}"

    cell = labpage.cell_with(page, ".widget-interact")
    dropdown = cell.locator(".widget-dropdown select")
    handle = cell.locator(".widget-slider .noUi-handle")
    cell.scroll_into_view_if_needed()
    first = labpage.wait_for(lambda: _image_src(cell), WIDGET_S, "the first figure", page)
    screenshot(page, "07-1-run-all")

    names = dropdown.evaluate(FITS_TEXT)
    assert names["fits"], f"model names cut off in the dropdown: {names}"
    assert handle.get_attribute("aria-valuemax").split(".")[0] == str(test_photos - 1)
    assert first.startswith("data:image/png")

    options = dropdown.locator("option").all_inner_texts()
    assert len(options) >= 3
    dropdown.select_option(label=options[1])
    second = labpage.wait_for(
        lambda: (src := _image_src(cell)) and src != first and src, WIDGET_S, "a new figure", page
    )
    labpage.wait_idle(page, WIDGET_S)
    cell.scroll_into_view_if_needed()
    screenshot(page, "07-2-model-changed")

    handle.focus()
    page.keyboard.press("End")  # the last photo of the test split
    labpage.wait_for(
        lambda: (src := _image_src(cell)) and src not in (first, second), WIDGET_S, "photo", page
    )
    labpage.wait_idle(page, WIDGET_S)
    assert handle.get_attribute("aria-valuenow").split(".")[0] == str(test_photos - 1)
    cell.scroll_into_view_if_needed()
    screenshot(page, "07-3-last-test-photo")

    _no_stderr_in_widgets(page)
    labpage.assert_clean(page)


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request, page):
    """Whatever happens, the page as it was at the end of the test."""
    yield
    screenshot(page, f"{request.node.name}-end")
