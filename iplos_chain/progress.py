"""What ``iplos submit`` shows while the people who sent an export wait: the upload, then the submission moving
through the gateway, the TPF and the registry.

On a terminal: a progress bar of the upload (bytes, rate, time), then one status line that changes as the submission
does, with the time since the command started. Anywhere else (a pipe, a log, CI): plain lines, one per change, which a
script can read and a log keeps. Both go to the console they are given (the command's stderr: its stdout keeps only
the submission id and the final status, as before).

The states are the gateway's (GET /v1/submissions/{id}): ``queued`` (the gateway delivers it to the TPF, which
forwards it to the registry, within the same request when all is well), ``forwarded`` (the TPF holds it in its own
outbox and delivers it to the registry itself), then the registry's answer: ``stored``, ``held`` or ``refused``, or
``rejected`` / ``dead-letter`` on the way.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Final

from rich.console import Console
from rich.live import Live
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.spinner import Spinner
from rich.text import Text

__all__ = ["STATE_TEXT", "CountProgress", "StepProgress", "SubmitProgress"]

# What each state means to the person waiting, in the words of the chain.
STATE_TEXT: Final = {
    "queued": "queued: from the gateway through the TPF to the registry",
    "forwarded": "forwarded: the TPF delivers it to the registry",
    "stored": "stored at the registry",
    "held": "held at the registry until the municipality confirms",
    "refused": "refused by the registry",
    "rejected": "rejected on the way",
    "dead-letter": "dead-letter: delivery gave up after too many attempts",
}
SEALING: Final = "sealing at the gateway, awaiting its 202"
# Plain lines: the upload is reported at every tenth of it, not at every piece.
_PLAIN_STEPS: Final = 10


def _megabytes(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB"


def describe(status: dict[str, Any]) -> str:
    """One line for a status document of the gateway: its state in words, retries and the registry's count."""
    state = str(status.get("state"))
    text = STATE_TEXT.get(state, state)
    receipt = status.get("receipt") or {}
    if state in ("stored", "held") and isinstance(receipt.get("records_stored"), int):
        text += f" ({receipt['records_stored']} records)"
    # The gateway counts a 202 from the TPF as an attempt too: attempts mean trouble only with an error beside them.
    if status.get("last_error") and state not in ("stored", "held"):
        attempts = status.get("attempts") or 0
        text += f", {attempts} attempt{'s' if attempts != 1 else ''}, last error: {status['last_error']}"
    return text


