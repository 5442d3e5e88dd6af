"""Checks that a campaign's settings can propose at all, made before anything is stored or any oracle is queried.

A setting that only fails in the middle of the first learned round (``--acquisition maxhead`` on a GP, which has no
heads) would otherwise cost a batch of oracle queries, and leave a campaign that cannot be resumed, since a stored
campaign's settings never change. Each acquisition builder already says, with an
:class:`~oboptim.acquisition.AcquisitionError`, when a surrogate cannot support it; the check builds the acquisitions
of the settings on an unfitted surrogate of the chosen kind and reports that error in one line.
"""

from __future__ import annotations

from oboptim._settings import CampaignSettings
from oboptim.errors import ConfigError


def check_proposal_settings(settings: CampaignSettings) -> None:
    """Raise :class:`ConfigError` if the settings' surrogate cannot support their acquisitions.

    Only a builder's :class:`~oboptim.acquisition.AcquisitionError` counts: a builder that needs a fitted surrogate
    (an incumbent, training data) fails differently on an unfitted one, and is judged when it runs.
    """
    import torch

    from oboptim._registry import ACQUISITIONS, SURROGATES
    from oboptim.acquisition._base import AcquisitionError, AcquisitionOptions

    surrogate = SURROGATES.get(settings.surrogate)()
    options = AcquisitionOptions(beta=settings.beta, generator=torch.Generator().manual_seed(0))
    for setting, name in (("acquisition", settings.acquisition), ("select_acquisition", settings.select_acquisition)):
        if not name:
            continue
        try:
            ACQUISITIONS.get(name)(surrogate, options)
        except AcquisitionError as exc:
            flag = setting.replace("_", "-")
            raise ConfigError(f"--{flag} {name} cannot run on the {settings.surrogate} surrogate: {exc}") from None
        except Exception:  # noqa: BLE001 - the builder needs a fitted surrogate: judged when it runs
            continue


__all__ = ["check_proposal_settings"]
