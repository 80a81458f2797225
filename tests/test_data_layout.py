"""Loading and validating dataset folders: every error names the file and the problem."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from heatsink.data import CheckReport, Dataset, check_dataset, find_dataset_root, load_dataset
from heatsink.errors import DatasetError
from heatsink.stats import image_table

SIZE = 32  # small images keep the suite fast; 320 is exercised once below


def _expect(path, *words, verify=True):
    """load_dataset raises a DatasetError naming a file and the problem words."""
    with pytest.raises(DatasetError) as info:
        load_dataset(path, verify=verify)
    message = str(info.value)
    for word in words:
        assert word in message, message
    return info.value


# ---- valid data -----------------------------------------------------------------------


def test_load_valid_dataset(make_dataset):
    root = make_dataset(5, 320)
    ds = load_dataset(root)
    assert isinstance(ds, Dataset)
    assert len(ds) == 5 and ds.ids == ["0001", "0002", "0003", "0004", "0005"]
    assert ds.root == root and ds.name == "heat sink dataset"
    image, mask = ds.image(0), ds.mask("0001")
    assert image.shape == (320, 320, 3) and image.dtype == np.uint8
    assert mask.shape == (320, 320) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 1, 2}
    assert not ds.has_truth and ds.parts is None
    assert "heat sink dataset" in repr(ds)


def test_image_is_rgb(make_dataset):
    root = make_dataset(1, SIZE)
    rgb = np.zeros((SIZE, SIZE, 3), np.uint8)
    rgb[..., 0] = 200  # red
    cv2.imwrite(str(root / "images" / "0001.bmp"), rgb[..., ::-1])
    assert load_dataset(root).image(0)[0, 0].tolist() == [200, 0, 0]


def test_twin_truth_parts_and_masks(make_dataset):
    root = make_dataset(4, SIZE, with_truth=True, with_jsons=True, parts=2)
    ds = load_dataset(root)
    assert ds.name == "synthetic twin" and ds.has_truth
    truth, label = ds.truth(1), ds.mask(1)
    assert truth[-2, -2] == 2 and label[-2, -2] == 0  # the stain the label missed
    truth[-4:-1, -4:-1] = 0
    assert np.array_equal(truth, label)  # and nothing else differs
    assert ds.parts.to_dict() == {"0001": 0, "0002": 0, "0003": 1, "0004": 1}
    pairs = list(ds.masks("truth"))
    assert [i for i, _ in pairs] == ds.ids
    assert all(np.array_equal(m, ds.truth(i)) for i, m in pairs)
    table = image_table(ds.masks())
    assert len(table) == 4 and (table["scratch_count"] > 0).all()
    with pytest.raises(ValueError, match="which"):
        ds.masks("nope")


def test_truth_on_real_data_is_a_clear_error(make_dataset):
    ds = load_dataset(make_dataset(2, SIZE))
    with pytest.raises(DatasetError, match="no truth/ folder"):
        ds.truth(0)
    with pytest.raises(DatasetError, match="no truth/ folder"):
        ds.masks("truth")


def test_unknown_id(make_dataset):
    ds = load_dataset(make_dataset(2, SIZE))
    with pytest.raises(KeyError, match="9999"):
        ds.image("9999")


def test_palette_and_grey_rgb_masks_are_read_as_classes(make_dataset):
    root = make_dataset(1, SIZE)
    mask = cv2.imread(str(root / "labels" / "0001.png"), cv2.IMREAD_UNCHANGED)
    grey3 = np.dstack([mask] * 3)
    cv2.imwrite(str(root / "labels" / "0001.png"), grey3)
    assert np.array_equal(load_dataset(root).mask(0), mask)
    voc = np.array([(0, 0, 0), (128, 0, 0), (0, 128, 0)], np.uint8)[mask]
    cv2.imwrite(str(root / "labels" / "0001.png"), voc[..., ::-1])
    assert np.array_equal(load_dataset(root).mask(0), mask)


# ---- bad files --------------------------------------------------------------------------


def test_truncated_bmp(make_dataset):
    root = make_dataset(2, SIZE)
    path = root / "images" / "0002.bmp"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    err = _expect(root, "0002.bmp", "truncated")
    assert err.path == path


def test_truncated_bmp_header_only(make_dataset):
    root = make_dataset(1, SIZE)
    path = root / "images" / "0001.bmp"
    path.write_bytes(path.read_bytes()[:20])
    _expect(root, "0001.bmp", "truncated")


def test_truncated_png(make_dataset):
    root = make_dataset(2, SIZE)
    path = root / "labels" / "0001.png"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect(root, "0001.png", "truncated")


def test_png_missing_only_its_end_marker(make_dataset):
    # PIL decodes this file without complaint; it is still truncated.
    root = make_dataset(1, SIZE)
    path = root / "labels" / "0001.png"
    path.write_bytes(path.read_bytes()[:-12])
    _expect(root, "0001.png", "truncated")


def test_corrupt_png_body(make_dataset):
    root = make_dataset(1, SIZE)
    path = root / "labels" / "0001.png"
    data = bytearray(path.read_bytes())
    data[40:60] = b"\x00" * 20  # damage the compressed data, keep signature and IEND
    path.write_bytes(bytes(data))
    _expect(root, "0001.png", "corrupt")


def test_text_file_named_png(make_dataset):
    root = make_dataset(1, SIZE)
    (root / "labels" / "0001.png").write_text("not an image\n")
    _expect(root, "0001.png", "not a PNG file")


def test_empty_file(make_dataset):
    root = make_dataset(1, SIZE)
    (root / "images" / "0001.bmp").write_bytes(b"")
    _expect(root, "0001.bmp", "empty")


def test_grayscale_image(make_dataset):
    root = make_dataset(1, SIZE)
    cv2.imwrite(str(root / "images" / "0001.bmp"), np.zeros((SIZE, SIZE), np.uint8))
    _expect(root, "0001.bmp", "single-channel", "expected 3-channel RGB")


def test_two_channel_image(make_dataset):
    root = make_dataset(1, SIZE)
    (root / "images" / "0001.bmp").unlink()
    grey_alpha = Image.fromarray(np.zeros((SIZE, SIZE, 2), np.uint8), "LA")
    grey_alpha.save(root / "images" / "0001.png")  # a 2-channel file; OpenCV reads 4 channels
    _expect(root, "0001.png", "channels", "expected 3-channel RGB")


def test_wrong_size_mask(make_dataset):
    root = make_dataset(2, SIZE)
    cv2.imwrite(str(root / "labels" / "0002.png"), np.zeros((SIZE, SIZE + 8), np.uint8))
    _expect(root, "labels/0002.png", "size mismatch", f"{SIZE}×{SIZE + 8}", "0002.bmp")


def test_unknown_mask_value(make_dataset):
    root = make_dataset(1, SIZE)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[:2, :5] = 3
    mask[5, 5] = 255
    cv2.imwrite(str(root / "labels" / "0001.png"), mask)
    _expect(root, "0001.png", "unknown mask values", "3 (10 px)", "255 (1 px)", "11 pixels")


def test_foreign_colour_in_jsons_label(make_dataset):
    root = make_dataset(2, SIZE, with_jsons=True)
    path = root / "jsons" / "0002_json" / "label.png"
    label = cv2.imread(str(path))
    label[0, :3] = (0, 0, 255)  # BGR red (255, 0, 0) is not a VOC class colour
    cv2.imwrite(str(path), label)
    _expect(root, "0002_json/label.png", "colours outside the VOC palette", "(255, 0, 0) (3 px)")


def test_image_without_label(make_dataset):
    root = make_dataset(3, SIZE)
    (root / "labels" / "0002.png").unlink()
    _expect(root, "images/0002.bmp", "has no label", "labels/0002.png", verify=False)


def test_label_without_image(make_dataset):
    root = make_dataset(3, SIZE)
    (root / "images" / "0003.bmp").unlink()
    _expect(root, "labels/0003.png", "has no image", verify=False)


def test_empty_images_folder(make_dataset):
    root = make_dataset(2, SIZE)
    for path in (root / "images").iterdir():
        path.unlink()
    err = _expect(root, "images", "is empty", verify=False)
    assert err.path == root / "images"


def test_empty_labels_folder(make_dataset):
    root = make_dataset(2, SIZE)
    shutil.rmtree(root / "labels")
    (root / "labels").mkdir()
    _expect(root, "labels", "is empty", verify=False)


def test_missing_labels_folder(make_dataset):
    root = make_dataset(2, SIZE)
    shutil.rmtree(root / "labels")
    _expect(root, "labels", "is missing", verify=False)


def test_path_missing(tmp_path):
    _expect(tmp_path / "nowhere", "nowhere", "does not exist")


def test_path_is_a_file(tmp_path):
    path = tmp_path / "heat-sink.zip"
    path.write_bytes(b"PK")
    _expect(path, "heat-sink.zip", "zip file, not a folder", "unzip")
    other = tmp_path / "notes.txt"
    other.write_text("x")
    _expect(other, "notes.txt", "is a file, not a folder")


def test_user_passes_images_folder(make_dataset):
    root = make_dataset(2, SIZE)
    _expect(root / "images", "images", "did you mean", str(root))


def test_nested_download(tmp_path, make_dataset):
    root = make_dataset(2, SIZE, name="download/versions/1/heat-sink")
    _expect(tmp_path / "download", "did you mean", str(root))
    assert find_dataset_root(tmp_path / "download") == root
    assert find_dataset_root(root) == root
    assert find_dataset_root(tmp_path / "nowhere") is None


def test_folder_without_dataset(tmp_path):
    (tmp_path / "stuff").mkdir()
    _expect(tmp_path / "stuff", "holds no images/ and labels/")


def test_error_counts_further_problems(make_dataset):
    root = make_dataset(3, SIZE)
    for image_id in ("0001", "0003"):
        (root / "images" / f"{image_id}.bmp").write_bytes(b"")
    _expect(root, "0001.bmp", "empty", "and 1 more problem")


def test_verify_false_skips_decoding(make_dataset):
    root = make_dataset(2, SIZE)
    (root / "images" / "0001.bmp").write_bytes(b"")
    ds = load_dataset(root, verify=False)
    assert len(ds) == 2
    with pytest.raises(DatasetError, match=r"0001\.bmp: is empty"):
        ds.image(0)


def test_file_going_bad_after_loading(make_dataset):
    root = make_dataset(2, SIZE)
    ds = load_dataset(root)
    (root / "labels" / "0002.png").unlink()
    with pytest.raises(DatasetError, match=r"0002\.png: is missing"):
        ds.mask("0002")
    (root / "images" / "0001.bmp").write_bytes(b"BM" + b"\0" * 100)
    with pytest.raises(DatasetError, match=r"0001\.bmp"):
        ds.image(0)


def test_no_opencv_noise_on_bad_files(make_dataset, capfd):
    root = make_dataset(2, SIZE)
    path = root / "images" / "0001.bmp"
    path.write_bytes(path.read_bytes()[:200])
    (root / "labels" / "0002.png").write_text("text")
    check_dataset(root)
    assert capfd.readouterr().err == ""


# ---- check_dataset ---------------------------------------------------------------------


def test_check_collects_all_problems(make_dataset):
    root = make_dataset(5, SIZE, with_jsons=True)
    (root / "images" / "0001.bmp").write_bytes(b"")
    (root / "labels" / "0002.png").write_text("text")
    cv2.imwrite(str(root / "labels" / "0003.png"), np.full((SIZE, SIZE), 7, np.uint8))
    (root / "labels" / "0004.png").unlink()
    report = check_dataset(root)
    assert isinstance(report, CheckReport) and not report.ok
    named = sorted(path.name for path, _ in report.problems)
    assert named == ["0001.bmp", "0002.png", "0003.png", "0004.bmp"]
    assert report.n_images == 5 and report.n_masks == 4 and report.n_pairs == 4
    text = report.to_text()
    assert "4 problems" in text and "0003.png" in text and "unknown mask values" in text


def test_check_statistics_on_valid_data(make_dataset):
    root = make_dataset(4, SIZE, with_truth=True, parts=2)
    report = check_dataset(root)
    assert report.ok and report.problems == []
    assert report.name == "synthetic twin" and report.has_truth and report.n_parts == 2
    ds = load_dataset(root)
    counts = np.sum([np.bincount(m.ravel(), minlength=3) for _, m in ds.masks()], axis=0)
    assert np.allclose(report.pixel_fractions.to_numpy(), counts / counts.sum())
    assert list(report.pixel_fractions.index) == ["background", "scratch", "stain"]
    assert report.cooccurrence["both"] == 4
    assert report.checksum == ds.checksum
    assert "OK" in report.to_text() and report.checksum in report.to_text()


def test_check_never_raises_for_a_bad_path(tmp_path):
    report = check_dataset(tmp_path / "nowhere")
    assert not report.ok and "does not exist" in report.problems[0][1]
    assert "does not exist" in report.to_text()


# ---- hostile and careless files ----------------------------------------------------------


def test_check_names_a_file_name_that_is_not_utf8_without_a_traceback(make_dataset, capsys):
    import os

    from heatsink.cli import main

    root = make_dataset(3, SIZE)
    for folder, suffix in (("images", ".bmp"), ("labels", ".png")):
        os.rename(root / folder / f"0001{suffix}",
                  os.fsencode(root / folder) + b"/\xff01" + suffix.encode())
    assert main(["data", "check", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"{root}/images/\\xff01.bmp: has a file name that is not valid UTF-8" in out
    assert f"{root}/labels/\\xff01.png: has a file name that is not valid UTF-8" in out


def test_check_flags_a_frame_of_another_size_that_inspect_would_refuse(make_dataset):
    root = make_dataset(3, SIZE)
    image = cv2.imread(str(root / "images" / "0001.bmp"))[:-1]
    mask = cv2.imread(str(root / "labels" / "0001.png"), cv2.IMREAD_UNCHANGED)[:-1]
    cv2.imwrite(str(root / "images" / "0001.bmp"), image)
    cv2.imwrite(str(root / "labels" / "0001.png"), mask)
    report = check_dataset(root)
    assert report.problems == [(root / "images" / "0001.bmp",
                                f"is {SIZE - 1}×{SIZE} (H×W); the dataset's images are "
                                f"{SIZE}×{SIZE}, and the line inspects square frames of one "
                                "size")]


def test_check_refuses_a_decompression_bomb_before_decoding_it(make_dataset):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    root = make_dataset(2, SIZE)
    side = 20000  # 1.2 GB as RGB; about 1 MB as a PNG
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(b"\x00" * (1 + 3 * side)) for _ in range(side))
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0,
                                                             0, 0))
            + chunk(b"IDAT", body + packer.flush()) + chunk(b"IEND", b""))
    (root / "images" / "0001.bmp").unlink()
    (root / "images" / "0001.png").write_bytes(bomb)
    problems = dict(check_dataset(root).problems)
    assert problems[root / "images" / "0001.png"].startswith(
        "is too large: its header declares more than")


def test_check_refuses_a_truncated_jpeg_with_an_end_marker(make_dataset):
    root = make_dataset(2, SIZE)
    image = cv2.imread(str(root / "images" / "0001.bmp"))
    _, data = cv2.imencode(".jpg", image)
    (root / "images" / "0001.bmp").unlink()
    (root / "images" / "0001.jpg").write_bytes(data.tobytes()[: len(data) // 2] + b"\xff\xd9")
    problems = dict(check_dataset(root).problems)
    assert problems[root / "images" / "0001.jpg"].startswith("is truncated or corrupt: libjpeg")


def test_check_names_an_images_folder_that_cannot_be_listed(make_dataset, tmp_path, capsys):
    from conftest import unlistable_folder

    from heatsink.cli import main

    root = make_dataset(2, SIZE)
    shutil.rmtree(root / "images")
    blocked = unlistable_folder(tmp_path)
    (root / "images").symlink_to(blocked) if blocked.is_symlink() else blocked.rename(
        root / "images")
    assert main(["data", "check", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"{root / 'images'}: cannot be listed (Permission denied)" in out
