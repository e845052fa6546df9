"""Images: validation, privacy (EXIF/GPS stripped, orientation applied), per-platform fitting, the CLI's bad input
(exit 2, nothing stored), the media.alt finding, and the payload/tone key covering the references."""

from __future__ import annotations

import gc
import io
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from publisher import service
from publisher.channels import media
from publisher.errors import InputError, ToneBlocked
from publisher.schema import audit_events, deliveries, posts
from publisher.schema import media as media_table
from publisher.store import Store
from tests.conftest import Env
from tests.media.conftest import Site, make_image

GPS = 0x8825
ORIENTATION = 0x0112


def _cli(env: Env, *args: str) -> tuple[int, str]:
    """Run the CLI in-process (the real entry point and error mapping; a subprocess costs seconds per call here)."""
    from click.testing import CliRunner

    from publisher.cli import main

    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PUBLISHER_")}
    overrides.update({k: v for k, v in env.env.items() if k.startswith("PUBLISHER_")})
    with CliRunner().isolation(env=overrides) as (_out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    gc.collect()  # close the engines of the stores the command opened
    return code, err.getvalue().decode("utf-8", "replace")


def _counts(store: Store) -> tuple[int, ...]:
    with store.read() as conn:
        return tuple(int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                     for t in (posts, deliveries, media_table, audit_events))


def test_exif_gps_stripped_and_orientation_applied(tmp_path: Path) -> None:
    from PIL import Image

    path = make_image(tmp_path / "phone.jpg", (400, 300), exif={ORIENTATION: 6, GPS: {1: "N", 2: (59.0, 54.0, 0.0)}})
    with Image.open(path) as raw:
        assert raw.getexif().get(ORIENTATION) == 6  # the file really carries orientation and GPS
    image = media.load(path)
    assert (image.width, image.height) == (300, 400)  # rotated as the camera meant
    with Image.open(io.BytesIO(image.data)) as clean:
        assert dict(clean.getexif()) == {} and "exif" not in clean.info and "xmp" not in clean.info
    assert b"Exif" not in image.data[:4096]


def test_fit_scales_down_keeps_aspect_and_meets_byte_cap(tmp_path: Path) -> None:
    image = media.load(make_image(tmp_path / "big.jpg", (2400, 600), noise=True))
    assert image.size > 1_000_000
    bsky = media.fit(image, "bluesky")
    assert bsky.size <= 1_000_000 and bsky.width <= 2000 and bsky.height <= 2000
    assert abs(bsky.width / bsky.height - 4.0) < 0.01
    assert media.fit(image, "mastodon") is image  # within every Mastodon limit: unchanged, same sha256


def test_fit_never_upscales_and_converts_unaccepted_format(tmp_path: Path) -> None:
    small = media.load(make_image(tmp_path / "s.webp", (40, 20), "WEBP"))
    fb = media.fit(small, "facebook")
    assert (fb.width, fb.height, fb.mime) == (40, 20, "image/jpeg")
    alpha = media.load(make_image(tmp_path / "a.webp", (40, 20), "WEBP", mode="RGBA"))
    assert media.fit(alpha, "linkedin").mime == "image/png"  # transparency kept: PNG, not JPEG


def test_pixel_cap_is_applied(tmp_path: Path) -> None:
    lim = media.Limits(frozenset(media.MIME), 10**9, 4, 100, max_pixels=10_000)
    out = media.fit_to(media.load(make_image(tmp_path / "p.png", (400, 100), "PNG")), lim)
    assert out.width * out.height <= 10_000 and out.width == 4 * out.height


@pytest.mark.parametrize("content", [b"not an image", b"%PDF-1.4\n", b""])
def test_non_images_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(InputError):
        media.load(path)


def test_bmp_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="JPEG, PNG, GIF or WebP"):
        media.load(make_image(tmp_path / "x.bmp", (10, 10), "BMP"))


def test_cli_bad_input_exit_2_and_nothing_stored(env: Env, tmp_path: Path) -> None:
    good = make_image(tmp_path / "ok.png", (50, 50), "PNG")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    store = env.store()
    before = _counts(store)
    cases = [
        ["--image", str(tmp_path / "missing.png")],
        ["--image", str(text)],
        *[["--image", str(good)] * 5],  # five images; dry-run takes four
        ["--image", str(good), "--alt", "x" * 1501],  # over the alt text cap
        ["--image", str(good), "--alt", "one", "--alt", "two"],  # more --alt than --image
    ]
    for args in cases:
        code, err = _cli(env, "post", "-a", "andrew", *args, "Image post")
        assert code == 2, (args, err)
        assert "Traceback" not in err and err.startswith("error:"), err
    assert _counts(store) == before
    store.dispose()


def test_cli_image_post_stores_media_once_and_audits_it(env: Env, tmp_path: Path) -> None:
    good = make_image(tmp_path / "ok.png", (60, 40), "PNG")
    for text in ("First picture post", "Second picture post"):
        code, err = _cli(env, "post", "-a", "andrew", "--image", str(good), "--alt", "Red", text, "--json")
        assert code == 0, err
    store = env.store()
    with store.read() as conn:
        rows = conn.execute(select(media_table)).mappings().all()
        payloads = [d.payload for d in conn.execute(select(deliveries.c.payload))]
        accepted = [json.loads(e.details) for e in conn.execute(
            select(audit_events.c.details).where(audit_events.c.action == "post.accepted"))]
    assert len(rows) == 1 and (rows[0]["width"], rows[0]["height"], rows[0]["mime"]) == (60, 40, "image/png")
    assert [p["extra"]["media"][0]["alt"] for p in payloads] == ["Red", "Red"]
    assert all(p["extra"]["media"][0]["sha256"] == rows[0]["sha256"] for p in payloads)
    assert [a.get("media") for a in accepted] == [[rows[0]["sha256"]]] * 2
    assert [a.get("media_stored") for a in accepted] == [[rows[0]["sha256"]], []]
    store.dispose()


def test_alt_finding_blocks_organisation_warns_personal(env: Env, tmp_path: Path) -> None:
    path = make_image(tmp_path / "ok.png", (50, 50), "PNG")
    code, err = _cli(env, "post", "-a", "noc", "--image", str(path), "Planned maintenance tonight")
    assert code == 3 and "block media.alt" in err, err
    code, err = _cli(env, "post", "-a", "andrew", "--image", str(path), "Planned maintenance tonight")
    assert code == 0 and "warn  media.alt" in err, err
    code, err = _cli(env, "post", "-a", "noc", "--image", str(path), "--alt", "Network map", "Planned maintenance")
    assert code == 0, err


def test_alt_finding_in_service_and_tone_key_covers_alt(site: Site, tmp_path: Path) -> None:
    image = media.load(make_image(tmp_path / "k.png", (30, 30), "PNG"))
    with pytest.raises(ToneBlocked) as caught:
        site.accept("Planned maintenance", ["m-masto"], [media.Attachment(image, "")])
    assert [f.rule for f in caught.value.findings if f.severity == "block"] == ["media.alt"]
    a = site.accept("Planned maintenance A", ["m-masto"], [media.Attachment(image, "Alt one")])
    b = site.accept("Planned maintenance A", ["m-masto"], [media.Attachment(image, "Alt two")])
    assert a.deliveries[0]["tone_key"] != b.deliveries[0]["tone_key"]
    assert service.payload_hash(a.deliveries[0]["payload"]) != service.payload_hash(b.deliveries[0]["payload"])
