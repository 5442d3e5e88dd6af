"""The ``oboptim`` command (also ``python -m oboptim``).

Errors a user can fix print one line, ``error: ...``, and exit with status 2; nothing is written. Choices of kinds
(surrogates, acquisitions, resamplers, ...) and their help come from the registries, so ``oboptim --help`` and
``oboptim run --help`` import no torch.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import click

from oboptim._cli_common import kind_option, storage_option, user_errors
from oboptim._registry import (
    ACQUISITIONS,
    ORACLE_KINDS,
    RESAMPLERS,
    SELECTIONS,
    SURROGATES,
    TASKS,
    TEMPERING_SCHEDULES,
)
from oboptim._settings import ALPHA_UNITS
from oboptim.errors import OboptimError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oboptim")
def main() -> None:
    """Black-box online optimisation with diffusion-model priors."""


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
@click.option("--budget", type=click.IntRange(min=1), default=None, help="Run until this many trials are finished.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--seed", type=int, default=None)
@click.option("--oracle", default=None,
              help="module:function, path/to/file.py:function, a task's own named oracle (e.g. jpeg, classifier:3), "
                   "or an oracle kind (" + "; ".join(f"{k.name}: {k.help}" for k in ORACLE_KINDS.kinds()) + ").")
@click.option("--oracle-cmd", default=None, help="Shell command speaking JSON lines on stdin/stdout.")
@click.option("--oracle-timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True)
@kind_option("--surrogate", SURROGATES, "Surrogate model")
@kind_option("--acquisition", ACQUISITIONS, "Acquisition the sampler is tilted by")
@click.option("--beta", type=click.FloatRange(min=0), default=None, help="UCB exploration weight.")
@click.option("--particles", type=click.IntRange(min=1), default=None, help="SMC particles per candidate.")
@click.option("--alpha", type=click.FloatRange(min=0, min_open=True), default=None, help="KL coefficient.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Reverse diffusion steps.")
@click.option("--alpha-units", type=click.Choice(ALPHA_UNITS), default=None,
              help="alpha in the oracle's units, or in standard deviations of the values observed so far.")
@kind_option("--selection", SELECTIONS, "How the batch is taken from the final particles")
@kind_option("--resampling", RESAMPLERS, "SMC resampling scheme")
@kind_option("--tempering", TEMPERING_SCHEDULES, "SMC tempering schedule")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--retries", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--max-failure-rate", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("--particle-batch-size", type=click.IntRange(min=1), default=None,
              help="Bound on particles per denoiser call, to fit GPU memory.")
@click.option("--prior-path", type=click.Path(exists=True, file_okay=False, resolve_path=True), default=None,
              help="Task option: folder of a local diffusers pipeline (task sd).")
@click.option("--prompt", default=None, help="Task option: the text prompt (task sd).")
@click.option("--guidance-scale", type=float, default=None, help="Task option: classifier-free guidance (task sd).")
@click.option("--task-option", "task_option_pairs", multiple=True, metavar="KEY=VALUE",
              help="Any other task option; VALUE is read as JSON when it parses, else as text. Repeatable.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def run(task, name, worker, storage, budget, batch_size, seed, oracle, oracle_cmd, oracle_timeout, surrogate,
        acquisition, beta, particles, alpha, steps, alpha_units, selection, resampling, tempering, device, retries,
        max_failure_rate, particle_batch_size, prior_path, prompt, guidance_scale, task_option_pairs, quiet) -> None:
    """Create campaign NAME on TASK, or resume it, and run it until BUDGET trials are finished.

    TASK may be left out to resume an existing campaign; with --worker this process joins one that another
    process created, and works it together with every other process on the same database.
    """
    from oboptim._campaign import Campaign
    from oboptim.storage import Storage

    _sigterm_as_interrupt()
    if oracle and oracle_cmd:
        raise click.UsageError("give either --oracle or --oracle-cmd, not both")
    settings = dict(batch_size=batch_size, surrogate=surrogate, acquisition=acquisition, beta=beta,
                    particles=particles, alpha=alpha, steps=steps, alpha_units=alpha_units, selection=selection,
                    resampling=resampling, tempering=tempering)
    task_options = _task_options(prior_path, prompt, guidance_scale, task_option_pairs)
    store = Storage(storage, create=not worker)
    existing = store.get_campaign(name)
    if existing is None and (worker or task is None):
        hint = ("start it first with `oboptim run TASK --name NAME`, then add workers" if worker
                else "give a TASK to create it")
        raise OboptimError(f"no campaign {name!r} in {store.url}: {hint}")
    if oracle != "human-web":  # a bad oracle spec fails before anything is written (human-web needs the campaign)
        from oboptim._settings import CampaignSettings
        from oboptim._task import load_task
        from oboptim.oracles import OracleContext, resolve_oracle

        task_obj = (load_task(existing.task, CampaignSettings.from_stored(existing.config).task_options)
                    if existing is not None else load_task(task))
        resolve_oracle(oracle, OracleContext(task=task_obj, timeout=oracle_timeout), command=oracle_cmd).close()
    campaign = Campaign.open(name, storage=store, task=task, seed=seed, device=device,
                             particle_batch_size=particle_batch_size, task_options=task_options, oracle=oracle,
                             budget=budget, **settings)
    click.echo(f"campaign {campaign.name!r} on {campaign.task.name} in {campaign.storage.url}", err=True)
    campaign.run(budget=budget, oracle=oracle, oracle_command=oracle_cmd, oracle_timeout=oracle_timeout,
                 retries=retries, max_failure_rate=max_failure_rate, progress=not quiet,
                 log=lambda line: click.echo(line, err=True))
    best = campaign.best()
    click.echo(f"finished {campaign.finished_count()} trials; best value {best.value:.6g} (trial {best.id})"
               if best else f"finished {campaign.finished_count()} trials; none completed")


@main.command()
@click.argument("name", required=False)
@storage_option
@user_errors
def status(name, storage) -> None:
    """Show one campaign, or list them all."""
    from oboptim.storage import Storage, TrialState

    store = Storage(storage, create=False)
    records = [store.get_campaign(name)] if name else store.list_campaigns()
    if name and records[0] is None:
        raise _unknown_campaign(name, store)
    for record in records:
        counts = store.count_trials(record.id)
        done = store.trials(record.id, states=[TrialState.COMPLETED])
        best = max((t.value for t in done), default=None)
        counts_text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
        click.echo(f"{record.name}: task {record.task}, {len(store.rounds(record.id))} rounds, "
                   f"{counts_text or 'no trials'}, best {best if best is not None else '-'}, {record.status}")


@main.command()
@click.argument("name")
@click.option("-n", "count", type=click.IntRange(min=1), default=None, help="How many candidates.")
@storage_option
@user_errors
def ask(name, count, storage) -> None:
    """Propose candidates; print their trial ids and x as JSON lines."""
    campaign = _existing(name, storage)
    for trial in campaign.ask(count):
        click.echo(json.dumps({"trial_id": trial.id, "round": trial.round, "x": trial.x.tolist()}))


@main.command()
@click.argument("name")
@click.argument("trial_id", type=int)
@click.argument("value", required=False)
@click.option("--fail", "reason", default=None, metavar="REASON", help="Mark the trial failed instead.")
@storage_option
@user_errors
def tell(name, trial_id, value, reason, storage) -> None:
    """Record VALUE for TRIAL_ID (or --fail REASON)."""
    from oboptim.storage import InvalidValue

    campaign = _existing(name, storage)
    if (value is None) == (reason is None):
        raise InvalidValue("give either a VALUE or --fail REASON")
    if reason is not None:
        campaign.fail(trial_id, reason)
        click.echo(f"trial {trial_id} failed: {reason}")
        return
    try:
        number = float(value)
    except ValueError:
        raise InvalidValue(f"value {value!r} is not a number; use --fail REASON to mark a failed trial") from None
    campaign.tell(trial_id, number)
    click.echo(f"trial {trial_id} = {number:.6g}")


@main.command()
@click.argument("name")
@storage_option
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default: stdout).")
@user_errors
def export(name, storage, fmt, out) -> None:
    """One row per trial: trial_id, round, state, value, error, x (JSON list), provenance."""
    from oboptim._export import export_trials

    campaign = _existing(name, storage, load=False)
    text = export_trials(campaign, fmt)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
        click.echo(f"wrote {out}", err=True)


@main.command()
@click.argument("name")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@storage_option
@user_errors
def report(name, out, storage) -> None:
    """Write PNG plots of a campaign to OUT."""
    from oboptim._report import write_report

    campaign = _existing(name, storage, load=False)
    for path in write_report(campaign, out):
        click.echo(str(path))


@main.command()
@storage_option
@user_errors
def upgrade(storage) -> None:
    """Upgrade a database to this version's schema."""
    from oboptim.storage import resolve_storage_url
    from oboptim.storage import upgrade as upgrade_storage

    url = resolve_storage_url(storage)
    upgrade_storage(url)
    click.echo(f"{url} is at the current schema")


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


def _existing(name: str, storage: str | None, load: bool = True):
    from oboptim._campaign import Campaign
    from oboptim.storage import Storage

    store = Storage(storage, create=False)
    if store.get_campaign(name) is None:
        raise _unknown_campaign(name, store)
    return Campaign.open(name, storage=store)


def _unknown_campaign(name: str, store) -> OboptimError:
    return OboptimError(store.missing_campaign_message(name))


def _register_serve() -> None:
    from oboptim.web._cli_serve import serve_command

    main.add_command(serve_command, "serve")


_register_serve()

if __name__ == "__main__":
    main()
