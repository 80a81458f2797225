"""``heatsink inspect``: rows for every file, error rows, exit codes, atomic reports."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from heatsink.cli import main
from heatsink.errors import DatasetError
from heatsink.line import inspect as insp
from heatsink.line.measurements import DEFECT_COLUMNS, defect_table, draw_overlay
from heatsink.line.spec import Spec, judge, judge_table, load_spec

N_TWIN = 8


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny twin and a tiny U-Net trained on it for one epoch (about 10 s)."""
    from heatsink.data import load_dataset, make_split
    from heatsink.models.predict import predict_masks
    from heatsink.synth import generate
    from heatsink.train import TrainConfig, train

    base = tmp_path_factory.mktemp("inspect")
    twin = generate(base / "twin", n=N_TWIN, seed=0, progress=False, workers=1)
    ds = load_dataset(twin)
    config = TrainConfig(model="unet", image_size=64, epochs=1, batch_size=4,
                         precision="float32", model_kwargs={"filters": 4})
    with warnings.catch_warnings():  # bootstrap over 1 validation image: all-NaN slices
        warnings.simplefilter("ignore", RuntimeWarning)
        run = train(config, ds, base / "run", split=make_split(ds, seed=0), verbose=0,
                    n_boot=20)
    # what the study predicts for the twin's images, in one batch of 8 (as inspect --batch 16)
    masks = predict_masks(run.model("best"), ds, ds.ids, config.image_size, batch_size=16)
    return {"twin": twin, "run": run.path, "masks": masks, "ids": list(ds.ids)}


def _spec(tmp_path: Path, text: str = "", name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text or "name: loose\nmax_defect_percent: 100\n")
    return path


def _good_folder(trained, tmp_path: Path, n: int = 4, name: str = "frames") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for image_id in trained["ids"][:n]:
        shutil.copy(trained["twin"] / "images" / f"{image_id}.bmp", folder)
    return folder


