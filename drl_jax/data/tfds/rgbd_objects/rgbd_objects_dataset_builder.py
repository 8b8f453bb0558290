"""RGB-D Objects (University of Washington): turntable videos, one object instance per category.

Source (manual download): the cropped `rgbd-dataset` folder,
`rgbd-dataset/{category}/{category}_{instance}/{category}_{instance}_{video}_{frame}_*`
with `_crop.png` (RGB), `_depthcrop.png` (16-bit depth, millimetres) and
`_maskcrop.png` (object mask) per frame. Videos 1, 2 and 4 are filmed from three
camera heights; frames count from 1 over one turntable revolution.

Instance 1 of each of the 51 categories is kept. FoVs: `category` 51, `video`
(camera elevation) 3, `pose` = the frame binned into `POSE_BINS` equal parts of
its video: pose = (frame - 1) * 36 // (last frame of the video), i.e. 10 degree
turntable sectors when a video spans one revolution. Not a full grid: a sector
holds several frames, and frames without all three files are skipped.
"""

from __future__ import annotations

import io
import re

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from etils import epath
from PIL import Image

CATEGORIES = (
    "apple", "ball", "banana", "bell_pepper", "binder", "bowl", "calculator", "camera",
    "cap", "cell_phone", "cereal_box", "coffee_mug", "comb", "dry_battery", "flashlight",
    "food_bag", "food_box", "food_can", "food_cup", "food_jar", "garlic", "glue_stick",
    "greens", "hand_towel", "instant_noodles", "keyboard", "kleenex", "lemon", "lightbulb",
    "lime", "marker", "mushroom", "notebook", "onion", "orange", "peach", "pear", "pitcher",
    "plate", "pliers", "potato", "rubber_eraser", "scissors", "shampoo", "soda_can",
    "sponge", "stapler", "tomato", "toothbrush", "toothpaste", "water_bottle",
)  # fmt: skip
VIDEOS = ("1", "2", "4")
POSE_BINS = 36
INSTANCE = 1
_FILES = ("crop", "depthcrop", "maskcrop")


class Builder(tfds.core.GeneratorBasedBuilder):
    """RGB-D Objects crops with depth and mask; FoVs category, video, pose as ClassLabels."""

    # Metadata beside this file (see mpi3d_dataset_builder.py).
    pkg_dir_path = epath.Path(__file__).parent
    code_path = epath.Path(__file__)
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: instance 1 per category, the files' bytes."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Download rgbd-dataset.tar (the cropped objects of the RGB-D Object Dataset)
    from https://rgbd-dataset.cs.washington.edu/dataset/ , extract it and put the
    rgbd-dataset/ folder (rgbd-dataset/apple/apple_1/apple_1_1_1_crop.png, ...) in
    the manual dir. Only {category}_1 instance folders are read.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        features = {
            "image": tfds.features.Image(shape=(None, None, 3)),
            "depth": tfds.features.Image(shape=(None, None, 1), dtype=np.uint16),
            "mask": tfds.features.Image(shape=(None, None, 1)),
            "category": tfds.features.ClassLabel(names=CATEGORIES),
            "video": tfds.features.ClassLabel(names=VIDEOS),
            "pose": tfds.features.ClassLabel(num_classes=POSE_BINS),
            "frame": np.int64,
        }
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            homepage="https://rgbd-dataset.cs.washington.edu/",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        root = dl_manager.manual_dir / "rgbd-dataset"
        return {"train": self._generate_examples(root if root.exists() else dl_manager.manual_dir)}

    def _generate_examples(self, root):
        skipped = []
        for category in CATEGORIES:
            folder = root / category / f"{category}_{INSTANCE}"
            if not folder.is_dir():
                raise FileNotFoundError(f"RGB-D Objects: {folder} is missing.")
            frames = _frames(folder, f"{category}_{INSTANCE}")
            last = {}
            for video, frame in frames:
                last[video] = max(last.get(video, 0), frame)
            for video, frame in sorted(frames):
                stem = f"{category}_{INSTANCE}_{video}_{frame}"
                paths = [folder / f"{stem}_{kind}.png" for kind in _FILES]
                if not all(path.exists() for path in paths):
                    skipped.append(stem)
                    continue
                data = [path.read_bytes() for path in paths]
                if len({Image.open(io.BytesIO(d)).size for d in data}) != 1:
                    skipped.append(stem)
                    continue
                yield (
                    stem,
                    {
                        "image": data[0],
                        "depth": data[1],
                        "mask": data[2],
                        "category": category,
                        "video": video,
                        "pose": (frame - 1) * POSE_BINS // last[video],
                        "frame": frame,
                    },
                )
        if skipped:
            logging.warning(
                "RGB-D Objects: skipped %d frames lacking a crop, depth or mask file of one "
                "size, e.g. %s.",
                len(skipped),
                skipped[:5],
            )


def _frames(folder: epath.Path, prefix: str) -> set[tuple[str, int]]:
    """(video, frame) of every `{prefix}_{video}_{frame}_crop.png` in `folder`."""
    pattern = re.compile(rf"{re.escape(prefix)}_(\d+)_(\d+)_crop\.png")
    frames = set()
    for path in folder.glob(f"{prefix}_*_crop.png"):
        match = pattern.fullmatch(path.name)
        if match:
            if match[1] not in VIDEOS:
                raise ValueError(
                    f"RGB-D Objects: {path.name} is from video {match[1]}, not {VIDEOS}."
                )
            frames.add((match[1], int(match[2])))
    return frames
