"""What a person does in JupyterLab, as Playwright steps: open, run all, wait, look for errors."""

from __future__ import annotations

import re
import time

NOTEBOOK = ".jp-NotebookPanel"
PROMPT = re.compile(r"\[(\d+|\*| )\]:")
#: Text that means a widget or a cell failed: JupyterLab's own messages and Python's.
ERROR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
FAILURE_TEXT = ("Error displaying widget", "Loading widget", "Traceback")
#: Page errors that are known and harmless: jupyterquiz 2.9.6.4 reads ``MathJax.version[0]``
#: and calls ``MathJax.typeset`` after drawing a question and after each click, and JupyterLab
#: 4's global ``MathJax`` has neither (its MathJax lives in a module). The quiz still draws and gives its
#: feedback (tests/browser/test_quiz.py checks both); only the typesetting of formulas in
#: quiz text is skipped, and the course's quiz texts have none.
KNOWN_PAGE_ERRORS = (
    "MathJax.typeset is not a function",
    "Cannot read properties of undefined (reading '0')",
)


def open_notebook(page, lab, name: str, timeout_s: float = 90) -> None:
    """Open ``name`` in a fresh workspace and wait until its kernel is idle."""
    page.goto(lab.workspace_url(name))
    page.locator(f"{NOTEBOOK} .jp-Cell").first.wait_for(timeout=timeout_s * 1000)

    def kernel_ready():
        sessions = [s for s in lab.api("/api/sessions") if s["path"].endswith(name)]
        return sessions and sessions[0]["kernel"]["execution_state"] == "idle"

    wait_for(kernel_ready, timeout_s, f"a kernel for {name}", page)
    wait_idle(page, timeout_s)


def kernel_status(page) -> str:
    """The toolbar's execution indicator: ``idle``, ``busy``, ... (``""`` before it shows)."""
    indicator = page.locator(f"{NOTEBOOK} .jp-Notebook-ExecutionIndicator")
    if indicator.count() == 0:
        return ""
    return indicator.first.get_attribute("data-status") or ""


def wait_idle(page, timeout_s: float, settle_s: float = 1.0) -> None:
    """Wait until the kernel has been idle for ``settle_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    idle_since = None
    while time.monotonic() < deadline:
        if kernel_status(page) == "idle":
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settle_s:
                return
        else:
            idle_since = None
        page.wait_for_timeout(250)
    raise AssertionError(f"kernel not idle after {timeout_s} s (status {kernel_status(page)!r})")


def prompts(page) -> list[str]:
    """The input prompts of every code cell, e.g. ``["[1]:", "[2]:", "[*]:"]``."""
    texts = page.locator(f"{NOTEBOOK} .jp-CodeCell .jp-InputPrompt").all_inner_texts()
    return [t.strip() for t in texts]


def run_all(page, timeout_s: float) -> float:
    """Run > Run All Cells; wait for every prompt to be numbered and the kernel idle.

    Returns:
        Seconds from the click to the last cell done.
    """
    start = time.monotonic()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    deadline = start + timeout_s
    while True:
        current = prompts(page)
        if current and all(re.fullmatch(r"\[\d+\]:", p) for p in current):
            break
        failed = [t for t in stderr_outputs(page) if "Traceback" in t]
        if failed and kernel_status(page) == "idle":  # Run All stops at a failing cell
            raise AssertionError(f"a cell failed:\n{failed[0][-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"cells still not run after {timeout_s} s: {current}")
        page.wait_for_timeout(500)
    wait_idle(page, max(10.0, deadline - time.monotonic()))
    return time.monotonic() - start


def stderr_outputs(page, within: str = NOTEBOOK) -> list[str]:
    """Text of every stderr stream and error output under ``within``."""
    return page.locator(f"{within} {ERROR_OUTPUT}").all_inner_texts()


def notebook_text(page) -> str:
    return page.locator(NOTEBOOK).inner_text()


def assert_clean(page) -> None:
    """No widget or cell failure text in the notebook, and no JavaScript errors on the page."""
    text = notebook_text(page)
    found = [t for t in FAILURE_TEXT if t in text]
    assert not found, f"the notebook shows {found}:\n" + _around(text, found[0])
    errors = [e for e in page.errors if e not in KNOWN_PAGE_ERRORS]
    assert not errors, f"page errors: {errors}"


def _around(text: str, needle: str, width: int = 1500) -> str:
    i = text.find(needle)
    return text[max(0, i - width // 3) : i + width]


def cell_with(page, selector: str):
    """The notebook cell that contains ``selector`` (exactly one)."""
    cell = page.locator(f"{NOTEBOOK} .jp-Cell", has=page.locator(selector))
    assert cell.count() == 1, f"{cell.count()} cells contain {selector}"
    return cell


def image_sources(locator) -> list[str]:
    """``src`` of every ``img`` under ``locator`` (``data:`` URLs carry the PNG itself)."""
    return [img.get_attribute("src") or "" for img in locator.locator("img").all()]


def wait_for(condition, timeout_s: float, what: str, page=None):
    """Poll ``condition()`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        if page is not None:
            page.wait_for_timeout(250)
        else:
            time.sleep(0.25)
