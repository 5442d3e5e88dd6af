"""Black-box oracles: a Python callable, a shell command speaking JSON lines, a person at a terminal.

Every oracle returns one :class:`Outcome` per trial and never raises for a failure on its side; see
:mod:`oboptim.oracles.base`. :func:`resolve_oracle` builds one from what a user typed.
"""

from oboptim.oracles.base import Oracle, Outcome, outcome_from_value, outcomes_from_values
from oboptim.oracles.callable import CallableOracle
from oboptim.oracles.human import TerminalHumanOracle, format_candidate
from oboptim.oracles.human_web import WebHumanOracle, bound_campaign
from oboptim.oracles.resolve import ORACLE_FACTORIES, OracleFactory, OracleSpecError, resolve_oracle
from oboptim.oracles.retry import FailureBudget, TooManyFailures, evaluate_with_retries
from oboptim.oracles.shell import ShellOracle

__all__ = [
    "ORACLE_FACTORIES",
    "CallableOracle",
    "FailureBudget",
    "Oracle",
    "OracleFactory",
    "OracleSpecError",
    "Outcome",
    "ShellOracle",
    "TerminalHumanOracle",
    "TooManyFailures",
    "WebHumanOracle",
    "bound_campaign",
    "evaluate_with_retries",
    "format_candidate",
    "outcome_from_value",
    "outcomes_from_values",
    "resolve_oracle",
]
