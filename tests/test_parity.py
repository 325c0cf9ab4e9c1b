"""The Keras model computes what the authors' PyTorch code computes, forward and backward.

Backend-neutral: runs under every Keras backend (tests/test_backends.py runs it under JAX and torch).
"""

import numpy as np
import pytest
from keras import ops

from bidense_keras.backends import vjp
from bidense_keras.convert import from_official_checkpoint, official_weight_map
from tests.conftest import nhwc

pytestmark = pytest.mark.backends

FIXTURES = {
    "upernet_bidense_seg_small": ".ckpt",
    "upernet_bidense_depth_small": ".state_dict.npz",
}


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def case(request, reference_dir):
    name = request.param
    model = from_official_checkpoint(reference_dir / f"{name}{FIXTURES[name]}", include_preprocessing=False)
    io = np.load(reference_dir / f"{name}.io.npz")
    grads = np.load(reference_dir / f"{name}.grads.npz")
    return name, model, io, grads


def assert_close(actual, reference, label):
    tolerance = 1e-4 * max(1.0, float(np.abs(reference).max()))
    error = float(np.abs(actual - reference).max())
    print(f"{label}: max abs error {error:.2e} (bound {tolerance:.2e})")
    assert error <= tolerance, f"{label}: max abs error {error:.3g} > {tolerance:.3g}"


def test_outputs_and_stage_features(case):
    name, model, io, _ = case
    x = nhwc(io["input_nchw"])
    # predict_on_batch: the compiled inference path (jax.jit, tf.function) that users run
    for index, feature in enumerate(model.backbone.predict_on_batch(x)):
        assert_close(feature, nhwc(io[f"backbone_stage{index}_nchw"]), f"{name} stage {index}")
    assert_close(model.predict_on_batch(x), nhwc(io["output_nchw"]), f"{name} output")


def relative_error(actual, reference):
    scale = max(float(np.abs(reference).max()), 1e-12)
    off = np.abs(actual - reference) > 1e-3 * scale
    return float(np.abs(actual - reference).max()) / scale, float(off.mean())


def test_input_and_parameter_gradients(case):
    name, model, io, reference_grads = case
    weight_map = official_weight_map(model)
    names = [n for n in weight_map if f"module.{n}" in reference_grads.files]
    # every trainable parameter the authors report a gradient for is mapped
    assert len(names) == len(reference_grads.files)
    _, (input_grad,), grads = vjp(
        lambda x: model(x, training=False),
        [nhwc(io["input_nchw"])],
        nhwc(io["output_cotangent_nchw"]),
        variables=[weight_map[n][0] for n in names],
    )
    report = {"input": relative_error(input_grad, nhwc(io["input_grad_nchw"]))}
    for official, grad in zip(names, grads):
        expected = weight_map[official][1](reference_grads[f"module.{official}"])
        report[official] = relative_error(grad, expected)
    worst = max(report.items(), key=lambda item: item[1][0])
    print(f"{name}: worst gradient {worst[0]} rel {worst[1][0]:.2e}; "
          f"elements off by >1e-3: {max(f for _, f in report.values()):.2%} at most")
    failing = {k: v for k, v in report.items() if v[0] > 1e-3}
    assert not failing, f"{name}: gradients beyond 1e-3 relative: {failing}"


def test_ckpt_and_npz_give_identical_models(reference_dir):
    stem = reference_dir / "upernet_bidense_seg_small"
    from_ckpt = from_official_checkpoint(f"{stem}.ckpt")
    from_npz = from_official_checkpoint(f"{stem}.state_dict.npz")
    unnamed = lambda model: {k: v for k, v in model.get_config().items() if k != "name"}
    assert unnamed(from_ckpt) == unnamed(from_npz)
    for a, b in zip(from_ckpt.weights, from_npz.weights):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
