"""The notebooks' widgets work in a real browser: JupyterLab + headless Chromium.

nbval (tests/test_notebooks.py) checks that every cell runs, but never renders a widget:
a broken front end (a missing lab extension, a viewer whose slider does not reach the
kernel) would pass it. Here JupyterLab serves a temporary copy of the notebook up to the
cell that shows its viewer (:func:`up_to_the_viewer`), Debian's chromium (driven by
Playwright, which never downloads a browser of its own) runs all its cells from the Run
menu, then the test moves the viewer's slider with the keyboard and checks that the image
and the label follow.

The screenshots (the figure and the widget, before and after) go to the test's tmp
folder, and also to ``--screenshots DIR`` or ``$COURSEKIT_SCREENSHOTS`` when given
(``docs/screenshots/`` holds those of a real run).

Chromium comes from apt (``make chromium``; ``.ci/run`` installs it): without
``/usr/bin/chromium`` the test skips, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from grading.course import released_notebook
from grading.demo import smoke_env
from grading.nbgrader_commands import kernel_env
from tests.hostile_outputs import hostile_notebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
CHROMIUM = Path(os.environ.get("COURSEKIT_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags chromium's own connections (updates, sync,
# QUIC probes) are refused by a closed network and slow everything down.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JupyterLab settings for a fresh profile: no news / update prompt, and every cell
# attached to the DOM (the default windowing detaches the cells out of view).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": (
        '{"fetchNews": "false", "checkForUpdates": false}'
    ),
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
}
SERVER_START_S = 90
# The smoke notebook trains and samples for 2-4 minutes on 2 shared CPU cores.
RUN_ALL_S = 420
KERNEL_ROUND_TRIP_S = 30
SCREENSHOT_MAX_BYTES = 300_000

pytestmark = pytest.mark.slow


def _missing(message: str):
    """Skip locally; in CI (CI=true, set by .ci/run) a missing browser is a failure."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + " (CI installs both: .ci/run, make setup)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        _missing(
            f"{CHROMIUM} is missing: install it with `make chromium` (apt-get install chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is missing: run `make setup`")
    return CHROMIUM


@pytest.fixture
def screenshot_dirs(request, tmp_path) -> list[Path]:
    """tmp always; also --screenshots DIR or $COURSEKIT_SCREENSHOTS (e.g. docs/screenshots)."""
    dirs = [tmp_path / "screenshots"]
    extra = request.config.getoption("--screenshots", None) or os.environ.get(
        "COURSEKIT_SCREENSHOTS"
    )
    if extra:
        dirs.append(Path(extra))
    return dirs


# ---------------------------------------------------------------- JupyterLab server


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path

    def log_tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def notebook_env(results: Path) -> dict[str, str]:
    """The kernel's environment (smoke mode, as under nbval), with inline figures."""
    # kernel_env's MPLBACKEND=Agg would make plt.show() show nothing in the page.
    return smoke_env(results, MPLBACKEND="module://matplotlib_inline.backend_inline")


def _term_with_parent() -> None:
    """Linux: SIGTERM the server (which stops its kernels) if pytest dies without cleanup."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextmanager
def jupyter_lab(root: Path, home: Path, env: dict[str, str]) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 serving ``root``, with a fresh profile under ``home``."""
    env = dict(env)
    for name, folder in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[name] = str(home / folder)
        (home / folder).mkdir(parents=True, exist_ok=True)
    for name, text in LAB_SETTINGS.items():
        path = home / "lab-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    port, token = _free_port(), secrets.token_hex(16)
    log = home / "jupyter-lab.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        # CI runs as root.
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    with open(log, "wb") as out:
        server = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_term_with_parent,
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, root, log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with {server.returncode}:\n{lab.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{lab.url}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"jupyter lab did not answer in {SERVER_START_S} s:\n{lab.log_tail()}"
                    ) from None
                time.sleep(0.5)
        yield lab
    finally:
        # SIGTERM lets the server shut its kernels down; then the whole group goes.
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)


# ---------------------------------------------------------------- browser


