"""The measurement scripts stay runnable: each answers ``--help`` from any directory (they import the installed
package, not the working directory), and the benchmark's in-process half runs on today's code. ``bench.py``
was once broken for a whole session because nothing ran it; its load half needs servers and minutes."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_each_script_answers_help_from_anywhere(script, tmp_path):
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:") and script.name in done.stdout


def test_the_benchmarks_stage_table_runs():
    """What ``bench.py`` sends (the page's gray PNG and the canvas's own RGBA PNG of the same drawings) and
    its table of what one prediction costs, stage by stage."""
    bench = runpy.run_path(str(ROOT / "scripts" / "bench.py"), run_name="bench")
    gray, rgba = bench["predict_bodies"](2)
    assert len(gray) == len(rgba) == 2 and all(len(g) < len(r) for g, r in zip(gray, rgba))
    costs = bench["stage_costs"](gray[0], rgba[0], repeats=2)
    stages = {"body: JSON + validation", "base64", "PNG decode and ink", "crop, fit, centre", "ensemble",
              "FNN (x2: original, online)", "CNN (x2: original, online)", "response: top-3 and JSON"}
    assert stages <= set(costs) and all(ms >= 0 for ms in costs.values()), costs


def test_learn_from_users_cross_validates_the_sharpness_leaving_each_writer_out():
    """Each writer is scored at the sharpness that the *other* writers choose (summed over k; a tie goes to
    the quieter), so the scored writer never picks their own."""
    learn = runpy.run_path(str(ROOT / "scripts" / "learn_from_users.py"), run_name="learn_from_users")
    # writer a is best at 40, b and c at 70; two ks
    table = {"1": {"40": {"a": 0, "b": 3, "c": 3}, "70": {"a": 5, "b": 1, "c": 1}},
             "5": {"40": {"a": 0, "b": 2, "c": 2}, "70": {"a": 4, "b": 0, "c": 0}}}
    out = learn["sharpness_summary"](table)
    assert out["personal_by_memory_sharpness"] == {"1": {"40": 6, "70": 7}, "5": {"40": 4, "70": 4}}
    # a is left to b and c (70); b is left to a and c (40: 0+3+0+2 = 5 against 5+1+4+0 = 10), c likewise
    assert out["leave_one_writer_out"]["chosen"] == {"a": "70", "b": "40", "c": "40"}
    assert out["leave_one_writer_out"]["personal_errors"] == {"1": 5 + 3 + 3, "5": 4 + 2 + 2}
    tie = {"1": {"70": {"a": 1, "b": 1}, "40": {"a": 1, "b": 1}}}
    assert learn["sharpness_summary"](tie)["leave_one_writer_out"]["chosen"] == {"a": "40", "b": "40"}


def test_the_number_benchmarks_stage_table_and_the_number_measurement_run(tmp_path):
    """``bench_read.py``'s in-process half (the stages of reading an 8-digit number) and ``read_numbers.py`` on a
    handful of numbers: the table's rows are there, and a number's digits are read about as well as alone."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        bench_read = runpy.run_path(str(ROOT / "scripts" / "bench_read.py"), run_name="bench_read")
        bodies, numbers = bench_read["read_bodies"](8, 1)
        assert len(numbers[0].labels) == 8
        costs = bench_read["stages"](bodies[0], repeats=1)
        assert "the whole reading (all of the above but the body)" in costs and all(ms >= 0 for ms in costs.values())
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    out = tmp_path / "numbers.json"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "read_numbers.py"), "--numbers", "20", "--split",
                           "train", "--json", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    results = json.loads(out.read_text())["variants"]["strokes + PNG"]["all"]
    assert results["numbers"] == 20 and results["digit_accuracy"] >= results["alone_digit_accuracy"] - 0.05
