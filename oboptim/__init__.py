"""oboptim: black-box online optimisation with diffusion-model priors and the DAS SMC sampler.

The names a campaign user needs live here; everything else has one home in a subpackage (``oboptim.sampling``,
``oboptim.priors``, ``oboptim.surrogates``, ``oboptim.acquisition``, ``oboptim.oracles``, ``oboptim.storage``,
``oboptim.images``, ``oboptim.web``, ``oboptim.benchmark``, ``oboptim.testing``). ``import oboptim`` is cheap: each
name is imported the first time it is used.
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

__version__ = "0.1.0"

_EXPORTS = {
    "oboptim._campaign": ["Campaign"],
    "oboptim._export": ["export_trials"],
    "oboptim._records": ["Provenance", "RoundDiagnostics"],
    "oboptim._registry": ["TASKS", "Kind", "Registry"],
    "oboptim._report": ["write_report"],
    "oboptim._settings": ["CampaignSettings", "SEQUENCE_DEFAULTS"],
    "oboptim._task": ["Task", "TaskNotFoundError", "list_tasks", "load_task", "oracle_without_argument"],
    "oboptim.errors": ["ConfigError", "OboptimError", "SpaceExhausted", "UnknownKindError"],
    "oboptim.priors._diffusion_prior": ["DiffusionPrior"],
    "oboptim.sampling._smc": ["SMCSampler"],
    "oboptim.storage._records": ["TrialState"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim._campaign import Campaign
    from oboptim._export import export_trials
    from oboptim._records import Provenance, RoundDiagnostics
    from oboptim._registry import TASKS, Kind, Registry
    from oboptim._report import write_report
    from oboptim._settings import SEQUENCE_DEFAULTS, CampaignSettings
    from oboptim._task import Task, TaskNotFoundError, list_tasks, load_task, oracle_without_argument
    from oboptim.errors import ConfigError, OboptimError, SpaceExhausted, UnknownKindError
    from oboptim.priors._diffusion_prior import DiffusionPrior
    from oboptim.sampling._smc import SMCSampler
    from oboptim.storage._records import TrialState
