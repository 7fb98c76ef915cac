/*
 * simtrust provider entry: OSSL_provider_init (module) / st_prov_init
 * (built in, OSSL_PROVIDER_add_builtin), the algorithm tables, provider
 * parameters (name, version, and the card counters of issue 4 item 7) and
 * the error machinery.
 *
 * Configuration (provider section of an OpenSSL config file, or the
 * environment): sim = tcp:HOST:PORT | pcsc:[READER] | at:DEVICE (env
 * SIMTRUST_SIM), ecdhe = card | software (env SIMTRUST_ECDHE), ephemeral-label
 * (default "ecdhe"), peer-label (default "peer").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "prov.h"

#define ALG_PROPS "provider=simtrust"

static const OSSL_ALGORITHM keymgmt_algs[] = {
    {"EC:id-ecPublicKey:1.2.840.10045.2.1", ALG_PROPS, st_prov_keymgmt_functions,
     "simtrust EC keys (private half on the card)"},
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM signature_algs[] = {
    {"ECDSA", ALG_PROPS, st_prov_signature_functions, "ECDSA, signing on the card"},
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM keyexch_algs[] = {
    {"ECDH", ALG_PROPS, st_prov_keyexch_functions, "ECDH, on the card"},
    {NULL, NULL, NULL, NULL},
};
/* PSK mode (prov_kdf.c): a placeholder PSK goes to the card, everything else to software. */
static const OSSL_ALGORITHM kdf_algs[] = {
    {"TLS1-PRF", ALG_PROPS, st_prov_tls1_prf_functions,
     "TLS 1.2 PRF; PSK pre-masters on the card (COMPUTE PRF)"},
    {"TLS13-KDF", ALG_PROPS, st_prov_tls13_kdf_functions,
     "TLS 1.3 HKDF; the PSK early secret on the card (COMPUTE HKDF)"},
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM store_algs[] = {
    {"simtrust", ALG_PROPS, st_prov_store_functions, "simtrust: URIs of card objects"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ITEM reason_strings[] = {
    {ST_PROV_R_NO_SIM, "no SIM configured (set sim in the provider section or SIMTRUST_SIM)"},
    {ST_PROV_R_CARD_UNREACHABLE, "SIM unreachable"},
    {ST_PROV_R_CARD_ERROR, "SIM answered an error"},
    {ST_PROV_R_NOT_FOUND, "no such object on the SIM"},
    {ST_PROV_R_BAD_URI, "malformed simtrust URI"},
    {ST_PROV_R_UNSUPPORTED, "not supported by the SIM"},
    {ST_PROV_R_STALE_EPHEMERAL, "ephemeral key on the SIM was replaced"},
    {ST_PROV_R_NO_PRIVATE_EXPORT, "private key is on the SIM and cannot be exported"},
    {ST_PROV_R_INTERNAL, "internal error"},
    {ST_PROV_R_PSK, "PSK mode"},
    {0, NULL},
};

void st_prov_err(struct st_prov *prov, int reason, const char *fmt, ...)
{
    if (prov == NULL || prov->new_error == NULL || prov->vset_error == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    prov->new_error(prov->handle);
    if (prov->set_error_debug != NULL)
        prov->set_error_debug(prov->handle, __FILE__, __LINE__, "simtrust");
    prov->vset_error(prov->handle, (uint32_t)reason, fmt, ap); /* lib 0: ours */
    va_end(ap);
}

void st_prov_card_err(struct st_prov *prov, int rc, const char *what)
{
    int reason = ST_PROV_R_INTERNAL;
    if (rc == ST_E_STATE && prov->card != NULL && st_prov_card_spec(prov->card)[0] == '\0')
        reason = ST_PROV_R_NO_SIM;
    else if (rc == ST_E_STATE)
        reason = ST_PROV_R_STALE_EPHEMERAL;
    else if (rc == ST_E_NOT_FOUND || rc == ST_E_CARD_NOT_FOUND)
        reason = ST_PROV_R_NOT_FOUND;
    else if (rc <= -200 && rc > -300)
        reason = ST_PROV_R_CARD_UNREACHABLE;
    else if (rc <= -300 && rc > -400)
        reason = ST_PROV_R_CARD_ERROR;
    else if (rc == ST_E_UNSUPPORTED || rc == ST_E_ARG)
        reason = ST_PROV_R_UNSUPPORTED;
    unsigned sw = prov->card != NULL ? st_prov_card_last_sw(prov->card) : 0;
    if (reason == ST_PROV_R_CARD_ERROR)
        st_prov_err(prov, reason, "%s: %s (%s, SW %04X)", what, st_strerror(rc),
                    st_error_layer(rc), sw);
    else
        st_prov_err(prov, reason, "%s: %s (%s)", what, st_strerror(rc), st_error_layer(rc));
}

OSSL_LIB_CTX *st_prov_swctx(struct st_prov *prov)
{
    pthread_mutex_lock(&prov->sw_mu);
    if (prov->swctx == NULL) {
        OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
        OSSL_PROVIDER *def = ctx != NULL ? OSSL_PROVIDER_load(ctx, "default") : NULL;
        EVP_KEYMGMT *km = def != NULL ? EVP_KEYMGMT_fetch(ctx, "EC", NULL) : NULL;
        if (km == NULL) {
            OSSL_PROVIDER_unload(def);
            OSSL_LIB_CTX_free(ctx);
        } else {
            prov->swctx = ctx;
            prov->swdefault = def;
            prov->sw_ec = km;
        }
    }
    pthread_mutex_unlock(&prov->sw_mu);
    return prov->swctx;
}

EVP_KEYMGMT *st_prov_sw_ec(struct st_prov *prov)
{
    return st_prov_swctx(prov) != NULL ? prov->sw_ec : NULL;
}

static const OSSL_ALGORITHM *query(void *provctx, int op, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    switch (op) {
    case OSSL_OP_KEYMGMT:
        return keymgmt_algs;
    case OSSL_OP_SIGNATURE:
        return signature_algs;
    case OSSL_OP_KEYEXCH:
        return keyexch_algs;
    case OSSL_OP_STORE:
        return store_algs;
    case OSSL_OP_KDF:
        return kdf_algs;
    default:
        return NULL;
    }
}

/* Provider parameters: the standard ones plus the card counters (docs/provider.md). */
#define P_APDUS "simtrust-apdus"
#define P_BYTES_OUT "simtrust-bytes-out"
#define P_BYTES_IN "simtrust-bytes-in"
#define P_OPS "simtrust-card-ops"
#define P_SIGNS "simtrust-signs"
#define P_DHS "simtrust-dhs"
#define P_KEYGENS "simtrust-keygens"
#define P_PRFS "simtrust-prfs"
#define P_HKDFS "simtrust-hkdfs"
#define P_RESET "simtrust-reset-stats"

static const OSSL_PARAM prov_gettable[] = {
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
    OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
    OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
    OSSL_PARAM_uint64(P_APDUS, NULL),
    OSSL_PARAM_uint64(P_BYTES_OUT, NULL),
    OSSL_PARAM_uint64(P_BYTES_IN, NULL),
    OSSL_PARAM_uint64(P_OPS, NULL),
    OSSL_PARAM_uint64(P_SIGNS, NULL),
    OSSL_PARAM_uint64(P_DHS, NULL),
    OSSL_PARAM_uint64(P_KEYGENS, NULL),
    OSSL_PARAM_uint64(P_PRFS, NULL),
    OSSL_PARAM_uint64(P_HKDFS, NULL),
    OSSL_PARAM_int(P_RESET, NULL),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *prov_gettable_params(void *provctx)
{
    (void)provctx;
    return prov_gettable;
}

static int prov_get_params(void *provctx, OSSL_PARAM params[])
{
    struct st_prov *prov = provctx;
    struct st_prov_stats st;
    OSSL_PARAM *p;
    st_prov_card_stats(prov->card, &st);
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != NULL
        && !OSSL_PARAM_set_utf8_ptr(p, "simtrust IoT SAFE provider"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) != NULL
        && !OSSL_PARAM_set_utf8_ptr(p, ST_PROV_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) != NULL
        && !OSSL_PARAM_set_utf8_ptr(p, ST_PROV_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != NULL
        && !OSSL_PARAM_set_int(p, 1))
        return 0;
    const struct {
        const char *name;
        uint64_t v;
    } ctr[] = {{P_APDUS, st.apdus}, {P_BYTES_OUT, st.bytes_out}, {P_BYTES_IN, st.bytes_in},
               {P_OPS, st.ops},     {P_SIGNS, st.signs},         {P_DHS, st.dhs},
               {P_KEYGENS, st.keygens}, {P_PRFS, st.prfs}, {P_HKDFS, st.hkdfs}};
    for (size_t i = 0; i < sizeof(ctr) / sizeof(ctr[0]); i++)
        if ((p = OSSL_PARAM_locate(params, ctr[i].name)) != NULL
            && !OSSL_PARAM_set_uint64(p, ctr[i].v))
            return 0;
    /* Asking for "simtrust-reset-stats" zeroes the counters after reading them. */
    if ((p = OSSL_PARAM_locate(params, P_RESET)) != NULL) {
        st_prov_card_reset_stats(prov->card);
        OSSL_PARAM_set_int(p, 1);
    }
    return 1;
}

static const OSSL_ITEM *prov_reasons(void *provctx)
{
    (void)provctx;
    return reason_strings;
}

static void prov_teardown(void *provctx)
{
    struct st_prov *prov = provctx;
    st_prov_psk_detach(prov);
    st_prov_card_free(prov->card);
    EVP_KEYMGMT_free(prov->sw_ec);
    OSSL_PROVIDER_unload(prov->swdefault);
    OSSL_LIB_CTX_free(prov->swctx);
    pthread_mutex_destroy(&prov->sw_mu);
    free(prov);
}

static const OSSL_DISPATCH prov_functions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))prov_teardown},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))prov_gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))prov_get_params},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))prov_reasons},
    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, (void (*)(void))st_prov_get_capabilities},
    {0, NULL},
};

