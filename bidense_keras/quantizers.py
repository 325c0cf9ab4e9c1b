"""Binarizers (quantizers) for 1-bit activations and weights.

A quantizer can be used in three ways:

1. as a function: ``approx_sign(x)``;
2. by its string name, wherever a layer takes a quantizer:
   ``BiDenseConv2D(64, 3, activation_binarizer="approx_sign")``;
3. as a serializable object: ``ApproxSign(zero_as_positive=True)(x)``.

Every quantizer returns values in ``{-a, 0, +a}`` in the forward pass and a
pseudo-gradient (straight-through estimator) in the backward pass. Each object
has a ``precision`` attribute (1 = binary), as in larq, so that tools can count
bits.

``sign(0)``: the papers use ``sign(0) = 0`` (paper-exact default). Larq Compute
Engine binarizes with ``sign(0) = +1``; pass ``zero_as_positive=True`` to train or
evaluate exactly what a converted flatbuffer computes.

The activation binarizer of BiDense (DAB) has learnable parameters, so its objects are Keras layers
(:class:`DistributionAdaptiveBinarizer` and its deployable form); :func:`get` returns them by name
(``"dab"``, ``"dab_deployable"``) like the other quantizers, so a convolution takes any of them the same way.
"""

import inspect

import keras
from keras import ops


def _as_tensor(x):
    """A tensor of ``x``; variables are copied because custom gradients must not capture them."""
    return ops.copy(x) if isinstance(x, keras.Variable) else ops.convert_to_tensor(x)


def _sign(x, zero_as_positive):
    """sign(x) in x's dtype; sign(0) is 0, or +1 when ``zero_as_positive``."""
    if zero_as_positive:
        # Scalar constants: LCE's converter recognises select(x >= 0, 1.0, -1.0) as LceQuantize.
        return ops.cast(ops.where(x >= 0, 1.0, -1.0), x.dtype)
    return ops.sign(x)


def _sign_with_pseudo_gradient(x, slope, zero_as_positive, scale=None):
    """``scale(x) * sign(x)`` whose gradient is ``upstream * slope(x)`` (scale treated as 1).

    ``slope`` and ``scale`` map the input tensor to tensors that broadcast against it.
    """

    @ops.custom_gradient
    def _forward(inputs):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return upstream * ops.cast(slope(inputs), upstream.dtype)

        signs = _sign(inputs, zero_as_positive)
        return (signs if scale is None else scale(inputs) * signs), grad

    return _forward(_as_tensor(x))


@keras.saving.register_keras_serializable(package="bidense_keras")
def ste_sign(x, clip_value=1.0, zero_as_positive=False, strict=False):
    r"""Sign with the straight-through estimator.

    Forward: :math:`q(x) = \mathrm{sign}(x)`.
    Backward: :math:`\partial q / \partial x = 1_{|x| \le \text{clip\_value}}`
    (Hubara et al., 2016, "Binarized Neural Networks").

    Args:
        x: tensor of any shape.
        clip_value: the gradient is zero where ``|x| > clip_value``.
        zero_as_positive: map 0 to +1 (LCE convention) instead of 0.
        strict: pass the gradient only where ``|x| < clip_value`` (the binary ViT's estimator), so that
            ``|x| = clip_value`` gets none.

    Returns:
        Tensor of ``x``'s shape with values in {-1, 0, 1}.
    """
    if strict:
        return _sign_with_pseudo_gradient(x, lambda v: ops.abs(v) < clip_value, zero_as_positive)
    return _sign_with_pseudo_gradient(
        x, lambda v: ops.abs(v) <= clip_value, zero_as_positive
    )


def centered_sign(kernel, clip_value=1.0):
    r"""The binary ViT's weight signs: ``sign(W - mean_in W)`` with a strict straight-through gradient.

    Each output unit's weights are centred before the sign (as in BiViT). Backward:
    :math:`dc = g \cdot 1_{|c| < \text{clip}}`, then through the centring
    :math:`dW = dc - \mathrm{mean}_{in}(dc)`.

    Args:
        kernel: a Dense kernel ``(in, out)``; the mean is over ``in`` for each output unit.
        clip_value: the gradient is zero where ``|c| >= clip_value``.

    Returns:
        ``(in, out)`` in {-1, 0, 1}.
    """
    kernel = _as_tensor(kernel)
    return ste_sign(kernel - ops.mean(kernel, axis=0, keepdims=True), clip_value, strict=True)


