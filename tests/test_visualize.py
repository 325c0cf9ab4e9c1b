import numpy as np
import pytest

from bidense_keras import visualize


def test_palette_is_distinct_and_sized():
    palette = visualize.default_palette(151)
    assert palette.shape == (151, 3) and palette.dtype == np.uint8
    assert len({tuple(c) for c in palette[:20]}) == 20


def test_colorize_segmentation_uses_the_palette():
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0]], np.uint8)
    labels = np.array([[0, 1], [2, 1]])
    np.testing.assert_array_equal(visualize.colorize_segmentation(labels, palette)[1, 0], [0, 255, 0])
    with pytest.raises(ValueError, match="height, width"):
        visualize.colorize_segmentation(labels[None], palette)


def test_colorize_depth_orders_near_and_far():
    depth = np.array([[0.5, 9.5]])
    colours = visualize.colorize_depth(depth, max_depth=10).astype(int)
    assert colours.shape == (1, 2, 3)
    assert colours[0, 0].sum() > colours[0, 1].sum()  # magma_r: near is bright, far is dark


def test_prediction_figure_has_a_legend_and_a_scale_bar(tmp_path):
    image = np.full((24, 32, 3), 128, np.uint8)
    labels = np.zeros((24, 32), int)
    labels[:, 16:] = 2
    figure = visualize.prediction_figure(image, labels=labels, depth=np.full((24, 32), 3.0), max_depth=10,
                                         class_names=["wall", "floor", "table"])
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["wall", "table"]  # only classes present
    assert any(ax.get_ylabel() == "depth (m)" for ax in figure.axes)  # the colorbar
    figure.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000


def test_grid_figure_shares_one_legend_and_one_depth_scale():
    image = np.zeros((8, 8, 3), np.uint8)
    first, second = np.zeros((8, 8), int), np.ones((8, 8), int)
    depth = np.full((8, 8), 4.0, np.float32)
    depth[0] = 0.0  # unknown
    rows = [[("image", image), ("labels", first), ("depth", depth)], [("image", image), ("labels", second), ("depth", depth)]]
    figure = visualize.grid_figure(rows, ["in", "classes", "depth"], ["wall", "floor"], max_depth=10)
    panels = [axis for axis in figure.axes if axis.get_ylabel() != "depth (m)"]
    assert len(panels) == 6 and [axis.get_title() for axis in panels[:3]] == ["in", "classes", "depth"]
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["wall", "floor"]  # classes of every row
    assert sum(axis.get_ylabel() == "depth (m)" for axis in figure.axes) == 1
    shown = panels[2].get_images()[0].get_array()
    assert shown.mask[0].all() and not shown.mask[1:].any() and shown.max() == 4.0  # 0 m drawn as unknown
    with pytest.raises(ValueError, match="3 panels"):
        visualize.grid_figure([rows[0][:2]], ["in", "classes", "depth"])
    with pytest.raises(ValueError, match="unknown panel kind.*'label'"):
        visualize.grid_figure([[("image", image), ("label", first)]], ["in", "classes"])
    with pytest.raises(ValueError, match="at least one row"):
        visualize.grid_figure([], ["in"])


def test_grid_figure_scales_every_depth_panel_alike_and_names_only_known_classes():
    near, far = np.full((8, 8), 2.0, np.float32), np.full((8, 8), 7.0, np.float32)
    labels = np.array([[-1, 0, 1, 5]] * 4)  # -1 and 5 have no name: not in the legend
    rows = [[("depth", near), ("labels", labels)], [("depth", far), ("labels", labels)]]
    figure = visualize.grid_figure(rows, ["depth", "classes"], ["wall", "floor", "ceiling"])
    assert len(figure.axes) == 5  # 4 panels (row by row) + 1 scale bar
    scales = {figure.axes[i].get_images()[0].get_clim() for i in (0, 2)}  # the depth column
    assert scales == {(0.0, 7.0)}  # one scale for both rows, the largest depth on top
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["wall", "floor"]
