"""Downloading through kagglehub, mocked at its boundary (``kagglehub.dataset_download``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import kagglehub
import pytest
import requests

from heatsink.data import download, load_dataset
from heatsink.data.download import KAGGLE_HANDLE
from heatsink.errors import DatasetError, HeatsinkError


@pytest.fixture
def fake_kaggle(monkeypatch, tmp_path):
    """kagglehub.dataset_download writing a small dataset into a nested cache folder."""
    from conftest import write_dataset

    calls = []

    def dataset_download(handle, path=None, *, force_download=False, output_dir=None):
        calls.append((handle, force_download, os.environ.get("KAGGLEHUB_CACHE")))
        cache = os.environ.get("KAGGLEHUB_CACHE", str(tmp_path / "default-cache"))
        version = os.path.join(cache, "datasets", handle, "versions", "1")
        write_dataset(Path(version) / "heat sink surface defect dataset" / "data", 3, 16)
        return version

    monkeypatch.setattr(kagglehub, "dataset_download", dataset_download)
    return calls


def test_download_finds_nested_folder(fake_kaggle, tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLEHUB_CACHE", raising=False)
    root = download(cache_dir=tmp_path / "kh")
    assert root.name == "data" and (root / "images").is_dir()
    assert str(root).startswith(str(tmp_path / "kh"))
    assert len(load_dataset(root)) == 3
    handle, force, cache = fake_kaggle[0]
    assert handle == KAGGLE_HANDLE and force is False and cache == str(tmp_path / "kh")
    assert "KAGGLEHUB_CACHE" not in os.environ  # restored after the call
    download(cache_dir=tmp_path / "kh", force=True)
    assert fake_kaggle[1][1] is True


def test_download_without_network_fails_fast_with_instructions(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve 'api.kaggle.com'")

    monkeypatch.setattr(kagglehub, "dataset_download", offline)
    start = time.monotonic()
    with pytest.raises(HeatsinkError) as info:
        download(cache_dir=tmp_path / "empty-cache")
    assert time.monotonic() - start < 5
    message = str(info.value)
    for words in ("ConnectionError", "kaggle.com/datasets/" + KAGGLE_HANDLE, "unzip", "DATA="):
        assert words in message
    assert "HEATSINK_DATA" in message and "--data" in message


def test_offline_falls_back_to_a_cached_copy(fake_kaggle, monkeypatch, tmp_path):
    cached = download(cache_dir=tmp_path / "kh")

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("offline")

    monkeypatch.setattr(kagglehub, "dataset_download", offline)
    assert download(cache_dir=tmp_path / "kh") == cached
    with pytest.raises(HeatsinkError, match="offline"):
        download(cache_dir=tmp_path / "kh", force=True)


def test_download_that_is_not_the_dataset(monkeypatch, tmp_path):
    (tmp_path / "odd" / "stuff").mkdir(parents=True)
    monkeypatch.setattr(kagglehub, "dataset_download", lambda *a, **k: str(tmp_path / "odd"))
    with pytest.raises(DatasetError, match="no single folder with images/ and labels/"):
        download(cache_dir=tmp_path / "kh")
