"""The label classes of the heat sink dataset and their colours."""

BACKGROUND = 0
SCRATCH = 1
STAIN = 2

#: Class index -> name, in mask-value order.
CLASS_NAMES: tuple[str, ...] = ("background", "scratch", "stain")

#: Defect classes only (index, name).
DEFECTS: tuple[tuple[int, str], ...] = ((SCRATCH, "scratch"), (STAIN, "stain"))

#: Pascal VOC palette colours used by the dataset's ``jsons/<id>_json/label.png`` (RGB).
VOC_COLOURS: dict[int, tuple[int, int, int]] = {
    BACKGROUND: (0, 0, 0),
    SCRATCH: (128, 0, 0),
    STAIN: (0, 128, 0),
}

#: Overlay colours for figures (RGB), as in DatasetNinja's grid: cyan scratch, green stain.
OVERLAY_COLOURS: dict[int, tuple[int, int, int]] = {
    SCRATCH: (0, 220, 255),
    STAIN: (60, 230, 60),
}


__all__ = [
    "BACKGROUND",
    "CLASS_NAMES",
    "DEFECTS",
    "OVERLAY_COLOURS",
    "SCRATCH",
    "STAIN",
    "VOC_COLOURS",
]
