/*
 * Signature formats: the 33 TLV of COMPUTE SIGNATURE in its three length
 * forms (reference §2.8, rule 8.6), and ECDSA raw r || s <-> DER
 * ECDSA-Sig-Value (RFC 5480 / SEC 1). The DER side is strict: one SEQUENCE
 * of two positive, minimally encoded INTEGERs, nothing after it. Limits:
 * coordinates up to 66 bytes (P-521), so the SEQUENCE length fits 81 xx.
 */
#include <string.h>

#include "iotsafe_int.h"

#define COORD_MAX 66

/* Value of the 33 TLV spanning buf[0..len) exactly, or NULL. */
static const uint8_t *sig_value(const uint8_t *buf, size_t len, size_t *vlen)
{
    struct st_tlv_cursor c;
    struct st_tlv_item t;
    if (len < 2 || buf[0] != 0x33)
        return NULL;
    /* 2-byte form 33 00 40 (Kigen, Thales, wolfSSL default, this card's default). */
    if (len >= 3 && buf[1] <= 0x01 && 3 + ((size_t)buf[1] << 8 | buf[2]) == len) {
        *vlen = len - 3;
        return buf + 3;
    }
    /* 1-byte 33 40 (NTT, ORA) and BER 33 81 xx / 33 82 xx xx. */
    st_tlv_cursor_init(&c, buf, len);
    if (st_tlv_next(&c, ST_TLV_BER, &t) == ST_OK && st_tlv_cursor_done(&c)) {
        *vlen = t.len;
        return t.value;
    }
    /* A plain length byte above 7F (a THM-style writer). */
    if (2 + (size_t)buf[1] == len) {
        *vlen = len - 2;
        return buf + 2;
    }
    return NULL;
}

int st_iotsafe_parse_signature(const uint8_t *buf, size_t len, uint8_t alg, uint8_t *sig,
                               size_t *sig_len)
{
    uint8_t raw[2 * COORD_MAX];
    size_t vlen = 0, raw_len = sizeof(raw);
    if ((buf == NULL && len > 0) || sig == NULL || sig_len == NULL)
        return ST_E_ARG;
    const uint8_t *v = sig_value(buf, len, &vlen);
    if (v == NULL || vlen == 0)
        return ST_E_PARSE;
    /* "IoT SAFE specifies raw but some applets return ASN1" (ORA): convert. */
    if (alg == ST_IOTSAFE_SIG_ECDSA && v[0] == 0x30 &&
        st_ecdsa_der_to_raw(v, vlen, 0, raw, &raw_len) == ST_OK) {
        v = raw;
        vlen = raw_len;
    }
    if (vlen > *sig_len)
        return ST_E_BUFFER;
    memcpy(sig, v, vlen);
    *sig_len = vlen;
    return ST_OK;
}

/* Appends INTEGER x (n bytes, big-endian, unsigned) in minimal DER. */
static size_t put_int(uint8_t *out, const uint8_t *x, size_t n)
{
    while (n > 1 && x[0] == 0) {
        x++;
        n--;
    }
    size_t pad = (x[0] & 0x80) ? 1 : 0;
    out[0] = 0x02;
    out[1] = (uint8_t)(n + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, x, n);
    return 2 + pad + n;
}

int st_ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t *der, size_t *der_len)
{
    uint8_t tmp[8 + 2 * (COORD_MAX + 3)];
    if (raw == NULL || der == NULL || der_len == NULL || raw_len == 0 || raw_len % 2 != 0 ||
        raw_len > 2 * COORD_MAX)
        return ST_E_ARG;
    size_t half = raw_len / 2;
    size_t body = put_int(tmp + 3, raw, half);
    body += put_int(tmp + 3 + body, raw + half, half);
    size_t hl = body < 0x80 ? 2 : 3;
    tmp[3 - hl] = 0x30;
    if (hl == 2) {
        tmp[2] = (uint8_t)body;
    } else {
        tmp[1] = 0x81;
        tmp[2] = (uint8_t)body;
    }
    if (hl + body > *der_len)
        return ST_E_BUFFER;
    memcpy(der, tmp + 3 - hl, hl + body);
    *der_len = hl + body;
    return ST_OK;
}

/* Reads one positive minimal INTEGER; *v, *n is its magnitude without a 00 pad. */
static int get_int(struct st_tlv_cursor *c, const uint8_t **v, size_t *n)
{
    struct st_tlv_item t;
    if (st_tlv_next(c, ST_TLV_BER, &t) != ST_OK || t.tag != 0x02 || t.len == 0)
        return ST_E_PARSE;
    if (t.header != 2)
        return ST_E_PARSE; /* an INTEGER of 128 bytes or more is not a coordinate */
    const uint8_t *p = t.value;
    size_t len = t.len;
    if (p[0] & 0x80)
        return ST_E_PARSE; /* negative */
    if (p[0] == 0 && len > 1) {
        if (!(p[1] & 0x80))
            return ST_E_PARSE; /* not minimal */
        p++;
        len--;
    }
    *v = p;
    *n = len;
    return ST_OK;
}

int st_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t coord_len, uint8_t *raw,
                        size_t *raw_len)
{
    struct st_tlv_cursor c, in;
    struct st_tlv_item seq;
    const uint8_t *r, *s;
    size_t rn, sn;
    if (der == NULL || raw == NULL || raw_len == NULL || coord_len > COORD_MAX)
        return ST_E_ARG;
    st_tlv_cursor_init(&c, der, der_len);
    if (st_tlv_next(&c, ST_TLV_BER, &seq) != ST_OK || seq.tag != 0x30 || !st_tlv_cursor_done(&c))
        return ST_E_PARSE;
    /* DER: the shortest length form. */
    if ((seq.header == 3 && seq.len < 0x80) || seq.header == 4)
        return ST_E_PARSE;
    st_tlv_cursor_init(&in, seq.value, seq.len);
    if (get_int(&in, &r, &rn) != ST_OK || get_int(&in, &s, &sn) != ST_OK ||
        !st_tlv_cursor_done(&in))
        return ST_E_PARSE;
    size_t big = rn > sn ? rn : sn;
    if (coord_len == 0)
        coord_len = big <= 32 ? 32 : big <= 48 ? 48 : big <= COORD_MAX ? COORD_MAX : 0;
    if (coord_len == 0 || big > coord_len)
        return ST_E_PARSE;
    if (2 * coord_len > *raw_len)
        return ST_E_BUFFER;
    memset(raw, 0, 2 * coord_len);
    memcpy(raw + coord_len - rn, r, rn);
    memcpy(raw + 2 * coord_len - sn, s, sn);
    *raw_len = 2 * coord_len;
    return ST_OK;
}
