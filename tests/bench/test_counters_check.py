"""The bench scripts' last step: a counter that differs from a recount stops them loudly, naming it."""

import importlib.util
from pathlib import Path

import pytest

from labeling.models import TaskStateCount
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

spec = importlib.util.spec_from_file_location(
    "bench_common", Path(__file__).resolve().parents[2] / "bench" / "common.py"
)
common = importlib.util.module_from_spec(spec)
spec.loader.exec_module(common)


@pytest.fixture
def project(workspace):
    return ProjectFactory.create(workspace=workspace, dataset__items=5, name="Bench")


def test_true_counters_pass_and_say_so(project, capsys):
    common.counters_check([project])
    assert "every dashboard counter of the 1 project used equals a recount" in capsys.readouterr().out


def test_a_wrong_counter_exits_non_zero_naming_it_stored_against_recounted(project, capsys):
    TaskStateCount.objects.filter(project=project, state="unlabeled").update(count=-3937)
    with pytest.raises(SystemExit) as stopped:
        common.counters_check([project])
    assert stopped.value.code == 1
    assert "Bench: TaskStateCount [state=unlabeled] count: stored -3937, recounted 5" in capsys.readouterr().err
