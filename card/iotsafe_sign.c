/*
 * COMPUTE SIGNATURE Init (2A) and Update (2B): ECDSA P-256 / brainpoolP256r1
 * (IoT.04 E1), RSA-2048 PKCS#1 v1.5 and PSS (E2), in the three modes of
 * F2: the card hashes everything (01), finishes a SHA-256 begun by the
 * device (02), or signs a digest the device computed (03). Reference §2.8.
 */
#include "card_crypto.h"
#include "iotsafe_session.h"
#include "st_secret.h"

#define MAX_SIG 256

uint16_t st_cmd_sign_init(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    return st_sig_session_init(card, ST_SESS_SIGN, a);
}

/*
 * Tag 33 in the form the card is configured for (rule 8.6): 33 00 40 or
 * 33 40 for ECDSA; 33 01 00 or, as one byte cannot say 256, 33 82 01 00.
 */
static bool put_signature(const st_card *card, struct st_resp *out, const uint8_t *sig, size_t n)
{
    uint8_t hdr[4] = {0x33};
    size_t h;
    if (card->state.sig_form == ST_SIG_FORM_1BYTE) {
        if (n < 0x80) {
            hdr[1] = (uint8_t)n;
            h = 2;
        } else {
            hdr[1] = 0x82;
            hdr[2] = (uint8_t)(n >> 8);
            hdr[3] = (uint8_t)n;
            h = 4;
        }
    } else {
        hdr[1] = (uint8_t)(n >> 8);
        hdr[2] = (uint8_t)n;
        h = 3;
    }
    return st_resp_put(out, hdr, h) && st_resp_put(out, sig, n);
}

/* Parses one Update block and feeds it to the session's digest. */
static uint16_t digest_block(struct st_session *s, const struct st_object *key,
                             const struct st_apdu *a, uint8_t *dig, size_t *dlen)
{
    struct st_tlv_rule rules[3];
    struct st_tlv t[ST_TLV_MAX];
    size_t n;
    /* Only full text spans blocks; the other modes fit one APDU. */
    if (s->mode != ST_MODE_FULL_TEXT && a->p1 != ST_BLOCK_LAST)
        return SW_INCORRECT_P1P2;
    size_t nrules = st_sig_input_rules(s->mode, rules);
    if (st_tlv_split(a->data, a->lc, rules, nrules, t, &n) != 0)
        return SW_INCORRECT_DATA;
    return st_sig_digest(s, key, t, n, a->p1 == ST_BLOCK_LAST, dig, dlen);
}

uint16_t st_cmd_sign_update(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    struct st_session *s;
    struct st_object *key;
    uint8_t dig[ST_SIG_DIGEST_MAX], sig[MAX_SIG];
    size_t dlen = 0, sig_len = 0;
    uint16_t sw = st_session_get(card, ST_SESS_SIGN, a, &s, &key);
    if (sw != SW_OK)
        return sw;
    /* Only a full-text session may end with an empty last block. */
    if (a->lc == 0 && !(s->mode == ST_MODE_FULL_TEXT && a->p1 == ST_BLOCK_LAST))
        sw = SW_WRONG_LENGTH;
    else if (key->value_len == 0)
        sw = SW_CONDITIONS; /* a volatile key lost at reset */
    else
        sw = digest_block(s, key, a, dig, &dlen);
    if (sw != SW_OK || a->p1 != ST_BLOCK_LAST)
        goto out;
    if (st_crypto_sign_digest(key, s->sig_alg, dig, dlen, sig, &sig_len) != 0) {
        sw = SW_UNKNOWN;
        goto out;
    }
    st_card_account(card, ST_OP_SIGN);
    if (!put_signature(card, out, sig, sig_len))
        sw = SW_UNKNOWN;
out:
    /* An error drops the data hashed so far; so does a finished signature. */
    if (sw != SW_OK || a->p1 == ST_BLOCK_LAST)
        st_sig_restart(s);
    st_wipe(dig, sizeof dig);
    st_wipe(sig, sizeof sig);
    return sw;
}
