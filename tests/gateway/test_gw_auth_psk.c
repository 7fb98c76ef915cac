/*
 * PSK device authentication inside real OpenSSL (and GnuTLS) handshakes
 * (IoT.04 M1, M2; scenarios 3/4 stored PSK, scenario 5 batch-derived eUK):
 * TLS 1.2 PSK and ECDHE-PSK, TLS 1.3 PSK with (EC)DHE, DTLS 1.2 PSK, batch
 * HMAC-SHA-256 and HKDF-SHA-256 accepted with the right st_gw_auth fields;
 * every bad credential refused with its reason and without a distinct alert;
 * TLS 1.3 psk_ke-only refused under psk_dhe_only; 0-RTT never accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <openssl/hmac.h>
#include <sys/socket.h>

#include "test_gw_auth_common.h"

static const uint8_t k_psk[32] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa};
static const uint8_t k_psk16[16] = {0xa5, 0x5a, 0xa5, 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t k_bmk[32] = {0xb0, 0x0b, 0xb0, 0x0b, 0x42};
#define ICCID_OK "89882280000000000014"      /* Luhn-valid, on the allow-list */
#define ICCID_OTHER "89882280000000000022"   /* Luhn-valid, not on it */
#define ICCID_BADLUHN "89882280000000000015" /* check digit wrong */

/* What the client presents (one handshake at a time). */
static struct {
    char identity[ST_REG_PSK_ID_MAX + 1];
    uint8_t key[64];
    size_t len;
    uint32_t early; /* max_early_data of the client's TLS 1.3 PSK session */
} g_cli;

struct fx {
    struct reg_fx reg;
    struct st_gw_metrics *m;
    struct st_gw_auth_ctx *a;
    SSL_CTX *tls, *dtls;
};

static struct fx *G;

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct st_gw_config cfg;
    char err[256];
    st_log_init("test_gw_auth_psk", ST_LOG_INFO);
    assert_int_equal(reg_fx_open(&f->reg), 0);
    struct st_reg *r = f->reg.r;
    assert_int_equal(put_group(r, "fleet", ST_REG_AUTH_PSK, NULL), ST_REG_OK);
    assert_int_equal(put_group(r, "certs", ST_REG_AUTH_X509, NULL), ST_REG_OK);
    assert_int_equal(put_batch_group(r, "meters-hkdf", "MeterCo", "b1", ST_GW_KDF_HKDF_SHA256,
                                     k_bmk, 1),
                     ST_REG_OK);
    assert_int_equal(put_batch_group(r, "meters-hmac", "MeterCo", "b2", ST_GW_KDF_HMAC_SHA256,
                                     k_bmk, 0),
                     ST_REG_OK);
    assert_int_equal(st_reg_allow_add(r, "acme", "meters-hkdf", ICCID_OK), ST_REG_OK);
    assert_int_equal(put_psk_device(r, "dev-1", "fleet", "device-0001", k_psk, 32, ST_REG_ENABLED),
                     ST_REG_OK);
    assert_int_equal(put_psk_device(r, "dev-16", "fleet", "device-0016", k_psk16, 16,
                                    ST_REG_ENABLED),
                     ST_REG_OK);
    assert_int_equal(put_psk_device(r, "dev-2", "fleet", "device-0002", k_psk, 32,
                                    ST_REG_DISABLED),
                     ST_REG_OK);
    assert_int_equal(put_psk_device(r, "dev-3", "fleet", "device-0003", k_psk, 32, ST_REG_ENABLED),
                     ST_REG_OK);
    assert_int_equal(put_psk_device(r, "dev-4", "certs", "device-0004", k_psk, 32, ST_REG_ENABLED),
                     ST_REG_OK);
    f->m = st_gw_metrics_new();
    test_config(&cfg, NULL, NULL); /* PSK only: no server certificate */
    f->a = st_gw_auth_ctx_new(&cfg, f->m, err, sizeof(err));
    assert_non_null(f->a);
    f->tls = st_gw_auth_ssl_ctx(f->a, 0, err, sizeof(err));
    f->dtls = st_gw_auth_ssl_ctx(f->a, 1, err, sizeof(err));
    assert_non_null(f->tls);
    assert_non_null(f->dtls);
    G = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    SSL_CTX_free(f->tls);
    SSL_CTX_free(f->dtls);
    st_gw_auth_ctx_free(f->a);
    st_gw_metrics_free(f->m);
    reg_fx_close(&f->reg);
    free(f);
    return 0;
}

