/*
 * X.509 device authentication inside real OpenSSL handshakes (IoT.04
 * scenarios 1, 2, 6; M1, M2, M3): per-group trust anchors, device binding by
 * the SHA-256 of the SubjectPublicKeyInfo, refusal during the handshake of
 * unknown, cross-group, disabled, revoked (through another registry handle
 * after the context was built), expired certificates and of groups without
 * X.509; a client without any credential; anchors changed at run time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_gw_auth_common.h"

struct cred {
    EVP_PKEY *key;
    X509 *cert;
};

struct fx {
    struct reg_fx reg;
    struct st_gw_metrics *m;
    struct st_gw_auth_ctx *a;
    SSL_CTX *tls;
    struct cred ca_a, ca_b, dev_a, dev_r, unknown, cross, disabled, expired, nometh;
    char *pem_a, *pem_b;
};

static struct fx *G;

static void issue(struct cred *c, const char *cn, struct cred *ca, long nb, long na)
{
    c->key = new_key();
    c->cert = make_cert(cn, c->key, ca ? ca->cert : NULL, ca ? ca->key : NULL, ca == NULL, nb, na);
    assert_non_null(c->cert);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct st_gw_config cfg;
    char err[256], cert[160], key[160];
    st_log_init("test_gw_auth_x509", ST_LOG_INFO);
    assert_int_equal(reg_fx_open(&f->reg), 0);
    issue(&f->ca_a, "Group A CA", NULL, -1, 365);
    issue(&f->ca_b, "Group B CA", NULL, -1, 365);
    issue(&f->dev_a, "device-a", &f->ca_a, -1, 30);
    issue(&f->dev_r, "device-r", &f->ca_a, -1, 30);
    issue(&f->unknown, "device-unknown", &f->ca_a, -1, 30);
    issue(&f->cross, "device-cross", &f->ca_a, -1, 30);
    issue(&f->disabled, "device-disabled", &f->ca_a, -1, 30);
    issue(&f->expired, "device-expired", &f->ca_a, -30, -1);
    issue(&f->nometh, "device-psk-group", &f->ca_a, -1, 30);
    f->pem_a = cert_pem(f->ca_a.cert);
    f->pem_b = cert_pem(f->ca_b.cert);
    struct st_reg *r = f->reg.r;
    assert_int_equal(put_group(r, "group-a", ST_REG_AUTH_X509 | ST_REG_AUTH_PSK, f->pem_a), 0);
    assert_int_equal(put_group(r, "group-b", ST_REG_AUTH_X509, f->pem_b), 0);
    assert_int_equal(put_group(r, "psk-only", ST_REG_AUTH_PSK, f->pem_a), 0);
    assert_int_equal(put_cert_device(r, "dev-a", "group-a", f->dev_a.cert, ST_REG_ENABLED), 0);
    assert_int_equal(put_cert_device(r, "dev-r", "group-a", f->dev_r.cert, ST_REG_ENABLED), 0);
    assert_int_equal(put_cert_device(r, "dev-x", "group-b", f->cross.cert, ST_REG_ENABLED), 0);
    assert_int_equal(put_cert_device(r, "dev-d", "group-a", f->disabled.cert, ST_REG_DISABLED), 0);
    assert_int_equal(put_cert_device(r, "dev-e", "group-a", f->expired.cert, ST_REG_ENABLED), 0);
    assert_int_equal(put_cert_device(r, "dev-p", "psk-only", f->nometh.cert, ST_REG_ENABLED), 0);
    assert_int_equal(write_server_identity(f->reg.dir, cert, sizeof(cert), key, sizeof(key)), 0);
    f->m = st_gw_metrics_new();
    test_config(&cfg, cert, key);
    f->a = st_gw_auth_ctx_new(&cfg, f->m, err, sizeof(err));
    if (f->a == NULL)
        print_error("ctx: %s\n", err);
    assert_non_null(f->a);
    f->tls = st_gw_auth_ssl_ctx(f->a, 0, err, sizeof(err));
    assert_non_null(f->tls);
    unlink(cert);
    unlink(key);
    G = f;
    *state = f;
    return 0;
}

static void cred_free(struct cred *c)
{
    X509_free(c->cert);
    EVP_PKEY_free(c->key);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    SSL_CTX_free(f->tls);
    st_gw_auth_ctx_free(f->a);
    st_gw_metrics_free(f->m);
    struct cred *all[] = {&f->ca_a,  &f->ca_b,     &f->dev_a,   &f->dev_r,  &f->unknown,
                          &f->cross, &f->disabled, &f->expired, &f->nometh};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        cred_free(all[i]);
    free(f->pem_a);
    free(f->pem_b);
    reg_fx_close(&f->reg);
    free(f);
    return 0;
}

/* Handshake with client credential c (NULL: none) at TLS version v. */
static SSL *handshake(const struct cred *c, int v, struct hs_result *res)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(cctx, v);
    SSL_CTX_set_max_proto_version(cctx, v);
    if (c != NULL) {
        assert_int_equal(SSL_CTX_use_certificate(cctx, c->cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey(cctx, c->key), 1);
    }
    SSL *cli = SSL_new(cctx);
    SSL *srv = SSL_new(G->tls);
    assert_int_equal(st_gw_auth_attach(srv, G->reg.r), 0);
    SSL_set_tlsext_host_name(cli, "gw.example");
    run_handshake(srv, cli, res);
    SSL_free(cli);
    SSL_CTX_free(cctx);
    return srv;
}

