/* Load generator for the WebSocket and upload scenarios of benchmarks/run.py.
 *
 *   loadgen ws HOST PORT PATH CONNECTIONS SIZE WARMUP_S DURATION_S
 *       CONNECTIONS WebSockets (RFC 6455) on one epoll thread; each sends one masked binary
 *       message of SIZE bytes, waits for the echo (checked byte for byte), sends the next.
 *       Counts the round trips that end inside the DURATION_S window that follows WARMUP_S.
 *   loadgen upload HOST PORT PATH BYTES FRAMING CHUNK MIN_UPLOADS DURATION_S
 *       POSTs a BYTES-byte body (FRAMING "cl": Content-Length, "chunked": CHUNK-byte chunks),
 *       one connection per upload ("Connection: close"), until DURATION_S have passed and at
 *       least MIN_UPLOADS finished. Each answer must be 200 with `"bytes": BYTES` in its body.
 *
 * Prints one JSON object on stdout: the rate, and this process's own CPU time over the
 * measured window (getrusage), so a report can show whether the client was the bottleneck.
 * On a failure it prints {"error": "..."} and exits 1. Compiled by run.py with gcc -O2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#define MAX_CONNECTIONS 4096
#define MAX_WS_SIZE (16u * 1024u * 1024u)
#define HEAD_MAX 8192
#define LAT_BUCKETS 1000000          /* 1 us resolution up to 1 s; slower ones land in the last */

static void fail(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* JSON string: the messages we build hold no quotes or backslashes except from strerror */
    for (char *p = msg; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = ' ';
    printf("{\"error\": \"%s\"}\n", msg);
    fflush(stdout);
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void cpu_times(double *user, double *sys) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) fail("getrusage: %s", strerror(errno));
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static long parse_long(const char *s, const char *what, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) fail("bad %s: %s", what, s);
    return v;
}

static double parse_double(const char *s, const char *what) {
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || v < 0 || v > 86400) fail("bad %s: %s", what, s);
    return v;
}

static int connect_to(const char *host, const char *port) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) fail("getaddrinfo %s:%s: %s", host, port, gai_strerror(rc));
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) fail("connect %s:%s: %s", host, port, strerror(errno));
    /* blocking phases (handshake, uploads) never hang on a stuck server */
    struct timeval tv = {.tv_sec = 60, .tv_usec = 0};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
        fail("socket timeouts: %s", strerror(errno));
    return fd;
}

static void write_all(int fd, const char *buf, size_t len, const char *what) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write (%s): %s", what, strerror(errno));
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Reads until "\r\n\r\n"; returns the head length (through the blank line) and leaves any
 * bytes after it in buf[head_len..*got). */
static size_t read_head(int fd, char *buf, size_t cap, size_t *got) {
    *got = 0;
    while (*got < cap) {
        ssize_t n = read(fd, buf + *got, cap - *got);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("read (response head): %s", strerror(errno));
        }
        if (n == 0) fail("connection closed before the end of the response head");
        *got += (size_t)n;
        void *end = memmem(buf, *got, "\r\n\r\n", 4);
        if (end) return (size_t)((char *)end - buf) + 4;
    }
    fail("response head longer than %zu bytes", cap);
    return 0;
}

static int status_of(const char *head, size_t len) {
    /* "HTTP/1.1 101 ..." */
    if (len < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ') return -1;
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (head[i] < '0' || head[i] > '9') return -1;
        st = st * 10 + (head[i] - '0');
    }
    return st;
}

/* ------------------------------------------------------------------------------------------
 * WebSocket echo
 * ------------------------------------------------------------------------------------------ */

struct conn {
    int fd;
    unsigned char *frame;      /* the masked message as sent, header included */
    size_t frame_len, frame_off;
    unsigned char pong[2 + 4 + 125];
    size_t pong_len, pong_off;
    unsigned char *rbuf;
    size_t rcap, rlen;
    size_t msg_got;            /* payload bytes of the current echo received so far */
    int want_out;              /* EPOLLOUT registered */
    double sent_at;
};

static unsigned char *g_payload;   /* the unmasked message every echo must equal */
static size_t g_size;
static uint32_t g_lat[LAT_BUCKETS];

