"""`alerting routes test` answers as `amtool config routes test` does on the same route."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from alerting.cli import main

ROUTING = {
    "route": {
        "receiver": "default",
        "routes": [
            {"matchers": ['severity="page"'], "receiver": "pager", "continue": True},
            {"matchers": ['team=~"db|infra"'], "receiver": "team"},
        ],
    },
    "receivers": [{"name": "default"}, {"name": "pager"}, {"name": "team"}],
}


@pytest.fixture
def configs(tmp_path: Path) -> tuple[Path, Path]:
    ours = tmp_path / "alerting.yml"
    ours.write_text(
        yaml.safe_dump({"datasource": {"prometheus": {"url": "http://127.0.0.1:1"}}, **ROUTING})
    )
    theirs = tmp_path / "alertmanager.yml"
    theirs.write_text(yaml.safe_dump(ROUTING))
    return ours, theirs


CASES = [
    ["severity=page", "team=db"],
    ["severity=page"],
    ['team="infra"'],
    ["team=dba"],
    [],
]


@pytest.mark.parametrize("labels", CASES, ids=lambda labels: " ".join(labels) or "none")
def test_same_receivers_as_amtool(configs, capsys, labels: list[str]) -> None:
    if shutil.which("amtool") is None:
        pytest.skip("amtool is not installed")
    ours, theirs = configs
    assert main(["routes", "test", "--config", str(ours), *labels]) == 0
    amtool = subprocess.run(
        ["amtool", "config", "routes", "test", f"--config.file={theirs}", *labels],
        capture_output=True,
        text=True,
        check=True,
    )
    assert capsys.readouterr().out == amtool.stdout


def test_verify_receivers_sets_the_exit_status(configs, capsys) -> None:
    ours, _ = configs
    args = ["routes", "test", "--config", str(ours)]
    assert main([*args, "--verify.receivers", "pager,team", "severity=page", "team=db"]) == 0
    assert main([*args, "--verify.receivers", "pager", "severity=page", "team=db"]) == 1
    assert "did not match" in capsys.readouterr().err


def test_labels_must_be_name_value_pairs(configs, capsys) -> None:
    ours, _ = configs
    assert main(["routes", "test", "--config", str(ours), "a!=b"]) == 2
    assert "key=value" in capsys.readouterr().err
