"""The backbone contract that both families' feature extractors keep."""


class Backbone:
    """A family's feature extractor: a ``keras.Model`` that maps images to a pyramid of four feature maps.

    Call: normalized images ``(batch, height, width, 3)`` -> a list of four maps ``(batch, h_i, w_i, C_i)``,
    finest first, which the family's decoder takes. Constructor: the family's width and depth arguments
    and ``binarization`` (a variant of :data:`bidense_keras.variants.BINARIZATIONS` the family has).
    Attributes: ``binarization`` and ``feature_channels`` (the four ``C_i``).

    A mixin, not a ``keras.Model`` subclass: the ConvNeXt backbone is a functional model, the ViT one
    a subclassed model (its token grid follows the image size at run time), and Keras gives a functional
    model's base classes its functional machinery.
    """

    binarization = None

    @property
    def feature_channels(self):
        """The channels of the four pyramid maps, finest first."""
        raise NotImplementedError
