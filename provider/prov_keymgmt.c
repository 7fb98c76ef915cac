/*
 * EC key management. A key is a software EVP_PKEY in the provider's private
 * library context (domain parameters, public half, and the private half of a
 * key imported from a file) plus, for card keys, the reference of the private
 * key object on the card (IoT.04 B2, B4: the private key never leaves the
 * card). Card keys come from the store (long-term keys, F2) or from key
 * generation for P-256, which runs GENERATE KEY PAIR in the card's volatile
 * ephemeral slot (F4, F7: the TLS key share is made on the card).
 *
 * Export never includes a private half of a card key (ST_PROV_R_NO_PRIVATE_EXPORT),
 * so libcrypto cannot move a card key into another provider's ECDSA or ECDH:
 * those operations come back to this provider.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "prov.h"

struct st_prov_key *st_prov_key_new(struct st_prov *prov)
{
    struct st_prov_key *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    k->refs = 1;
    k->prov = prov;
    return k;
}

struct st_prov_key *st_prov_key_ref(struct st_prov_key *k)
{
    __atomic_add_fetch(&k->refs, 1, __ATOMIC_SEQ_CST);
    return k;
}

void st_prov_key_free(struct st_prov_key *k)
{
    if (k == NULL || __atomic_sub_fetch(&k->refs, 1, __ATOMIC_SEQ_CST) > 0)
        return;
    EVP_PKEY_free(k->sw);
    free(k);
}

void st_prov_key_update_flags(struct st_prov_key *k)
{
    k->sw_pub = k->sw_priv = false;
    if (k->sw == NULL)
        return;
    size_t len = 0;
    k->sw_pub = EVP_PKEY_get_octet_string_param(k->sw, OSSL_PKEY_PARAM_PUB_KEY, NULL, 0, &len) == 1
                && len > 0;
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(k->sw, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 && bn != NULL)
        k->sw_priv = true;
    BN_clear_free(bn);
}

static EVP_PKEY *sw_fromdata(struct st_prov *prov, int selection, OSSL_PARAM *params)
{
    OSSL_LIB_CTX *sw = st_prov_swctx(prov);
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *pc = sw != NULL ? EVP_PKEY_CTX_new_from_name(sw, "EC", NULL) : NULL;
    if (pc == NULL || EVP_PKEY_fromdata_init(pc) <= 0
        || EVP_PKEY_fromdata(pc, &pk, selection, params) <= 0)
        pk = NULL;
    EVP_PKEY_CTX_free(pc);
    return pk;
}

int st_prov_key_set_point(struct st_prov_key *k, const uint8_t *point, size_t len)
{
    char group[] = "prime256v1";
    OSSL_PARAM p[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, len),
        OSSL_PARAM_END,
    };
    EVP_PKEY *pk = sw_fromdata(k->prov, EVP_PKEY_PUBLIC_KEY, p);
    if (pk == NULL)
        return 0;
    EVP_PKEY_free(k->sw);
    k->sw = pk;
    st_prov_key_update_flags(k);
    return 1;
}

static void *km_new(void *provctx)
{
    return st_prov_key_new(provctx);
}

static void km_free(void *kd)
{
    st_prov_key_free(kd);
}

static void *km_load(const void *reference, size_t size)
{
    struct st_prov_keyref r;
    if (reference == NULL || size != sizeof(r))
        return NULL;
    memcpy(&r, reference, sizeof(r));
    if (r.magic != ST_PROV_KEYREF_MAGIC || r.key == NULL)
        return NULL;
    return st_prov_key_ref(r.key);
}

static int km_has(const void *kd, int selection)
{
    const struct st_prov_key *k = kd;
    if (k == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) != 0 && k->sw == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && !k->sw_pub)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && !k->on_card && !k->sw_priv)
        return 0;
    return 1;
}

static int km_match(const void *a, const void *b, int selection)
{
    const struct st_prov_key *x = a, *y = b;
    if (x->sw == NULL || y->sw == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0) {
        if (x->sw_pub && y->sw_pub)
            return EVP_PKEY_eq(x->sw, y->sw) == 1;
        /* Private halves only: the same card object. */
        return x->on_card && y->on_card && x->ref.len == y->ref.len
               && memcmp(x->ref.bytes, y->ref.bytes, x->ref.len) == 0;
    }
    return EVP_PKEY_parameters_eq(x->sw, y->sw) == 1;
}

