/*
 * st_prov_psk_use (provider/prov_psk.h): libssl callbacks of PSK mode
 * (docs/provider.md "PSK mode"; IoT.04 I1-I3, J1-J3, K1). In the static
 * library simtrust_prov only (it needs libssl); the module simtrust.so does
 * not carry it.
 *
 * TLS 1.2 / DTLS 1.2: the psk_client_callback answers the card's identity
 * and the placeholder; libssl builds the pre-master around it and derives
 * the master secret with TLS1-PRF, which the provider runs on the card.
 * TLS 1.3: the psk_use_session_callback answers an SSL_SESSION whose master
 * key is the placeholder (TLS_AES_128_GCM_SHA256: SHA-256); libssl's early
 * secret (TLS13-KDF extract) is computed on the card.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "prov.h"
#include "prov_psk.h"

struct psk_cfg {
    char label[61];
    char identity[PSK_MAX_IDENTITY_LEN + 1]; /* read at the first handshake */
    size_t identity_len;
    pthread_mutex_t mu;
};

static int cfg_index = -1;
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

static void cfg_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    struct psk_cfg *c = ptr;
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->mu);
    OPENSSL_clear_free(c, sizeof(*c));
}

static void cfg_index_init(void)
{
    cfg_index = SSL_CTX_get_ex_new_index(0, (void *)"simtrust psk", NULL, NULL, cfg_free);
}

/* The label's identity (cached) and placeholder; 0 with an error queued. */
static int psk_get(SSL *ssl, const char **id, size_t *id_len, uint8_t ph[ST_PROV_PSK_PLACEHOLDER_LEN])
{
    struct psk_cfg *c = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cfg_index);
    if (c == NULL)
        return 0;
    int ok = 1;
    pthread_mutex_lock(&c->mu);
    if (c->identity_len == 0) {
        size_t n = sizeof(c->identity);
        ok = st_prov_psk_identity(c->label, c->identity, &n);
        if (ok)
            c->identity_len = n;
        else if (ERR_peek_error() == 0)
            ERR_raise_data(ERR_LIB_USER, ERR_R_UNSUPPORTED,
                           "simtrust PSK mode: the simtrust provider is not loaded");
    }
    pthread_mutex_unlock(&c->mu);
    if (ok && !st_prov_psk_placeholder(c->label, ph)) {
        ERR_raise_data(ERR_LIB_USER, ERR_R_INTERNAL_ERROR, "simtrust PSK mode: no placeholder");
        ok = 0;
    }
    if (ok) {
        *id = c->identity;
        *id_len = c->identity_len;
    }
    return ok;
}

static unsigned int psk_client_cb(SSL *ssl, const char *hint, char *identity,
                                  unsigned int max_identity_len, unsigned char *psk,
                                  unsigned int max_psk_len)
{
    (void)hint; /* the identity hint does not choose the card's secret */
    const char *id;
    size_t n;
    uint8_t ph[ST_PROV_PSK_PLACEHOLDER_LEN];
    if (!psk_get(ssl, &id, &n, ph))
        return 0;
    if (n + 1 > max_identity_len || max_psk_len < sizeof(ph)) {
        OPENSSL_cleanse(ph, sizeof(ph));
        ERR_raise_data(ERR_LIB_USER, ERR_R_PASSED_INVALID_ARGUMENT,
                       "simtrust PSK mode: identity of %zu bytes too long", n);
        return 0;
    }
    memcpy(identity, id, n + 1);
    memcpy(psk, ph, sizeof(ph));
    OPENSSL_cleanse(ph, sizeof(ph));
    return (unsigned int)sizeof(ph);
}

static int psk_use_session_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id,
                              size_t *idlen, SSL_SESSION **sess)
{
    static const unsigned char tls_aes_128_gcm_sha256[2] = {0x13, 0x01};
    *sess = NULL;
    *id = NULL;
    *idlen = 0;
    if (md != NULL && !EVP_MD_is_a(md, "SHA2-256"))
        return 1; /* the external PSK is bound to SHA-256: not offered for this suite */
    const char *identity;
    size_t n;
    uint8_t ph[ST_PROV_PSK_PLACEHOLDER_LEN];
    if (!psk_get(ssl, &identity, &n, ph))
        return 0;
    const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, tls_aes_128_gcm_sha256);
    SSL_SESSION *s = SSL_SESSION_new();
    int ok = s != NULL && cipher != NULL && SSL_SESSION_set1_master_key(s, ph, sizeof(ph))
             && SSL_SESSION_set_cipher(s, cipher)
             && SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION);
    OPENSSL_cleanse(ph, sizeof(ph));
    if (!ok) {
        SSL_SESSION_free(s);
        return 0;
    }
    *sess = s;
    *id = (const unsigned char *)identity;
    *idlen = n;
    return 1;
}

int st_prov_psk_use(SSL_CTX *ctx, const char *psk_label)
{
    size_t n = psk_label != NULL ? strlen(psk_label) : 0;
    if (ctx == NULL || n == 0 || n > 60) {
        ERR_raise_data(ERR_LIB_USER, ERR_R_PASSED_INVALID_ARGUMENT,
                       "simtrust PSK mode: a PSK label of 1 to 60 characters");
        return 0;
    }
    pthread_once(&cfg_once, cfg_index_init);
    if (cfg_index < 0)
        return 0;
    struct psk_cfg *c = OPENSSL_zalloc(sizeof(*c));
    if (c == NULL)
        return 0;
    memcpy(c->label, psk_label, n + 1);
    pthread_mutex_init(&c->mu, NULL);
    struct psk_cfg *old = SSL_CTX_get_ex_data(ctx, cfg_index);
    if (!SSL_CTX_set_ex_data(ctx, cfg_index, c)) {
        cfg_free(NULL, c, NULL, 0, 0, NULL);
        return 0;
    }
    cfg_free(NULL, old, NULL, 0, 0, NULL);
    SSL_CTX_set_psk_client_callback(ctx, psk_client_cb);
    SSL_CTX_set_psk_use_session_callback(ctx, psk_use_session_cb);
    return SSL_CTX_set_cipher_list(ctx, ST_PROV_PSK_TLS12_CIPHERS)
           && SSL_CTX_set_ciphersuites(ctx, ST_PROV_PSK_TLS13_CIPHERS);
}
