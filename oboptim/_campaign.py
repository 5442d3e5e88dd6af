"""Campaign: the online black-box loop over stored history (docs/algorithm.md, "The online loop").

Every state change is one database transaction, so a campaign survives being killed at any moment:

- an ask writes its round (RNG state, diagnostics, surrogate snapshot) and its trials together;
- each outcome is written as soon as the oracle returns it, and finished trials never change;
- trials left running by a dead process (same host, pid gone) or whose lease expired are re-queued;
- each round's randomness comes from a generator seeded by ``(campaign seed, round)``, and the oracle of a task is
  deterministic in ``x``, so a killed-and-resumed campaign proposes what an uninterrupted one would have.

Example:
    >>> c = Campaign.open("demo", storage="sqlite:///runs.db", task="gmm2d", seed=0)
    >>> trials = c.ask(8)
    >>> c.tell(trials[0].id, 1.25)
    >>> c.run(budget=64)
    >>> c.best().value
"""

from __future__ import annotations

import os
import pickle
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from oboptim._heartbeat import DEFAULT_GRACE_SECONDS, Heartbeat
from oboptim._outcomes import record_outcomes
from oboptim._preflight import check_proposal_settings
from oboptim._proposal import History, propose
from oboptim._records import SMC, RoundDiagnostics
from oboptim._settings import CampaignSettings
from oboptim._task import Task, canonical_spec, load_task, task_file_digest, task_options_of
from oboptim._view import DEFAULT_BUDGET, CampaignView
from oboptim.errors import ConfigError, SpaceExhausted
from oboptim.executors._base import Executor, ExecutorError, OracleRecipe, check_oracle_can_travel, parse_executor
from oboptim.oracles._base import Oracle
from oboptim.oracles._context import DEFAULT_ORACLE_TIMEOUT_S, OracleContext
from oboptim.oracles._identity import ORACLE_CHANGES_KEY, ORACLE_KEY, OracleIdentity, identify
from oboptim.oracles._outcome import OracleInterrupted, Outcome
from oboptim.oracles._resolve import resolve_oracle
from oboptim.oracles._retry import DEFAULT_BACKOFF_S, DEFAULT_BATCH_RETRIES, FailureBudget, evaluate_with_retries
from oboptim.priors._diffusion_prior import DiffusionPrior
from oboptim.storage._errors import RoundExistsError, TrialConflictError
from oboptim.storage._records import (
    ASKED_PREFIX,
    CAMPAIGN_ACTIVE,
    CAMPAIGN_FINISHED,
    CampaignRecord,
    TrialRecord,
    TrialState,
    queried_count,
)
from oboptim.storage._store import Storage

_POLL_SECONDS = 0.5


HOSTNAME_ENV_VAR = "OBOPTIM_HOSTNAME"  # the host name a worker reports (default: the machine's)


def host_name() -> str:
    """The name of this machine as workers report it (``$OBOPTIM_HOSTNAME``, else the system's host name)."""
    return os.environ.get(HOSTNAME_ENV_VAR) or socket.gethostname()


def worker_id() -> str:
    """``host:pid`` of this process; lets a resumed run tell a dead worker from a live one on the same host."""
    return f"{host_name()}:{os.getpid()}"


