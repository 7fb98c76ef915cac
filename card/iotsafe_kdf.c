/*
 * COMPUTE PRF (48): TLS 1.2 PRF-SHA256 (IoT.04 J4) for a master secret from
 * a given secret, a PSK or a PSK combined with ECDHE (J1, F5); and COMPUTE
 * HKDF (4A): HKDF-Extract for the TLS 1.3 key schedule (J5, F6) plus our
 * Expand extension. Reference §2.14, §2.15; docs/card-crypto.md.
 *
 * Lengths: THM writes one-byte lengths even above 127 ("D2 4D", "D2 A0"),
 * others BER; st_tlv_split() accepts both (see iotsafe_tlv.h).
 */
#include <string.h>

#include "card_crypto.h"
#include "card_internal.h"
#include "iotsafe_tlv.h"
#include "st_secret.h"

#define PRF_GENERAL 0x00
#define PRF_PSK 0x01
#define PRF_PSK_ECDHE 0x02

#define HKDF_EXTRACT 0x00
#define HKDF_EXPAND 0x01
#define HKDF_OUT_MAX 1024 /* our cap on Expand output (RFC 5869: 255 * HashLen) */

/* A secret key object usable for derivation (61 bit 3, filled). */
static uint16_t derivation_key(st_card *card, const struct st_tlv *ref, struct st_object **o)
{
    uint16_t sw = st_find_ref(card, ST_OBJ_SECRET_KEY, ref->raw, ref->raw_len, o, NULL);
    if (sw != SW_OK)
        return sw;
    if (!((*o)->functions & ST_FN_KEY_DERIVATION) || (*o)->value_len == 0)
        return SW_CONDITIONS;
    return SW_OK;
}

static size_t put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

/*
 * Pre-master secret of the PSK key exchanges:
 *   RFC 4279 §2 (PSK):        uint16 N | N zero bytes | uint16 N | psk
 *   RFC 5489 §2 (ECDHE_PSK):  uint16 len | other | uint16 N | psk
 */
static size_t premaster(uint8_t *pm, const struct st_object *psk, const struct st_tlv *other)
{
    size_t off = 0;
    if (other == NULL) {
        off += put_u16(pm, psk->value_len);
        memset(pm + off, 0, psk->value_len);
        off += psk->value_len;
    } else {
        off += put_u16(pm, other->len);
        memcpy(pm + off, other->v, other->len);
        off += other->len;
    }
    off += put_u16(pm + off, psk->value_len);
    memcpy(pm + off, psk->value, psk->value_len);
    return off + psk->value_len;
}

/*
 * 48, P1 = mode: 00 general (D1 secret), 01 PSK (86/76), 02 PSK-ECDHE
 * (86/76 and D4 other secret); D2 label || seed; D3 01 output length.
 */
uint16_t st_cmd_compute_prf(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    static const struct st_tlv_rule rules[] = {
        {0x86, 0}, {0x76, 0}, {0xD1, ST_TLV_BER}, {0xD4, ST_TLV_BER}, {0xD2, ST_TLV_BER}, {0xD3, 0},
    };
    struct st_tlv t[ST_TLV_MAX];
    const struct st_tlv *ref;
    size_t n;
    uint8_t pm[2 + 255 + 2 + ST_SECRET_MAX], res[255];
    size_t pm_len = 0, out_len;
    uint16_t sw;
    if (a->p1 > PRF_PSK_ECDHE || a->p2 != 0)
        return SW_INCORRECT_P1P2;
    if (a->lc == 0)
        return SW_WRONG_LENGTH;
    if (st_tlv_split(a->data, a->lc, rules, sizeof(rules) / sizeof(rules[0]), t, &n) != 0)
        return SW_INCORRECT_DATA;
    const struct st_tlv *d1 = st_tlv_find(t, n, 0xD1), *d4 = st_tlv_find(t, n, 0xD4);
    const struct st_tlv *d2 = st_tlv_find(t, n, 0xD2), *d3 = st_tlv_find(t, n, 0xD3);
    if (st_tlv_ref(t, n, 0x86, &ref) != 0 || d2 == NULL || d2->len == 0 || d3 == NULL ||
        d3->len != 1 || d3->v[0] == 0)
        return SW_INCORRECT_DATA;
    out_len = d3->v[0];
    /* Each mode takes exactly its own secret inputs. */
    bool ok = a->p1 == PRF_GENERAL ? (d1 != NULL && d1->len > 0 && ref == NULL && d4 == NULL)
              : a->p1 == PRF_PSK   ? (ref != NULL && d1 == NULL && d4 == NULL)
                                   : (ref != NULL && d4 != NULL && d4->len > 0 && d1 == NULL);
    if (!ok)
        return SW_INCORRECT_DATA;
    int rc;
    if (a->p1 == PRF_GENERAL) {
        rc = st_crypto_tls12_prf(d1->v, d1->len, d2->v, d2->len, res, out_len);
    } else {
        struct st_object *psk;
        sw = derivation_key(card, ref, &psk);
        if (sw != SW_OK)
            return sw;
        if (psk->value_len > ST_SECRET_MAX)
            return SW_CONDITIONS; /* J2: PSKs are at most 512 bits */
        pm_len = premaster(pm, psk, a->p1 == PRF_PSK_ECDHE ? d4 : NULL);
        rc = st_crypto_tls12_prf(pm, pm_len, d2->v, d2->len, res, out_len);
        st_wipe(pm, pm_len);
    }
    if (rc == 0) {
        st_card_account(card, ST_OP_PRF);
        sw = st_resp_put(out, res, out_len) ? SW_OK : SW_UNKNOWN;
    } else {
        sw = SW_UNKNOWN;
    }
    st_wipe(res, sizeof res);
    return sw;
}