static uint32_t xorshift(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* A client frame: FIN + opcode, MASK bit + length, 4-byte key, masked payload. */
static size_t build_frame(unsigned char *out, int opcode, const unsigned char *payload, size_t len,
                          uint32_t key) {
    size_t h = 0;
    out[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        out[h++] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        out[h++] = 0x80 | 126;
        out[h++] = (unsigned char)(len >> 8);
        out[h++] = (unsigned char)len;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) out[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    unsigned char mask[4] = {(unsigned char)(key >> 24), (unsigned char)(key >> 16),
                             (unsigned char)(key >> 8), (unsigned char)key};
    memcpy(out + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++) out[h + i] = payload[i] ^ mask[i & 3];
    return h + len;
}

static void set_events(int ep, struct conn *c, int want_out) {
    if (c->want_out == want_out) return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) fail("epoll_ctl: %s", strerror(errno));
    c->want_out = want_out;
}

/* Writes what is pending (a pong between messages, else the rest of the message).
 * Returns 1 when nothing is left to write. */
static int flush_out(int ep, struct conn *c) {
    for (;;) {
        const unsigned char *p;
        size_t left;
        int is_pong = c->pong_len > 0 && (c->frame_off == 0 || c->frame_off == c->frame_len);
        if (is_pong) {
            p = c->pong + c->pong_off;
            left = c->pong_len - c->pong_off;
        } else if (c->frame_off < c->frame_len) {
            p = c->frame + c->frame_off;
            left = c->frame_len - c->frame_off;
        } else {
            set_events(ep, c, 0);
            return 1;
        }
        ssize_t n = write(c->fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_events(ep, c, 1);
                return 0;
            }
            fail("write: %s", strerror(errno));
        }
        if (is_pong) {
            c->pong_off += (size_t)n;
            if (c->pong_off == c->pong_len) c->pong_len = c->pong_off = 0;
        } else {
            c->frame_off += (size_t)n;
        }
    }
}

static void send_message(int ep, struct conn *c, double t) {
    c->frame_off = 0;
    c->msg_got = 0;
    c->sent_at = t;
    flush_out(ep, c);
}

