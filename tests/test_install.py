"""setup.sh on a machine without a local torch wheel takes torch's CPU build, never PyPI's CUDA one.

The script runs for real with a recording stand-in for the venv's Python, so each pip call it
would make is seen without installing anything.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "{log}"
case "$*" in
  "-c import torch") exit 1 ;;                       # no torch in the new venv
  *"torch=="*"+cpu"*"--index-url"*) exit 0 ;;        # PyTorch's CPU index has the +cpu build
  *"torch=="*"+cpu"*) exit {local_rc} ;;             # a local wheel folder has it (or not)
esac
exit 0
"""


def _run_setup(tmp_path: Path, *, local_wheel: bool, system: str = "Linux") -> list[str]:
    shutil.copy(REPO / "setup.sh", tmp_path / "setup.sh")
    log = tmp_path / "pip.log"
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    fake = venv_bin / "python"
    fake.write_text(FAKE_PYTHON.format(log=log, local_rc=0 if local_wheel else 1))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    tools = tmp_path / "tools"
    tools.mkdir()
    for name, body in {"xvfb-run": "exit 0", "uname": f"echo {system}"}.items():
        tool = tools / name
        tool.write_text(f"#!/usr/bin/env bash\n{body}\n")
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", str(tmp_path / "setup.sh"), "--no-run"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [line for line in log.read_text().splitlines() if "torch" in line and "install" in line]


@pytest.mark.skipif(shutil.which("bash") is None, reason="setup.sh is a bash script")
def test_setup_takes_the_cpu_index_without_a_local_wheel(tmp_path):
    calls = _run_setup(tmp_path, local_wheel=False)
    assert calls, "setup.sh installed no torch"
    assert all("+cpu" in call for call in calls), calls  # never a plain torch==X (PyPI's CUDA build)
    assert "--index-url https://download.pytorch.org/whl/cpu" in calls[-1]


def test_setup_uses_a_local_cpu_wheel_without_downloading(tmp_path):
    calls = _run_setup(tmp_path, local_wheel=True)
    assert len(calls) == 1 and "+cpu" in calls[0] and "--index-url" not in calls[0]


def test_setup_on_macos_takes_pypis_build(tmp_path):
    calls = _run_setup(tmp_path, local_wheel=False, system="Darwin")
    assert len(calls) == 1 and "+cpu" not in calls[0]
