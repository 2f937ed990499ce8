"""The Teams app package: the manifest on the current schema, the two icons, the zip command."""

from __future__ import annotations

import json
import struct
import zipfile

import pytest

from adapters.teams.bot import starter_text
from adapters.teams.package import APP_DIR, build_package, color_icon, main, outline_icon
from bot.commands import parse_command

APP_ID = "11111111-2222-3333-4444-555555555555"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_manifest_is_on_the_current_schema_with_the_bot_in_all_scopes():
    manifest = json.loads((APP_DIR / "manifest.json").read_text())
    assert manifest["manifestVersion"] == "1.22" and "/v1.22/" in manifest["$schema"]
    for key in ("id", "version", "developer", "name", "description", "icons", "accentColor", "bots"):
        assert key in manifest
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80
    assert len(manifest["description"]["full"]) <= 4000
    (bot,) = manifest["bots"]
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    (commands,) = bot["commandLists"]
    titles = [c["title"] for c in commands["commands"]]
    assert titles == [
        "Customer is upset",
        "Something nobody has seen",
        "Checklist for my department",
        "This week's tip",
        "help",
        "checklist",
        "tip",
    ]
    for command in commands["commands"]:
        assert len(command["title"]) <= 32 and len(command["description"]) <= 128
        words = starter_text(command["title"])
        if words in ("help", "checklist", "tip"):
            assert parse_command(words).name == words  # the core knows each command
        else:
            assert parse_command(words) is None  # a situation, read as one


def test_icons_have_the_sizes_teams_asks_for():
    assert png_size((APP_DIR / "color.png").read_bytes()) == (192, 192)
    assert png_size((APP_DIR / "outline.png").read_bytes()) == (32, 32)
    assert (APP_DIR / "color.png").read_bytes() == color_icon()  # committed icons are the drawn ones
    assert (APP_DIR / "outline.png").read_bytes() == outline_icon()


def test_package_zips_manifest_with_the_app_id_and_icons(tmp_path):
    out = build_package(APP_ID, tmp_path / "app.zip")
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID


@pytest.mark.parametrize("app_id", ["", "not-a-guid", "00000000-0000-0000-0000-000000000000"])
def test_package_needs_a_real_app_id(tmp_path, app_id):
    with pytest.raises(ValueError):
        build_package(app_id, tmp_path / "app.zip")


def test_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MicrosoftAppId", raising=False)
    assert main(["--out", str(tmp_path / "x.zip")]) == 2
    assert main(["--app-id", APP_ID, "--out", str(tmp_path / "x.zip")]) == 0
    assert (tmp_path / "x.zip").exists()
