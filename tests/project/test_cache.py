"""The cache of validated projects: used only while the file, the code and the paths it
names are the same, and never when its entry was changed; errors still come from the file."""

from __future__ import annotations

import logging
import os
import sys
import textwrap
from pathlib import Path

import pytest

from hmi.project import ProjectError, load_project, loader, parse_project
from hmi.project import cache as kept

EXAMPLES = Path(__file__).parents[2] / "examples"

PLANT = """\
name: Cached plant
devices:
  - {name: plc1, host: 127.0.0.1, port: 5020}
tags:
  - name: area1/t101/level
    type: float32
    unit: m
    device: plc1
    address: ir:0
    limits: {low: 0, high: 5}
    alarms: {hi: 4.5, message: high level}
  - {name: area1/p101/run, type: bool, device: plc1, address: co:3, write_roles: [operator]}
  - {name: area1/t101/volume, expression: "{area1/t101/level} * 2"}
screens:
  - {name: main, file: screens/main.ui, macros: {AREA: area1}}
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("HMI_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def plant(tmp_path: Path) -> Path:
    (tmp_path / "plant" / "screens").mkdir(parents=True)
    (tmp_path / "plant" / "screens" / "main.ui").write_text("<ui/>")
    path = tmp_path / "plant" / "plant.yaml"
    path.write_text(PLANT)
    return path


def from_cache_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any reading of the file from here on fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was read again")

    monkeypatch.setattr(loader, "parse_project", refuse)


def entries(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "projects").glob("*.msgpack"))


def test_a_project_validated_once_comes_from_the_cache_the_same(cache_dir, plant, monkeypatch):
    first = load_project(plant, cache=True)
    assert first == load_project(plant)
    assert len(entries(cache_dir)) == 1
    from_cache_only(monkeypatch)
    again = load_project(plant, cache=True)
    assert again == first
    assert again.tags["area1/t101/level"].alarms.hi == 4.5
    assert again.screens["main"].macros["AREA"] == "area1"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_comes_back_equal(cache_dir, example, monkeypatch):
    try:
        read = load_project(example, cache=True)
    except ProjectError:
        pytest.skip("not a project file (a launch file)")
    if not entries(cache_dir):
        pytest.skip("not kept (a plug-in protocol)")
    from_cache_only(monkeypatch)
    assert load_project(example, cache=True) == read


def test_without_cache_nothing_is_kept(cache_dir, plant):
    load_project(plant)
    assert not cache_dir.exists()


def test_an_empty_cache_dir_setting_turns_the_cache_off(tmp_path, plant, monkeypatch):
    monkeypatch.setenv("HMI_CACHE_DIR", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    load_project(plant, cache=True)
    assert not (tmp_path / "home").exists() and not (tmp_path / "xdg").exists()


def test_a_changed_file_is_read_again(cache_dir, plant):
    load_project(plant, cache=True)
    plant.write_text(PLANT.replace("unit: m", "unit: cm"))
    assert load_project(plant, cache=True).tags["area1/t101/level"].unit == "cm"


def test_errors_of_a_file_broken_after_it_was_kept_name_file_and_line(cache_dir, plant):
    load_project(plant, cache=True)
    plant.write_text(PLANT.replace("address: ir:0", "address: xx:0"))
    with pytest.raises(ProjectError) as info:
        load_project(plant, cache=True)
    assert str(info.value.errors[0]) == (
        f"{plant}:9: tags[0].address: unknown table 'xx' in 'xx:0': expected hr, ir, co or di"
    )


def test_a_screen_removed_after_the_project_was_kept_is_an_error(cache_dir, plant):
    load_project(plant, cache=True)
    (plant.parent / "screens" / "main.ui").unlink()
    with pytest.raises(ProjectError) as info:
        load_project(plant, cache=True)
    assert "screens[0].file: no such file" in str(info.value)


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_a_repointed_link_is_followed_again(cache_dir, tmp_path):
    for version in ("v1", "v2"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "main.ui").write_text("<ui/>")
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "screens").symlink_to(tmp_path / "v1")
    path = folder / "plant.yaml"
    path.write_text(PLANT)
    assert load_project(path, cache=True).screens["main"].file == tmp_path / "v1" / "main.ui"
    (folder / "screens").unlink()
    (folder / "screens").symlink_to(tmp_path / "v2")
    assert load_project(path, cache=True).screens["main"].file == tmp_path / "v2" / "main.ui"


def test_an_edited_entry_is_refused_and_the_file_read(cache_dir, plant, caplog):
    load_project(plant, cache=True)
    (entry,) = entries(cache_dir)
    data = entry.read_bytes()
    assert data.count(b"high level") == 1
    entry.write_bytes(data.replace(b"high level", b"all fine!!"))  # the same length
    with caplog.at_level(logging.WARNING, logger="hmi.project.cache"):
        project = load_project(plant, cache=True)
    assert project.tags["area1/t101/level"].alarms.message == "high level"
    assert "signature does not match" in caplog.text


def test_an_entry_signed_with_another_key_is_refused(cache_dir, plant):
    load_project(plant, cache=True)
    (cache_dir / "key").write_bytes(b"k" * 32)
    (entry,) = entries(cache_dir)
    before = entry.read_bytes()
    assert load_project(plant, cache=True) == parse_project(PLANT, plant)
    assert entry.read_bytes() != before  # read again, and kept under the new key


def test_an_entry_of_other_code_is_not_used(cache_dir, plant, monkeypatch):
    load_project(plant, cache=True)
    monkeypatch.setattr(kept, "_code", lambda: "another version")
    calls = []
    real = loader.parse_project
    monkeypatch.setattr(loader, "parse_project", lambda *a: calls.append(a) or real(*a))
    load_project(plant, cache=True)
    assert calls


def test_a_relative_path_from_another_folder_is_another_entry(cache_dir, plant, monkeypatch):
    monkeypatch.chdir(plant.parent)
    load_project(Path("plant.yaml"), cache=True)
    monkeypatch.chdir(plant.parent / "screens")
    load_project(Path("../plant.yaml"), cache=True)
    load_project(plant, cache=True)
    assert len(entries(cache_dir)) == 3


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_a_key_others_may_read_is_not_trusted(cache_dir, plant, monkeypatch):
    load_project(plant, cache=True)
    (cache_dir / "key").chmod(0o644)
    from_cache_only(monkeypatch)
    with pytest.raises(AssertionError, match="read again"):
        load_project(plant, cache=True)


def test_a_key_whose_write_died_is_made_again(cache_dir, plant, monkeypatch):
    load_project(plant, cache=True)
    (cache_dir / "key").write_bytes(b"")
    load_project(plant, cache=True)  # read again, a new key made, and the project kept
    assert len((cache_dir / "key").read_bytes()) == 32
    from_cache_only(monkeypatch)
    assert load_project(plant, cache=True).name == "Cached plant"


def test_an_unwritable_cache_is_passed_over(tmp_path, plant, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("HMI_CACHE_DIR", str(blocker / "cache"))
    assert load_project(plant, cache=True).name == "Cached plant"


def test_old_entries_are_pruned(cache_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(kept, "MOST_KEPT", 2)
    (cache_dir / "projects").mkdir(parents=True)
    older_layout = cache_dir / "projects" / "0123.json"
    older_layout.write_text("{}")
    os.utime(older_layout, (1, 1))
    writing = cache_dir / "projects" / ".0123.part"  # another process, writing now
    writing.write_text("")
    for n in range(4):
        path = tmp_path / f"p{n}.yaml"
        path.write_text(textwrap.dedent("name: p\n"))
        load_project(path, cache=True)
    assert len(entries(cache_dir)) == 2
    assert not older_layout.exists() and writing.exists()
