"""Which dataset a run uses: argument, HEATSINK_DATA, or the cached default twin."""

import json

from heatsink import resolve
from heatsink.resolve import default_twin, resolve_data, twin_path


def test_explicit_path_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("HEATSINK_DATA", raising=False)
    assert resolve_data(tmp_path / "x") == (tmp_path / "x").resolve()
    monkeypatch.setenv("HEATSINK_DATA", str(tmp_path / "env"))
    assert resolve_data(None) == (tmp_path / "env").resolve()


def test_default_twin_is_cached_and_leaves_other_generators_twins(tmp_path, monkeypatch,
                                                                   capsys):
    """A twin of another generator may be read by a run of other code: it is named, never
    deleted (a training in another checkout lost its data that way)."""
    monkeypatch.setenv("HEATSINK_CACHE", str(tmp_path))
    monkeypatch.delenv("HEATSINK_DATA", raising=False)
    other = tmp_path / "twins" / "twin-n6-seed3-0000000000"
    (other / "images").mkdir(parents=True)
    (other / "twin.json").write_text("{}")
    (other / "images" / "0001.bmp").write_bytes(b"in use")
    path = resolve_data(None, n=6, seed=3, progress=False)
    assert path == twin_path(6, 3) and json.loads((path / "twin.json").read_text())["n"] == 6
    assert (other / "images" / "0001.bmp").read_bytes() == b"in use"
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and said[0].endswith(": twin-n6-seed3-0000000000")
    stamp = (path / "twin.json").stat().st_mtime_ns
    assert default_twin(6, 3, progress=False) == path  # reused, not generated again
    assert (path / "twin.json").stat().st_mtime_ns == stamp


def test_the_twin_key_follows_the_generator_not_the_measurements(tmp_path, monkeypatch):
    package = tmp_path / "heatsink"
    for name in ("synth/generate.py", "synth/appearance.py", *resolve.GENERATOR_HELPERS):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text("x = 1\n")
    monkeypatch.setattr("heatsink.provenance.PACKAGE_DIR", package)
    key = resolve.generator_hash()
    (package / "synth" / "appearance.py").write_text("x = 2\n")  # measures, makes nothing
    (package / "synth" / "contrast.py").write_text("x = 2\n")  # a measuring module, added
    assert resolve.generator_hash() == key
    for name in ("synth/generate.py", "components.py"):
        (package / name).write_text("x = 3\n")
        assert resolve.generator_hash() != key
        key = resolve.generator_hash()


def test_a_process_waits_for_another_generating_the_twin_and_reuses_it(tmp_path,
                                                                      monkeypatch):
    """Two processes on a machine without the twin: while one holds the generation lock the
    other waits, and then reads the twin it made instead of generating it again."""
    import os
    import subprocess
    import sys
    import time

    from heatsink.io import exclusive_folder
    from heatsink.synth import generate

    monkeypatch.setenv("HEATSINK_CACHE", str(tmp_path))
    monkeypatch.delenv("HEATSINK_DATA", raising=False)
    path = twin_path(4, 3)
    code = ("from heatsink.resolve import default_twin; "
            "print(default_twin(4, 3, progress=False))")
    with exclusive_folder(path.parent, "generating the twin", wait=True):
        other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                 text=True, env={**os.environ})
        time.sleep(3)
        assert other.poll() is None and not path.exists()  # waiting, nothing written
        generate(path, n=4, seed=3, progress=False)  # this process generates it meanwhile
        stamp = (path / "twin.json").stat().st_mtime_ns
    out, _ = other.communicate(timeout=120)
    assert other.returncode == 0 and out.strip() == str(path)
    assert (path / "twin.json").stat().st_mtime_ns == stamp  # read, not made again
