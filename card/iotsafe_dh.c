/*
 * COMPUTE DH (46): the ECDHE shared secret of TLS 1.2 and 1.3 (IoT.04 E6,
 * F4) from a private key with the key-agreement function and a public key
 * object (reference §2.13). The answer is the raw x-coordinate; the private
 * key never leaves the card.
 */
#include <string.h>

#include "card_crypto.h"
#include "card_internal.h"
#include "iotsafe_tlv.h"
#include "st_secret.h"

#define SECRET_LEN 32

uint16_t st_cmd_compute_dh(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    static const struct st_tlv_rule rules[] = {{0x84, 0}, {0x74, 0}, {0x85, 0}, {0x75, 0}};
    struct st_tlv t[ST_TLV_MAX];
    size_t n;
    struct st_object *priv, *pub;
    uint8_t z[SECRET_LEN];
    size_t z_len = 0;
    if (a->p1 != 0 || a->p2 != 0)
        return SW_INCORRECT_P1P2;
    if (a->lc == 0)
        return SW_WRONG_LENGTH; /* ORA sends Lc=0 by a bug (reference §2.1) */
    if (st_tlv_split(a->data, a->lc, rules, 4, t, &n) != 0)
        return SW_INCORRECT_DATA;
    /* One reference per key, in either order. */
    const struct st_tlv *pr, *pu;
    if (st_tlv_ref(t, n, 0x84, &pr) != 0 || st_tlv_ref(t, n, 0x85, &pu) != 0 || pr == NULL ||
        pu == NULL)
        return SW_INCORRECT_DATA;
    uint16_t sw = st_find_ref(card, ST_OBJ_PRIVATE_KEY, pr->raw, pr->raw_len, &priv, NULL);
    if (sw == SW_OK)
        sw = st_find_ref(card, ST_OBJ_PUBLIC_KEY, pu->raw, pu->raw_len, &pub, NULL);
    if (sw != SW_OK)
        return sw;
    if (!(priv->functions & ST_FN_KEY_AGREEMENT) || priv->value_len == 0)
        return SW_CONDITIONS;
    /* Rule 8.8 / THM: the peer key must be put before DH. */
    if (pub->value_len == 0)
        return SW_CONDITIONS;
    const char *curve = st_crypto_curve_name(priv->key_type);
    const char *peer = st_crypto_curve_name(pub->key_type);
    if (curve == NULL || peer == NULL || strcmp(curve, peer) != 0)
        return SW_INCORRECT_DATA;
    if (st_crypto_ecdh(priv, pub, z, &z_len) != 0)
        return SW_INCORRECT_DATA; /* e.g. a stored point that is not on the curve */
    st_card_account(card, ST_OP_ECDH);
    sw = st_resp_put(out, z, z_len) ? SW_OK : SW_UNKNOWN;
    st_wipe(z, sizeof z);
    return sw;
}