static int km_validate(const void *kd, int selection, int checktype)
{
    const struct st_prov_key *k = kd;
    (void)checktype;
    if (k == NULL || k->sw == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && k->sw_pub) {
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(st_prov_swctx(k->prov), k->sw, NULL);
        int ok = pc != NULL && EVP_PKEY_public_check(pc) == 1;
        EVP_PKEY_CTX_free(pc);
        return ok;
    }
    return 1;
}

static int sw_selection(int selection)
{
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
        return EVP_PKEY_KEYPAIR;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0)
        return EVP_PKEY_PUBLIC_KEY;
    return EVP_PKEY_KEY_PARAMETERS;
}

static int km_import(void *kd, int selection, const OSSL_PARAM params[])
{
    struct st_prov_key *k = kd;
    if (k == NULL || k->on_card)
        return 0;
    EVP_PKEY *pk = sw_fromdata(k->prov, sw_selection(selection), (OSSL_PARAM *)params);
    if (pk == NULL)
        return 0;
    EVP_PKEY_free(k->sw);
    k->sw = pk;
    st_prov_key_update_flags(k);
    return 1;
}

static int km_export(void *kd, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    struct st_prov_key *k = kd;
    if (k == NULL || k->sw == NULL)
        return 0;
    if (k->on_card && (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) {
        /* No error raised: libcrypto probes this while looking for an operation. */
        return 0;
    }
    OSSL_PARAM *p = NULL;
    if (EVP_PKEY_todata(k->sw, selection, &p) != 1)
        return 0;
    int ok = cb(p, cbarg);
    OSSL_PARAM_free(p);
    return ok;
}

static const OSSL_PARAM ec_types[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_PRIV_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *km_types(int selection)
{
    (void)selection;
    return ec_types;
}

static void *km_dup(const void *kd, int selection)
{
    const struct st_prov_key *k = kd;
    struct st_prov_key *d = st_prov_key_new(k->prov);
    if (d == NULL)
        return NULL;
    if (k->sw != NULL) {
        int sel = selection;
        if (k->on_card)
            sel &= ~OSSL_KEYMGMT_SELECT_PRIVATE_KEY;
        OSSL_PARAM *p = NULL;
        if (EVP_PKEY_todata(k->sw, sel, &p) == 1) {
            d->sw = sw_fromdata(k->prov, sw_selection(sel), p);
            OSSL_PARAM_free(p);
        }
        if (d->sw == NULL) {
            st_prov_key_free(d);
            return NULL;
        }
    }
    if (k->on_card && (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) {
        d->on_card = true;
        d->ref = k->ref;
        d->eph_gen = k->eph_gen;
    }
    st_prov_key_update_flags(d);
    return d;
}

static int km_get_params(void *kd, OSSL_PARAM params[])
{
    struct st_prov_key *k = kd;
    if (k == NULL || k->sw == NULL)
        return 0;
    return EVP_PKEY_get_params(k->sw, params);
}

static const OSSL_PARAM *km_gettable_params(void *provctx)
{
    EVP_KEYMGMT *km = st_prov_sw_ec(provctx);
    return km != NULL ? EVP_KEYMGMT_gettable_params(km) : NULL;
}

static int km_set_params(void *kd, const OSSL_PARAM params[])
{
    struct st_prov_key *k = kd;
    if (k == NULL || k->sw == NULL)
        return 0;
    if (k->on_card && OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY) != NULL)
        return 0; /* the public half of a card key is the card's */
    if (EVP_PKEY_set_params(k->sw, (OSSL_PARAM *)params) != 1)
        return 0;
    st_prov_key_update_flags(k);
    return 1;
}

static const OSSL_PARAM *km_settable_params(void *provctx)
{
    EVP_KEYMGMT *km = st_prov_sw_ec(provctx);
    return km != NULL ? EVP_KEYMGMT_settable_params(km) : NULL;
}

static const char *km_query_name(int op)
{
    switch (op) {
    case OSSL_OP_KEYEXCH:
        return "ECDH";
    case OSSL_OP_SIGNATURE:
        return "ECDSA";
    default:
        return NULL;
    }
}

/* ---- generation ---- */

struct gen_ctx {
    struct st_prov *prov;
    int selection;
    char group[64];
};

static void *km_gen_init(void *provctx, int selection, const OSSL_PARAM params[]);
static int km_gen_set_params(void *genctx, const OSSL_PARAM params[])
{
    struct gen_ctx *g = genctx;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME);
    if (p != NULL) {
        char *s = g->group;
        if (!OSSL_PARAM_get_utf8_string(p, &s, sizeof(g->group)))
            return 0;
    }
    return 1;
}

static void *km_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    struct gen_ctx *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->prov = provctx;
    g->selection = selection;
    if (!km_gen_set_params(g, params)) {
        free(g);
        return NULL;
    }
    return g;
}

