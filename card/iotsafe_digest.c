/*
 * The digest a COMPUTE or VERIFY SIGNATURE session signs or checks, from the
 * Update TLVs of its mode (IoT.04 F2; reference §2.8):
 *   01 full text:  9B <data>, any number of blocks, hashed with the 91 hash
 *   02 last block: 9A <tail> 9C <SHA-256 state> 9D <4-byte count>, last block
 *   03 pad & sign: 9E <digest>, last block
 */
#include <string.h>

#include "card_crypto.h"
#include "iotsafe_session.h"
#include "st_secret.h"

size_t st_sig_input_rules(uint8_t mode, struct st_tlv_rule *rules)
{
    switch (mode) {
    case ST_MODE_FULL_TEXT:
        rules[0] = (struct st_tlv_rule){0x9B, ST_TLV_BER | ST_TLV_REPEAT};
        return 1;
    case ST_MODE_LAST_BLOCK:
        rules[0] = (struct st_tlv_rule){0x9A, ST_TLV_BER};
        rules[1] = (struct st_tlv_rule){0x9C, 0};
        rules[2] = (struct st_tlv_rule){0x9D, 0};
        return 3;
    default:
        rules[0] = (struct st_tlv_rule){0x9E, 0};
        return 1;
    }
}

static uint16_t full_text(struct st_session *s, const struct st_tlv *t, size_t n, bool last,
                          uint8_t *dig, size_t *dlen)
{
    if (s->md == NULL)
        return SW_UNKNOWN;
    for (size_t i = 0; i < n; i++)
        if (t[i].tag == 0x9B && EVP_DigestUpdate(s->md, t[i].v, t[i].len) != 1)
            return SW_UNKNOWN;
    if (!last)
        return SW_OK;
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(s->md, dig, &len) != 1)
        return SW_UNKNOWN;
    *dlen = len;
    return SW_OK;
}

/* SHA-256 resumed from the device's state; 9A may be absent (empty tail). */
static uint16_t last_block(const struct st_tlv *t, size_t n, uint8_t *dig, size_t *dlen)
{
    const struct st_tlv *tail = st_tlv_find(t, n, 0x9A);
    const struct st_tlv *state = st_tlv_find(t, n, 0x9C);
    const struct st_tlv *done = st_tlv_find(t, n, 0x9D);
    if (state == NULL || state->len != 32 || done == NULL || done->len != 4)
        return SW_INCORRECT_DATA;
    uint64_t count = (uint64_t)done->v[0] << 24 | (uint64_t)done->v[1] << 16 |
                     (uint64_t)done->v[2] << 8 | done->v[3];
    if (count % 64 != 0)
        return SW_INCORRECT_DATA;
    if (st_crypto_sha256_resume(state->v, count, tail ? tail->v : NULL, tail ? tail->len : 0,
                                dig) != 0)
        return SW_INCORRECT_DATA;
    *dlen = 32;
    return SW_OK;
}

/*
 * ECDSA takes the 9E value as it is, with the usual truncation (WS sends
 * SHA-512 digests under 91 = SHA-256, reference §2.8); RSA picks the
 * DigestInfo hash by its length, so it must be 32, 48 or 64 bytes.
 */
static uint16_t pad_sign(const struct st_object *key, const struct st_tlv *t, size_t n,
                         uint8_t *dig, size_t *dlen)
{
    const struct st_tlv *d = st_tlv_find(t, n, 0x9E);
    if (d == NULL || d->len == 0 || d->len > ST_SIG_DIGEST_MAX)
        return SW_INCORRECT_DATA;
    if (key->key_type == ST_KEY_RSA2048 && st_crypto_hash_of_len(d->len) == 0)
        return SW_INCORRECT_DATA;
    memcpy(dig, d->v, d->len);
    *dlen = d->len;
    return SW_OK;
}

uint16_t st_sig_digest(struct st_session *s, const struct st_object *key, const struct st_tlv *t,
                       size_t n, bool last, uint8_t *dig, size_t *dlen)
{
    if (s->mode == ST_MODE_FULL_TEXT)
        return full_text(s, t, n, last, dig, dlen);
    /* Modes 02 and 03: the digest input travels in the last block only. */
    for (size_t i = 0; !last && i < n; i++)
        if (t[i].tag != 0x33)
            return SW_INCORRECT_DATA;
    if (!last)
        return SW_OK;
    if (s->mode == ST_MODE_LAST_BLOCK)
        return last_block(t, n, dig, dlen);
    return pad_sign(key, t, n, dig, dlen);
}

void st_sig_restart(struct st_session *s)
{
    st_wipe(s->buf, s->buf_len);
    s->buf_len = 0;
    if (s->md != NULL && EVP_DigestInit_ex(s->md, st_crypto_md(s->hash), NULL) != 1)
        st_session_close(s);
}
