/*
 * Key derivation on the card: COMPUTE PRF (INS 48, TLS 1.2 PRF-SHA256,
 * IoT.04 J4, F5) and COMPUTE HKDF (INS 4A, RFC 5869 for the TLS 1.3 key
 * schedule, J5, F6). Reference §2.14, §2.15; the Expand command and the
 * secret-object IKM are this card's extension (docs/card-crypto.md):
 *   48 <mode> 00 Lc [86|76 psk] [D1 secret] [D4 ecdhe] D2 label||seed D3 01 len
 *   4A 00 00 Lc  D1 ikm | 86|76 psk,  D5 salt,  91 hash           -> PRK
 *   4A 01 00 Lc  D1 prk | 86|76 psk,  [D6 info], D3 len(1|2), 91 hash -> OKM
 * Lengths are BER (81 xx above 127; the card also takes THM's plain byte).
 * These commands have no blocks: an input that does not fit the link's
 * max_apdu is ST_E_UNSUPPORTED.
 */
#include <string.h>

#include "iotsafe_int.h"

#define PRF_OUT_MAX 255
#define HKDF_OUT_MAX 1024
#define HASH_MAX 64

size_t st_iotsafe_hash_len(uint16_t hash)
{
    switch (hash) {
    case ST_IOTSAFE_HASH_SHA256:
        return 32;
    case ST_IOTSAFE_HASH_SHA384:
        return 48;
    case ST_IOTSAFE_HASH_SHA512:
        return 64;
    default:
        return 0;
    }
}

/*
 * Runs a key-derivation command straight into out (capacity *out_len): the
 * answer must be `want` bytes. On error out is zeroed (no partial secret).
 */
static int derive(struct st_iotsafe *ios, uint8_t ins, uint8_t p1, const struct st_tlv_writer *w,
                  const char *too_long, uint8_t *out, size_t want, size_t *out_len)
{
    size_t cap = *out_len, n = cap;
    int rc;
    if (st_tlv_writer_status(w) != ST_OK || w->len > st_ios_data_max(ios, true))
        return st_ios_unsupported(ios, too_long);
    rc = st_ios_command(ios, ins, p1, 0x00, w->buf, w->len, LE_ANY, out, &n);
    if (rc == ST_E_BUFFER)
        rc = st_ios_fail(ios, ST_E_PARSE, "key derivation: answer longer than requested");
    if (rc == ST_OK && n != want)
        rc = st_ios_fail(ios, ST_E_PARSE, "key derivation: answer of the wrong length");
    if (rc != ST_OK) {
        st_ios_wipe(out, cap);
        return rc;
    }
    *out_len = n;
    return ST_OK;
}

int st_iotsafe_prf(struct st_iotsafe *ios, const struct st_iotsafe_prf_params *p, uint8_t *out,
                   size_t out_len)
{
    uint8_t cmd[255 + 8];
    struct st_tlv_writer w;
    if (p == NULL || out == NULL || out_len == 0 || out_len > PRF_OUT_MAX)
        return ST_E_ARG;
    if ((p->label == NULL && p->label_len > 0) || (p->seed == NULL && p->seed_len > 0) ||
        p->label_len + p->seed_len == 0)
        return ST_E_ARG;
    switch (p->mode) {
    case ST_IOTSAFE_PRF_GENERAL:
        if (p->secret == NULL || p->secret_len == 0 || p->psk != NULL || p->other_len > 0)
            return ST_E_ARG;
        break;
    case ST_IOTSAFE_PRF_PSK:
        if (!st_ios_ref_ok(p->psk) || p->secret_len > 0 || p->other_len > 0)
            return ST_E_ARG;
        break;
    case ST_IOTSAFE_PRF_PSK_ECDHE:
        if (!st_ios_ref_ok(p->psk) || p->secret_len > 0 || p->other == NULL || p->other_len == 0)
            return ST_E_ARG;
        break;
    default:
        return ST_E_ARG;
    }
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    /* THM's order: 86|76, D1, D4, D2, D3. */
    st_tlv_writer_init(&w, cmd, sizeof(cmd));
    if (p->psk != NULL)
        st_ios_put_ref(&w, ST_IOTSAFE_SECRET_KEY, p->psk);
    if (p->mode == ST_IOTSAFE_PRF_GENERAL)
        st_tlv_put(&w, 0xD1, p->secret, p->secret_len);
    if (p->mode == ST_IOTSAFE_PRF_PSK_ECDHE)
        st_tlv_put(&w, 0xD4, p->other, p->other_len);
    st_tlv_put_header(&w, 0xD2, p->label_len + p->seed_len, ST_TLV_BER);
    st_tlv_put_raw(&w, p->label, p->label_len);
    st_tlv_put_raw(&w, p->seed, p->seed_len);
    st_tlv_put_u8(&w, 0xD3, (uint8_t)out_len);
    size_t n = out_len;
    rc = derive(ios, INS_COMPUTE_PRF, p->mode, &w, "COMPUTE PRF does not fit the link", out,
                out_len, &n);
    st_ios_wipe(cmd, sizeof(cmd));
    return st_ios_end(ios, rc);
}

