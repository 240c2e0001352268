"""Harness clients: a command speaking JSON lines, or a Python entry point in-process."""

from __future__ import annotations

import contextlib
import json
import queue
import shlex
import subprocess
import threading
from typing import Any, Protocol

from skship.conformance import ENTRY_POINT_GROUP, HARNESS_PROTOCOL


class HarnessFailure(RuntimeError):
    """The harness broke the protocol: died, answered garbage, or timed out."""


class Harness(Protocol):
    def send(self, request: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class CommandHarness:
    """A harness run as a child process: one JSON request per line on its stdin, one
    JSON answer per line on its stdout; its stderr passes through."""

    def __init__(self, command: str, timeout: float = 120.0) -> None:
        self.command = command
        self.timeout = timeout
        self.proc = subprocess.Popen(
            shlex.split(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        # A reader thread, so that a harness that hangs is reported instead of
        # blocking the run forever.
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise HarnessFailure(f"the harness {self.command!r} exited") from None
        try:
            line = self.lines.get(timeout=self.timeout)
        except queue.Empty:
            self.proc.kill()
            raise HarnessFailure(
                f"the harness gave no answer to {request.get('cmd')!r} on "
                f"{request.get('case', '')} within {self.timeout:g} s"
            ) from None
        if not line:
            raise HarnessFailure(
                f"the harness {self.command!r} exited without answering {request.get('cmd')!r}"
            )
        try:
            answer = json.loads(line)
        except ValueError:
            raise HarnessFailure(
                f"the harness answered a line that is not JSON: {line!r}"
            ) from None
        if not isinstance(answer, dict):
            raise HarnessFailure(f"the harness answered {answer!r}, not a JSON object")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(HarnessFailure):
                self.send({"cmd": "stop"})
        # Closed even when the harness already died (else the pipe leaks); closing a
        # pipe whose reader is gone may raise BrokenPipeError while flushing.
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class InProcessHarness:
    """A Python implementation's handler (``handle(request) -> answer``), called directly.
    Answers go through a JSON round trip so they are held to the same protocol."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        answer = self.handler.handle(json.loads(json.dumps(request)))
        result: dict[str, Any] = json.loads(json.dumps(answer))
        return result

    def close(self) -> None:
        self.handler.handle({"cmd": "stop"})


def entry_point_harness(name: str) -> InProcessHarness:
    """The handler registered as ``name`` in the ``skship.conformance`` entry-point group."""
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        available = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
        raise HarnessFailure(
            f"no entry point {name!r} in group {ENTRY_POINT_GROUP!r}; installed: {available}"
        )
    factory = found[0].load()
    return InProcessHarness(factory())


def open_harness(spec: str, timeout: float = 120.0) -> Harness:
    """``entry-point:<name>`` for an installed Python implementation, else a command."""
    if spec.startswith("entry-point:"):
        return entry_point_harness(spec.split(":", 1)[1])
    return CommandHarness(spec, timeout)


def start_request() -> dict[str, Any]:
    return {"cmd": "start", "protocol": HARNESS_PROTOCOL}
