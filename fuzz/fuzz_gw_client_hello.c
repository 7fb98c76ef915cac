/*
 * Hostile first flights against the gateway's handshake path (issue 5,
 * hostile-input tests; IoT.04 M1, M2): the input is what a peer sends before
 * it has seen anything from the server, fed to a server SSL made by
 * st_gw_auth_ssl_ctx (PSK callbacks, ClientHello callback with its SNI
 * parsing, PSK identity resolution with the batch identity parser and the
 * registry lookups, decoy keys) over an in-memory registry with a stored-PSK
 * device and a batch group. TLS 1.2 inputs may carry the ClientKeyExchange
 * (the PSK identity) after the ClientHello: the server reads it from the same
 * buffer. Every connection must end with st_gw_auth_finish, and a handshake
 * that completes must have authenticated a credential.
 */
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_config.h"
#include "registry.h"
#include "st_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct st_reg *g_reg;
static SSL_CTX *g_ctx;

static void die(const char *what)
{
    (void)what;
    abort();
}

static void put_group(const char *id, unsigned methods, const char *vendor, const char *batch)
{
    struct st_reg_group g;
    memset(&g, 0, sizeof(g));
    strcpy(g.tenant, "acme");
    strcpy(g.id, id);
    g.auth_methods = methods;
    if (vendor != NULL) {
        strcpy(g.batch_vendor, vendor);
        strcpy(g.batch_id, batch);
        g.kdf = 1; /* ST_GW_KDF_HMAC_SHA256 */
        memset(g.bmk, 0x42, 32);
        g.bmk_len = 32;
    }
    if (st_reg_group_put(g_reg, &g, ST_REG_ANY) != ST_REG_OK)
        die("group");
}

static void init(void)
{
    static const uint8_t kek_bytes[32] = {7};
    struct st_gw_config cfg;
    struct st_reg_device d;
    char err[256];
    st_log_init("fuzz_gw_client_hello", ST_LOG_ERROR);
    struct st_gw_kek *kek = st_gw_kek_from_bytes(kek_bytes);
    if (kek == NULL || st_reg_open_sqlite(":memory:", kek, 1000, &g_reg) != ST_REG_OK ||
        st_reg_tenant_put(g_reg, "acme") != ST_REG_OK)
        die("registry");
    put_group("fleet", ST_REG_AUTH_PSK, NULL, NULL);
    put_group("meters", ST_REG_AUTH_BATCH, "acme", "b1");
    memset(&d, 0, sizeof(d));
    strcpy(d.tenant, "acme");
    strcpy(d.id, "dev-1");
    strcpy(d.group, "fleet");
    strcpy(d.psk_identity, "dev-1");
    memset(d.psk, 0x5A, 32);
    d.psk_len = 32;
    if (st_reg_device_put(g_reg, &d, ST_REG_ANY) != ST_REG_OK)
        die("device");
    st_gw_config_defaults(&cfg); /* no server certificate: PSK suites only */
    struct st_gw_auth_ctx *a = st_gw_auth_ctx_new(&cfg, NULL, err, sizeof(err));
    if (a == NULL || (g_ctx = st_gw_auth_ssl_ctx(a, 0, err, sizeof(err))) == NULL)
        die("auth context");
    /* The registry, KEK and contexts live for the whole process. */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_ctx == NULL)
        init();
    SSL *ssl = SSL_new(g_ctx);
    BIO *rb = BIO_new_mem_buf(data, (int)size), *wb = BIO_new(BIO_s_mem());
    if (ssl == NULL || rb == NULL || wb == NULL || st_gw_auth_attach(ssl, g_reg) != 0)
        die("ssl");
    SSL_set_bio(ssl, rb, wb);
    SSL_set_accept_state(ssl);
    int rc = -1;
    for (int i = 0; i < 8; i++) {
        rc = SSL_do_handshake(ssl);
        if (rc == 1 || SSL_get_error(ssl, rc) != SSL_ERROR_WANT_WRITE)
            break;
    }
    int reason = st_gw_auth_finish(ssl, rc == 1, rc == 1 ? NULL : "fuzz", "fuzz-peer", 0.0);
    const struct st_gw_auth *who = st_gw_auth_get(ssl);
    /* A completed handshake is an authenticated device, never anything else. */
    if (rc == 1 && (reason != ST_GW_AUTH_OK || who == NULL || who->method == ST_GW_METHOD_NONE))
        abort();
    SSL_free(ssl);
    return 0;
}
