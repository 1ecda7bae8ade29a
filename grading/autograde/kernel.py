"""The notebook's kernel in a sandbox, and nothing else of nbgrader there.

``make autograde`` runs ``nbgrader autograde`` in the grader's own process (its executor,
the gradebook copy with the hidden tests, the executed notebook it writes); only the
kernel, the one process that runs student code, starts in bubblewrap
(:func:`grading.autograde.sandbox.start`): the same read-only view, private scratch and limits as
the judge's runs. What crosses the boundary:

* in: the connection file (the kernel's own session key) and, over the Jupyter protocol,
  each cell's source as nbgrader sends it for execution (test cells included);
* out: the kernel's messages (outputs, replies), bounded in size (:class:`SandboxedExecute`).

The kernel's sandbox has its own network namespace, so the grader's loopback cannot be
reached: the channels are ZeroMQ ``ipc`` sockets (unix sockets) in a folder of their own,
the one folder of the machine the kernel can write. It holds the connection file and the
sockets, nothing else, and is deleted with the kernel. The kernel cannot see the notebook
file nbgrader writes, the gradebook or any process of the grader (its own PID namespace),
so what it sends is only ever a claim about its own outputs: the pipeline decides every
score from the judge, and writes the test cells' outputs itself
(:func:`grading.autograde.batch.with_verdicts`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from nbgrader.converters import Autograde
from nbgrader.converters.base import BaseConverter
from nbgrader.preprocessors import Execute
from traitlets import Any as AnyTrait

from grading.autograde import cgroups, sandbox
from grading.course import LIMITS, Limits


@dataclass
class KernelSandbox:
    """Where and under which limits one notebook's kernel runs, and what stopped it."""

    work: Path
    """The kernel's scratch (copied into its tmpfs; its working directory)."""
    limits: Limits = LIMITS
    use_sandbox: bool = True
    stopped: str = ""
    """The limit that ended the kernel (wall clock, output size), or ``""``."""

    def stop(self, process: subprocess.Popen | None, why: str) -> None:
        """Kill the kernel's process group (bwrap, and with it the sandbox) for ``why``."""
        self.stopped = self.stopped or why
        # Not yet reaped, so its id (the group's) cannot belong to another process.
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


KERNEL_SPEC = KernelSpec(
    argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
    display_name="Python 3 (sandboxed)",
    language="python",
    # An interrupt (a cell past its timeout) goes as a message on the control channel:
    # a signal to the bwrap process would not reach the kernel inside.
    interrupt_mode="message",
)


class SandboxProvisioner(LocalProvisioner):
    """Starts the kernel command in a sandbox; the kill and the signals are the base's
    (to the process group of bwrap, which takes everything inside down with it)."""

    _timer: threading.Timer | None = None
    _group: cgroups.Group | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        km: SandboxedKernelManager = self.parent
        box = km.sandbox
        self.process, self._group = sandbox.start(
            cmd,
            box.work,
            sandbox.environment(box.work),
            sockets=km.sockets,
            sandbox=box.use_sandbox,
            limits=box.limits,
        )
        self.pid = self.pgid = self.process.pid  # sandbox.start makes it a session leader
        wall = f"wall-clock limit ({box.limits.wall_seconds} s)"
        self._timer = threading.Timer(box.limits.wall_seconds, box.stop, (self.process, wall))
        self._timer.daemon = True
        self._timer.start()
        return self.connection_info

    async def cleanup(self, restart: bool = False) -> None:
        if self._timer is not None:
            self._timer.cancel()
        await super().cleanup(restart)
        if self._group is not None:
            self._group.close()
            self._group = None
        shutil.rmtree(self.parent.sockets, ignore_errors=True)


class BoundedKernelClient(AsyncKernelClient):
    """A client whose sockets drop any message over the output limit, before it is read
    into the grader's memory (ZeroMQ's ``MAXMSGSIZE``)."""

    def _create_connected_socket(self, channel: str, identity: bytes | None = None):
        socket = super()._create_connected_socket(channel, identity)
        socket.maxmsgsize = self.parent.sandbox.limits.output_bytes
        return socket


class SandboxedKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, with the kernel in a sandbox reached over ``ipc``."""

    sandbox = AnyTrait(help="the KernelSandbox of this notebook's run")

    client_class = "grading.autograde.kernel.BoundedKernelClient"

    @property
    def kernel_spec(self) -> KernelSpec:
        return KERNEL_SPEC

    async def _async_pre_start_kernel(self, **kw: Any):
        # A short path: a unix socket's path has at most 107 bytes.
        self.sockets = Path(tempfile.mkdtemp(prefix="kernel-", dir="/tmp"))
        self.transport = "ipc"
        self.ip = str(self.sockets / "channel")  # the sockets are channel-1 ... channel-5
        self.connection_file = str(self.sockets / "connection.json")
        self.kernel_id = self.kernel_id or str(uuid.uuid4())
        if self.provisioner is None:
            self.provisioner = SandboxProvisioner(
                kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
            )
        return await super()._async_pre_start_kernel(**kw)


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor with the kernel of :class:`SandboxedKernelManager`:
    at most ``limits.output_bytes`` of messages are taken from it, and no widget state
    (the feedback page would load a widget manager to render it)."""

    sandbox = AnyTrait(help="the KernelSandbox of this notebook's run").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        kwargs.setdefault("store_widget_state", False)
        super().__init__(**kwargs)

    def reset_execution_trackers(self) -> None:
        super().reset_execution_trackers()
        self._received = 0  # bytes of messages taken from this notebook's kernel

    def create_kernel_manager(self) -> SandboxedKernelManager:
        # Whatever kernel the notebook names, this one runs it (restore put the release's).
        self.km = self.kernel_manager_class(
            kernel_name="python3", config=self.config, sandbox=self.sandbox
        )
        return self.km

    def process_message(self, msg: dict, cell, cell_index: int):
        self._received += len(json.dumps(msg.get("content", {}), default=str))
        if self._received > self.sandbox.limits.output_bytes:
            process = self.km.provisioner.process if self.km and self.km.provisioner else None
            limit = f"output limit ({self.sandbox.limits.output_bytes >> 20} MiB)"
            self.sandbox.stop(process, limit)
            return None
        return super().process_message(msg, cell, cell_index)


class ThreadedAutograde(Autograde):
    """nbgrader's Autograde converter, safe in two threads of one process (two workers).

    Stock Autograde wraps the run in ``utils.setenv(NBGRADER_EXECUTION=...)``, which sets
    the variable in this process and deletes it afterwards (it looks the old value up
    under the wrong key): two threads raced on it, and a KeyError failed one notebook's
    run. Here nothing of this process's environment changes; the kernel's environment
    sets the variable (:func:`grading.autograde.sandbox.environment`).
    """

    def convert_single_notebook(self, notebook_filename: str) -> None:
        self._sanitizing = True
        self._init_preprocessors()
        BaseConverter.convert_single_notebook(self, notebook_filename)
        built = os.path.join(self.writer.build_directory, os.path.basename(notebook_filename))
        self._sanitizing = False
        self._init_preprocessors()
        try:
            BaseConverter.convert_single_notebook(self, built)
        finally:
            self._sanitizing = True