static void client_set(const char *identity, const uint8_t *key, size_t len)
{
    snprintf(g_cli.identity, sizeof(g_cli.identity), "%s", identity);
    memcpy(g_cli.key, key, len);
    g_cli.len = len;
    g_cli.early = 0;
}

static unsigned int cli_psk12(SSL *ssl, const char *hint, char *identity,
                              unsigned int max_identity_len, unsigned char *psk,
                              unsigned int max_psk_len)
{
    (void)ssl;
    (void)hint;
    if (strlen(g_cli.identity) + 1 > max_identity_len || g_cli.len > max_psk_len)
        return 0;
    strcpy(identity, g_cli.identity);
    memcpy(psk, g_cli.key, g_cli.len);
    return (unsigned int)g_cli.len;
}

static int cli_psk13(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
                     SSL_SESSION **sess)
{
    static const unsigned char aes128gcm[2] = {0x13, 0x01};
    const SSL_CIPHER *c = SSL_CIPHER_find(ssl, aes128gcm);
    *sess = NULL;
    if (md != NULL && EVP_MD_get_type(md) != NID_sha256)
        return 1;
    SSL_SESSION *s = SSL_SESSION_new();
    if (s == NULL || !SSL_SESSION_set1_master_key(s, g_cli.key, g_cli.len) ||
        !SSL_SESSION_set_cipher(s, c) || !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) ||
        !SSL_SESSION_set_max_early_data(s, g_cli.early)) {
        SSL_SESSION_free(s);
        return 0;
    }
    *id = (const unsigned char *)g_cli.identity;
    *idlen = strlen(g_cli.identity);
    *sess = s;
    return 1;
}

enum kind { TLS12_PSK, TLS12_ECDHE_PSK, TLS13_PSK, DTLS12_PSK };

static SSL *client_for(SSL_CTX **cctx, enum kind k)
{
    *cctx = SSL_CTX_new(k == DTLS12_PSK ? DTLS_client_method() : TLS_client_method());
    SSL_CTX *c = *cctx;
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    switch (k) {
    case TLS12_PSK:
        SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
        SSL_CTX_set_cipher_list(c, "PSK-AES128-GCM-SHA256");
        SSL_CTX_set_psk_client_callback(c, cli_psk12);
        break;
    case TLS12_ECDHE_PSK:
        SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
        SSL_CTX_set_cipher_list(c, "ECDHE-PSK-AES128-CBC-SHA256");
        SSL_CTX_set_psk_client_callback(c, cli_psk12);
        break;
    case TLS13_PSK:
        SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
        SSL_CTX_set_psk_use_session_callback(c, cli_psk13);
        break;
    case DTLS12_PSK:
        SSL_CTX_set_cipher_list(c, "PSK-AES128-CCM8");
        SSL_CTX_set_psk_client_callback(c, cli_psk12);
        SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU);
        break;
    }
    SSL *s = SSL_new(c);
    if (k == DTLS12_PSK)
        DTLS_set_link_mtu(s, 1200);
    return s;
}

/* One handshake of kind k with the current client credential. */
static void handshake(enum kind k, struct hs_result *res, SSL **srv_out)
{
    SSL_CTX *cctx;
    SSL *cli = client_for(&cctx, k);
    SSL *srv = SSL_new(k == DTLS12_PSK ? G->dtls : G->tls);
    assert_non_null(srv);
    assert_int_equal(st_gw_auth_attach(srv, G->reg.r), 0);
    if (k == DTLS12_PSK) {
        SSL_set_options(srv, SSL_OP_NO_QUERY_MTU);
        DTLS_set_link_mtu(srv, 1200);
    }
    run_handshake(srv, cli, res);
    SSL_free(cli);
    SSL_CTX_free(cctx);
    if (srv_out)
        *srv_out = srv;
    else
        SSL_free(srv);
}

