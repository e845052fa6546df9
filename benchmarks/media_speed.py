"""How long images cost on the accept path: load + clean a 12 MP phone-sized JPEG, fit it per platform, and accept
one post with it for five accounts (one per platform) into a real SQLite store.

    PYTHONPATH=. python benchmarks/media_speed.py [--runs 3]

Prints the median of ``--runs`` for each step. The image is synthetic (gradients plus mild noise, so it compresses
like a photo, not like noise), 4000x3000, JPEG quality 92, with EXIF orientation and GPS.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def photo(path: Path) -> Path:
    from PIL import Image

    w, h = 4000, 3000
    base = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    noise = Image.effect_noise((w, h), 12).convert("RGB")
    img = Image.blend(base, noise, 0.25)
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x8825] = {1: "N", 2: (59.0, 54.0, 0.0)}
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    path.write_bytes(buf.getvalue())
    return path


def median_of(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from publisher import service
    from publisher import settings as settings_mod
    from publisher.channels import media
    from publisher.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        path = photo(Path(tmp) / "photo.jpg")
        print(f"input: {path.stat().st_size} bytes, 4000x3000 JPEG")
        print(f"load + clean (EXIF off): {median_of(args.runs, lambda: media.load(path)) * 1000:.0f} ms")
        image = media.load(path)
        for channel in ("x", "mastodon", "bluesky", "facebook", "linkedin"):
            fitted = media.fit(image, channel)
            took = median_of(args.runs, lambda c=channel: media.fit(image, c))
            print(f"fit {channel:9} {took * 1000:6.0f} ms -> {fitted.width}x{fitted.height} {fitted.size} bytes")
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "config.yaml").write_text("accounts:\n" + "".join(
            f"  a-{c}: {{channel: {c}, kind: personal, base_url: 'http://127.0.0.1:9/{c}',"
            f" options: {{page_id: '1', author_urn: 'urn:li:person:abc'}}}}\n"
            for c in ("x", "mastodon", "bluesky", "facebook", "linkedin")))
        settings = settings_mod.load({"PUBLISHER_HOME": str(home)})
        store = Store(settings.database_url)
        names = [f"a-{c}" for c in ("x", "mastodon", "bluesky", "facebook", "linkedin")]
        n = iter(range(10**6))

        def accept() -> None:
            new = service.NewPost(text=f"Photo post {next(n)}", accounts=names, at=datetime.now(UTC),
                                  media=[media.Attachment(media.load(path), "A gradient")])
            service.accept(settings, store, new)

        print(f"accept (load + 5 fits + store, 5 accounts): {median_of(args.runs, accept) * 1000:.0f} ms")

        def accept_text() -> None:
            service.accept(settings, store, service.NewPost(text=f"Text post {next(n)}", accounts=names,
                                                            at=datetime.now(UTC)))

        print(f"accept without image (same accounts): {median_of(args.runs, accept_text) * 1000:.0f} ms")
        store.dispose()


if __name__ == "__main__":
    main()
