/*
 * Key pair commands: GENERATE KEY PAIR (B9; on-board key generation, IoT.04
 * F7, H1), READ PUBLIC KEY (CD), PUT PUBLIC KEY (24 Init + D8 Update; the
 * peer's ECDHE share and server keys, E6, F3, F4). Reference §2.10-§2.12.
 *
 * Public key TLV (spec clause 2.5.7): 34 LL { 49 LL { 86 LL 04 || X || Y } };
 * RSA (this card's extension): 34 { 49 { 81 <modulus> 82 <exponent> } }.
 */
#include <string.h>

#include "iotsafe_int.h"

#define PUBKEY_TLV_MAX (4 + 4 + 4 + ST_IOTSAFE_RSA_N_MAX + 2 + ST_IOTSAFE_RSA_E_MAX)

int st_iotsafe_pubkey_ec(struct st_iotsafe_pubkey *pk, const uint8_t *point, size_t len)
{
    if (pk == NULL || point == NULL || len < 3 || len > ST_IOTSAFE_POINT_MAX || point[0] != 0x04 ||
        len % 2 != 1)
        return ST_E_ARG;
    memset(pk, 0, sizeof(*pk));
    pk->type = ST_IOTSAFE_PUBKEY_EC;
    pk->point_len = (uint16_t)len;
    memcpy(pk->point, point, len);
    return ST_OK;
}

/* The inside of 49 (or of 34 when an applet leaves 49 out). */
static int parse_key_fields(const uint8_t *buf, size_t len, struct st_iotsafe_pubkey *pk)
{
    struct st_tlv_cursor c;
    struct st_tlv_item t;
    const struct st_tlv_item *pt = NULL, *n = NULL, *e = NULL;
    struct st_tlv_item tp, tn, te;
    int rc;
    st_tlv_cursor_init(&c, buf, len);
    while ((rc = st_tlv_next(&c, ST_TLV_BER, &t)) == ST_OK) {
        if (t.tag == 0x86 && pt == NULL) {
            tp = t;
            pt = &tp;
        } else if (t.tag == 0x81 && n == NULL) {
            tn = t;
            n = &tn;
        } else if (t.tag == 0x82 && e == NULL) {
            te = t;
            e = &te;
        } else {
            return ST_E_PARSE;
        }
    }
    if (rc != ST_E_NOT_FOUND)
        return ST_E_PARSE;
    memset(pk, 0, sizeof(*pk));
    if (pt != NULL && n == NULL && e == NULL) {
        if (pt->len < 3 || pt->len > ST_IOTSAFE_POINT_MAX || pt->value[0] != 0x04 ||
            pt->len % 2 != 1)
            return ST_E_PARSE; /* only uncompressed points (clause 2.5.7) */
        pk->type = ST_IOTSAFE_PUBKEY_EC;
        pk->point_len = (uint16_t)pt->len;
        memcpy(pk->point, pt->value, pt->len);
        return ST_OK;
    }
    if (pt == NULL && n != NULL && e != NULL) {
        if (n->len == 0 || n->len > ST_IOTSAFE_RSA_N_MAX || e->len == 0 ||
            e->len > ST_IOTSAFE_RSA_E_MAX)
            return ST_E_PARSE;
        pk->type = ST_IOTSAFE_PUBKEY_RSA;
        pk->n_len = (uint16_t)n->len;
        memcpy(pk->n, n->value, n->len);
        pk->e_len = (uint8_t)e->len;
        memcpy(pk->e, e->value, e->len);
        return ST_OK;
    }
    return ST_E_PARSE;
}

int st_iotsafe_parse_public_key(const uint8_t *buf, size_t len, struct st_iotsafe_pubkey *pk)
{
    struct st_iotsafe_pubkey tmp;
    struct st_tlv_cursor c;
    struct st_tlv_item t34, t49;
    if ((buf == NULL && len > 0) || pk == NULL)
        return ST_E_ARG;
    /* A bare uncompressed P-256 point: no TLV at all. */
    if (len == 65 && buf[0] == 0x04) {
        int rc = st_iotsafe_pubkey_ec(&tmp, buf, len);
        if (rc == ST_OK)
            *pk = tmp;
        return rc == ST_OK ? ST_OK : ST_E_PARSE;
    }
    st_tlv_cursor_init(&c, buf, len);
    if (st_tlv_next(&c, ST_TLV_BER, &t34) != ST_OK || t34.tag != 0x34 || !st_tlv_cursor_done(&c))
        return ST_E_PARSE;
    st_tlv_cursor_init(&c, t34.value, t34.len);
    const uint8_t *fields = t34.value;
    size_t flen = t34.len;
    if (st_tlv_next(&c, ST_TLV_BER, &t49) == ST_OK && t49.tag == 0x49) {
        if (!st_tlv_cursor_done(&c))
            return ST_E_PARSE;
        fields = t49.value;
        flen = t49.len;
    }
    int rc = parse_key_fields(fields, flen, &tmp);
    if (rc == ST_OK)
        *pk = tmp;
    return rc;
}

