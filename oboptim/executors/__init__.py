"""Executors: evaluate trials asynchronously (``process:N`` local worker processes, ``ray`` tasks) while the campaign
keeps up to ``max_pending`` trials in flight.

Extension point: :data:`EXECUTORS` (see :class:`oboptim.Registry`).
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim._registry": ["EXECUTORS"],
    "oboptim.executors._base": ["Executor", "ExecutorError", "OracleRecipe", "parse_executor"],
    "oboptim.executors._process": ["ProcessExecutor"],
    "oboptim.executors._ray": ["RayExecutor"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim._registry import EXECUTORS
    from oboptim.executors._base import Executor, ExecutorError, OracleRecipe, parse_executor
    from oboptim.executors._process import ProcessExecutor
    from oboptim.executors._ray import RayExecutor
