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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#define MAX_CONNECTIONS 4096
#define MAX_WS_SIZE (16u * 1024u * 1024u)
#define HEAD_MAX 8192
#define LAT_BUCKETS 1000000          /* 1 us resolution up to 1 s; slower ones land in the last */

/* In a forked fan-out subscriber process: where fail() leaves its message for the parent
 * (one JSON line on stdout must come from the parent alone). */
static char *g_fail_slot;
#define FAIL_SLOT 256

static void fail(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_fail_slot) {
        size_t n = strlen(msg) < FAIL_SLOT - 1 ? strlen(msg) : FAIL_SLOT - 1;
        memcpy(g_fail_slot, msg, n);
        g_fail_slot[n] = 0;
        _exit(1);
    }
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

/* host:port's addresses (TCP); the caller frees them */
static struct addrinfo *resolve(const char *host, const char *port) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) fail("getaddrinfo %s:%s: %s", host, port, gai_strerror(rc));
    return res;
}

static int connect_to(const char *host, const char *port) {
    struct addrinfo *res = resolve(host, port);
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

/* ------------------------------------------------------------------------------------------
 * Fan-out subscribers (sse, wssub)
 *
 * Every event's data holds `"t":<publish time, CLOCK_REALTIME ns>` and `"seq":<n>` (n counts
 * the publisher's ticks, +1 each). The window covers the events *published* in
 * [t0, t0 + DURATION_S); each process then drains until every one of its connections has an
 * event published at or after the window's end (or DRAIN_MAX_S passed), so slow deliveries of
 * window events are counted, with their latency, and the ones still missing are "missing".
 * ------------------------------------------------------------------------------------------ */

#define FAN_MAX_CONNECTIONS 200000
#define FAN_MAX_PROCS 64
#define FAN_BATCH 64                 /* connects in flight per process: well inside any backlog */
#define HIST_BUCKETS 1000000         /* 10 us each: up to 10 s; slower ones land in the last */
#define HIST_NS 10000
#define DRAIN_MAX_S 10.0
#define LINE_KEEP 256u               /* bytes of an SSE line / WS message kept for the t/seq parse */

enum { FAN_SSE = 1, FAN_WS = 2 };
enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_RAW };

struct fconn {
    int fd;
    int topic;
    /* SSE: chunked framing, then lines */
    unsigned char ch_state;
    unsigned char prev_cr;
    unsigned char line_over;
    unsigned char ev_named, ev_has_data, ev_has_t;
    uint64_t ch_left;
    int64_t ev_t, ev_seq;
    uint16_t line_len;
    /* WebSocket: frame header, then payload (kept up to LINE_KEEP bytes) */
    unsigned char hdr[14];
    unsigned char hdr_len;
    unsigned char opcode, fin, in_msg;    /* in_msg: a fragmented data message is open */
    unsigned char msg_opcode;
    uint64_t pay_left;
    uint16_t msg_len, ctl_len;
    unsigned char ctl[125];
    unsigned char out[2 + 4 + 125];       /* a pong waiting for EPOLLOUT */
    uint8_t out_len, out_off;
    /* per-connection bookkeeping */
    int64_t last_seq;                     /* -1: none yet */
    int64_t last_t;
    unsigned char reached_end;            /* has an event published at or after t1 */
    unsigned char got_in_window;
    char line[LINE_KEEP];                 /* SSE line / WS message prefix */
};

struct fan_shared {                        /* MAP_SHARED: parent <-> subscriber processes */
    volatile int connected;                /* processes done connecting */
    volatile int go;                       /* the parent has set the window */
    int64_t t0_ns, t1_ns;                  /* publish-time window, CLOCK_REALTIME */
};

struct fan_stats {                         /* one per process, in the shared map */
    char error[FAIL_SLOT];
    uint64_t deliveries;                   /* window events received (not duplicates) */
    uint64_t all_events;                   /* every event with t, any time */
    uint64_t duplicates, gaps, signals, unparsed, silent, unfinished, bytes;
    int64_t max_ns;
    double cpu_user, cpu_sys, connect_s;
    uint32_t hist[HIST_BUCKETS];
};

