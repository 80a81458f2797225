"""The carry-over chapter's machinery: the real-surface check's protocol run on twin frames."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from heatsink.data import load_dataset
from heatsink.real_surface import summarize
from heatsink.study.carry_over import (
    PROTOCOLS,
    control_table,
    load_control,
    record_control,
    twin_surface_check,
)
from heatsink.synth import generate


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return load_dataset(generate(tmp_path_factory.mktemp("twin") / "t", n=6, seed=2,
                                 progress=False))


def _constant(cls: int) -> SimpleNamespace:
    """A predictor that calls every pixel ``cls``."""
    def probabilities(batch: np.ndarray) -> np.ndarray:
        out = np.zeros((*batch.shape[:3], 3), np.float32)
        out[..., cls] = 1
        return out
    return SimpleNamespace(probabilities=probabilities)


def test_a_quiet_model_calls_no_twin_surface_and_a_loud_one_all_of_it(twin):
    ids = list(twin.ids)[:4]
    quiet = summarize(twin_surface_check(_constant(0), twin, ids))
    loud = twin_surface_check(_constant(2), twin, ids, tile_sizes=[206, 412])
    assert (quiet["share_pct"] == 0).all() and (quiet["false_components_per_frame"] == 0).all()
    assert sorted(set(loud["frame"])) == sorted(ids)
    stain = summarize(loud).loc["stain"]
    assert stain["share_pct"] == pytest.approx(100.0)
    assert stain["false_components_per_frame"] == pytest.approx(1.0)  # one frame-wide blob


def test_the_surface_is_the_background_away_from_every_true_defect(twin):
    image_id = next(i for i in twin.ids if (twin.truth(i) > 0).any())
    # calling exactly the true defects raises nothing on the surface
    def truth_only(batch: np.ndarray) -> np.ndarray:
        return np.eye(3, dtype=np.float32)[twin.truth(image_id)][None].repeat(len(batch), 0)
    table = twin_surface_check(SimpleNamespace(probabilities=truth_only), twin, [image_id])
    assert (table["false_components"] == 0).all() and (table["share"] == 0).all()


def test_the_control_is_kept_and_read_back_as_numbers(twin, tmp_path):
    ids = list(twin.ids)[:3]
    kept = record_control(_constant(1), "plan loud", twin, ids, [206, 412], tmp_path)
    assert set(kept["protocol"]) == set(PROTOCOLS)
    back = load_control(tmp_path, "plan loud")
    assert back is not None and len(back) == len(kept)
    assert load_control(tmp_path, "never checked") is None
    real = twin_surface_check(_constant(0), twin, ids)  # stands for the real frames' check
    row = control_table({"plan loud": back}, {"plan loud": real}).loc["plan loud"]
    assert row["twin_pct"] == pytest.approx(100.0) and row["resampled_pct"] == pytest.approx(100.0)
    assert row["real_pct"] == 0 and row["real_components"] == 0
    assert row.dtype.kind == "f"


def test_the_real_check_is_kept_for_both_views_and_old_checks_read_as_shown(tmp_path):
    from heatsink.study.carry_over import carry_over_table, check_file, load_check, record_check
    from heatsink.synth.real_frames import RealFrame, surface_mask

    drawn = np.zeros((320, 320), bool)
    drawn[100:104, :] = True
    image = np.full((320, 320, 3), (100, 35, 8), np.uint8)
    image[drawn] = (90, 220, 230)
    frames = [RealFrame("f", image, surface_mask(drawn), 320, (0, 0, 320, 320), drawn)]

    def cyan_is_stain(batch):  # a net calling the drawn cyan (and 10 px around it) a stain
        p = np.zeros((*batch.shape[:3], 3), np.float32)
        p[..., 0] = 1
        for k, img in enumerate(batch):
            rows = np.flatnonzero((img[..., 1] > 150).any(axis=1))
            if len(rows):
                p[k, max(rows[0] - 10, 0):rows[-1] + 11, :, :] = (0, 0, 1)
        return p

    kept = record_check(cyan_is_stain, "toy", tmp_path, frames)
    assert sorted(set(kept["drawn"])) == ["filled", "shown"]
    row = carry_over_table({"toy": load_check(tmp_path, "toy")}).loc["toy"]
    assert row["real_defect_pct"] > 1.0 and row["filled_defect_pct"] == 0.0
    # per class too: the spill was called stain as shown, and nothing is called once filled
    assert row["real_stain_pct"] == row["real_defect_pct"] and row["real_scratch_pct"] == 0
    assert row[["filled_scratch_pct", "filled_stain_pct", "filled_scratch_false_per_frame",
                "filled_stain_false_per_frame"]].tolist() == [0, 0, 0, 0]
    old = kept[kept["drawn"] == "shown"].drop(columns="drawn")
    old.to_csv(check_file(tmp_path, "old"), index=False)
    assert set(load_check(tmp_path, "old")["drawn"]) == {"shown"}
    assert carry_over_table({"old": load_check(tmp_path, "old")}).loc[
        "old", ["filled_defect_pct", "filled_stain_pct"]].isna().all()


def _toy_frames(dark: tuple[slice, slice]) -> list:
    """One real frame of plain plating, all surface, darker in ``dark``."""
    from heatsink.synth.real_frames import RealFrame, surface_mask

    image = np.full((320, 320, 3), (100, 35, 8), np.uint8)
    image[dark] = (40, 14, 3)
    return [RealFrame("f", image, surface_mask(np.zeros((320, 320), bool)), 320,
                      (0, 0, 320, 320), np.zeros((320, 320), bool))]


def _dark_is_stain() -> object:
    """A toy net, as a Predictor: the darker a pixel, the likelier a stain."""
    from heatsink.models.predict import Predictor

    def net(batch: np.ndarray) -> np.ndarray:
        grey = batch.mean(axis=-1)
        stain = 0.98 / (1 + np.exp(40 * (grey - 0.15)))
        return np.stack([1 - stain - 0.01, np.full_like(stain, 0.01), stain], -1)
    return Predictor(net, image_size=64, classes=3)


def test_the_operating_curve_moves_along_one_trade_off_and_its_argmax_is_the_twin_score(
        twin, tmp_path):
    from heatsink.study.carry_over import (
        CURVE_COLUMNS,
        KNOBS,
        at_recall,
        check_file,
        load_curve,
        peak_reading,
        record_curve,
        sweep,
        twin_evaluation,
    )

    ids = list(twin.ids)[:4]
    frames = _toy_frames((slice(None), slice(160, None)))  # a darker half of real plating
    predictor = _dark_is_stain()
    curve = record_curve(predictor, "plan toy", twin, ids, frames, tmp_path,
                         biases=(-4.0, 0.0, 4.0), peaks=(0.5, 0.97))
    assert list(curve.columns) == [*KNOBS, *CURVE_COLUMNS]
    assert load_curve(tmp_path, "plan toy").equals(curve)
    assert load_curve(tmp_path, "never curved") is None
    assert len(curve) == 5 and sweep(curve, "min_peak")["min_peak"].tolist() == [0, 0.5, 0.97]
    biased = sweep(curve, "bias")
    # more bias, more of the real surface called defect and more twin stains found
    assert biased["real_defect_pct"].is_monotonic_increasing
    assert biased["real_defect_pct"].iloc[-1] > biased["real_defect_pct"].iloc[0]
    assert biased["twin_stain_object_recall"].is_monotonic_increasing
    # a higher minimum peak only drops objects: never more called, never more found
    peaked = sweep(curve, "min_peak")
    for column in ("real_defect_pct", "filled_defect_pct", "twin_stain_object_recall"):
        assert peaked[column].is_monotonic_decreasing, column
    # the toy's darker half is never sure enough (its stain probability stays below 0.97)
    assert peaked["real_defect_pct"].iloc[0] > 0 and peaked["real_defect_pct"].iloc[-1] == 0
    # the reading keeps a share of the argmax's real false components: all at 0.5, none at 0.97
    reading = peak_reading(curve, (0.5, 0.97, 0.99))
    assert reading.index.tolist() == [0.5, 0.97]
    assert reading["kept_share"].tolist() == pytest.approx([
        peaked["real_false_per_frame"].iloc[1] / peaked["real_false_per_frame"].iloc[0], 0.0])
    # at no bias, the curve's twin scores are the twin evaluation's, pooled the same way
    plain = twin_evaluation(predictor, twin, ids).summary()
    row = biased.set_index("bias").loc[0.0]
    for name in ("scratch", "stain"):
        assert row[f"twin_{name}_object_recall"] == pytest.approx(
            plain[f"{name}_object_recall"], nan_ok=True)
        assert row[f"twin_{name}_false_per_frame"] == pytest.approx(
            plain[f"{name}_false_alarms_per_image"])
    reach = at_recall(curve, 0.0, biased["twin_stain_object_recall"].max())
    assert reach is not None and reach["bias"] == biased.loc[
        biased["twin_stain_object_recall"] == biased["twin_stain_object_recall"].max(),
        "bias"].min()
    # a curve kept before the second knob reads as biases at no minimum peak
    old = check_file(tmp_path, "plan old", "curve")
    biased.drop(columns="min_peak").to_csv(old, index=False)
    assert load_curve(tmp_path, "plan old").equals(biased.reset_index(drop=True))


def test_the_class_grid_gives_each_class_its_bias_and_area_and_the_twin_alone_chooses(
        twin, tmp_path):
    from heatsink.study.carry_over import (
        CURVE_COLUMNS,
        GRID_KNOBS,
        load_grid,
        operating_curve,
        record_grid,
        twin_choice,
    )

    ids = list(twin.ids)[:4]
    frames = _toy_frames((slice(100, 140), slice(100, 140)))  # a 40 x 40 dark blot: a stain
    predictor = _dark_is_stain()
    areas = ({"scratch": 0, "stain": 0}, {"scratch": 0, "stain": 1601})
    grid = record_grid(predictor, "plan toy", twin, ids, frames, tmp_path, min_areas=areas)
    assert list(grid.columns) == [*GRID_KNOBS, *CURVE_COLUMNS]
    assert load_grid(tmp_path, "plan toy").equals(grid) and load_grid(tmp_path, "none") is None
    assert len(grid) == 2 * 9 * 5
    # equal biases and no area: the same points as the operating curve's bias sweep
    curve = operating_curve(predictor, twin, ids, frames, biases=(-2.0, 0.0, 2.0), peaks=())
    same = grid[(grid["scratch_bias"] == grid["stain_bias"]) & (grid["min_stain_px"] == 0)]
    same = same.set_index("stain_bias").loc[[0.0, 2.0], list(CURVE_COLUMNS)]
    expected = curve.set_index("bias").loc[[0.0, 2.0], list(CURVE_COLUMNS)]
    pd.testing.assert_frame_equal(same, expected, check_names=False)
    # the blot (1600 px) is a false stain at every point; at the argmax it is gone at a
    # 1601 px minimum, not where a stain bias makes it grow (at +2 the frame is all stain)
    plain, large = grid[grid["min_stain_px"] == 0], grid[grid["min_stain_px"] == 1601]
    assert (plain["real_false_per_frame"] >= 1).all()
    at = large.set_index(["scratch_bias", "stain_bias"])["real_false_per_frame"]
    assert at[(0.0, 0.0)] == 0 and at[(0.0, 2.0)] == 1
    # the stain bias raises the stain recall
    by_stain = plain[plain["scratch_bias"] == 0].sort_values("stain_bias")
    assert by_stain["twin_stain_object_recall"].is_monotonic_increasing
    # the choice reads the twin only: the real columns can change without changing it
    floors = {"scratch": 0.0, "stain": float(plain["twin_stain_object_recall"].median())}
    chosen = twin_choice(grid, floors)
    assert chosen is not None and chosen["twin_stain_object_recall"] >= floors["stain"]
    shuffled = grid.assign(real_false_per_frame=grid["real_false_per_frame"].sample(
        frac=1, random_state=0).to_numpy())
    assert twin_choice(shuffled, floors)[list(GRID_KNOBS)].equals(chosen[list(GRID_KNOBS)])
    assert twin_choice(grid, {"scratch": 2.0, "stain": 0.0}) is None


def test_a_grid_point_kept_per_frame_gives_the_grid_s_figures_and_their_interval(
        twin, tmp_path):
    from heatsink.real_surface import frame_interval
    from heatsink.study.carry_over import (
        GRID_KNOBS,
        class_grid,
        load_point,
        record_point,
        view,
    )

    ids = list(twin.ids)[:2]
    frames = _toy_frames((slice(100, 140), slice(100, 140))) * 2
    predictor = _dark_is_stain()
    grid = class_grid(predictor, twin, ids, frames, scratch_biases=(0.0,),
                      stain_biases=(-4.0, 0.0), min_areas=({"scratch": 0, "stain": 0},))
    for _, row in grid.iterrows():
        table = record_point(predictor, "plan toy, flips", row, tmp_path, frames)
        assert set(table["drawn"]) == {"shown", "filled"}
        for drawn, prefix in (("shown", "real"), ("filled", "filled")):
            found = frame_interval(view(table, drawn)).loc["defect"]
            assert found["false_per_frame"] == pytest.approx(row[f"{prefix}_false_per_frame"])
            assert found["share_pct"] == pytest.approx(row[f"{prefix}_defect_pct"])
        kept = load_point(tmp_path, "plan toy, flips", row)
        assert kept[list(GRID_KNOBS)].to_numpy(float).tolist() == [
            row[list(GRID_KNOBS)].to_numpy(float).tolist()] * len(kept)
    # the blot is called at the argmax and not at a stain bias of -4
    assert grid["real_false_per_frame"].tolist() == [0.0, 1.0]
    # the last kept point is the argmax: asked for the other, nothing is read back
    assert load_point(tmp_path, "plan toy, flips", grid.iloc[0]) is None
    assert load_point(tmp_path, "plan toy, flips") is not None
    assert load_point(tmp_path, "none") is None


def test_the_contrast_table_sets_real_false_components_beside_the_twin_defects(twin, tmp_path):
    from heatsink.study.carry_over import (
        CONTRAST_SOURCES,
        contrast_quartiles,
        load_contrast,
        record_contrast,
    )
    from heatsink.study.detectability import findings

    ids = list(twin.ids)[:4]
    frames = _toy_frames((slice(100, 140), slice(100, 140)))  # a dark blot: the toy calls it
    predictor = _dark_is_stain()
    table = record_contrast(predictor, "plan toy", twin, ids, frames, tmp_path)
    assert load_contrast(tmp_path, "plan toy").equals(table)
    assert load_contrast(tmp_path, "never measured") is None
    assert set(table["source"]) <= set(CONTRAST_SOURCES)
    # the twin rows are the detectability findings: every true defect once
    from heatsink.models.predict import predict_masks

    truth = findings(twin, predict_masks(predictor, twin, ids), ids)
    twin_rows = table[table["source"] != "real, false"]
    assert len(twin_rows) == len(truth)
    assert (twin_rows["source"] == "twin, found").sum() == truth["found"].sum()
    real = table[table["source"] == "real, false"]
    assert real["class"].tolist() == ["stain"]  # its corners lost to the net's 64² input
    assert real["area"].iloc[0] == pytest.approx(1600, abs=40)
    assert real["contrast"].iloc[0] > 0.3  # 40 on 100 in the red channel, a flat ring
    quartiles = contrast_quartiles(table)
    assert quartiles.loc[("stain", "real, false"), "objects"] == 1


def test_a_point_meets_the_targets_only_where_every_condition_holds_in_its_view():
    import pandas as pd

    from heatsink.study.carry_over import meeting_points

    floors = {"scratch": 0.9, "stain": 0.63}
    curve = pd.DataFrame({
        "twin_scratch_object_recall": [0.95, 0.89, 0.95, 0.95, 0.95],
        "twin_stain_object_recall": [0.63, 0.70, 0.62, 0.70, 0.70],
        "real_defect_pct": [1.0, 0.1, 0.1, 1.1, 0.1],
        "real_false_per_frame": [2.0, 0.1, 0.1, 0.1, 2.1],
        "filled_defect_pct": [3.0, 0.1, 0.1, 0.5, 0.5],
        "filled_false_per_frame": [3.0, 0.1, 0.1, 0.5, 0.5]})
    # each of rows 1-4 misses exactly one condition as shown; row 0 meets them at the edges
    assert meeting_points(curve, floors, 1.0, 2.0).index.tolist() == [0]
    assert meeting_points(curve, floors, 1.0, 2.0, drawn="filled").index.tolist() == [3, 4]


def test_the_stain_margins_set_real_labelled_stains_beside_the_twins_and_a_nets(twin, tmp_path):
    """Real stains under a translucent fill, the twin's stains and a toy net's false stain on
    real plating, in one table, kept and read back."""
    from heatsink.study.carry_over import (
        MARGIN_SOURCES,
        OPACITY_MORE,
        load_stain_margins,
        margin_quartiles,
        record_stain_margins,
    )
    from heatsink.synth.real_frames import RealFrame, surface_mask

    rng = np.random.default_rng(0)
    red = 100 + rng.normal(0, 8, (320, 320))
    red[60:76, 60:76] *= 0.8  # a stain 20 % darker, labelled with a polygon 5 px larger
    drawn = np.zeros((320, 320), bool)
    drawn[55:81, 55:81] = True
    plating = np.stack([red, 0.34 * red, np.full_like(red, 7.0)], -1)
    shown = plating.copy()
    shown[drawn] = 0.75 * np.array([90.0, 215.0, 97.0]) + 0.25 * plating[drawn]
    shown[200:240, 200:240] *= 0.4  # an unlabelled dark blot: the toy net calls it a stain
    image = np.clip(np.round(shown), 0, 255).astype(np.uint8)
    frames = [RealFrame("vertical_grid-0-0", image, surface_mask(drawn), 320, (0, 0, 320, 320),
                        drawn), RealFrame("poster-0-0", image, surface_mask(drawn), 320,
                                          (0, 0, 320, 320), drawn)]
    ids = list(twin.ids)[:4]
    table = record_stain_margins(frames, twin, ids, {"toy": _dark_is_stain()}, tmp_path,
                                 drawn="shown")
    assert load_stain_margins(tmp_path).equals(table)
    assert load_stain_margins(tmp_path / "elsewhere") is None
    assert list(dict.fromkeys(table["source"])) == [
        s for s in MARGIN_SOURCES if s != "data, labelled"]
    real = table[table["source"] == "real, labelled"]
    assert len(real) == 1  # the poster's frames are not measured
    assert real["shift"].iloc[0] == pytest.approx(-0.2 * 256 / 324, abs=0.03)
    opacities = table.groupby("source")["opacity"].first()
    assert opacities["real, labelled, more opaque"] == pytest.approx(
        opacities["real, labelled"] + OPACITY_MORE)
    false = table[table["source"] == "real, false"]
    assert set(false["model"]) == {"toy"}
    assert false.loc[false["area"].idxmax(), "shift"] < -0.3  # the blot, grown by 4 px
    quartiles = margin_quartiles(table).set_index("source")
    assert quartiles.loc["real, labelled", "darker"] == 1.0
    assert quartiles.loc["twin, labelled", "stains"] == (table["source"] == "twin, labelled").sum()
    # on data without a clean truth (the real dataset's layout), its labelled stains are
    # measured as they are; with no model and nothing measurable, the columns keep their types
    import shutil

    plain = shutil.copytree(twin.root, tmp_path / "kaggle",
                            ignore=shutil.ignore_patterns("truth", "twin.json"))
    real_data = load_dataset(plain)
    assert not real_data.has_truth
    table = record_stain_margins(frames, real_data, ids, {}, tmp_path / "k")
    assert set(table["source"]) == {"real, labelled", "real, labelled, more opaque",
                                    "data, labelled"}
    assert (table["model"] == "").all()
    assert table["shift"].dtype == np.float64 and table["area"].dtype == np.int64
    assert len(margin_quartiles(table)) == 3