/* The key input TLV: D1 bytes or a secret key reference. */
static int put_key_input(struct st_tlv_writer *w, const struct st_iotsafe_key_input *k)
{
    if (k == NULL)
        return ST_E_ARG;
    if (k->ref != NULL) {
        if (!st_ios_ref_ok(k->ref) || k->len > 0)
            return ST_E_ARG;
        st_ios_put_ref(w, ST_IOTSAFE_SECRET_KEY, k->ref);
        return ST_OK;
    }
    if (k->bytes == NULL && k->len > 0)
        return ST_E_ARG;
    st_tlv_put(w, 0xD1, k->bytes, k->len);
    return ST_OK;
}

int st_iotsafe_hkdf_extract(struct st_iotsafe *ios, uint16_t hash,
                            const struct st_iotsafe_key_input *ikm, const uint8_t *salt,
                            size_t salt_len, uint8_t *prk, size_t *prk_len)
{
    static const uint8_t zeros[HASH_MAX] = {0};
    uint8_t cmd[255 + 8];
    struct st_tlv_writer w;
    if (hash == 0)
        hash = ST_IOTSAFE_HASH_SHA256;
    size_t hlen = st_iotsafe_hash_len(hash);
    if (hlen == 0 || prk == NULL || prk_len == NULL || (salt == NULL && salt_len > 0))
        return ST_E_ARG;
    if (*prk_len < hlen)
        return ST_E_BUFFER;
    st_tlv_writer_init(&w, cmd, sizeof(cmd));
    if (put_key_input(&w, ikm) != ST_OK) {
        st_ios_wipe(cmd, sizeof(cmd));
        return ST_E_ARG;
    }
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    /* "Applet do not support the HKDF with a NULL Salt" (wolfSSL PR 4676):
     * HashLen zero bytes give the same PRK (RFC 5869 §2.2). */
    if (salt_len == 0)
        st_tlv_put(&w, 0xD5, zeros, hlen);
    else
        st_tlv_put(&w, 0xD5, salt, salt_len);
    st_tlv_put_u16(&w, 0x91, hash);
    size_t n = hlen;
    rc = derive(ios, INS_COMPUTE_HKDF, 0x00, &w, "COMPUTE HKDF Extract does not fit the link", prk,
                hlen, &n);
    if (rc == ST_OK)
        *prk_len = n;
    st_ios_wipe(cmd, sizeof(cmd));
    return st_ios_end(ios, rc);
}

int st_iotsafe_hkdf_expand(struct st_iotsafe *ios, uint16_t hash,
                           const struct st_iotsafe_key_input *prk, const uint8_t *info,
                           size_t info_len, uint8_t *out, size_t out_len)
{
    uint8_t cmd[255 + 8];
    struct st_tlv_writer w;
    if (hash == 0)
        hash = ST_IOTSAFE_HASH_SHA256;
    size_t hlen = st_iotsafe_hash_len(hash);
    if (hlen == 0 || out == NULL || out_len == 0 || out_len > HKDF_OUT_MAX ||
        out_len > 255 * hlen || (info == NULL && info_len > 0))
        return ST_E_ARG;
    st_tlv_writer_init(&w, cmd, sizeof(cmd));
    if (put_key_input(&w, prk) != ST_OK) {
        st_ios_wipe(cmd, sizeof(cmd));
        return ST_E_ARG;
    }
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    if (info_len > 0)
        st_tlv_put(&w, 0xD6, info, info_len);
    if (out_len <= 0xFF)
        st_tlv_put_u8(&w, 0xD3, (uint8_t)out_len);
    else
        st_tlv_put_u16(&w, 0xD3, (uint16_t)out_len);
    st_tlv_put_u16(&w, 0x91, hash);
    size_t n = out_len;
    rc = derive(ios, INS_COMPUTE_HKDF, 0x01, &w, "COMPUTE HKDF Expand does not fit the link", out,
                out_len, &n);
    st_ios_wipe(cmd, sizeof(cmd));
    return st_ios_end(ios, rc);
}
