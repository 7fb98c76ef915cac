/*
 * Device authentication context (gw_auth.h): the shared st_gw_auth_ctx, the
 * server SSL_CTXs built from it (TLS 1.2/1.3, DTLS 1.2), the per-connection
 * record in the SSL's ex_data and the DTLS cookie callbacks.
 *
 * IoT.04 M1 (mutual authentication of device and server middleware), M2 (the
 * server middleware holds the devices' public credentials), M3 (the device's
 * credential is decided per device group, from the registry).
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_auth_int.h"
#include "st_secret.h"

static pthread_once_t g_index_once = PTHREAD_ONCE_INIT;
static int g_ctx_idx = -1, g_conn_idx = -1;

static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (ptr != NULL) {
        st_wipe(ptr, sizeof(struct gw_conn));
        free(ptr);
    }
}

static void make_indexes(void)
{
    g_ctx_idx = SSL_CTX_get_ex_new_index(0, "simtrust gw auth ctx", NULL, NULL, NULL);
    g_conn_idx = SSL_get_ex_new_index(0, "simtrust gw auth conn", NULL, NULL, conn_free);
}

int gw_ctx_index(void)
{
    pthread_once(&g_index_once, make_indexes);
    return g_ctx_idx;
}

int gw_conn_index(void)
{
    pthread_once(&g_index_once, make_indexes);
    return g_conn_idx;
}

struct gw_conn *gw_conn_of(const SSL *ssl)
{
    int idx = gw_conn_index();
    return ssl != NULL && idx >= 0 ? SSL_get_ex_data(ssl, idx) : NULL;
}

struct st_gw_auth_ctx *gw_ctx_of(const SSL *ssl)
{
    int idx = gw_ctx_index();
    return ssl != NULL && idx >= 0 ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), idx) : NULL;
}

static void set_err(char *err, size_t cap, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[160] = "";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s%s%s", what, buf[0] ? ": " : "", buf);
    ERR_clear_error();
}

static int load_identity(struct st_gw_auth_ctx *a, const struct st_gw_config *cfg, char *err,
                         size_t errcap)
{
    if (cfg->server_cert[0] == '\0') {
        if (cfg->server_key[0] != '\0') {
            snprintf(err, errcap, "server_key given without server_cert");
            return -1;
        }
        return 0; /* PSK only */
    }
    BIO *b = BIO_new_file(cfg->server_cert, "r");
    if (b == NULL) {
        set_err(err, errcap, cfg->server_cert);
        return -1;
    }
    a->cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
    a->chain = sk_X509_new_null();
    X509 *x;
    while (a->cert != NULL && a->chain != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
        sk_X509_push(a->chain, x);
    BIO_free(b);
    ERR_clear_error(); /* end of file */
    if (a->cert == NULL || a->chain == NULL) {
        snprintf(err, errcap, "%s: no certificate", cfg->server_cert);
        return -1;
    }
    const char *kp = cfg->server_key[0] ? cfg->server_key : cfg->server_cert;
    b = BIO_new_file(kp, "r");
    a->key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (a->key == NULL) {
        set_err(err, errcap, kp);
        return -1;
    }
    if (X509_check_private_key(a->cert, a->key) != 1) {
        set_err(err, errcap, "server_key does not match server_cert");
        return -1;
    }
    return 0;
}

struct st_gw_auth_ctx *st_gw_auth_ctx_new(const struct st_gw_config *cfg,
                                          struct st_gw_metrics *metrics, char *err,
                                          size_t errcap)
{
    char dummy[8];
    if (err == NULL || errcap == 0) {
        err = dummy;
        errcap = sizeof(dummy);
    }
    err[0] = '\0';
    if (cfg == NULL || gw_ctx_index() < 0 || gw_conn_index() < 0) {
        snprintf(err, errcap, "no configuration or no OpenSSL ex_data index");
        return NULL;
    }
    if (cfg->tls_min_version != TLS1_2_VERSION && cfg->tls_min_version != TLS1_3_VERSION) {
        snprintf(err, errcap, "tls_min_version must be 1.2 or 1.3");
        return NULL;
    }
    struct st_gw_auth_ctx *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    atomic_init(&a->balances, NULL);
    a->metrics = metrics;
    a->tls_min_version = cfg->tls_min_version;
    a->psk_dhe_only = cfg->psk_dhe_only ? 1 : 0;
    if (RAND_priv_bytes(a->decoy_secret, sizeof(a->decoy_secret)) != 1 ||
        RAND_priv_bytes(a->cookie_secret, sizeof(a->cookie_secret)) != 1) {
        set_err(err, errcap, "random");
        st_gw_auth_ctx_free(a);
        return NULL;
    }
    if (load_identity(a, cfg, err, errcap) != 0) {
        st_gw_auth_ctx_free(a);
        return NULL;
    }
    return a;
}