@contextmanager
def chromium_page(profile: Path):
    """A Playwright page in headless Debian chromium with a fresh profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            # Tall enough for a figure and the viewer's image in one screenshot; narrow,
            # since the viewer's image fills the width (smaller screenshots).
            viewport={"width": 900, "height": 1600},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def dismiss_popups(page) -> None:
    """Close JupyterLab's first-run prompts: news / update toasts, kernel selection."""
    # A kernel selection dialog: keep the proposed kernel (the notebook's python3).
    for dialog in page.locator(".jp-Dialog").all():
        if dialog.is_visible():
            accept = dialog.locator("button.jp-mod-accept")
            if accept.count():
                accept.first.click()
    # Toasts ("Would you like to get notified about official Jupyter news?").
    for toast in page.locator(".Toastify__toast").all():
        if not toast.is_visible():
            continue
        no = toast.get_by_role("button", name=re.compile(r"^(No|Dismiss)$", re.I))
        if no.count():
            no.first.click()
        elif toast.locator(".Toastify__close-button").count():
            toast.locator(".Toastify__close-button").first.click()


def _poll(page, what: str, timeout_s: float, check, lab: Lab | None = None):
    """Call ``check()`` (dismissing popups in between) until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        dismiss_popups(page)
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            tail = f"\njupyter lab log:\n{lab.log_tail()}" if lab else ""
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{tail}")
        page.wait_for_timeout(1000)


PROMPTS_JS = """() => Array.from(
    document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt'),
    p => p.textContent.trim())"""


def menu(page, name: str, item: str) -> None:
    """Click ``item`` in JupyterLab's menu ``name``, as a user would."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(name)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def run_notebook_in_browser(page, lab: Lab, notebook: str, widget_selector: str):
    """Open ``notebook`` (relative to the lab's root), run all cells, return the widget.

    Waits until every code cell has run (no ``[*]`` left), checks that none failed,
    and returns the Locator of the first element matching ``widget_selector``, rendered.
    """
    page.goto(f"{lab.url}/lab/tree/{notebook}?token={lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
    # Fold the file browser away: the notebook gets the width of the window.
    left_tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if left_tab.count():
        left_tab.first.click()
    _poll(
        page,
        "the kernel to start",
        120,
        lambda: page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count(),
        lab,
    )
    # Stored outputs would read as cells that already ran.
    menu(page, "Edit", "Clear Outputs of All Cells")
    _poll(
        page,
        "the stored outputs to clear",
        10,
        lambda: all(p in ("[ ]:", "") for p in page.evaluate(PROMPTS_JS)),
    )
    menu(page, "Run", "Run All Cells")
    start = time.monotonic()

    def finished():
        prompts = page.evaluate(PROMPTS_JS)
        started = any(re.fullmatch(r"\[(\*|\d+)\]:", p) for p in prompts)
        return started and not any("*" in p for p in prompts) and prompts

    prompts = _poll(page, f"all cells of {notebook} to run", RUN_ALL_S, finished, lab)
    print(f"{notebook}: all cells ran in {time.monotonic() - start:.0f} s")
    errors = page.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
        has_text="Traceback",
    )
    assert not errors.count(), f"a cell of {notebook} failed:\n{errors.first.inner_text()[-3000:]}"
    not_run = [i for i, p in enumerate(prompts) if not re.fullmatch(r"\[\d+\]:", p)]
    assert not not_run, f"code cells {not_run} of {notebook} did not run: {prompts}"

    widget = page.locator(widget_selector).first
    widget.wait_for(state="visible", timeout=60_000)
    return widget


# ---------------------------------------------------------------- checks


IMAGE_JS = """async (img) => {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    return [img.src, Array.from(new Uint8Array(digest),
                                b => b.toString(16).padStart(2, '0')).join('')];
}"""


def displayed_image(widget) -> tuple[str, str]:
    """The widget's ``<img>``: its src and the SHA-256 of the bytes it points to."""
    img = widget.locator("img").first
    img.wait_for(state="visible", timeout=30_000)
    return tuple(img.evaluate(IMAGE_JS))


def slider_value(widget) -> int:
    return int(widget.locator(".widget-slider .widget-readout").first.inner_text().strip())


def slider_max(widget) -> int:
    return int(
        float(widget.locator(".widget-slider .noUi-handle").first.get_attribute("aria-valuemax"))
    )


def press_on_slider(widget, key: str, times: int = 1) -> None:
    """Press ``key`` on the slider's handle, as a keyboard user would."""
    handle = widget.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(times):
        handle.press(key)


DECODE_IMAGES_JS = """el => Promise.all(
    Array.from(el.querySelectorAll('img'), img => img.decode().catch(() => null)))"""


