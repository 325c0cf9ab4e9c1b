"""Pictures of predictions: coloured label maps, depth maps with a colormap, side-by-side panels."""

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw


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


def colorize_depth(depth, max_depth, colormap="magma_r"):
    """``depth (H, W)`` metres -> ``(H, W, 3)`` uint8; values clipped to [0, max_depth]."""
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"depth must be (height, width); got shape {depth.shape}.")
    normalized = np.clip(depth / float(max_depth), 0.0, 1.0)
    return (colormaps[colormap](normalized)[..., :3] * 255).astype(np.uint8)


def side_by_side(panels, titles=None, gap=8, title_height=18):
    """Concatenates ``(H, W, 3)`` uint8 panels horizontally with optional titles; returns a PIL image."""
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    top = title_height if titles else 0
    canvas = Image.new("RGB", (width, height + top), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for index, panel in enumerate(panels):
        canvas.paste(Image.fromarray(np.asarray(panel, dtype=np.uint8)), (x, top))
        if titles:
            draw.text((x + 4, 3), titles[index], fill="black")
        x += panel.shape[1] + gap
    return canvas