static struct fan_shared *g_fan;
static struct fan_stats *g_st;
static int64_t *g_tmin, *g_tmax;          /* this process's per-topic window seq range */
static int g_mode, g_measuring;
static long g_reached;                     /* connections with reached_end */

static int64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* `"key":<digits>` inside buf[0..len) -> 1 and *out, else 0 */
static int find_int(const char *buf, size_t len, const char *key, int64_t *out) {
    size_t kl = strlen(key);
    const char *p = memmem(buf, len, key, kl);
    if (!p) return 0;
    const char *e = buf + len;
    p += kl;
    while (p < e && *p == ' ') p++;
    int64_t v = 0;
    int digits = 0;
    while (p < e && *p >= '0' && *p <= '9' && digits < 19) v = v * 10 + (*p++ - '0'), digits++;
    if (!digits) return 0;
    *out = v;
    return 1;
}

/* One event with a publish time t (and a sequence, -1 if none) arrived at `now`. */
static void fan_event(struct fconn *c, int64_t t, int64_t seq, int64_t now) {
    g_st->all_events++;
    int in_window = g_fan->go && t >= g_fan->t0_ns && t < g_fan->t1_ns;
    if (in_window && seq >= 0 && c->last_seq >= 0) {
        if (seq <= c->last_seq) {
            g_st->duplicates++;
            return;
        }
        if (seq > c->last_seq + 1) g_st->gaps += (uint64_t)(seq - c->last_seq - 1);
    }
    if (seq >= 0 && seq > c->last_seq) c->last_seq = seq;
    c->last_t = t;
    if (in_window) {
        int64_t lat = now - t;
        if (lat < 0) lat = 0;
        int64_t b = lat / HIST_NS;
        g_st->hist[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++;
        if (lat > g_st->max_ns) g_st->max_ns = lat;
        g_st->deliveries++;
        c->got_in_window = 1;
        if (seq >= 0) {
            if (g_tmin[c->topic] < 0 || seq < g_tmin[c->topic]) g_tmin[c->topic] = seq;
            if (seq > g_tmax[c->topic]) g_tmax[c->topic] = seq;
        }
    }
    if (g_fan->go && t >= g_fan->t1_ns && !c->reached_end) {
        c->reached_end = 1;
        g_reached++;
    }
}

/* A complete message/event body (its first LINE_KEEP bytes): an event if it has "t". */
static void fan_payload(struct fconn *c, const char *data, size_t len, int64_t now) {
    int64_t t, seq;
    if (!find_int(data, len, "\"t\":", &t)) {
        g_st->signals++;     /* the hub's dropped/reset/gap notices and the like */
        return;
    }
    if (!find_int(data, len, "\"seq\":", &seq)) seq = -1;
    fan_event(c, t, seq, now);
}

/* --- SSE: one line of the event stream (without its line ending) --- */
static void sse_line(struct fconn *c, int64_t now) {
    const char *l = c->line;
    size_t n = c->line_len;
    if (n == 0 && !c->line_over) {                 /* blank line: dispatch */
        if (c->ev_has_data) {
            if (c->ev_named) g_st->signals++;
            else if (c->ev_has_t) fan_event(c, c->ev_t, c->ev_seq, now);
            else g_st->unparsed++;
        }
        c->ev_named = c->ev_has_data = c->ev_has_t = 0;
        return;
    }
    if (l[0] == ':') return;                       /* comment (keep-alive ping) */
    if (n >= 5 && memcmp(l, "data:", 5) == 0) {
        c->ev_has_data = 1;
        if (!c->ev_has_t && find_int(l + 5, n - 5, "\"t\":", &c->ev_t)) {
            c->ev_has_t = 1;
            if (!find_int(l + 5, n - 5, "\"seq\":", &c->ev_seq)) c->ev_seq = -1;
        }
    } else if (n >= 6 && memcmp(l, "event:", 6) == 0) {
        const char *v = l + 6;
        size_t vl = n - 6;
        if (vl && *v == ' ') v++, vl--;
        c->ev_named = !(vl == 7 && memcmp(v, "message", 7) == 0);
    }                                              /* id:, retry: and others: nothing to check */
}

static void sse_bytes(struct fconn *c, const unsigned char *p, size_t n, int64_t now) {
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = p[i];
        if (ch == '\n' && c->prev_cr) {            /* the LF of a CRLF */
            c->prev_cr = 0;
            continue;
        }
        c->prev_cr = 0;
        if (ch == '\r' || ch == '\n') {
            c->prev_cr = ch == '\r';
            sse_line(c, now);
            c->line_len = 0;
            c->line_over = 0;
        } else if (c->line_len < LINE_KEEP) {
            c->line[c->line_len++] = (char)ch;
        } else {
            c->line_over = 1;
        }
    }
}

