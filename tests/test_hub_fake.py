"""A small Hugging Face Hub on loopback: the HTTP boundary, and nothing else, is fake.

It answers the endpoints huggingface_hub uses to create a repo, validate README metadata,
commit files (regular uploads), and list and download them. Real huggingface_hub code
talks to it over real sockets; skship's own code runs unmodified.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

_REPO = r"(?P<repo>[^/]+/[^/]+)"


@dataclass
class Repo:
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)
    pulls: list[dict[str, bytes]] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return hashlib.sha1(
            str(len(self.commits)).encode()
            + b"".join(k.encode() + v for k, v in sorted(self.files.items()))
        ).hexdigest()


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.authorization: list[str | None] = []  # each request's Authorization header
        self.rejected_licenses: set[str] = set()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(
                self,
                status: int,
                body: Any = None,
                headers: dict[str, str] | None = None,
                raw: bytes | None = None,
            ) -> None:
                data = raw if raw is not None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type",
                    "application/json" if raw is None else "application/octet-stream",
                )
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def do_POST(self) -> None:
                url = urlparse(self.path)
                hub.requests.append(("POST", url.path))
                hub.authorization.append(self.headers.get("Authorization"))
                body = self._body()
                if url.path == "/api/repos/create":
                    payload = json.loads(body)
                    repo_id = f"{payload['organization'] or 'user'}/{payload['name']}"
                    if repo_id in hub.repos:
                        return self._send(
                            409,
                            {
                                "error": "You already created this model repo",
                                "url": f"{hub.url}/{repo_id}",
                            },
                        )
                    hub.repos[repo_id] = Repo(
                        private=payload.get("visibility") == "private"
                        or bool(payload.get("private"))
                    )
                    return self._send(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id})
                if url.path == "/api/validate-yaml":
                    content = json.loads(body)["content"]
                    found = re.search(r"^license:\s*(\S+)", content, re.M)
                    if found and found[1] in hub.rejected_licenses:
                        return self._send(
                            400, {"errors": [{"message": '"license" must be one of [...]'}]}
                        )
                    return self._send(200, {"errors": [], "warnings": []})
                m = re.fullmatch(rf"/api/models/{_REPO}/preupload/(?P<rev>[^/]+)", url.path)
                if m:
                    if m["repo"] not in hub.repos:
                        return self._send(
                            404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
                        )
                    files = json.loads(body)["files"]
                    return self._send(
                        200,
                        {
                            "files": [
                                {
                                    "path": f["path"],
                                    "uploadMode": "regular",
                                    "shouldIgnore": False,
                                    "oid": None,
                                }
                                for f in files
                            ]
                        },
                    )
                m = re.fullmatch(rf"/api/models/{_REPO}/commit/(?P<rev>[^/]+)", url.path)
                if m:
                    repo = hub.repos.get(m["repo"])
                    if repo is None:
                        return self._send(
                            404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
                        )
                    lines = [json.loads(x) for x in body.splitlines() if x.strip()]
                    header = lines[0]["value"]
                    added = {
                        item["value"]["path"]: base64.b64decode(item["value"]["content"])
                        for item in lines[1:]
                        if item["key"] == "file"
                    }
                    create_pr = parse_qs(url.query).get("create_pr") == ["1"]
                    if create_pr:
                        repo.pulls.append(added)
                        num = len(repo.pulls)
                        return self._send(
                            200,
                            {
                                "commitUrl": f"{hub.url}/{m['repo']}/commit/pr{num}",
                                "commitOid": "0" * 40,
                                "pullRequestUrl": f"{hub.url}/{m['repo']}/discussions/{num}",
                            },
                        )
                    repo.files.update(added)
                    repo.commits.append({"summary": header["summary"], "files": sorted(added)})
                    return self._send(
                        200,
                        {
                            "commitUrl": f"{hub.url}/{m['repo']}/commit/{repo.sha}",
                            "commitOid": repo.sha,
                            "pullRequestUrl": None,
                        },
                    )
                self._send(404, {"error": f"no route {url.path}"})

            def do_GET(self) -> None:
                url = urlparse(self.path)
                path = unquote(url.path)
                hub.requests.append((self.command, path))
                hub.authorization.append(self.headers.get("Authorization"))
                m = re.fullmatch(rf"/api/models/{_REPO}(/revision/(?P<rev>[^/]+))?", path)
                if m:
                    repo = hub.repos.get(m["repo"])
                    if repo is None:
                        return self._send(
                            404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
                        )
                    return self._send(
                        200,
                        {
                            "id": m["repo"],
                            "modelId": m["repo"],
                            "sha": repo.sha,
                            "private": repo.private,
                            "siblings": [{"rfilename": k} for k in sorted(repo.files)],
                        },
                    )
                m = re.fullmatch(rf"/api/models/{_REPO}/tree/(?P<rev>[^/]+)(/.*)?", path)
                if m:
                    repo = hub.repos.get(m["repo"])
                    if repo is None:
                        return self._send(
                            404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
                        )
                    return self._send(
                        200,
                        [
                            {
                                "type": "file",
                                "path": k,
                                "size": len(v),
                                "oid": hashlib.sha1(v).hexdigest(),
                            }
                            for k, v in sorted(repo.files.items())
                        ],
                    )
                m = re.fullmatch(rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", path)
                if m:
                    repo = hub.repos.get(m["repo"])
                    if repo is None or m["file"] not in repo.files:
                        return self._send(
                            404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"}
                        )
                    data = repo.files[m["file"]]
                    return self._send(
                        200,
                        raw=data,
                        headers={
                            "X-Repo-Commit": repo.sha,
                            "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
                        },
                    )
                self._send(404, {"error": f"no route {path}"})

            do_HEAD = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
