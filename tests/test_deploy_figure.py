"""The docs' deployment picture draws the committed deploy report, bar for bar."""

import json
import sys

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import deploy_figure  # noqa: E402


def test_the_figure_draws_every_format_of_every_configuration(tmp_path):
    report = json.loads((REPO_ROOT / "benchmarks" / "results" / "deploy.json").read_text())
    sizes, latencies = deploy_figure.deploy_figure(report).axes
    heights = sorted(round(bar.get_height(), 3) for bar in sizes.patches)
    expected = sorted(round(result["size_bytes"][key] / 1e6, 3) for result in report["results"].values()
                      for key in deploy_figure.FORMATS)
    assert heights == expected
    assert len(latencies.patches) == len(report["results"]) * len(deploy_figure.FORMATS)
    assert deploy_figure.main(["--out", str(tmp_path / "deploy.png")]) == 0
    assert (tmp_path / "deploy.png").stat().st_size > 10_000
