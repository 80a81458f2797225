"""Atomic writes, run records, the hardware line."""

import json
from pathlib import Path

import pytest

from heatsink import hardware, provenance
from heatsink.io import atomic_path, link_atomic, write_text_atomic


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "report.csv"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind
    write_text_atomic(target, "new")
    assert target.read_text() == "new"


@pytest.mark.parametrize("links", [True, False])
def test_a_linked_file_keeps_its_bytes_when_the_source_is_replaced(tmp_path, monkeypatch,
                                                                    links):
    import os

    def cross_device(*args):
        raise OSError(18, "Invalid cross-device link")

    if not links:  # another file system: copied instead
        monkeypatch.setattr(os, "link", cross_device)
    last, best = tmp_path / "last.keras", tmp_path / "best.keras"
    write_text_atomic(last, "epoch 3")
    write_text_atomic(best, "epoch 1")
    link_atomic(last, best)
    assert best.read_text() == "epoch 3" and best.samefile(last) == links
    write_text_atomic(last, "epoch 4")
    assert best.read_text() == "epoch 3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras", "last.keras"]


def test_run_record_is_json_and_complete():
    import os
    import re
    import subprocess

    record = json.loads(json.dumps(provenance.run_record(
        {"epochs": 1}, "synthetic twin", "ab" * 32, "/tmp/x")))  # JSON round trip
    assert record["parameters"] == {"epochs": 1}
    assert record["dataset"]["name"] == "synthetic twin"
    assert record["dataset"]["checksum"] == "ab" * 32
    assert re.fullmatch(r"[0-9a-f]{64}", record["code_sha256"])
    assert record["code_sha256"] == provenance.code_hash()
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=Path(provenance.__file__).parent).stdout.strip()
    assert record["git_sha"].removesuffix("-dirty") == head  # this clone's commit
    for package in ("numpy", "tensorflow", "scikit-learn"):
        assert re.match(r"\d+\.\d+", record["packages"][package]), package
    assert record["hardware"]["cores"] == os.cpu_count()


def test_code_hash_follows_the_code_not_the_clock(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    before = provenance.code_hash(tmp_path)
    (tmp_path / "a.py").touch()
    (tmp_path / "notes.txt").write_text("not code")
    assert provenance.code_hash(tmp_path) == before
    (tmp_path / "a.py").write_text("x = 2\n")
    assert provenance.code_hash(tmp_path) != before


def test_bf16_detection_reads_the_flags(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert hardware.has_bf16()
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2"})
    assert not hardware.has_bf16()
    assert "no bf16" in hardware.summary_line()


def test_a_recorded_machine_reads_as_one_short_line():
    recorded = {"cpu": "AMD EPYC 9B14", "cores": 2, "memory_gib": 23.4, "bf16": ["avx512_bf16"]}
    assert hardware.short_line(recorded) == "AMD EPYC 9B14, 2 cores, avx512_bf16"
    assert hardware.short_line({**recorded, "bf16": []}) == "AMD EPYC 9B14, 2 cores, no bf16"
    assert hardware.short_line({}) == ""  # a record older than the hardware field


def test_git_sha_ignores_the_outputs_it_is_told_of_but_not_code(tmp_path, monkeypatch):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.ipynb").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    clean = provenance.git_sha(tmp_path)
    assert len(clean) == 40
    (tmp_path / "notebooks" / "01_a.ipynb").write_text('{"executed": true}')
    assert provenance.git_sha(tmp_path) == clean + "-dirty"  # nothing excluded
    assert provenance.git_sha(tmp_path, exclude=["notebooks/*.ipynb"]) == clean
    monkeypatch.setenv(provenance.GIT_EXCLUDE_VARIABLE, "results:notebooks/*.ipynb")
    assert provenance.git_sha(tmp_path) == clean  # a running study says what it writes
    (tmp_path / "code.py").write_text("x = 2\n")
    assert provenance.git_sha(tmp_path) == clean + "-dirty"
    assert provenance.git_sha(tmp_path / "nowhere") == "unknown"


def test_atomic_write_gives_the_usual_permissions(tmp_path):
    import os
    import stat

    target = tmp_path / "new.csv"
    write_text_atomic(target, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    target.chmod(0o640)
    write_text_atomic(target, "y")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