void st_gw_auth_ctx_free(struct st_gw_auth_ctx *a)
{
    if (a == NULL)
        return;
    gw_auth_x509_cache_free(a);
    struct gw_balance_node *n = atomic_load(&a->balances);
    while (n != NULL) {
        struct gw_balance_node *next = n->next;
        free(n);
        n = next;
    }
    X509_free(a->cert);
    sk_X509_pop_free(a->chain, X509_free);
    EVP_PKEY_free(a->key);
    pthread_mutex_destroy(&a->lock);
    st_wipe(a, sizeof(*a));
    free(a);
}

/* ---- DTLS cookies: HMAC-SHA-256(cookie_secret, peer address) ---- */

static int cookie_of(SSL *ssl, unsigned char *out, unsigned int *out_len)
{
    struct st_gw_auth_ctx *a = gw_ctx_of(ssl);
    struct gw_conn *c = gw_conn_of(ssl);
    BIO_ADDR *addr = BIO_ADDR_new();
    unsigned char raw[3 + 16];
    size_t rl = 0;
    int ok = 0;
    if (a == NULL || addr == NULL)
        goto out;
    /* Peer address: the datagram BIO's peer when there is one; else only
     * the connection's identity of the data plane (an in-memory BIO per
     * peer: the data plane has checked the address itself). */
    if (BIO_dgram_get_peer(SSL_get_rbio(ssl), addr) > 0) {
        unsigned short port = BIO_ADDR_rawport(addr);
        size_t al = 0;
        raw[0] = (unsigned char)BIO_ADDR_family(addr);
        memcpy(raw + 1, &port, sizeof(port));
        if (BIO_ADDR_rawaddress(addr, NULL, &al) && al <= sizeof(raw) - 3 &&
            BIO_ADDR_rawaddress(addr, raw + 3, &al))
            rl = 3 + al;
    }
    (void)c;
    unsigned int n = 0;
    ok = HMAC(EVP_sha256(), a->cookie_secret, sizeof(a->cookie_secret), raw, rl, out, &n) != NULL;
    *out_len = n;
out:
    BIO_ADDR_free(addr);
    return ok;
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
    return cookie_of(ssl, cookie, len);
}

static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
    unsigned char exp[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    return cookie_of(ssl, exp, &n) && len == n && st_ct_memcmp(exp, cookie, n) == 0;
}

/* ---- ClientHello: note it, and the SNI for st_gw_auth ---- */

