"""The ``heatsink`` command line: exit codes and messages, on real files."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from heatsink.cli import main


def test_data_check_ok(make_dataset, capsys):
    root = make_dataset(n=3, size=32)
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "images: 3" in out and "checksum:" in out and "OK: no problems found" in out
    assert "pixels: background" in out and "images with:" in out


def test_data_check_lists_every_problem_and_exits_1(make_dataset, capsys):
    root = make_dataset(n=4, size=32)
    (root / "images" / "0001.bmp").write_bytes(b"BM" + b"\0" * 10)  # truncated
    (root / "labels" / "0002.png").unlink()  # unpaired
    assert main(["data", "check", str(root)]) == 1
    out = capsys.readouterr().out
    assert "2 problems" in out
    assert "0001.bmp: is truncated" in out
    assert "0002.bmp: has no label" in out


def test_data_check_on_a_missing_folder(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().out


def test_data_split_writes_the_manifest(make_dataset, tmp_path, capsys):
    root = make_dataset(n=20, size=16)
    out = tmp_path / "split.csv"
    assert main(["data", "split", str(root), "--seed", "3", "--out", str(out)]) == 0
    split = pd.read_csv(out, dtype={"image_id": str})
    assert split["split"].value_counts().to_dict() == {"train": 14, "val": 3, "test": 3}
    assert set(split.columns) >= {"image_id", "split", "image_sha256", "label_sha256"}


def test_data_split_of_a_bad_dataset_is_a_one_line_error(tmp_path, capsys):
    assert main(["data", "split", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("heatsink: error: ") and "Traceback" not in err


def test_data_synth_then_check(tmp_path, capsys):
    out = tmp_path / "twin"
    assert main(["data", "synth", str(out), "-n", "6", "--seed", "2", "-q"]) == 0
    assert main(["data", "check", str(out)]) == 0
    assert "synthetic twin" in capsys.readouterr().out
    assert main(["data", "synth", str(out), "-n", "6", "-q"]) == 2  # refuses to overwrite
    assert "heatsink: error:" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["loud", "1.5"])
def test_data_synth_rejects_a_bad_noise_level(tmp_path, bad, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "synth", str(tmp_path / "t"), "--noise", bad])
    assert exit_info.value.code == 2
    assert "--noise" in capsys.readouterr().err


def test_download_without_network_is_a_clear_error(monkeypatch, capsys):
    import kagglehub

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(kagglehub, "dataset_download", offline)
    monkeypatch.setenv("KAGGLEHUB_CACHE", "/nonexistent-cache-for-test")
    assert main(["data", "download"]) == 2
    err = capsys.readouterr().err
    assert "heatsink: error:" in err and "by hand" in err


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "heatsink"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "data" in result.stdout and "study" in result.stdout


def test_sigterm_discards_a_file_being_written_and_keeps_the_old_one(tmp_path):
    import textwrap

    target = tmp_path / "report.csv"
    target.write_text("old\n")
    script = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from heatsink.cli import Terminated, sigterm_raises
        from heatsink.io import atomic_path
        try:
            with sigterm_raises(), atomic_path(Path(sys.argv[1])) as tmp:
                tmp.write_text("partial")
                print("writing", flush=True)
                time.sleep(60)
        except Terminated:
            sys.exit(143)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script, str(target)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.terminate()  # SIGTERM, as a scheduler or the end of a session sends
    assert proc.wait(timeout=60) == 143
    assert target.read_text() == "old\n"  # what was written before is kept
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]  # no temporary file left


def test_synth_overwrite_never_deletes_a_folder_that_is_not_a_twin(tmp_path, capsys):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("years of work")
    code = main(["data", "synth", str(mine), "-n", "2", "--overwrite", "-q", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "is not a twin this package generated" in err
    assert (mine / "chapter1.tex").read_text() == "years of work"
    assert [p.name for p in tmp_path.iterdir()] == ["thesis"]


def test_help_states_the_exit_codes(capsys):
    from heatsink.cli import EXIT_CODES

    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Exit codes: 0 success" in out and "never a crash with code 1" in out
    assert set(EXIT_CODES) == {0, 1, 2, 130, 143}
    with pytest.raises(SystemExit):
        main(["inspect", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Exit code: 0 every image PASS; 1 some FAIL (and no error); 2 some inputs" in out


def test_an_unexpected_error_is_one_line_exit_2_and_debug_shows_the_traceback(tmp_path,
                                                                             capsys):
    """A split written over a folder: an OSError nobody planned for, not a traceback."""
    from conftest import write_dataset

    root = write_dataset(tmp_path / "data", n=20, size=16)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert main(["data", "split", str(root), "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("heatsink: error: ")
    assert "Traceback" not in err and "a-folder" in err
    assert main(["--debug", "data", "split", str(root), "--out", str(folder)]) == 2
    assert "Traceback" in capsys.readouterr().err
