"""The ``oboptim`` command (also ``python -m oboptim``).

Errors a user can fix print one line, ``error: ...``, and exit with status 2; nothing is written. Choices of kinds
(surrogates, acquisitions, resamplers, ...) and their help come from the registries, so ``oboptim --help`` and
``oboptim run --help`` import no torch.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

import click

from oboptim._cli_common import kind_option, storage_option, user_errors, warnings_as_lines
from oboptim._registry import (
    ACQUISITIONS,
    ORACLE_KINDS,
    RESAMPLERS,
    SELECTIONS,
    SURROGATES,
    TASKS,
    TEMPERING_SCHEDULES,
)
from oboptim._settings import ALPHA_UNITS, CampaignSettings
from oboptim.errors import OboptimError

_LIBRARY = CampaignSettings()  # the library's defaults, named in the options' help


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oboptim")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Black-box online optimisation with diffusion-model priors."""
    warnings_as_lines(ctx)


@main.command()
@user_errors
def tasks() -> None:
    """List the built-in tasks."""
    from oboptim._task import task_options_of

    for kind in TASKS.kinds():
        _, required = task_options_of(kind.name)
        needs = f" (needs {', '.join('--' + n.replace('_', '-') for n in required)})" if required else ""
        click.echo(f"{kind.name:14s} {kind.help}{needs}")


@main.command()
@click.argument("task", required=False)
@click.option("--name", required=True, help="Campaign name; an existing campaign is resumed.")
@click.option("--worker", is_flag=True,
              help="Join an existing campaign (never create one): several processes, on one machine or several "
                   "sharing one database, work it together until its budget is finished.")
@storage_option
@click.option("--budget", type=click.IntRange(min=1), default=None,
              help="Run until this many trials are finished (completed or failed).  [default: the campaign's; "
                   "when creating: the task's, else 64]")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Candidates per round.  [default: the task's, else 16]")
@click.option("--seed", type=int, default=None,
              help="The campaign's seed; with it, the campaign proposes the same candidates every time.  [default: 0]")
@click.option("--oracle", default=None,
              help="module:function, path/to/file.py:function, a task's own named oracle (e.g. jpeg, classifier:3), "
                   "or an oracle kind (" + "; ".join(f"{k.name}: {k.help}" for k in ORACLE_KINDS.kinds()) + ").")
@click.option("--oracle-cmd", default=None, help="Shell command speaking JSON lines on stdin/stdout.")
@click.option("--oracle-change", is_flag=True,
              help="Score with the --oracle or --oracle-cmd given although the campaign remembers another one (the "
                   "one it was created or first run with, which a run given none uses); the change is recorded with "
                   "the campaign.")
@click.option("--oracle-timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Seconds a batch may take, for oracles run outside this process: an --oracle-cmd command, and an "
                   "--oracle module:function or file.py:function (run in a worker process). Past it they are killed "
                   "and the batch is asked again after a pause, then fails. A task's own oracles and human raters "
                   "have no limit.")
@kind_option("--surrogate", SURROGATES, "Surrogate model  [default: the task's, else gp]")
@kind_option("--acquisition", ACQUISITIONS, f"Acquisition the sampler is tilted by  [default: the task's, else "
                                            f"{_LIBRARY.acquisition}]")
@click.option("--beta", type=click.FloatRange(min=0), default=None,
              help=f"UCB exploration weight.  [default: the task's, else {_LIBRARY.beta:g}]")
@click.option("--particles", type=click.IntRange(min=1), default=None,
              help=f"SMC particles per candidate.  [default: the task's, else {_LIBRARY.particles}]")
@click.option("--alpha", type=click.FloatRange(min=0, min_open=True), default=None,
              help="KL coefficient: smaller trusts the acquisition more.  "
                   f"[default: the task's, else {_LIBRARY.alpha:g}]")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help=f"Reverse diffusion steps.  [default: the task's, else {_LIBRARY.steps}]")
@click.option("--alpha-units", type=click.Choice(ALPHA_UNITS), default=None,
              help="alpha in the oracle's units, or in standard deviations of the values observed so far.  "
                   f"[default: the task's, else {_LIBRARY.alpha_units}]")
