"""The backbone contract that both families' feature extractors keep."""


class Backbone:
    """A family's feature extractor: a Keras layer that maps images to a pyramid of four feature maps.

    Call: normalized images ``(batch, height, width, 3)`` -> a list of four maps ``(batch, h_i, w_i, C_i)``,
    finest first, which the family's decoder takes. Constructor: the family's width and depth arguments
    and ``binarization`` (a variant of :data:`bidense_keras.variants.BINARIZATIONS` the family has), kept
    as the ``binarization`` attribute and in the config.

    A mixin, not a base class of Keras' own: the ConvNeXt backbone is a functional ``keras.Model`` (Keras
    gives a functional model's base classes its functional machinery), the ViT one a ``keras.layers.Layer``
    (its patch grid follows the image size at run time, and its weights keep the layout of saved files).
    """

    binarization = None