/* Encodes the 34 TLV of a public key. */
static int encode_public(const struct st_iotsafe_pubkey *pk, struct st_tlv_writer *w)
{
    size_t inner;
    if (pk->type == ST_IOTSAFE_PUBKEY_EC) {
        if (pk->point_len < 3 || pk->point_len > ST_IOTSAFE_POINT_MAX)
            return ST_E_ARG;
        inner = st_tlv_header_len(pk->point_len) + pk->point_len;
        st_tlv_put_header(w, 0x34, st_tlv_header_len(inner) + inner, ST_TLV_BER);
        st_tlv_put_header(w, 0x49, inner, ST_TLV_BER);
        st_tlv_put(w, 0x86, pk->point, pk->point_len);
    } else if (pk->type == ST_IOTSAFE_PUBKEY_RSA) {
        if (pk->n_len == 0 || pk->n_len > ST_IOTSAFE_RSA_N_MAX || pk->e_len == 0 ||
            pk->e_len > ST_IOTSAFE_RSA_E_MAX)
            return ST_E_ARG;
        inner = st_tlv_header_len(pk->n_len) + pk->n_len + st_tlv_header_len(pk->e_len) + pk->e_len;
        st_tlv_put_header(w, 0x34, st_tlv_header_len(inner) + inner, ST_TLV_BER);
        st_tlv_put_header(w, 0x49, inner, ST_TLV_BER);
        st_tlv_put(w, 0x81, pk->n, pk->n_len);
        st_tlv_put(w, 0x82, pk->e, pk->e_len);
    } else {
        return ST_E_ARG;
    }
    return st_tlv_writer_status(w) == ST_OK ? ST_OK : ST_E_ARG;
}

/* A command whose data is one reference TLV, answered with a public key. */
static int read_public_locked(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref,
                              struct st_iotsafe_pubkey *pk)
{
    uint8_t cmd[2 + ST_IOTSAFE_LABEL_MAX], resp[PUBKEY_TLV_MAX + 16];
    size_t n = sizeof(resp);
    struct st_tlv_writer w;
    st_tlv_writer_init(&w, cmd, sizeof(cmd));
    st_ios_put_ref(&w, ST_IOTSAFE_PUBLIC_KEY, ref);
    int rc = st_ios_command(ios, INS_READ_PUBLIC_KEY, 0x00, 0x00, cmd, w.len, LE_ANY, resp, &n);
    if (rc == ST_E_BUFFER)
        return st_ios_fail(ios, ST_E_PARSE, "READ PUBLIC KEY: answer too long for a key");
    if (rc != ST_OK)
        return rc;
    rc = st_iotsafe_parse_public_key(resp, n, pk);
    if (rc != ST_OK)
        return st_ios_fail(ios, ST_E_PARSE, "READ PUBLIC KEY: malformed public key TLV");
    return ST_OK;
}

int st_iotsafe_read_public_key(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref,
                               struct st_iotsafe_pubkey *pk)
{
    if (!st_ios_ref_ok(ref) || pk == NULL)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    return st_ios_end(ios, read_public_locked(ios, ref, pk));
}

/*
 * GENERATE KEY PAIR answer, TLVs in any order:
 *   [84|74 private ref] [85|75 public ref] [34 public key]
 * (Kigen/Thales: 84 85 34; M33: 34 only.) *has_key tells whether 34 came.
 */
static int parse_keygen(const uint8_t *buf, size_t len, struct st_iotsafe_keygen *out,
                        bool *has_key)
{
    struct st_tlv_cursor c;
    struct st_tlv_item t;
    bool seen_priv = false;
    int rc;
    *has_key = false;
    st_tlv_cursor_init(&c, buf, len);
    while ((rc = st_tlv_next(&c, ST_TLV_BER, &t)) == ST_OK) {
        switch (t.tag) {
        case 0x84:
        case 0x74:
            if (seen_priv || st_ios_ref_from_tlv(&out->priv, &t, t.tag == 0x74) != ST_OK)
                return ST_E_PARSE;
            seen_priv = true;
            break;
        case 0x85:
        case 0x75:
            if (out->has_pub || st_ios_ref_from_tlv(&out->pub, &t, t.tag == 0x75) != ST_OK)
                return ST_E_PARSE;
            out->has_pub = true;
            break;
        case 0x34:
            if (*has_key || st_iotsafe_parse_public_key(t.value - t.header, t.header + t.len,
                                                        &out->key) != ST_OK)
                return ST_E_PARSE;
            *has_key = true;
            break;
        default:
            break; /* vendor additions */
        }
    }
    return rc == ST_E_NOT_FOUND ? ST_OK : ST_E_PARSE;
}

