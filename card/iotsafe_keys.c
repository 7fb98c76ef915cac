/*
 * Key pair commands: GENERATE KEY PAIR (B9; on-board key generation, IoT.04
 * F7, G2, H1), READ PUBLIC KEY (CD) and PUT PUBLIC KEY Init / Update (24 /
 * D8; server keys for verification and ECDHE, E4, F3, F4). Reference
 * §2.10-§2.12.
 *
 * Public key TLV (spec clause 2.5.7): 34 45 { 49 43 { 86 41 04 X Y } }.
 * RSA-2048 extension (ours, documented in docs/card-crypto.md):
 * 34 82 01 0D { 49 82 01 09 { 81 82 01 00 <modulus> 82 LL <exponent> } }.
 */
#include <string.h>

#include "card_crypto.h"
#include "iotsafe_session.h"
#include "iotsafe_tlv.h"
#include "st_secret.h"

/* Appends a BER length (1, 2 or 3 bytes). */
static bool put_ber_len(struct st_resp *out, size_t n)
{
    uint8_t b[3];
    if (n < 0x80)
        return st_resp_put_u8(out, (uint8_t)n);
    if (n <= 0xFF) {
        b[0] = 0x81;
        b[1] = (uint8_t)n;
        return st_resp_put(out, b, 2);
    }
    if (n > 0xFFFF)
        return false;
    b[0] = 0x82;
    b[1] = (uint8_t)(n >> 8);
    b[2] = (uint8_t)n;
    return st_resp_put(out, b, 3);
}

static size_t ber_len_size(size_t n)
{
    return n < 0x80 ? 1 : n <= 0xFF ? 2 : 3;
}

static bool put_ber_tlv(struct st_resp *out, uint8_t tag, const uint8_t *v, size_t n)
{
    return st_resp_put_u8(out, tag) && put_ber_len(out, n) && st_resp_put(out, v, n);
}

/* The 34 TLV of a public key value (EC point or RSA SPKI). */
static uint16_t put_public_tlv(struct st_resp *out, uint8_t key_type, const uint8_t *val,
                               size_t val_len)
{
    if (st_crypto_curve_name(key_type) != NULL) {
        if (val_len != 65)
            return SW_UNKNOWN;
        uint8_t hdr[] = {0x34, 0x45, 0x49, 0x43, 0x86, 0x41};
        return st_resp_put(out, hdr, sizeof hdr) && st_resp_put(out, val, val_len) ? SW_OK
                                                                                   : SW_UNKNOWN;
    }
    uint8_t n[256], e[8];
    size_t n_len, e_len;
    if (st_crypto_rsa_public_parts(val, val_len, n, &n_len, e, &e_len) != 0)
        return SW_UNKNOWN;
    size_t inner = 1 + ber_len_size(n_len) + n_len + 1 + ber_len_size(e_len) + e_len;
    size_t mid = 1 + ber_len_size(inner) + inner;
    bool ok = st_resp_put_u8(out, 0x34) && put_ber_len(out, mid) && st_resp_put_u8(out, 0x49) &&
              put_ber_len(out, inner) && put_ber_tlv(out, 0x81, n, n_len) &&
              put_ber_tlv(out, 0x82, e, e_len);
    return ok ? SW_OK : SW_UNKNOWN;
}

/* The one reference TLV (ID or label, never both) that makes up the data. */
static uint16_t find_only_ref(st_card *card, enum st_obj_kind kind, const struct st_apdu *a,
                              struct st_object **o)
{
    uint8_t id_tag = kind == ST_OBJ_PRIVATE_KEY ? 0x84 : 0x85;
    const struct st_tlv_rule rules[] = {{id_tag, 0}, {(uint8_t)(id_tag - 0x10), 0}};
    struct st_tlv t[ST_TLV_MAX];
    size_t n;
    if (a->lc == 0)
        return SW_WRONG_LENGTH;
    if (st_tlv_split(a->data, a->lc, rules, 2, t, &n) != 0 || n != 1)
        return SW_INCORRECT_DATA;
    return st_find_ref(card, kind, t[0].raw, t[0].raw_len, o, NULL);
}