/* The key input of HKDF: D1 bytes or a secret key object (86/76, our extension). */
static uint16_t hkdf_key(st_card *card, const struct st_tlv *t, size_t n, const uint8_t **k,
                         size_t *k_len)
{
    const struct st_tlv *ref, *d1 = st_tlv_find(t, n, 0xD1);
    if (st_tlv_ref(t, n, 0x86, &ref) != 0 || (ref == NULL) == (d1 == NULL))
        return SW_INCORRECT_DATA;
    if (d1 != NULL) {
        *k = d1->v;
        *k_len = d1->len;
        return SW_OK;
    }
    struct st_object *o;
    uint16_t sw = derivation_key(card, ref, &o);
    if (sw != SW_OK)
        return sw;
    *k = o->value;
    *k_len = o->value_len;
    return SW_OK;
}

/*
 * 4A, P1 = 00 Extract: D1 IKM | 86/76, D5 salt (absent: HashLen zero bytes,
 * the same PRK as an empty salt), 91 hash (absent: SHA-256) -> PRK.
 * P1 = 01 Expand (extension): D1 PRK | 86/76, D6 info (optional), D3 output
 * length (1 or 2 bytes big-endian), 91 hash -> OKM.
 */
uint16_t st_cmd_compute_hkdf(st_card *card, const struct st_apdu *a, struct st_resp *out)
{
    static const struct st_tlv_rule rules[] = {
        {0x86, 0},          {0x76, 0}, {0xD1, ST_TLV_BER}, {0xD5, ST_TLV_BER},
        {0xD6, ST_TLV_BER}, {0xD3, 0}, {0x91, 0},
    };
    struct st_tlv t[ST_TLV_MAX];
    size_t n, k_len = 0, out_len;
    const uint8_t *k = NULL;
    uint8_t res[HKDF_OUT_MAX];
    if (a->p1 > HKDF_EXPAND || a->p2 != 0)
        return SW_INCORRECT_P1P2;
    if (a->lc == 0)
        return SW_WRONG_LENGTH;
    if (st_tlv_split(a->data, a->lc, rules, sizeof(rules) / sizeof(rules[0]), t, &n) != 0)
        return SW_INCORRECT_DATA;
    const struct st_tlv *h = st_tlv_find(t, n, 0x91), *salt = st_tlv_find(t, n, 0xD5);
    const struct st_tlv *info = st_tlv_find(t, n, 0xD6), *len = st_tlv_find(t, n, 0xD3);
    uint16_t hash = ST_HASH_SHA256;
    if (h != NULL) {
        if (h->len != 2)
            return SW_INCORRECT_DATA;
        hash = (uint16_t)(h->v[0] << 8 | h->v[1]);
    }
    const EVP_MD *md = st_crypto_md(hash);
    if (md == NULL)
        return SW_INCORRECT_DATA;
    size_t hlen = (size_t)EVP_MD_get_size(md);
    if (a->p1 == HKDF_EXTRACT) {
        if (info != NULL || len != NULL)
            return SW_INCORRECT_DATA;
        out_len = hlen;
    } else {
        if (salt != NULL || len == NULL || len->len == 0 || len->len > 2)
            return SW_INCORRECT_DATA;
        out_len = len->len == 1 ? len->v[0] : (size_t)(len->v[0] << 8 | len->v[1]);
        if (out_len == 0 || out_len > 255 * hlen || out_len > HKDF_OUT_MAX)
            return SW_INCORRECT_DATA;
    }
    uint16_t sw = hkdf_key(card, t, n, &k, &k_len);
    if (sw != SW_OK)
        return sw;
    int rc;
    if (a->p1 == HKDF_EXTRACT) {
        rc = st_crypto_hkdf_extract(md, k, k_len, salt ? salt->v : NULL, salt ? salt->len : 0, res);
    } else {
        if (k_len < hlen)
            return SW_INCORRECT_DATA; /* RFC 5869: PRK of at least HashLen */
        rc = st_crypto_hkdf_expand(md, k, k_len, info ? info->v : NULL, info ? info->len : 0, res,
                                   out_len);
    }
    if (rc != 0) {
        st_wipe(res, sizeof res);
        return SW_UNKNOWN;
    }
    st_card_account(card, ST_OP_HKDF);
    sw = st_resp_put(out, res, out_len) ? SW_OK : SW_UNKNOWN;
    st_wipe(res, sizeof res);
    return sw;
}
