/*
 * ECDH. With a card key (the TLS ephemeral key generated on the card, or a
 * long-term key with the key-agreement function) the peer's point goes to
 * the card's peer public key slot (PUT PUBLIC KEY) and the card computes the
 * shared secret (COMPUTE DH; IoT.04 E6, F4). Software keys derive in the
 * provider's software context.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "prov.h"

struct kex_ctx {
    struct st_prov *prov;
    struct st_prov_key *key, *peer;
};

static void *kex_newctx(void *provctx)
{
    struct kex_ctx *c = calloc(1, sizeof(*c));
    if (c != NULL)
        c->prov = provctx;
    return c;
}

static void kex_freectx(void *vc)
{
    struct kex_ctx *c = vc;
    if (c == NULL)
        return;
    st_prov_key_free(c->key);
    st_prov_key_free(c->peer);
    free(c);
}

static void *kex_dupctx(void *vc)
{
    struct kex_ctx *c = vc, *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    *d = *c;
    if (d->key != NULL)
        st_prov_key_ref(d->key);
    if (d->peer != NULL)
        st_prov_key_ref(d->peer);
    return d;
}

static int kex_init(void *vc, void *vkey, const OSSL_PARAM params[])
{
    struct kex_ctx *c = vc;
    struct st_prov_key *k = vkey;
    (void)params;
    if (k == NULL || k->sw == NULL || (!k->on_card && !k->sw_priv))
        return 0;
    st_prov_key_free(c->key);
    c->key = st_prov_key_ref(k);
    return 1;
}

static int kex_set_peer(void *vc, void *vpeer)
{
    struct kex_ctx *c = vc;
    struct st_prov_key *p = vpeer;
    if (p == NULL || !p->sw_pub)
        return 0;
    st_prov_key_free(c->peer);
    c->peer = st_prov_key_ref(p);
    return 1;
}

static int kex_derive(void *vc, unsigned char *secret, size_t *secretlen, size_t outlen)
{
    struct kex_ctx *c = vc;
    if (c->key == NULL || c->peer == NULL)
        return 0;
    int bits = EVP_PKEY_get_bits(c->key->sw);
    if (bits <= 0)
        return 0;
    size_t need = ((size_t)bits + 7) / 8;
    if (secret == NULL) {
        *secretlen = need;
        return 1;
    }
    if (outlen < need)
        return 0;
    if (c->key->on_card) {
        uint8_t point[ST_IOTSAFE_POINT_MAX];
        size_t plen = 0;
        if (EVP_PKEY_get_octet_string_param(c->peer->sw, OSSL_PKEY_PARAM_PUB_KEY, point,
                                            sizeof(point), &plen) != 1) {
            st_prov_err(c->prov, ST_PROV_R_UNSUPPORTED, "peer public key not usable");
            return 0;
        }
        if (plen == 0 || point[0] != 0x04) {
            /* A compressed peer point: the card takes 04 || X || Y only. */
            OSSL_PARAM p[] = {OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                     (char *)"uncompressed", 0),
                              OSSL_PARAM_END};
            if (EVP_PKEY_set_params(c->peer->sw, p) != 1
                || EVP_PKEY_get_octet_string_param(c->peer->sw, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                   point, sizeof(point), &plen) != 1)
                return 0;
        }
        size_t n = outlen;
        int rc = st_prov_card_dh(c->prov->card, &c->key->ref, c->key->eph_gen, point, plen, secret,
                                 &n);
        if (rc != ST_OK) {
            st_prov_card_err(c->prov, rc, "COMPUTE DH");
            return 0;
        }
        *secretlen = n;
        return 1;
    }
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(st_prov_swctx(c->prov), c->key->sw, NULL);
    size_t n = outlen;
    int ok = pc != NULL && EVP_PKEY_derive_init(pc) > 0
             && EVP_PKEY_derive_set_peer(pc, c->peer->sw) > 0
             && EVP_PKEY_derive(pc, secret, &n) > 0;
    EVP_PKEY_CTX_free(pc);
    if (ok)
        *secretlen = n;
    return ok;
}

static int kex_set_ctx_params(void *vc, const OSSL_PARAM params[])
{
    (void)vc;
    (void)params;
    return 1;
}

static const OSSL_PARAM *kex_settable_ctx_params(void *vc, void *provctx)
{
    static const OSSL_PARAM s[] = {OSSL_PARAM_END};
    (void)vc;
    (void)provctx;
    return s;
}

const OSSL_DISPATCH st_prov_keyexch_functions[] = {
    {OSSL_FUNC_KEYEXCH_NEWCTX, (void (*)(void))kex_newctx},
    {OSSL_FUNC_KEYEXCH_FREECTX, (void (*)(void))kex_freectx},
    {OSSL_FUNC_KEYEXCH_DUPCTX, (void (*)(void))kex_dupctx},
    {OSSL_FUNC_KEYEXCH_INIT, (void (*)(void))kex_init},
    {OSSL_FUNC_KEYEXCH_SET_PEER, (void (*)(void))kex_set_peer},
    {OSSL_FUNC_KEYEXCH_DERIVE, (void (*)(void))kex_derive},
    {OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS, (void (*)(void))kex_set_ctx_params},
    {OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS, (void (*)(void))kex_settable_ctx_params},
    {0, NULL},
};