static void expect_ok(enum kind k, const char *device, const char *group, int method,
                      const char *cipher_part)
{
    struct hs_result res;
    SSL *srv;
    handshake(k, &res, &srv);
    if (!res.server_ok || res.reason != ST_GW_AUTH_OK)
        print_error("%s: server %d reason %s err %s\n", g_cli.identity, res.server_ok,
                    st_gw_auth_reason_name(res.reason), res.server_err);
    assert_true(res.server_ok && res.client_ok && res.data_ok);
    assert_int_equal(res.reason, ST_GW_AUTH_OK);
    const struct st_gw_auth *who = st_gw_auth_get(srv);
    assert_non_null(who);
    assert_int_equal(who->method, method);
    assert_int_equal(who->reason, ST_GW_AUTH_OK);
    assert_string_equal(who->device_id, device);
    assert_string_equal(who->group, group);
    assert_string_equal(who->tenant, "acme");
    assert_string_equal(who->psk_identity, g_cli.identity);
    assert_string_equal(who->subject_cn, "");
    if (cipher_part != NULL && strstr(res.cipher, cipher_part) == NULL)
        fail_msg("cipher %s, expected %s", res.cipher, cipher_part);
    SSL_free(srv);
}

/* Refused: no application data, the reason expected, and the server-side
 * error is the generic one a wrong key gives (never "unknown psk identity"). */
static void expect_refused(enum kind k, int reason)
{
    struct hs_result res;
    SSL *srv;
    handshake(k, &res, &srv);
    if (res.reason != reason)
        print_error("%s: reason %s (err %s)\n", g_cli.identity, st_gw_auth_reason_name(res.reason),
                    res.server_err);
    assert_false(res.server_ok);
    assert_false(res.data_ok);
    assert_int_equal(res.reason, reason);
    assert_null(strstr(res.server_err, "unknown psk identity"));
    const struct st_gw_auth *who = st_gw_auth_get(srv);
    assert_int_equal(who->method, ST_GW_METHOD_NONE);
    assert_int_equal(who->reason, reason);
    SSL_free(srv);
}

static void test_stored_psk_accepted(void **state)
{
    (void)state;
    client_set("device-0001", k_psk, 32);
    expect_ok(TLS12_PSK, "dev-1", "fleet", ST_GW_METHOD_PSK, "PSK-AES128-GCM");
    expect_ok(TLS12_ECDHE_PSK, "dev-1", "fleet", ST_GW_METHOD_PSK, "ECDHE-PSK");
    expect_ok(TLS13_PSK, "dev-1", "fleet", ST_GW_METHOD_PSK, "TLS_AES_128_GCM_SHA256");
    expect_ok(DTLS12_PSK, "dev-1", "fleet", ST_GW_METHOD_PSK, "PSK-AES128-CCM8");
    client_set("device-0016", k_psk16, 16);
    expect_ok(TLS12_PSK, "dev-16", "fleet", ST_GW_METHOD_PSK, NULL);
    expect_ok(TLS13_PSK, "dev-16", "fleet", ST_GW_METHOD_PSK, NULL);
}

/* TLS 1.3 PSK went through (EC)DHE (psk_dhe_ke): a key-exchange group. */
static void test_tls13_psk_dhe(void **state)
{
    (void)state;
    struct hs_result res;
    client_set("device-0001", k_psk, 32);
    handshake(TLS13_PSK, &res, NULL);
    assert_true(res.server_ok);
    assert_int_equal(res.version, TLS1_3_VERSION);
    assert_int_not_equal(res.server_group, 0);
}

