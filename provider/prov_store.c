/*
 * The simtrust: URI loader (OSSL_STORE). URIs:
 *   simtrust:label=client;type=private     the card private key "client" (its public half is
 *                                          the public key object with the same reference)
 *   simtrust:id=01;type=public             a public key object
 *   simtrust:label=client-cert;type=cert   the certificates of a file object (E3, F3)
 * type may be left out: a private key then a certificate file with that reference.
 * Keys are handed to libcrypto by reference (keymgmt load), certificates as DER.
 * IoT.04 D9, E5: objects found by label or ID.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "prov.h"

enum { T_ANY = 0, T_PRIVATE = 1, T_PUBLIC = 2, T_CERT = 4 };

struct store_ctx {
    struct st_prov *prov;
    struct st_iotsafe_ref ref;
    int types; /* what is left to load */
    int expect;
};

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decoding of a value (labels may contain ';' as %3B). */
static size_t pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

static int parse_uri(struct store_ctx *c, const char *uri)
{
    const char *p = uri + strlen("simtrust:");
    bool have_ref = false;
    c->types = T_ANY;
    while (*p != '\0') {
        const char *end = strchr(p, ';');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq == NULL)
            return 0;
        size_t klen = (size_t)(eq - p), vlen = n - klen - 1;
        const char *v = eq + 1;
        char val[64];
        size_t dl = pct_decode(v, vlen, val, sizeof(val));
        if (klen == 5 && strncmp(p, "label", 5) == 0) {
            if (have_ref || st_iotsafe_ref_label(&c->ref, val, dl) != ST_OK)
                return 0;
            have_ref = true;
        } else if (klen == 2 && strncmp(p, "id", 2) == 0) {
            uint8_t id[ST_IOTSAFE_ID_MAX];
            if (have_ref || dl % 2 != 0 || dl / 2 > sizeof(id) || dl == 0)
                return 0;
            for (size_t i = 0; i < dl / 2; i++) {
                int hi = hexval(val[2 * i]), lo = hexval(val[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    return 0;
                id[i] = (uint8_t)(hi * 16 + lo);
            }
            if (st_iotsafe_ref_id(&c->ref, id, dl / 2) != ST_OK)
                return 0;
            have_ref = true;
        } else if (klen == 4 && strncmp(p, "type", 4) == 0) {
            if (dl == 7 && memcmp(val, "private", 7) == 0)
                c->types = T_PRIVATE;
            else if (dl == 6 && memcmp(val, "public", 6) == 0)
                c->types = T_PUBLIC;
            else if (dl == 4 && memcmp(val, "cert", 4) == 0)
                c->types = T_CERT;
            else
                return 0;
        } else {
            return 0;
        }
        p += n;
        if (*p == ';')
            p++;
    }
    if (c->types == T_ANY)
        c->types = T_PRIVATE | T_CERT;
    return have_ref;
}

static void *store_open(void *provctx, const char *uri)
{
    struct st_prov *prov = provctx;
    if (strncmp(uri, "simtrust:", 9) != 0)
        return NULL;
    struct store_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->prov = prov;
    if (!parse_uri(c, uri)) {
        st_prov_err(prov, ST_PROV_R_BAD_URI,
                    "%s (expected simtrust:label=L|id=HEX[;type=private|public|cert])", uri);
        free(c);
        return NULL;
    }
    return c;
}

static const OSSL_PARAM *store_settable(void *provctx)
{
    static const OSSL_PARAM s[] = {OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL), OSSL_PARAM_END};
    (void)provctx;
    return s;
}

static int store_set_params(void *vc, const OSSL_PARAM params[])
{
    struct store_ctx *c = vc;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
    if (p != NULL && !OSSL_PARAM_get_int(p, &c->expect))
        return 0;
    return 1;
}

static int pass_key(struct store_ctx *c, struct st_prov_key *k, OSSL_CALLBACK *cb, void *cbarg)
{
    struct st_prov_keyref r = {ST_PROV_KEYREF_MAGIC, k};
    int type = OSSL_OBJECT_PKEY;
    OSSL_PARAM p[] = {
        OSSL_PARAM_int(OSSL_OBJECT_PARAM_TYPE, &type),
        OSSL_PARAM_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, (char *)"EC", 0),
        OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &r, sizeof(r)),
        OSSL_PARAM_END,
    };
    (void)c;
    return cb(p, cbarg);
}

