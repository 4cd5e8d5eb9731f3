"""Start and stop a real, headless ComfyUI with this pack linked in, and talk to its HTTP API.

Used by test_comfyui_e2e.py.  The server gets its own base directory (custom_nodes with a link
to the checkout under test, models, output, user) so the ComfyUI checkout itself is not changed,
an in-memory database, an empty front-end folder (or the installed real frontend, for the browser test)
and a free port from 8199 (or the first port given).  Every request has a
timeout and the server's process group is always ended.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

FIRST_PORT = 8199
START_TIMEOUT_S = 240
REQUEST_TIMEOUT_S = 30

# ComfyUI imports torchvision at start-up (for two model families we never load); PyPI only has
# CUDA builds of it, which do not load beside a CPU torch.  When the server's python cannot import
# it, a stub that fails loudly on use is put on its path instead.
_TORCHVISION_STUB = {
    "__init__.py": '"""Stub for a headless CPU test server: importable, unusable."""\n'
                   "def __getattr__(name):\n"
                   "    raise ImportError(f'torchvision stub (test harness): torchvision.{name} is not available')\n",
    "transforms.py": "def __getattr__(name):\n"
                     "    raise ImportError(f'torchvision stub (test harness): transforms.{name} is not available')\n",
}


def comfy_python(root: str) -> str:
    """The interpreter for ComfyUI: $COMFYUI_PYTHON, else ROOT/../comfy-venv, else this one."""
    env = os.environ.get("COMFYUI_PYTHON")
    if env:
        return env
    venv = os.path.join(os.path.dirname(os.path.abspath(root)), "comfy-venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def free_port(start: int = FIRST_PORT, tries: int = 100) -> int:
    for port in range(start, start + tries):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}..{start + tries - 1}")


class ComfyServer:
    """A ComfyUI process; use as a context manager so it is always stopped."""

    def __init__(self, root: str, pack_dir: str | None, folder_name: str = "gan-latent-lab",
                 python: str | None = None, first_port: int = FIRST_PORT, front_end_root: str | None = None):
        """``pack_dir`` None: ComfyUI alone (no custom nodes).  ``front_end_root`` None: an empty folder
        (the HTTP API only); ``"installed"``: the comfyui-frontend-package installed in ComfyUI's venv
        (ComfyUI's own default, the real UI); any other value: a frontend folder to serve."""
        self.root = os.path.abspath(root)
        self.pack_dir = os.path.abspath(pack_dir) if pack_dir else None
        self.first_port = first_port
        self.front_end_root = front_end_root
        self.folder_name = folder_name
        self.python = python or comfy_python(root)
        self.base = tempfile.mkdtemp(prefix="gll-comfy-")
        self.log_path = os.path.join(self.base, "comfyui.log")
        self.port = 0
        self.proc: subprocess.Popen | None = None

    # ----- life cycle ------------------------------------------------------------------
    def _prepare(self) -> dict:
        custom = os.path.join(self.base, "custom_nodes")
        os.makedirs(custom)
        if self.pack_dir:
            os.symlink(self.pack_dir, os.path.join(custom, self.folder_name))
        for sub in ("models", "output", "input", "user", "frontend"):
            os.makedirs(os.path.join(self.base, sub), exist_ok=True)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        probe = subprocess.run([self.python, "-c", "import torchvision"], capture_output=True, timeout=120)
        if probe.returncode != 0:
            stub = os.path.join(self.base, "stubs", "torchvision")
            os.makedirs(stub)
            for name, text in _TORCHVISION_STUB.items():
                with open(os.path.join(stub, name), "w", encoding="utf-8") as f:
                    f.write(text)
            env["PYTHONPATH"] = os.path.dirname(stub)
        return env

    def start(self, timeout: float = START_TIMEOUT_S) -> "ComfyServer":
        env = self._prepare()
        self.port = free_port(self.first_port)
        cmd = [self.python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
               "--base-directory", self.base, "--database-url", "sqlite:///:memory:", "--disable-auto-launch"]
        if self.front_end_root != "installed":
            cmd += ["--front-end-root", self.front_end_root or os.path.join(self.base, "frontend")]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode} during start-up:\n{self.log_tail()}")
            try:
                self.get_json("/system_stats", timeout=2)
                return self
            except (OSError, ValueError):
                time.sleep(1)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=15)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "ComfyServer":
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # ----- log -------------------------------------------------------------------------
    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log().splitlines()[-n:])
        except OSError:
            return "(no log)"

    def import_failures(self) -> list[str]:
        """Log lines reporting a failed import (ComfyUI's own optional nodes included)."""
        return [line for line in self.log().splitlines() if "IMPORT FAILED" in line]

    def pack_import_line(self) -> str | None:
        """The 'Import times for custom nodes' line of this pack's folder, or None if absent."""
        suffix = os.sep + os.path.join("custom_nodes", self.folder_name)
        for line in self.log().splitlines():
            if " seconds" in line and line.rstrip().endswith(suffix):
                return line.strip()
        return None

    # ----- HTTP ------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, path: str, body: dict | None = None, timeout: float = REQUEST_TIMEOUT_S) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url(path), data=data,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get_json(self, path: str, timeout: float = REQUEST_TIMEOUT_S):
        status, raw = self.request(path, timeout=timeout)
        if status != 200:
            raise ValueError(f"GET {path}: HTTP {status}: {raw[:500]!r}")
        return json.loads(raw)

    def queue(self, api_prompt: dict, client_id: str | None = None) -> tuple[int, dict]:
        """POST /prompt; returns the HTTP status and the answer (prompt_id, or error and node_errors)."""
        status, raw = self.request("/prompt", {"prompt": api_prompt, "client_id": client_id or uuid.uuid4().hex})
        return status, json.loads(raw)

    def listen(self, client_id: str) -> "WebSocketReader":
        """The websocket the front end listens on: what ComfyUI tells the UI (errors of blocked nodes among it)."""
        return WebSocketReader("127.0.0.1", self.port, client_id)

    def wait_history(self, prompt_id: str, timeout: float = 180) -> dict:
        """The finished history entry of a prompt (its status says success or error)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.get_json(f"/history/{prompt_id}").get(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None and (
                    entry["status"].get("completed") or entry["status"].get("status_str") == "error"):
                return entry
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI died while running {prompt_id}:\n{self.log_tail()}")
            time.sleep(0.5)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout:.0f} s:\n{self.log_tail()}")

    def view(self, image: dict) -> bytes:
        """The bytes of one image listed in a history entry's outputs."""
        query = urllib.parse.urlencode({k: image.get(k, "") for k in ("filename", "subfolder", "type")})
        status, raw = self.request(f"/view?{query}")
        if status != 200:
            raise ValueError(f"GET /view?{query}: HTTP {status}")
        return raw