def binarized_attention(probabilities):
    r"""The binary ViT's attention map: 1 where a probability is at least a quarter of its row's maximum.

    Forward: :math:`A_{ij} = 1[P_{ij} \ge \tfrac14 \max_j P_{ij}]` exactly (no renormalisation).
    Backward: the identity to ``probabilities`` (the threshold passes the gradient unchanged, so the
    softmax's own gradient follows), as the authors' ``(A - P) + P`` computes.

    Args:
        probabilities: softmax outputs ``(..., keys)``.

    Returns:
        Tensor of the same shape with values in {0, 1}.
    """

    @ops.custom_gradient
    def _forward(inputs):
        def grad(*args, upstream=None):
            return args[0] if upstream is None else upstream

        threshold = 0.25 * ops.max(inputs, axis=-1, keepdims=True)
        return ops.cast(inputs >= threshold, inputs.dtype), grad

    return _forward(_as_tensor(probabilities))


@keras.saving.register_keras_serializable(package="bidense_keras")
def approx_sign(x, zero_as_positive=False):
    r"""Sign with the piecewise-polynomial ApproxSign gradient.

    Forward: :math:`q(x) = \mathrm{sign}(x)`.
    Backward: :math:`\partial q/\partial x = 2 + 2x` for :math:`-1 \le x < 0`,
    :math:`2 - 2x` for :math:`0 \le x < 1`, and 0 elsewhere, i.e.
    :math:`\max(0, 2 - 2|x|)` (Liu et al., 2018, "Bi-Real Net").

    Args:
        x: tensor of any shape.
        zero_as_positive: map 0 to +1 (LCE convention) instead of 0.

    Returns:
        Tensor of ``x``'s shape with values in {-1, 0, 1}.
    """
    return _sign_with_pseudo_gradient(
        x, lambda v: ops.maximum(2.0 - 2.0 * ops.abs(v), 0.0), zero_as_positive
    )


def _channel_scale(x, channel_axis):
    """``mean|x|`` over every axis but ``channel_axis``, kept for broadcasting."""
    axis = channel_axis % len(x.shape)
    reduce_axes = tuple(i for i in range(len(x.shape)) if i != axis)
    return ops.mean(ops.abs(x), axis=reduce_axes, keepdims=True)


@keras.saving.register_keras_serializable(package="bidense_keras")
def magnitude_aware_sign(x, clip_value=1.0, channel_axis=-1, zero_as_positive=False):
    r"""Sign scaled by each channel's mean magnitude, larq's estimator (gradient scaled too).

    Forward: :math:`q(x)_o = \bar{a}_o\,\mathrm{sign}(x_o)`, with
    :math:`\bar{a}_o = \mathrm{mean}|x_o|` over every axis but ``channel_axis``
    (a constant for the gradient). Backward: :math:`\bar{a}_o 1_{|x| \le
    \text{clip\_value}}` (Liu et al., 2018, "Bi-Real Net", as in larq).

    Args:
        x: e.g. a kernel ``(kh, kw, cin, cout)``.
        clip_value: the gradient is zero where ``|x| > clip_value``.
        channel_axis: the axis that keeps its own scale.
        zero_as_positive: map 0 to +1 (LCE convention) instead of 0.

    Returns:
        Tensor of ``x``'s shape: ``±scale`` per channel (0 where x == 0).
    """
    x = _as_tensor(x)
    scale = ops.stop_gradient(_channel_scale(x, channel_axis))
    return scale * ste_sign(x, clip_value=clip_value, zero_as_positive=zero_as_positive)


@keras.saving.register_keras_serializable(package="bidense_keras")
def scaled_sign(x, clip_value=1.0, channel_axis=-1, zero_as_positive=False):
    r"""The BiDense weight binarizer: per-channel scaled sign, unscaled straight-through gradient.

    Forward: :math:`q(W)_o = \bar{a}_o\,\mathrm{sign}(W_o)` with
    :math:`\bar{a}_o = \mathrm{mean}|W_o|` over every axis but ``channel_axis``.
    Backward: straight-through via :math:`\mathrm{clip}(W, -1, 1)`, i.e.
    :math:`1_{|W| \le 1}` without the scale (this is what the authors' code
    computes; :func:`magnitude_aware_sign` multiplies the gradient by the scale).

    Args:
        x: kernel ``(kh, kw, cin, cout)`` (channel_axis -1) or depthwise
            ``(kh, kw, channels, 1)`` (channel_axis -2).
        clip_value: the gradient is zero where ``|x| > clip_value``.
        channel_axis: the axis that keeps its own scale (output channels).
        zero_as_positive: map 0 to +1 (LCE convention) instead of 0.

    Returns:
        Tensor of ``x``'s shape: ``±scale`` per channel (0 where x == 0).
    """
    return _sign_with_pseudo_gradient(
        x,
        lambda v: ops.abs(v) <= clip_value,
        zero_as_positive,
        scale=lambda v: _channel_scale(v, channel_axis),
    )


