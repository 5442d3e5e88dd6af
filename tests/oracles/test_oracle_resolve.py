"""resolve_oracle: every accepted spec form, the factory registry, and one-line errors for the rest."""

import numpy as np
import pytest

from oboptim import OboptimError, Task
from oboptim.oracles import (
    ORACLE_KINDS,
    CallableOracle,
    Oracle,
    OracleContext,
    OracleSpecError,
    ShellOracle,
    TerminalHumanOracle,
    resolve_oracle,
)

XS = np.array([[1.0, 2.0], [3.0, 4.0]])

USER_ORACLE_SOURCE = '''
import math
from oboptim.oracles import Oracle, Outcome

def double_sum(x):
    return 2 * x.sum(axis=1)

class Constant(Oracle):
    name = "constant"
    def evaluate(self, trial_ids, xs):
        return [Outcome.success(7.0) for _ in trial_ids]

NOT_A_FUNCTION = 3
'''


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "my_oracles.py"
    path.write_text(USER_ORACLE_SOURCE)
    return path


def values(oracle: Oracle) -> list[float]:
    return [outcome.value for outcome in oracle.evaluate([1, 2], XS)]


def toy_task() -> Task:
    return Task(name="toy", description="a toy", load_prior=lambda device: None, oracle=lambda x: -x.sum(axis=1))


def test_no_spec_gives_the_tasks_own_oracle():
    oracle = resolve_oracle(context=OracleContext(task=toy_task()))
    assert isinstance(oracle, CallableOracle) and oracle.name == "task:toy"
    assert values(oracle) == [-3.0, -7.0]


def test_a_python_callable_or_an_oracle_is_used_as_is():
    assert values(resolve_oracle(lambda x: x.max(axis=1))) == [2.0, 4.0]
    oracle = CallableOracle(lambda x: x.min(axis=1))
    assert resolve_oracle(oracle) is oracle


def test_a_file_spec_loads_a_function_an_oracle_class(user_file):
    oracle = resolve_oracle(f"{user_file}:double_sum")
    assert oracle.name == f"{user_file}:double_sum"
    assert values(oracle) == [6.0, 14.0]
    assert values(resolve_oracle(f"{user_file}:Constant")) == [7.0, 7.0]


def test_a_module_spec_loads_a_function(user_file, monkeypatch):
    monkeypatch.syspath_prepend(str(user_file.parent))
    assert values(resolve_oracle("my_oracles:double_sum")) == [6.0, 14.0]


def test_human_is_a_registered_kind():
    assert isinstance(resolve_oracle("human"), TerminalHumanOracle)


def test_a_new_kind_registers_with_one_line_and_gets_the_context():
    made = {}

    def make_lab_oracle(context):
        made["context"] = context
        return CallableOracle(lambda x: x.sum(axis=1), name="my-lab")

    ORACLE_KINDS.register("my-lab", make_lab_oracle, help="the lab's robot")
    try:
        context = OracleContext(task=toy_task(), timeout=5.0)
        assert resolve_oracle("my-lab", context).name == "my-lab"
        assert made["context"] is context
        with pytest.raises(OracleSpecError, match="--oracle my-lab"):  # the accepted forms list it
            resolve_oracle("nonsense")
    finally:
        ORACLE_KINDS.unregister("my-lab")
    assert "my-lab" not in ORACLE_KINDS


def test_an_unknown_oracle_lists_the_tasks_own_named_oracles():
    task = Task(name="toy", description="a toy", load_prior=lambda device: None, oracle=lambda x: x.sum(axis=1),
                named_oracles={"assay2": lambda argument: (lambda x: x.sum(axis=1))})
    with pytest.raises(OracleSpecError, match="--oracle assay2"):
        resolve_oracle("assay3", OracleContext(task=task))


def test_a_command_gives_a_shell_oracle_with_the_timeout():
    oracle = resolve_oracle(command="python score.py", context=OracleContext(timeout=5.0))
    assert isinstance(oracle, ShellOracle) and oracle.timeout == 5.0 and oracle.command == "python score.py"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"spec": "nonsense"}, "unknown oracle 'nonsense': use --oracle module:function"),
        ({}, "no oracle given and no task to take it from"),
        ({"spec": 3.0}, "oracle 3.0 is neither a callable nor a string"),
        ({"spec": "human", "command": "true"}, "not both"),
        ({"command": "  "}, "the oracle command (--oracle-cmd) is empty"),
        ({"spec": "no_such_module_oboptim_xyz:f"}, "could not load oracle 'no_such_module_oboptim_xyz:f'"),
        ({"spec": "missing/file.py:f"}, "oracle file 'missing/file.py' does not exist"),
        ({"spec": "math:no_such_function"}, "'math' has no attribute 'no_such_function'"),
        ({"spec": "math:pi"}, "oracle 'math:pi' is a float, not a function"),
        ({"spec": "math:"}, "must look like path/to/file.py:NAME or module:NAME"),
    ],
)
def test_bad_specs_raise_one_line_that_lists_the_accepted_forms(kwargs, expected):
    with pytest.raises(OracleSpecError) as info:
        resolve_oracle(**kwargs)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert isinstance(info.value, OboptimError)
    if "command" not in kwargs:
        assert "--oracle-cmd 'shell command'" in message


def test_a_file_that_fails_to_import_says_why(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise ImportError('needs the lab SDK')\n")
    with pytest.raises(OracleSpecError, match="ImportError: needs the lab SDK"):
        resolve_oracle(f"{path}:f")