static int km_gen_set_template(void *genctx, void *templ)
{
    struct gen_ctx *g = genctx;
    struct st_prov_key *t = templ;
    size_t len = 0;
    if (t == NULL || t->sw == NULL
        || !EVP_PKEY_get_utf8_string_param(t->sw, OSSL_PKEY_PARAM_GROUP_NAME, g->group,
                                           sizeof(g->group), &len))
        return 0;
    return 1;
}

static const OSSL_PARAM *km_gen_settable(void *genctx, void *provctx)
{
    static const OSSL_PARAM s[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)genctx;
    (void)provctx;
    return s;
}

static bool is_p256(const char *g)
{
    return strcmp(g, "prime256v1") == 0 || strcmp(g, "P-256") == 0 || strcmp(g, "secp256r1") == 0;
}

static void *km_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg)
{
    struct gen_ctx *g = genctx;
    struct st_prov *prov = g->prov;
    (void)cb;
    (void)cbarg;
    if (g->group[0] == '\0')
        return NULL;
    struct st_prov_key *k = st_prov_key_new(prov);
    if (k == NULL)
        return NULL;
    bool keypair = (g->selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0;
    if (keypair && prov->ecdhe_on_card && is_p256(g->group)) {
        /* The TLS key share, generated on the card (F4, F7). */
        struct st_iotsafe_pubkey pk;
        int rc = st_prov_card_keygen(prov->card, &k->ref, &pk, &k->eph_gen);
        if (rc != ST_OK) {
            st_prov_card_err(prov, rc, "GENERATE KEY PAIR (ephemeral)");
            st_prov_key_free(k);
            return NULL;
        }
        k->on_card = true;
        if (!st_prov_key_set_point(k, pk.point, pk.point_len)) {
            st_prov_err(prov, ST_PROV_R_INTERNAL, "card returned an unusable public key");
            st_prov_key_free(k);
            return NULL;
        }
        return k;
    }
    /* Software: domain parameters, other curves, or ecdhe = software. */
    OSSL_LIB_CTX *sw = st_prov_swctx(prov);
    EVP_PKEY_CTX *pc = sw != NULL ? EVP_PKEY_CTX_new_from_name(sw, "EC", NULL) : NULL;
    int ok = pc != NULL
             && (keypair ? EVP_PKEY_keygen_init(pc) : EVP_PKEY_paramgen_init(pc)) > 0
             && EVP_PKEY_CTX_set_group_name(pc, g->group) > 0
             && (keypair ? EVP_PKEY_keygen(pc, &k->sw) : EVP_PKEY_paramgen(pc, &k->sw)) > 0;
    EVP_PKEY_CTX_free(pc);
    if (!ok) {
        st_prov_key_free(k);
        return NULL;
    }
    st_prov_key_update_flags(k);
    return k;
}

static void km_gen_cleanup(void *genctx)
{
    free(genctx);
}

const OSSL_DISPATCH st_prov_keymgmt_functions[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new},
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))km_load},
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},
    {OSSL_FUNC_KEYMGMT_VALIDATE, (void (*)(void))km_validate},
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_types},
    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_types},
    {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params},
    {OSSL_FUNC_KEYMGMT_SET_PARAMS, (void (*)(void))km_set_params},
    {OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS, (void (*)(void))km_settable_params},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))km_query_name},
    {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))km_gen_init},
    {OSSL_FUNC_KEYMGMT_GEN_SET_TEMPLATE, (void (*)(void))km_gen_set_template},
    {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))km_gen_set_params},
    {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))km_gen_settable},
    {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))km_gen},
    {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))km_gen_cleanup},
    {0, NULL},
};