def distribution_adaptive_sign(x, alpha, k, b, zero_as_positive=False):
    r"""DAB, the distribution-adaptive binarizer of BiDense (arithmetic only).

    With per-sample, per-channel statistics over height and width (constants
    for the gradient):

    .. math::
        \mu = \mathrm{mean}_{hw}(x),\quad s = x - (k\mu + b),\quad
        \sigma = \mathrm{mean}_{hw}|s|,\quad
        q(x) = e^{\alpha(\sigma - 1)}\,\mathrm{ApproxSign}(s).

    Args:
        x: activations ``(batch, height, width, channels)``.
        alpha, k, b: per-channel parameters, shape ``(channels,)``.
        zero_as_positive: map 0 to +1 (LCE convention) instead of 0.

    Returns:
        ``(batch, height, width, channels)``, values ``{-a, 0, +a}`` with ``a``
        per sample and channel.
    """
    signs, scale = distribution_adaptive_factors(x, alpha, k, b, zero_as_positive)
    return scale * signs


def distribution_adaptive_factors(x, alpha, k, b, zero_as_positive=False):
    """The two factors of :func:`distribution_adaptive_sign`: ``(signs, scale)``.

    Returns:
        ``signs (B, H, W, C)`` = ApproxSign(x - (k * mean_hw(x) + b)) and
        ``scale (B, 1, 1, C)`` = ``exp(alpha * (mean_hw|s| - 1))``.
    """
    mean = ops.stop_gradient(ops.mean(x, axis=(1, 2), keepdims=True))
    shifted = x - (k * mean + b)
    spread = ops.stop_gradient(ops.mean(ops.abs(shifted), axis=(1, 2), keepdims=True))
    return approx_sign(shifted, zero_as_positive), ops.exp(alpha * (spread - 1.0))


class Quantizer:
    """Base of the serializable quantizers: a callable with ``precision`` and a config."""

    precision = 1

    def __init__(self, zero_as_positive=False):
        self.zero_as_positive = zero_as_positive

    def get_config(self):
        """Returns the constructor arguments as a dict."""
        return {"zero_as_positive": self.zero_as_positive}

    @classmethod
    def from_config(cls, config):
        """Builds the quantizer from :meth:`get_config`'s dict."""
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()


@keras.saving.register_keras_serializable(package="bidense_keras")
class SteSign(Quantizer):
    """Serializable :func:`ste_sign`."""

    def __init__(self, clip_value=1.0, zero_as_positive=False):
        super().__init__(zero_as_positive)
        self.clip_value = clip_value

    def __call__(self, x):
        return ste_sign(x, self.clip_value, self.zero_as_positive)

    def get_config(self):
        return {**super().get_config(), "clip_value": self.clip_value}


@keras.saving.register_keras_serializable(package="bidense_keras")
class ApproxSign(Quantizer):
    """Serializable :func:`approx_sign`."""

    def __call__(self, x):
        return approx_sign(x, self.zero_as_positive)


class _ChannelScaledQuantizer(Quantizer):
    """Base of the per-channel scaled signs; ``function`` is the quantizer it wraps."""

    function = None

    def __init__(self, clip_value=1.0, channel_axis=-1, zero_as_positive=False):
        super().__init__(zero_as_positive)
        self.clip_value = clip_value
        self.channel_axis = channel_axis

    def __call__(self, x):
        return type(self).function(x, self.clip_value, self.channel_axis, self.zero_as_positive)

    def get_config(self):
        return {
            **super().get_config(),
            "clip_value": self.clip_value,
            "channel_axis": self.channel_axis,
        }


@keras.saving.register_keras_serializable(package="bidense_keras")
class MagnitudeAwareSign(_ChannelScaledQuantizer):
    """Serializable :func:`magnitude_aware_sign`."""

    function = staticmethod(magnitude_aware_sign)


@keras.saving.register_keras_serializable(package="bidense_keras")
class ScaledSign(_ChannelScaledQuantizer):
    """Serializable :func:`scaled_sign` (the BiDense weight binarizer)."""

    function = staticmethod(scaled_sign)