static void store_value(struct st_object *o, const uint8_t *v, size_t n)
{
    st_wipe(o->value, sizeof(o->value));
    memcpy(o->value, v, n);
    o->value_len = (uint16_t)n;
    o->state = ST_STATE_ACTIVATED;
}

/* Same curve (volatile or not), or both RSA-2048. */
static bool same_family(uint8_t a, uint8_t b)
{
    const char *ca = st_crypto_curve_name(a), *cb = st_crypto_curve_name(b);
    if (ca != NULL || cb != NULL)
        return ca != NULL && cb != NULL && strcmp(ca, cb) == 0;
    return a == ST_KEY_RSA2048 && b == ST_KEY_RSA2048;
}

/*
 * B9: data 84/74 of a private key with the key-generation function. The
 * public key object with the same ID, if any, receives the public half in
 * the same atomic update. Response:
 *   84 LL <private ID> [85 LL <public ID>] 34 ... (public key TLV)
 */
uint16_t st_cmd_generate_key(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    struct st_object *priv, *pub = NULL;
    uint8_t pv[ST_PRIV_MAX], pb[ST_PUB_MAX];
    uint16_t pv_len = 0, pb_len = 0;
    if (a->p1 != 0 || a->p2 != 0)
        return SW_INCORRECT_P1P2;
    uint16_t sw = find_only_ref(card, ST_OBJ_PRIVATE_KEY, a, &priv);
    if (sw != SW_OK)
        return sw;
    if (!(priv->functions & ST_FN_KEYGEN) || !st_crypto_key_type_supported(priv->key_type))
        return SW_CONDITIONS;
    if (priv->id_len > 0)
        pub = st_objects_find(&card->state, ST_OBJ_PUBLIC_KEY, false, priv->id, priv->id_len);
    if (pub != NULL && !same_family(priv->key_type, pub->key_type))
        return SW_CONDITIONS; /* the pair could not be kept consistent */
    if (st_crypto_keygen(priv->key_type, pv, &pv_len, pb, &pb_len) != 0) {
        sw = SW_UNKNOWN;
        goto out;
    }
    store_value(priv, pv, pv_len);
    bool persistent = !st_key_type_is_volatile(priv->key_type);
    if (pub != NULL) {
        store_value(pub, pb, pb_len);
        persistent = persistent || !st_key_type_is_volatile(pub->key_type);
    }
    st_card_account(card, ST_OP_KEYGEN);
    if (persistent) {
        sw = st_card_commit(card); /* rolls persistent values back on failure */
        if (sw != SW_OK) {
            /* The rollback keeps RAM-only values: leave no half of a new pair. */
            if (st_key_type_is_volatile(priv->key_type)) {
                st_wipe(priv->value, sizeof(priv->value));
                priv->value_len = 0;
                priv->state = ST_STATE_EMPTY;
            }
            goto out;
        }
    }
    if (!st_resp_put_tlv(out, 0x84, priv->id, priv->id_len) ||
        (pub != NULL && !st_resp_put_tlv(out, 0x85, pub->id, pub->id_len))) {
        sw = SW_UNKNOWN;
        goto out;
    }
    sw = put_public_tlv(out, priv->key_type, pb, pb_len);
out:
    st_wipe(pv, sizeof pv);
    return sw;
}

/* CD: data 85/75; response is the public key TLV. Needs the read right (tag 60). */
uint16_t st_cmd_read_public_key(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    struct st_object *pub;
    if (a->p1 != 0 || a->p2 != 0)
        return SW_INCORRECT_P1P2;
    uint16_t sw = find_only_ref(card, ST_OBJ_PUBLIC_KEY, a, &pub);
    if (sw != SW_OK)
        return sw;
    if (!(pub->access & ST_ACCESS_READ))
        return SW_SECURITY;
    if (pub->value_len == 0 || !st_crypto_key_type_supported(pub->key_type))
        return SW_CONDITIONS;
    return put_public_tlv(out, pub->key_type, pub->value, pub->value_len);
}

