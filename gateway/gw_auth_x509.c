/*
 * X.509 device authentication in the handshake (IoT.04 scenarios 1, 2, 6;
 * M1: the device proves possession of the SIM-held key; M2: the server
 * middleware holds the device's public credential and the group's anchors;
 * M3: one group's CA cannot vouch for another group's devices).
 *
 * The certificate verification callback replaces OpenSSL's chain building:
 *   1. SHA-256 of the leaf's DER SubjectPublicKeyInfo -> device (binding);
 *   2. device enabled (disabled/revoked refused now: the handshake aborts
 *      with an alert, no application data ever flows);
 *   3. its group allows X.509;
 *   4. the chain verifies against THAT group's trust anchors only
 *      (X509_V_FLAG_X509_STRICT, validity times, purpose sslclient).
 * Every refusal answers the same bad_certificate alert; the reason goes to
 * the log and the metrics only.
 *
 * Trust stores are cached per (tenant, group, group version), shared by the
 * workers under the context lock; a changed group (new anchors) has a new
 * version, so the next handshake builds a new store. Device records are read
 * on every handshake, so a state change made through any registry handle
 * applies to the next handshake.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "gw_auth_int.h"
#include "st_secret.h"

static X509_STORE *store_from_pem(const char *pem)
{
    if (pem == NULL || pem[0] == '\0')
        return NULL;
    ERR_set_mark();
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509_STORE *st = X509_STORE_new();
    X509 *x;
    int n = 0;
    while (b != NULL && st != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        n += X509_STORE_add_cert(st, x) == 1;
        X509_free(x);
    }
    ERR_pop_to_mark(); /* end of the PEM data */
    BIO_free(b);
    if (n == 0) {
        X509_STORE_free(st);
        return NULL;
    }
    return st;
}

static struct gw_anchor_entry *find_entry(struct st_gw_auth_ctx *a, const struct st_reg_group *g)
{
    for (size_t i = 0; i < a->n_anchors; i++)
        if (strcmp(a->anchors[i].tenant, g->tenant) == 0 && strcmp(a->anchors[i].group, g->id) == 0)
            return &a->anchors[i];
    return NULL;
}

/* The caller holds the lock. The entry's store up-referenced, or NULL. */
static X509_STORE *take(struct st_gw_auth_ctx *a, struct gw_anchor_entry *e)
{
    e->last_used = ++a->anchor_clock;
    return e->store != NULL && X509_STORE_up_ref(e->store) ? e->store : NULL;
}

/* The group's store, up-referenced (caller frees), or NULL (no anchors). */
static X509_STORE *anchors_for(struct st_gw_auth_ctx *a, const struct st_reg_group *g)
{
    X509_STORE *st = NULL;
    pthread_mutex_lock(&a->lock);
    struct gw_anchor_entry *e = find_entry(a, g);
    if (e != NULL && e->version == g->version) {
        st = take(a, e);
        pthread_mutex_unlock(&a->lock);
        return st;
    }
    pthread_mutex_unlock(&a->lock);

    /* Parsed outside the lock; another worker may have raced us. */
    X509_STORE *fresh = store_from_pem(g->trust_anchors_pem);
    pthread_mutex_lock(&a->lock);
    e = find_entry(a, g);
    if (e != NULL && e->version > g->version) {
        /* Our group record is older than the cached one: use ours, uncached. */
        pthread_mutex_unlock(&a->lock);
        return fresh;
    }
    if (e == NULL) {
        if (a->anchors == NULL)
            a->anchors = calloc(GW_ANCHOR_CACHE_MAX, sizeof(*a->anchors));
        if (a->anchors == NULL) {
            pthread_mutex_unlock(&a->lock);
            return fresh;
        }
        if (a->n_anchors < GW_ANCHOR_CACHE_MAX) {
            e = &a->anchors[a->n_anchors++];
        } else {
            e = &a->anchors[0]; /* full: evict the least recently used */
            for (size_t j = 1; j < a->n_anchors; j++)
                if (a->anchors[j].last_used < e->last_used)
                    e = &a->anchors[j];
            X509_STORE_free(e->store);
            e->store = NULL;
        }
        snprintf(e->tenant, sizeof(e->tenant), "%s", g->tenant);
        snprintf(e->group, sizeof(e->group), "%s", g->id);
        e->version = -1;
    }
    if (e->version != g->version) {
        X509_STORE_free(e->store);
        e->store = fresh;
        e->version = g->version;
        fresh = NULL;
    }
    st = take(a, e);
    pthread_mutex_unlock(&a->lock);
    X509_STORE_free(fresh); /* lost the race: the cached one is identical */
    return st;
}

void gw_auth_x509_cache_free(struct st_gw_auth_ctx *a)
{
    for (size_t i = 0; i < a->n_anchors; i++)
        X509_STORE_free(a->anchors[i].store);
    free(a->anchors);
    a->anchors = NULL;
    a->n_anchors = 0;
}

