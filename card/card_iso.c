/*
 * Logical channels (IoT.04 D6: the applet may run on a channel of its own)
 * and application selection, with the compatibility rules of reference §8.1.
 */
#include <string.h>

#include "card_iso.h"
#include "st_secret.h"

uint16_t st_iso_manage_channel(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    if (!card->ch[a->channel].open)
        return SW_LOGICAL_CHANNEL;
    if (a->p1 == 0x00) {
        /* Open: P2 = 00 lets the card choose, 01..03 asks for that channel. */
        uint8_t want = a->p2;
        if (want >= ST_MAX_CHANNELS)
            return SW_INCORRECT_P1P2;
        if (want == 0) {
            for (uint8_t c = 1; c < ST_MAX_CHANNELS && want == 0; c++)
                if (!card->ch[c].open)
                    want = c;
            if (want == 0)
                return SW_FUNC_NOT_SUPPORTED; /* no channel left */
        } else if (card->ch[want].open) {
            return SW_CONDITIONS;
        }
        card->ch[want].open = true;
        card->ch[want].selected = false;
        /* The new channel's number is the only response byte (case 2, or
         * P2 != 0 with no data per ISO; sending it is harmless). */
        return a->p2 == 0 && !st_resp_put_u8(out, want) ? SW_UNKNOWN : SW_OK;
    }
    if (a->p1 == 0x80) {
        uint8_t which = a->p2 ? a->p2 : a->channel;
        if (which == 0)
            return SW_INCORRECT_P1P2; /* the basic channel never closes */
        if (which >= ST_MAX_CHANNELS)
            return SW_LOGICAL_CHANNEL; /* ends THP's "close 1..n" loop */
        /* Closing a closed channel answers 9000: clients close before opening. */
        card->ch[which].open = false;
        card->ch[which].selected = false;
        return SW_OK;
    }
    return SW_INCORRECT_P1P2;
}

/* Exact AID, or a right-truncated one of at least 5 bytes (ISO 7816-4 §5.3.1). */
static bool aid_matches(const struct st_card_state *s, const uint8_t *aid, size_t n)
{
    for (size_t i = 0; i < s->aid_count; i++) {
        size_t len = s->aid_len[i];
        if ((n == len || (n >= 5 && n < len)) && memcmp(s->aid[i], aid, n) == 0)
            return true;
    }
    return false;
}

uint16_t st_iso_select(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    (void)out;
    if (a->p1 != 0x04)
        return SW_NOT_FOUND; /* only selection by DF name (AID) exists here */
    if (a->lc == 0 || a->lc > ST_AID_MAX)
        return SW_WRONG_LENGTH;
    /* A SELECT on a closed channel 1-3 opens it (wolfSSL never sends MANAGE CHANNEL). */
    card->ch[a->channel].open = true;
    if (!aid_matches(&card->state, a->data, a->lc)) {
        card->ch[a->channel].selected = false;
        return SW_NOT_FOUND;
    }
    card->ch[a->channel].selected = true;
    return SW_OK; /* no client reads an FCI (reference §1) */
}

size_t st_iso_get_response(st_card *card, const struct st_apdu *a, uint8_t *r)
{
    /* Any CLA is accepted: wolfSSL fixes 01, Kigen's client uses 8X. */
    size_t left = card->pending_len - card->pending_off;
    if (left == 0) {
        r[0] = 0x69;
        r[1] = 0x85;
        return 2;
    }
    size_t want = a->has_le ? a->le : 256;
    size_t n = want < left ? want : left;
    memcpy(r, card->pending + card->pending_off, n);
    card->pending_off += n;
    left -= n;
    uint16_t sw = left == 0 ? card->pending_sw : (uint16_t)(0x6100 | (left >= 256 ? 0 : left));
    if (left == 0) {
        st_wipe(card->pending, card->pending_len);
        card->pending_len = card->pending_off = 0;
    }
    r[n] = (uint8_t)(sw >> 8);
    r[n + 1] = (uint8_t)sw;
    return n + 2;
}