static int load_key(struct store_ctx *c, bool priv, OSSL_CALLBACK *cb, void *cbarg)
{
    struct st_iotsafe_pubkey pk;
    int rc = st_prov_card_read_pub(c->prov->card, &c->ref, &pk);
    if (rc != ST_OK) {
        st_prov_card_err(c->prov, rc,
                         priv ? "READ PUBLIC KEY (the key pair's public half)" : "READ PUBLIC KEY");
        return 0;
    }
    if (pk.type != ST_IOTSAFE_PUBKEY_EC) {
        st_prov_err(c->prov, ST_PROV_R_UNSUPPORTED, "only EC keys are supported");
        return 0;
    }
    struct st_prov_key *k = st_prov_key_new(c->prov);
    if (k == NULL || !st_prov_key_set_point(k, pk.point, pk.point_len)) {
        st_prov_key_free(k);
        st_prov_err(c->prov, ST_PROV_R_UNSUPPORTED, "public key not on P-256");
        return 0;
    }
    if (priv) {
        k->on_card = true;
        k->ref = c->ref;
    }
    int ok = pass_key(c, k, cb, cbarg);
    st_prov_key_free(k);
    return ok;
}

/* Length of the DER element at p (0 if malformed). */
static size_t der_len(const uint8_t *p, size_t n)
{
    if (n < 2 || p[0] != 0x30)
        return 0;
    size_t len = p[1], hdr = 2;
    if (len & 0x80) {
        size_t k = len & 0x7F;
        if (k == 0 || k > 3 || n < 2 + k)
            return 0;
        len = 0;
        for (size_t i = 0; i < k; i++)
            len = (len << 8) | p[2 + i];
        hdr += k;
    }
    return hdr + len <= n ? hdr + len : 0;
}

static int load_certs(struct store_ctx *c, OSSL_CALLBACK *cb, void *cbarg)
{
    uint8_t *der = NULL;
    size_t len = 0;
    int rc = st_prov_card_read_file(c->prov->card, &c->ref, &der, &len);
    if (rc != ST_OK) {
        st_prov_card_err(c->prov, rc, "READ FILE (certificate)");
        return 0;
    }
    int ok = 1, count = 0;
    for (size_t off = 0; ok && off < len && der[off] != 0x00;) { /* zero padding ends it */
        size_t n = der_len(der + off, len - off);
        if (n == 0)
            break;
        int type = OSSL_OBJECT_CERT;
        OSSL_PARAM p[] = {
            OSSL_PARAM_int(OSSL_OBJECT_PARAM_TYPE, &type),
            OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_DATA, der + off, n),
            OSSL_PARAM_END,
        };
        ok = cb(p, cbarg);
        off += n;
        count++;
    }
    free(der);
    if (count == 0) {
        st_prov_err(c->prov, ST_PROV_R_NOT_FOUND, "the file holds no certificate");
        return 0;
    }
    return ok;
}

static int store_load(void *vc, OSSL_CALLBACK *cb, void *cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb,
                      void *pw_cbarg)
{
    struct store_ctx *c = vc;
    (void)pw_cb;
    (void)pw_cbarg;
    bool want_cert = c->expect == 0 || c->expect == OSSL_STORE_INFO_CERT;
    bool want_key = c->expect == 0 || c->expect == OSSL_STORE_INFO_PKEY
                    || c->expect == OSSL_STORE_INFO_PUBKEY;
    if (c->types & T_PRIVATE) {
        c->types &= ~T_PRIVATE;
        if (want_key) {
            if (c->types == 0)
                return load_key(c, true, cb, cbarg);
            /* Untyped URI: a missing key is no error, a certificate may follow. */
            struct st_iotsafe_pubkey pk;
            if (st_prov_card_read_pub(c->prov->card, &c->ref, &pk) == ST_OK)
                return load_key(c, true, cb, cbarg);
        }
    }
    if (c->types & T_PUBLIC) {
        c->types &= ~T_PUBLIC;
        if (want_key)
            return load_key(c, false, cb, cbarg);
    }
    if (c->types & T_CERT) {
        c->types &= ~T_CERT;
        if (want_cert)
            return load_certs(c, cb, cbarg);
    }
    return 1;
}

static int store_eof(void *vc)
{
    struct store_ctx *c = vc;
    return c->types == 0;
}

static int store_close(void *vc)
{
    free(vc);
    return 1;
}

const OSSL_DISPATCH st_prov_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {0, NULL},
};
