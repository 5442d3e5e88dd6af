"""Black-box oracles: a Python callable, a shell command speaking JSON lines, a person at a terminal or on a web page.

Every oracle returns one :class:`Outcome` per trial and never raises for a failure on its side.
:func:`resolve_oracle` builds one from what a user typed, with an explicit :class:`OracleContext` (the campaign it is
for). Extension point: :data:`ORACLE_KINDS` (see :class:`oboptim.Registry`).
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim._registry": ["ORACLE_KINDS"],
    "oboptim.oracles._base": ["Oracle", "outcome_from_value", "outcomes_from_values"],
    "oboptim.oracles._callable": ["CallableOracle"],
    "oboptim.oracles._context": ["OracleContext"],
    "oboptim.oracles._outcome": ["OracleInterrupted", "Outcome"],
    "oboptim.oracles._human": ["TerminalHumanOracle", "format_candidate"],
    "oboptim.oracles._human_web": ["WebHumanOracle", "WebOracleUnbound"],
    "oboptim.oracles._resolve": ["OracleSpecError", "resolve_oracle"],
    "oboptim.oracles._retry": ["FailureBudget", "TooManyFailures", "evaluate_with_retries"],
    "oboptim.oracles._shell": ["ShellOracle"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim._registry import ORACLE_KINDS
    from oboptim.oracles._base import Oracle, outcome_from_value, outcomes_from_values
    from oboptim.oracles._callable import CallableOracle
    from oboptim.oracles._context import OracleContext
    from oboptim.oracles._human import TerminalHumanOracle, format_candidate
    from oboptim.oracles._human_web import WebHumanOracle, WebOracleUnbound
    from oboptim.oracles._outcome import OracleInterrupted, Outcome
    from oboptim.oracles._resolve import OracleSpecError, resolve_oracle
    from oboptim.oracles._retry import FailureBudget, TooManyFailures, evaluate_with_retries
    from oboptim.oracles._shell import ShellOracle
