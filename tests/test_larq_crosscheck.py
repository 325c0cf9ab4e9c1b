"""Our sign quantizers against larq's: forward values and gradients on the same inputs.

larq pins numpy<2 and imports only under legacy Keras, so it cannot live in this environment.
The comparison, tests/larq_crosscheck.py, runs in a separate environment with the ``larq``
extra (:func:`tests.side_envs.larq_python`: $BIDENSE_KERAS_LARQ_PYTHON, or made on first use).
"""

import functools
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.side_envs import LARQ_PYTHON_ENV, SIDE_ENVS, larq_python
from tests.larq_crosscheck import DEFAULT_TOLERANCE, QUANTIZERS


pytestmark = pytest.mark.slow  # the larq side environment

SCRIPT = Path(__file__).with_name("larq_crosscheck.py")
HOW_TO_CREATE = (
    f"larq pins numpy<2 and runs only on legacy Keras, so the comparison runs in its own environment, "
    f"made on first use in {SIDE_ENVS / 'larq'} (or named by ${LARQ_PYTHON_ENV}); by hand:\n"
    f"    python3 -m venv ENV && ENV/bin/pip install -e \"{REPO_ROOT}[larq]\"\n"
    f"    export {LARQ_PYTHON_ENV}=ENV/bin/python"
)


@functools.cache
def crosscheck():
    """Runs tests/larq_crosscheck.py once under $BIDENSE_KERAS_LARQ_PYTHON.

    Returns:
        ``(report, None)`` with the script's JSON report, or ``(None, message)`` saying
        why the comparison could not run.
    """
    try:
        python = larq_python()
    except RuntimeError as failure:
        return None, f"could not make the larq environment: {failure}\n{HOW_TO_CREATE}"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    # This checkout's bidense_keras, whatever the side environment has installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "differences.json"
        try:
            process = subprocess.run(
                [python, str(SCRIPT), "--output", str(output)],
                env=env, capture_output=True, text=True, timeout=600, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return None, f"could not run {SCRIPT.name} with ${LARQ_PYTHON_ENV}={python}: {error}\n{HOW_TO_CREATE}"
        if process.returncode not in (0, 1) or not output.is_file():
            stderr = "\n".join(process.stderr.strip().splitlines()[-15:])
            return None, (
                f"{SCRIPT.name} failed under ${LARQ_PYTHON_ENV}={python} (exit status {process.returncode}):\n"
                f"{stderr}\n{HOW_TO_CREATE}"
            )
        return json.loads(output.read_text(encoding="utf-8")), None


@pytest.mark.parametrize("quantizer", QUANTIZERS)
def test_quantizer_matches_larq(quantizer):
    report, error = crosscheck()
    if error:
        pytest.fail(error, pytrace=False)
    result = report["quantizers"][quantizer]
    print(f"{quantizer} vs larq {report['versions']['larq']}: max |difference| "
          f"forward {result['forward']:.3g}, gradient {result['gradient']:.3g}")
    bad_cases = [
        f"{case['input']} {tuple(case['shape'])}, clip_value={case['clip_value']}: "
        f"forward {case['forward']:.3g}, gradient {case['gradient']:.3g}"
        for case in result["cases"]
        if not (case["forward"] <= DEFAULT_TOLERANCE and case["gradient"] <= DEFAULT_TOLERANCE)
    ]
    assert not bad_cases, (
        f"{quantizer}(zero_as_positive=True) does not match larq's on "
        + "; ".join(bad_cases)
        + f" (max |difference|, tolerance {DEFAULT_TOLERANCE:g}; versions {report['versions']})"
    )