def save_screenshot(element, name: str, dirs: list[Path]) -> list[Path]:
    """PNG of ``element`` in every folder, palette-reduced (then scaled) to SCREENSHOT_MAX_BYTES."""
    from PIL import Image

    element.scroll_into_view_if_needed()
    element.evaluate(DECODE_IMAGES_JS)
    png = element.screenshot(animations="disabled")
    image, scale = Image.open(io.BytesIO(png)).convert("RGB"), 1.0
    while len(png) > SCREENSHOT_MAX_BYTES and scale > 0.3:
        size = (round(image.width * scale), round(image.height * scale))
        buffer = io.BytesIO()
        reduced = image.resize(size, Image.Resampling.LANCZOS) if scale < 1 else image
        reduced.quantize(256, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG", optimize=True)
        png, scale = buffer.getvalue(), scale * 0.85
    paths = []
    for folder in dirs:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(png)
        paths.append(folder / name)
    return paths


def move_slider_and_check(page, widget, key: str, times: int, label: str | None) -> int:
    """Move the slider with the keyboard; the image (and label) must follow the new value."""
    before_value, before_image = slider_value(widget), displayed_image(widget)
    press_on_slider(widget, key, times)
    _poll(page, f"the slider to move ({key})", 10, lambda: slider_value(widget) != before_value)
    value = slider_value(widget)
    # The kernel answers the new value with a new PNG: a new blob URL, other bytes.
    _poll(
        page,
        f"the image to follow the slider to {value}",
        KERNEL_ROUND_TRIP_S,
        lambda: displayed_image(widget)[1] != before_image[1],
    )
    assert displayed_image(widget)[0] != before_image[0], "the img src did not change"
    if label:

        def label_step():
            found = re.search(label, widget.inner_text())
            return found and int(found.group(1)) == value

        _poll(page, f"the label to show {value}", KERNEL_ROUND_TRIP_S, label_step)
    return value


def check_slider_changes_image(page, widget, label: str | None, shots: list[Path], prefix: str):
    """One step right, then to the end: the image and label follow both times.

    Screenshots of the cell's outputs (figure and widget) at the start and at the end.
    """
    area = page.locator(".jp-Cell").filter(has=widget).locator(".jp-Cell-outputWrapper").first
    start, last = slider_value(widget), slider_max(widget)
    assert start < last, f"the slider cannot move: value {start}, max {last}"
    if label:
        text = widget.inner_text()
        found = re.search(label, text)
        assert found and int(found.group(1)) == start, f"no label {label!r} for {start} in {text!r}"
    save_screenshot(area, f"{prefix}_before.png", shots)

    values = [start, move_slider_and_check(page, widget, "ArrowRight", 1, label)]
    assert values[-1] == start + 1, f"ArrowRight moved the slider from {start} to {values[-1]}"
    if values[-1] < last:
        values.append(move_slider_and_check(page, widget, "ArrowRight", last - values[-1], label))
        assert values[-1] == last, f"the slider stopped at {values[-1]}, not at its max {last}"
    save_screenshot(area, f"{prefix}_after.png", shots)
    return values


# ---------------------------------------------------------------- tests


def _notebook(name: str, viewer: str, widget_selector: str, label: str | None, id: str):
    missing = not (NOTEBOOKS / name).is_file()
    return pytest.param(
        name,
        viewer,
        widget_selector,
        label,
        id=id,
        marks=pytest.mark.skipif(missing, reason=f"notebooks/{name} does not exist yet"),
    )


# (notebook, the call that makes its viewer, CSS selector of the viewer, regex of its label
# with the step as group 1)
NOTEBOOK_WIDGETS = [
    _notebook(
        "part1_anime_faces.ipynb",
        "DenoisingViewer(",
        # DenoisingViewer: a VBox holding the slider "step", a label and the image.
        '.widget-vbox:has(.widget-hslider:has(.widget-label:text-is("step"))):has(.widget-image)',
        r"step (\d+) / \d+",
        id="part1",
    ),
    _notebook(
        "part2_illusions.ipynb",
        "AnimationViewer(",
        # AnimationViewer: a VBox holding the slider "frame", a label and the image.
        '.widget-vbox:has(.widget-hslider:has(.widget-label:text-is("frame"))):has(.widget-image)',
        r"frame (\d+) / \d+",
        id="part2",
    ),
]


def up_to_the_viewer(source: Path, viewer: str, out: Path) -> None:
    """``source`` without the cells after the one that shows its viewer.

    The cells after it (Part 1's samples and scores, Part 2's CLIP scores and hybrid) draw
    no widget, and every cell runs under nbval (tests/test_notebooks.py): here they would
    only cost CPU (about 25 s for Part 1 on a quiet machine, twice that under ``make test``).
    """
    nb = json.loads(source.read_text())
    shows = [
        k
        for k, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and viewer in "".join(c["source"])
    ]
    assert shows, f"no cell of {source.name} calls {viewer}"
    nb["cells"] = nb["cells"][: shows[0] + 1]
    out.write_text(json.dumps(nb, indent=1))


@pytest.mark.parametrize(("notebook", "viewer", "widget_selector", "label"), NOTEBOOK_WIDGETS)
def test_notebook_slider_changes_the_image_in_chromium(
    notebook, viewer, widget_selector, label, chromium, screenshot_dirs, tmp_path
):
    root = tmp_path / "lab"
    root.mkdir()
    up_to_the_viewer(NOTEBOOKS / notebook, viewer, root / notebook)
    env = notebook_env(tmp_path / "results")

    with (
        jupyter_lab(root, tmp_path / "home", env) as lab,
        chromium_page(tmp_path / "chromium") as page,
    ):
        try:
            widget = run_notebook_in_browser(page, lab, notebook, widget_selector)
            values = check_slider_changes_image(
                page, widget, label, screenshot_dirs, Path(notebook).stem
            )
        except BaseException:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"failure screenshot: {tmp_path / 'failure.png'}")
            raise
    print(f"slider values {values}; screenshots in {', '.join(map(str, screenshot_dirs))}")


