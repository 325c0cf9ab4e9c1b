"""The DPT family's presets: the authors' ViT-S/14 model and the demo models trained here."""

from bidense_keras.presets import demo_rows, paper_rows

FAMILY = "dpt"
BINARIZATIONS = ("bidense", "bidense_deployable", "fp32")  # the ViT is binary in the first two, float in fp32

# DINOv2's sizes (head width 64); the authors' models use vit_small (ViT-S/14).
VIT_SIZES = {
    "vit_small": {"embed_dim": 384, "depth": 12, "num_heads": 6},
    "vit_base": {"embed_dim": 768, "depth": 12, "num_heads": 12},
}
OUT_CHANNELS = (48, 96, 192, 384)  # the authors' reassemble widths for ViT-S
BACKBONES = {
    "vit_small": {**VIT_SIZES["vit_small"], "features": 256, "out_channels": OUT_CHANNELS},
    "vit_demo": {"embed_dim": 192, "depth": 4, "num_heads": 3, "features": 64, "out_channels": (24, 48, 96, 192)},
}
DEFAULT_PRESETS = {"segmentation": "bidense_dpt_demo_rooms_seg", "depth": "bidense_dpt_demo_rooms_depth"}
BASE_PRESETS = {"segmentation": "bidense_dpt_vits14_ade20k", "depth": "bidense_dpt_vits14_nyu"}

PRESET_ROWS = (
    *paper_rows(FAMILY, {"vits14": "vit_small"}),
    *demo_rows(FAMILY, "vit_demo", ("bidense", "fp32")),
)
