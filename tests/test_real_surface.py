"""The real-surface check (heatsink.real_surface) on toy predictors and a toy model."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from heatsink import real_surface
from heatsink.errors import HeatsinkError
from heatsink.synth.real_frames import RealFrame


def _frames(n: int = 3) -> list[RealFrame]:
    surface = np.ones((320, 320), bool)
    surface[:, :40] = False  # a drawn band along the left edge
    return [RealFrame(f"f{k}", np.full((320, 320, 3), 60 + k, np.uint8), surface, 300,
                      (0, 0, 300, 300)) for k in range(n)]


def test_doctests():
    result = doctest.testmod(real_surface)
    assert result.attempted > 0 and result.failed == 0


def test_a_quiet_predictor_scores_zero():
    def quiet(batch):
        p = np.zeros((*batch.shape[:3], 3), np.float32)
        p[..., 0] = 1
        return p

    table = real_surface.real_surface_check(quiet, _frames())
    summary = real_surface.summarize(table)
    assert set(summary.index) == {"scratch", "stain", "defect"}
    assert (summary["share_pct"] == 0).all()
    assert (summary["false_components_per_frame"] == 0).all()


def test_blobs_on_surface_count_and_blobs_under_labels_do_not():
    def noisy(batch):
        p = np.zeros((*batch.shape[:3], 3), np.float32)
        p[..., 0] = 1
        for r in range(5):  # five scratch blobs on the surface
            p[:, 50 + 40 * r : 55 + 40 * r, 100:110] = [0, 1, 0]
        p[:, 10:30, 5:30] = [0, 0, 1]  # a stain under the drawn band
        p[:, 200:220, 30:60] = [0, 0, 1]  # a stain 2/3 on the surface
        return p

    table = real_surface.real_surface_check(noisy, _frames(2))
    s = real_surface.summarize(table)
    surface_px = 320 * 280
    assert s.loc["scratch", "false_components_per_frame"] == 5
    assert s.loc["stain", "false_components_per_frame"] == 1
    assert s.loc["scratch", "share_pct"] == pytest.approx(100 * 250 / surface_px)
    assert s.loc["stain", "share_pct"] == pytest.approx(100 * 400 / surface_px)
    strict = real_surface.summarize(real_surface.real_surface_check(noisy, _frames(2),
                                                                    mostly=0.9))
    assert strict.loc["stain", "false_components_per_frame"] == 0
    # at an operating point that drops scratches under 51 px, the 50 px blobs are gone
    point = {"min_area": {"scratch": 51}}
    dropped = real_surface.summarize(real_surface.real_surface_check(noisy, _frames(2),
                                                                     decision=point))
    assert dropped.loc["scratch", "false_components_per_frame"] == 0
    assert dropped.loc["stain", "false_components_per_frame"] == 1


def test_false_objects_are_the_components_the_check_counts_with_their_contrast():
    rng = np.random.default_rng(1)
    frames = []
    for k in range(2):
        image = (90 + rng.integers(0, 8, (320, 320, 3))).astype(np.uint8)
        image[100:110, 100:110] -= 30  # a marked blot
        surface = np.ones((320, 320), bool)
        surface[:, :40] = False
        frames.append(RealFrame(f"f{k}", image, surface, 300, (0, 0, 300, 300)))
    mask = np.zeros((320, 320), np.uint8)
    mask[100:110, 100:110] = 2  # the marked blot, called a stain
    mask[200:210, 200:210] = 2  # plain plating, called a stain
    mask[50:52, 150:190] = 1  # a scratch on plain plating
    mask[10:30, 5:30] = 2  # under the drawn band: not a false component
    masks = [mask, mask.copy()]
    table = real_surface.false_objects(masks, frames)
    counted = real_surface.check_masks(masks, frames)
    for name in ("scratch", "stain"):
        assert (table["class"] == name).sum() == counted.loc[counted["class"] == name,
                                                             "false_components"].sum()
    stains = table[table["class"] == "stain"].sort_values("contrast")
    assert stains["area"].tolist() == [100, 100, 100, 100]
    assert stains["contrast"].iloc[:2].max() < 0.05 < 0.2 < stains["contrast"].iloc[2:].min()
    assert list(table.columns) == real_surface.FALSE_OBJECT_COLUMNS
    assert real_surface.false_objects([np.zeros((320, 320), np.uint8)], frames[:1]).empty


def test_a_keras_model_is_run_at_its_input_size():
    tf = pytest.importorskip("tensorflow")  # heatsink (imported above) comes first

    inputs = tf.keras.Input((64, 64, 3))
    # "stain" wherever the image is bright: the frames are dark, so it must keep quiet
    bright = tf.keras.layers.Lambda(lambda x: tf.reduce_mean(x, -1, keepdims=True))(inputs)
    logits = tf.keras.layers.Concatenate()([0.5 - bright, 0.0 * bright - 10, bright - 0.5])
    model = tf.keras.Model(inputs, tf.keras.layers.Softmax()(100 * logits))
    frames = _frames(2)
    assert real_surface.summarize(real_surface.real_surface_check(model, frames)).loc[
        "defect", "share_pct"] == 0
    frames[1].image[:] = 250
    s = real_surface.summarize(real_surface.real_surface_check(model, frames))
    assert s.loc["stain", "share_pct"] == pytest.approx(50.0)
    assert s.loc["stain", "false_components_per_frame"] == 0.5


def test_missing_reference_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HEATSINK_REFERENCE", str(tmp_path))
    with pytest.raises(HeatsinkError):
        real_surface.real_surface_check(lambda b: b, None)


def _tiny_model_file(tmp_path):
    from heatsink.models import build_model

    model = build_model("light", widths=(8, 8), blocks=(0, 0), decoder_widths=(8,))
    path = tmp_path / "tiny.keras"
    model.save(path)
    return path


def test_cli_prints_the_summary_and_writes_the_per_frame_table(tmp_path, monkeypatch, capsys):
    from heatsink.cli import main
    from heatsink.synth import real_frames

    monkeypatch.setattr(real_frames, "load_real_frames", lambda directory=None: _frames(3))
    model = _tiny_model_file(tmp_path)
    out = tmp_path / "real.csv"
    assert main(["real-surface", str(model), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 real frames" in printed and "share_pct" in printed and "false_95" in printed
    table = pd.read_csv(out)
    assert len(table) == 3 * 3 and set(table["class"]) == {"scratch", "stain", "defect"}
    assert (table["model"] == str(model)).all() and (table["drawn"] == "shown").all()
    assert main(["real-surface", str(model), "--fill-drawn", "--out", str(out)]) == 0
    assert "3 real frames, drawn labels filled" in capsys.readouterr().out
    assert (pd.read_csv(out)["drawn"] == "filled").all()
    assert main(["real-surface", str(model), "--flips", "--out", str(out)]) == 0
    assert "3 real frames, test-time flips" in capsys.readouterr().out
    assert pd.read_csv(out)["flips"].all()


def test_cli_decides_at_a_spec_s_operating_point(tmp_path, monkeypatch, capsys):
    from heatsink.cli import main
    from heatsink.line.spec import load_spec
    from heatsink.synth import real_frames

    monkeypatch.setattr(real_frames, "load_real_frames", lambda directory=None: _frames(2))
    model = _tiny_model_file(tmp_path)
    spec = tmp_path / "point.yaml"
    spec.write_text("name: point\nstain_bias: -30\nscratch_bias: -30\nmax_stain_count: 3\n")
    out = tmp_path / "real.csv"
    assert main(["real-surface", str(model), "--spec", str(spec), "--out", str(out)]) == 0
    identity = load_spec(spec).identity
    assert f"at the operating point of spec point ({identity})" in capsys.readouterr().out
    table = pd.read_csv(out)
    # a bias of -30 on both classes calls nothing a defect, whatever the untrained net says
    assert (table["spec"] == identity).all() and (table["called_px"] == 0).all()
    spec.write_text("name: point\nstain_bias: null\nmax_stain_count: 3\n")
    assert main(["real-surface", str(model), "--spec", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "point.yaml" in err and "stain_bias" in err and "Traceback" not in err


def test_cli_refuses_to_write_over_a_model_and_names_a_missing_reference(tmp_path, capsys):
    from heatsink.cli import main

    model = _tiny_model_file(tmp_path)
    assert main(["real-surface", str(model), "--out", str(model)]) == 2
    assert main(["real-surface", str(model), "--reference", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2
    assert model.stat().st_size > 0


def test_cli_blurs_the_real_frames_on_request(tmp_path, monkeypatch, capsys):
    from heatsink.cli import main
    from heatsink.synth import real_frames

    monkeypatch.setattr(real_frames, "load_real_frames", lambda directory=None: _frames(2))
    model = _tiny_model_file(tmp_path)
    assert main(["real-surface", str(model), "--blur", "1.5"]) == 0
    assert "2 real frames, blurred 1.5 px" in capsys.readouterr().out
    assert main(["real-surface", str(model), "--blur", "-1"]) == 2
    assert "--blur must be 0 or more" in capsys.readouterr().err


def test_filled_labels_keep_a_model_s_answer_to_a_drawn_label_off_the_surface():
    import cv2

    from heatsink.synth.real_frames import surface_mask

    rng = np.random.default_rng(1)
    image = np.clip(rng.normal([100, 35, 8], 3, (320, 320, 3)), 0, 255).astype(np.uint8)
    drawn = np.zeros((320, 320), bool)
    drawn[150:155, 20:300] = True  # a scratch label, drawn in cyan
    image[drawn] = (90, 220, 230)
    frame = RealFrame("f", image, surface_mask(drawn), 320, (0, 0, 320, 320), drawn)

    def spills(batch):  # calls "stain" 12 px around anything cyan, as twin-trained nets do
        p = np.zeros((*batch.shape[:3], 3), np.float32)
        for k, img in enumerate(batch):
            cyan = ((img[..., 2] > 150) & (img[..., 1] > 150)).astype(np.uint8)
            near = cv2.dilate(cyan, np.ones((25, 25), np.uint8)) > 0
            p[k, ..., 0], p[k, ..., 2] = ~near, near
        return p

    shown = real_surface.summarize(real_surface.real_surface_check(spills, [frame]))
    filled = real_surface.summarize(real_surface.real_surface_check(spills, [frame],
                                                                    drawn="filled"))
    assert shown.loc["stain", "share_pct"] > 1.0
    assert filled.loc["stain", "share_pct"] == 0.0
    with pytest.raises(HeatsinkError, match="drawn"):
        real_surface.real_surface_check(spills, [frame], drawn="hidden")


def _check_table(false: list[int], called: list[int]) -> pd.DataFrame:
    n = len(false)
    return pd.DataFrame({"frame": [f"f{k}" for k in range(n)], "class": ["defect"] * n,
                         "surface_px": [1000] * n, "called_px": called,
                         "share": [c / 1000 for c in called], "false_components": false})


def test_frame_interval_brackets_the_summary_and_narrows_with_more_frames():
    false, called = [0, 1, 1, 2, 3, 0, 9, 1], [0, 5, 3, 8, 20, 0, 60, 2]
    few = real_surface.frame_interval(_check_table(false, called)).loc["defect"]
    summary = real_surface.summarize(_check_table(false, called)).loc["defect"]
    assert few["false_per_frame"] == summary["false_components_per_frame"]
    assert few["share_pct"] == pytest.approx(summary["share_pct"])
    assert few["false_low"] < few["false_per_frame"] < few["false_high"]
    assert few["share_low"] < few["share_pct"] < few["share_high"]
    assert few["false_median"] == 1.0  # the one loud frame pulls the mean, not the median
    many = real_surface.frame_interval(_check_table(false * 9, called * 9)).loc["defect"]
    assert many["false_high"] - many["false_low"] < (few["false_high"] - few["false_low"]) / 2
    same = real_surface.frame_interval(_check_table([2] * 5, [4] * 5)).loc["defect"]
    assert same["false_low"] == same["false_high"] == 2.0
    again = real_surface.frame_interval(_check_table(false, called)).loc["defect"]
    assert again.equals(few)  # seeded
    with pytest.raises(HeatsinkError, match="level"):
        real_surface.frame_interval(_check_table(false, called), level=1.5)


def test_frame_interval_draws_the_same_frames_for_every_class():
    """Each resample draws frames, not rows: a class that is another class's copy, listed in
    another order, gets exactly its interval, and a class with no false component in the drawn
    frames a zero-width one."""
    false, called = [0, 1, 1, 2, 3, 0, 9, 1], [0, 5, 3, 8, 20, 0, 60, 2]
    defect = _check_table(false, called)
    copy = defect.assign(**{"class": "scratch"}).iloc[::-1]
    quiet = defect.assign(**{"class": "stain", "false_components": 0, "called_px": 0})
    table = real_surface.frame_interval(pd.concat([defect, copy, quiet]))
    assert table.loc["scratch"].equals(table.loc["defect"])
    assert table.loc["stain", "false_low"] == table.loc["stain", "false_high"] == 0.0
