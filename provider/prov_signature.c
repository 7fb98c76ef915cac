/*
 * ECDSA. For a card key the digest is computed on the host and the card
 * signs it with COMPUTE SIGNATURE in pad & sign mode (IoT.04 F2, E1: the key
 * never leaves the card); the raw r || s becomes DER for OpenSSL. Software
 * keys (a server's public key, verification of CertificateVerify and of
 * certificate chains) run in the provider's software context: verifying in
 * software costs no APDU.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "prov.h"

struct sig_ctx {
    struct st_prov *prov;
    struct st_prov_key *key;
    EVP_MD *md;
    EVP_MD_CTX *mdctx;
    char mdname[32];
};

static void *sig_newctx(void *provctx, const char *propq)
{
    (void)propq;
    struct sig_ctx *c = calloc(1, sizeof(*c));
    if (c != NULL)
        c->prov = provctx;
    return c;
}

static void sig_freectx(void *vc)
{
    struct sig_ctx *c = vc;
    if (c == NULL)
        return;
    st_prov_key_free(c->key);
    EVP_MD_CTX_free(c->mdctx);
    EVP_MD_free(c->md);
    free(c);
}

static void *sig_dupctx(void *vc)
{
    struct sig_ctx *c = vc, *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    *d = *c;
    d->key = c->key != NULL ? st_prov_key_ref(c->key) : NULL;
    d->mdctx = NULL;
    if (c->md != NULL)
        EVP_MD_up_ref(c->md);
    if (c->mdctx != NULL) {
        d->mdctx = EVP_MD_CTX_new();
        if (d->mdctx == NULL || !EVP_MD_CTX_copy_ex(d->mdctx, c->mdctx)) {
            sig_freectx(d);
            return NULL;
        }
    }
    return d;
}

static int set_md(struct sig_ctx *c, const char *name)
{
    OSSL_LIB_CTX *sw = st_prov_swctx(c->prov);
    EVP_MD *md = sw != NULL ? EVP_MD_fetch(sw, name, NULL) : NULL;
    if (md == NULL)
        return 0;
    EVP_MD_free(c->md);
    c->md = md;
    snprintf(c->mdname, sizeof(c->mdname), "%s", EVP_MD_get0_name(md));
    return 1;
}

static int sig_set_ctx_params(void *vc, const OSSL_PARAM params[])
{
    struct sig_ctx *c = vc;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != NULL) {
        char name[64], *s = name;
        if (!OSSL_PARAM_get_utf8_string(p, &s, sizeof(name)) || !set_md(c, name))
            return 0;
    }
    return 1;
}

static const OSSL_PARAM *sig_settable_ctx_params(void *vc, void *provctx)
{
    static const OSSL_PARAM s[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)vc;
    (void)provctx;
    return s;
}

/* AlgorithmIdentifier of ecdsa-with-SHA256/384/512 (RFC 5758 §3.2: no parameters). */
static int sig_get_ctx_params(void *vc, OSSL_PARAM params[])
{
    struct sig_ctx *c = vc;
    OSSL_PARAM *p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
    if (p != NULL) {
        static const uint8_t oid[] = {0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48,
                                      0xCE, 0x3D, 0x04, 0x03, 0x00};
        uint8_t der[sizeof(oid)];
        memcpy(der, oid, sizeof(der));
        size_t bits = c->md != NULL ? (size_t)EVP_MD_get_size(c->md) * 8 : 0;
        der[11] = bits == 256 ? 2 : bits == 384 ? 3 : bits == 512 ? 4 : 0;
        if (der[11] == 0 || !OSSL_PARAM_set_octet_string(p, der, sizeof(der)))
            return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != NULL && !OSSL_PARAM_set_utf8_string(p, c->mdname))
        return 0;
    return 1;
}

static const OSSL_PARAM *sig_gettable_ctx_params(void *vc, void *provctx)
{
    static const OSSL_PARAM g[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)vc;
    (void)provctx;
    return g;
}

static int sig_init(void *vc, void *vkey, const OSSL_PARAM params[])
{
    struct sig_ctx *c = vc;
    struct st_prov_key *k = vkey;
    if (k == NULL || k->sw == NULL)
        return 0;
    st_prov_key_free(c->key);
    c->key = st_prov_key_ref(k);
    return sig_set_ctx_params(c, params);
}

static int max_size(struct sig_ctx *c, size_t *len)
{
    int n = EVP_PKEY_get_size(c->key->sw);
    if (n <= 0)
        return 0;
    *len = (size_t)n;
    return 1;
}

