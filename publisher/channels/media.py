"""Images: load and validate a file, fit it to each platform's limits, keep it in the store by its sha256.

* ``load(path)``: JPEG, PNG, GIF or WebP only (anything else: InputError, exit 2); EXIF orientation applied, then
  every metadata block (EXIF with GPS, XMP, comments) dropped by re-encoding: a phone photo must not publish where
  it was taken. The result is the "original" every platform's copy is made from.
* ``fit(image, channel)``: the copy one platform accepts (``LIMITS``, declared as data): converted when the format is
  not accepted, scaled down (never up, aspect ratio kept) past a dimension or pixel cap, re-encoded smaller past a
  byte cap. An image within every limit is returned unchanged (same bytes, same sha256).
* ``save(conn, images)`` / ``load_stored(conn, sha256)``: the ``media`` table (content-addressed; a second post
  with the same image stores nothing new), so a worker on another machine reads the bytes from the store.

A delivery's payload refers to its images as ``extra["media"] = [{sha256, mime, width, height, size, alt}]``: the
payload hash and the tone key cover the references and the alt text.

Pillow is imported inside the functions: accepting a post without images never loads it.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from publisher.errors import InputError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage
    from sqlalchemy import Connection

#: Pillow format name -> MIME type of the formats publisher accepts at all
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
#: a file bigger than this is refused before decoding (the largest platform cap is 16 MB)
MAX_INPUT_BYTES = 50 * 1024 * 1024
#: decompression-bomb guard: more pixels than this is refused (Pillow's own guard is 2x its default)
MAX_INPUT_PIXELS = 100_000_000


@dataclass(frozen=True)
class Limits:
    """What one platform accepts for an image. Sources in the comments of ``LIMITS``; [U] = not confirmed."""

    formats: frozenset[str]
    max_bytes: int
    max_images: int
    max_alt: int
    max_width: int | None = None
    max_height: int | None = None
    max_pixels: int | None = None


LIMITS: dict[str, Limits] = {
    # X: JPEG/PNG/GIF/WebP, 5 MB per image, 4 per post, alt text 1,000 characters (docs.x.com media best practices;
    # upload.twitter.com answers "image" {w, h} as in cassettes/tweepy/testmediauploadpng.yaml); 8192 px sides [U]
    "x": Limits(frozenset(MIME), 5 * 1024 * 1024, 4, 1000, 8192, 8192),
    # Mastodon 4.x defaults: image_size_limit 16 MB, image_matrix_limit 33,177,600 px (7680x4320), 4 attachments,
    # description 1,500 characters (GET /api/v2/instance configuration.media_attachments, statuses.max_media_attachments)
    "mastodon": Limits(frozenset(MIME), 16 * 1024 * 1024, 4, 1500, max_pixels=33_177_600),
    # Bluesky: app.bsky.embed.images image blob maxSize 1,000,000 bytes, maxLength 4 images (lexicon); alt: the
    # lexicon sets no cap, the official app stops at 2,000 graphemes [U]; 2000 px sides as the app uploads [U]
    "bluesky": Limits(frozenset(MIME), 1_000_000, 4, 2000, 2000, 2000),
    # Facebook Page photos: JPEG, PNG, GIF (no WebP: converted), 4 MB; attached_media up to 10 [U];
    # alt_text_custom has no documented cap, 1,000 assumed [U]
    "facebook": Limits(frozenset({"JPEG", "PNG", "GIF"}), 4 * 1024 * 1024, 10, 1000),
    # LinkedIn Images API: JPG, GIF, PNG; at most 36,152,320 pixels; multiImage 2-20 images; altText 4,086 chars;
    # byte cap not documented, 10 MB assumed [U]
    "linkedin": Limits(frozenset({"JPEG", "PNG", "GIF"}), 10 * 1024 * 1024, 20, 4086, max_pixels=36_152_320),
    # the dry-run channel takes what the strictest common platform count allows
    "dryrun": Limits(frozenset(MIME), MAX_INPUT_BYTES, 4, 1500),
}
#: Bluesky's external-card thumbnail blob cap (app.bsky.embed.external#external thumb maxSize)
CARD_THUMB_BYTES = 1_000_000


@dataclass(frozen=True)
class Image:
    """Encoded image bytes with what a platform needs to know about them."""

    data: bytes
    mime: str
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def format(self) -> str:
        return next(f for f, m in MIME.items() if m == self.mime)

    def ref(self, alt: str) -> dict[str, Any]:
        """What a payload carries: the reference, never the bytes."""
        return {"sha256": self.sha256, "mime": self.mime, "width": self.width, "height": self.height,
                "size": self.size, "alt": alt}


def limits_for(channel: str) -> Limits:
    return LIMITS.get(channel, LIMITS["dryrun"])


# -- loading --


def load(path: str | Path) -> Image:
    """Read, validate and clean one image file (see the module docstring). InputError for anything unusable."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise InputError(f"--image {str(p)!r} is not a file", hint="give the path of a JPEG, PNG, GIF or WebP file")
    except OSError:
        raise InputError(f"--image {str(p)!r} does not exist or cannot be read",
                         hint="check the path (relative paths are from the current directory)") from None
    if size > MAX_INPUT_BYTES:
        raise InputError(f"--image {str(p)!r} is {size} bytes; publisher takes at most {MAX_INPUT_BYTES}",
                         hint="scale the image down first")
    return decode(p.read_bytes(), what=f"--image {str(p)!r}")