/* Undoes the chunked framing, feeding the payload to the SSE parser. */
static void sse_feed(struct fconn *c, const unsigned char *p, size_t n, int64_t now) {
    size_t i = 0;
    while (i < n) {
        switch (c->ch_state) {
        case CH_RAW:
            sse_bytes(c, p + i, n - i, now);
            return;
        case CH_SIZE: {
            unsigned char ch = p[i++];
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                  : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
            if (d >= 0) {
                if (c->ch_left > (UINT64_C(1) << 40)) fail("chunk size too large");
                c->ch_left = c->ch_left * 16 + (uint64_t)d;
            } else if (ch == '\n') {
                if (c->ch_left == 0) fail("the server ended an event stream (last chunk)");
                c->ch_state = CH_DATA;
            } else {
                c->ch_state = CH_EXT;              /* ';' extension or the CR */
            }
            break;
        }
        case CH_EXT:
            if (p[i++] == '\n') {
                if (c->ch_left == 0) fail("the server ended an event stream (last chunk)");
                c->ch_state = CH_DATA;
            }
            break;
        case CH_DATA: {
            size_t k = n - i < c->ch_left ? n - i : (size_t)c->ch_left;
            sse_bytes(c, p + i, k, now);
            i += k;
            c->ch_left -= k;
            if (c->ch_left == 0) c->ch_state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (p[i++] != '\r') fail("bad chunk framing (no CR after the data)");
            c->ch_state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (p[i++] != '\n') fail("bad chunk framing (no LF after the data)");
            c->ch_state = CH_SIZE;
            break;
        }
    }
}

/* --- WebSocket: frames streamed through a small header buffer --- */
static void fan_set_out(int ep, struct fconn *c, int want) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) fail("epoll_ctl: %s", strerror(errno));
}

static void fan_flush(int ep, struct fconn *c) {
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                fan_set_out(ep, c, 1);
                return;
            }
            fail("write (pong): %s", strerror(errno));
        }
        c->out_off = (uint8_t)(c->out_off + w);
    }
    if (c->out_len) fan_set_out(ep, c, 0);
    c->out_len = c->out_off = 0;
}

static void ws_frame_done(int ep, struct fconn *c, int64_t now) {
    int op = c->opcode;
    if (op == 0x9) {                                  /* ping: a pong with its payload */
        if (c->out_len) {                             /* an older pong is still queued: replace it */
            c->out_len = c->out_off = 0;
            fan_set_out(ep, c, 0);
        }
        c->out_len = (uint8_t)build_frame(c->out, 0xA, c->ctl, c->ctl_len, 0x5a5a5a5au);
        fan_flush(ep, c);
    } else if (op == 0x8) {
        unsigned code = c->ctl_len >= 2 ? ((unsigned)c->ctl[0] << 8 | c->ctl[1]) : 0;
        fail("server sent a close frame (code %u)", code);
    } else if (op == 0xA) {
    } else if (c->fin) {                              /* the end of a data message */
        fan_payload(c, c->line, c->msg_len, now);
        c->in_msg = 0;
        c->msg_len = 0;
    }
}

