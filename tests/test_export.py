"""Exports to ONNX and OpenVINO: same masks and verdicts as Keras, identity, safe writing."""

from __future__ import annotations

import json
from pathlib import Path

import heatsink  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

# isort: split
import cv2
import numpy as np
import pytest
import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.io import file_sha256
from heatsink.line.spec import inspect_masks, load_spec
from heatsink.models import build_model
from heatsink.models.export import (
    EXPORT_FORMATS,
    SIDECAR,
    export_model,
    float32_model,
    is_export,
    load_exported,
)
from heatsink.models.run import TrainConfig

SIZE = 128
EXAMPLE_SPEC = Path(__file__).resolve().parents[1] / "specs" / "example.yaml"
#: Packages each format needs to be written and run.
NEEDS = {"onnx": ("tf2onnx", "onnxruntime"), "openvino": ("tf2onnx", "openvino")}


def _needs(fmt: str) -> None:
    for module in NEEDS[fmt]:
        pytest.importorskip(module)


def _frames(n: int = 8, seed: int = 0) -> np.ndarray:
    """Smooth random frames with bright lines and dark blobs, float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        base = cv2.GaussianBlur(rng.random((SIZE, SIZE, 3), dtype=np.float32), (0, 0), 4)
        frame = (0.5 + 2 * (base - base.mean())).astype(np.float32)
        for _ in range(rng.integers(1, 4)):
            p0, p1 = (tuple(int(v) for v in rng.integers(0, SIZE, 2)) for _ in range(2))
            cv2.line(frame, p0, p1, (1.0, 1.0, 1.0), int(rng.integers(1, 3)))
        for _ in range(rng.integers(1, 4)):
            centre = tuple(int(v) for v in rng.integers(0, SIZE, 2))
            cv2.circle(frame, centre, int(rng.integers(3, 12)), (0.1, 0.1, 0.1), -1)
        frames.append(np.clip(frame, 0, 1))
    return np.stack(frames).astype(np.float32)


def _varied_model(policy: str = "float32") -> tf.keras.Model:
    """A seeded light net whose masks hold all three classes on :func:`_frames`.

    Random weights alone give one class nearly everywhere, which would make mask agreement
    trivial: the logits layer is rescaled and its bias centred on the frames' mean logits,
    so the arg-max follows the (random, but image-dependent) features.
    """
    tf.keras.utils.set_random_seed(1)
    tf.keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_model("light")
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
    logits = model.get_layer("logits")
    features = tf.keras.Model(model.input, logits.input)(_frames(), training=False)
    kernel, _ = logits.get_weights()
    out = np.tensordot(np.asarray(features, np.float32), kernel[0, 0], axes=1)
    scale = 4.0 / out.reshape(-1, 3).std(axis=0)
    kernel = kernel * scale
    bias = -(out * scale).reshape(-1, 3).mean(axis=0)
    logits.set_weights([kernel, bias.astype(np.float32)])
    return model


def _save_run(model: tf.keras.Model, run_dir: Path) -> Path:
    """A run-like folder: ``config.json`` and ``best.keras``, as ``heatsink inspect`` opens."""
    run_dir.mkdir(parents=True)
    config = TrainConfig(model="light", image_size=SIZE, precision="float32")
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    model.save(run_dir / "best.keras")
    return run_dir


def _masks(probs: np.ndarray) -> np.ndarray:
    return np.asarray(probs).argmax(axis=-1).astype(np.uint8)


def _verdicts(masks: np.ndarray) -> list[str]:
    table = inspect_masks(((str(k), m) for k, m in enumerate(masks)), load_spec(EXAMPLE_SPEC))
    return list(table["verdict"])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return _save_run(_varied_model(), tmp_path_factory.mktemp("runs") / "light-run")


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_export_agrees_with_keras_on_masks_and_verdicts(fmt, run_dir, tmp_path):
    _needs(fmt)
    from heatsink.models import load_model

    keras_model = load_model(run_dir / "best.keras")
    frames = _frames()
    expected = _masks(keras_model(frames, training=False))
    assert set(np.unique(expected)) == {0, 1, 2}  # not a degenerate one-class model
    for cls in (0, 1, 2):  # and no class is a sliver
        assert (expected == cls).mean() > 0.02

    model_file = export_model(run_dir, fmt, tmp_path / f"export-{fmt}")
    exported = load_exported(model_file.parent)
    got = _masks(exported(frames))
    agreement = (got == expected).mean()
    assert agreement >= 0.999, f"{fmt}: masks agree on {agreement:.5f} of pixels"
    assert _verdicts(got) == _verdicts(expected)


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_export_carries_the_runs_identity(fmt, run_dir, tmp_path):
    _needs(fmt)
    out = tmp_path / "export"
    model_file = export_model(run_dir, fmt, out)
    assert model_file == out / EXPORT_FORMATS[fmt] and model_file.is_file()
    assert is_export(out) and is_export(model_file)
    exported = load_exported(model_file)  # the model file works as well as its folder
    sha = file_sha256(run_dir / "best.keras")
    assert exported.identity == f"light-run@{sha[:12]}"
    assert exported.image_size == SIZE
    assert exported.classes == ("background", "scratch", "stain")
    sidecar = json.loads((out / SIDECAR).read_text())
    assert sidecar["source"]["sha256"] == sha
    assert sidecar["format"] == fmt and sidecar["graph_precision"] == "float32"
    assert sidecar["versions"]["tensorflow"] == tf.__version__
    assert [p.name for p in out.parent.iterdir()] == ["export"]  # no temporary left behind


def test_a_model_trained_in_bfloat16_is_exported_as_a_float32_graph(tmp_path):
    pytest.importorskip("tf2onnx")
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    mixed = _varied_model("mixed_bfloat16")
    assert any(layer.compute_dtype == "bfloat16" for layer in mixed.layers)
    rebuilt = float32_model(mixed)
    assert all(layer.compute_dtype == "float32" for layer in rebuilt.layers)
    for a, b in zip(rebuilt.get_weights(), mixed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    model_file = export_model(_save_run(mixed, tmp_path / "run"), "onnx", tmp_path / "out")
    graph = onnx.load(str(model_file)).graph
    bf16 = onnx.TensorProto.BFLOAT16
    assert all(t.data_type != bf16 for t in graph.initializer)
    casts = [a.i for n in graph.node if n.op_type == "Cast" for a in n.attribute]
    assert bf16 not in casts
    frames = _frames(2)
    np.testing.assert_allclose(load_exported(model_file)(frames), rebuilt(frames).numpy(),
                               atol=1e-4)


def test_export_refuses_to_overwrite_what_is_not_an_export(run_dir, tmp_path):
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnx")
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(HeatsinkError, match=r"results: exists .* not a heatsink export"):
        export_model(run_dir, "onnx", folder)
    assert (folder / "keep.txt").read_text() == "mine"
    a_file = tmp_path / "notes.onnx"
    a_file.write_text("mine")
    with pytest.raises(HeatsinkError, match=r"notes\.onnx"):
        export_model(run_dir, "onnx", a_file)
    out = tmp_path / "export"
    export_model(run_dir, "onnx", out)
    (out / "stale.txt").write_text("from the first export")
    export_model(run_dir, "onnx", out)  # an export is replaced whole
    assert sorted(p.name for p in out.iterdir()) == [SIDECAR, "model.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "notes.onnx", "results"]


def test_bad_inputs_name_the_file(run_dir, tmp_path):
    with pytest.raises(HeatsinkError, match="unknown export format 'tflite'"):
        export_model(run_dir, "tflite", tmp_path / "out")
    with pytest.raises(HeatsinkError, match=r"nowhere: no such run folder or model file"):
        export_model(tmp_path / "nowhere", "onnx", tmp_path / "out")
    with pytest.raises(HeatsinkError, match=r"nowhere: no such export"):
        load_exported(tmp_path / "nowhere")
    with pytest.raises(HeatsinkError, match=rf"light-run: not a heatsink export \(no {SIDECAR}"):
        load_exported(run_dir)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / SIDECAR).write_text("{not json")
    with pytest.raises(HeatsinkError, match=rf"broken/{SIDECAR}: unreadable export sidecar"):
        load_exported(broken)
    assert not (tmp_path / "out").exists()


def test_exported_model_checks_its_input_and_precision(run_dir, tmp_path):
    _needs("onnx")
    out = tmp_path / "export"
    export_model(run_dir, "onnx", out)
    with pytest.raises(HeatsinkError, match=r"ONNX runs float32"):
        load_exported(out, precision="bfloat16")
    exported = load_exported(out)
    with pytest.raises(HeatsinkError, match=rf"expects a batch of shape \(N, {SIZE}, {SIZE}, 3\)"):
        exported(np.zeros((1, SIZE + 32, SIZE, 3), np.float32))
    (out / "model.onnx").unlink()
    with pytest.raises(HeatsinkError, match=r"model\.onnx: no such model file"):
        load_exported(out)


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_the_prediction_path_runs_an_export_as_it_runs_keras(fmt, run_dir, tmp_path):
    """Predictor on 320² uint8 frames: the export's masks, through the same resize in and out,
    agree with the Keras model's on ≥ 99.9 % of pixels."""
    _needs(fmt)
    from heatsink.models import Predictor, load_model

    frames = np.concatenate([(cv2.resize(f, (320, 320)) * 255).round().astype(np.uint8)[None]
                             for f in _frames()])
    exported = load_exported(export_model(run_dir, fmt, tmp_path / fmt))
    keras_masks = Predictor(load_model(run_dir / "best.keras"), SIZE).masks(frames)
    export_masks = Predictor(exported, exported.image_size,
                             classes=len(exported.classes)).masks(frames)
    assert export_masks.shape == keras_masks.shape == (len(frames), 320, 320)
    assert len(np.unique(keras_masks)) == 3  # not a trivial agreement
    assert (export_masks == keras_masks).mean() >= 0.999
    # with test-time flips (`inspect --flips`): four views per frame in one call of the
    # export, averaged as Keras's are, and other masks than without them
    keras_flipped = Predictor(load_model(run_dir / "best.keras"), SIZE, flips=True).masks(frames)
    export_flipped = Predictor(exported, exported.image_size, classes=len(exported.classes),
                               flips=True).masks(frames)
    assert (export_flipped == keras_flipped).mean() >= 0.999
    assert (keras_flipped != keras_masks).mean() > 0.01


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_inspect_takes_an_export_and_reports_as_with_the_run(fmt, run_dir, tmp_path):
    """`heatsink inspect --model EXPORT` judges as `--model RUN` does, frame by frame, with the
    run's identity in the report; `--masks` writes the masks it judged, 0/1/2."""
    _needs(fmt)
    import pandas as pd

    from heatsink.cli import main

    frames = tmp_path / "frames"
    frames.mkdir()
    for k, frame in enumerate(_frames(6, seed=3)):
        image = (cv2.resize(frame, (320, 320)) * 255).round().astype(np.uint8)
        assert cv2.imwrite(str(frames / f"f{k}.png"), image[..., ::-1])
    export = tmp_path / "export"
    assert main(["export", str(run_dir), "--format", fmt, str(export)]) == 0
    codes, reports = [], {}
    for name, model in (("run", run_dir), ("export", export)):
        out = tmp_path / f"{name}.csv"
        codes.append(main(["inspect", str(frames), "--model", str(model), "--spec",
                           str(EXAMPLE_SPEC), "--out", str(out), "--masks",
                           str(tmp_path / f"masks-{name}"), "-q"]))
        reports[name] = pd.read_csv(out)
    assert codes[0] == codes[1] and codes[0] in (0, 1)
    assert list(reports["run"]["verdict"]) == list(reports["export"]["verdict"])
    assert set(reports["export"]["model"]) == set(reports["run"]["model"])  # same identity
    agree = []
    for k in range(6):
        run_mask, export_mask = (cv2.imread(str(tmp_path / f"masks-{n}" / f"f{k}.png"),
                                            cv2.IMREAD_UNCHANGED) for n in ("run", "export"))
        assert run_mask.shape == (320, 320) and set(np.unique(run_mask)) <= {0, 1, 2}
        agree.append((run_mask == export_mask).mean())
    assert min(agree) >= 0.999