static int generate_locked(struct st_iotsafe *ios, const struct st_iotsafe_ref *priv,
                           struct st_iotsafe_keygen *out)
{
    uint8_t cmd[2 + ST_IOTSAFE_LABEL_MAX], resp[PUBKEY_TLV_MAX + 2 * (2 + ST_IOTSAFE_LABEL_MAX)];
    size_t n = sizeof(resp);
    struct st_tlv_writer w;
    struct st_iotsafe_keygen res;
    bool has_key;
    st_tlv_writer_init(&w, cmd, sizeof(cmd));
    st_ios_put_ref(&w, ST_IOTSAFE_PRIVATE_KEY, priv);
    int rc = st_ios_command(ios, INS_GENERATE_KEY, 0x00, 0x00, cmd, w.len, LE_ANY, resp, &n);
    if (rc == ST_E_BUFFER)
        return st_ios_fail(ios, ST_E_PARSE, "GENERATE KEY PAIR: answer too long");
    if (rc != ST_OK)
        return rc;
    memset(&res, 0, sizeof(res));
    res.priv = *priv;
    if (parse_keygen(resp, n, &res, &has_key) != ST_OK)
        return st_ios_fail(ios, ST_E_PARSE, "GENERATE KEY PAIR: malformed answer");
    if (!has_key) {
        /* No 34 (WS's fallback): read it from the named public key, or the
         * public key with the private key's reference. */
        const struct st_iotsafe_ref *pub = res.has_pub ? &res.pub : &res.priv;
        rc = read_public_locked(ios, pub, &res.key);
        if (rc != ST_OK)
            return rc;
    }
    *out = res;
    return ST_OK;
}

int st_iotsafe_generate_key(struct st_iotsafe *ios, const struct st_iotsafe_ref *priv,
                            struct st_iotsafe_keygen *out)
{
    if (!st_ios_ref_ok(priv) || out == NULL)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    return st_ios_end(ios, generate_locked(ios, priv, out));
}

static int put_public_locked(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref,
                             const struct st_iotsafe_pubkey *pk)
{
    uint8_t init[2 + ST_IOTSAFE_LABEL_MAX], key[PUBKEY_TLV_MAX];
    struct st_tlv_writer wi, wk;
    uint8_t s = ios->cfg.session_putkey;
    int rc;
    st_tlv_writer_init(&wk, key, sizeof(key));
    rc = encode_public(pk, &wk);
    if (rc != ST_OK)
        return rc;
    st_tlv_writer_init(&wi, init, sizeof(init));
    st_ios_put_ref(&wi, ST_IOTSAFE_PUBLIC_KEY, ref);
    size_t cap = st_ios_data_max(ios, false);
    if (wi.len > cap)
        return st_ios_unsupported(ios, "PUT PUBLIC KEY Init does not fit the link");
    if (cap == 0)
        return st_ios_unsupported(ios, "the link's max_apdu leaves no room for data");

    if (!(ios->cfg.flags & ST_IOTSAFE_NO_PRECLOSE)) {
        rc = st_ios_close_session(ios, INS_PUT_KEY_INIT, s);
        if (rc != ST_OK)
            return rc;
    }
    rc = st_ios_command(ios, INS_PUT_KEY_INIT, P1_SESSION_OPEN, s, init, wi.len, 0, NULL, NULL);
    if (rc != ST_OK)
        return rc;
    /* The card concatenates the D8 blocks before decoding (THM/THP chunk at
     * 253 bytes; a u-blox link needs ~120). */
    for (size_t off = 0; rc == ST_OK && off < wk.len;) {
        size_t take = wk.len - off < cap ? wk.len - off : cap;
        uint8_t p1 = off + take == wk.len ? P1_BLOCK_LAST : P1_BLOCK_MORE;
        rc = st_ios_command(ios, INS_PUT_KEY_UPDATE, p1, s, key + off, take, 0, NULL, NULL);
        off += take;
    }
    if (!(ios->cfg.flags & ST_IOTSAFE_KEEP_SESSION)) {
        int rc2 = st_ios_close_session(ios, INS_PUT_KEY_INIT, s);
        if (rc == ST_OK)
            rc = rc2;
    }
    return rc;
}

int st_iotsafe_put_public_key(struct st_iotsafe *ios, const struct st_iotsafe_ref *ref,
                              const struct st_iotsafe_pubkey *pk)
{
    if (!st_ios_ref_ok(ref) || pk == NULL)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    return st_ios_end(ios, put_public_locked(ios, ref, pk));
}