int st_prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                 const OSSL_DISPATCH **out, void **provctx)
{
    OSSL_FUNC_core_get_params_fn *get_params = NULL;
    struct st_prov *prov = calloc(1, sizeof(*prov));
    if (prov == NULL)
        return 0;
    prov->handle = handle;
    pthread_mutex_init(&prov->sw_mu, NULL);
    for (; in->function_id != 0; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_GET_PARAMS:
            get_params = OSSL_FUNC_core_get_params(in);
            break;
        case OSSL_FUNC_CORE_NEW_ERROR:
            prov->new_error = OSSL_FUNC_core_new_error(in);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            prov->set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            prov->vset_error = OSSL_FUNC_core_vset_error(in);
            break;
        default:
            break;
        }
    }
    /* Config values: the provider's section of the config file, then the environment. */
    const char *sim = NULL, *ecdhe = NULL, *eph = NULL, *peer = NULL;
    if (get_params != NULL) {
        OSSL_PARAM p[] = {
            OSSL_PARAM_utf8_ptr("sim", (char **)&sim, 0),
            OSSL_PARAM_utf8_ptr("ecdhe", (char **)&ecdhe, 0),
            OSSL_PARAM_utf8_ptr("ephemeral-label", (char **)&eph, 0),
            OSSL_PARAM_utf8_ptr("peer-label", (char **)&peer, 0),
            OSSL_PARAM_END,
        };
        if (!get_params(handle, p))
            sim = ecdhe = eph = peer = NULL;
    }
    if (getenv("SIMTRUST_SIM") != NULL && getenv("SIMTRUST_SIM")[0] != '\0')
        sim = getenv("SIMTRUST_SIM"); /* the environment wins: tests point at their card */
    if (getenv("SIMTRUST_ECDHE") != NULL)
        ecdhe = getenv("SIMTRUST_ECDHE");
    prov->ecdhe_on_card = ecdhe == NULL || strcmp(ecdhe, "software") != 0;
    prov->card = st_prov_card_new(sim, eph, peer);
    if (prov->card == NULL) {
        pthread_mutex_destroy(&prov->sw_mu);
        free(prov);
        return 0;
    }
    st_prov_psk_attach(prov);
    *out = prov_functions;
    *provctx = prov;
    return 1;
}

#ifdef ST_PROV_MODULE
__attribute__((visibility("default"))) int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    return st_prov_init(handle, in, out, provctx);
}
#endif
