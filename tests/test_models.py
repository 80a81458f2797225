"""The four segmentation models: sizes, outputs, mixed precision, preprocessing, saving."""

from __future__ import annotations

import re
from pathlib import Path

import heatsink  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

# isort: split
import numpy as np
import pytest
import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.models import (
    KERAS_RESNET50,
    MODEL_NAMES,
    CaffePreprocessing,
    build_model,
    count_params,
    gslu_net,
    load_model,
    register_keras_resnet50,
    sm_core,
    sm_unet,
    unet,
)


@pytest.fixture
def mixed_bfloat16():
    """Run a test under the ``mixed_bfloat16`` global policy, restoring float32 afterwards."""
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")


def _images(batch: int = 2, height: int = 64, width: int = 96, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, height, width, 3), dtype=np.float32)


def _all_layers(model: tf.keras.Model) -> list[tf.keras.layers.Layer]:
    """The layers of ``model`` and of the models nested in it."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, tf.keras.Model):
            found += _all_layers(layer)
    return found


def _conv(kernel: int, c_in: int, c_out: int) -> int:
    """Parameters of a k×k convolution (or transposed convolution) with bias."""
    return kernel * kernel * c_in * c_out + c_out


def test_unet_parameter_count_matches_the_architecture():
    widths = [32 * 2**level for level in range(5)]  # 32-64-128-256-512
    expected = 0
    c_in = 3
    for width in widths:  # encoder levels and bottleneck: two 3×3 convolutions
        expected += _conv(3, c_in, width) + _conv(3, width, width)
        c_in = width
    for level in range(3, -1, -1):  # decoder: 2×2 transposed conv, concat, two 3×3 convs
        width = widths[level]
        expected += _conv(2, widths[level + 1], width)
        expected += _conv(3, 2 * width, width) + _conv(3, width, width)
    expected += _conv(1, widths[0], 3)
    model = unet(32)
    assert count_params(model) == expected == 7_760_163
    assert abs(expected - 7.76e6) / 7.76e6 < 0.01
    assert not any(isinstance(layer, tf.keras.layers.BatchNormalization) for layer in model.layers)


def test_gslu_parameter_count_is_near_the_papers():
    n = count_params(gslu_net())
    assert abs(n - 276_000) / 276_000 < 0.10, n


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_softmax_output_is_float32_under_mixed_bfloat16(name, mixed_bfloat16):
    model = build_model(name, encoder_weights=None)
    assert model.layers[-1].name == "softmax"
    assert any(layer.compute_dtype == "bfloat16" for layer in _all_layers(model))
    probs = model(_images(), training=False)
    assert probs.dtype == tf.float32
    assert tuple(probs.shape) == (2, 64, 96, 3)
    np.testing.assert_allclose(tf.reduce_sum(probs, axis=-1).numpy(), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fixed_input_sizes(name):
    for size in (256, 320):
        model = build_model(name, input_shape=(size, size, 3), n_classes=3)
        assert model.output_shape == (None, size, size, 3)


def test_resnet50_encoder_is_keras_resnet50_with_caffe_preprocessing():
    model = sm_unet("resnet50")
    core = sm_core(model)
    keras_names = {
        layer.name
        for layer in tf.keras.applications.ResNet50(include_top=False, weights=None).layers[1:]
    }
    assert "conv2_block1_1_conv" in keras_names
    assert keras_names <= {layer.name for layer in core.layers}
    assert not any(layer.name.startswith("stage") for layer in core.layers)  # image-classifiers

    x = _images(2, 8, 8)
    expected = tf.keras.applications.resnet50.preprocess_input(x * 255.0)
    got = model.get_layer("caffe_preprocessing")(x)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-4)


def test_keras_resnet50_registration_is_idempotent():
    import segmentation_models as sm

    assert register_keras_resnet50() == register_keras_resnet50() == KERAS_RESNET50
    assert sm.Backbones.models_names().count(KERAS_RESNET50) == 1
    assert KERAS_RESNET50 not in type(sm.Backbones)._models_update  # the class is untouched
    x = _images(1, 4, 4) * 255.0  # both functions work in place on NumPy arrays
    np.testing.assert_allclose(
        sm.get_preprocessing(KERAS_RESNET50)(x.copy()),
        tf.keras.applications.resnet50.preprocess_input(x.copy()),
    )


def test_imagenet_weights_go_to_the_bare_resnet50_encoder(monkeypatch):
    import heatsink.weights

    received = []
    monkeypatch.setattr(heatsink.weights, "load_resnet50_imagenet", received.append)
    sm_unet("resnet50", encoder_weights="imagenet", input_shape=(64, 64, 3))
    (encoder,) = received
    names = {layer.name for layer in encoder.layers}
    assert {"conv1_conv", "conv5_block3_out"} <= names
    assert not any(name.startswith("decoder") for name in names)


def test_vgg16_imagenet_and_unknown_names_raise():
    with pytest.raises(HeatsinkError, match="VGG16"):
        sm_unet("vgg16", encoder_weights="imagenet")
    with pytest.raises(HeatsinkError, match="VGG16"):
        build_model("vgg16", encoder_weights="imagenet")
    with pytest.raises(HeatsinkError, match="resnet50"):
        sm_unet("resnet18")
    with pytest.raises(HeatsinkError, match="gslu"):
        build_model("segnet")
    with pytest.raises(HeatsinkError, match="no pretrained encoder"):
        build_model("unet", encoder_weights="imagenet")


@pytest.mark.parametrize("name", ["gslu", "light", "vgg16"])
def test_save_and_load_round_trip(name, tmp_path: Path):
    model = build_model(name)
    x = _images(1, 32, 32)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def _lambda_model(marker: Path) -> tf.keras.Model:
    """A model whose Lambda layer writes ``marker`` when it runs (as a hostile file would)."""

    target = str(marker)  # a closure over a str is serialised with the code

    def touch(x):
        with open(target, "w") as handle:
            handle.write("the model's code ran")
        return x

    inputs = tf.keras.Input((8, 8, 3))
    return tf.keras.Model(inputs, tf.keras.layers.Lambda(touch, name="payload")(inputs))


@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
def test_a_legacy_hdf5_model_renamed_keras_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / "ran.txt"
    _lambda_model(marker).save(tmp_path / "model.h5")
    marker.unlink(missing_ok=True)
    disguised = tmp_path / "best.keras"
    (tmp_path / "model.h5").rename(disguised)
    for path in (disguised, tmp_path / "copy.h5"):
        if path.suffix == ".h5":
            path.write_bytes(disguised.read_bytes())
        with pytest.raises(HeatsinkError, match=rf"{path.name}: is a legacy HDF5"):
            load_model(path)
    assert not marker.exists()


def test_a_keras_archive_with_a_lambda_layer_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "best.keras"
    _lambda_model(marker).save(path)
    marker.unlink(missing_ok=True)
    with pytest.raises(HeatsinkError, match=r"best\.keras: refused: it holds a Lambda layer"):
        load_model(path)
    assert not marker.exists()


def test_a_keras_archive_naming_a_foreign_module_is_refused(tmp_path):
    """A config may name a module for Keras to import (and so run at import): only Keras,
    segmentation-models and this package are allowed."""
    import json
    import zipfile

    good = tmp_path / "good.keras"
    build_model("unet", filters=4).save(good)
    hostile = tmp_path / "best.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(hostile, "w") as dst:
        for member in src.namelist():
            data = src.read(member)
            if member == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1]["module"] = "antigravity"
                data = json.dumps(config).encode()
            dst.writestr(member, data)
    with pytest.raises(HeatsinkError, match=r"best\.keras: refused: it names the Python "
                                            r"module 'antigravity'"):
        load_model(hostile)


@pytest.mark.parametrize("content", [b"PK\x05\x06" + bytes(18), b"\x00" * 64, None])
def test_bytes_that_are_not_a_keras_zip_are_refused_by_name(content, tmp_path):
    path = tmp_path / "best.keras"
    if content is None:  # a SavedModel folder named as a model file
        tf.saved_model.save(tf.Module(), str(path))
        message = r"best\.keras: is a folder, not a model file; refused"
    else:
        path.write_bytes(content)
        message = r"best\.keras: not a Keras model in the zip \.keras format .*; refused"
    with pytest.raises(HeatsinkError, match=message):
        load_model(path)


def test_keras_archive_loads_every_weight_back(tmp_path: Path):
    """load_model reads a .keras archive's weights from an extracted file rather than from
    inside the zip (see bench/model_speed.py); every weight must come back, by name."""
    model = build_model("resnet50")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    assert [w.name for w in loaded.weights] == [w.name for w in model.weights]
    for a, b in zip(loaded.weights, model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_custom_layer_round_trip(tmp_path: Path):
    inputs = tf.keras.Input((None, None, 3))
    outputs = CaffePreprocessing(name="pre")(inputs)
    model = tf.keras.Model(inputs, outputs)
    path = tmp_path / "pre.keras"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded.get_layer("pre"), CaffePreprocessing)
    assert loaded.get_layer("pre").get_config()["scale"] == 255.0


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_loading_a_corrupt_file_names_it(suffix, tmp_path: Path):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"this is not a model")
    with pytest.raises(HeatsinkError, match=re.escape(f"broken{suffix}")):
        load_model(path)
    with pytest.raises(HeatsinkError, match=r"missing\.keras"):
        load_model(tmp_path / "missing.keras")


def test_gslu_batch_norm_tracks_fast_changing_weights():
    import tensorflow as tf

    from heatsink.models import build_model
    from heatsink.models.gslu import BN_MOMENTUM

    norms = [layer for layer in build_model("gslu").layers
             if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert norms and {layer.momentum for layer in norms} == {BN_MOMENTUM}
    assert BN_MOMENTUM <= 0.9