@kind_option("--selection", SELECTIONS, "How the batch is taken from the final particles  [default: the task's, "
                                        f"else {_LIBRARY.selection}]")
@kind_option("--select-acquisition", ACQUISITIONS, "With --selection sequential: the acquisition that ranks the "
                                                   "picks after the best --top-fraction, each on the surrogate told "
                                                   "of the earlier ones  [default: the task's, else "
                                                   f"{_LIBRARY.select_acquisition}]")
@click.option("--top-fraction", type=click.FloatRange(0, 1), default=None,
              help="With --selection sequential: the share of the batch taken best-first by the sampler's "
                   f"acquisition.  [default: the task's, else {_LIBRARY.top_fraction:g}]")
@click.option("--manifold-check", type=click.FloatRange(0, 100, max_open=True), default=None,
              help="Drop final particles whose denoising error exceeds that of the worst this percent of prior "
                   f"samples; 0 turns it off.  [default: the task's, else {_LIBRARY.manifold_check:g}]")
@click.option("--warm-start", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Start each group of particles from one of the best candidates so far, noised to this fraction of "
                   "the diffusion time (local edits); 0 starts from noise.  [default: the task's (sequence tasks: "
                   f"0.5), else {_LIBRARY.warm_start:g}]")
@click.option("--warm-start-seeds", type=click.IntRange(min=1), default=None,
              help="With --warm-start: how many of the best candidates the groups start from.  [default: the "
                   f"task's, else {_LIBRARY.warm_start_seeds}]")
@kind_option("--resampling", RESAMPLERS, "SMC resampling scheme  [default: ssp]")
@kind_option("--tempering", TEMPERING_SCHEDULES, "SMC tempering schedule  [default: exp]")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Where the sampler runs; may change between sessions of a campaign.")
@click.option("--retries", type=click.IntRange(min=0), default=0, show_default=True,
              help="Query a failed trial again this many times.")
