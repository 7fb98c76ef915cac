/*
 * libFuzzer target: the AT transport's reply parser (lib/transport/at_reply.c),
 * everything a modem, or whatever sits on the serial line, can send back.
 *
 * Input: byte 0 picks the expected answer (+CSIM, +CGLA, +CCHO or none),
 * byte 1 the chunk size the bytes arrive in (serial reads split replies
 * anywhere); the rest is the line. Replies are parsed one after another
 * until the input is used up, as the transport does across commands. The
 * parser must stay within its buffers and report a consistent result.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../lib/transport/at_reply.h"
#include "simtrust/error.h"

static void check(const struct st_at_reply *r)
{
    if (!r->done)
        return;
    if (r->status != ST_OK && r->status != ST_E_MODEM && r->status != ST_E_PARSE)
        __builtin_trap();
    if (r->data_len > sizeof(r->data) || memchr(r->final_line, '\0', sizeof(r->final_line)) == NULL)
        __builtin_trap();
    if (r->status == ST_OK && (r->expect == ST_AT_EXPECT_CSIM || r->expect == ST_AT_EXPECT_CGLA) &&
        r->data_len < 2)
        __builtin_trap(); /* an accepted R-APDU always has its status word */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct st_at_reply r;
    if (size < 2)
        return 0;
    enum st_at_expect expect = (enum st_at_expect)(data[0] % 4);
    size_t chunk = (size_t)data[1] % 64 + 1;
    data += 2;
    size -= 2;
    st_at_reply_init(&r, expect);
    while (size > 0) {
        size_t n = size < chunk ? size : chunk;
        size_t used = st_at_reply_feed(&r, data, n);
        if (used > n)
            __builtin_trap();
        data += used;
        size -= used;
        if (r.done) {
            check(&r);
            st_at_reply_init(&r, expect); /* the next command's reply */
        } else if (used != n) {
            __builtin_trap(); /* stopping early is only allowed at the end of a reply */
        }
    }
    return 0;
}