def _bmp(path: Path, rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return path


def _inspect(trained, inputs, spec, out, *extra) -> int:
    args = ["inspect", *map(str, inputs), "--model", str(trained["run"]), "--spec", str(spec),
            "--out", str(out), "-q", *map(str, extra)]
    return main(args)


def _read(out: Path) -> pd.DataFrame:
    return pd.read_csv(out, dtype={"image_id": str}, keep_default_na=False,
                       na_values={c: [""] for c in DEFECT_COLUMNS})


def test_acceptance_bad_files_become_error_rows_and_exit_2(trained, tmp_path, capsys):
    folder = _good_folder(trained, tmp_path)
    good = (folder / "0001.bmp").read_bytes()
    (folder / "truncated.bmp").write_bytes(good[:5000])
    (folder / "notes.png").write_text("this is not an image\n")
    _bmp(folder / "small.bmp", np.full((64, 64, 3), 128, np.uint8))
    (folder / "empty.bmp").write_bytes(b"")
    (folder / ".hidden.bmp").write_bytes(good)  # hidden files are not inputs
    out = tmp_path / "report.csv"

    assert _inspect(trained, [folder], _spec(tmp_path), out) == 2
    captured = capsys.readouterr()
    assert "8 images, 4 PASS, 0 FAIL, 4 errors" in captured.out
    assert "Traceback" not in captured.err

    report = _read(out)
    assert list(report.columns) == insp.REPORT_COLUMNS
    names = ["0001.bmp", "0002.bmp", "0003.bmp", "0004.bmp", "empty.bmp", "notes.png",
             "small.bmp", "truncated.bmp"]
    assert [Path(p).name for p in report["path"]] == names
    rows = report.set_index(report["path"].map(lambda p: Path(p).name))
    errors = rows["error"]
    assert errors["truncated.bmp"].startswith("is truncated: the BMP header declares")
    assert errors["notes.png"].startswith("is not a PNG file")
    assert errors["small.bmp"].startswith("is 64×64, expected 320×320")
    assert errors["empty.bmp"] == "is empty (0 bytes)"
    bad = rows.loc[["empty.bmp", "notes.png", "small.bmp", "truncated.bmp"]]
    assert (bad["verdict"] == "").all()
    assert bad[DEFECT_COLUMNS].isna().all().all()
    ok = rows.loc[names[:4]]
    assert (ok["error"] == "").all() and (ok["verdict"] == "PASS").all()
    assert ok[["NumberOfStains", "NumberOfScratches", "TotalScratch%"]].notna().all().all()
    assert (report["model"].str.match(r"^run@[0-9a-f]{12}$")).all()
    loose = Spec(name="loose", max_defect_percent=100)
    assert (report["spec"] == f"loose@{loose.identity}").all()


def test_exit_codes_follow_the_verdicts(trained, tmp_path, capsys):
    folder = _good_folder(trained, tmp_path)
    out = tmp_path / "report.csv"
    assert _inspect(trained, [folder], _spec(tmp_path), out) == 0
    loose = _read(out)
    assert (loose["verdict"] == "PASS").all()
    defect = loose["TotalStain%"] + loose["TotalScratch%"]
    assert (defect > 0).all()  # the tiny model predicts defects everywhere: zero must fail

    strict = _spec(tmp_path, "name: strict\nmax_defect_percent: 0\n", "strict.yaml")
    assert _inspect(trained, [folder], strict, out) == 1
    assert (_read(out)["verdict"] == "FAIL").all()

    # a limit between the images' measurements: some pass, some fail, as judge() says
    limit = float(np.median(defect))
    mixed = _spec(tmp_path, f"name: mixed\nmax_defect_percent: {limit!r}\n", "mixed.yaml")
    assert _inspect(trained, [folder], mixed, out) == 1
    report = _read(out)
    spec = load_spec(mixed)
    expected = [judge(row, spec) for _, row in report.iterrows()]
    assert list(report["verdict"]) == [v for v, _ in expected]
    assert list(report["failed_rules"]) == ["; ".join(f) for _, f in expected]
    assert set(report["verdict"]) == {"PASS", "FAIL"}
    n_fail = sum(v == "FAIL" for v, _ in expected)
    assert f"4 images, {4 - n_fail} PASS, {n_fail} FAIL, 0 errors" in capsys.readouterr().out


def test_measurements_equal_defect_table_of_the_predicted_masks(trained, tmp_path):
    text = "name: scaled\nmin_object_px: 3\nmm_per_px: 0.05\nmax_scratch_length: 3\n"
    spec_file = _spec(tmp_path, text)
    spec = load_spec(spec_file)
    out = tmp_path / "report.csv"
    code = _inspect(trained, [trained["twin"] / "images"], spec_file, out, "--batch", "16")
    report = _read(out).set_index("image_id")
    assert list(report.index) == trained["ids"]

    table = defect_table(trained["masks"].items(), mm_per_px=0.05, min_area_px=3)
    pd.testing.assert_frame_equal(report[DEFECT_COLUMNS], table, check_dtype=False,
                                  check_names=False, check_index_type=False, rtol=0, atol=0)
    judged = judge_table(table, spec)
    assert list(report["verdict"]) == list(judged["verdict"])
    assert list(report["failed_rules"]) == list(judged["failed_rules"])
    assert code == (1 if (judged["verdict"] == "FAIL").any() else 0)


def test_min_peak_drops_the_objects_the_model_is_unsure_of(trained, tmp_path):
    """A spec's ``min_peak`` judges the masks :func:`heatsink.decision.decide` keeps."""
    from heatsink.components import components
    from heatsink.data import load_dataset
    from heatsink.decision import decide
    from heatsink.models.predict import predict_probabilities
    from heatsink.models.run import Run

    run = Run.load(trained["run"])
    probs = dict(predict_probabilities(run.model("best"), load_dataset(trained["twin"]),
                                       trained["ids"], run.config.image_size, batch_size=16))
    peaks = set()  # each predicted defect object's peak probability of its class
    for p in probs.values():
        for class_id in (1, 2):
            objects = components(p.argmax(-1) == class_id)
            peaks |= {float(p[..., class_id][objects.labels == k].max())
                      for k in range(1, objects.n + 1)}
    peaks = sorted(peaks)
    assert len(peaks) >= 2, "the tiny model predicts too few defect objects to test min_peak"
    min_peak = (peaks[len(peaks) // 2 - 1] + peaks[len(peaks) // 2]) / 2  # between two peaks
    text = f"name: sure\nmin_peak: {min_peak}\nmax_defect_percent: 100\n"
    out = tmp_path / "report.csv"
    _inspect(trained, [trained["twin"] / "images"], _spec(tmp_path, text), out, "--batch", "16")
    report = _read(out).set_index("image_id")

    kept = {i: decide(p, min_peak=min_peak) for i, p in probs.items()}
    table = defect_table(kept.items())
    pd.testing.assert_frame_equal(report[DEFECT_COLUMNS], table, check_dtype=False,
                                  check_names=False, check_index_type=False, rtol=0, atol=0)
    everything = defect_table(trained["masks"].items())
    counts = ["NumberOfScratches", "NumberOfStains"]
    assert 0 < table[counts].to_numpy().sum() < everything[counts].to_numpy().sum()


def test_a_spec_sets_the_operating_point_a_bias_and_an_area_per_class(trained, tmp_path):
    """A spec's class biases and minimum areas judge the masks :func:`decide` makes with them;
    the areas apply to given masks too, which carry no probabilities."""
    from heatsink.components import components
    from heatsink.data import load_dataset
    from heatsink.decision import decide
    from heatsink.line.spec import Spec, inspect_masks
    from heatsink.models.predict import predict_probabilities
    from heatsink.models.run import Run

    run = Run.load(trained["run"])
    probs = dict(predict_probabilities(run.model("best"), load_dataset(trained["twin"]),
                                       trained["ids"], run.config.image_size, batch_size=16))
    biased = {i: decide(p, {"stain": 1.0}) for i, p in probs.items()}
    sizes = sorted({int(a) for m in biased.values()
                    for a in components(m == 2).stats[1:, cv2.CC_STAT_AREA]})
    assert len(sizes) >= 2, "the tiny model predicts too few stains to test min_stain_px"
    area = sizes[len(sizes) // 2]  # drops the smaller half of the stains' sizes
    text = (f"name: point\nstain_bias: 1.0\nmin_stain_px: {area}\nmax_defect_percent: 100\n")
    out = tmp_path / "report.csv"
    _inspect(trained, [trained["twin"] / "images"], _spec(tmp_path, text), out, "--batch", "16")
    report = _read(out).set_index("image_id")

    kept = {i: decide(p, {"stain": 1.0}, min_area={"stain": area}) for i, p in probs.items()}
    table = defect_table(kept.items())
    pd.testing.assert_frame_equal(report[DEFECT_COLUMNS], table, check_dtype=False,
                                  check_names=False, check_index_type=False, rtol=0, atol=0)
    assert (table["NumberOfStains"].sum()
            < defect_table(biased.items())["NumberOfStains"].sum())
    # the areas apply to given masks as well; the bias cannot (no probabilities)
    spec = Spec("point", max_defect_percent=100, min_stain_px=area)
    given = inspect_masks(biased.items(), spec)
    pd.testing.assert_frame_equal(given[DEFECT_COLUMNS], table, check_dtype=False,
                                  check_names=False, check_index_type=False)


def test_flips_judge_the_masks_of_the_flipped_predictor_and_say_so(trained, tmp_path):
    """``--flips`` measures the masks of ``Predictor(flips=True)``; the report names it."""
    from heatsink.models.predict import Predictor
    from heatsink.models.run import Run

    run = Run.load(trained["run"])
    frames = [cv2.imread(str(trained["twin"] / "images" / f"{i}.bmp"))[..., ::-1]
              for i in trained["ids"]]
    flipped = Predictor(run.model("best"), run.config.image_size, flips=True).masks(frames)
    out = tmp_path / "report.csv"
    _inspect(trained, [trained["twin"] / "images"], _spec(tmp_path), out, "--flips")
    report = _read(out).set_index("image_id")
    table = defect_table(zip(trained["ids"], flipped, strict=True))
    pd.testing.assert_frame_equal(report[DEFECT_COLUMNS], table, check_dtype=False,
                                  check_names=False, check_index_type=False, rtol=0, atol=0)
    assert any((m != trained["masks"][i]).any() for i, m in zip(trained["ids"], flipped,
                                                                 strict=True))
    assert (report["model"].str.endswith("+flips")).all()
    plain = tmp_path / "plain.csv"
    _inspect(trained, [trained["twin"] / "images"], _spec(tmp_path), plain)
    assert report["model"].iloc[0] == f"{_read(plain)['model'].iloc[0]}+flips"


def test_parquet_report_equals_the_csv(trained, tmp_path):
    pytest.importorskip("pyarrow")
    folder = _good_folder(trained, tmp_path)
    (folder / "empty.bmp").write_bytes(b"")
    spec = _spec(tmp_path, "name: s\nmax_stain_count: 0\n")
    # one batch size for both: `--batch auto` times the model and may pick another batch the
    # second time on a busy machine, and a batch of another size may round a tied pixel the
    # other way (seen once: 4 pixels of one frame)
    assert _inspect(trained, [folder], spec, tmp_path / "r.csv", "--batch", 4) == 2
    assert _inspect(trained, [folder], spec, tmp_path / "r.parquet", "--batch", 4) == 2
    csv = _read(tmp_path / "r.csv")
    parquet = pd.read_parquet(tmp_path / "r.parquet")
    assert list(parquet.columns) == insp.REPORT_COLUMNS
    assert len(parquet) == 5 and parquet["error"].iloc[-1] == "is empty (0 bytes)"
    pd.testing.assert_frame_equal(parquet, csv, check_dtype=False)

    import pyarrow.parquet as pq

    schema = pq.read_schema(tmp_path / "r.parquet")
    assert str(schema.field("NumberOfStains").type) == "int64"
    assert str(schema.field("TotalStain%").type) == "double"
    assert str(schema.field("error").type) == "string"


def test_an_interrupted_run_leaves_no_report_and_no_temporary_file(trained, tmp_path,
                                                                  monkeypatch):
    folder = _good_folder(trained, tmp_path)
    reports = tmp_path / "reports"
    reports.mkdir()
    out = reports / "report.csv"
    out.write_text("the previous report\n")
    real = insp.predict_frames
    calls = []

    def interrupted(model, frames, decision=None):
        calls.append(len(frames))
        if len(calls) == 2:  # the first batch is in the temporary file by now
            temps = [p for p in reports.iterdir()
                     if p.name.startswith(".") and not p.name.endswith(".lock")]
            assert len(temps) == 1 and temps[0].stat().st_size > 0
            raise KeyboardInterrupt
        return real(model, frames, decision)

    monkeypatch.setattr(insp, "predict_frames", interrupted)
    spec = _spec(tmp_path)
    assert _inspect(trained, [folder], spec, out, "--batch", "2") == 130
    assert calls == [2, 2]
    assert out.read_text() == "the previous report\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.csv"]

    calls.clear()
    pytest.importorskip("pyarrow")
    assert _inspect(trained, [folder], spec, reports / "fresh.parquet", "--batch", "2") == 130
    assert calls == [2, 2]
    assert sorted(p.name for p in reports.iterdir()) == ["report.csv"]


def test_fatal_errors_exit_2_name_the_file_and_write_nothing(trained, tmp_path, capsys):
    folder = _good_folder(trained, tmp_path)
    out = tmp_path / "report.csv"
    spec = _spec(tmp_path)

    def fails(inputs, model, spec_file, report, *needles):
        args = ["inspect", *map(str, inputs), "--model", str(model), "--spec", str(spec_file),
                "--out", str(report), "-q"]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("heatsink: error: ") and "Traceback" not in err
        for needle in needles:
            assert needle in err
        assert not Path(report).exists()

    bad_spec = _spec(tmp_path, "name: x\nmax_stains: 3\n", "bad.yaml")
    fails([folder], trained["run"], bad_spec, out, str(bad_spec), "unknown key")
    fails([folder], trained["run"], tmp_path / "none.yaml", out, "none.yaml", "not found")
    fails([folder], tmp_path / "no-run", spec, out, "no-run", "no such run folder")
    half_run = tmp_path / "half-run"
    half_run.mkdir()
    shutil.copy(trained["run"] / "config.json", half_run)
    fails([folder], half_run, spec, out, str(half_run / "best.keras"), "no such model file")
    empty_run = tmp_path / "empty-run"
    empty_run.mkdir()
    fails([folder], empty_run, spec, out, "empty-run", "no config.json")
    fails([folder], trained["run"], spec, tmp_path / "report.xlsx", "report.xlsx",
          "unknown report format")
    fails([folder / "nope.bmp"], trained["run"], spec, out, "nope.bmp", "no such file")


def test_overlays_are_written_for_readable_images(trained, tmp_path):
    from heatsink.data import read_image

    folder = trained["twin"] / "images"
    spec_file = _spec(tmp_path, "name: s\nmin_object_px: 4\nmax_defect_percent: 100\n")
    overlays = tmp_path / "overlays"
    _inspect(trained, [folder], spec_file, tmp_path / "r.csv", "--overlays", overlays)
    assert sorted(p.name for p in overlays.iterdir()) == [f"{i}.png" for i in trained["ids"]]
    for image_id in trained["ids"][:3]:
        written = cv2.imread(str(overlays / f"{image_id}.png"))[..., ::-1]
        expected = draw_overlay(read_image(folder / f"{image_id}.bmp"),
                                trained["masks"][image_id], min_area_px=4)
        np.testing.assert_array_equal(written, expected)

    # no overlay for an error row; two inputs with one stem would overwrite each other
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.bmp").write_bytes(b"")
    _inspect(trained, [bad], spec_file, tmp_path / "r2.csv", "--overlays", tmp_path / "o2")
    assert not any((tmp_path / "o2").iterdir())
    twin_copy = _good_folder(trained, tmp_path, n=1)
    assert _inspect(trained, [folder, twin_copy], spec_file, tmp_path / "r3.csv",
                    "--overlays", tmp_path / "o3") == 2
    assert not (tmp_path / "r3.csv").exists()


def _frame(trained, image_id: str = "0001") -> np.ndarray:
    from heatsink.data import read_image

    return read_image(trained["twin"] / "images" / f"{image_id}.bmp")


def test_grayscale_is_converted_by_repeating_the_channel(trained, tmp_path):
    from heatsink.data import read_image

    folder = tmp_path / "frames"
    folder.mkdir()
    gray = cv2.cvtColor(_frame(trained), cv2.COLOR_RGB2GRAY)
    assert cv2.imwrite(str(folder / "a_gray.png"), gray)
    _bmp(folder / "b_rgb.bmp", np.repeat(gray[..., None], 3, axis=2))  # the same, as RGB
    with pytest.raises(DatasetError, match="single-channel"):
        read_image(folder / "a_gray.png")  # datasets still refuse grayscale

    assert _inspect(trained, [folder], _spec(tmp_path), tmp_path / "r.csv") == 0
    report = _read(tmp_path / "r.csv").set_index("image_id")
    assert report.loc["a_gray", "note"] == insp.GRAY_NOTE
    assert report.loc["b_rgb", "note"] == ""
    assert (report["error"] == "").all()
    # the model sees the same pixels either way ...
    as_gray, _ = insp.read_frame(folder / "a_gray.png")
    as_rgb, _ = insp.read_frame(folder / "b_rgb.bmp")
    np.testing.assert_array_equal(as_gray, as_rgb)
    # ... and measures the same defects; oneDNN's convolutions may round the two copies in
    # one batch differently, which can flip a pixel whose two classes tie (seen on AVX2)
    pd.testing.assert_series_equal(report.loc["a_gray", DEFECT_COLUMNS],
                                   report.loc["b_rgb", DEFECT_COLUMNS], check_names=False,
                                   check_exact=False, rtol=1e-3, atol=0.01)


def test_resize_stretches_other_sizes_to_the_frame_size(trained, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    small = cv2.resize(_frame(trained), (96, 64), interpolation=cv2.INTER_AREA)
    _bmp(folder / "a_small.bmp", small)
    big = cv2.resize(_frame(trained, "0002"), (640, 640), interpolation=cv2.INTER_LINEAR)
    _bmp(folder / "b_big.bmp", big)
    # what --resize documents: INTER_LINEAR when enlarging, INTER_AREA when shrinking
    _bmp(folder / "c_small_at_320.bmp", cv2.resize(small, (320, 320),
                                                   interpolation=cv2.INTER_LINEAR))
    _bmp(folder / "d_big_at_320.bmp", cv2.resize(big, (320, 320), interpolation=cv2.INTER_AREA))
    spec = _spec(tmp_path)

    assert _inspect(trained, [folder], spec, tmp_path / "r.csv") == 2
    refused = _read(tmp_path / "r.csv").set_index("image_id")
    assert refused.loc["a_small", "error"].startswith("is 64×96, expected 320×320")
    assert refused.loc["b_big", "error"].startswith("is 640×640, expected 320×320")
    assert "--resize" in refused.loc["a_small", "error"]

    assert _inspect(trained, [folder], spec, tmp_path / "r.csv", "--resize") == 0
    report = _read(tmp_path / "r.csv").set_index("image_id")
    assert (report["error"] == "").all()
    assert report.loc["a_small", "note"] == "resized from 64×96 to 320×320"
    assert report.loc["b_big", "note"] == "resized from 640×640 to 320×320"
    assert report.loc["c_small_at_320", "note"] == ""
    for resized, native in (("a_small", "c_small_at_320"), ("b_big", "d_big_at_320")):
        pd.testing.assert_series_equal(report.loc[resized, DEFECT_COLUMNS],
                                       report.loc[native, DEFECT_COLUMNS], check_names=False)


def test_expand_inputs_takes_every_visible_file_of_a_folder(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name in ("b.bmp", "a.png", "notes.txt", ".hidden.bmp", "sub/c.bmp", "report.csv"):
        (folder / name).write_bytes(b"x")
    (folder / "z_broken.bmp").symlink_to(tmp_path / "gone.bmp")
    extra = tmp_path / "extra.bmp"
    extra.write_bytes(b"x")
    files = insp.expand_inputs([extra, folder, folder / "a.png"],
                               exclude=[folder / "report.csv"])
    assert [f.name for f in files] == ["extra.bmp", "a.png", "b.bmp", "notes.txt",
                                       "z_broken.bmp"]
    with pytest.raises(DatasetError, match="is missing"):
        insp.read_frame(files[-1])
    with pytest.raises(insp.HeatsinkError, match="no files to inspect"):
        insp.expand_inputs([folder / "sub"], exclude=[folder / "sub" / "c.bmp"])
    with pytest.raises(insp.HeatsinkError, match="no such file or folder"):
        insp.expand_inputs([folder / "missing"])


def test_a_file_that_is_not_an_image_is_named_as_such(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match=r"is not an image file \(suffix '.txt'"):
        insp.read_frame(tmp_path / "notes.txt")
    rgba = np.zeros((320, 320, 4), np.uint8)
    assert cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    with pytest.raises(DatasetError, match="has 4 channels"):
        insp.read_frame(tmp_path / "rgba.png")


def test_inspect_images_streams_one_batch_at_a_time(trained, tmp_path, monkeypatch):
    paths = sorted((trained["twin"] / "images").iterdir())
    real = insp.predict_frames
    batches = []

    def counting(model, frames, decision=None):
        batches.append(len(frames))
        return real(model, frames, decision)

    monkeypatch.setattr(insp, "predict_frames", counting)
    rows = insp.inspect_images(paths, trained["run"], Spec(name="s"), batch_size=3)
    first = next(rows)
    assert batches == [3] and first["image_id"] == "0001" and first["verdict"] == "PASS"
    rest = list(rows)
    assert batches == [3, 3, 2] and [r["image_id"] for r in rest] == trained["ids"][1:]
    with pytest.raises(insp.HeatsinkError, match="at least 1"):
        next(insp.inspect_images(paths, trained["run"], Spec(name="s"), batch_size=0))


def test_auto_batch_is_measured_on_the_model_and_reported(trained, tmp_path, monkeypatch,
                                                          capsys):
    from heatsink.models.predict import BATCH_CANDIDATES, Predictor

    timed = []
    real = Predictor.latency_ms

    def timing(self, batch_size=1, frame_size=None, repeats=20):
        timed.append((batch_size, frame_size))
        # the middle candidate is made the fastest, so the choice must follow the timings
        return 1.0 if batch_size == BATCH_CANDIDATES[2] else real(self, batch_size,
                                                                   frame_size, 1) + 1.0

    monkeypatch.setattr(Predictor, "latency_ms", timing)
    model = insp.load_inspection_model(trained["run"])
    assert insp.resolve_batch_size(model, 5) == 5 and timed == []
    assert insp.resolve_batch_size(model, None) == BATCH_CANDIDATES[2]
    assert [b for b, _ in timed] == list(BATCH_CANDIDATES)
    assert {f for _, f in timed} == {insp.FRAME_SIZE}

    out = tmp_path / "auto.csv"
    assert _inspect(trained, [trained["twin"] / "images"], _spec(tmp_path), out) == 0
    assert f"(batch {BATCH_CANDIDATES[2]})" in capsys.readouterr().out
    fixed = tmp_path / "fixed.csv"
    assert _inspect(trained, [trained["twin"] / "images"], _spec(tmp_path), fixed,
                    "--batch", "3") == 0
    assert "(batch 3)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(_read(out).drop(columns="model"),
                                  _read(fixed).drop(columns="model"))


def test_summary_exit_codes():
    summary = insp.InspectionSummary(out=Path("r.csv"))
    assert summary.exit_code == 0
    summary.add({"error": "", "verdict": "PASS"})
    assert summary.exit_code == 0
    summary.add({"error": "", "verdict": "FAIL"})
    assert summary.exit_code == 1
    summary.add({"error": "is empty (0 bytes)", "verdict": ""})
    assert summary.exit_code == 2
    assert summary.to_text() == "r.csv: 3 images, 1 PASS, 1 FAIL, 1 error"


# --- the line, hardened: hostile and careless inputs --------------------------------------


def _png_bomb(path: Path, side: int = 20000) -> Path:
    """A ~1 MB PNG whose header declares side×side RGB pixels (1.2 GB once decoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * side)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_hostile_frames_become_error_rows_named_and_nothing_hangs(trained, tmp_path, capsys):
    import os

    folder = _good_folder(trained, tmp_path, n=2)
    _png_bomb(folder / "bomb.png")
    os.mkfifo(folder / "pipe.bmp")
    good = (folder / "0001.bmp").read_bytes()
    _, jpeg = cv2.imencode(".jpg", _frame(trained)[..., ::-1])
    (folder / "cut.jpg").write_bytes(jpeg.tobytes()[: len(jpeg) // 2] + b"\xff\xd9")
    name = os.fsdecode(b"=frame-\xff")
    (folder / f"{name}.bmp").write_bytes(good)  # not UTF-8, and a formula in a spreadsheet
    out = tmp_path / "report.csv"

    code = _inspect(trained, [folder, "/dev/zero"], _spec(tmp_path), out)
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    assert "7 images, 3 PASS, 0 FAIL, 4 errors" in captured.out
    report = _read(out).set_index("image_id")
    errors = report["error"]
    assert errors["bomb"].startswith("is too large: its header declares more than")
    assert errors["pipe"] == "is a FIFO (named pipe), not a regular file; refused"
    assert errors["zero"] == "is a character device, not a regular file; refused"
    assert errors["cut"].startswith("is truncated or corrupt: libjpeg reports")
    # the non-UTF-8 name is written with its byte escaped, and neutralised as a formula
    assert errors["'=frame-\\xff"] == "" and report.loc["'=frame-\\xff", "verdict"] == "PASS"
    assert report.loc["'=frame-\\xff", "path"].endswith("/=frame-\\xff.bmp")


def test_overlays_refuse_a_folder_that_holds_the_inputs(trained, tmp_path, capsys):
    folder = _good_folder(trained, tmp_path, n=2)
    for frame in folder.iterdir():  # PNG frames, as a camera may write them
        cv2.imwrite(str(frame.with_suffix(".png")), cv2.imread(str(frame)))
        frame.unlink()
    before = _snapshot(folder)
    code = _inspect(trained, [folder], _spec(tmp_path), tmp_path / "r.csv",
                    "--overlays", folder)
    err = capsys.readouterr().err
    assert code == 2 and f"{folder}: the overlays folder holds the input" in err
    assert _snapshot(folder) == before and not (tmp_path / "r.csv").exists()


def test_a_second_writer_of_a_report_is_refused_by_name(trained, tmp_path, capsys):
    folder = _good_folder(trained, tmp_path, n=1)
    out = tmp_path / "report.csv"
    with insp.report_lock(out):  # as a first run still writing it would
        assert _inspect(trained, [folder], _spec(tmp_path), out) == 2
        err = capsys.readouterr().err
        assert f"{out}: another process (pid " in err and "is writing this report" in err
    assert not out.exists()
    assert _inspect(trained, [folder], _spec(tmp_path), out) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_killed_runs_temporary_report_is_removed_by_the_next_run(trained, tmp_path):
    folder = _good_folder(trained, tmp_path, n=1)
    out = tmp_path / "report.csv"
    stale = tmp_path / ".report.csv.k1ll3d_x.csv"  # what atomic_path leaves after a SIGKILL
    stale.write_text("path,image_id\nhalf,a row\n")
    mine = tmp_path / ".report.csv.notes"  # not a temporary report: kept
    mine.write_text("my notes")
    assert _inspect(trained, [folder], _spec(tmp_path), out) == 0
    assert not stale.exists() and mine.read_text() == "my notes"


@pytest.mark.parametrize("where", ["report", "overlays"])
def test_an_unwritable_report_or_overlay_folder_is_one_line_and_exit_2(trained, tmp_path,
                                                                      capsys, where):
    folder = _good_folder(trained, tmp_path, n=1)
    out = Path("/proc/report.csv") if where == "report" else tmp_path / "r.csv"
    extra = ["--overlays", "/proc"] if where == "overlays" else []
    code = _inspect(trained, [folder], _spec(tmp_path), out, *extra)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert ("/proc/report.csv: cannot write the report there" in err if where == "report"
            else "/proc: cannot write the overlays there" in err)


def test_out_naming_a_folder_is_refused_before_any_frame_is_read(trained, tmp_path, capsys,
                                                                monkeypatch):
    folder = _good_folder(trained, tmp_path, n=1)
    out = tmp_path / "report.csv"
    out.mkdir()
    monkeypatch.setattr(insp, "read_frame", lambda *a, **k: pytest.fail("a frame was read"))
    assert _inspect(trained, [folder], _spec(tmp_path), out) == 2
    assert f"{out}: is a folder" in capsys.readouterr().err


def test_an_unreadable_input_folder_is_one_line_and_exit_2(trained, tmp_path, capsys):
    from conftest import unlistable_folder

    folder = unlistable_folder(tmp_path)
    assert _inspect(trained, [folder], _spec(tmp_path), tmp_path / "r.csv") == 2
    err = capsys.readouterr().err
    assert f"{folder}: cannot list the folder (Permission denied)" in err
    assert err.count("\n") == 1 and not (tmp_path / "r.csv").exists()


def test_inspect_prints_the_limits_it_applies(trained, tmp_path, capsys):
    folder = _good_folder(trained, tmp_path, n=1)
    spec = _spec(tmp_path, "name: line-7\nmax_stain_count: 3\nmax_scratch_length: 50\n")
    _inspect(trained, [folder], spec, tmp_path / "r.csv")
    assert ("spec line-7: FAIL if stain count > 3 or scratch length > 50; objects under 1 px "
            "ignored; units px") in capsys.readouterr().out


def test_a_crash_is_exit_2_in_one_line_never_1(trained, tmp_path, capsys, monkeypatch):
    """An unexpected exception (here: the model fails) is not a FAIL verdict."""
    folder = _good_folder(trained, tmp_path, n=1)

    def broken(model, frames, decision=None):
        raise RuntimeError("the model broke")

    monkeypatch.setattr(insp, "predict_frames", broken)
    assert _inspect(trained, [folder], _spec(tmp_path), tmp_path / "r.csv") == 2
    err = capsys.readouterr().err
    assert err == ("heatsink: error: unexpected RuntimeError: the model broke (run with "
                   "--debug for the traceback)\n")
    args = ["--debug", "inspect", str(folder), "--model", str(trained["run"]), "--spec",
            str(_spec(tmp_path)), "--out", str(tmp_path / "r.csv"), "-q"]
    assert main(args) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_run_config_with_a_negative_image_size_or_a_fifo_is_refused(trained, tmp_path,
                                                                     capsys):
    import json
    import os

    folder = _good_folder(trained, tmp_path, n=1)
    run = tmp_path / "run"
    shutil.copytree(trained["run"], run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "image_size": -64}))
    assert _inspect({**trained, "run": run}, [folder], _spec(tmp_path), tmp_path / "r.csv") == 2
    err = capsys.readouterr().err
    assert f"{run / 'config.json'}: image_size must be a positive multiple of 32" in err
    (run / "config.json").unlink()
    os.mkfifo(run / "config.json")  # would block a plain read forever
    assert _inspect({**trained, "run": run}, [folder], _spec(tmp_path), tmp_path / "r.csv") == 2
    assert "config.json: cannot read the run's configuration: it is a FIFO" in (
        capsys.readouterr().err)
    assert not (tmp_path / "r.csv").exists()
