"""File responses: zero-copy with sendfile(2), conditional requests and ranges.

FileResponse sends itself (the body protocol, catzilla/_core/transport.pxd):
for each request it opens the file, evaluates the request's preconditions
(RFC 9110 §13.2.2: If-Match, If-Unmodified-Since, If-None-Match,
If-Modified-Since, then Range/If-Range) and writes either a short answer (304,
412, 416) or the head and the file region, which the transport sends with
sendfile(2). The file is never read into memory; it is closed after the last
byte, or on abort. The response object itself is never changed, so it can
answer any number of requests.

Validators: Last-Modified is the file's mtime (whole seconds); the ETag is
strong, '"<size hex>-<mtime_ns hex>"' -- it changes whenever the size or the
nanosecond mtime changes, which is what a byte-for-byte validator has to
guarantee for a file served as-is, and being strong it can be used with
If-Range.

A wrapped body (Response.wrap_body, e.g. compression) is another
representation: its ETag is weak, it has no ranges and no known length, and
the file is read in blocks on a stream worker and passed through the filters
as it goes."""
import calendar
import datetime
import mimetypes
import os
import stat as _stat
import time
import unicodedata
from email.utils import formatdate
from urllib.parse import quote

from posix.unistd cimport close as c_close
from catzilla._core.httpsyntax cimport split_list
from catzilla._core.transport cimport Transport
from catzilla.datastructures cimport Headers
from catzilla.request cimport Request
from catzilla.response cimport BodyInfo, Response, body_etag, body_info, filtered_whole
from catzilla.exceptions import HTTPException

cdef int _O_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0) \
    | getattr(os, "O_NOCTTY", 0)

cdef frozenset _NOT_FOUND_ERRNOS = frozenset(
    e for e in (getattr(__import__("errno"), n, None)
                for n in ("ENOENT", "ENOTDIR", "EISDIR", "ENAMETOOLONG", "ELOOP", "ENXIO"))
    if e is not None)
cdef frozenset _FORBIDDEN_ERRNOS = frozenset(
    e for e in (getattr(__import__("errno"), n, None) for n in ("EACCES", "EPERM"))
    if e is not None)

# Compression "encodings" mimetypes reports for names like x.tar.gz: the file is
# sent as-is, so the media type is that of the compressed file, not
# Content-Encoding (which would make clients decompress it on the fly).
cdef dict _ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}


cdef class _OpenFile:
    """An open file descriptor, closed when the last reference goes away
    (the connection drops its reference after the last byte or on abort)."""
    cdef int fd

    def __cinit__(self):
        self.fd = -1

    def fileno(self):
        if self.fd < 0:
            raise ValueError("I/O operation on closed file")
        return self.fd

    @property
    def closed(self):
        return self.fd < 0

    def close(self):
        if self.fd >= 0:
            c_close(self.fd)
            self.fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __dealloc__(self):
        if self.fd >= 0:
            c_close(self.fd)
            self.fd = -1

    def __repr__(self):
        return f"<catzilla.files._OpenFile fd={self.fd}>"


# -- HTTP-dates (RFC 9110 §5.6.7) --------------------------------------------

