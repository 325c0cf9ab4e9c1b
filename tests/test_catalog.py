"""Tests for the dataset catalog: published class names and colours, head sizes, layouts and errors."""

import numpy as np
import pytest

from bidense_keras.datasets import augment, catalog, loaders, synthetic_rooms

SEGMENTATION = ("synthetic_rooms", "ade20k", "voc")


def test_names_all_and_by_task():
    assert catalog.names() == ("synthetic_rooms", "ade20k", "voc", "nyu", "kitti")
    assert catalog.names("segmentation") == SEGMENTATION
    assert catalog.names("depth") == ("synthetic_rooms", "nyu", "kitti")
    with pytest.raises(ValueError, match="Unknown task 'detection'"):
        catalog.names("detection")


def test_unknown_dataset_lists_the_known_ones():
    known = r"\('synthetic_rooms', 'ade20k', 'voc', 'nyu', 'kitti'\)"
    with pytest.raises(ValueError, match=f"Unknown dataset 'coco'; choose one of {known}"):
        catalog.dataset("coco")
    with pytest.raises(ValueError, match="Unknown dataset 'coco'"):
        catalog.palette("coco")


def test_a_dataset_of_another_task_or_no_task_for_synthetic_rooms_is_an_error():
    with pytest.raises(ValueError, match="nyu is a depth dataset, not segmentation"):
        catalog.class_names("nyu")
    with pytest.raises(ValueError, match="ade20k is a segmentation dataset, not depth"):
        catalog.head_size("ade20k", "depth")
    with pytest.raises(ValueError, match=r"synthetic_rooms has the tasks \('segmentation', 'depth'\)"):
        catalog.head_size("synthetic_rooms")


def test_dataset_returns_a_copy():
    entry = catalog.dataset("synthetic_rooms")
    entry["layout"]["depth"] = "kitti"
    entry["input_size"] = (1, 1)
    assert catalog.dataset("synthetic_rooms")["layout"] == {"segmentation": "ade20k", "depth": "nyu"}
    assert catalog.dataset("synthetic_rooms")["input_size"] == (240, 320)


def test_input_sizes_are_the_papers_training_crops():
    sizes = {name: catalog.dataset(name)["input_size"] for name in catalog.names()}
    assert sizes == {"synthetic_rooms": (240, 320), "ade20k": (480, 480), "voc": (480, 480), "nyu": (416, 544),
                     "kitti": (352, 704)}


def test_ade20k_class_names():
    names = catalog.class_names("ade20k")
    assert len(names) == len(set(names)) == 150
    assert names[:5] == ("wall", "building", "sky", "floor", "tree")
    assert (names[7], names[12], names[89], names[149]) == ("bed", "person", "television receiver", "flag")
    assert all(name and name == name.strip() for name in names)


def test_voc_class_names():
    names = catalog.class_names("voc")
    assert len(names) == len(set(names)) == 21
    assert names[:3] == ("background", "aeroplane", "bicycle")
    assert (names[15], names[20]) == ("person", "tvmonitor")


@pytest.mark.parametrize("name", SEGMENTATION)
def test_palettes_are_uint8_rgb_one_per_class(name):
    colours = catalog.palette(name)
    assert colours.dtype == np.uint8
    assert colours.shape == (catalog.dataset(name)["num_classes"], 3) == (len(catalog.class_names(name)), 3)


def test_ade20k_palette_published_entries():
    colours = catalog.palette("ade20k")
    np.testing.assert_array_equal(colours[:5], [(120, 120, 120), (180, 120, 120), (6, 230, 230), (80, 50, 50),
                                                (4, 200, 3)])
    np.testing.assert_array_equal(colours[[12, 20, 149]], [(150, 5, 61), (0, 102, 200), (92, 0, 255)])


def test_voc_palette_follows_the_colormap():
    colours = catalog.palette("voc")
    expected = {0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0), 4: (0, 0, 128), 8: (64, 0, 0),
                15: (192, 128, 128), 20: (0, 64, 128)}
    assert {label: tuple(colours[label].tolist()) for label in expected} == expected


def test_no_duplicate_colours_but_the_one_the_ade20k_palette_publishes():
    for name in ("synthetic_rooms", "voc"):
        assert len(np.unique(catalog.palette(name), axis=0)) == catalog.dataset(name)["num_classes"]
    colours = catalog.palette("ade20k")
    unique, counts = np.unique(colours, axis=0, return_counts=True)
    assert unique[counts > 1].tolist() == [[140, 140, 140]]
    shared = np.flatnonzero((colours == 140).all(axis=1))
    assert [catalog.class_names("ade20k")[index] for index in shared] == ["road", "skyscraper"]


def test_synthetic_rooms_facts_come_from_its_module():
    assert catalog.class_names("synthetic_rooms") == synthetic_rooms.CLASS_NAMES
    np.testing.assert_array_equal(catalog.palette("synthetic_rooms"), synthetic_rooms.PALETTE)
    layouts = catalog.dataset("synthetic_rooms")["layout"]
    assert layouts == {task: synthetic_rooms.TASK_LAYOUTS[task][0] for task in catalog.TASKS}


def test_every_layout_is_a_loader_dataset_of_that_task():
    for name in catalog.names():
        entry = catalog.dataset(name)
        layouts = entry["layout"] if isinstance(entry["layout"], dict) else {entry["task"]: entry["layout"]}
        for task, layout in layouts.items():
            assert layout in loaders.NAMES and catalog.dataset(layout)["task"] == task


def test_depth_and_label_facts():
    nyu, kitti = catalog.dataset("nyu"), catalog.dataset("kitti")
    assert (nyu["eval_crop"], kitti["eval_crop"], catalog.dataset("synthetic_rooms")["eval_crop"]) == (
        "eigen", "garg", None)
    assert (nyu["depth_scale"], nyu["kb_crop"]) == (1000.0, False)
    assert (kitti["depth_scale"], kitti["kb_crop"]) == (256.0, True)
    assert catalog.dataset("ade20k")["reduce_zero_label"] and not catalog.dataset("voc")["reduce_zero_label"]
    assert {catalog.dataset(name)["ignore_index"] for name in ("ade20k", "voc")} == {augment.IGNORE_INDEX}


def test_head_sizes_add_the_extra_logits():
    assert catalog.head_size("ade20k") == {"num_classes": 151}
    assert catalog.head_size("voc") == {"num_classes": 22}
    assert catalog.head_size("synthetic_rooms", "segmentation") == {"num_classes": 9}
    assert catalog.head_size("nyu") == {"max_depth": 10.0}
    assert catalog.head_size("kitti") == {"max_depth": 80.0}
    assert catalog.head_size("synthetic_rooms", "depth") == {"max_depth": synthetic_rooms.MAX_DEPTH}


def test_head_arguments_name_and_colour_every_logit():
    head = catalog.head_arguments("ade20k", "segmentation")
    assert head["num_classes"] == len(head["class_names"]) == len(head["palette"]) == 151
    assert head["class_names"] == (*catalog.class_names("ade20k"), catalog.EXTRA_LOGIT_NAME)
    np.testing.assert_array_equal(head["palette"], [*catalog.palette("ade20k"), catalog.EXTRA_LOGIT_COLOUR])
    rooms = catalog.head_arguments("synthetic_rooms", "segmentation")
    assert rooms["num_classes"] == len(rooms["class_names"]) == len(rooms["palette"]) == 9
    assert catalog.head_arguments("kitti") == {"max_depth": 80.0}