# ---------------------------------------------------------------- hostile outputs

PROBE_JS = """() => ({
    title: document.title,
    ran: Object.keys(window).filter(k => k.startsWith('pwned')),
    handlers: Array.from(document.querySelectorAll('*')).flatMap(e => Array.from(e.attributes)
        .filter(a => /pwned/.test(a.value))
        .map(a => `${e.tagName} ${a.name}=${a.value}`)),
})"""


def script_ran(page, url: str) -> dict:
    """Load ``url`` and report what a student's script would have left behind."""
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(1500)  # late handlers (image loads, errors) included
    return page.evaluate(PROBE_JS)


def test_hostile_outputs_run_no_script_in_feedback_or_formgrader(chromium, released_kit, tmp_path):
    """The allow-list of grading/autograde/sanitize.py, in the pages an instructor and a student open.

    Unsanitised, the same notebook runs script in nbconvert's page (the control: the
    attacks are live); sanitised and stored as ``make autograde`` stores it, neither
    nbgrader's feedback page nor the live formgrader page runs any.
    """
    from nbconvert import HTMLExporter
    from nbformat import from_dict

    from grading import notebook_format as nbcells
    from grading.autograde import batch as pipeline
    from grading.autograde.sanitize import sanitize
    from grading.course import LIMITS
    from tests.conftest import copy_kit

    kit = copy_kit(released_kit, tmp_path / "kit")
    course = kit / "grading" / "course"
    release = nbcells.read_notebook(released_notebook("part1", course))
    hostile = hostile_notebook(release)
    raw = tmp_path / "unsanitised.html"
    raw.write_text(HTMLExporter(template_name="classic").from_notebook_node(from_dict(hostile))[0])

    tests = nbcells.test_cells(release)
    graded = pipeline.Graded(
        "hostile", "part1", dict.fromkeys(tests, 0.0), tests, {}, [],
        sanitize(hostile, release, LIMITS.cell_output_bytes), None, 0.0,
    )  # fmt: skip
    result = pipeline.record(course, graded)
    pipeline.write_feedback(course, {(graded.student, graded.assignment): result})
    assert result.feedback and result.feedback.is_file(), result.notes

    with (
        jupyter_lab(kit / "grading", tmp_path / "home", kernel_env()) as lab,
        chromium_page(tmp_path / "chromium") as page,
    ):
        control = script_ran(page, raw.as_uri())
        assert "pwned_height" in control["ran"], f"the attack is not live unsanitised: {control}"
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            submission = gb.find_submission_notebook("part1_anime_faces", "part1", "hostile").id
        pages = {
            "feedback": result.feedback.as_uri(),
            "formgrader": f"{lab.url}/formgrader/submissions/{submission}/?token={lab.token}",
        }
        for name, url in pages.items():
            seen = script_ran(page, url)
            assert "schedule_init" in page.locator("body").inner_text(), f"{name}: not the notebook"
            assert not seen["ran"] and not seen["handlers"], f"{name}: {seen}"
            assert "pwned" not in seen["title"], f"{name}: {seen}"
