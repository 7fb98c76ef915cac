/*
 * GET RANDOM (84): Le bytes from OpenSSL's DRBG (IoT.04 F1; reference §2.7).
 *
 * Compatibility rule 8.3: the first byte is never 0x61, because wolfSSL
 * reads a reply starting with "61" as SW 61xx (reference §1). That byte is
 * redrawn until it differs, so it is uniform over the other 255 values: a
 * bias of 1/256 on one byte, which leaves 8 * Le - 0.0057 bits of entropy.
 */
#include "card_crypto.h"
#include "card_internal.h"
#include "st_secret.h"

uint16_t st_cmd_get_random(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    uint8_t buf[256];
    if (a->p1 != 0 || a->p2 != 0)
        return SW_INCORRECT_P1P2;
    if (!a->has_le || a->lc > 0)
        return SW_WRONG_LENGTH;
    size_t n = a->le; /* 1..256; Le = 00 asks for 256 */
    if (st_crypto_random(buf, n) != 0)
        return SW_UNKNOWN;
    while (buf[0] == 0x61)
        if (st_crypto_random(buf, 1) != 0)
            return SW_UNKNOWN;
    st_card_account(card, ST_OP_RANDOM);
    uint16_t sw = st_resp_put(out, buf, n) ? SW_OK : SW_UNKNOWN;
    st_wipe(buf, sizeof buf);
    return sw;
}
