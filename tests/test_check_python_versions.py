"""The offline half of .ci/check_python_versions.py: reading the claim and the agreement
checks (the pip resolution itself needs the package index and runs in `make check-python`)."""

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "check_python_versions", ROOT / ".ci" / "check_python_versions.py"
)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def test_claimed_minors_reads_requires_python():
    assert check.claimed_minors(">=3.11,<3.14") == ["3.11", "3.12", "3.13"]
    assert check.claimed_minors(">=3.10, <3.14") == ["3.10", "3.11", "3.12", "3.13"]
    assert check.claimed_minors(">3.11,<=3.12") == ["3.11", "3.12"]  # 3.11.1 is > 3.11
    assert check.claimed_minors("~=3.12", ["3.11", "3.12", "3.13"]) == ["3.12", "3.13"]
    assert check.claimed_minors(">=3.11,!=3.12") == [f"3.{y}" for y in range(11, 31)]  # 3.12.1 ok
    assert check.claimed_minors(">=3.11,!=3.12.*,<3.14") == ["3.11", "3.13"]
    assert check.claimed_minors("==3.12.*") == ["3.12"]
    with pytest.raises(ValueError, match="3.11 or later"):
        check.claimed_minors("3.11 or later")


def test_this_repository_agrees_with_its_claim():
    facts, problems = check.consistency_problems(ROOT)
    assert problems == []
    assert facts["claimed"][0] == "3.11"  # numpy 2.4, pandas 3.1, keras 3.15 need 3.11+


def test_each_disagreement_is_reported(tmp_path, capsys):
    for name in ("pyproject.toml", "README.md", "environment.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("Python 3.11 to 3.13", "Python 3.10 to 3.13"))
    env = tmp_path / "environment.yml"
    text = env.read_text()
    assert "- python=3.11" in text and "numpy==2.4.6" in text
    env.write_text(
        text.replace("- python=3.11", "- python=3.10").replace("numpy==2.4.6", "numpy==2.4.5")
    )
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('target-version = "py311"', 'target-version = "py310"')
    )

    _, problems = check.consistency_problems(tmp_path)
    text = "\n".join(problems)
    assert "README.md says Python 3.10 to 3.13" in text
    assert "python=3.10, not in 3.11..3.13" in text
    assert "numpy==2.4.5 but pyproject.toml numpy==2.4.6" in text
    assert "target-version is 'py310'" in text
    assert len(problems) == 4
    assert check.main(["--root", str(tmp_path), "--no-resolve"]) == 1
    assert capsys.readouterr().out.count("MISMATCH:") == 4