static void ws_feed(int ep, struct fconn *c, const unsigned char *p, size_t n, int64_t now) {
    size_t i = 0;
    while (i < n) {
        if (c->pay_left == 0 && c->hdr_len < 2) {
            c->hdr[c->hdr_len++] = p[i++];
            continue;
        }
        if (c->pay_left == 0) {                       /* the header: complete it, then decode it */
            size_t need = (c->hdr[1] & 0x7f) == 126 ? 4 : (c->hdr[1] & 0x7f) == 127 ? 10 : 2;
            while (c->hdr_len < need && i < n) c->hdr[c->hdr_len++] = p[i++];
            if (c->hdr_len < need) return;
            if (c->hdr[0] & 0x70) fail("server frame with RSV bits set (0x%02x)", c->hdr[0]);
            if (c->hdr[1] & 0x80) fail("server frame is masked");
            uint64_t len = c->hdr[1] & 0x7f;
            if (len == 126) len = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
            else if (len == 127) {
                len = 0;
                for (int k = 0; k < 8; k++) len = (len << 8) | c->hdr[2 + k];
            }
            c->opcode = c->hdr[0] & 0x0f;
            c->fin = (c->hdr[0] & 0x80) != 0;
            c->hdr_len = 0;
            if (c->opcode >= 0x8) {
                if (len > 125 || !c->fin) fail("bad control frame (opcode %d, %llu bytes)", c->opcode,
                                               (unsigned long long)len);
                c->ctl_len = 0;
            } else if (c->opcode == 0) {
                if (!c->in_msg) fail("continuation frame outside a message");
            } else if (c->opcode == 0x1 || c->opcode == 0x2) {
                if (c->in_msg) fail("new data frame inside a fragmented message");
                c->in_msg = 1;
                c->msg_len = 0;
            } else {
                fail("server frame with opcode %d", c->opcode);
            }
            c->pay_left = len;
            if (len == 0) {
                ws_frame_done(ep, c, now);
                continue;
            }
            /* the frame length is now in pay_left: the loop above sees pay_left > 0 */
        }
        size_t k = n - i < c->pay_left ? n - i : (size_t)c->pay_left;
        if (c->opcode >= 0x8) {
            memcpy(c->ctl + c->ctl_len, p + i, k);
            c->ctl_len = (uint16_t)(c->ctl_len + k);
        } else {
            size_t keep = LINE_KEEP - c->msg_len < k ? LINE_KEEP - c->msg_len : k;
            memcpy(c->line + c->msg_len, p + i, keep);
            c->msg_len = (uint16_t)(c->msg_len + keep);
        }
        i += k;
        c->pay_left -= k;
        if (c->pay_left == 0) ws_frame_done(ep, c, now);
    }
}

/* Connects `n` subscribers (in batches of FAN_BATCH: connect, send every request, then read
 * every head) and registers them with epoll. */