/* 24: P1=00 opens session P2 on a public key object with the update right. */
uint16_t st_cmd_put_key_init(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    struct st_session *s;
    struct st_object *pub;
    uint16_t sw = st_session_open_close(card, ST_SESS_PUTKEY, a, &s);
    if (sw != SW_OK || s == NULL)
        return sw;
    sw = find_only_ref(card, ST_OBJ_PUBLIC_KEY, a, &pub);
    if (sw != SW_OK)
        return sw;
    if (!(pub->access & ST_ACCESS_UPDATE) || !st_crypto_key_type_supported(pub->key_type))
        return SW_CONDITIONS;
    s->key_kind = ST_OBJ_PUBLIC_KEY;
    s->key_index = st_session_key_index(card, ST_OBJ_PUBLIC_KEY, pub);
    s->buf_len = 0;
    s->open = true;
    return SW_OK;
}

/* The single TLV with tag that spans all of v[0..n), BER length allowed. */
static const uint8_t *unwrap(uint8_t tag, const uint8_t *v, size_t n, size_t *len)
{
    const struct st_tlv_rule rule = {tag, ST_TLV_BER};
    struct st_tlv t[ST_TLV_MAX];
    size_t cnt;
    if (st_tlv_split(v, n, &rule, 1, t, &cnt) != 0 || cnt != 1)
        return NULL;
    *len = t[0].len;
    return t[0].v;
}

/* Decodes the collected 34 TLV into a value of the object's key type. */
static uint16_t decode_public(const struct st_object *o, const uint8_t *v, size_t n, uint8_t *val,
                              uint16_t *val_len)
{
    size_t l34, l49;
    const uint8_t *p34 = unwrap(0x34, v, n, &l34);
    const uint8_t *p49 = p34 != NULL ? unwrap(0x49, p34, l34, &l49) : NULL;
    if (p49 == NULL)
        return SW_INCORRECT_DATA;
    if (st_crypto_curve_name(o->key_type) != NULL) {
        size_t lpt;
        const uint8_t *pt = unwrap(0x86, p49, l49, &lpt);
        /* Rule 8.8: a point of another curve (or none at all) is incorrect data. */
        if (pt == NULL || st_crypto_ec_point_check(o->key_type, pt, lpt) != 0)
            return SW_INCORRECT_DATA;
        memcpy(val, pt, lpt);
        *val_len = (uint16_t)lpt;
        return SW_OK;
    }
    const struct st_tlv_rule rules[] = {{0x81, ST_TLV_BER}, {0x82, ST_TLV_BER}};
    struct st_tlv t[ST_TLV_MAX];
    size_t cnt;
    if (st_tlv_split(p49, l49, rules, 2, t, &cnt) != 0 || cnt != 2)
        return SW_INCORRECT_DATA;
    const struct st_tlv *mod = st_tlv_find(t, cnt, 0x81), *exp = st_tlv_find(t, cnt, 0x82);
    if (st_crypto_rsa_public_from_parts(mod->v, mod->len, exp->v, exp->len, val, val_len) != 0)
        return SW_INCORRECT_DATA;
    return SW_OK;
}

/* D8: P1=00 more blocks, 80 last; blocks are concatenated, then decoded and stored. */
uint16_t st_cmd_put_key_update(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    struct st_session *s;
    struct st_object *pub;
    uint8_t val[ST_PUB_MAX];
    uint16_t val_len = 0;
    uint16_t sw = st_session_get(card, ST_SESS_PUTKEY, a, &s, &pub);
    if (sw != SW_OK)
        return sw;
    if (a->lc == 0 && a->p1 != ST_BLOCK_LAST) {
        sw = SW_WRONG_LENGTH;
        goto out;
    }
    if (a->lc > sizeof(s->buf) - s->buf_len) {
        sw = SW_INCORRECT_DATA; /* longer than any public key TLV */
        goto out;
    }
    if (a->lc > 0)
        memcpy(s->buf + s->buf_len, a->data, a->lc);
    s->buf_len += a->lc;
    if (a->p1 != ST_BLOCK_LAST)
        return SW_OK;
    sw = decode_public(pub, s->buf, s->buf_len, val, &val_len);
    if (sw != SW_OK)
        goto out;
    store_value(pub, val, val_len);
    if (!st_key_type_is_volatile(pub->key_type))
        sw = st_card_commit(card);
out:
    st_wipe(s->buf, s->buf_len);
    s->buf_len = 0;
    return sw;
}
