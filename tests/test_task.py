"""Loading tasks: built-in names, user specs, and task options."""

from pathlib import Path

import pytest

from oboptim import TASKS, Task, TaskNotFoundError, load_task
from oboptim._task import task_options_of

USER_TASKS = str(Path(__file__).parent / "campaign" / "mixture_task.py")


def test_builtin_task_without_options_loads_its_task():
    task = load_task("gmm2d")
    assert isinstance(task, Task) and task.name == "gmm2d"


def test_builtin_task_without_make_task_rejects_options():
    with pytest.raises(TaskNotFoundError, match="takes no options; drop prompt"):
        load_task("gmm2d", {"prompt": "a cat"})


def test_user_factory_receives_options():
    task = load_task(f"{USER_TASKS}:make_task", {"corner": -4.0})
    assert task.oracle([[-4.0, -4.0], [0.0, 0.0]]) == [0.0, -32.0]


def test_user_factory_without_options_uses_its_defaults():
    assert load_task(f"{USER_TASKS}:make_task").oracle([[4.0, 4.0]]) == [0.0]


@pytest.mark.parametrize("options, message", [
    ({"corners": 1.0}, "got options corners; it takes corner, noise"),
    ({"corner": 100.0}, "corner must lie within the prior's support"),
])
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(TaskNotFoundError, match=message):
        load_task(f"{USER_TASKS}:make_task", options)


def test_required_option_missing_names_it():
    with pytest.raises(TaskNotFoundError, match=r"got no options; .* \(required: corner\)"):
        load_task(f"{USER_TASKS}:needs_corner")


def test_a_plain_task_object_takes_no_options():
    with pytest.raises(TaskNotFoundError, match="takes no options"):
        load_task(f"{USER_TASKS}:TASK", {"corner": 1.0})


def test_task_options_of_builtins():
    assert task_options_of("gmm2d") == ([], [])
    assert task_options_of(f"{USER_TASKS}:make_task") == ([], [])  # only built-in tasks are inspected
    for name in TASKS:
        accepted, required = task_options_of(name)
        assert set(required) <= set(accepted)