static void fan_connect(int ep, struct fconn *conns, int n, int first_index, int topics,
                        const struct sockaddr_storage *addr, socklen_t alen, const char *host,
                        const char *port, const char *path) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t seed = 0x9e3779b9u ^ (uint32_t)first_index;
    char req[2048], head[HEAD_MAX], p[1024];
    for (int b = 0; b < n; b += FAN_BATCH) {
        int e = b + FAN_BATCH < n ? b + FAN_BATCH : n;
        for (int i = b; i < e; i++) {
            struct fconn *c = &conns[i];
            c->last_seq = -1;
            c->topic = (first_index + i) % topics;
            c->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (c->fd < 0) fail("socket: %s", strerror(errno));
            struct timeval tv = {.tv_sec = 60, .tv_usec = 0};
            if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
                setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
                fail("socket timeouts: %s", strerror(errno));
            if (connect(c->fd, (const struct sockaddr *)addr, alen) != 0)
                fail("connect %s:%s (subscriber %d): %s", host, port, first_index + i, strerror(errno));
            int one = 1;
            if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
                fail("TCP_NODELAY: %s", strerror(errno));
            /* the path with {topic} replaced by this subscriber's topic number */
            const char *at = strstr(path, "{topic}");
            int pl = at ? snprintf(p, sizeof p, "%.*s%d%s", (int)(at - path), path, c->topic, at + 7)
                        : snprintf(p, sizeof p, "%s", path);
            if (pl <= 0 || (size_t)pl >= sizeof p) fail("path too long");
            int rl;
            if (g_mode == FAN_SSE) {
                rl = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nAccept: text/event-stream\r\n"
                              "Cache-Control: no-cache\r\n\r\n", p, host, port);
            } else {
                char key[25];
                for (int k = 0; k < 21; k++) key[k] = b64[xorshift(&seed) & 63];
                key[21] = b64[xorshift(&seed) & 48];
                key[22] = key[23] = '=';
                key[24] = 0;
                rl = snprintf(req, sizeof req,
                              "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", p, host, port, key);
            }
            if (rl <= 0 || (size_t)rl >= sizeof req) fail("request too long");
            write_all(c->fd, req, (size_t)rl, "subscribe request");
        }
        for (int i = b; i < e; i++) {
            struct fconn *c = &conns[i];
            size_t got;
            size_t hl = read_head(c->fd, head, sizeof head, &got);
            int st = status_of(head, hl);
            char *eol = memchr(head, '\r', hl);
            int want = g_mode == FAN_SSE ? 200 : 101;
            if (st != want) fail("subscriber %d: answered %.*s", first_index + i, (int)(eol ? eol - head : 40), head);
            if (g_mode == FAN_SSE) {
                /* header names are case-insensitive: look in a lower-cased copy */
                char low[HEAD_MAX];
                for (size_t k = 0; k < hl; k++) low[k] = (char)(head[k] >= 'A' && head[k] <= 'Z' ? head[k] + 32 : head[k]);
                if (!memmem(low, hl, "text/event-stream", 17)) fail("answer is not text/event-stream");
                if (memmem(low, hl, "\r\ncontent-length:", 17)) fail("event stream with a Content-Length");
                c->ch_state = memmem(low, hl, "transfer-encoding: chunked", 26) ? CH_SIZE : CH_RAW;
            }
            int fl = fcntl(c->fd, F_GETFL);
            if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0) fail("O_NONBLOCK: %s", strerror(errno));
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) fail("epoll_ctl: %s", strerror(errno));
            if (got > hl) {                           /* the first bytes of the stream came with the head */
                int64_t now = realtime_ns();
                if (g_mode == FAN_SSE) sse_feed(c, (unsigned char *)head + hl, got - hl, now);
                else ws_feed(ep, c, (unsigned char *)head + hl, got - hl, now);
            }
        }
    }
}

