"""A person rating on the web page (``oboptim serve NAME``) as the oracle.

The oracle shows nothing itself: the campaign has already stored the trials it asks about, and the rating page lists
every pending trial (waiting, or running: claimed by the campaign's loop). :meth:`WebHumanOracle.evaluate` waits
until each trial of the batch is finished in storage (rated on the page, told with ``oboptim tell``, or failed) and
returns what was stored. Two terminals::

    oboptim run TASK --name portraits --storage sqlite:///runs.db --oracle human-web
    oboptim serve portraits --storage sqlite:///runs.db

Through ``--oracle human-web`` the oracle is built by :func:`web_oracle`, which reads the campaign's storage and name
from the :class:`~oboptim.oracles.OracleContext` that :meth:`oboptim.Campaign.run` passes to ``resolve_oracle``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from oboptim._registry import ORACLE_KINDS
from oboptim.errors import OboptimError
from oboptim.oracles._base import Oracle, check_batch
from oboptim.oracles._context import OracleContext
from oboptim.oracles._outcome import Outcome
from oboptim.storage import Storage, TrialState, UnknownTrialError
from oboptim.storage._engine import display_url

DEFAULT_POLL_SECONDS = 1.0


class WebOracleUnbound(OboptimError):
    """``--oracle human-web`` was resolved outside a campaign, so it cannot know which trials to wait for."""


@ORACLE_KINDS.implements("human-web")
def web_oracle(context: OracleContext) -> WebHumanOracle:
    """``--oracle human-web``: a :class:`WebHumanOracle` for the campaign of ``context``.

    The context's timeout is ignored: ``--oracle-timeout`` (60 s by default) is sized for programs, not for a person;
    build a :class:`WebHumanOracle` yourself to give up after a while.
    """
    if context.storage is None or context.campaign_name is None:
        raise WebOracleUnbound(
            "--oracle human-web needs a campaign: use it through `oboptim run TASK --name NAME --oracle human-web` "
            "or Campaign.run(oracle='human-web'), or pass WebHumanOracle(storage_url, campaign_name)"
        )
    return WebHumanOracle(context.storage, context.campaign_name)


class WebHumanOracle(Oracle):
    """Waits for the ratings that a person gives on the rating page (``oboptim serve``), read from storage.

    Args:
        storage_url: the campaign's database (a URL, or an open :class:`Storage`, which this oracle then does not
            close).
        campaign_name: the campaign whose trials are rated.
        poll_seconds: how often storage is read while waiting.
        timeout: seconds to wait for one batch; trials still unrated then fail. ``None`` waits for ever.
        announce: where to say which trials are waiting (default: standard error).
        clock, sleep: time functions (tests pass fakes).

    Example::

        oracle = WebHumanOracle("sqlite:///runs.db", "portraits")
        outcomes = oracle.evaluate([12, 13], xs)   # returns once trials 12 and 13 are rated on the page
    """

    name = "human-web"

    def __init__(
        self,
        storage_url: Storage | str | None,
        campaign_name: str,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        timeout: float | None = None,
        *,
        announce: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not poll_seconds > 0:
            raise ValueError(f"poll_seconds must be positive, got {poll_seconds}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive or None, got {timeout}")
        self._owns_storage = not isinstance(storage_url, Storage)
        self.storage = Storage(storage_url, create=False) if self._owns_storage else storage_url
        campaign = self.storage.get_campaign(campaign_name)
        if campaign is None:
            message = self.storage.missing_campaign_message(campaign_name)
            self.close()
            raise OboptimError(message)
        self.campaign = campaign
        self.poll_seconds = float(poll_seconds)
        self.timeout = timeout
        self._announce = announce or (lambda line: print(line, file=sys.stderr, flush=True))
        self._clock = clock
        self._sleep = sleep

    def evaluate(self, trial_ids: Sequence[int], xs: np.ndarray) -> list[Outcome]:
        """Wait until every trial of ``trial_ids`` ``[B]`` is finished in storage; ``xs`` ``[B, *shape]`` is unused
        (the page reads the candidates from storage). Returns ``B`` outcomes in order."""
        ids, _ = check_batch(trial_ids, xs)
        outcomes: dict[int, Outcome] = {}
        deadline = None if self.timeout is None else self._clock() + self.timeout
        announced = False
        counts = None
        while True:
            now = self.storage.count_trials(self.campaign.id)
            if now != counts:  # one count query per poll; a trial only finishes if some state's count changes
                counts = now
                for trial_id in dict.fromkeys(ids):
                    if trial_id not in outcomes and (outcome := self._stored_outcome(trial_id)) is not None:
                        outcomes[trial_id] = outcome
            waiting = [trial_id for trial_id in dict.fromkeys(ids) if trial_id not in outcomes]
            if not waiting:
                return [outcomes[trial_id] for trial_id in ids]
            if deadline is not None and self._clock() >= deadline:
                late = Outcome.failure(f"no rating on the web page within {self.timeout:g} s")
                return [outcomes.get(trial_id, late) for trial_id in ids]
            if not announced:
                self._announce(self._waiting_message(waiting))
                announced = True
            self._sleep(self.poll_seconds)

    def close(self) -> None:
        if self._owns_storage:
            self.storage.close()

    def _stored_outcome(self, trial_id: int) -> Outcome | None:
        """The trial's outcome if it is finished, else None."""
        try:
            record = self.storage.get_trial(trial_id, campaign_id=self.campaign.id)
        except UnknownTrialError as exc:
            return Outcome.failure(str(exc))
        if record.state == TrialState.COMPLETED:
            return Outcome.success(record.value)
        if record.finished:
            return Outcome.failure(record.error or f"trial {trial_id} was {record.state}")
        return None

    def _waiting_message(self, waiting: list[int]) -> str:
        shown = ", ".join(str(trial_id) for trial_id in waiting[:12]) + (", ..." if len(waiting) > 12 else "")
        return (f"waiting for ratings of trials {shown} on the rating page: run `oboptim serve {self.campaign.name} "
                f"--storage {display_url(self.storage.url)}` and open the URL it prints")
