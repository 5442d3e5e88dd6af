"""Registries: every declared kind is bound where it is defined, and every list of kinds (settings, CLI, docs) agrees.

A kind is named in one place, the light name table of oboptim/_registry.py, and implemented in one module. These
tests fail, naming the line to add, when the table and the implementations drift apart.
"""

import subprocess
import sys
from pathlib import Path

import click
import pytest
import torch

from oboptim import TASKS, CampaignSettings, ConfigError, Registry, UnknownKindError
from oboptim._registry import REGISTRIES, RESAMPLERS, SELECTIONS, extension_points_markdown
from oboptim.cli import main
from oboptim.sampling import SMCConfig, SMCSampler

ROOT = Path(__file__).resolve().parents[1]
SETTING_REGISTRIES = ["RESAMPLERS", "TEMPERING_SCHEDULES", "SELECTIONS", "SURROGATES", "ACQUISITIONS"]


@pytest.mark.parametrize("constant", sorted(REGISTRIES))
def test_every_declared_kind_is_bound_in_its_module(constant):
    registry = REGISTRIES[constant]
    for name in registry:
        assert registry.get(name) is not None, f"{constant}: {name}"


@pytest.mark.parametrize("constant", SETTING_REGISTRIES)
def test_the_settings_accept_exactly_the_registered_kinds(constant):
    registry = REGISTRIES[constant]
    for name in registry:
        assert getattr(CampaignSettings(**{registry.setting: name}), registry.setting) == name
    with pytest.raises(UnknownKindError, match=f"{registry.setting} must be one of {', '.join(registry.names())}"):
        CampaignSettings(**{registry.setting: "no-such-kind"})


def cli_choices(command: click.Command, option: str) -> tuple[str, ...]:
    (param,) = [p for p in command.params if p.name == option]
    return tuple(param.type.choices)


@pytest.mark.parametrize("constant", SETTING_REGISTRIES)
def test_the_command_line_offers_exactly_the_registered_kinds_with_their_help(constant):
    registry = REGISTRIES[constant]
    run = main.commands["run"]
    assert cli_choices(run, registry.setting) == registry.names()
    (param,) = [p for p in run.params if p.name == registry.setting]
    for kind in registry.kinds():
        assert f"{kind.name}: {kind.help}" in param.help


def test_the_docs_page_is_generated_from_the_registries():
    page = (ROOT / "docs" / "extension-points.md").read_text()
    assert page == extension_points_markdown(), "regenerate it: python scripts/write_docs.py"


def test_tasks_are_listed_from_the_table_and_their_descriptions_agree():
    for kind in TASKS.kinds():
        module = TASKS.get(kind.name)
        assert module.TASK.name == kind.name
        assert module.TASK.description == kind.help


def test_a_resampler_registered_at_run_time_is_accepted_by_settings_and_sampler():
    def first_particle(log_weights, num_samples, generator):
        return torch.zeros(log_weights.shape[0], num_samples, dtype=torch.long, device=log_weights.device)

    RESAMPLERS.register("first", first_particle, help="always the first particle (a test)")
    try:
        settings = CampaignSettings(resampling="first", particles=64, steps=100, alpha=1.0)
        assert settings.smc_config() == SMCConfig(num_particles=64, resampling="first")
        sampler = SMCSampler(lambda_prior(), lambda x: -(x**2).sum(-1), num_particles=4, num_steps=3,
                             resampling="first", ess_threshold=1.0)
        assert sampler.resampler is first_particle
        with pytest.raises(ValueError, match="exists already"):
            RESAMPLERS.register("first", first_particle, help="twice")
    finally:
        RESAMPLERS.unregister("first")
    with pytest.raises(ConfigError, match="resampling must be one of"):
        CampaignSettings(resampling="first")


def lambda_prior():
    from oboptim.priors import DiffusionPrior

    return DiffusionPrior(lambda x, t: torch.zeros_like(x), torch.linspace(0.99, 0.01, 10), (2,))


def test_an_undeclared_built_in_and_an_unbound_declaration_name_the_fix():
    registry = Registry("widget", "widget", [])
    with pytest.raises(RuntimeError, match=r"add Kind\('spanner'"):
        registry.implements("spanner")(object())
    with pytest.raises(ValueError, match="built in"):
        SELECTIONS.unregister("top")


def test_the_command_line_help_imports_no_torch():
    code = ("import sys; from click.testing import CliRunner; from oboptim.cli import main; "
            "result = CliRunner().invoke(main, ['run', '--help']); "
            "assert result.exit_code == 0, result.output; print(sorted(m for m in sys.modules if m in "
            "('torch', 'botorch', 'diffusers', 'numpy', 'sqlalchemy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