def decode(data: bytes, *, what: str = "the image") -> Image:
    """Validate and clean encoded bytes (load's work without the file)."""
    from PIL import Image as PIL
    from PIL import ImageOps, UnidentifiedImageError

    try:
        with PIL.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            if fmt not in MIME:
                raise InputError(f"{what} is {fmt or 'an unknown format'}; publisher takes JPEG, PNG, GIF or WebP",
                                 hint="convert it to JPEG or PNG first")
            if probe.width * probe.height > MAX_INPUT_PIXELS:
                raise InputError(f"{what} has {probe.width}x{probe.height} pixels; at most {MAX_INPUT_PIXELS} are "
                                 "taken", hint="scale the image down first")
            frames = _frames(probe)
            frames = [ImageOps.exif_transpose(f) or f for f in frames]
            duration, loop = probe.info.get("duration"), probe.info.get("loop")
    except (UnidentifiedImageError, PIL.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"{what} is not an image publisher can read ({type(e).__name__})",
                         hint="give a JPEG, PNG, GIF or WebP file") from None
    return _encode(frames, fmt, duration=duration, loop=loop)


def _frames(img: PILImage) -> list[PILImage]:
    from PIL import ImageSequence

    if getattr(img, "n_frames", 1) > 1:
        return [f.copy() for f in ImageSequence.Iterator(img)]
    img.load()
    return [img.copy()]


def _encode(frames: list[PILImage], fmt: str, *, quality: int = 90, duration: Any = None,
            loop: Any = None) -> Image:
    """Encode without any metadata (no exif=, no pnginfo, no xmp: Pillow writes none it is not given)."""
    first = frames[0]
    transparency = first.info.get("transparency")
    for f in frames:
        f.info = {}  # what Pillow might carry over (exif, xmp, icc, comments): dropped, the privacy promise
    if fmt == "JPEG" and first.mode not in ("RGB", "L"):
        frames = [f.convert("RGB") for f in frames]
        first = frames[0]
    out = io.BytesIO()
    params: dict[str, Any] = {}
    if fmt in ("JPEG", "WEBP"):
        params["quality"] = quality
    if fmt in ("GIF", "PNG") and transparency is not None and first.mode in ("P", "L", "RGB"):
        params["transparency"] = transparency
    if len(frames) > 1 and fmt in ("GIF", "WEBP", "PNG"):
        params.update(save_all=True, append_images=frames[1:])
        if duration is not None:
            params["duration"] = duration
        if loop is not None:
            params["loop"] = loop
    first.save(out, format=fmt, **params)
    return Image(out.getvalue(), MIME[fmt], first.width, first.height)


# -- fitting --


def _open(image: Image) -> list[PILImage]:
    from PIL import Image as PIL

    with PIL.open(io.BytesIO(image.data)) as img:
        return _frames(img)


def _has_alpha(img: PILImage) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def _scale(frames: list[PILImage], factor: float) -> list[PILImage]:
    from PIL import Image as PIL

    w, h = frames[0].size
    size = (max(1, math.floor(w * factor)), max(1, math.floor(h * factor)))
    # reducing_gap: a fast integer reduce first, then Lanczos over the last 3x (Pillow's thumbnail() speed, same look)
    return [f.resize(size, PIL.Resampling.LANCZOS, reducing_gap=3.0) for f in frames]