def test_masks_refuse_a_folder_that_holds_the_inputs(run_dir, tmp_path):
    from heatsink.cli import main

    frames = tmp_path / "frames"
    frames.mkdir()
    image = np.full((320, 320, 3), 128, np.uint8)
    assert cv2.imwrite(str(frames / "a.png"), image)
    before = (frames / "a.png").read_bytes()
    code = main(["inspect", str(frames), "--model", str(run_dir), "--spec", str(EXAMPLE_SPEC),
                 "--out", str(tmp_path / "r.csv"), "--masks", str(frames), "-q"])
    assert code == 2
    assert (frames / "a.png").read_bytes() == before and not (tmp_path / "r.csv").exists()


def _write_frames(folder: Path, n: int, seed: int) -> Path:
    folder.mkdir()
    for k, frame in enumerate(_frames(n, seed=seed)):
        image = (cv2.resize(frame, (320, 320)) * 255).round().astype(np.uint8)
        assert cv2.imwrite(str(folder / f"f{k}.png"), image[..., ::-1])
    return folder


def test_an_int8_export_is_quantized_names_its_source_and_predicts_nearly_as_keras(
        run_dir, tmp_path):
    """`heatsink export --int8`: an OpenVINO graph whose convolutions run in int8 (NNCF's
    FakeQuantize nodes, folded by the CPU plugin), calibrated on other frames than it is
    checked on; its identity is the float export's with +int8, and inspect reports it."""
    _needs("openvino")
    pytest.importorskip("nncf")
    import pandas as pd

    from heatsink.cli import main
    from heatsink.models import Predictor, load_model

    calibration = _write_frames(tmp_path / "calibration", 16, seed=1)
    out = tmp_path / "int8"
    assert main(["export", str(run_dir), "--format", "openvino", str(out), "--int8",
                 "--calibration", str(calibration)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration", "int8"]  # no temp
    exported = load_exported(out)
    sidecar = exported.sidecar
    float_identity = load_exported(export_model(run_dir, "openvino", tmp_path / "f32")).identity
    assert exported.identity == float_identity + "+int8"
    assert sidecar["graph_precision"] == "int8" and sidecar["quantization"]["frames"] == 16
    assert sidecar["quantization"]["float_export"] == float_identity
    # the stem, which sees the raw pixels, stays in float32
    import openvino as ov

    from heatsink.models.quantize import first_convolution

    stem = first_convolution(ov.Core().read_model(str(tmp_path / "f32" / "model.xml")))
    assert stem and sidecar["quantization"]["float32_layers"] == [stem]
    xml = (out / "model.xml").read_text()
    assert xml.count('type="FakeQuantize"') >= 10  # the convolutions' inputs and weights

    frames = np.stack([(cv2.resize(f, (320, 320)) * 255).round().astype(np.uint8)
                       for f in _frames(8, seed=5)])
    keras_masks = Predictor(load_model(run_dir / "best.keras"), SIZE).masks(frames)
    int8_masks = Predictor(exported, exported.image_size, classes=3).masks(frames)
    assert len(np.unique(keras_masks)) == 3
    # a random light net whose logits were stretched to make all three classes common: the
    # pixels near a class boundary are many; a trained model's agreement is measured in the
    # speed chapter
    assert 0.9 <= (int8_masks == keras_masks).mean() < 1.0

    report = tmp_path / "r.csv"
    frames_dir = _write_frames(tmp_path / "frames", 3, seed=6)
    assert main(["inspect", str(frames_dir), "--model", str(out), "--spec", str(EXAMPLE_SPEC),
                 "--out", str(report), "-q"]) in (0, 1)
    assert set(pd.read_csv(report)["model"]) == {exported.identity}


def test_int8_refusals_are_one_line_and_write_nothing(run_dir, tmp_path, capsys):
    _needs("openvino")
    pytest.importorskip("nncf")
    from heatsink.cli import main
    from heatsink.models.quantize import quantize_export
    from heatsink.models.speed import engine_predictor

    out = tmp_path / "int8"
    cases = [
        (["--int8"], "--int8 needs --calibration"),
        (["--int8", "--calibration", str(tmp_path)], "no calibration images"),
        (["--calibration", str(tmp_path)], "--calibration is for --int8 exports only"),
    ]
    for extra, message in cases:
        assert main(["export", str(run_dir), "--format", "openvino", str(out), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert main(["export", str(run_dir), "--format", "onnx", str(out), "--int8",
                 "--calibration", str(tmp_path)]) == 2
    assert "give --format openvino" in capsys.readouterr().err
    assert not out.exists()

    float_export = export_model(run_dir, "openvino", tmp_path / "f32").parent
    frames = [np.zeros((320, 320, 3), np.uint8)] * 2
    with pytest.raises(HeatsinkError, match="unknown preset 'fast'"):
        quantize_export(float_export, frames, out, preset="fast")
    with pytest.raises(HeatsinkError, match="must be uint8 RGB"):
        quantize_export(float_export, [np.zeros((320, 320, 3), np.float32)], out)
    with pytest.raises(HeatsinkError, match="needs calibration frames"):
        quantize_export(float_export, [], out)
    int8_file = quantize_export(float_export, frames, out)
    with pytest.raises(HeatsinkError, match=r"model\.xml: not a float32 OpenVINO export"):
        quantize_export(out, frames, tmp_path / "again")
    onnx_export = export_model(run_dir, "onnx", tmp_path / "onnx").parent
    with pytest.raises(HeatsinkError, match="not a float32 OpenVINO export"):
        quantize_export(onnx_export, frames, tmp_path / "again")
    assert not (tmp_path / "again").exists() and int8_file.is_file()
    model = tf.keras.models.load_model(run_dir / "best.keras", compile=False)
    with pytest.raises(HeatsinkError, match="openvino-int8 needs calibration frames"):
        engine_predictor(model, "openvino-int8", SIZE, tmp_path / "engines")
