"""One image post to all five channels through `publisher run` (real worker, broker and store) and the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.sandbox.server import SandboxServer
from tests.helpers import states
from tests.media.conftest import Site, make_image

pytestmark = pytest.mark.slow  # worker, scheduler and broker in a process


def test_image_post_to_five_channels_through_the_worker(site: Site, sandbox: SandboxServer, tmp_path: Path) -> None:
    photo = make_image(tmp_path / "photo.jpg", (2600, 1300), noise=True)  # over Bluesky's 1 MB and 2000 px
    args = [a for name in ("m-x", "m-fb", "m-li", "m-masto", "m-bsky") for a in ("-a", name)]
    r = site.env.cli("post", *args, "--image", str(photo), "--alt", "Splice crew at work", "Maintenance done")
    assert r.returncode == 0, r.stderr
    r = site.env.cli("run", "--until-done", "--duration", "90")
    assert r.returncode == 0, r.stderr
    assert states(site.store) == {"published": 5}
    alts = {
        "x": [m["alt"] for m in sandbox.sandbox.posts("x")[0]["media"]],
        "facebook": [m["alt"] for m in sandbox.sandbox.posts("facebook")[0]["media"]],
        "linkedin": [m["altText"] for m in sandbox.sandbox.posts("linkedin")[0]["media"]],
        "mastodon": [m["description"] for m in sandbox.sandbox.posts("mastodon")[0]["media"]],
        "bluesky": [i["alt"] for i in sandbox.sandbox.posts("bluesky")[0]["embed"]["images"]],
    }
    assert alts == {k: ["Splice crew at work"] for k in alts}
    [image] = sandbox.sandbox.posts("bluesky")[0]["embed"]["images"]
    assert image["aspectRatio"] == {"width": 2000, "height": 1000} and image["image"]["size"] <= 1_000_000
    assert site.env.cli("audit", "verify").returncode == 0
