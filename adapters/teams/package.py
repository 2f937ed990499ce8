"""Builds the Teams app package: teams-app/manifest.json with the bot's app id, plus the two icons, zipped.

    python -m adapters.teams.package [--app-id GUID] [--out dist/frontline-coach-teams.zip]
    python -m adapters.teams.package --icons      # redraw teams-app/color.png and outline.png

The app id comes from --app-id or MicrosoftAppId. The icons are drawn here with a tiny PNG writer
(no imaging library): color.png 192x192, outline.png 32x32 white on transparent, as Teams asks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[2] / "teams-app"
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ACCENT = (0x1F, 0x6F, 0xB2)  # the manifest's accentColor, #1F6FB2
Pixel = tuple[int, int, int, int]


def png(width: int, height: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    """An RGBA PNG whose pixel (x, y) is ``pixel(x, y)``."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel(x, y))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def in_bubble(u: float, v: float) -> bool:
    """A speech bubble with two text lines cut out, in unit coordinates (0..1 across the icon)."""
    left, top, right, bottom, radius = 0.18, 0.22, 0.82, 0.66, 0.10
    cx = min(max(u, left + radius), right - radius)
    cy = min(max(v, top + radius), bottom - radius)
    body = (u - cx) ** 2 + (v - cy) ** 2 <= radius**2
    tail = bottom <= v <= 0.82 and 0.30 <= u <= 0.30 + (0.82 - v) * 1.1
    lines = any(abs(v - line) <= 0.035 and 0.30 <= u <= end for line, end in ((0.38, 0.70), (0.50, 0.60)))
    return (body or tail) and not lines


def color_icon(size: int = 192) -> bytes:
    def pixel(x: int, y: int) -> Pixel:
        return (255, 255, 255, 255) if in_bubble((x + 0.5) / size, (y + 0.5) / size) else (*ACCENT, 255)

    return png(size, size, pixel)


def outline_icon(size: int = 32) -> bytes:
    def pixel(x: int, y: int) -> Pixel:
        # 4x4 supersampling for smooth edges; Teams wants white with transparency only.
        hits = sum(
            in_bubble((x + (i + 0.5) / 4) / size, (y + (j + 0.5) / 4) / size) for i in range(4) for j in range(4)
        )
        return (255, 255, 255, round(255 * hits / 16))

    return png(size, size, pixel)


def write_icons(folder: Path = APP_DIR) -> None:
    (folder / "color.png").write_bytes(color_icon())
    (folder / "outline.png").write_bytes(outline_icon())


def build_package(app_id: str, out: Path, folder: Path = APP_DIR) -> Path:
    """Zip manifest.json (with ``app_id`` as the app and bot id) and the icons, flat, as Teams expects."""
    if not GUID.match(app_id) or app_id == PLACEHOLDER_ID:
        raise ValueError(f"app id {app_id!r} is not the bot's Azure app id (a GUID)")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = app_id
    for bot in manifest.get("bots", []):
        bot["botId"] = app_id
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for icon in (manifest["icons"]["color"], manifest["icons"]["outline"]):
            package.write(folder / icon, icon)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Frontline Coach Teams app package.")
    parser.add_argument(
        "--app-id",
        default=os.environ.get("MicrosoftAppId", ""),
        help="the bot's Azure app id (default: MicrosoftAppId)",
    )
    parser.add_argument("--out", type=Path, default=APP_DIR.parent / "dist" / "frontline-coach-teams.zip")
    parser.add_argument("--icons", action="store_true", help="redraw the two icons and exit")
    args = parser.parse_args(argv)
    if args.icons:
        write_icons()
        print(f"wrote {APP_DIR / 'color.png'} and {APP_DIR / 'outline.png'}")
        return 0
    try:
        out = build_package(args.app_id, args.out)
    except ValueError as error:
        print(f"error: {error}; pass --app-id or set MicrosoftAppId", file=sys.stderr)
        return 2
    print(f"wrote {out}: upload it in Teams under Apps > Manage your apps > Upload an app")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
