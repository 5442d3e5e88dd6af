"""What every ``oboptim`` command shares: one-line errors, the storage option, and choices read from registries.

Imported by ``oboptim.cli`` and by the commands of subpackages (``oboptim serve``), which ``oboptim.cli`` registers,
so that no command module imports another. It imports nothing heavy.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import Any

import click

from oboptim._registry import Registry
from oboptim.errors import OboptimError

INTERRUPTED = "interrupted: everything finished so far is stored; run the same command to resume"


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can fix into one line on standard error and exit status 2, without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OboptimError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo(INTERRUPTED, err=True)
            sys.exit(130)

    return wrapper


def warnings_as_lines(ctx: click.Context) -> None:
    """Until ``ctx`` closes, show oboptim's own warnings (e.g. ``TaskFileChangedWarning``) as one line on standard
    error, ``warning: ...``, instead of Python's file, line number and source line; other warnings as Python does."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.partition(".")[0] == "oboptim":
            click.echo(f"warning: {message}", err=True)
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    ctx.call_on_close(lambda: setattr(warnings, "showwarning", previous))


storage_option = click.option("--storage", default=None, metavar="URL",
                              help="SQLAlchemy URL (default: $OBOPTIM_STORAGE or sqlite:///oboptim.db).")


def kind_option(flag: str, registry: Registry[Any], what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A ``--flag`` choosing a kind of ``registry``; its choices and help come from the registry."""
    kinds = "; ".join(f"{kind.name}: {kind.help}" for kind in registry.kinds())
    return click.option(flag, type=click.Choice(registry.names()), default=None, help=f"{what} ({kinds}).")


__all__ = ["INTERRUPTED", "kind_option", "storage_option", "user_errors", "warnings_as_lines"]