class _Elapsed:
    """A status line that shows, each time it is drawn, the time since the command began."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.text = ""

    def __rich__(self) -> Text:
        return Text.assemble(self.text, (f"  {time.monotonic() - self.started:.1f} s", "dim"))


class SubmitProgress:
    """Follows one submission; ``live``: a terminal (a bar, then a changing line), else plain lines."""

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        self._console = console
        self._live = console.is_terminal if live is None else live
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._upload: TaskID | None = None
        self._line_shown = _Elapsed(self._started)
        self._status: Live | None = None
        self._reported_step = -1
        self._upload_started = self._started
        self._last_line: str | None = None

    def __enter__(self) -> SubmitProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self._status is not None:
            self._status.stop()
            self._status = None

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    # -- the upload --------------------------------------------------------------------------------------------

    def upload(self, sent: int, total: int) -> None:
        """:data:`iplos_chain.client.UploadProgress`: bytes out so far; ``sent == total`` once the last is out."""
        done = sent >= total
        if self._live:
            if self._bar is None and self._upload is None:
                self._bar = Progress(
                    TextColumn("upload"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    TimeElapsedColumn(),
                    console=self._console,
                )
                self._bar.start()
                self._upload = self._bar.add_task("upload", total=total)
            if self._bar is not None and self._upload is not None:
                self._bar.update(self._upload, completed=sent)
                if done:
                    self._bar.stop()  # its last state stays on the screen
                    self._bar = None
                    self._state(SEALING)
            return
        if sent == 0 and self._reported_step < 0:
            self._upload_started = time.monotonic()
            self._line(f"upload: {_megabytes(total)}")
            self._reported_step = 0
            return
        step = _PLAIN_STEPS if done else sent * _PLAIN_STEPS // max(total, 1)
        if step <= self._reported_step:
            return
        self._reported_step = step
        seconds = time.monotonic() - self._upload_started
        rate = f", {sent / seconds / 1_000_000:.1f} MB/s" if seconds > 0 else ""
        percent = 100 if done else sent * 100 // max(total, 1)
        self._line(f"upload: {_megabytes(sent)} of {_megabytes(total)} ({percent}%){rate}")
        if done:
            self._line(SEALING)

    # -- the submission ----------------------------------------------------------------------------------------

    def accepted(self, accepted: dict[str, Any]) -> None:
        """The gateway's 202."""
        self._state(f"accepted by the gateway ({accepted.get('records')} records)")

    def status(self, status: dict[str, Any]) -> None:
        """:data:`iplos_chain.client.StatusChange`: a status document of the gateway that differs from the last."""
        self._state(describe(status), final=status.get("state") not in ("queued", "forwarded"))

    def _state(self, text: str, *, final: bool = False) -> None:
        if not self._live:
            self._line(text)
            return
        self._line_shown.text = text
        if self._status is None:
            self._status = Live(
                Spinner("dots", text=self._line_shown), console=self._console, refresh_per_second=8, transient=False
            )
            self._status.start()
        if final:
            # The last state stays on the screen, with the time it took, and no spinner.
            self._status.update(self._line_shown.__rich__(), refresh=True)
            self._status.stop()
            self._status = None

    def _line(self, text: str) -> None:
        if text == self._last_line:
            return
        self._last_line = text
        self._console.print(f"[{self.elapsed():6.1f} s] {text}", markup=False, highlight=False, soft_wrap=True)


class CountProgress:
    """Long work counted in items (persons written, say): a bar with the rate and the time on a terminal, else a
    plain line at every tenth. Use as a context manager; ``advance`` as the items go."""

    def __init__(self, console: Console, label: str, total: int, *, live: bool | None = None) -> None:
        self._console = console
        self._label = label
        self._total = max(total, 1)
        self._live = console.is_terminal if live is None else live
        self._done = 0
        self._reported = -1
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> CountProgress:
        if self._live:
            self._bar = Progress(
                TextColumn(self._label),
                BarColumn(),
                TextColumn("{task.completed:,} of {task.total:,}"),
                TimeElapsedColumn(),
                console=self._console,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._label, total=self._total)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def advance(self, count: int = 1) -> None:
        self._done += count
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self._done)
            return
        step = self._done * _PLAIN_STEPS // self._total
        if step > self._reported:
            self._reported = step
            seconds = time.monotonic() - self._started
            self._console.print(
                f"[{seconds:6.1f} s] {self._label}: {self._done:,} of {self._total:,} ({step * 10}%)",
                markup=False,
                highlight=False,
            )


class StepProgress:
    """Long work in named steps (the blindness check's): on a terminal a spinner with the step under way and the
    time, each finished step left as a line; elsewhere a plain line per step."""

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        self._console = console
        self._live = console.is_terminal if live is None else live
        self._started = time.monotonic()
        self._shown = _Elapsed(self._started)
        self._spinner: Live | None = None

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._finish_step()
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    def step(self, text: str) -> None:
        if not self._live:
            seconds = time.monotonic() - self._started
            self._console.print(f"[{seconds:6.1f} s] {text}", markup=False, highlight=False, soft_wrap=True)
            return
        self._finish_step()
        self._shown.text = text
        if self._spinner is None:
            self._spinner = Live(
                Spinner("dots", text=self._shown), console=self._console, refresh_per_second=8, transient=True
            )
            self._spinner.start()

    def _finish_step(self) -> None:
        if self._live and self._shown.text:
            self._console.print(self._shown.__rich__())
            self._shown.text = ""