/* Parses every complete frame in rbuf. Returns the number of echoes completed. */
static long parse_frames(int ep, struct conn *c, int measuring, double *t_cache) {
    long done = 0;
    size_t pos = 0;
    for (;;) {
        size_t avail = c->rlen - pos;
        if (avail < 2) break;
        const unsigned char *f = c->rbuf + pos;
        int fin = f[0] & 0x80, opcode = f[0] & 0x0f;
        if (f[0] & 0x70) fail("server frame with RSV bits set (0x%02x): no extension was negotiated", f[0]);
        if (f[1] & 0x80) fail("server frame is masked");
        uint64_t len = f[1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = ((uint64_t)f[2] << 8) | f[3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | f[2 + i];
            h = 10;
        }
        if (len > c->rcap - h) fail("server frame of %llu bytes is larger than expected", (unsigned long long)len);
        if (avail < h + len) break;
        const unsigned char *payload = f + h;
        if (opcode == 0x9) {                 /* ping: answer with a pong carrying its payload */
            if (len > 125) fail("ping payload of %llu bytes", (unsigned long long)len);
            c->pong_len = build_frame(c->pong, 0xA, payload, (size_t)len, 0x5a5a5a5au);
            c->pong_off = 0;
            flush_out(ep, c);
        } else if (opcode == 0xA) {          /* unsolicited pong: ignore */
        } else if (opcode == 0x8) {
            unsigned code = len >= 2 ? ((unsigned)payload[0] << 8 | payload[1]) : 0;
            fail("server sent a close frame (code %u)", code);
        } else if (opcode == 0x2 || opcode == 0x1 || opcode == 0x0) {
            if ((opcode != 0) != (c->msg_got == 0)) fail("unexpected continuation/data frame order");
            if (opcode == 0x1) fail("echo came back as a text message (sent binary)");
            if (c->msg_got + len > g_size) fail("echo longer than the %zu-byte message", g_size);
            if (memcmp(payload, g_payload + c->msg_got, (size_t)len) != 0) fail("echo differs from the message sent");
            c->msg_got += (size_t)len;
            if (fin) {
                if (c->msg_got != g_size) fail("echo of %zu bytes, sent %zu", c->msg_got, g_size);
                if (c->frame_off != c->frame_len) fail("echo arrived before the message was sent");
                double t = now_s();
                *t_cache = t;
                if (measuring) {
                    uint64_t us = (uint64_t)((t - c->sent_at) * 1e6);
                    g_lat[us < LAT_BUCKETS ? us : LAT_BUCKETS - 1]++;
                    done++;
                }
                send_message(ep, c, t);
            }
        } else {
            fail("server frame with opcode %d", opcode);
        }
        pos += h + (size_t)len;
    }
    if (pos > 0) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
    return done;
}

static double percentile_us(uint64_t total, double q) {
    if (total == 0) return 0;
    uint64_t want = (uint64_t)(q * (double)total), seen = 0;
    if (want >= total) want = total - 1;
    for (size_t i = 0; i < LAT_BUCKETS; i++) {
        seen += g_lat[i];
        if (seen > want) return (double)i;
    }
    return (double)(LAT_BUCKETS - 1);
}

static int run_ws(int argc, char **argv) {
    if (argc != 9) fail("usage: loadgen ws HOST PORT PATH CONNECTIONS SIZE WARMUP_S DURATION_S");
    const char *host = argv[2], *port = argv[3], *path = argv[4];
    int nconn = (int)parse_long(argv[5], "connections", 1, MAX_CONNECTIONS);
    g_size = (size_t)parse_long(argv[6], "size", 1, MAX_WS_SIZE);
    double warmup = parse_double(argv[7], "warm-up"), duration = parse_double(argv[8], "duration");
    if (duration <= 0) fail("duration must be > 0");

    g_payload = malloc(g_size);
    if (!g_payload) fail("out of memory");
    for (size_t i = 0; i < g_size; i++) g_payload[i] = (unsigned char)(i * 31u + 7u);

    struct conn *conns = calloc((size_t)nconn, sizeof *conns);
    if (!conns) fail("out of memory");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) fail("epoll_create1: %s", strerror(errno));
    uint32_t seed = 0x9e3779b9u;
    char req[1024], head[HEAD_MAX];
    for (int i = 0; i < nconn; i++) {
        struct conn *c = &conns[i];
        c->fd = connect_to(host, port);
        int one = 1;
        if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            fail("TCP_NODELAY: %s", strerror(errno));
        /* the key only has to be 16 bytes in base64; vary it per connection */
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char key[25];
        for (int k = 0; k < 21; k++) key[k] = b64[xorshift(&seed) & 63];
        key[21] = b64[xorshift(&seed) & 48];   /* 16 bytes -> 22 chars, the last holding 2 bits */
        key[22] = '=';
        key[23] = '=';
        key[24] = 0;
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         path, host, port, key);
        if (n <= 0 || (size_t)n >= sizeof req) fail("request line too long");
        write_all(c->fd, req, (size_t)n, "handshake");
        size_t got;
        size_t hl = read_head(c->fd, head, sizeof head, &got);
        int st = status_of(head, hl);
        if (st != 101) {
            char *eol = memchr(head, '\r', hl);
            fail("handshake answered %.*s", (int)(eol ? eol - head : 40), head);
        }
        c->rcap = g_size + 14 > 65536 ? g_size + 14 : 65536;
        c->rbuf = malloc(c->rcap);
        c->frame = malloc(g_size + 14);
        if (!c->rbuf || !c->frame) fail("out of memory");
        if (got - hl > c->rcap) fail("too much data after the handshake");
        memcpy(c->rbuf, head + hl, got - hl);
        c->rlen = got - hl;
        c->frame_len = build_frame(c->frame, 0x2, g_payload, g_size, xorshift(&seed));
        int fl = fcntl(c->fd, F_GETFL);
        if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0) fail("O_NONBLOCK: %s", strerror(errno));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) fail("epoll_ctl: %s", strerror(errno));
    }

    double t = now_s();
    double t_measure = t + warmup, t_end = t_measure + duration;
    for (int i = 0; i < nconn; i++) send_message(ep, &conns[i], t);

    long count = 0;
    int measuring = 0;
    double u0 = 0, s0 = 0, t0 = 0;
    struct epoll_event events[256];
    double t_now = t;
    for (;;) {
        if (!measuring && t_now >= t_measure) {
            measuring = 1;
            t0 = now_s();
            cpu_times(&u0, &s0);
        }
        if (t_now >= t_end) break;
        int ms = (int)(((measuring ? t_end : t_measure) - t_now) * 1000.0) + 1;
        int n = epoll_wait(ep, events, 256, ms < 1 ? 1 : ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("epoll_wait: %s", strerror(errno));
        }
        t_now = now_s();
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (events[i].events & EPOLLOUT) flush_out(ep, c);
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                for (;;) {
                    size_t room = c->rcap - c->rlen;
                    if (room == 0) fail("receive buffer full without a complete frame");
                    ssize_t r = read(c->fd, c->rbuf + c->rlen, room);
                    if (r < 0) {
                        if (errno == EINTR) continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                        fail("read: %s", strerror(errno));
                    }
                    if (r == 0) fail("server closed a connection");
                    c->rlen += (size_t)r;
                    count += parse_frames(ep, c, measuring, &t_now);
                    if ((size_t)r < room) break;   /* a short read: the socket is drained */
                }
            }
        }
    }
    double t1 = now_s(), u1, s1;
    cpu_times(&u1, &s1);
    /* close politely: a masked close frame (1000), then the socket */
    for (int i = 0; i < nconn; i++) {
        unsigned char cf[2 + 4 + 2], code[2] = {0x03, 0xe8};
        size_t len = build_frame(cf, 0x8, code, 2, 0x01020304u);
        ssize_t w = write(conns[i].fd, cf, len);
        (void)w;   /* best effort: the measurement is over */
        close(conns[i].fd);
    }
    double secs = t1 - t0;
    printf("{\"connections\": %d, \"size\": %zu, \"seconds\": %.6f, \"messages\": %ld, \"msgs_per_s\": %.3f, "
           "\"p50_us\": %.0f, \"p99_us\": %.0f, \"cpu_user\": %.6f, \"cpu_sys\": %.6f}\n",
           nconn, g_size, secs, count, secs > 0 ? (double)count / secs : 0.0,
           percentile_us((uint64_t)count, 0.50), percentile_us((uint64_t)count, 0.99), u1 - u0, s1 - s0);
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Upload
 * ------------------------------------------------------------------------------------------ */

