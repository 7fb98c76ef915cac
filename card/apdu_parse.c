/*
 * Strict short-APDU parsing (ISO 7816-4 §5.1) with the one tolerance real
 * clients need: the Orange library appends stray bytes after the data
 * (case 3: "... 00", case 4: "... 00 Le"), see reference §5 "PC/SC".
 */
#include "apdu_parse.h"

uint16_t st_apdu_parse(const uint8_t *c, size_t n, struct st_apdu *a)
{
    if (n < 4)
        return SW_WRONG_LENGTH;
    a->cla = c[0];
    a->ins = c[1];
    a->p1 = c[2];
    a->p2 = c[3];
    a->data = NULL;
    a->lc = 0;
    a->has_le = false;
    a->le = 0;
    if (n == 4)
        return SW_OK; /* case 1 */
    if (n == 5) {     /* case 2 */
        a->has_le = true;
        a->le = c[4] ? c[4] : 256;
        return SW_OK;
    }
    /* Case 3 or 4: short Lc. Lc = 00 would announce extended length. */
    size_t lc = c[4];
    if (lc == 0 || n < 5 + lc)
        return SW_WRONG_LENGTH;
    a->data = c + 5;
    a->lc = lc;
    size_t trailing = n - 5 - lc;
    if (trailing == 0)
        return SW_OK;
    a->has_le = true;
    /* "00 Le" is the Orange client's way of writing Le after the data. */
    uint8_t le = (trailing == 2 && c[5 + lc] == 0) ? c[6 + lc] : c[5 + lc];
    a->le = le ? le : 256;
    return SW_OK;
}

uint16_t st_apdu_channel(uint8_t cla, uint8_t *channel)
{
    if (cla == 0xFF)
        return SW_CLA_NOT_SUPPORTED; /* PPS, not a command class */
    /* First interindustry (0x0X) and proprietary (0x8X): channel in b1..b2. */
    if ((cla & 0x60) == 0x00) {
        if (cla & 0x10)
            return 0x6884; /* command chaining not supported */
        if (cla & 0x0C)
            return 0x6882; /* secure messaging not supported */
        *channel = cla & 0x03;
        return SW_OK;
    }
    /* Further interindustry (0x4X / 0xCX): channels 4..19, not provided. */
    if ((cla & 0x60) == 0x40)
        return SW_LOGICAL_CHANNEL;
    return SW_CLA_NOT_SUPPORTED;
}
