"""Log lines: JSON lines for log collectors, or readable text on a terminal; the parent's name
on every line written while a hook call is answered.

A leaf module (standard library only), so the registry clients may use `log_fields` too. Values
go into a line as named fields (`extra=log_fields(...)`), never formatted into the message, so a
collector can filter on them. Whoever logs is responsible for what the fields hold: parent
names, outcomes, hosts and error messages, never a header, a body or a credential.

The parent's name travels in a context variable that the web layer sets per request. Each
request runs in a thread of its own, and the registry scan's asyncio tasks copy the context of
the thread that starts them, so the scan's lines carry it as well.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

FIELDS = "fields"
"""The LogRecord attribute `log_fields` fills."""

parent_name: ContextVar[str | None] = ContextVar("parent_name", default=None)
"""The name of the parent (source or config) whose hook call is being answered."""


def log_fields(**values: object) -> dict[str, Any]:
    """`extra=` for a logging call: named values written as JSON keys or `key=value`."""
    return {FIELDS: values}


class LogFormatter(logging.Formatter):
    """One line per record: a JSON object, or `time level logger [parent] message key=value`."""

    def __init__(self, *, json_lines: bool) -> None:
        super().__init__()
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (a traceback, in text mode, on the lines below it)."""
        fields: dict[str, object] = {}
        parent = parent_name.get()
        if parent is not None:
            fields["parent"] = parent
        fields.update(getattr(record, FIELDS, None) or {})
        error = self.formatException(record.exc_info) if record.exc_info else None
        when = datetime.fromtimestamp(record.created, UTC)
        if self.json_lines:
            line: dict[str, object] = {
                "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                **fields,
            }
            if error is not None:
                line["exception"] = error
            return json.dumps(line, default=str, separators=(",", ":"))
        parent_text = f" [{fields.pop('parent')}]" if "parent" in fields else ""
        pairs = "".join(f" {key}={value}" for key, value in fields.items())
        text = (
            f"{when:%Y-%m-%d %H:%M:%S} {record.levelname:<7} {record.name}{parent_text} "
            f"{record.getMessage()}{pairs}"
        )
        return text if error is None else f"{text}\n{error}"


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to `sys.stderr` as it is at the time of writing (gunicorn and test runners replace
    it); JSON lines unless stderr is a terminal when the handler is made."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(LogFormatter(json_lines=not sys.stderr.isatty()))

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record to the current stderr."""
        self.stream = sys.stderr
        super().emit(record)


def logging_config(level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration (gunicorn's `logconfig_dict`): every line on
    stderr through `StderrHandler`, gunicorn's own included; our loggers and gunicorn's at
    `level`, other libraries' at WARNING (httpx logs every request at INFO). gunicorn's access
    lines (INFO) are left out: the app logs its own, one per hook call, and none per probe."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"stderr": {"()": StderrHandler}},
        "root": {"level": "WARNING", "handlers": ["stderr"]},
        "loggers": {
            "hooks": {"level": level},
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }


def configure_logging(level: str) -> None:
    """Log our loggers at `level`; where nothing configured logging yet (no handler on the
    root logger, as under a bare WSGI server), also write to stderr. Safe to call again."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(StderrHandler())
    logging.getLogger("hooks").setLevel(level)