#define UPLOAD_BLOCK (1u << 20)

/* One upload; returns the seconds from connect to the end of the answer. */
static double upload_once(const char *host, const char *port, const char *path, uint64_t total, int chunked,
                          const unsigned char *block, size_t block_len, size_t chunk) {
    char head[1024];
    double t0 = now_s();
    int fd = connect_to(host, port);
    int n = chunked
        ? snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/octet-stream\r\n"
                   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n", path, host, port)
        : snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Length: %llu\r\nConnection: close\r\n\r\n", path, host, port, (unsigned long long)total);
    if (n <= 0 || (size_t)n >= sizeof head) fail("request head too long");
    write_all(fd, head, (size_t)n, "upload head");
    uint64_t left = total;
    if (!chunked) {
        while (left > 0) {
            size_t k = left < block_len ? (size_t)left : block_len;
            write_all(fd, (const char *)block, k, "upload body");
            left -= k;
        }
    } else {
        /* block = whole framed chunks of `chunk` payload bytes; per_block payload bytes each */
        size_t framed = (size_t)snprintf(head, sizeof head, "%zx\r\n", chunk) + chunk + 2;
        size_t per_block = (block_len / framed) * chunk;
        while (left >= per_block) {
            write_all(fd, (const char *)block, (block_len / framed) * framed, "upload body");
            left -= per_block;
        }
        while (left > 0) {
            size_t k = left < chunk ? (size_t)left : chunk;
            int h = snprintf(head, sizeof head, "%zx\r\n", k);
            write_all(fd, head, (size_t)h, "chunk size");
            write_all(fd, (const char *)block + (framed - chunk - 2), k, "upload body");
            write_all(fd, "\r\n", 2, "chunk end");
            left -= k;
        }
        write_all(fd, "0\r\n\r\n", 5, "last chunk");
    }
    static char resp[65536];
    size_t got = 0;
    for (;;) {
        if (got == sizeof resp) fail("answer longer than %zu bytes", sizeof resp);
        ssize_t r = read(fd, resp + got, sizeof resp - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            fail("read (answer): %s", strerror(errno));
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    double secs = now_s() - t0;
    char *end = memmem(resp, got, "\r\n\r\n", 4);
    if (!end) fail("no complete answer head (%zu bytes)", got);
    int st = status_of(resp, (size_t)(end - resp));
    if (st != 200) fail("upload answered status %d", st);
    char *body = end + 4, *stop = resp + got;
    char *k = memmem(body, (size_t)(stop - body), "\"bytes\"", 7);
    if (!k) fail("answer has no \"bytes\" field");
    k += 7;
    while (k < stop && (*k == ' ' || *k == ':')) k++;
    uint64_t v = 0;
    int digits = 0;
    while (k < stop && *k >= '0' && *k <= '9' && digits < 20) v = v * 10 + (uint64_t)(*k++ - '0'), digits++;
    if (!digits || v != total) fail("server counted %llu bytes, sent %llu", (unsigned long long)v,
                                    (unsigned long long)total);
    return secs;
}

static int run_upload(int argc, char **argv) {
    if (argc != 10) fail("usage: loadgen upload HOST PORT PATH BYTES FRAMING CHUNK MIN_UPLOADS DURATION_S");
    const char *host = argv[2], *port = argv[3], *path = argv[4];
    uint64_t total = (uint64_t)parse_long(argv[5], "bytes", 1, (long)1 << 40);
    int chunked;
    if (strcmp(argv[6], "cl") == 0) chunked = 0;
    else if (strcmp(argv[6], "chunked") == 0) chunked = 1;
    else fail("framing must be cl or chunked");
    size_t chunk = (size_t)parse_long(argv[7], "chunk", 1, UPLOAD_BLOCK / 2);
    long min_uploads = parse_long(argv[8], "min uploads", 1, 1000000);
    double duration = parse_double(argv[9], "duration");

    unsigned char *block = malloc(UPLOAD_BLOCK);
    if (!block) fail("out of memory");
    size_t block_len;
    if (!chunked) {
        for (size_t i = 0; i < UPLOAD_BLOCK; i++) block[i] = (unsigned char)(i * 131u + 17u);
        block_len = UPLOAD_BLOCK;
    } else {
        char sz[32];
        int h = snprintf(sz, sizeof sz, "%zx\r\n", chunk);
        size_t framed = (size_t)h + chunk + 2, count = UPLOAD_BLOCK / framed;
        for (size_t j = 0; j < count; j++) {
            unsigned char *p = block + j * framed;
            memcpy(p, sz, (size_t)h);
            for (size_t i = 0; i < chunk; i++) p[h + i] = (unsigned char)(i * 131u + 17u);
            memcpy(p + h + chunk, "\r\n", 2);
        }
        block_len = count * framed;
    }

    double u0, s0, u1, s1, t_start = now_s(), busy = 0;
    cpu_times(&u0, &s0);
    long uploads = 0;
    while (uploads < min_uploads || now_s() - t_start < duration) {
        busy += upload_once(host, port, path, total, chunked, block, block_len, chunk);
        uploads++;
    }
    cpu_times(&u1, &s1);
    double bytes = (double)total * (double)uploads;
    printf("{\"framing\": \"%s\", \"uploads\": %ld, \"bytes\": %.0f, \"seconds\": %.6f, \"mb_per_s\": %.3f, "
           "\"cpu_user\": %.6f, \"cpu_sys\": %.6f}\n",
           chunked ? "chunked" : "cl", uploads, bytes, busy, bytes / busy / 1e6, u1 - u0, s1 - s0);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "ws") == 0) return run_ws(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "upload") == 0) return run_upload(argc, argv);
    fail("usage: loadgen ws|upload ...");
    return 1;
}
