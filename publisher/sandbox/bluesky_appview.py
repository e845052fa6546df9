"""The ``app.bsky.*`` reads a client makes after logging in, answered from the Bluesky emulator's repositories with
the lexicon's shapes (``app.bsky.actor.defs#profileViewDetailed``, ``app.bsky.feed.defs#postView``,
``#feedViewPost``, ``#threadViewPost``). The atproto SDK's ``Client.login`` fetches ``app.bsky.actor.getProfile``
and its ``send_post`` needs the profile it got, so without these the SDK cannot post to the sandbox.

Served: ``app.bsky.actor.getProfile``, ``app.bsky.actor.getProfiles``, ``app.bsky.feed.getAuthorFeed``,
``app.bsky.feed.getPostThread`` and ``app.bsky.feed.getPosts``. Errors take the AppView's words: an unknown actor
400 ``InvalidRequest`` "Profile not found", an unknown post 400 ``NotFound`` "Post not found: <uri>". Like
the PDS proxying them, every read needs a valid access token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from publisher.sandbox.bluesky import BlueskyPlatform

POST = "app.bsky.feed.post"
_NO_ONE = {"muted": False, "blockedBy": False}


class AppView:
    """Views over ``platform``'s repositories; call under the sandbox lock."""

    def __init__(self, platform: BlueskyPlatform) -> None:
        self.platform = platform

    # -- lookups --

    def did_of(self, actor: str) -> str | None:
        if actor.startswith("did:"):
            return actor if actor in self.platform.handles else None
        return next((d for d, h in self.platform.handles.items() if h == actor.lower()), None)

    def posts(self) -> Iterator[dict[str, Any]]:
        for repo in self.platform.repos.values():
            yield from repo.values()

    def find(self, uri: str) -> dict[str, Any] | None:
        parts = uri.removeprefix("at://").split("/")
        if len(parts) != 3 or parts[1] != POST:
            return None
        did = self.did_of(parts[0])
        return self.platform.repos.get(did or "", {}).get(parts[2])

    def replies_to(self, uri: str) -> list[dict[str, Any]]:
        return [p for p in self.posts() if ((p["value"].get("reply") or {}).get("parent") or {}).get("uri") == uri]

    # -- views --

    def profile_basic(self, did: str) -> dict[str, Any]:
        handle = self.platform.handles[did]
        return {"did": did, "handle": handle, "displayName": handle.split(".")[0], "viewer": dict(_NO_ONE),
                "labels": [], "createdAt": self.platform.joined[did]}

    def profile(self, did: str) -> dict[str, Any]:
        return {**self.profile_basic(did), "description": "", "indexedAt": self.platform.joined[did],
                "followersCount": 0, "followsCount": 0, "postsCount": len(self.platform.repos.get(did, {})),
                "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": False,
                               "activitySubscription": {"allowSubscriptions": "followers"}}}

    def post_view(self, post: dict[str, Any]) -> dict[str, Any]:
        did = post["uri"].split("/")[2]
        return {"uri": post["uri"], "cid": post["cid"], "author": self.profile_basic(did), "record": post["value"],
                "bookmarkCount": 0, "replyCount": len(self.replies_to(post["uri"])), "repostCount": 0,
                "likeCount": 0, "quoteCount": 0, "indexedAt": post["indexedAt"],
                "viewer": {"bookmarked": False, "threadMuted": False, "embeddingDisabled": False}, "labels": []}

    def feed_item(self, post: dict[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {"post": self.post_view(post)}
        reply = post["value"].get("reply")
        if reply:
            root, parent = self.find(reply["root"]["uri"]), self.find(reply["parent"]["uri"])
            item["reply"] = {"root": self._or_not_found(root, reply["root"]["uri"]),
                             "parent": self._or_not_found(parent, reply["parent"]["uri"])}
        return item

    def _or_not_found(self, post: dict[str, Any] | None, uri: str) -> dict[str, Any]:
        if post is None:
            return {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}
        return {"$type": "app.bsky.feed.defs#postView", **self.post_view(post)}

    def thread(self, post: dict[str, Any], depth: int, parent_height: int) -> dict[str, Any]:
        node: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": self.post_view(post)}
        parent_uri = ((post["value"].get("reply") or {}).get("parent") or {}).get("uri")
        if parent_uri and parent_height > 0:
            parent = self.find(parent_uri)
            node["parent"] = (self.thread(parent, 0, parent_height - 1) if parent is not None else
                              {"$type": "app.bsky.feed.defs#notFoundPost", "uri": parent_uri, "notFound": True})
        if depth > 0:
            node["replies"] = [self._replies_only(r, depth - 1) for r in self.replies_to(post["uri"])]
        return node

    def _replies_only(self, post: dict[str, Any], depth: int) -> dict[str, Any]:
        node: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": self.post_view(post)}
        if depth > 0:
            node["replies"] = [self._replies_only(r, depth - 1) for r in self.replies_to(post["uri"])]
        return node

    # -- queries: (status, body) --

    def get_profile(self, q: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        did = self.did_of((q.get("actor") or [""])[0])
        if did is None:
            return 400, {"error": "InvalidRequest", "message": "Profile not found"}
        return 200, self.profile(did)

    def get_profiles(self, q: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        dids = [d for d in (self.did_of(a) for a in q.get("actors", [])[:25]) if d is not None]
        return 200, {"profiles": [self.profile(d) for d in dids]}

    def get_author_feed(self, q: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        did = self.did_of((q.get("actor") or [""])[0])
        if did is None:
            return 400, {"error": "InvalidRequest", "message": "Profile not found"}
        limit = max(1, min(100, int((q.get("limit") or ["50"])[0])))
        start = int((q.get("cursor") or ["0"])[0] or 0)
        posts = list(reversed(self.platform.repos.get(did, {}).values()))  # newest first
        if (q.get("filter") or [""])[0] == "posts_no_replies":
            posts = [p for p in posts if not p["value"].get("reply")]
        page = posts[start:start + limit]
        body: dict[str, Any] = {"feed": [self.feed_item(p) for p in page]}
        if start + limit < len(posts):
            body["cursor"] = str(start + limit)
        return 200, body

    def get_post_thread(self, q: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        uri = (q.get("uri") or [""])[0]
        post = self.find(uri)
        if post is None:
            return 400, {"error": "NotFound", "message": f"Post not found: {uri}"}
        depth = max(0, min(1000, int((q.get("depth") or ["6"])[0])))
        height = max(0, min(1000, int((q.get("parentHeight") or ["80"])[0])))
        return 200, {"thread": self.thread(post, depth, height)}

    def get_posts(self, q: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        found = [self.find(u) for u in q.get("uris", [])[:25]]
        return 200, {"posts": [self.post_view(p) for p in found if p is not None]}
