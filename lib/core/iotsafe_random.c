/*
 * GET RANDOM (INS 84): random bytes from the card (reference §2.7; Le = 00
 * asks for 256). Longer requests take several commands under one lock.
 */
#include "iotsafe_int.h"

#define RANDOM_MAX 256

int st_iotsafe_get_random(struct st_iotsafe *ios, uint8_t *buf, size_t len)
{
    if (buf == NULL && len > 0)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    size_t off = 0;
    while (rc == ST_OK && off < len) {
        size_t want = len - off < RANDOM_MAX ? len - off : RANDOM_MAX;
        size_t n = want;
        rc = st_ios_command(ios, INS_GET_RANDOM, 0x00, 0x00, NULL, 0, want, buf + off, &n);
        if (rc == ST_E_BUFFER || (rc == ST_OK && n != want))
            rc = st_ios_fail(ios, ST_E_PARSE, "GET RANDOM: not the number of bytes asked for");
        off += n;
    }
    return st_ios_end(ios, rc);
}
