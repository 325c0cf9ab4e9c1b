"""Pictures of predictions: coloured label maps, depth maps with a colormap, and figures with a legend
or a scale bar that show input and predictions side by side."""

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch

DEPTH_COLORMAP = "magma_r"
PANEL_KINDS = ("image", "labels", "depth")


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
        max_depth: the top of the depth scale (default: the largest depth); depth 0 (unknown) is grey.
        titles: panel titles in the order input, segmentation, depth.

    Returns:
        A ``matplotlib.figure.Figure`` (not attached to pyplot, safe in threads and headless).
    """
    panels = [("image", image)] + [(kind, value) for kind, value in (("labels", labels), ("depth", depth))
                                   if value is not None]
    title_of = dict(zip(PANEL_KINDS, titles))
    return grid_figure([panels], [title_of[kind] for kind, _ in panels], class_names, palette, max_depth)


def grid_figure(rows, titles, class_names=None, palette=None, max_depth=None):
    """Rows of panels under one title per column, with one legend and one depth scale bar for all.

    Args:
        rows: a list of rows, each a list of ``(kind, value)`` pairs, one per column:
            ``("image", (H, W, 3) uint8)``, ``("labels", (H, W) class ids)`` or
            ``("depth", (H, W) metres)``, where depth 0 (no depth known) is drawn grey.
        titles: one title per column.
        class_names, palette: as for :func:`prediction_figure`.
        max_depth: the top of the depth scale (default: the largest depth shown).

    Returns:
        A ``matplotlib.figure.Figure``.
    """
    if not rows or not titles:
        raise ValueError("grid_figure needs at least one row and one title.")
    if any(len(row) != len(titles) for row in rows):
        raise ValueError(f"every row needs {len(titles)} panels (one per title); got {[len(row) for row in rows]}.")
    unknown = sorted({kind for row in rows for kind, _ in row} - set(PANEL_KINDS))
    if unknown:
        raise ValueError(f"unknown panel kind(s) {unknown}; expected one of {PANEL_KINDS}.")
    labels = [np.asarray(value) for row in rows for kind, value in row if kind == "labels"]
    depths = [np.asarray(value, dtype=np.float32) for row in rows for kind, value in row if kind == "depth"]
    if labels:
        top = max(int(label.max()) for label in labels)
        palette = default_palette(top + 1) if palette is None else np.asarray(palette, np.uint8)
    height, width = np.asarray(rows[0][0][1]).shape[:2]
    figure = Figure(figsize=(3.2 * len(titles) * width / height + 1.5, 3.2 * len(rows) + 0.4), dpi=150,
                    layout="constrained")
    axes = figure.subplots(len(rows), len(titles), squeeze=False)
    depth_colormap = colormaps[DEPTH_COLORMAP].with_extremes(bad="lightgrey")
    depth_top = float(max_depth or max(depth.max() for depth in depths)) if depths else None
    for axis, title in zip(axes[0], titles):
        axis.set_title(title, fontsize=9)
    for axis, (kind, value) in zip(axes.ravel(), (panel for row in rows for panel in row)):
        axis.set_axis_off()
        if kind == "image":
            axis.imshow(value)
        elif kind == "labels":
            axis.imshow(colorize_segmentation(value, palette))
        else:
            shown = axis.imshow(np.ma.masked_equal(np.asarray(value, np.float32), 0.0), cmap=depth_colormap,
                                vmin=0.0, vmax=depth_top)
    if labels:
        present = np.unique(np.concatenate([label.ravel() for label in labels]))
        names = class_names or [f"class {i}" for i in range(len(palette))]
        handles = [Patch(color=palette[i] / 255.0, label=names[i]) for i in present
                   if 0 <= i < min(len(names), len(palette))]
        figure.legend(handles=handles, loc="outside right upper", fontsize=7, frameon=False)
    if depths:
        bar = figure.colorbar(shown, ax=axes, fraction=0.046 / len(titles), pad=0.01, shrink=min(1.0, 0.6 * len(rows)))
        bar.set_label("depth (m)", fontsize=7)
        bar.ax.tick_params(labelsize=7)
    return figure