static void test_batch_accepted(void **state)
{
    (void)state;
    uint8_t key[32];
    unsigned int n = 0;
    /* HMAC-SHA-256(BMK, identity), computed here with OpenSSL directly. */
    const char *id = "MeterCo:b2:" ICCID_OTHER; /* group without allow-list */
    HMAC(EVP_sha256(), k_bmk, 32, (const unsigned char *)id, strlen(id), key, &n);
    client_set(id, key, 32);
    expect_ok(TLS12_PSK, ICCID_OTHER, "meters-hmac", ST_GW_METHOD_BATCH, NULL);
    expect_ok(TLS13_PSK, ICCID_OTHER, "meters-hmac", ST_GW_METHOD_BATCH, NULL);
    /* HKDF-SHA-256 group with an allow-list. */
    id = "MeterCo:b1:" ICCID_OK;
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HKDF_SHA256, k_bmk, 32, (const uint8_t *)id,
                                        strlen(id), key, 32),
                     0);
    client_set(id, key, 32);
    expect_ok(TLS12_ECDHE_PSK, ICCID_OK, "meters-hkdf", ST_GW_METHOD_BATCH, "ECDHE-PSK");
    expect_ok(DTLS12_PSK, ICCID_OK, "meters-hkdf", ST_GW_METHOD_BATCH, NULL);
    const struct st_gw_auth *who;
    struct hs_result res;
    SSL *srv;
    handshake(TLS13_PSK, &res, &srv);
    who = st_gw_auth_get(srv);
    assert_int_equal(res.reason, ST_GW_AUTH_OK);
    assert_string_equal(who->iccid, ICCID_OK);
    SSL_free(srv);
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t wrong[32], key[32];
    memset(wrong, 0x77, sizeof(wrong));
    /* Wrong key of a known identity: bad-key, TLS 1.2 (Finished), TLS 1.3 (binder), DTLS. */
    client_set("device-0001", wrong, 32);
    expect_refused(TLS12_PSK, ST_GW_AUTH_BAD_KEY);
    expect_refused(TLS13_PSK, ST_GW_AUTH_BAD_KEY);
    expect_refused(DTLS12_PSK, ST_GW_AUTH_BAD_KEY);
    /* Unknown identity: its own reason, same failure on the wire. */
    client_set("nobody-here", k_psk, 32);
    expect_refused(TLS12_PSK, ST_GW_AUTH_UNKNOWN_IDENTITY);
    expect_refused(TLS13_PSK, ST_GW_AUTH_UNKNOWN_IDENTITY);
    /* Disabled device; group without PSK. */
    client_set("device-0002", k_psk, 32);
    expect_refused(TLS12_ECDHE_PSK, ST_GW_AUTH_DISABLED);
    client_set("device-0004", k_psk, 32);
    expect_refused(TLS12_PSK, ST_GW_AUTH_METHOD);
    /* Batch: ICCID not on the allow-list, bad Luhn, wrong BMK. */
    const char *id = "MeterCo:b1:" ICCID_OTHER;
    st_gw_batch_derive(ST_GW_KDF_HKDF_SHA256, k_bmk, 32, (const uint8_t *)id, strlen(id), key, 32);
    client_set(id, key, 32);
    expect_refused(TLS12_PSK, ST_GW_AUTH_NOT_ALLOWED);
    id = "MeterCo:b1:" ICCID_BADLUHN;
    st_gw_batch_derive(ST_GW_KDF_HKDF_SHA256, k_bmk, 32, (const uint8_t *)id, strlen(id), key, 32);
    client_set(id, key, 32);
    expect_refused(TLS13_PSK, ST_GW_AUTH_BAD_BATCH_ID);
    id = "MeterCo:b1:" ICCID_OK;
    st_gw_batch_derive(ST_GW_KDF_HKDF_SHA256, wrong, 32, (const uint8_t *)id, strlen(id), key, 32);
    client_set(id, key, 32);
    expect_refused(TLS12_PSK, ST_GW_AUTH_BAD_KEY);
    /* Unknown batch group. */
    client_set("OtherCo:b1:" ICCID_OK, key, 32);
    expect_refused(TLS12_PSK, ST_GW_AUTH_UNKNOWN_IDENTITY);
}

/* Revoked through another registry handle after the context was built:
 * the next handshake sees it. */