@click.option("--max-failure-rate", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Stop with an error when more than this fraction of the trials failed.")
@click.option("--particle-batch-size", type=click.IntRange(min=1), default=None,
              help="Bound on particles per denoiser call, to fit GPU memory.  [default: the task's, else all]")
@click.option("--prior-path", type=click.Path(exists=True, file_okay=False, resolve_path=True), default=None,
              help="Task option: folder of a local diffusers pipeline (task sd).")
@click.option("--prompt", default=None, help="Task option: the text prompt (task sd).")
@click.option("--guidance-scale", type=float, default=None, help="Task option: classifier-free guidance (task sd).")
@click.option("--task-option", "task_option_pairs", multiple=True, metavar="KEY=VALUE",
              help="Any other task option; VALUE is read as JSON when it parses, else as text. Repeatable.")
@click.option("--worker-name", default=None, metavar="NAME",
              help="This process's name as a worker; restarted under the same name, it finishes its own unfinished "
                   "trials first.  [default: HOST:PID]")
@click.option("--grace", "grace_seconds", type=click.FloatRange(min=0, min_open=True), default=120.0,
              show_default=True,
              help="Seconds after a worker's last heartbeat before other workers take over its trials. A slow oracle "
                   "never loses its trials: they are renewed in the background while this process lives.")
@click.option("--heartbeat", "heartbeat_seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds between heartbeats.  [default: a quarter of --grace]")
@click.option("--executor", default=None, metavar="SPEC",
              help="Evaluate each trial as soon as it is proposed, keeping --max-pending in flight: process:N (N local "
                   "worker processes), ray (a local Ray), ray:N (N CPUs) or ray://HOST:PORT (a Ray cluster; "
                   "pip install 'oboptim[ray]').  [default: one batch at a time]")
@click.option("--max-pending", type=click.IntRange(min=1), default=None,
              help="With --executor, proposed trials unfinished at once (running or queued).  "
                   "[default: twice the executor's slots]")
@click.option("--quiet", is_flag=True, help="No progress bar (round summaries still go to standard error).")
@user_errors
def run(task, name, worker, storage, budget, batch_size, seed, oracle, oracle_cmd, oracle_change, oracle_timeout,
        surrogate,
        acquisition, beta, particles, alpha, steps, alpha_units, selection, select_acquisition, top_fraction,
        manifold_check, warm_start, warm_start_seeds, resampling, tempering, device, retries,
        max_failure_rate, particle_batch_size, prior_path, prompt, guidance_scale, task_option_pairs, worker_name,
        grace_seconds, heartbeat_seconds, executor, max_pending, quiet) -> None:
    """Create campaign NAME on TASK, or resume it, and run it until BUDGET trials are finished.

    TASK may be left out to resume an existing campaign; with --worker this process joins one that another
    process created, and works it together with every other process on the same database. Results go to standard
    output; progress, round summaries and whatever a Python oracle prints go to standard error.

    The campaign remembers its oracle (--oracle or --oracle-cmd when it was created, else on its first run): a
    resume or a worker given none scores with it, and one given another is refused unless --oracle-change.
    """
    from oboptim._campaign import Campaign
    from oboptim.storage import Storage, display_url, is_in_memory

    _sigterm_as_interrupt()
    if oracle and oracle_cmd:
        raise click.UsageError("give either --oracle or --oracle-cmd, not both")
    settings = dict(batch_size=batch_size, surrogate=surrogate, acquisition=acquisition, beta=beta,
                    particles=particles, alpha=alpha, steps=steps, alpha_units=alpha_units, selection=selection,
                    select_acquisition=select_acquisition, top_fraction=top_fraction, manifold_check=manifold_check,
                    warm_start=warm_start, warm_start_seeds=warm_start_seeds, resampling=resampling,
                    tempering=tempering)
    task_options = _task_options(prior_path, prompt, guidance_scale, task_option_pairs)
    _check_before_storage(task, task_options, oracle, executor)  # bad input leaves no database behind
    store = Storage(storage, create=not worker)
    if is_in_memory(store.url):
        click.echo(f"warning: {display_url(store.url)} keeps the campaign in memory: nothing is saved when this "
                   "command ends (use sqlite:///FILE.db)", err=True)
    existing = store.get_campaign(name)
    if existing is None and (worker or task is None):
        hint = ("start it first with `oboptim run TASK --name NAME`, then add workers" if worker
                else "give a TASK to create it")
        raise OboptimError(f"no campaign {name!r} in {display_url(store.url)}: {hint}")
    store.check_writable()
    if oracle != "human-web":  # a bad oracle spec fails before anything is written (human-web needs the campaign)
        _check_oracle(oracle, oracle_cmd, oracle_timeout, existing, task, task_options)
    campaign = Campaign.open(name, storage=store, task=task, seed=seed, device=device,
                             particle_batch_size=particle_batch_size, task_options=task_options, oracle=oracle,
                             budget=budget, worker_name=worker_name, **settings)
    click.echo(f"campaign {campaign.name!r} on {campaign.task.name} in {display_url(store.url)}", err=True)
    with contextlib.redirect_stdout(sys.stderr):  # a Python oracle's prints are diagnostics, not results
        campaign.run(budget=budget, oracle=oracle, oracle_command=oracle_cmd, oracle_timeout=oracle_timeout,
                     retries=retries, max_failure_rate=max_failure_rate, grace_seconds=grace_seconds,
                     heartbeat_seconds=heartbeat_seconds, executor=executor, max_pending=max_pending,
                     progress=not quiet, oracle_change=oracle_change,
                     log=lambda line: click.echo(line, err=True))
    best = campaign.best()
    click.echo(f"finished {campaign.finished_count()} trials; best value {best.value:.6g} (trial {best.id})"
               if best else f"finished {campaign.finished_count()} trials; none completed")
    held = campaign.storage.count_held(campaign.id)
    if held:
        click.echo(f"{held} trial(s) asked with `oboptim ask` still wait for their values (`oboptim tell`, or "
                   "`oboptim release` to let a run query them)", err=True)


@main.command()
@click.argument("name", required=False)
@storage_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per campaign.")
@user_errors
def status(name, storage, as_json) -> None:
    """Show one campaign, or list them all: trials by state, budget, rounds, best value, active or finished."""
    from oboptim._view import CampaignView
    from oboptim.storage import Storage

    store = Storage(storage, create=False, read_only=True)
    views = ([CampaignView.open(name, store)] if name
             else [CampaignView(store, record) for record in store.list_campaigns()])
    for view in views:
        summary = view.summary()
        click.echo(json.dumps(summary.to_json()) if as_json else summary.line())


@main.command()
@click.argument("name")
@click.option("-n", "count", type=click.IntRange(min=0), default=None,
              help="How many candidates.  [default: the campaign's batch size]")
@click.option("--lease", "lease_seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds after which `oboptim run` may query them itself.  [default: never; they are yours "
                   "until told, failed or released]")
@storage_option
@user_errors
def ask(name, count, lease_seconds, storage) -> None:
    """Propose candidates for you to score; print their trial ids and x as JSON lines.

    The trials are yours: `oboptim run` does not query them. Tell each value with `oboptim tell`, mark a failure
    with `oboptim tell NAME ID --fail REASON`, or hand them back with `oboptim release`.
    """
    from oboptim._campaign import Campaign
    from oboptim.storage import Storage

    store = Storage(storage, create=False)
    _require_campaign(store, name)
    store.check_writable()  # before the proposal's work
    campaign = Campaign.open(name, storage=store)
    for trial in campaign.ask(count, lease_seconds=lease_seconds):
        click.echo(json.dumps({"trial_id": trial.id, "round": trial.round, "x": campaign.shown_x(trial)}))


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("trial_id", type=int)
@click.argument("value", required=False, type=click.UNPROCESSED)
@click.option("--fail", "reason", default=None, metavar="REASON", help="Mark the trial failed instead.")
@click.option("--force", is_flag=True,
              help="Record it even though `oboptim run` is measuring the trial: yours stands, the trial says it was "
                   "told with --force, and that run's value is dropped (it says so).")
@storage_option
@user_errors
def tell(name, trial_id, value, reason, force, storage) -> None:
    """Record VALUE for TRIAL_ID (negative values welcome), or --fail REASON.

    A trial that `oboptim run` is measuring is that run's: it is refused, unless --force.
    """
    from oboptim._view import CampaignView
    from oboptim.storage import InvalidValue

    if (value is None) == (reason is None):
        raise InvalidValue("give either a VALUE or --fail REASON")
    view = CampaignView.open(name, storage)
    if reason is not None:
        record = view.fail(trial_id, reason, force=force)
        click.echo(f"trial {trial_id} failed: {record.error}")
        return
    try:
        number = float(value)
    except ValueError:
        raise InvalidValue(f"value {value!r} is not a number; use --fail REASON to mark a failed trial") from None
    record = view.tell(trial_id, number, force=force)
    click.echo(f"trial {trial_id} = {record.value:.6g}")


@main.command()
@click.argument("name")
@click.argument("trial_ids", type=int, nargs=-1)
@click.option("--all-asked", is_flag=True, help="Release every trial asked with `oboptim ask` and not yet told.")
@storage_option
@user_errors
def release(name, trial_ids, all_asked, storage) -> None:
    """Hand asked trials back to the campaign, so that `oboptim run` queries them with its own oracle."""
    from oboptim._view import CampaignView
    from oboptim.storage import TrialState

    if not trial_ids and not all_asked:
        raise OboptimError("give the TRIAL_IDs to release, or --all-asked")
    view = CampaignView.open(name, storage)
    if all_asked:
        trial_ids = (*trial_ids, *(t.id for t in view.trials([TrialState.WAITING]) if t.worker))
    if not trial_ids:
        click.echo(f"no trial of {view.name} is asked: nothing to release")
        return
    for record in view.release(dict.fromkeys(trial_ids)):
        click.echo(f"trial {record.id} released")


@main.command()
@click.argument("name")
@storage_option
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default: stdout).")
@user_errors
def export(name, storage, fmt, out) -> None:
    """One row per trial, with the columns trial_id (what `oboptim tell` takes), number (its place in the campaign,
    from 0), round, state, value, error, x (a JSON list; a string for sequences), predicted_mean, predicted_std,
    acquisition, log_weight, source (prior or smc), worker (who measured it), created_at and finished_at."""
    from oboptim._export import export_trials
    from oboptim._view import CampaignView

    view = CampaignView.open(name, storage, read_only=True)
    text = export_trials(view.trials(), fmt, sequence=view.sequence)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text)
    except OSError as failure:
        raise OboptimError(f"cannot write {out} ({failure.strerror or failure}): choose another path") from None
    click.echo(f"wrote {out}", err=True)


