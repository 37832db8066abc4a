"""Serving a directory: ``app.static("/assets", "public/")``.

Every answer is a FileResponse (sendfile, Range, ETag/304). The request path
is already percent-decoded by the server, so ``%2e%2e`` and ``%2f`` arrive as
``..`` and ``/``; the rules below apply to the decoded path:

* 404 for a NUL, a backslash, an empty segment (``a//b``, a leading ``/``), a
  ``.`` or ``..`` segment, a drive-like segment (``C:``), and -- unless
  ``dotfiles=True`` -- any segment starting with ``.`` (``.env``, ``.git/``);
* the file's real path (symlinks resolved) must lie inside the real path of
  the root, else 404; ``follow_symlinks=True`` lets symlinks point anywhere
  (the lexical rules still hold, so only a symlink placed in the root can lead
  out);
* a directory is answered with its index file: ``/assets/docs`` redirects
  (301, query kept) to ``/assets/docs/``, which serves ``docs/index.html``; a
  directory without one is a 404 (there are no listings);
* with ``precompressed=True``, ``x.js.br`` / ``x.js.gz`` next to ``x.js`` are
  sent instead when Accept-Encoding prefers them (``Content-Encoding``, the
  media type of ``x.js``, ``Vary: Accept-Encoding``); a request for ``x.js.gz``
  itself gets the gzip file as it is (application/gzip).

The checks are made against the filesystem as it is at each request: whoever
can write into the root can also publish anything, so a root writable by
untrusted users is outside what this protects.
"""
from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple, Union
from urllib.parse import quote

from catzilla.exceptions import HTTPException
from catzilla.files import FileResponse, guess_media_type
from catzilla.negotiate import accept_encoding
from catzilla.response import RedirectResponse

if TYPE_CHECKING:
    from catzilla.request import Request

__all__ = ["StaticFiles"]

# Precompressed siblings, in the server's order of preference.
_SIBLINGS: Tuple[Tuple[str, str], ...] = (("br", ".br"), ("gzip", ".gz"))


def _segments(path: str, dotfiles: bool) -> Optional[List[str]]:
    """The path's segments, or None when it is not a plain relative path
    inside the root (see the module docstring). A trailing '/' is dropped."""
    if "\x00" in path or "\\" in path:
        return None
    if not path:
        return []
    parts = path.split("/")
    if parts[-1] == "":
        parts.pop()
    for part in parts:
        if not part or part == "." or part == "..":
            return None
        if part[0] == "." and not dotfiles:
            return None
        if len(part) >= 2 and part[1] == ":" and part[0].isascii() and part[0].isalpha():
            return None                  # "C:": a drive where paths have drives
    return parts


class StaticFiles:
    """StaticFiles(directory, *, index="index.html", follow_symlinks=False,
    precompressed=True, dotfiles=False): an endpoint serving the files under
    `directory`, called as ``endpoint(request, path="")`` with the path below
    the mount. Mount it with ``app.static(prefix, directory, **options)``.

    FileNotFoundError / NotADirectoryError (naming the path) when `directory`
    is missing or not a directory. A relative `directory` is taken from the
    current directory, once, here. `index=None` answers directories with 404."""

    def __init__(self, directory: Union[str, "os.PathLike[str]"], *, index: Optional[str] = "index.html",
                 follow_symlinks: bool = False, precompressed: bool = True, dotfiles: bool = False) -> None:
        directory = os.fspath(directory)
        if not isinstance(directory, str):
            raise TypeError(f"StaticFiles directory must be a str or os.PathLike[str], got {directory!r}")
        if index is not None and (not index or "/" in index or "\\" in index or index in (".", "..")):
            raise ValueError(f"StaticFiles index must be a file name, got {index!r}")
        self.directory = os.path.abspath(directory)
        try:
            st = os.stat(self.directory)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"StaticFiles: directory {directory!r} ({self.directory}) does not exist") from None
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(f"StaticFiles: {directory!r} ({self.directory}) is not a directory")
        self.root = os.path.realpath(self.directory)
        self._root_prefix = self.root if self.root.endswith(os.sep) else self.root + os.sep
        self.index = index
        self.follow_symlinks = follow_symlinks
        self.precompressed = precompressed
        self.dotfiles = dotfiles

    def __repr__(self) -> str:
        return f"<StaticFiles {self.directory!r}>"

    def __call__(self, request: "Request", path: str = "") -> Union[FileResponse, RedirectResponse]:
        parts = _segments(path, self.dotfiles)
        if parts is None:
            raise HTTPException(404)
        lexical = os.path.join(self.directory, *parts)
        found = self._stat(lexical)
        if found is None:
            raise HTTPException(404)
        real, st = found
        slash = request.path.endswith("/")
        if stat.S_ISDIR(st.st_mode):
            if self.index is None:
                raise HTTPException(404)
            lexical = os.path.join(lexical, self.index)
            found = self._stat(lexical)
            if found is None or not stat.S_ISREG(found[1].st_mode):
                raise HTTPException(404)
            if not slash:
                return self._to_slash(request)
            real = found[0]
        elif not stat.S_ISREG(st.st_mode) or slash:
            raise HTTPException(404)     # a FIFO, a device...; or "file.txt/"
        return self._file(request, lexical, real)

    def _stat(self, lexical: str) -> Optional[Tuple[str, os.stat_result]]:
        """(real path, stat) of an existing file or directory that may be
        served, else None."""
        try:
            os.stat(lexical)             # the common miss (a sibling that is not there) costs one call
            real = os.path.realpath(lexical)
            if not self.follow_symlinks and not (real == self.root or real.startswith(self._root_prefix)):
                return None
            return real, os.stat(real)
        except (OSError, ValueError):
            return None

    def _file(self, request: "Request", lexical: str, real: str) -> FileResponse:
        media_type = guess_media_type(lexical) or "application/octet-stream"
        if not self.precompressed:
            return FileResponse(real, media_type=media_type)
        siblings: Dict[str, Tuple[str, os.stat_result]] = {}
        for coding, suffix in _SIBLINGS:
            found = self._stat(lexical + suffix)
            if found is not None and stat.S_ISREG(found[1].st_mode):
                siblings[coding] = found
        if not siblings:
            return FileResponse(real, media_type=media_type)
        headers = {"vary": "Accept-Encoding"}
        chosen = accept_encoding(request.headers.get("accept-encoding"), list(siblings))
        if chosen is None:
            return FileResponse(real, headers=headers, media_type=media_type)
        path, st = siblings[chosen]
        headers["content-encoding"] = chosen
        # FileResponse's own ETag (size, mtime) with the coding: a strong
        # validator must differ between the identity and the coded bytes,
        # even for a sibling of the same size and mtime.
        headers["etag"] = f'"{st.st_size:x}-{st.st_mtime_ns:x}-{chosen}"'
        return FileResponse(path, headers=headers, media_type=media_type)

    @staticmethod
    def _to_slash(request: "Request") -> RedirectResponse:
        # Quoted here, so a name holding '%', '?' or '#' survives; RedirectResponse keeps '%' escapes.
        location = quote(request.path, safe="/") + "/"
        if request.query_string:
            location += "?" + request.query_string
        return RedirectResponse(location, 301)
