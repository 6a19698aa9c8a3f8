"""A JupyterLab server for the browser tests and benchmarks, and a second client on a notebook's kernel.

    with jupyter_lab() as server:          # {"url", "runtime", "root"}
        write_notebook(server, "a.ipynb", ["print(1)"])
        ...                                # open it with tests.harness.browser.open_notebook
        kernel = Kernel(server, "a.ipynb")  # then kernel.json("print(json.dumps(...))")
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.harness import HarnessError

ROOT = Path(__file__).resolve().parents[2]


def wait_until_serving(proc: subprocess.Popen, probe: str, log: Path, name: str, timeout: float = 60) -> None:
    """Wait until ``probe`` (a URL of the server ``proc`` started) answers; HarnessError naming
    ``name`` and the end of its ``log`` if the process exits or ``timeout`` seconds pass first."""
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(probe, timeout=2)
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise HarnessError(f"{name} did not start; see {log}:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.3)


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a test server: ask, then after 15 s insist."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyter_lab(base: Path | None = None, files: Iterable[Path] = ()) -> Iterator[dict]:
    """JupyterLab on its own port with fresh root, settings, workspace and runtime folders under
    ``base`` (a new temporary folder if None), news and update checks off; ``files`` are copied
    into its root. Yields ``{"url", "runtime", "root"}``; the server is stopped on exit."""
    base = Path(tempfile.mkdtemp(prefix="lab")) if base is None else Path(base)
    root = base / "root"
    root.mkdir()
    for file in files:
        shutil.copy(file, root / Path(file).name)
    settings = base / "settings"
    notif = settings / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True)
    (notif / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    port = free_port()
    log = open(base / "server.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.expose_app_in_browser=True",
            "--LabApp.extension_manager=readonly", "--ServerApp.allow_root=True",
        ],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, f"{url}/api/status", base / "server.log", "JupyterLab")
        yield {"url": url, "runtime": base / "runtime", "root": root}
    finally:
        stop_server(proc)
        log.close()


def write_notebook(server: dict, name: str, sources: list[str]) -> None:
    """Write a notebook of code cells ``sources`` (Python 3 kernel) into the server's root."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, server["root"] / name)


class Kernel:
    """A second client on the notebook's kernel: runs code, returns what it prints as JSON."""

    def __init__(self, server: dict, notebook: str = "fixture.ipynb"):
        from jupyter_client import BlockingKernelClient

        sessions = json.load(urllib.request.urlopen(f"{server['url']}/api/sessions"))
        (session,) = [s for s in sessions if s["path"].endswith(notebook)]
        self.client = BlockingKernelClient(connection_file=str(server["runtime"] / f"kernel-{session['kernel']['id']}.json"))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=30)

    def json(self, code: str, timeout: float = 60):
        out: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR " + "\n".join(msg["content"]["traceback"]))

        self.client.execute_interactive(code, output_hook=hook, timeout=timeout, store_history=False)
        text = "".join(out)
        assert not text.startswith("ERROR"), text
        return json.loads(text)

    def until(self, code: str, ok, timeout: float = 20):
        """Poll ``code`` until ``ok(value)``; the front end writes traits asynchronously."""
        deadline = time.time() + timeout
        while True:
            value = self.json(code)
            if ok(value) or time.time() > deadline:
                return value
            time.sleep(0.25)
