"""seglib.reference: a run's figures next to the reference runs' ranges (issue 17, item 7)."""

import ast
import json
from pathlib import Path

from seglib import reference

import pytest

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
SAMPLE = {"train": 256, "validation": 44, "test": 298}


@pytest.fixture
def toy(monkeypatch):
    ref = reference.Reference(
        notebook="99",
        sizes=SAMPLE,
        settings={"EPOCHS": 20, "IMAGE_SIZE": 128},
        seeds=(0, 1, 2),
        figures={"test mIoU": (0.721, 0.730, 0.712), "gain": (0.018, -0.002, 0.010)},
        measured="a toy machine",
    )
    monkeypatch.setitem(reference.REFERENCES, "99", ref)
    return ref


def check(figures, sizes=SAMPLE, settings=None):
    settings = {"EPOCHS": 20, "IMAGE_SIZE": 128} if settings is None else settings
    return reference.check("99", figures, sizes=sizes, settings=settings)


def test_range_is_lowest_to_highest_over_seeds(toy):
    assert toy.range("test mIoU") == (0.712, 0.730)
    assert toy.range("gain") == (-0.002, 0.018)


def test_a_figure_inside_the_range_is_called_inside(toy):
    text = check({"test mIoU": 0.725, "gain": 0.0})
    assert "this run 0.725; reference 0.712 to 0.730: inside" in text
    assert "this run 0.000; reference -0.002 to 0.018: inside" in text
    assert "outside" not in text
    assert "a toy machine" in text and "`SEED` = 0, 1, 2" in text


def test_a_figure_outside_the_range_is_named_and_explained(toy):
    text = check({"test mIoU": 0.700, "gain": 0.010})
    assert "this run 0.700; reference 0.712 to 0.730: **outside**" in text
    assert "gain: this run 0.010; reference -0.002 to 0.018: inside" in text
    assert "same machine and library build" in text


def test_rounding_to_three_decimals_is_not_outside(toy):
    # 0.7304 prints as 0.730, the top of the range: inside. 0.7310 is not.
    assert "**outside**" not in check({"test mIoU": 0.7304})
    assert "**outside**" in check({"test mIoU": 0.7310})


def test_other_data_is_not_compared(toy):
    text = check({"test mIoU": 0.9}, sizes={"train": 3312, "validation": 368, "test": 3669})
    assert "nothing to compare" in text
    assert "3,669 test" in text and "298 test" in text
    assert "inside" not in text and "outside" not in text


def test_other_settings_are_named_and_not_compared(toy):
    text = check({"test mIoU": 0.5}, settings={"EPOCHS": 2, "IMAGE_SIZE": 128})
    assert "`EPOCHS` = 2 (reference: 20)" in text
    assert "IMAGE_SIZE" not in text
    assert "not compared" in text and "outside" not in text


def test_unknown_names_are_refused_with_the_known_ones(toy):
    with pytest.raises(KeyError, match="no reference figure 'mIoU'.*gain"):
        check({"mIoU": 0.7})
    with pytest.raises(KeyError, match="no reference runs for notebook '42'"):
        reference.check("42", {}, sizes=SAMPLE, settings={})


@pytest.mark.parametrize("ref", reference.REFERENCES.values(), ids=lambda r: r.notebook)
def test_every_reference_has_one_value_per_seed_in_range(ref):
    assert len(ref.seeds) >= 3
    for name, values in ref.figures.items():
        assert len(values) == len(ref.seeds), name
        assert all(-1.0 <= v <= 1.0 for v in values), name
        assert len(set(values)) > 1, f"{name}: identical values over seeds look typed, not measured"


def parameter_defaults(path: Path) -> dict:
    """The top-level constant assignments of a notebook's parameters cell."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    defaults = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                defaults[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass  # computed values (paths, environment) are not settings
    return defaults


@pytest.mark.parametrize("number", sorted(reference.REFERENCES))
def test_the_notebooks_defaults_are_the_reference_settings(number):
    # A changed default makes the README's reference figures stale: rerun the seeds.
    (path,) = NOTEBOOKS.glob(f"{number}_*.ipynb")
    defaults = parameter_defaults(path)
    assert defaults["SEED"] == 0
    ref = reference.REFERENCES[number]
    assert {k: defaults[k] for k in ref.settings} == ref.settings
    source = path.read_text(encoding="utf-8")
    for name in ref.figures:  # the notebook reports every reference figure
        assert json.dumps(name)[1:-1] in source, name
