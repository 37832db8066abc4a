/* The parser compiled again with its portable (non-SSE2) scanners and under
 * other names, so fuzz_parser.c can check that both builds agree byte for
 * byte. Only for the fuzzer. */
#define CZ_HTTP_NO_SIMD 1
#define cz_parse_request cz_parse_request_scalar
#define cz_chunked_init cz_chunked_init_scalar
#define cz_chunked_decode cz_chunked_decode_scalar
#include "../include/cz_http.c"