static void test_revoked_via_other_handle(void **state)
{
    (void)state;
    client_set("device-0003", k_psk, 32);
    expect_ok(TLS13_PSK, "dev-3", "fleet", ST_GW_METHOD_PSK, NULL);
    assert_int_equal(st_reg_device_set_state(G->reg.r2, "acme", "dev-3", ST_REG_REVOKED, 0, NULL),
                     ST_REG_OK);
    expect_refused(TLS13_PSK, ST_GW_AUTH_REVOKED);
    expect_refused(TLS12_PSK, ST_GW_AUTH_REVOKED);
    assert_int_equal(st_reg_device_set_state(G->reg.r2, "acme", "dev-3", ST_REG_ENABLED, 0, NULL),
                     ST_REG_OK);
    expect_ok(TLS12_PSK, "dev-3", "fleet", ST_GW_METHOD_PSK, NULL);
}

/* A client that tries 0-RTT: early data rejected, the handshake goes on in
 * 1-RTT and the early bytes never reach the server application. */
static void test_no_0rtt(void **state)
{
    (void)state;
    SSL_CTX *cctx;
    client_set("device-0001", k_psk, 32);
    g_cli.early = 16384;
    SSL *cli = client_for(&cctx, TLS13_PSK);
    SSL *srv = SSL_new(G->tls);
    BIO *bs, *bc;
    size_t w = 0;
    char buf[32];
    assert_int_equal(st_gw_auth_attach(srv, G->reg.r), 0);
    BIO_new_bio_pair(&bs, 0, &bc, 0);
    SSL_set_bio(srv, bs, bs);
    SSL_set_bio(cli, bc, bc);
    SSL_set_accept_state(srv);
    SSL_set_connect_state(cli);
    assert_int_equal(SSL_write_early_data(cli, "early", 5, &w), 1);
    int sdone = 0, cdone = 0;
    for (int i = 0; i < 50 && !(sdone && cdone); i++) {
        if (!sdone)
            sdone = SSL_do_handshake(srv) == 1;
        if (!cdone)
            cdone = SSL_do_handshake(cli) == 1;
    }
    assert_true(sdone && cdone);
    assert_int_equal(SSL_get_early_data_status(cli), SSL_EARLY_DATA_REJECTED);
    assert_int_not_equal(SSL_get_early_data_status(srv), SSL_EARLY_DATA_ACCEPTED);
    assert_int_equal(SSL_write(cli, "ping", 4), 4);
    assert_int_equal(SSL_read(srv, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(st_gw_auth_finish(srv, 1, NULL, "test-peer", 0.001), ST_GW_AUTH_OK);
    SSL_free(cli);
    SSL_free(srv);
    SSL_CTX_free(cctx);
    g_cli.early = 0;
}

/* GnuTLS client, TLS 1.3 PSK with psk_ke only (no (EC)DHE): refused when
 * psk_dhe_only (the default), accepted when it is off (the control that
 * shows the client really connects). Also a second, independent TLS stack. */
static int gnutls_handshake_with(SSL_CTX *sctx, const char *prio, const char *identity,
                                 const uint8_t *key, size_t klen, int *reason)
{
    int sv[2];
    gnutls_session_t gs;
    gnutls_psk_client_credentials_t cred;
    gnutls_datum_t k = {(unsigned char *)key, (unsigned int)klen};
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    SSL *srv = SSL_new(sctx);
    assert_int_equal(st_gw_auth_attach(srv, G->reg.r), 0);
    SSL_set_fd(srv, sv[0]);
    SSL_set_accept_state(srv);
    assert_int_equal(gnutls_init(&gs, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
    assert_int_equal(gnutls_priority_set_direct(gs, prio, NULL), 0);
    assert_int_equal(gnutls_psk_allocate_client_credentials(&cred), 0);
    assert_int_equal(gnutls_psk_set_client_credentials(cred, identity, &k, GNUTLS_PSK_KEY_RAW), 0);
    gnutls_credentials_set(gs, GNUTLS_CRD_PSK, cred);
    gnutls_transport_set_int(gs, sv[1]);
    int sdone = 0, sfail = 0, cdone = 0, cfail = 0;
    char err[200] = "";
    for (int i = 0; i < 400 && !(sdone && cdone) && !sfail && !cfail; i++) {
        if (!cdone) {
            int rc = gnutls_handshake(gs);
            if (rc == 0)
                cdone = 1;
            else if (gnutls_error_is_fatal(rc))
                cfail = 1;
        }
        if (!sdone) {
            int rc = SSL_do_handshake(srv);
            if (rc == 1) {
                sdone = 1;
            } else {
                int e = SSL_get_error(srv, rc);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    sfail = 1;
                    first_err(err, sizeof(err));
                }
            }
        }
    }
    if (cfail && !sdone && !sfail) {
        for (int i = 0; i < 20 && !sfail; i++)
            if (SSL_do_handshake(srv) != 1)
                sfail = SSL_get_error(srv, -1) != SSL_ERROR_WANT_READ || i == 19;
        first_err(err, sizeof(err));
    }
    int ok = sdone && cdone && !sfail;
    if (ok) {
        char buf[8];
        ok = gnutls_record_send(gs, "ping", 4) == 4;
        int n = -1;
        for (int i = 0; i < 50 && n <= 0; i++)
            n = SSL_read(srv, buf, sizeof(buf));
        ok = ok && n == 4;
    }
    *reason = st_gw_auth_finish(srv, ok, ok ? NULL : (err[0] ? err : "protocol"), "gnutls", 0.001);
    gnutls_deinit(gs);
    gnutls_psk_free_client_credentials(cred);
    SSL_free(srv);
    close(sv[0]);
    close(sv[1]);
    return ok;
}

static void test_gnutls_psk_ke_only(void **state)
{
    (void)state;
    int reason;
    static const char psk_ke[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+PSK";
    static const char psk_dhe[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK";
    /* psk_dhe_ke from GnuTLS: accepted (interop). */
    assert_int_equal(gnutls_handshake_with(G->tls, psk_dhe, "device-0001", k_psk, 32, &reason), 1);
    assert_int_equal(reason, ST_GW_AUTH_OK);
    /* psk_ke only: refused under psk_dhe_only. */
    assert_int_equal(gnutls_handshake_with(G->tls, psk_ke, "device-0001", k_psk, 32, &reason), 0);
    assert_int_not_equal(reason, ST_GW_AUTH_OK);
    /* Control: the same client is accepted by a context with psk_dhe_only off. */
    struct st_gw_config cfg;
    char err[256];
    test_config(&cfg, NULL, NULL);
    cfg.psk_dhe_only = 0;
    struct st_gw_auth_ctx *a = st_gw_auth_ctx_new(&cfg, NULL, err, sizeof(err));
    assert_non_null(a);
    SSL_CTX *c = st_gw_auth_ssl_ctx(a, 0, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(gnutls_handshake_with(c, psk_ke, "device-0001", k_psk, 32, &reason), 1);
    assert_int_equal(reason, ST_GW_AUTH_OK);
    SSL_CTX_free(c);
    st_gw_auth_ctx_free(a);
}

/* Every outcome above was counted per method and result. */
static void test_metrics_counted(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(st_gw_metrics_render(G->m, &out, &len), 0);
    assert_non_null(strstr(out, "simtrust_gw_handshakes_total{method=\"psk\",result=\"ok\"} "));
    assert_non_null(
        strstr(out, "simtrust_gw_handshakes_total{method=\"batch-psk\",result=\"ok\"} "));
    assert_non_null(
        strstr(out, "simtrust_gw_handshakes_total{method=\"psk\",result=\"bad-key\"} "));
    assert_non_null(strstr(out, "result=\"unknown-identity\"} "));
    assert_non_null(
        strstr(out, "simtrust_gw_handshakes_total{method=\"batch-psk\",result=\"not-on-allow-list\"} 1\n"));
    assert_non_null(strstr(out, "simtrust_gw_handshakes_total{method=\"psk\",result=\"revoked\"} 2\n"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stored_psk_accepted),
        cmocka_unit_test(test_tls13_psk_dhe),
        cmocka_unit_test(test_batch_accepted),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_revoked_via_other_handle),
        cmocka_unit_test(test_no_0rtt),
        cmocka_unit_test(test_gnutls_psk_ke_only),
        cmocka_unit_test(test_metrics_counted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
