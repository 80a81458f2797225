"""Which dataset a run uses: argument, HEATSINK_DATA, or the cached default twin."""

import json

from heatsink.resolve import default_twin, resolve_data, twin_path


def test_explicit_path_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("HEATSINK_DATA", raising=False)
    assert resolve_data(tmp_path / "x") == (tmp_path / "x").resolve()
    monkeypatch.setenv("HEATSINK_DATA", str(tmp_path / "env"))
    assert resolve_data(None) == (tmp_path / "env").resolve()


def test_default_twin_is_cached_and_replaces_stale_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("HEATSINK_CACHE", str(tmp_path))
    monkeypatch.delenv("HEATSINK_DATA", raising=False)
    stale = tmp_path / "twins" / "twin-n6-seed3-0000000000"
    stale.mkdir(parents=True)
    (stale / "twin.json").write_text("{}")
    path = resolve_data(None, n=6, seed=3, progress=False)
    assert path == twin_path(6, 3) and json.loads((path / "twin.json").read_text())["n"] == 6
    assert not stale.exists()
    stamp = (path / "twin.json").stat().st_mtime_ns
    assert default_twin(6, 3, progress=False) == path  # reused, not generated again
    assert (path / "twin.json").stat().st_mtime_ns == stamp