cdef dict _MONTHS = {m: i + 1 for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))}
cdef frozenset _DAY_NAMES = frozenset(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
cdef frozenset _LONG_DAY_NAMES = frozenset(
    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"))


cdef inline bint _digits(str s, Py_ssize_t n):
    """s is exactly n ASCII digits (n < 0: one or more)."""
    cdef Py_UCS4 c
    if (n >= 0 and len(s) != n) or len(s) == 0:
        return False
    for c in s:
        if c < u'0' or c > u'9':
            return False
    return True


cdef object _time_of_day(str s):
    parts = s.split(":")
    if len(parts) != 3 or not all(_digits(p, 2) for p in parts):
        return None
    h, m, sec = int(parts[0]), int(parts[1]), int(parts[2])
    if h > 23 or m > 59 or sec > 60:
        return None
    return h, m, min(sec, 59)          # a leap second counts as :59


def parse_http_date(value):
    """Seconds since the epoch for an HTTP-date in any of the three formats a
    recipient must accept (IMF-fixdate, RFC 850, asctime), or None when the
    value is not a valid HTTP-date (callers then ignore the field)."""
    cdef list parts
    if not isinstance(value, str):
        return None
    parts = (<str>value).split()
    wkday = parts[0][:len(parts[0]) - 1] if parts and parts[0].endswith(",") else None
    if len(parts) == 6 and parts[5] == "GMT" and wkday in _DAY_NAMES:
        # IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        if not _digits(parts[1], 2) or not _digits(parts[3], 4):
            return None
        day, mon, year, tod = int(parts[1]), _MONTHS.get(parts[2]), int(parts[3]), parts[4]
    elif len(parts) == 4 and parts[3] == "GMT" and wkday in _LONG_DAY_NAMES:
        # RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        dmy = parts[1].split("-")
        if len(dmy) != 3 or not _digits(dmy[0], 2) or not _digits(dmy[2], 2):
            return None
        day, mon, tod = int(dmy[0]), _MONTHS.get(dmy[1]), parts[2]
        # a two-digit year more than 50 years ahead is the most recent past such year
        this_year = time.gmtime().tm_year
        year = this_year - this_year % 100 + int(dmy[2])
        if year > this_year + 50:
            year -= 100
    elif len(parts) == 5 and parts[0] in _DAY_NAMES:
        # asctime: Sun Nov  6 08:49:37 1994
        if not _digits(parts[2], -1) or len(parts[2]) > 2 or not _digits(parts[4], 4):
            return None
        day, mon, tod, year = int(parts[2]), _MONTHS.get(parts[1]), parts[3], int(parts[4])
    else:
        return None
    if mon is None:
        return None
    hms = _time_of_day(tod)
    if hms is None:
        return None
    try:
        datetime.date(year, mon, day)
    except ValueError:
        return None
    return calendar.timegm((year, mon, day, hms[0], hms[1], hms[2], 0, 0, 0))


def http_date(double timestamp):
    """IMF-fixdate for a POSIX timestamp (whole seconds)."""
    return formatdate(int(timestamp), usegmt=True)


# -- entity tags (RFC 9110 §8.8.3) ---------------------------------------------

cdef object _parse_etags(str value):
    """'*' -> True; otherwise a list of (weak, opaque-tag with quotes). Parsing
    stops at the first malformed member (what was parsed so far is kept)."""
    cdef Py_ssize_t i = 0, n = len(value), j
    cdef list tags = []
    cdef bint weak
    if value.strip() == "*":
        return True
    while i < n:
        while i < n and value[i] in " \t,":
            i += 1
        if i >= n:
            break
        weak = False
        if value.startswith("W/", i):
            weak = True
            i += 2
        if i >= n or value[i] != '"':
            break
        j = value.find('"', i + 1)
        if j < 0:
            break
        tags.append((weak, value[i:j + 1]))
        i = j + 1
    return tags


cdef bint _etag_matches(object tags, str etag, bint strong):
    """Does the current etag match any of tags (strong or weak comparison)?"""
    cdef bint cur_weak = etag.startswith("W/")
    cdef str cur = etag[2:] if cur_weak else etag
    if tags is True:
        return True
    for weak, opaque in tags:
        if opaque == cur and (not strong or (not weak and not cur_weak)):
            return True
    return False


# -- Range (RFC 9110 §14) --------------------------------------------------------

cdef object _num(str digits):
    # more digits than any file size can have: a number larger than every size
    return int(digits) if len(digits) <= 18 else (1 << 63)


cdef object _parse_range(str value, long long size):
    """None: ignore the field (invalid, other unit, several ranges: 200 with the
    whole file); False: no satisfiable range (416); else (first, last)."""
    cdef str unit, spec
    cdef list specs, ranges
    cdef Py_ssize_t eq = value.find("=")
    if eq < 0:
        return None
    unit = value[:eq].strip().lower()
    if unit != "bytes":
        return None
    specs = split_list(value[eq + 1:])
    if not specs or len(specs) > 100:
        return None
    ranges = []
    for spec in specs:
        dash = spec.find("-")
        if dash < 0:
            return None
        a, b = spec[:dash].strip(), spec[dash + 1:].strip()
        if a == "":
            if not _digits(b, -1):
                return None
            suffix = _num(b)
            if suffix > 0 and size > 0:
                ranges.append((max(size - suffix, 0), size - 1))
            elif suffix > 0:
                ranges.append(None)          # satisfiable but empty: whole (empty) file
        else:
            if not _digits(a, -1) or (b != "" and not _digits(b, -1)):
                return None
            first = _num(a)
            if b != "":
                last = _num(b)
                if last < first:
                    return None              # an invalid range-spec: ignore the field
            else:
                last = size - 1
            if first < size:
                ranges.append((first, min(last, size - 1)))
    if not ranges:
        return False
    if len(ranges) > 1 or ranges[0] is None:
        return None                          # several ranges: the whole file (RFC 9110 allows it)
    return ranges[0]


cdef list _header_list(object headers, str name):
    return headers.getlist(name) if headers is not None else []


cdef str _joined(object headers, str name):
    cdef list values = _header_list(headers, name)
    return ", ".join(values) if values else None


cdef object _single_date(object headers, str name):
    cdef list values = _header_list(headers, name)
    if len(values) != 1:
        return None                          # absent, or more than one member: ignore
    return parse_http_date(values[0])


# -- Content-Disposition (RFC 6266, RFC 8187) -------------------------------------

cdef str _ascii_fallback(str name):
    cdef list out = []
    decomposed = unicodedata.normalize("NFKD", name)
    for ch in decomposed:
        o = ord(ch)
        if unicodedata.combining(ch):
            continue
        if o < 0x20 or o == 0x7f or o > 0x7e:
            out.append("_")
        elif ch == '"' or ch == "\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def content_disposition(str disposition, str filename):
    """'attachment; filename="..."' plus filename*=UTF-8''... when the name is
    not plain printable ASCII (clients that know RFC 8187 prefer filename*)."""
    fallback = _ascii_fallback(filename)
    value = f'{disposition}; filename="{fallback}"'
    if fallback != filename:
        value += "; filename*=UTF-8''" + quote(filename, safe="!#$&+-.^_`|~", encoding="utf-8")
    return value


cdef str _guess_type(str name):
    ctype, encoding = mimetypes.guess_type(name, strict=False)
    if encoding is not None:
        return _ENCODING_TYPES.get(encoding, "application/octet-stream")
    if ctype is None:
        return None
    if ctype.startswith("text/") or ctype in ("application/javascript", "application/json",
                                               "image/svg+xml", "application/xml"):
        if ctype != "application/json":
            return ctype + "; charset=utf-8"
    return ctype


def guess_media_type(name):
    """The Content-Type a FileResponse sends for a file called `name` (str or
    bytes path), or None when the name tells nothing (it then sends
    application/octet-stream). For StaticFiles, which serves x.js.gz with the
    media type of x.js."""
    return _guess_type(os.fsdecode(name))


cdef class FileResponse(Response):
    """FileResponse(path, status_code=200, headers=None, media_type=None, *,
    filename=None, content_disposition_type="attachment")

    Sends the file at `path` with sendfile(2): Content-Type guessed (once) from the
    name (or `media_type`; `content_type=` is the same), Last-Modified, a
    strong ETag, Accept-Ranges; answers 304 to a matching If-None-Match /
    If-Modified-Since, 412 to a failed If-Match / If-Unmodified-Since, 206 to a
    single satisfiable byte Range (honouring If-Range), 416 when no range is
    satisfiable (several ranges get the whole file with 200). `filename` adds
    Content-Disposition (with filename* for non-ASCII names). A missing file or
    a directory is a 404, a file the server may not read a 403. Headers given
    here win over the computed ones (an ETag or Last-Modified given here is
    what the preconditions are checked against). Conditional requests and
    ranges are only honoured when the status is 200. The file is opened and
    checked for each request the response answers, so one FileResponse can
    answer many."""

    cdef public object path
    cdef public object filename
    cdef public str content_disposition_type
    # The file describe() opened and stat()ed for the request being answered,
    # taken by the next send(): one open and one fstat per request.
    cdef _OpenFile opened
    cdef object opened_stat
    cdef BodyInfo opened_info

    def __init__(self, path, status_code=None, headers=None, media_type=None, background=None, *,
                 filename=None, content_type=None, str content_disposition_type="attachment", status=None):
        if media_type is not None and content_type is not None:
            raise TypeError("give media_type or content_type, not both")
        Response.__init__(self, b"", status_code, headers, None, background, status=status)
        self.path = os.fspath(path)
        if filename is not None and not isinstance(filename, str):
            raise TypeError("filename must be a str")
        self.filename = filename
        if content_disposition_type not in ("attachment", "inline"):
            raise ValueError("content_disposition_type must be 'attachment' or 'inline'")
        self.content_disposition_type = content_disposition_type
        ct = content_type if media_type is None else media_type
        if ct is None:                               # guessed once: what middleware sees, what is sent
            ct = (filename and _guess_type(filename)) or _guess_type(os.fsdecode(self.path)) \
                or "application/octet-stream"
        self.content_type = ct                       # validated now

    cdef _OpenFile _open(self):
        cdef _OpenFile f = _OpenFile.__new__(_OpenFile)
        try:
            f.fd = os.open(self.path, _O_FLAGS)
        except ValueError:                   # an embedded NUL: no such file
            raise HTTPException(404) from None
        except OSError as exc:
            if exc.errno in _FORBIDDEN_ERRNOS:
                raise HTTPException(403) from None
            if exc.errno in _NOT_FOUND_ERRNOS:
                raise HTTPException(404) from None
            raise
        return f

    cdef object _open_regular(self):
        """(open file, its stat) for a regular file; HTTPException 404/403 otherwise."""
        cdef _OpenFile f = self._open()
        try:
            st = os.fstat(f.fd)
            if not _stat.S_ISREG(st.st_mode):    # a directory, FIFO, device...: nothing to send
                raise HTTPException(404)
        except BaseException:
            f.close()
            raise
        return f, st

    cdef BodyInfo describe(self):
        if self.opened is None:
            try:
                self.opened, self.opened_stat = self._open_regular()
            except (HTTPException, OSError):
                return body_info("file", None, True)    # send() answers 404/403 (or raises) itself
            self.opened_info = body_info("file", self.opened_stat.st_size, True)
        return self.opened_info

    cdef int send(self, Transport t, Request req) except -1:
        cdef _OpenFile f
        cdef list user = self._headers
        cdef Headers given = Headers.from_pairs(user)     # read-only view, no copy
        cdef list validators = []
        cdef list out
        cdef long long size, first, last
        cdef int status = self.status_code
        cdef str method = req.method if req is not None else "GET"
        cdef bint get_or_head = method == "GET" or method == "HEAD"
        cdef bint chunked
        if self.opened is not None:
            f, st = self.opened, self.opened_stat
            self.opened = self.opened_stat = self.opened_info = None
        else:
            f, st = self._open_regular()
        size = st.st_size
        headers = req.headers if req is not None else None

        etag = given.get("etag")
        if etag is None:
            etag = body_etag(self, f'"{size:x}-{st.st_mtime_ns:x}"')
            validators.append(("etag", etag))
        lm_text = given.get("last-modified")
        if lm_text is None:
            mtime = st.st_mtime_ns // 1000000000
            validators.append(("last-modified", http_date(mtime)))
        else:
            mtime = parse_http_date(lm_text)

        if status == 200:
            # RFC 9110 §13.2.2, in this order.
            if_match = _joined(headers, "if-match")
            if if_match is not None:
                if not _etag_matches(_parse_etags(if_match), etag, True):
                    return self._answer(t, f, 412, user, b"Precondition Failed\n")
            else:
                ius = _single_date(headers, "if-unmodified-since")
                if ius is not None and mtime is not None and mtime > ius:
                    return self._answer(t, f, 412, user, b"Precondition Failed\n")
            inm = _joined(headers, "if-none-match")
            if inm is not None:
                if _etag_matches(_parse_etags(inm), etag, False):
                    if get_or_head:
                        return self._answer(t, f, 304, user + validators, None)
                    return self._answer(t, f, 412, user, b"Precondition Failed\n")
            elif get_or_head:
                ims = _single_date(headers, "if-modified-since")
                if ims is not None and mtime is not None and mtime <= ims:
                    return self._answer(t, f, 304, user + validators, None)

        out = user + validators
        if self.filename is not None and "content-disposition" not in given:
            out.append(("content-disposition",
                        content_disposition(self.content_disposition_type, self.filename)))
        if self._filters is not None:
            chunked = t.write_stream_head(status, self._ct, out)
            return t.start_stream(status, _Blocks(f, size), chunked, None, 0.0, b"", self._filters)
        if "accept-ranges" not in given:
            out.append(("accept-ranges", "bytes"))

        first, last = 0, size - 1
        if status == 200 and get_or_head:
            range_value = _joined(headers, "range")
            if range_value is not None and _if_range(headers, etag, mtime):
                r = _parse_range(range_value, size)
                if r is False:
                    out.append(("content-range", f"bytes */{size}"))
                    return self._answer(t, f, 416, out, b"Range Not Satisfiable\n")
                if r is not None:
                    first, last = r
                    status = 206
                    out.append(("content-range", f"bytes {first}-{last}/{size}"))
        t.write_head(status, self._ct, out, last - first + 1, False)
        return t.write_file(status, f, first, last - first + 1)

    cdef int _answer(self, Transport t, _OpenFile f, int status, list headers, bytes body) except -1:
        """A precondition or range answer instead of the file (body None: 304, no body)."""
        f.close()
        if body is None:
            t.write_head(status, None, headers, -1, False)
            return t.response_sent(status, 0)
        if self._filters is not None:
            body = filtered_whole(self._filters, body)
        t.write_head(status, _CT_TEXT, headers, len(body), False)
        return t.write_body(status, body)

    def __repr__(self):
        return f"<FileResponse {self.status_code} {self.path!r}>"


cdef bytes _CT_TEXT = b"text/plain; charset=utf-8"


class _Blocks:
    """A file's bytes as an iterable of blocks (a stream worker reads them),
    for a wrapped file body."""

    def __init__(self, f, size):
        self.f = f
        self.left = size
        self.offset = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.left <= 0 or self.f.closed:
            self.close()
            raise StopIteration
        block = os.pread(self.f.fileno(), min(self.left, 65536), self.offset)
        if not block:                    # the file shrank: end the body where it ends now
            self.left = 0
            return b""
        self.offset += len(block)
        self.left -= len(block)
        return block

    def close(self):
        self.f.close()


cdef bint _if_range(object headers, str etag, object mtime):
    """No If-Range, or one that still matches: honour Range."""
    cdef list values = _header_list(headers, "if-range")
    cdef str v
    if not values:
        return True
    if len(values) != 1:
        return False
    v = values[0].strip()
    if v.startswith('"') or v.startswith("W/"):
        tags = _parse_etags(v)
        # strong comparison: a weak tag never matches (RFC 9110 §13.1.5)
        return tags is not True and len(tags) == 1 and _etag_matches(tags, etag, True)
    date = parse_http_date(v)
    # A date validates only if it is exactly Last-Modified and that is a
    # strong validator: the file did not change within that second.
    return date is not None and mtime is not None and date == mtime and mtime < int(time.time()) - 1