/* Signs a digest: on the card for a card key, in software otherwise. */
static int sign_digest(struct sig_ctx *c, unsigned char *sig, size_t *siglen, size_t sigsize,
                       const unsigned char *dig, size_t dlen)
{
    struct st_prov_key *k = c->key;
    if (k->on_card) {
        if (k->eph_gen != 0) {
            st_prov_err(c->prov, ST_PROV_R_UNSUPPORTED, "the ephemeral key is for ECDH only");
            return 0;
        }
        uint8_t raw[132];
        size_t rl = sizeof(raw), dl = sigsize;
        int rc = st_prov_card_sign(c->prov->card, &k->ref, dig, dlen, raw, &rl);
        if (rc != ST_OK) {
            st_prov_card_err(c->prov, rc, "COMPUTE SIGNATURE");
            return 0;
        }
        if (st_ecdsa_raw_to_der(raw, rl, sig, &dl) != ST_OK) {
            st_prov_err(c->prov, ST_PROV_R_INTERNAL, "bad signature from the card");
            return 0;
        }
        *siglen = dl;
        return 1;
    }
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(st_prov_swctx(c->prov), k->sw, NULL);
    size_t n = sigsize;
    int ok = pc != NULL && EVP_PKEY_sign_init(pc) > 0
             && (c->md == NULL || EVP_PKEY_CTX_set_signature_md(pc, c->md) > 0)
             && EVP_PKEY_sign(pc, sig, &n, dig, dlen) > 0;
    EVP_PKEY_CTX_free(pc);
    if (ok)
        *siglen = n;
    return ok;
}

static int verify_digest(struct sig_ctx *c, const unsigned char *sig, size_t siglen,
                         const unsigned char *dig, size_t dlen)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(st_prov_swctx(c->prov), c->key->sw, NULL);
    int ok = pc != NULL && EVP_PKEY_verify_init(pc) > 0
             && (c->md == NULL || EVP_PKEY_CTX_set_signature_md(pc, c->md) > 0)
             && EVP_PKEY_verify(pc, sig, siglen, dig, dlen) == 1;
    EVP_PKEY_CTX_free(pc);
    return ok;
}

static int sig_sign(void *vc, unsigned char *sig, size_t *siglen, size_t sigsize,
                    const unsigned char *tbs, size_t tbslen)
{
    struct sig_ctx *c = vc;
    if (sig == NULL)
        return max_size(c, siglen);
    return sign_digest(c, sig, siglen, sigsize, tbs, tbslen);
}

static int sig_verify(void *vc, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                      size_t tbslen)
{
    return verify_digest(vc, sig, siglen, tbs, tbslen);
}

static int sig_digest_init(void *vc, const char *mdname, void *vkey, const OSSL_PARAM params[])
{
    struct sig_ctx *c = vc;
    if (!sig_init(c, vkey, params))
        return 0;
    if (!set_md(c, mdname != NULL && mdname[0] != '\0' ? mdname : "SHA256"))
        return 0;
    if (c->mdctx == NULL && (c->mdctx = EVP_MD_CTX_new()) == NULL)
        return 0;
    return EVP_DigestInit_ex2(c->mdctx, c->md, NULL);
}

static int sig_digest_update(void *vc, const unsigned char *data, size_t len)
{
    struct sig_ctx *c = vc;
    return c->mdctx != NULL && EVP_DigestUpdate(c->mdctx, data, len);
}

static int sig_digest_sign_final(void *vc, unsigned char *sig, size_t *siglen, size_t sigsize)
{
    struct sig_ctx *c = vc;
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (sig == NULL)
        return max_size(c, siglen);
    if (c->mdctx == NULL || !EVP_DigestFinal_ex(c->mdctx, dig, &dlen))
        return 0;
    return sign_digest(c, sig, siglen, sigsize, dig, dlen);
}

static int sig_digest_verify_final(void *vc, const unsigned char *sig, size_t siglen)
{
    struct sig_ctx *c = vc;
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (c->mdctx == NULL || !EVP_DigestFinal_ex(c->mdctx, dig, &dlen))
        return 0;
    return verify_digest(c, sig, siglen, dig, dlen);
}

const OSSL_DISPATCH st_prov_signature_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx},
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},
    {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx},
    {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_init},
    {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign},
    {OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))sig_init},
    {OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_update},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))sig_digest_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, (void (*)(void))sig_digest_update},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, (void (*)(void))sig_digest_verify_final},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params},
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params},
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params},
    {0, NULL},
};