static void expect_ok(const struct cred *c, int v, const char *device, const char *group,
                      const char *cn)
{
    struct hs_result res;
    SSL *srv = handshake(c, v, &res);
    if (res.reason != ST_GW_AUTH_OK)
        print_error("%s: %s (%s)\n", cn, st_gw_auth_reason_name(res.reason), res.server_err);
    assert_true(res.server_ok && res.client_ok && res.data_ok);
    assert_int_equal(res.version, v);
    const struct st_gw_auth *who = st_gw_auth_get(srv);
    assert_int_equal(who->method, ST_GW_METHOD_X509);
    assert_int_equal(who->reason, ST_GW_AUTH_OK);
    assert_string_equal(who->device_id, device);
    assert_string_equal(who->group, group);
    assert_string_equal(who->tenant, "acme");
    assert_string_equal(who->subject_cn, cn);
    assert_string_equal(who->sni, "gw.example");
    assert_string_equal(who->psk_identity, "");
    SSL_free(srv);
}

static void expect_refused(const struct cred *c, int v, int reason)
{
    struct hs_result res;
    SSL *srv = handshake(c, v, &res);
    if (res.reason != reason)
        print_error("reason %s (%s)\n", st_gw_auth_reason_name(res.reason), res.server_err);
    assert_false(res.server_ok);
    assert_false(res.data_ok);
    assert_int_equal(res.reason, reason);
    const struct st_gw_auth *who = st_gw_auth_get(srv);
    assert_int_equal(who->method, ST_GW_METHOD_NONE);
    SSL_free(srv);
}

static void test_x509_accepted(void **state)
{
    (void)state;
    expect_ok(&G->dev_a, TLS1_3_VERSION, "dev-a", "group-a", "device-a");
    expect_ok(&G->dev_a, TLS1_2_VERSION, "dev-a", "group-a", "device-a");
}

static void test_x509_refused(void **state)
{
    (void)state;
    for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
        expect_refused(&G->unknown, v, ST_GW_AUTH_CERT_UNKNOWN);
        /* Valid under group A's CA, bound to a device of group B. */
        expect_refused(&G->cross, v, ST_GW_AUTH_CERT_UNTRUSTED);
        expect_refused(&G->disabled, v, ST_GW_AUTH_DISABLED);
        expect_refused(&G->expired, v, ST_GW_AUTH_CERT_EXPIRED);
        expect_refused(&G->nometh, v, ST_GW_AUTH_METHOD);
        expect_refused(NULL, v, ST_GW_AUTH_NO_CREDENTIAL);
    }
}

static void test_revoked_via_other_handle(void **state)
{
    (void)state;
    expect_ok(&G->dev_r, TLS1_3_VERSION, "dev-r", "group-a", "device-r");
    assert_int_equal(st_reg_device_set_state(G->reg.r2, "acme", "dev-r", ST_REG_REVOKED, 0, NULL),
                     ST_REG_OK);
    expect_refused(&G->dev_r, TLS1_3_VERSION, ST_GW_AUTH_REVOKED);
    expect_refused(&G->dev_r, TLS1_2_VERSION, ST_GW_AUTH_REVOKED);
}

/* Group B's anchors changed through the other handle (version bump): the
 * cached store is not used any more; and changed back. */
static void test_anchor_change(void **state)
{
    (void)state;
    char *both = malloc(strlen(G->pem_a) + strlen(G->pem_b) + 1);
    strcpy(both, G->pem_b);
    strcat(both, G->pem_a);
    expect_refused(&G->cross, TLS1_3_VERSION, ST_GW_AUTH_CERT_UNTRUSTED);
    assert_int_equal(put_group(G->reg.r2, "group-b", ST_REG_AUTH_X509, both), ST_REG_OK);
    expect_ok(&G->cross, TLS1_3_VERSION, "dev-x", "group-b", "device-cross");
    assert_int_equal(put_group(G->reg.r2, "group-b", ST_REG_AUTH_X509, G->pem_b), ST_REG_OK);
    expect_refused(&G->cross, TLS1_2_VERSION, ST_GW_AUTH_CERT_UNTRUSTED);
    /* X.509 switched off for group A. */
    assert_int_equal(put_group(G->reg.r2, "group-a", ST_REG_AUTH_PSK, G->pem_a), ST_REG_OK);
    expect_refused(&G->dev_a, TLS1_3_VERSION, ST_GW_AUTH_METHOD);
    assert_int_equal(put_group(G->reg.r2, "group-a", ST_REG_AUTH_X509, G->pem_a), ST_REG_OK);
    expect_ok(&G->dev_a, TLS1_3_VERSION, "dev-a", "group-a", "device-a");
    free(both);
}

static void test_metrics_counted(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(st_gw_metrics_render(G->m, &out, &len), 0);
    assert_non_null(strstr(out, "simtrust_gw_handshakes_total{method=\"x509\",result=\"ok\"} "));
    assert_non_null(
        strstr(out, "simtrust_gw_handshakes_total{method=\"x509\",result=\"cert-unknown\"} 2\n"));
    assert_non_null(
        strstr(out, "simtrust_gw_handshakes_total{method=\"x509\",result=\"cert-expired\"} 2\n"));
    assert_non_null(
        strstr(out, "simtrust_gw_handshakes_total{method=\"none\",result=\"no-credential\"} 2\n"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x509_accepted),
        cmocka_unit_test(test_x509_refused),
        cmocka_unit_test(test_revoked_via_other_handle),
        cmocka_unit_test(test_anchor_change),
        cmocka_unit_test(test_metrics_counted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