static int spki_sha256(X509 *x, uint8_t out[32])
{
    unsigned char *der = NULL;
    unsigned int n = 0;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    int ok = len > 0 && EVP_Digest(der, (size_t)len, out, &n, EVP_sha256(), NULL) == 1 && n == 32;
    OPENSSL_free(der);
    return ok;
}

static int state_reason(int state)
{
    return state == ST_REG_ENABLED ? ST_GW_AUTH_OK
           : state == ST_REG_REVOKED ? ST_GW_AUTH_REVOKED
                                     : ST_GW_AUTH_DISABLED;
}

static int verify_chain(X509_STORE *st, X509 *leaf, STACK_OF(X509) *untrusted)
{
    ERR_set_mark();
    X509_STORE_CTX *v = X509_STORE_CTX_new();
    int reason = ST_GW_AUTH_STORE;
    if (v == NULL || X509_STORE_CTX_init(v, st, leaf, untrusted) != 1)
        goto out;
    X509_STORE_CTX_set_default(v, "ssl_client");
    X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(v);
    X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_X509_STRICT);
    X509_VERIFY_PARAM_set_depth(p, 8);
    if (X509_verify_cert(v) == 1) {
        reason = ST_GW_AUTH_OK;
    } else {
        int e = X509_STORE_CTX_get_error(v);
        reason = e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID
                     ? ST_GW_AUTH_CERT_EXPIRED
                     : ST_GW_AUTH_CERT_UNTRUSTED;
    }
out:
    X509_STORE_CTX_free(v);
    ERR_pop_to_mark();
    return reason;
}

static int decide(struct st_gw_auth_ctx *a, struct gw_conn *c, X509 *leaf,
                  STACK_OF(X509) *untrusted)
{
    struct st_reg_device d;
    struct st_reg_group g;
    uint8_t h[32];
    if (c->reg == NULL || leaf == NULL || !spki_sha256(leaf, h))
        return ST_GW_AUTH_STORE;
    int rc = st_reg_device_by_spki(c->reg, h, &d);
    if (rc == ST_REG_NOTFOUND)
        return ST_GW_AUTH_CERT_UNKNOWN;
    if (rc != ST_REG_OK)
        return ST_GW_AUTH_STORE;
    snprintf(c->pub.tenant, sizeof(c->pub.tenant), "%s", d.tenant);
    snprintf(c->pub.device_id, sizeof(c->pub.device_id), "%s", d.id);
    snprintf(c->pub.group, sizeof(c->pub.group), "%s", d.group);
    snprintf(c->pub.iccid, sizeof(c->pub.iccid), "%s", d.iccid);
    int reason = state_reason(d.state);
    if (reason == ST_GW_AUTH_OK) {
        rc = st_reg_group_get(c->reg, d.tenant, d.group, &g);
        if (rc != ST_REG_OK) {
            reason = ST_GW_AUTH_STORE;
        } else {
            if (!(g.auth_methods & ST_REG_AUTH_X509)) {
                reason = ST_GW_AUTH_METHOD;
            } else {
                X509_STORE *st = anchors_for(a, &g);
                reason = st ? verify_chain(st, leaf, untrusted) : ST_GW_AUTH_CERT_UNTRUSTED;
                X509_STORE_free(st);
            }
            st_reg_group_clear(&g);
        }
    }
    st_reg_device_clear(&d);
    return reason;
}

static int verify_cb(X509_STORE_CTX *x, void *arg)
{
    struct st_gw_auth_ctx *a = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct gw_conn *c = gw_conn_of(ssl);
    X509 *leaf = X509_STORE_CTX_get0_cert(x);
    int reason = ST_GW_AUTH_STORE;
    if (c != NULL) {
        c->cert_seen = 1;
        c->attempt = ST_GW_METHOD_X509;
        X509_NAME *subj = leaf ? X509_get_subject_name(leaf) : NULL;
        int pos = subj ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
        ASN1_STRING *cn = pos >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, pos)) : NULL;
        if (cn != NULL)
            gw_escape(ASN1_STRING_get0_data(cn), (size_t)ASN1_STRING_length(cn), c->pub.subject_cn,
                      sizeof(c->pub.subject_cn));
        reason = decide(a, c, leaf, X509_STORE_CTX_get0_untrusted(x));
        c->reason = reason;
        c->pub.method = reason == ST_GW_AUTH_OK ? ST_GW_METHOD_X509 : ST_GW_METHOD_NONE;
    }
    if (reason != ST_GW_AUTH_OK) {
        /* One alert (bad_certificate) for every refusal. */
        X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    X509_STORE_CTX_set_error(x, X509_V_OK);
    return 1;
}

void gw_auth_x509_install(SSL_CTX *c, struct st_gw_auth_ctx *a)
{
    SSL_CTX_set_cert_verify_callback(c, verify_cb, a);
    if (a->cert != NULL)
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
}