class WebSocketReader:
    """A minimal client for ComfyUI's ``/ws`` (RFC 6455, text frames only): enough to read the events a
    front end gets, which the HTTP history does not keep (e.g. ``execution_error`` of a blocked node)."""

    def __init__(self, host: str, port: int, client_id: str, timeout: float = REQUEST_TIMEOUT_S) -> None:
        import base64

        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws?clientId={client_id} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket upgrade refused: {head[:200]!r}")

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("websocket closed")
        self.buf += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def message(self) -> dict | None:
        """The next JSON text message (None for binary or control frames)."""
        import struct

        b0, b1 = self._take(2)
        length = b1 & 0x7F
        if length == 126:
            length = struct.unpack(">H", self._take(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self._take(8))[0]
        mask = self._take(4) if b1 & 0x80 else None
        payload = self._take(length)
        if mask:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return json.loads(payload) if b0 & 0x0F == 1 else None

    def until_done(self, prompt_id: str, timeout: float = 180) -> list[dict]:
        """Every message up to the end of ``prompt_id`` (``executing`` with no node, or a success / error)."""
        out: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.message()
            if msg is None:
                continue
            out.append(msg)
            data = msg.get("data") or {}
            if data.get("prompt_id") == prompt_id and (
                    msg.get("type") in ("execution_success", "execution_interrupted")
                    or (msg.get("type") == "executing" and data.get("node") is None)):
                return out
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout:.0f} s")

    def close(self) -> None:
        self.sock.close()