@keras.saving.register_keras_serializable(package="bidense_keras")
class DistributionAdaptiveBinarizer(keras.layers.Layer):
    """DAB: binarizes activations around a threshold that follows each input's statistics.

    Per input channel c it learns ``alpha_c`` (scale), ``k_c`` (threshold slope) and ``b_c`` (threshold
    offset); see :func:`distribution_adaptive_sign` for the formula. Init: alpha, k ~ Normal(0, 1e-3),
    b = 0, as in the paper. A convolution owns it under the name ``binarizer`` (its weights' path).

    Input: ``(batch, height, width, channels)``. Output: same shape.

    Args:
        zero_as_positive: map sign(0) to +1 (LCE convention) instead of 0.
    """

    precision = 1
    scales_after_conv = False  # the scale multiplies the signs before the convolution

    def __init__(self, zero_as_positive=False, name="binarizer", **kwargs):
        super().__init__(name=name, **kwargs)
        self.zero_as_positive = zero_as_positive

    def build(self, input_shape):
        channels = input_shape[-1]
        small_normal = keras.initializers.RandomNormal(stddev=1e-3)
        self.alpha = self.add_weight(shape=(channels,), initializer=small_normal, name="alpha")
        self.k = self.add_weight(shape=(channels,), initializer=small_normal, name="k")
        self.b = self.add_weight(shape=(channels,), initializer="zeros", name="b")

    def call(self, inputs):
        return distribution_adaptive_sign(inputs, self.alpha, self.k, self.b, zero_as_positive=self.zero_as_positive)

    def signs_and_scale(self, inputs):
        """DAB split in its two factors: ``call(x) == scale * signs``.

        Returns:
            ``signs (B, H, W, C)`` in {-1, 0, 1} (ApproxSign gradient) and
            ``scale (B, 1, 1, C)`` = ``exp(alpha * (mean_hw|s| - 1))``.
        """
        return distribution_adaptive_factors(inputs, self.alpha, self.k, self.b, zero_as_positive=self.zero_as_positive)

    def get_config(self):
        return {**super().get_config(), "zero_as_positive": self.zero_as_positive}


@keras.saving.register_keras_serializable(package="bidense_keras")
class DeployableDistributionAdaptiveBinarizer(DistributionAdaptiveBinarizer):
    """DAB whose scale the convolution applies after itself (``"dab_deployable"``), the same weights as DAB.

    A bitpacked binary convolution takes only signs, so the convolution convolves ``signs`` and multiplies
    its output by a scale derived from DAB's (exact for a depthwise conv, a magnitude-weighted mean of the
    input channels' scales otherwise; see :meth:`bidense_keras.layers.BiDenseConv2D.output_scale`).
    Called on its own it computes DAB exactly.
    """

    scales_after_conv = True


QUANTIZERS = {
    "ste_sign": SteSign,
    "approx_sign": ApproxSign,
    "magnitude_aware_sign": MagnitudeAwareSign,
    "scaled_sign": ScaledSign,
    "dab": DistributionAdaptiveBinarizer,
    "dab_deployable": DeployableDistributionAdaptiveBinarizer,
}


def takes(identifier, option):
    """Whether the quantizer named ``identifier`` is made with the constructor argument ``option`` (False for
    objects, callables and None: they are used as given). A convolution asks it for ``channel_axis``."""
    return isinstance(identifier, str) and option in inspect.signature(QUANTIZERS[identifier].__init__).parameters


def get(identifier, **options):
    """Returns a quantizer for a name, a config dict, a quantizer object or callable, or None.

    Args:
        identifier: a name of :data:`QUANTIZERS` (e.g. ``"approx_sign"``, ``"dab"``), a :class:`Quantizer`,
            a DAB layer, any callable ``x -> q(x)``, a ``keras.saving.serialize_keras_object`` dict, or
            None (no quantization).
        **options: constructor arguments used when ``identifier`` is a name (see :func:`takes`).

    Raises:
        ValueError: an unknown name. TypeError: anything else that is not a quantizer.
    """
    if identifier is None or isinstance(identifier, (Quantizer, keras.layers.Layer)):
        return identifier
    if isinstance(identifier, str):
        if identifier not in QUANTIZERS:
            raise ValueError(f"Unknown quantizer {identifier!r}; choose one of {sorted(QUANTIZERS)}.")
        return QUANTIZERS[identifier](**options)
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"Cannot interpret {identifier!r} as a quantizer.")


def serialize(quantizer):
    """What a layer's config stores for a quantizer: a name (or None) as given, else ``keras.saving.serialize_keras_object``
    of the object or function (this module's functions are registered with Keras; register your own callables
    with ``keras.saving.register_keras_serializable`` to save a layer that uses them)."""
    if quantizer is None or isinstance(quantizer, str):
        return quantizer
    return keras.saving.serialize_keras_object(quantizer)