def fit(image: Image, channel: str) -> Image:
    """The copy of ``image`` that ``channel`` accepts (unchanged when it already does). Never upscales."""
    return fit_to(image, limits_for(channel))


def fit_to(image: Image, lim: Limits) -> Image:
    w, h = image.width, image.height
    factor = 1.0
    if lim.max_width:
        factor = min(factor, lim.max_width / w)
    if lim.max_height:
        factor = min(factor, lim.max_height / h)
    if lim.max_pixels and w * h > lim.max_pixels:
        factor = min(factor, math.sqrt(lim.max_pixels / (w * h)))
    if factor >= 1.0 and image.format in lim.formats and image.size <= lim.max_bytes:
        return image
    frames = _open(image)
    fmt = image.format
    if fmt not in lim.formats:
        fmt = "PNG" if _has_alpha(frames[0]) and "PNG" in lim.formats else "JPEG"
        if len(frames) > 1 and "GIF" in lim.formats:
            fmt = "GIF"
    if factor < 1.0:
        frames = _scale(frames, factor)
    out = _encode([f.copy() for f in frames], fmt)
    quality = 85
    while out.size > lim.max_bytes:
        if fmt in ("JPEG", "WEBP") and quality > 55:
            quality -= 10
        elif fmt == "PNG" and not _has_alpha(frames[0]) and "JPEG" in lim.formats:
            fmt, quality = "JPEG", 85  # a photo saved as PNG: JPEG is the size a platform expects
        else:
            frames = _scale(frames, 0.8)  # byte cap still exceeded: smaller, aspect ratio kept
        out = _encode([f.copy() for f in frames], fmt, quality=quality)
    return out


def check_alt(alt: str, channel: str, account: str) -> None:
    cap = limits_for(channel).max_alt
    if len(alt) > cap:
        raise InputError(f"alt text of {len(alt)} characters is over {channel}'s limit of {cap} (account {account!r})",
                         hint="shorten the --alt text")


def check_count(count: int, channel: str, account: str) -> None:
    cap = limits_for(channel).max_images
    if count > cap:
        raise InputError(f"{count} images, but {channel} takes at most {cap} per post (account {account!r})",
                         hint=f"give at most {cap} --image options, or post the rest separately")


# -- the store --


def save(conn: Connection, images: list[Image], now: Any) -> list[str]:
    """Insert the images not stored yet (content-addressed); returns the sha256s inserted. Plain SQL on the driver
    (``publisher.rawsql``), so the CLI's post command stores images on its SQLAlchemy-free SQLite store too."""
    wanted = {i.sha256: i for i in images}
    if not wanted:
        return []
    from publisher import rawsql

    cond, params = rawsql.in_(rawsql.dialect_of(conn), "sha256", list(wanted))
    have = {r[0] for r in rawsql.fetch_all(conn, f"SELECT sha256 FROM media WHERE {cond}", params)}
    rows = [dict(sha256=s, mime=i.mime, data=i.data, width=i.width, height=i.height, size=i.size, created_at=now)
            for s, i in wanted.items() if s not in have]
    rawsql.insert_dicts(conn, "media", rows)
    return [r["sha256"] for r in rows]


def load_stored(conn: Connection, sha256: str) -> Image | None:
    from sqlalchemy import select

    from publisher.schema import media

    row = conn.execute(select(media).where(media.c.sha256 == sha256)).mappings().first()
    if row is None:
        return None
    return Image(bytes(row["data"]), row["mime"], row["width"], row["height"])


@dataclass(frozen=True)
class Attachment:
    """One image of a post with its alt text (empty: none given)."""

    image: Image
    alt: str = ""


def for_channel(attachments: list[Attachment], channel: str, account: str) -> tuple[list[dict[str, Any]], list[Image]]:
    """The payload references and the fitted copies of a post's images for one account's channel; InputError when
    the channel takes fewer images or shorter alt text."""
    check_count(len(attachments), channel, account)
    refs, images = [], []
    for a in attachments:
        check_alt(a.alt, channel, account)
        fitted = fit(a.image, channel)
        refs.append(fitted.ref(a.alt))
        images.append(fitted)
    return refs, images