static int hello_cb(SSL *ssl, int *al, void *arg)
{
    const unsigned char *p;
    size_t len;
    (void)al;
    (void)arg;
    struct gw_conn *c = gw_conn_of(ssl);
    if (c == NULL)
        return SSL_CLIENT_HELLO_SUCCESS;
    c->hello_seen = 1;
    /* server_name: list length(2) type(1) = host_name, name length(2), name. */
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) == 1 && len >= 5 &&
        p[2] == TLSEXT_NAMETYPE_host_name) {
        size_t nl = ((size_t)p[3] << 8) | p[4];
        if (nl <= len - 5)
            gw_escape(p + 5, nl, c->pub.sni, sizeof(c->pub.sni));
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* TLS 1.2 suites, in server preference order: ECDHE-PSK, plain PSK (CCM and
 * CCM_8 for constrained devices, RFC 7925), then ECDHE with certificates. PSK
 * first because general-purpose clients never offer PSK suites unless they
 * hold a PSK, so a client offering both (gnutls-cli with NORMAL:+PSK) means
 * its PSK; a certificate client offers no PSK suite and gets ECDHE-ECDSA.
 * No DHE, no RSA key exchange. */
static const char k_tls12_ciphers[] =
    "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES128-CBC-SHA256:ECDHE-PSK-AES256-CBC-SHA384:"
    "PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:PSK-CHACHA20-POLY1305:PSK-AES128-CCM:"
    "PSK-AES128-CCM8:PSK-AES128-CBC-SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-CHACHA20-POLY1305";
/* SHA-256 suites first: external PSKs are SHA-256 PSKs (gw_auth_psk.c). */
static const char k_tls13_suites[] =
    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:"
    "TLS_AES_256_GCM_SHA384";

SSL_CTX *st_gw_auth_ssl_ctx(struct st_gw_auth_ctx *a, int dtls, char *err, size_t errcap)
{
    char dummy[8];
    if (err == NULL || errcap == 0) {
        err = dummy;
        errcap = sizeof(dummy);
    }
    err[0] = '\0';
    if (a == NULL) {
        snprintf(err, errcap, "no auth context");
        return NULL;
    }
    SSL_CTX *c = SSL_CTX_new(dtls ? DTLS_server_method() : TLS_server_method());
    if (c == NULL) {
        set_err(err, errcap, "SSL_CTX_new");
        return NULL;
    }
    int ok = 1;
    if (dtls) {
        ok &= SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION);
        ok &= SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION);
        SSL_CTX_set_cookie_generate_cb(c, cookie_generate);
        SSL_CTX_set_cookie_verify_cb(c, cookie_verify);
        SSL_CTX_set_options(c, SSL_OP_COOKIE_EXCHANGE);
    } else {
        ok &= SSL_CTX_set_min_proto_version(c, a->tls_min_version);
        ok &= SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
        ok &= SSL_CTX_set_ciphersuites(c, k_tls13_suites);
    }
    ok &= SSL_CTX_set_cipher_list(c, k_tls12_ciphers);
    /* No tickets, no session cache: every handshake authenticates the device
     * afresh against the registry (a revoked device cannot resume). */
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_clear_options(c, SSL_OP_ALLOW_NO_DHE_KEX);
    if (!a->psk_dhe_only)
        SSL_CTX_set_options(c, SSL_OP_ALLOW_NO_DHE_KEX);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    if (!dtls) {
        ok &= SSL_CTX_set_num_tickets(c, 0);
        /* No 0-RTT: early data is never accepted (PSK sessions carry
         * max_early_data 0). recv_max_early_data keeps its default so that a
         * client that tries 0-RTT is rejected gracefully (its early data is
         * skipped, the handshake goes on in 1-RTT) instead of failing. */
        ok &= SSL_CTX_set_max_early_data(c, 0);
    }
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    /* OpenSSL refuses a TLS 1.3 external PSK when a certificate may also be
     * requested and no session ID context is set ("session id context
     * uninitialized"). Sessions are never cached or resumed (above); this
     * only names the context. */
    ok &= SSL_CTX_set_session_id_context(c, (const unsigned char *)"simtrust-gw", 11);
    if (a->cert != NULL)
        ok &= SSL_CTX_use_cert_and_key(c, a->cert, a->key, a->chain, 1);
    SSL_CTX_set_client_hello_cb(c, hello_cb, a);
    ok &= SSL_CTX_set_ex_data(c, gw_ctx_index(), a);
    gw_auth_psk_install(c);
    gw_auth_x509_install(c, a);
    if (!ok) {
        set_err(err, errcap, "configuring the SSL_CTX");
        SSL_CTX_free(c);
        return NULL;
    }
    return c;
}

int st_gw_auth_attach(SSL *ssl, struct st_reg *reg)
{
    int idx = gw_conn_index();
    if (ssl == NULL || idx < 0 || SSL_get_ex_data(ssl, idx) != NULL)
        return -1;
    struct gw_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    c->reg = reg;
    c->reason = ST_GW_AUTH_OK;
    c->pub.method = ST_GW_METHOD_NONE;
    c->pub.reason = ST_GW_AUTH_OK;
    if (!SSL_set_ex_data(ssl, idx, c)) {
        free(c);
        return -1;
    }
    return 0;
}

const struct st_gw_auth *st_gw_auth_get(const SSL *ssl)
{
    struct gw_conn *c = gw_conn_of(ssl);
    return c != NULL ? &c->pub : NULL;
}
