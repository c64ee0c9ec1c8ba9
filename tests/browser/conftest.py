"""JupyterLab in a real browser: the fixtures behind the browser tests of notebooks 06 and 07.

A JupyterLab server from this virtual environment serves copies of the notebooks from a
temporary folder, on ``127.0.0.1`` only, on a free port, with a random token and its own
settings, workspaces and runtime folders (news and update checks off, ``windowingMode``
``"none"`` so every cell stays in the page). Debian's Chromium, driven by Playwright, opens
each notebook in a fresh workspace; every request that is not to the loopback address is
aborted, so no test can depend on the network. The kernels run in smoke mode
(``SEGLIB_SMOKE=1``) with ``SEGLIB_DATA``, ``SEGLIB_ENCODER_WEIGHTS`` and
``SEGLIB_EXAMPLE_IMAGE`` passed through when set (``SEGLIB_DATA`` defaults to ``synthetic``).

Without ``chromium`` on PATH the tests skip with one line saying how to install it; when
``CI`` is set (and not ``0``/``false``/empty) that is a failure instead.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = ROOT / "build" / "browser"
INSTALL_HINT = (
    "chromium not found on PATH: install it with `apt-get install chromium` "
    "(Debian/Ubuntu) to run the browser tests"
)
CHROMIUM_ARGS = [
    "--no-sandbox",  # Chromium refuses to start its sandbox as root (containers, CI)
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: JupyterLab's own look at a common laptop size: the file browser open, default zoom.
VIEWPORT = {"width": 1366, "height": 900}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
SERVER_START_S = 90
PASSED_THROUGH = ("SEGLIB_DATA", "SEGLIB_ENCODER_WEIGHTS", "SEGLIB_EXAMPLE_IMAGE")


def in_ci() -> bool:
    """True when ``CI`` is set to anything but empty, ``0`` or ``false``."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's ``chromium``; skip (fail in CI) when it is missing."""
    path = shutil.which("chromium")
    if path is None:
        if in_ci():
            pytest.fail(INSTALL_HINT + " (CI is set, so a missing browser is a failure)")
        pytest.skip(INSTALL_HINT)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=1))


def kernel_env() -> dict:
    """The server's (and so the kernels') environment: smoke mode, data and photo passed on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER_"))}
    env["SEGLIB_SMOKE"] = "1"
    for name in PASSED_THROUGH:
        value = os.environ.get(name, "").strip()
        if not value:
            env.pop(name, None)
        elif value in ("tfds", "oxford", "synthetic"):
            env[name] = value
        else:  # the kernels run in another folder: relative paths must not change meaning
            env[name] = str(Path(value).expanduser().resolve())
    env.setdefault("SEGLIB_DATA", "synthetic")  # offline by default, as `make test`
    return env


@dataclass
class Lab:
    """A running JupyterLab server: where it listens and the folder it serves."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path
    blocked: list = field(default_factory=list)

    def api(self, path: str, method: str = "GET") -> dict:
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def workspace_url(self, notebook: str) -> str:
        """The notebook in a new, uniquely named workspace (no earlier tabs reopened)."""
        workspace = f"test-{uuid.uuid4().hex[:12]}"
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"


def _serve_folder(tmp: Path) -> Path:
    """Copies of the notebooks under test, beside the repository's trained models (if any)."""
    root = tmp / "notebooks"
    root.mkdir()
    for name in ("06_your_own_images.ipynb", "07_compare_models.ipynb"):
        shutil.copy2(NOTEBOOKS / name, root / name)
    if (NOTEBOOKS / "models").is_dir():  # reuse what `make nbval` trained (models/smoke)
        (root / "models").symlink_to(NOTEBOOKS / "models", target_is_directory=True)
    return root


def _stop(process: subprocess.Popen) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def lab(chromium, tmp_path_factory) -> Lab:
    """Start JupyterLab on 127.0.0.1, wait for ``/api/status``, stop it at the end."""
    tmp = tmp_path_factory.mktemp("lab")
    root = _serve_folder(tmp)
    settings, workspaces, runtime, config = (
        tmp / "settings",
        tmp / "workspaces",
        tmp / "runtime",
        tmp / "config",
    )
    for folder in (workspaces, runtime, config):
        folder.mkdir()
    _write_json(
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
        {"checkForUpdates": False, "fetchNews": "false"},
    )
    _write_json(
        settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
        {"windowingMode": "none"},
    )
    # Server side too: no announcements feed, no update check.
    _write_json(
        config / "jupyter_server_config.json",
        {
            "LabApp": {
                "news_url": None,
                "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                "extension_manager": "readonly",  # no PyPI queries for the extension list
            },
            "ServerApp": {
                "jpserver_extensions": {"jupyter_lsp": False, "jupyter_server_terminals": False}
            },
        },
    )
    port, token = _free_port(), secrets.token_hex(24)
    env = kernel_env()
    env.update(JUPYTER_RUNTIME_DIR=str(runtime), JUPYTER_CONFIG_DIR=str(config))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log = SCREENSHOTS / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.terminals_enabled=False",
        *(["--allow-root"] if os.geteuid() == 0 else []),
        f"--LabServerApp.user_settings_dir={settings}",
        f"--LabServerApp.workspaces_dir={workspaces}",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    server = Lab(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}; see {log}")
            try:
                server.api("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer /api/status in {SERVER_START_S} s")
                time.sleep(0.5)
        yield server
    finally:
        try:  # kernels run in sessions of their own: ask the server to shut them down first
            server.api("/api/shutdown", method="POST")
            process.wait(timeout=20)
        except (urllib.error.URLError, ConnectionError, TimeoutError, subprocess.TimeoutExpired):
            pass
        _stop(process)


def _is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOOPBACK


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, lab):
    """A fresh browser context whose requests outside 127.0.0.1 are aborted."""
    context = browser.new_context(viewport=VIEWPORT)

    def only_loopback(route):
        if _is_loopback(route.request.url):
            route.continue_()
        else:
            lab.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a screenshot of the visible page as ``build/browser/<name>.png``."""
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
