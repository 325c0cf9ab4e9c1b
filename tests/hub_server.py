"""A tiny local stand-in for the Hugging Face Hub ``resolve`` endpoint, with fault injection.

Serves ``HEAD`` and ``GET /{repo_id}/resolve/{revision}/{filename}`` for regular
(non-xet) files the way the Hub does: ``200`` with ``X-Repo-Commit``, ``ETag`` (sha256
for ``.h5`` files as for LFS files, the git blob sha1 otherwise), ``Content-Length`` and
``Accept-Ranges``; ``206`` for ``Range`` requests (used by ``huggingface_hub`` to resume);
``404`` with ``X-Error-Code`` ``RepoNotFound`` / ``RevisionNotFound`` / ``EntryNotFound``.

Fault injection, set on the instance:

* ``fail_with_status``: answer every request with this status (e.g. 500);
* ``truncate``: GET bodies stop at half of the file, then the connection closes
  (headers still announce the full length) - resuming cannot get past the half;
* ``corrupt``: GET bodies have the right length but different bytes (ETag and size
  look right, the sha256 does not);
* ``hang``: accept the connection and never answer (until :meth:`stop`, or 60 s).

Listens on 127.0.0.1 only (free port); ``requests`` records ``(method, path, range)``.
"""

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<filename>.+)$")
RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def etag_of(filename, data):
    """The Hub's ETag of a file: sha256 for LFS files (here ``.h5``), git blob sha1 otherwise."""
    if filename.endswith(".h5"):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubServer:
    """Serves ``repos`` = ``{(repo_id, commit): {filename: bytes}}``; ``refs`` maps ``(repo_id, branch)`` to a commit.

    Without ``refs``, branch ``main`` of each repository points to its last listed commit.
    """

    def __init__(self, repos, refs=None):
        self.repos = repos
        self.refs = refs if refs is not None else {(repo, "main"): commit for repo, commit in repos}
        self.requests = []
        self.fail_with_status = None
        self.truncate = False
        self.corrupt = False
        self.hang = False
        self._released = threading.Event()
        self._httpd = None

    @property
    def url(self):
        """``http://127.0.0.1:<port>``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, method=None):
        """The number of requests received (of ``method`` if given)."""
        return sum(1 for request in self.requests if method in (None, request[0]))

    def start(self):
        """Starts serving in a daemon thread; returns self."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_HEAD(self):
                server._answer(self, body=False)

            def do_GET(self):
                server._answer(self, body=True)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        """Stops serving and closes the socket."""
        self._released.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def _lookup(self, repo, revision, filename):
        """``(status, error_code, commit, data)`` for a resolve request."""
        if not any(key[0] == repo for key in self.repos):
            return 404, "RepoNotFound", None, None
        commit = self.refs.get((repo, revision), revision)
        files = self.repos.get((repo, commit))
        if files is None:
            return 404, "RevisionNotFound", None, None
        if filename not in files:
            return 404, "EntryNotFound", commit, None
        return 200, None, commit, files[filename]

    def _answer(self, handler, body):
        self.requests.append((handler.command, handler.path, handler.headers.get("Range")))
        if self.hang:
            self._released.wait(60)
            handler.close_connection = True
            return
        match = RESOLVE.match(handler.path)
        if self.fail_with_status:
            status, error_code, commit, data = self.fail_with_status, None, None, None
        elif match is None:
            status, error_code, commit, data = 404, None, None, None
        else:
            status, error_code, commit, data = self._lookup(*match.group("repo", "revision", "filename"))
        if data is None:
            handler.send_response(status)
            if error_code:
                handler.send_header("X-Error-Code", error_code)
            if commit:
                handler.send_header("X-Repo-Commit", commit)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        start, end = 0, len(data) - 1
        requested = RANGE.match(handler.headers.get("Range", ""))
        if requested:
            start = int(requested.group(1))
            end = min(int(requested.group(2) or end), end)
        handler.send_response(206 if requested else 200)
        handler.send_header("X-Repo-Commit", commit)
        handler.send_header("ETag", f'"{etag_of(match.group("filename"), data)}"')
        handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Length", str(end - start + 1))
        if requested:
            handler.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        handler.end_headers()
        if not body:
            return
        if self.corrupt:
            data = bytes(byte ^ 0xFF for byte in data)
        stop = min(end + 1, len(data) // 2) if self.truncate else end + 1
        handler.wfile.write(data[start:stop])
        handler.wfile.flush()
        if self.truncate:
            handler.close_connection = True
