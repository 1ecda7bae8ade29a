"""A JupyterLab started by a make target, as a user starts it: its URL once it serves."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Lab:
    url: str  # http://127.0.0.1:<port>/lab?token=…
    output: str  # what the command printed until it served

    def page(self, path: str) -> str:
        """The server's ``path`` (``/formgrader``), authenticated with the printed token
        (a header, which survives redirects); retried while the server starts listening."""
        base, token = re.match(r"(http://[^/]+)/lab\?token=(\w+)", self.url).groups()
        request = urllib.request.Request(
            f"{base}{path}", headers={"Authorization": f"token {token}"}
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.read().decode()
            except urllib.error.URLError as error:
                if "refused" not in str(error.reason) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lab_from(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[Lab]:
    """Run ``command`` (``make lab``) until JupyterLab prints its URL; stop it after."""
    port = _free_port()
    # JUPYTER_PORT: the port jupyter_server takes from the environment; BROWSER: none opened.
    env = {**env, "JUPYTER_PORT": str(port), "BROWSER": "true"}
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the whole group (make, jupyter) is stopped below
    )
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 120
        url = None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=\w+", line)
            url = found and found[0]
        assert url, "JupyterLab did not start:\n" + "".join(seen)
        yield Lab(url, "".join(seen))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
