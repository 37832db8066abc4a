/* Micro-benchmark of include/cz_http.c (not part of the build).
 *
 *   gcc -O2 -Iinclude fuzz/bench_parser.c include/cz_http.c -o /tmp/cz_bench && /tmp/cz_bench
 *
 * Add -DCZ_HTTP_NO_SIMD to measure the portable scanners. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cz_http.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char GET_REQ[] =
    "GET /api/v1/users/12345?include=profile HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
    "Accept: application/json\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=0123456789abcdef\r\n"
    "\r\n";

static const char BROWSER_REQ[] =
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n"
    "Host: www.kittyhell.com\r\n"
    "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; ja-JP-mac; rv:1.9.2.3) "
    "Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
    "Accept-Encoding: gzip,deflate\r\n"
    "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
    "Keep-Alive: 115\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "
    "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n"
    "\r\n";

static volatile long sink;

static void bench_head(const char *name, const char *req, size_t len)
{
    cz_header headers[64];
    cz_request r;
    cz_limits lim = {8192, 65536, 64};
    long i, iters = 5000000;
    double best = 1e30;
    int round;
    for (round = 0; round < 5; round++) {
        double t0 = now_ns(), dt;
        long acc = 0;
        for (i = 0; i < iters; i++) {
            r.headers = headers;
            acc += cz_parse_request(req, len, &r, &lim) + (long)r.num_headers;
        }
        dt = (now_ns() - t0) / (double)iters;
        sink += acc;
        if (dt < best)
            best = dt;
    }
    r.headers = headers;
    if (cz_parse_request(req, len, &r, &lim) != (int)len) {
        fprintf(stderr, "%s: parse failed: %s\n", name, r.error_reason ? r.error_reason : "incomplete");
        exit(1);
    }
    printf("%-8s %4zu bytes %2zu headers: %6.1f ns/request (%.2f GB/s)\n", name, len, r.num_headers,
           best, (double)len / best);
}

static void bench_chunked(void)
{
    enum { CHUNK = 4096, N = 256 };
    size_t len = 0, i, c, p;
    char *body = malloc((size_t)N * (CHUNK + 16) + 16), *out = malloc((size_t)N * CHUNK);
    double t0, dt;
    long it, iters = 2000;
    cz_chunked d;
    for (i = 0; i < N; i++) {
        len += (size_t)sprintf(body + len, "%x\r\n", CHUNK);
        memset(body + len, 'x', CHUNK);
        len += CHUNK;
        memcpy(body + len, "\r\n", 2);
        len += 2;
    }
    memcpy(body + len, "0\r\n\r\n", 5);
    len += 5;
    t0 = now_ns();
    for (it = 0; it < iters; it++) {
        cz_chunked_init(&d, 8192);
        if (cz_chunked_decode(&d, body, len, out, &c, &p) != 1 || p != (size_t)N * CHUNK)
            exit(1);
        sink += (long)p;
    }
    dt = now_ns() - t0;
    printf("chunked  %zu bytes in 4 KiB chunks: %.2f GB/s\n", len, (double)len * (double)iters / dt);
    free(body);
    free(out);
}

int main(void)
{
    bench_head("GET", GET_REQ, sizeof GET_REQ - 1);
    bench_head("browser", BROWSER_REQ, sizeof BROWSER_REQ - 1);
    bench_chunked();
    return 0;
}
