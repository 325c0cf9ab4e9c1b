"""Pictures of predictions: coloured label maps, depth maps with a colormap, and figures with a legend
or a scale bar that show input and predictions side by side."""

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch

DEPTH_COLORMAP = "magma_r"


def default_palette(num_classes, seed=0):
    """``(num_classes, 3)`` uint8 colours: matplotlib's tab20 first, then seeded random colours."""
    tab20 = (np.array(colormaps["tab20"].colors) * 255).astype(np.uint8)
    extra = np.random.default_rng(seed).integers(0, 256, size=(max(0, num_classes - 20), 3))
    return np.concatenate([tab20, extra.astype(np.uint8)])[:num_classes]


def colorize_segmentation(labels, palette):
    """``labels (H, W)`` int -> ``(H, W, 3)`` uint8 using ``palette (num_classes, 3)``."""
    labels = np.asarray(labels)
    palette = np.asarray(palette, dtype=np.uint8)
    if labels.ndim != 2:
        raise ValueError(f"labels must be (height, width); got shape {labels.shape}.")
    return palette[np.clip(labels, 0, len(palette) - 1)]


def colorize_depth(depth, max_depth, colormap=DEPTH_COLORMAP):
    """``depth (H, W)`` metres -> ``(H, W, 3)`` uint8; values clipped to [0, max_depth], near is bright."""
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"depth must be (height, width); got shape {depth.shape}.")
    normalized = np.clip(depth / float(max_depth), 0.0, 1.0)
    return (colormaps[colormap](normalized)[..., :3] * 255).astype(np.uint8)


def prediction_figure(image, labels=None, depth=None, class_names=None, palette=None, max_depth=None,
                      titles=("input", "segmentation", "depth")):
    """A figure of ``image`` and its predictions, ready to save (``fig.savefig(path)``).

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        labels: ``(H, W)`` class ids, drawn with ``palette`` and a legend of the classes present.
        depth: ``(H, W)`` metres, drawn with a colormap and a scale bar up to ``max_depth``.
        class_names: names by class id (default ``class 0``, ``class 1``...).
        palette: ``(num_classes, 3)`` uint8; default :func:`default_palette`.
        titles: panel titles in the order input, segmentation, depth.

    Returns:
        A ``matplotlib.figure.Figure`` (not attached to pyplot, safe in threads and headless).
    """
    panels = [("image", image)] + [(kind, value) for kind, value in (("labels", labels), ("depth", depth))
                                   if value is not None]
    height, width = np.asarray(image).shape[:2]
    figure = Figure(figsize=(3.2 * len(panels) * width / height + 1.5, 3.6), dpi=150, layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    title_of = dict(zip(("image", "labels", "depth"), titles))
    for axis, (kind, value) in zip(axes, panels):
        axis.set_title(title_of[kind], fontsize=9)
        axis.set_axis_off()
        if kind == "image":
            axis.imshow(value)
        elif kind == "labels":
            _draw_segmentation(axis, np.asarray(value), class_names, palette)
        else:
            _draw_depth(figure, axis, np.asarray(value, dtype=np.float32), max_depth)
    return figure


def _draw_segmentation(axis, labels, class_names, palette):
    present = np.unique(labels)
    palette = default_palette(int(present.max()) + 1) if palette is None else np.asarray(palette, np.uint8)
    axis.imshow(colorize_segmentation(labels, palette))
    names = class_names or [f"class {i}" for i in range(len(palette))]
    handles = [Patch(color=palette[i] / 255.0, label=names[i]) for i in present if i < len(names)]
    axis.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)


def _draw_depth(figure, axis, depth, max_depth):
    max_depth = float(max_depth or depth.max())
    shown = axis.imshow(depth, cmap=DEPTH_COLORMAP, vmin=0.0, vmax=max_depth)
    bar = figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.02)
    bar.set_label("depth (m)", fontsize=7)
    bar.ax.tick_params(labelsize=7)

