"""What an oracle may need from the campaign that queries it, passed explicitly by whoever builds the oracle.

Most oracles need nothing but the candidates. Some kinds need more: the task's named oracles need the task, and the
web rating page (``--oracle human-web``) needs the campaign's storage and name to wait for the ratings given there.
:meth:`oboptim.Campaign.run` builds an :class:`OracleContext` for its campaign and hands it to
:func:`~oboptim.oracles.resolve_oracle`; nothing is found through global or context variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oboptim._task import Task
    from oboptim.storage import Storage

DEFAULT_ORACLE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class OracleContext:
    """The campaign an oracle is built for.

    Attributes:
        task: the campaign's task (its own oracle and named oracles), or None.
        storage: the campaign's open storage, or None outside a campaign.
        campaign_name: the campaign's name, or None outside a campaign.
        timeout: seconds a batch may take, for the oracles that run outside this process: a shell command, and a
            function named by ``module:function`` or ``file.py:function`` (run in a worker process). A task's own
            oracles, the human oracles and callables passed in Python run in this process, without a limit.
    """

    task: Task | None = None
    storage: Storage | None = None
    campaign_name: str | None = None
    timeout: float = DEFAULT_ORACLE_TIMEOUT_S


__all__ = ["DEFAULT_ORACLE_TIMEOUT_S", "OracleContext"]