@main.command()
@click.argument("name")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@storage_option
@user_errors
def report(name, out, storage) -> None:
    """Write PNG plots of a campaign, and rounds.txt (how each round was proposed), to OUT."""
    from oboptim._report import write_report
    from oboptim._view import CampaignView

    view = CampaignView.open(name, storage, read_only=True)
    view.task = _task_for_plots(view)
    try:
        paths = write_report(view, out)
    except OSError as failure:
        where = failure.filename or out
        raise OboptimError(f"cannot write the report into {where} ({failure.strerror or failure}): choose another "
                           "directory") from None
    for path in paths:
        click.echo(str(path))


@main.command()
@storage_option
@user_errors
def upgrade(storage) -> None:
    """Upgrade a database to this version's schema."""
    from oboptim.storage import display_url, resolve_storage_url
    from oboptim.storage import upgrade as upgrade_storage

    url = resolve_storage_url(storage)
    upgrade_storage(url)
    click.echo(f"{display_url(url)} is at the current schema")


def _sigterm_as_interrupt() -> None:
    """Until the command ends, SIGTERM stops it like Ctrl-C: a KeyboardInterrupt in the main thread, so that the
    oracle's processes are killed and the trials it holds are handled as on an interrupt, instead of a silent death."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, interrupt)
    click.get_current_context().call_on_close(lambda: signal.signal(signal.SIGTERM, previous))


def _task_options(prior_path, prompt, guidance_scale, pairs) -> dict | None:
    """The task options given on the command line (None when there are none: a resume uses the stored ones)."""
    options = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise OboptimError(f"--task-option {pair!r} must look like KEY=VALUE")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        if isinstance(value, (list, dict)):
            raise OboptimError(f"--task-option {pair!r}: VALUE must be a number, a string or a boolean")
        options[key.strip().replace("-", "_")] = value
    named = {"prior_path": prior_path, "prompt": prompt, "guidance_scale": guidance_scale}
    options.update({k: v for k, v in named.items() if v is not None})
    return options or None


def _require_campaign(store, name: str) -> None:
    if store.get_campaign(name) is None:
        raise OboptimError(store.missing_campaign_message(name))


def _task_for_plots(view):
    """The campaign's task when its plots can use it (the prior's data behind 2-D queries), else None."""
    first = next(iter(view.trials()), None)
    if first is None or first.x.shape != (2,):
        return None
    from oboptim._task import load_task

    try:
        return load_task(view.record.task, view.settings.task_options)
    except OboptimError:
        return None  # a task that no longer loads: plot without the background


def _check_before_storage(task, task_options, oracle, executor) -> None:
    """What can be judged before the database is opened: the executor spec, an oracle that cannot run on one, and
    the task's options (a task file or module is loaded with them: a bad value is one line, and no campaign)."""
    if executor is not None:
        from oboptim.executors._base import check_oracle_can_travel, parse_executor

        parse_executor(executor)  # process:0, thread:2, ray:x
        check_oracle_can_travel(oracle)
    if task is not None and task_options:
        from oboptim._campaign import _task_for_new_campaign

        _task_for_new_campaign(task, task_options)  # required options first, then the task with its options


def _check_oracle(oracle, oracle_cmd, oracle_timeout, existing, task, task_options=None) -> None:
    """Build (and close) the oracle once, so that a bad spec is a one-line error before anything is written."""
    from oboptim._settings import CampaignSettings
    from oboptim._task import load_task
    from oboptim.oracles import OracleContext, resolve_oracle

    task_obj = (load_task(existing.task, CampaignSettings.from_stored(existing.config).task_options)
                if existing is not None else load_task(task, task_options))
    resolve_oracle(oracle, OracleContext(task=task_obj, timeout=oracle_timeout), command=oracle_cmd).close()


def _register_serve() -> None:
    from oboptim.web._cli_serve import serve_command

    main.add_command(serve_command, "serve")


_register_serve()

if __name__ == "__main__":
    main()
