/*
 * VERIFY SIGNATURE Init (2C) and Update (2D) with a public key object:
 * signature verification of IoT.04 E1, E2, F2 and server certificate /
 * handshake signature checks of F3. Reference §2.9.
 *
 * Update blocks carry the mode's digest input (see iotsafe_digest.c) and the
 * signature TLV 33 in any of the forms clients send: 33 40, 33 00 40,
 * 33 81 xx, 33 82 xx xx (rule 8.6). Several 33 TLVs, also across blocks
 * (P1=00), are concatenated, so an RSA signature can span APDUs; they are
 * collected in the session buffer.
 */
#include <string.h>

#include "card_crypto.h"
#include "iotsafe_session.h"
#include "st_secret.h"

uint16_t st_cmd_verify_init(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    return st_sig_session_init(card, ST_SESS_VERIFY, a);
}

/* Splits a block, appends its signature fragments and feeds the digest. */
static uint16_t take_block(struct st_session *s, const struct st_object *key,
                           const struct st_apdu *a, uint8_t *dig, size_t *dlen)
{
    struct st_tlv_rule rules[4];
    struct st_tlv t[ST_TLV_MAX];
    size_t n;
    size_t nrules = st_sig_input_rules(s->mode, rules);
    rules[nrules++] = (struct st_tlv_rule){0x33, ST_TLV_BER | ST_TLV_2BYTE | ST_TLV_REPEAT};
    if (st_tlv_split(a->data, a->lc, rules, nrules, t, &n) != 0)
        return SW_INCORRECT_DATA;
    for (size_t i = 0; i < n; i++) {
        if (t[i].tag != 0x33)
            continue;
        /* Longer than any signature we check: malformed. */
        if (t[i].len > sizeof(s->buf) - s->buf_len)
            return SW_INCORRECT_DATA;
        memcpy(s->buf + s->buf_len, t[i].v, t[i].len);
        s->buf_len += t[i].len;
    }
    return st_sig_digest(s, key, t, n, a->p1 == ST_BLOCK_LAST, dig, dlen);
}

uint16_t st_cmd_verify_update(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    struct st_session *s;
    struct st_object *key;
    uint8_t dig[ST_SIG_DIGEST_MAX];
    size_t dlen = 0;
    uint16_t sw = st_session_get(card, ST_SESS_VERIFY, a, &s, &key);
    if (sw != SW_OK)
        return sw;
    if (a->lc == 0 && a->p1 != ST_BLOCK_LAST)
        sw = SW_WRONG_LENGTH;
    else if (key->value_len == 0)
        sw = SW_CONDITIONS; /* a volatile key lost at reset */
    else
        sw = take_block(s, key, a, dig, &dlen);
    if (sw != SW_OK || a->p1 != ST_BLOCK_LAST)
        goto out;
    /* Raw r || s of 64 bytes for EC, 256 bytes for RSA-2048: anything else is malformed. */
    if (s->buf_len != st_crypto_sig_len(key->key_type)) {
        sw = SW_INCORRECT_DATA;
        goto out;
    }
    int ok = st_crypto_verify_digest(key, s->sig_alg, dig, dlen, s->buf, s->buf_len);
    if (ok < 0) {
        sw = SW_INCORRECT_DATA;
        goto out;
    }
    st_card_account(card, ST_OP_VERIFY);
    sw = ok ? SW_OK : SW_SIGNATURE_MISMATCH;
out:
    if (sw != SW_OK || a->p1 == ST_BLOCK_LAST)
        st_sig_restart(s);
    st_wipe(dig, sizeof dig);
    return sw;
}