/* One subscriber process: connect, report, wait for the window, receive until drained. */
static void fan_child(int n, int first_index, int topics, const struct sockaddr_storage *addr, socklen_t alen,
                      const char *host, const char *port, const char *path) {
    struct fconn *conns = calloc((size_t)n, sizeof *conns);
    if (!conns) fail("out of memory");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) fail("epoll_create1: %s", strerror(errno));
    double c0 = now_s();
    fan_connect(ep, conns, n, first_index, topics, addr, alen, host, port, path);
    g_st->connect_s = now_s() - c0;
    __sync_fetch_and_add(&g_fan->connected, 1);

    static unsigned char buf[65536];
    struct epoll_event events[512];
    double u0 = 0, s0 = 0;
    int measured = 0;
    for (;;) {
        int64_t now = realtime_ns();
        int timeout = 100;
        if (g_fan->go) {
            if (!g_measuring && !measured && now >= g_fan->t0_ns) {
                g_measuring = 1;
                cpu_times(&u0, &s0);
            }
            if (g_measuring && now >= g_fan->t1_ns) {
                double u1, s1;
                cpu_times(&u1, &s1);
                g_st->cpu_user = u1 - u0;
                g_st->cpu_sys = s1 - s0;
                g_measuring = 0;
                measured = 1;
            }
            if (measured && (g_reached >= n || now >= g_fan->t1_ns + (int64_t)(DRAIN_MAX_S * 1e9))) break;
            int64_t next = !measured ? (g_measuring ? g_fan->t1_ns : g_fan->t0_ns)
                                     : g_fan->t1_ns + (int64_t)(DRAIN_MAX_S * 1e9);
            int64_t ms = (next - now) / 1000000 + 1;
            timeout = ms < 100 ? (int)ms : 100;
        }
        int k = epoll_wait(ep, events, 512, timeout);
        if (k < 0) {
            if (errno == EINTR) continue;
            fail("epoll_wait: %s", strerror(errno));
        }
        for (int j = 0; j < k; j++) {
            struct fconn *c = events[j].data.ptr;
            if (events[j].events & EPOLLOUT) fan_flush(ep, c);
            if (!(events[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
            for (;;) {
                ssize_t r = read(c->fd, buf, sizeof buf);
                if (r < 0) {
                    if (errno == EINTR) continue;
                    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                    fail("read (subscriber %d): %s", first_index + (int)(c - conns), strerror(errno));
                }
                if (r == 0) fail("the server closed subscriber %d", first_index + (int)(c - conns));
                int64_t t_read = realtime_ns();
                g_st->bytes += (uint64_t)r;
                if (g_mode == FAN_SSE) sse_feed(c, buf, (size_t)r, t_read);
                else ws_feed(ep, c, buf, (size_t)r, t_read);
                if ((size_t)r < sizeof buf) break;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        if (!conns[i].got_in_window) g_st->silent++;
        if (!conns[i].reached_end) g_st->unfinished++;
    }
    /* leaving closes the sockets */
}

static double hist_percentile_us(const uint64_t *hist, uint64_t total, double q) {
    if (total == 0) return 0;
    uint64_t want = (uint64_t)(q * (double)total), seen = 0;
    if (want >= total) want = total - 1;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen > want) return (double)(i + 1) * (HIST_NS / 1000);   /* the bucket's upper edge */
    }
    return (double)HIST_BUCKETS * (HIST_NS / 1000);
}

static int run_fanout(int argc, char **argv) {
    if (argc != 10)
        fail("usage: loadgen sse|wssub HOST PORT PATH CONNECTIONS TOPICS PROCS WARMUP_S DURATION_S");
    g_mode = strcmp(argv[1], "sse") == 0 ? FAN_SSE : FAN_WS;
    const char *host = argv[2], *port = argv[3], *path = argv[4];
    int nconn = (int)parse_long(argv[5], "connections", 1, FAN_MAX_CONNECTIONS);
    int topics = (int)parse_long(argv[6], "topics", 1, nconn);
    int procs = (int)parse_long(argv[7], "procs", 1, FAN_MAX_PROCS);
    double warmup = parse_double(argv[8], "warm-up"), duration = parse_double(argv[9], "duration");
    if (duration <= 0) fail("duration must be > 0");
    if (procs > nconn) procs = nconn;

    /* every process holds its share of the sockets: lift the soft descriptor limit to the hard one */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) fail("getrlimit: %s", strerror(errno));
    rlim_t need = (rlim_t)(nconn + procs - 1) / (rlim_t)procs + 32;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) fail("setrlimit: %s", strerror(errno));
        if (rl.rlim_cur < need)
            fail("RLIMIT_NOFILE hard limit %llu is below the %llu descriptors a process needs: use more processes",
                 (unsigned long long)rl.rlim_max, (unsigned long long)need);
    }

    struct addrinfo *res = resolve(host, port);
    struct sockaddr_storage addr;
    socklen_t alen = (socklen_t)res->ai_addrlen;
    memcpy(&addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);

    /* shared: the control block, then per process its stats and two per-topic seq arrays */
    size_t per = sizeof(struct fan_stats) + 2 * sizeof(int64_t) * (size_t)topics;
    per = (per + 63) & ~(size_t)63;
    size_t total = 4096 + per * (size_t)procs;
    unsigned char *shm = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) fail("mmap: %s", strerror(errno));
    g_fan = (struct fan_shared *)shm;
    pid_t pids[FAN_MAX_PROCS];
    int first = 0;
    fflush(stdout);
    for (int k = 0; k < procs; k++) {
        int n = nconn / procs + (k < nconn % procs);
        unsigned char *mine = shm + 4096 + per * (size_t)k;
        pid_t pid = fork();
        if (pid < 0) fail("fork: %s", strerror(errno));
        if (pid == 0) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(1);   /* never outlive a killed parent */
            if (getppid() == 1) _exit(1);
            g_st = (struct fan_stats *)mine;
            g_fail_slot = g_st->error;
            g_tmin = (int64_t *)(mine + sizeof(struct fan_stats));
            g_tmax = g_tmin + topics;
            for (int i = 0; i < topics; i++) g_tmin[i] = g_tmax[i] = -1;
            fan_child(n, first, topics, &addr, alen, host, port, path);
            _exit(0);
        }
        pids[k] = pid;
        first += n;
    }

    /* wait for every process to connect (a failed one ends the run) */
    double c0 = now_s();
    int alive = procs;
    while (g_fan->connected < procs) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p > 0) {
            alive--;
            for (int k = 0; k < procs; k++) {
                struct fan_stats *s = (struct fan_stats *)(shm + 4096 + per * (size_t)k);
                if (pids[k] == p && s->error[0]) {
                    for (int j = 0; j < procs; j++) if (pids[j] != p) kill(pids[j], SIGKILL);
                    fail("subscriber process %d: %s", k, s->error);
                }
            }
            if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                for (int j = 0; j < procs; j++) if (pids[j] != p) kill(pids[j], SIGKILL);
                fail("a subscriber process died while connecting (status %d)", st);
            }
        }
        if (now_s() - c0 > 600) {
            for (int j = 0; j < procs; j++) kill(pids[j], SIGKILL);
            fail("connecting took more than 600 s");
        }
        usleep(10000);
    }
    double connect_s = now_s() - c0;
    printf("{\"phase\": \"connected\", \"seconds\": %.3f}\n", connect_s);
    fflush(stdout);
    int64_t t0 = realtime_ns() + (int64_t)(warmup * 1e9);
    g_fan->t0_ns = t0;
    g_fan->t1_ns = t0 + (int64_t)(duration * 1e9);
    __sync_synchronize();
    g_fan->go = 1;

    /* phase lines at the window's edges: the runner samples the server's CPU and RSS on them */
    int64_t now = realtime_ns();
    if (t0 > now) {
        struct timespec ts = {(time_t)((t0 - now) / 1000000000LL), (long)((t0 - now) % 1000000000LL)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    printf("{\"phase\": \"measuring\"}\n");
    fflush(stdout);
    now = realtime_ns();
    if (g_fan->t1_ns > now) {
        int64_t d = g_fan->t1_ns - now;
        struct timespec ts = {(time_t)(d / 1000000000LL), (long)(d % 1000000000LL)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    printf("{\"phase\": \"measured\"}\n");
    fflush(stdout);

    int failed = 0;
    char why[FAIL_SLOT + 64] = "";
    for (int k = 0; k < procs; k++) {
        int st;
        if (waitpid(pids[k], &st, 0) < 0) fail("waitpid: %s", strerror(errno));
        struct fan_stats *s = (struct fan_stats *)(shm + 4096 + per * (size_t)k);
        if (!failed && (s->error[0] || !(WIFEXITED(st) && WEXITSTATUS(st) == 0))) {
            failed = 1;
            snprintf(why, sizeof why, "subscriber process %d: %s", k, s->error[0] ? s->error : "died");
        }
    }
    if (failed) fail("%s", why);

    /* merge */
    uint64_t *hist = calloc(HIST_BUCKETS, sizeof *hist);
    int64_t *tmin = malloc(sizeof(int64_t) * (size_t)topics), *tmax = malloc(sizeof(int64_t) * (size_t)topics);
    if (!hist || !tmin || !tmax) fail("out of memory");
    for (int i = 0; i < topics; i++) tmin[i] = tmax[i] = -1;
    uint64_t deliveries = 0, all = 0, dups = 0, gaps = 0, signals = 0, unparsed = 0, silent = 0, unfinished = 0,
             bytes = 0;
    int64_t max_ns = 0;
    double cu = 0, cs = 0, slowest_connect = 0;
    for (int k = 0; k < procs; k++) {
        unsigned char *mine = shm + 4096 + per * (size_t)k;
        struct fan_stats *s = (struct fan_stats *)mine;
        int64_t *mn = (int64_t *)(mine + sizeof(struct fan_stats)), *mx = mn + topics;
        for (size_t i = 0; i < HIST_BUCKETS; i++) hist[i] += s->hist[i];
        for (int i = 0; i < topics; i++) {
            if (mn[i] >= 0 && (tmin[i] < 0 || mn[i] < tmin[i])) tmin[i] = mn[i];
            if (mx[i] > tmax[i]) tmax[i] = mx[i];
        }
        deliveries += s->deliveries;
        all += s->all_events;
        dups += s->duplicates;
        gaps += s->gaps;
        signals += s->signals;
        unparsed += s->unparsed;
        silent += s->silent;
        unfinished += s->unfinished;
        bytes += s->bytes;
        if (s->max_ns > max_ns) max_ns = s->max_ns;
        cu += s->cpu_user;
        cs += s->cpu_sys;
        if (s->connect_s > slowest_connect) slowest_connect = s->connect_s;
    }
    /* expected = for each topic, its subscribers x the seqs published on it in the window */
    uint64_t expected = 0;
    int silent_topics = 0;
    for (int i = 0; i < topics; i++) {
        uint64_t subs = (uint64_t)(nconn / topics + (i < nconn % topics));
        if (tmin[i] < 0) silent_topics++;
        else expected += subs * (uint64_t)(tmax[i] - tmin[i] + 1);
    }
    uint64_t missing = expected > deliveries ? expected - deliveries : 0;
    printf("{\"mode\": \"%s\", \"connections\": %d, \"topics\": %d, \"procs\": %d, \"seconds\": %.6f, "
           "\"connect_s\": %.3f, \"deliveries\": %llu, \"deliveries_per_s\": %.3f, \"expected\": %llu, "
           "\"missing\": %llu, \"gaps\": %llu, \"duplicates\": %llu, \"signals\": %llu, \"unparsed\": %llu, "
           "\"silent_connections\": %llu, \"silent_topics\": %d, \"unfinished\": %llu, \"events_total\": %llu, "
           "\"bytes\": %llu, \"p50_us\": %.0f, \"p90_us\": %.0f, \"p99_us\": %.0f, \"p999_us\": %.0f, "
           "\"max_us\": %.0f, \"cpu_user\": %.6f, \"cpu_sys\": %.6f}\n",
           argv[1], nconn, topics, procs, duration, connect_s, (unsigned long long)deliveries,
           (double)deliveries / duration, (unsigned long long)expected, (unsigned long long)missing,
           (unsigned long long)gaps, (unsigned long long)dups, (unsigned long long)signals,
           (unsigned long long)unparsed, (unsigned long long)silent, silent_topics, (unsigned long long)unfinished,
           (unsigned long long)all, (unsigned long long)bytes, hist_percentile_us(hist, deliveries, 0.50),
           hist_percentile_us(hist, deliveries, 0.90), hist_percentile_us(hist, deliveries, 0.99),
           hist_percentile_us(hist, deliveries, 0.999), (double)max_ns / 1000.0, cu, cs);
    (void)slowest_connect;
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "ws") == 0) return run_ws(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "upload") == 0) return run_upload(argc, argv);
    if (argc >= 2 && (strcmp(argv[1], "sse") == 0 || strcmp(argv[1], "wssub") == 0)) return run_fanout(argc, argv);
    fail("usage: loadgen ws|upload|sse|wssub ...");
    return 1;
}
