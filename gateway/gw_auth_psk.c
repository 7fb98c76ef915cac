/*
 * PSK authentication in the handshake (IoT.04 scenarios 3, 4: stored PSK;
 * scenario 5: batch-derived eUK; M1, M2). Both TLS 1.2 (PSK and ECDHE-PSK
 * suites, DTLS 1.2) and TLS 1.3 (external PSK, psk_dhe_ke unless configured
 * otherwise, never 0-RTT) go through st_gw_psk_resolve_ct():
 *
 *   - a known, enabled identity gets its key;
 *   - anything else gets a decoy key (a stable HMAC of the identity under a
 *     per-context secret): the handshake continues and fails at Finished
 *     (TLS 1.2) or at the binder (TLS 1.3) exactly like a wrong key, with no
 *     unknown_psk_identity alert, after the same work (timing balance).
 *
 * Keys are wiped as soon as OpenSSL has copied them.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "batch_psk.h"
#include "gw_auth_int.h"
#include "st_secret.h"

static const struct st_gw_psk_balance *balance_for(struct st_gw_auth_ctx *a, struct st_gw_kek *kek)
{
    struct gw_balance_node *n;
    if (kek == NULL)
        return NULL;
    for (n = atomic_load_explicit(&a->balances, memory_order_acquire); n; n = n->next)
        if (n->b.kek == kek)
            return &n->b;
    pthread_mutex_lock(&a->lock);
    for (n = atomic_load_explicit(&a->balances, memory_order_acquire); n; n = n->next)
        if (n->b.kek == kek)
            break;
    if (n == NULL && (n = calloc(1, sizeof(*n))) != NULL) {
        if (st_gw_psk_balance_init(&n->b, kek) == 0) {
            n->next = atomic_load_explicit(&a->balances, memory_order_relaxed);
            atomic_store_explicit(&a->balances, n, memory_order_release);
        } else {
            free(n);
            n = NULL;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return n ? &n->b : NULL;
}

/*
 * Resolves identity into key[*kl] (always a key: real or decoy) and records
 * the outcome in the connection. Returns 1 when the identity is accepted.
 */
static int lookup(SSL *ssl, const uint8_t *identity, size_t len, uint8_t *key, size_t *kl)
{
    struct gw_conn *c = gw_conn_of(ssl);
    struct st_gw_auth_ctx *a = gw_ctx_of(ssl);
    struct st_gw_psk_result res;
    *kl = 0;
    if (a == NULL)
        return 0;
    if (c == NULL || c->reg == NULL) {
        /* Not attached: no registry to ask. Decoy, so nothing is revealed. */
        st_gw_psk_decoy(a->decoy_secret, identity, len, key, ST_GW_DECOY_LEN);
        *kl = ST_GW_DECOY_LEN;
        if (c != NULL) {
            c->psk_seen = 1;
            c->attempt = ST_GW_METHOD_PSK;
            c->reason = ST_GW_AUTH_STORE;
        }
        return 0;
    }
    int ok = st_gw_psk_resolve_ct(c->reg, a->decoy_secret, balance_for(a, c->reg->kek), identity,
                                  len, key, ST_REG_KEY_MAX, kl, &res, &a->stats);
    /* A second identity in the same handshake (TLS 1.3 offers several):
     * the first accepted one wins the record. */
    if (c->psk_ok)
        return ok;
    c->psk_seen = 1;
    c->psk_ok = ok;
    c->attempt = res.batch ? ST_GW_METHOD_BATCH : ST_GW_METHOD_PSK;
    c->reason = ok ? ST_GW_AUTH_OK : res.reason;
    gw_escape(identity, len, c->pub.psk_identity, sizeof(c->pub.psk_identity));
    snprintf(c->pub.tenant, sizeof(c->pub.tenant), "%s", res.tenant);
    snprintf(c->pub.device_id, sizeof(c->pub.device_id), "%s", res.device_id);
    snprintf(c->pub.group, sizeof(c->pub.group), "%s", res.group);
    snprintf(c->pub.iccid, sizeof(c->pub.iccid), "%s", res.iccid);
    /* The method is set here, but the connection only counts as
     * authenticated when the handshake completes (Finished proves the key). */
    c->pub.method = ok ? c->attempt : ST_GW_METHOD_NONE;
    return ok;
}

/* TLS 1.2 / DTLS 1.2 PSK and ECDHE-PSK. Never returns 0 (that would send
 * unknown_psk_identity): a refused identity gets its decoy. */
static unsigned int psk_tls12(SSL *ssl, const char *identity, unsigned char *psk,
                              unsigned int max_psk_len)
{
    uint8_t key[ST_REG_KEY_MAX];
    size_t kl = 0;
    size_t il = identity ? strnlen(identity, ST_REG_PSK_ID_MAX + 1) : 0;
    lookup(ssl, (const uint8_t *)(identity ? identity : ""), il, key, &kl);
    if (kl > max_psk_len)
        kl = 0;
    memcpy(psk, key, kl);
    st_wipe(key, sizeof(key));
    return (unsigned int)kl;
}

/*
 * TLS 1.3 external PSK: a session carrying the key, the hash the binder is
 * computed with (SHA-256: the negotiated suite when it is a SHA-256 suite,
 * else TLS_AES_128_GCM_SHA256; OpenSSL then skips a PSK whose hash does not
 * match the suite), no early data. psk_dhe_ke is enforced by not setting
 * SSL_OP_ALLOW_NO_DHE_KEX (gw_auth_ctx.c).
 */
static int psk_tls13(SSL *ssl, const unsigned char *identity, size_t len, SSL_SESSION **sess)
{
    static const unsigned char k_aes128gcm[2] = {0x13, 0x01};
    uint8_t key[ST_REG_KEY_MAX];
    size_t kl = 0;
    *sess = NULL;
    lookup(ssl, identity, len, key, &kl);
    const SSL_CIPHER *cipher = SSL_get_pending_cipher(ssl);
    const EVP_MD *md = cipher ? SSL_CIPHER_get_handshake_digest(cipher) : NULL;
    if (md == NULL || EVP_MD_get_type(md) != NID_sha256)
        cipher = SSL_CIPHER_find(ssl, k_aes128gcm);
    SSL_SESSION *s = SSL_SESSION_new();
    int ok = s != NULL && cipher != NULL && kl > 0 && SSL_SESSION_set1_master_key(s, key, kl) &&
             SSL_SESSION_set_cipher(s, cipher) &&
             SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) &&
             SSL_SESSION_set_max_early_data(s, 0);
    st_wipe(key, sizeof(key));
    if (!ok) {
        SSL_SESSION_free(s);
        return 0; /* internal error: the handshake fails */
    }
    *sess = s;
    return 1;
}

void gw_auth_psk_install(SSL_CTX *c)
{
    SSL_CTX_set_psk_server_callback(c, psk_tls12);
    SSL_CTX_set_psk_find_session_callback(c, psk_tls13);
}