def round_generator(seed: int, round_index: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of one round: seeded by (campaign seed, round), independent across rounds."""
    entropy = np.random.SeedSequence([int(seed) & (2**63 - 1), int(round_index)]).generate_state(2, np.uint32)
    return torch.Generator(device=device).manual_seed(int(entropy[0]) << 32 | int(entropy[1]))


@dataclass(frozen=True)
class _Loop:
    """What a running loop uses: the failure budget, the progress bar (or None), where round summaries go, and the
    heartbeat that keeps this worker's leases."""

    failures: FailureBudget
    bar: Any
    say: Callable[[str], None]
    heart: Heartbeat


class Campaign(CampaignView):
    """A named optimisation campaign stored in a database, with its task and prior. Create or resume it with
    :meth:`open`; a :class:`~oboptim.CampaignView` reads and tells without loading the task."""

    def __init__(self, storage: Storage, record: CampaignRecord, task: Task, *, device: str = "cpu",
                 particle_batch_size: int | None = None, worker_name: str | None = None) -> None:
        super().__init__(storage, record)
        self.task = task
        self.device = device
        # a task may suggest one (sd: 4 latents per UNet call fit a GPU at 512x512 with guidance)
        self.particle_batch_size = particle_batch_size or task.defaults.get("particle_batch_size")
        self.worker = worker_name or worker_id()
        self.discarded_proposals = 0  # proposals computed and then thrown away (another worker's round came first)
        self._prior: DiffusionPrior | None = None

    # -- opening ---------------------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        name: str,
        storage: Storage | str | None = None,
        task: str | None = None,
        seed: int | None = None,
        *,
        device: str = "cpu",
        particle_batch_size: int | None = None,
        task_options: Mapping[str, Any] | None = None,
        oracle: object = None,
        budget: int | None = None,
        worker_name: str | None = None,
        **settings: Any,
    ) -> Campaign:
        """Create campaign ``name``, or resume it if it exists.

        Args:
            name: the campaign's unique name.
            storage: a :class:`Storage` or a SQLAlchemy URL (default: ``$OBOPTIM_STORAGE`` or
                ``sqlite:///oboptim.db``).
            task: a built-in task name or ``path/to/file.py:NAME`` / ``module:NAME``; required to create.
            seed: the campaign's seed (default 0 when creating).
            device: where the sampler runs (``"cpu"`` or ``"cuda"``); may change between sessions.
            particle_batch_size: bound on particles per denoiser call (memory), may change between sessions.
            task_options: keyword options of a task that takes them (``sd``: ``prior_path``, ``prompt``, ...);
                stored with the campaign, so a resume needs none.
            oracle: the oracle the campaign will run with, when creating it: a task's named oracle (``"jpeg"``)
                brings its own defaults (:attr:`Task.oracle_defaults`), and the campaign remembers it, so that a
                run given no oracle scores with it. Ignored on resume (:meth:`run` checks the oracle it is given).
            budget: finished trials a run aims for; stored with a new campaign (default: the task's, else 64, or
                four rounds where a round is larger).
            worker_name: this process's name as a worker (default ``HOST:PID``); a worker restarted under the same
                name finishes its own unfinished trials first.
            settings: campaign settings (the fields of :class:`~oboptim.CampaignSettings`); on resume the settings
                given must match the stored ones.
        """
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was requested but no CUDA device is available: use --device cpu")
        store = storage if isinstance(storage, Storage) else Storage(storage)
        existing = store.get_campaign(name)
        if existing is None:
            if task is None:
                raise ConfigError(f"campaign {name!r} does not exist in {store.url}: give a task to create it")
            options = dict(task_options or {})
            task = canonical_spec(task)  # a task file is stored by its absolute path: any directory can resume it
            task_obj = _task_for_new_campaign(task, options)
            defaults = task_obj.defaults_for(oracle)
            resolved = CampaignSettings.resolve(defaults, {**settings, "task_options": options})
            check_proposal_settings(resolved)  # a combination that cannot propose fails before anything is stored
            if budget is None:
                budget = defaults.get("budget", default_budget(resolved.batch_size))
            budget = _checked_budget(budget)
            _warn_if_one_round(budget, resolved.batch_size)
            # A sequence task's alphabet is stored too: reading commands show sequences without loading the task.
            space = {"space": task_obj.sequence.to_json()} if task_obj.sequence is not None else {}
            # The oracle it is created with is remembered: a resume or a worker given none scores with it.
            remembered = {} if oracle is None else {ORACLE_KEY: identify(oracle, None, task_obj).to_json()}
            config = resolved.to_stored(budget=budget, task_sha256=task_file_digest(task), **space, **remembered)
            existing, created = store.get_or_create_campaign(name, task, config, 0 if seed is None else int(seed))
            if created:
                return cls(store, existing, task_obj, device=device, particle_batch_size=particle_batch_size,
                           worker_name=worker_name)
        if task is not None and canonical_spec(task) != existing.task:
            raise ConfigError(
                f"campaign {name!r} was created with task {existing.task!r}; you passed {task!r}: "
                "use --name to start a new campaign"
            )
        if seed is not None and int(seed) != existing.seed:
            raise ConfigError(
                f"campaign {name!r} was created with seed={existing.seed}; you passed seed={seed}: "
                "drop --seed to resume it, or use --name to start a new campaign"
            )
        stored = CampaignSettings.from_stored(existing.config)
        changed = stored.differences({**settings, "task_options": task_options})
        if changed:
            details = "; ".join(f"{key}={old!r} (you passed {new!r})" for key, (old, new) in sorted(changed.items()))
            raise ConfigError(f"campaign {name!r} was created with {details}: drop these options to resume it, "
                              "or use --name to start a new campaign")
        _warn_if_the_task_file_changed(name, existing)
        return cls(store, existing, load_task(existing.task, stored.task_options),
                   device=device, particle_batch_size=particle_batch_size, worker_name=worker_name)

    @property
    def prior(self) -> DiffusionPrior:
        if self._prior is None:
            self._prior = self.task.load_prior(torch.device(self.device))
        return self._prior

    # -- asking and telling ----------------------------------------------------------------------------------------

    def ask(self, n: int | None = None, *, lease_seconds: float | None = None,
            holder: str | None = None) -> list[TrialRecord]:
        """Propose ``n`` (default: the batch size) new candidates, stored as waiting trials before returning.

        They belong to the asker until told, failed or released (:meth:`release`): ``run`` never claims them and
        proposes new ones instead, unless ``lease_seconds`` was given and has run out.

        Args:
            n: how many candidates; 0 asks nothing.
            lease_seconds: hand the trials back to the campaign's workers after this long (default: never).
            holder: who holds them, shown by ``status`` (default: ``ask:HOST:PID``).
        """
        if isinstance(n, bool) or (n is not None and (not isinstance(n, int) or n < 0)):
            raise ConfigError(f"ask needs a number of candidates >= 0; got {n!r}")
        if n == 0:
            return []
        self.storage.check_writable()  # a read-only database fails before the proposal's work
        while not self.storage.acquire_proposer(self.id, self.worker, DEFAULT_GRACE_SECONDS):
            time.sleep(_POLL_SECONDS)  # another worker is proposing: its round comes first, then ours on top of it
            self.requeue_dead_workers()
        with Heartbeat(self.storage, self.id, self.worker) as heart:
            heart.hold_proposer()
            try:
                return self._propose_round(n or self.settings.batch_size, state=TrialState.WAITING,
                                           holder=holder or f"{ASKED_PREFIX}{self.worker}",
                                           lease_seconds=lease_seconds)
            finally:
                heart.drop_proposer()
                self.storage.release_proposer(self.id, self.worker)

    # -- the loop --------------------------------------------------------------------------------------------------

    def run(
        self,
        budget: int | None = None,
        oracle: Oracle | Callable | str | None = None,
        *,
        oracle_command: str | None = None,
        oracle_timeout: float = DEFAULT_ORACLE_TIMEOUT_S,
        retries: int = 0,
        batch_retries: int = DEFAULT_BATCH_RETRIES,
        retry_backoff: float = DEFAULT_BACKOFF_S,
        max_failure_rate: float = 0.5,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        heartbeat_seconds: float | None = None,
        executor: str | Executor | None = None,
        max_pending: int | None = None,
        progress: bool = False,
        log: Callable[[str], None] | None = None,
        oracle_change: bool = False,
    ) -> None:
        """Ask, query the oracle and tell until ``budget`` trials are finished (completed or failed).

        Args:
            budget: total finished trials to reach; stored as the campaign's budget, which workers and later runs
                given none follow (default: the campaign's, re-read while running, so a run that extends it is
                followed).
            oracle: a callable ``f(x [B, *shape]) -> values``, an :class:`Oracle`, ``"module:function"``,
                ``"path/to/file.py:function"`` or ``"human"``; default: the oracle the campaign remembers (the one
                it was created or first run with), else the task's own.
            oracle_command: a shell command speaking JSON lines instead.
            retries: re-query failed trials this many times.
            batch_retries: ask again this many times, after growing pauses starting at ``retry_backoff`` seconds,
                for a batch that failed as a whole on a transient error (an exception, a crash, a timeout).
            max_failure_rate: stop with :class:`~oboptim.oracles.TooManyFailures` past this fraction of failures.
            grace_seconds: how long after this worker's last heartbeat its trials stay its own; a slow oracle keeps
                them for ever as long as this process lives (its leases are renewed in the background).
            heartbeat_seconds: time between renewals (default: a quarter of ``grace_seconds``).
            executor: evaluate trials asynchronously, each as soon as it is proposed: ``"process:N"``, ``"ray"``,
                ``"ray:N"``, ``"ray://HOST:PORT"`` or an :class:`~oboptim.executors.Executor` (default: the blocking
                loop, one batch at a time).
            max_pending: with an executor, how many proposed trials may be unfinished at once (default: twice its
                slots, so each slot has the next trial queued while the loop proposes; more queued trials keep the
                lab busier but are proposed knowing less).
            progress: show a progress bar (the command line does; the library is quiet by default).
            log: where each round's one-line summary goes (default: nowhere; the command line sends it to standard
                error).
            oracle_change: score with ``oracle`` although the campaign remembers another one (recorded in the
                campaign's ``oracle_changes``); without it, a different oracle is refused before any query.

        Raises:
            ConfigError: ``oracle`` differs from the campaign's remembered oracle and ``oracle_change`` is not set.
        """
        if budget is not None:
            budget = _checked_budget(budget)
        self.storage.check_writable()  # a read-only database fails now, not after a proposal
        oracle, oracle_command, remember = self._campaign_oracle(oracle, oracle_command, oracle_change)
        if budget == 0:
            return
        if executor is not None:
            recipe = self._oracle_recipe(oracle, oracle_command, oracle_timeout, retries, batch_retries,
                                         retry_backoff)
            self._remember(remember, budget)  # once the oracle is known to build: a refused run stores nothing
            budget = self._stored_budget()
            return self._run_async(parse_executor(executor), recipe, budget, max_pending, max_failure_rate,
                                   grace_seconds, heartbeat_seconds, progress, log)
        oracle_obj = resolve_oracle(oracle, self.oracle_context(oracle_timeout), command=oracle_command)
        try:
            self._remember(remember, budget)
            budget = self._stored_budget()
        except BaseException:
            oracle_obj.close()
            raise
        resume_own = True  # first its own unfinished trials, for a worker that comes back under the same name
        try:
            with self._loop(budget, max_failure_rate, grace_seconds, heartbeat_seconds, progress, log) as loop:
                # the stored budget, re-read each batch: a run started later with a larger --budget extends ours
                while (finished := queried_count(counts := self.storage.count_trials(self.id))) < (
                        budget := self._stored_budget()):
                    claimed = self.storage.claim_trials(self.id, self.worker, grace_seconds,
                                                        limit=self.settings.batch_size, resume_own=resume_own)
                    resume_own = False
                    if claimed:
                        self._evaluate(oracle_obj, claimed, (retries, batch_retries, retry_backoff), loop.failures,
                                       loop.bar, loop.heart)
                        continue
                    n = min(self.settings.batch_size, budget - finished - self._outstanding(counts))
                    trials = [] if n <= 0 else self._propose_as_the_one_proposer(n, budget, grace_seconds, loop.heart)
                    if not trials:  # another worker is proposing, or holds the rest of the budget
                        time.sleep(_POLL_SECONDS)
                        continue
                    self._evaluate(oracle_obj, trials, (retries, batch_retries, retry_backoff), loop.failures,
                                   loop.bar, loop.heart)
                    loop.say(self.round_summary(trials[0].round, budget))
        finally:
            oracle_obj.close()

    @contextmanager
    def _loop(self, budget: int, max_failure_rate: float, grace_seconds: float, heartbeat_seconds: float | None,
              progress: bool, log: Callable[[str], None] | None) -> Iterator[_Loop]:
        """What both loops share: the failure budget from past outcomes, dead workers' trials re-queued, the progress
        bar and the heartbeat; on leaving, the campaign's status, or this worker's trials released on Ctrl-C."""
        failures = FailureBudget(max_failure_rate, batch_size=self.settings.batch_size)
        failures.record([_outcome_of(t) for t in self.trials([TrialState.COMPLETED, TrialState.FAILED])])
        self.requeue_dead_workers()
        self._set_status(CAMPAIGN_ACTIVE)
        bar = _progress_bar(budget, self.finished_count(), enabled=progress)
        heart = Heartbeat(self.storage, self.id, self.worker, grace_seconds=grace_seconds,
                          interval_seconds=heartbeat_seconds)
        try:
            with heart:
                yield _Loop(failures, bar, _say_beside(bar, log), heart)
            self._set_status(CAMPAIGN_FINISHED if self.finished_count() >= self.budget else CAMPAIGN_ACTIVE)
        except KeyboardInterrupt:
            self.release_mine()  # so `status` shows them waiting, and any worker may take them up at once
            raise
        except SpaceExhausted:  # every candidate of the design space is scored or pending: nothing left to do
            self._set_status(CAMPAIGN_FINISHED)
            raise
        finally:
            if bar is not None:
                bar.close()

    def _stored_budget(self) -> int:
        """The campaign's budget as stored now (the last run that gave one set it)."""
        self.record = self.storage.get_campaign_by_id(self.id)
        return self.budget

    def _remember(self, updates: dict[str, Any], budget: int | None) -> None:
        """Store the run's oracle (``updates`` from :meth:`_campaign_oracle`) and budget, where they changed."""
        if budget and budget != self._stored_budget():
            updates = {**updates, "budget": budget}  # workers and later runs given none follow it
        if updates:
            self.record = self.storage.update_campaign_config(self.id, updates)

    def _campaign_oracle(self, oracle: Any, command: str | None,
                         change: bool) -> tuple[Any, str | None, dict[str, Any]]:
        """``(oracle, command, config updates)``: what to score with, and what to remember once it builds.

        The campaign's remembered oracle when none is given; the given one when it is the same, or the campaign has
        none remembered yet (it is remembered), or ``change`` says so (the change is recorded). A different one
        without ``change`` is a one-line :class:`ConfigError`."""
        self.record = self.storage.get_campaign_by_id(self.id)
        stored = OracleIdentity.from_json(self.record.config.get(ORACLE_KEY))
        asked_for_none = oracle is None and command is None
        if asked_for_none and stored is not None:
            given = stored.with_current_file()
            oracle, command = stored.arguments()
        else:
            given = identify(oracle, command, self.task)
        if stored is None:
            return oracle, command, {ORACLE_KEY: given.to_json()}
        if given.same_oracle(stored) and given.sha256 == stored.sha256:
            return oracle, command, {}
        if not change:
            if given.same_oracle(stored):
                raise ConfigError(f"the oracle file of campaign {self.name!r} ({stored.spec.rpartition(':')[0]}) "
                                  "changed since it scored the campaign's trials: add --oracle-change to score the "
                                  "rest with the file as it is now (recorded with the campaign)")
            raise ConfigError(f"campaign {self.name!r} is scored by {stored.describe()}; you passed "
                              f"{given.describe()}: drop it to go on with the campaign's oracle, or add "
                              "--oracle-change to score the rest with the new one (recorded with the campaign)")
        change_record = {"from": stored.to_json(), "to": given.to_json(), "finished": self.finished_count(),
                         "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "by": self.worker}
        changes = [*self.record.config.get(ORACLE_CHANGES_KEY, []), change_record]
        return oracle, command, {ORACLE_KEY: given.to_json(), ORACLE_CHANGES_KEY: changes}

    def _outstanding(self, counts: Mapping[str, int]) -> int:
        """Trials proposed but not finished that this run may still evaluate: trials asked for someone else are
        theirs, so this run neither claims nor waits for them."""
        return counts[TrialState.WAITING] - self.storage.count_held(self.id) + counts[TrialState.RUNNING]

    def _oracle_recipe(self, oracle, command, timeout, retries, batch_retries, backoff) -> OracleRecipe:
        """What an executor's workers need to build this campaign's oracle; a one-line error if they cannot."""
        check_oracle_can_travel(oracle)
        if oracle is not None and not isinstance(oracle, str):
            try:
                pickle.dumps(oracle)
            except Exception as exc:
                raise ExecutorError(f"the oracle {oracle!r} cannot be sent to the executor's workers ({exc}): pass "
                                    "it as 'module:function' or 'path/to/file.py:function', or a module-level "
                                    "function") from None
        resolve_oracle(oracle, self.oracle_context(timeout), command=command).close()  # a bad spec fails now
        return OracleRecipe(spec=oracle, command=command, timeout=timeout, task=self.record.task,
                            task_options=dict(self.settings.task_options), retries=retries,
                            batch_retries=batch_retries, backoff=backoff)

    def _run_async(self, executor: Executor, recipe: OracleRecipe, budget: int, max_pending: int | None,
                   max_failure_rate: float, grace_seconds: float, heartbeat_seconds: float | None, progress: bool,
                   log: Callable[[str], None] | None) -> None:
        """The loop with an executor: submit each trial as it is proposed, record each outcome as it returns (in a
        thread of its own, :mod:`oboptim._async_loop`)."""
        from oboptim._async_loop import run_with_executor

        with self._loop(budget, max_failure_rate, grace_seconds, heartbeat_seconds, progress, log) as loop, executor:
            run_with_executor(self, executor, recipe, budget, max_pending, grace_seconds, loop)
        self.executor_busy_seconds = executor.busy_seconds

    def _propose_as_the_one_proposer(self, n: int, budget: int, grace_seconds: float,
                                     heart: Heartbeat) -> list[TrialRecord]:
        """Propose and store a round of ``n`` running trials, if no other worker is proposing ([] if one is)."""
        if not self.storage.acquire_proposer(self.id, self.worker, grace_seconds):
            return []
        heart.hold_proposer()
        try:
            return self._propose_round(n, state=TrialState.RUNNING, holder=self.worker, lease_seconds=grace_seconds,
                                       max_trials=budget)
        finally:
            heart.drop_proposer()
            self.storage.release_proposer(self.id, self.worker)

    def _set_status(self, status: str) -> None:
        if self.storage.get_campaign_by_id(self.id).status != status:
            self.storage.set_campaign_status(self.id, status)

    def oracle_context(self, timeout: float = DEFAULT_ORACLE_TIMEOUT_S) -> OracleContext:
        """What an oracle built for this campaign may use: its task, storage and name."""
        return OracleContext(task=self.task, storage=self.storage, campaign_name=self.name, timeout=timeout)

    def release_mine(self) -> int:
        """Hand back the running trials this process holds (after an interrupt); returns how many."""
        released = 0
        for trial in self.trials([TrialState.RUNNING]):
            if trial.worker == self.worker:
                try:
                    self.storage.release_trial(trial.id, worker=self.worker, campaign_id=self.id)
                    released += 1
                except TrialConflictError:
                    pass  # finished meanwhile
        return released

    def requeue_dead_workers(self) -> int:
        """Put back to waiting the running trials of processes on this host that no longer exist, and free the
        proposer lease if such a process held it."""
        host = host_name()
        proposer = self.storage.proposer(self.id)
        if proposer is not None and _dead_here(proposer[0], host):
            self.storage.release_proposer(self.id, proposer[0])
        released = 0
        for trial in self.trials([TrialState.RUNNING]):
            if _dead_here(trial.worker or "", host):
                try:
                    self.storage.release_trial(trial.id, worker=trial.worker, campaign_id=self.id)
                    released += 1
                except TrialConflictError:
                    pass  # finished or taken meanwhile
        return released

    def round_summary(self, round_index: int, budget: int | None = None) -> str:
        """One line: progress, best so far, surrogate fit, ESS and the surrogate-vs-oracle gap of a round."""
        record = self.storage.get_round(self.id, round_index)
        diag = RoundDiagnostics.from_json(record.diagnostics if record else None)
        best = self.best()
        parts = [f"round {round_index:3d}", f"{self.finished_count()}/{budget or self.budget} done",
                 f"best {best.value:.4g}" if best else "best -"]
        if diag.source == SMC:
            parts.append(f"fit {diag.seconds_fit or 0:.1f}s")
            parts.append(f"propose {diag.seconds_propose:.1f}s")
            ess_min = float("nan") if diag.ess_min is None else diag.ess_min
            parts.append(f"ESS min {ess_min:.0f}/{self.settings.particles}")
        else:
            parts.append("prior samples")
        if diag.gap is not None:
            parts.append(f"gap {diag.gap.gap:+.3g} (rmse {diag.gap.gap_rmse:.3g})")
        if diag.retried_batches:
            parts.append(f"oracle retried {diag.retried_batches}x (last: {diag.retry_reason})")
        if diag.note:
            parts.append(diag.note)
        return " | ".join(parts)

    # -- internals -------------------------------------------------------------------------------------------------

    def _history(self) -> History:
        trials = self.trials()
        shape = self._domain_shape(trials)
        done = [t for t in trials if t.state == TrialState.COMPLETED]
        pending = [t for t in trials if t.state in (TrialState.WAITING, TrialState.RUNNING)]
        failed = [t for t in trials if t.state == TrialState.FAILED]
        stack = lambda ts: np.stack([t.x for t in ts]) if ts else np.zeros((0, *shape), np.float32)  # noqa: E731
        return History(stack(done), np.array([t.value for t in done], dtype=np.float64), stack(pending),
                       stack(failed))

    def _domain_shape(self, trials: list[TrialRecord]) -> tuple[int, ...]:
        if trials:
            return tuple(trials[0].x.shape)
        return (self.task.sequence.length,) if self.task.sequence is not None else tuple(self.prior.sample_shape)

    def _propose_round(self, n: int, *, state: str, holder: str, lease_seconds: float | None = None,
                       max_trials: int | None = None) -> list[TrialRecord]:
        """Propose and store one round held by ``holder``; [] when concurrent workers hold all of ``max_trials``."""
        self.storage.check_writable()  # a read-only database fails before the proposal's work
        while True:  # another worker may take the same round number first: each loss means the campaign moved on
            round_index = len(self.storage.rounds(self.id))
            generator = round_generator(self.seed, round_index, self.device)
            rng_state = generator.get_state().cpu().numpy().tobytes()
            proposal = propose(self.task, self.prior, self.settings, self._history(), n, generator,
                               round_index=round_index, particle_batch_size=self.particle_batch_size)
            try:
                return self.storage.add_round(
                    self.id, round_index, list(proposal.xs), [p.to_json() for p in proposal.provenances], rng_state,
                    proposal.diagnostics.to_json(),
                    surrogate=proposal.surrogate, state=state, worker=holder, lease_seconds=lease_seconds,
                    max_trials=max_trials, proposer=self.worker,
                )
            except RoundExistsError:
                self.discarded_proposals += 1  # only when a proposer lease ran out mid-proposal
                continue

    def _evaluate(self, oracle: Oracle, trials: list[TrialRecord], retry: tuple[int, int, float],
                  failures: FailureBudget, bar, heart: Heartbeat) -> None:
        """Query the oracle on ``trials`` and record each outcome; an interrupted oracle's answers are kept."""
        xs = np.stack([t.x for t in trials])
        ids = [t.id for t in trials]
        retries, batch_retries, backoff = retry
        heart.hold(ids)
        try:
            outcomes = evaluate_with_retries(oracle, ids, xs, retries, batch_retries=batch_retries, backoff_s=backoff)
            # told by someone else meanwhile (`oboptim tell`), or taken over after a lost lease: the other answer stands
            record_outcomes(self.storage, self.id, list(zip(ids, outcomes)), skip_conflicts=True, holder=self.worker)
        except OracleInterrupted as interrupt:  # Ctrl-C, SIGTERM, a rater's end of input: keep what was answered
            given = [(i, interrupt.outcomes[i]) for i in ids if i in interrupt.outcomes]
            record_outcomes(self.storage, self.id, given, skip_conflicts=True, holder=self.worker)
            raise  # run() hands the rest back to waiting
        finally:
            heart.drop(ids)
        if bar is not None:
            bar.n = self.finished_count()
            bar.refresh()
        failures.record(outcomes)
        failures.check()


class TaskFileChangedWarning(UserWarning):
    """A campaign's task file changed since the campaign was created; its proposals may no longer be comparable."""


def _warn_if_the_task_file_changed(name: str, record: CampaignRecord) -> None:
    stored = record.config.get("task_sha256")
    if stored is not None and task_file_digest(record.task) not in (None, stored):
        warnings.warn(f"the task file of campaign {name!r} ({record.task.rpartition(':')[0]}) changed since the "
                      "campaign was created: its oracle, prior or features may differ from the stored trials'",
                      TaskFileChangedWarning, stacklevel=3)


DEFAULT_ROUNDS = 4  # a default budget holds at least this many rounds: round 0 samples the prior, the rest learn


def default_budget(batch_size: int) -> int:
    """The budget of a campaign created with none (and a task that names none): 64, or four rounds if larger."""
    return max(DEFAULT_BUDGET, DEFAULT_ROUNDS * int(batch_size))


class SmallBudgetWarning(UserWarning):
    """A campaign whose budget holds one round or less: its trials are all prior samples, the surrogate never acts."""


def _warn_if_one_round(budget: int, batch_size: int) -> None:
    if 0 < budget <= batch_size:
        warnings.warn(f"a budget of {budget} holds one round of {batch_size} (the first round samples the prior), "
                      "so the surrogate never steers the campaign: give --budget above --batch-size",
                      SmallBudgetWarning, stacklevel=3)


def _checked_budget(budget: Any) -> int:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise ConfigError(f"budget must be a number of finished trials >= 0; got {budget!r}")
    return int(budget)


def _task_for_new_campaign(spec: str, options: dict[str, Any]) -> Task:
    """Load the task with its options, first checking that none of its required options is missing."""
    _, required = task_options_of(spec)
    missing = [name for name in required if options.get(name) is None]
    if missing:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in missing)
        raise ConfigError(f"task {spec!r} needs {', '.join(missing)} (on the command line: {flags})")
    return load_task(spec, options)


def _outcome_of(trial: TrialRecord) -> Outcome:
    return Outcome(value=trial.value) if trial.state == TrialState.COMPLETED else Outcome(error=trial.error or "failed")


def _dead_here(worker: str, host: str) -> bool:
    """Whether ``worker`` (``HOST:PID``) was a process on ``host`` that no longer exists."""
    owner_host, _, pid = worker.rpartition(":")
    return owner_host == host and pid.isdigit() and not _process_alive(int(pid))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _say_beside(bar, log: Callable[[str], None] | None) -> Callable[[str], None]:
    """``log`` for round summaries, written so that they do not break a progress bar on the terminal."""
    if log is None:
        return lambda line: None
    if bar is None:
        return log

    def say(line: str) -> None:
        with bar.external_write_mode(file=sys.stderr):
            log(line)

    return say


def _progress_bar(total: int, initial: int, *, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="trials", unit="trial", dynamic_ncols=True, file=sys.stderr)
