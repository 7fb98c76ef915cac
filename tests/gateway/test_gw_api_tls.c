/*
 * The REST API over HTTPS (libmicrohttpd + GnuTLS, MHD_USE_TLS with the
 * certificate and key from api_cert/api_key): a certificate generated here,
 * libcurl verifying it; plain HTTP to the HTTPS port gets no API answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_gw_api_support.h"

static void test_https(void **state)
{
    struct api_fx *f = api_fx_start(1);
    struct resp r;
    (void)state;
    assert_non_null(strstr(f->base, "https://"));
    assert_int_equal(req(f, "GET", "/healthz", NULL, NULL, NULL, &r), 200);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/groups/g", TOK_A_ADMIN, "{\"auth_methods\":[\"psk\"]}",
                         NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/devices/d", TOK_A_ADMIN, "{\"group\":\"g\"}", NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/devices/d/psk", TOK_A_ADMIN, NULL, NULL, &r), 200);
    assert_int_equal(strlen(json_string_value(json_object_get(r.json, "psk"))), 64);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/devices/d", TOK_A_READ, NULL, NULL, &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "has_psk")));
    resp_free(&r);

    /* Plain HTTP to the HTTPS port: no HTTP response. */
    char https_base[64];
    snprintf(https_base, sizeof(https_base), "%s", f->base);
    snprintf(f->base, sizeof(f->base), "http://%s", https_base + strlen("https://"));
    f->https = 0;
    http(f, "GET", "/healthz", NULL, NULL, NULL, 0, NULL, NULL, &r);
    assert_true(r.status == 0 || r.status >= 400);
    assert_int_not_equal(r.status, 200);
    resp_free(&r);
    snprintf(f->base, sizeof(f->base), "%s", https_base);
    f->https = 1;
    /* Still serving after the bad client. */
    assert_int_equal(req(f, "GET", "/healthz", NULL, NULL, NULL, &r), 200);
    resp_free(&r);
    api_fx_stop(f);
}

static void test_start_errors(void **state)
{
    struct api_fx *f = api_fx_start(0);
    struct st_gw_config c = f->cfg;
    char err[256];
    (void)state;
    /* HTTPS without a readable certificate. */
    c.api_plain_http = 0;
    snprintf(c.api_cert, sizeof(c.api_cert), "%s/missing.pem", f->dir);
    snprintf(c.api_key, sizeof(c.api_key), "%s/missing.key", f->dir);
    c.metrics_listen[0] = '\0';
    assert_null(st_gw_api_start(&c, f->kek, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "api_cert"));
    /* A broken tokens file. */
    c = f->cfg;
    c.metrics_listen[0] = '\0';
    snprintf(c.api_tokens, sizeof(c.api_tokens), "%s/bad-tokens", f->dir);
    write_file(c.api_tokens, "0000 t read\n", 0600);
    assert_null(st_gw_api_start(&c, f->kek, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "bad-tokens:1:"));
    /* Metrics only, without metrics: /metrics answers 404. */
    c = f->cfg;
    c.api_listen[0] = '\0';
    struct st_gw_api *a = st_gw_api_start(&c, f->kek, NULL, err, sizeof(err));
    assert_non_null(a);
    assert_int_equal(st_gw_api_port(a), 0);
    assert_int_not_equal(st_gw_api_metrics_port(a), 0);
    struct resp r;
    char base[64];
    snprintf(base, sizeof(base), "%s", f->base);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", st_gw_api_metrics_port(a));
    http(f, "GET", "/metrics", NULL, NULL, NULL, 0, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    snprintf(f->base, sizeof(f->base), "%s", base);
    st_gw_api_stop(a);
    api_fx_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https),
        cmocka_unit_test(test_start_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
