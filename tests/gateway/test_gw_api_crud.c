/*
 * REST API (interface 4, server side; IoT.04 3.3.2.2.1): a real API server on
 * port 0 with a SQLite registry, driven over HTTP by libcurl. Groups and
 * devices CRUD with ETags and conditional requests, pagination, tenant
 * isolation, roles, request validation, the OpenAPI document, metrics and
 * token reload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_metrics.h"
#include "test_gw_api_support.h"

static int setup(void **state)
{
    *state = api_fx_start(0);
    return 0;
}

static int teardown(void **state)
{
    api_fx_stop(*state);
    return 0;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void put_group(struct api_fx *f, const char *tok, const char *id, const char *body)
{
    struct resp r;
    char path[128];
    snprintf(path, sizeof(path), "/v1/groups/%s", id);
    assert_int_equal(req(f, "PUT", path, tok, body, NULL, &r), 201);
    resp_free(&r);
}

static void test_health_openapi_routing(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    assert_int_equal(req(f, "GET", "/healthz", NULL, NULL, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "ok");
    resp_free(&r);

    /* The served document is docs/openapi/gateway-api.yaml byte for byte. */
    assert_int_equal(req(f, "GET", "/v1/openapi.yaml", NULL, NULL, NULL, &r), 200);
    assert_string_equal(r.content_type, "application/yaml");
    FILE *fp = fopen(ST_SOURCE_DIR "/docs/openapi/gateway-api.yaml", "rb");
    assert_non_null(fp);
    char *doc = malloc(1 << 20);
    size_t n = fread(doc, 1, 1 << 20, fp);
    fclose(fp);
    if (r.len != n || memcmp(r.body, doc, n) != 0)
        fail_msg("served OpenAPI differs from the YAML: run python3 docs/openapi/embed.py");
    assert_non_null(strstr(r.body, "openapi: 3.0"));
    free(doc);
    resp_free(&r);

    assert_int_equal(req(f, "GET", "/v1/nothing", TOK_A_ADMIN, NULL, NULL, &r), 404);
    assert_string_equal(err_code(&r), "not-found");
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1//groups", TOK_A_ADMIN, NULL, NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/groups", TOK_A_ADMIN, "{}", NULL, &r), 405);
    assert_string_equal(r.allow, "GET, HEAD");
    assert_string_equal(err_code(&r), "method-not-allowed");
    resp_free(&r);
}

static void test_auth_and_roles(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    assert_int_equal(req(f, "GET", "/v1/groups", NULL, NULL, NULL, &r), 401);
    assert_string_equal(err_code(&r), "unauthorized");
    assert_non_null(strstr(r.www_auth, "Bearer"));
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups", "not-a-token", NULL, NULL, &r), 401);
    assert_string_equal(err_msg(&r), "invalid token");
    resp_free(&r);
    /* A token's hash in the Authorization header is not the token. */
    http(f, "GET", "/v1/groups", NULL, NULL, NULL, 0, "Authorization: Basic dXNlcjpwdw==", NULL,
         &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    http(f, "GET", "/v1/groups", NULL, NULL, NULL, 0,
         "Authorization: bearer " TOK_A_READ, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* Roles: read cannot write, write cannot get PSK data, ca cannot read. */
    assert_int_equal(req(f, "PUT", "/v1/groups/g1", TOK_A_READ, "{\"auth_methods\":[\"psk\"]}",
                         NULL, &r),
                     403);
    assert_string_equal(err_code(&r), "forbidden");
    assert_non_null(strstr(err_msg(&r), "write"));
    resp_free(&r);
    put_group(f, TOK_A_WRITE, "g1", "{\"auth_methods\":[\"psk\"]}");
    assert_int_equal(req(f, "PUT", "/v1/devices/d1", TOK_A_WRITE, "{\"group\":\"g1\"}", NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/devices/d1/psk", TOK_A_WRITE, NULL, NULL, &r), 403);
    assert_non_null(strstr(err_msg(&r), "psk-data"));
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/devices/d1", TOK_A_CA, NULL, NULL, &r), 403);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/groups/g1/import", TOK_A_WRITE, "[]", NULL, &r), 403);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/groups/g1/certificates", TOK_A_READ, "{}", NULL, &r),
                     403);
    resp_free(&r);
    /* admin has every role. */
    assert_int_equal(req(f, "GET", "/v1/devices/d1", TOK_A_ADMIN, NULL, NULL, &r), 200);
    resp_free(&r);
}

static void test_group_crud_etags(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    char etag1[64], etag2[64];
    const char *body = "{\"auth_methods\":[\"x509\",\"psk\"]}";
    assert_int_equal(req(f, "PUT", "/v1/groups/fleet", TOK_A_WRITE, body, NULL, &r), 201);
    assert_string_equal(r.etag, "\"v1\"");
    assert_string_equal(r.location, "/v1/groups/fleet");
    assert_string_equal(jstr(r.json, "id"), "fleet");
    snprintf(etag1, sizeof(etag1), "%s", r.etag);
    resp_free(&r);

    assert_int_equal(req(f, "GET", "/v1/groups/fleet", TOK_A_READ, NULL, NULL, &r), 200);
    assert_string_equal(r.etag, etag1);
    json_t *m = json_object_get(r.json, "auth_methods");
    assert_int_equal(json_array_size(m), 2);
    assert_string_equal(json_string_value(json_array_get(m, 0)), "x509");
    assert_string_equal(json_string_value(json_array_get(m, 1)), "psk");
    resp_free(&r);

    /* Conditional GET. */
    char h[96];
    snprintf(h, sizeof(h), "If-None-Match: %s", etag1);
    assert_int_equal(req(f, "GET", "/v1/groups/fleet", TOK_A_READ, NULL, h, &r), 304);
    resp_free(&r);

    /* Update with the current ETag, then the stale one fails. */
    snprintf(h, sizeof(h), "If-Match: %s", etag1);
    assert_int_equal(req(f, "PUT", "/v1/groups/fleet", TOK_A_WRITE,
                         "{\"id\":\"fleet\",\"auth_methods\":[\"x509\"]}", h, &r),
                     200);
    snprintf(etag2, sizeof(etag2), "%s", r.etag);
    assert_string_equal(etag2, "\"v2\"");
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/groups/fleet", TOK_A_WRITE, body, h, &r), 412);
    assert_string_equal(err_code(&r), "precondition-failed");
    resp_free(&r);
    /* Weak tags never satisfy If-Match. */
    assert_int_equal(req(f, "PUT", "/v1/groups/fleet", TOK_A_WRITE, body, "If-Match: W/\"v2\"", &r),
                     412);
    resp_free(&r);
    /* If-None-Match: * = create only. */
    assert_int_equal(req(f, "PUT", "/v1/groups/fleet", TOK_A_WRITE, body, "If-None-Match: *", &r),
                     412);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/groups/fleet2", TOK_A_WRITE, body, "If-None-Match: *", &r),
                     201);
    resp_free(&r);
    /* If-Match on a missing record. */
    assert_int_equal(req(f, "PUT", "/v1/groups/ghost", TOK_A_WRITE, body, "If-Match: *", &r), 412);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups/ghost", TOK_A_READ, NULL, NULL, &r), 404);
    resp_free(&r);

    /* List. */
    assert_int_equal(req(f, "GET", "/v1/groups", TOK_A_READ, NULL, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
    assert_true(json_is_null(json_object_get(r.json, "next")));
    resp_free(&r);

    /* Delete: stale ETag refused, current accepted. */
    assert_int_equal(req(f, "DELETE", "/v1/groups/fleet", TOK_A_WRITE, NULL, h, &r), 412);
    resp_free(&r);
    snprintf(h, sizeof(h), "If-Match: %s", etag2);
    assert_int_equal(req(f, "DELETE", "/v1/groups/fleet", TOK_A_WRITE, NULL, h, &r), 204);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups/fleet", TOK_A_READ, NULL, NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(req(f, "DELETE", "/v1/groups/fleet", TOK_A_WRITE, NULL, NULL, &r), 404);
    resp_free(&r);
}

static void test_batch_group_secret(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    const char *bmk = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char body[512];
    snprintf(body, sizeof(body),
             "{\"auth_methods\":[\"batch-psk\"],\"batch\":{\"vendor\":\"MeterCo\","
             "\"batch_id\":\"b1\",\"kdf\":\"hkdf-sha256\",\"bmk\":\"%s\",\"allowlist\":true}}",
             bmk);
    assert_int_equal(req(f, "PUT", "/v1/groups/meters", TOK_A_WRITE, body, NULL, &r), 201);
    assert_null(strstr(r.body, bmk));
    assert_null(strstr(r.body, "bmk"));
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups/meters", TOK_A_READ, NULL, NULL, &r), 200);
    assert_null(strstr(r.body, bmk));
    json_t *b = json_object_get(r.json, "batch");
    assert_string_equal(jstr(b, "vendor"), "MeterCo");
    assert_string_equal(jstr(b, "kdf"), "hkdf-sha256");
    assert_true(json_is_true(json_object_get(b, "allowlist")));
    assert_null(json_object_get(b, "bmk"));
    resp_free(&r);
    /* Round trip of the GET output keeps the stored BMK. */
    assert_int_equal(req(f, "PUT", "/v1/groups/meters", TOK_A_WRITE,
                         "{\"auth_methods\":[\"batch-psk\"],\"batch\":{\"vendor\":\"MeterCo\","
                         "\"batch_id\":\"b1\",\"kdf\":\"hkdf-sha256\",\"allowlist\":true}}",
                         NULL, &r),
                     200);
    resp_free(&r);
    /* A new batch group needs its BMK. */
    assert_int_equal(req(f, "PUT", "/v1/groups/meters2", TOK_A_WRITE,
                         "{\"auth_methods\":[\"batch-psk\"],\"batch\":{\"vendor\":\"MeterCo\","
                         "\"batch_id\":\"b2\"}}",
                         NULL, &r),
                     400);
    assert_non_null(strstr(err_msg(&r), "batch.bmk"));
    resp_free(&r);
    /* The same (vendor, batch) in another group is a conflict. */
    snprintf(body, sizeof(body),
             "{\"auth_methods\":[\"batch-psk\"],\"batch\":{\"vendor\":\"MeterCo\","
             "\"batch_id\":\"b1\",\"bmk\":\"%s\"}}",
             bmk);
    assert_int_equal(req(f, "PUT", "/v1/groups/meters3", TOK_A_WRITE, body, NULL, &r), 409);
    assert_string_equal(err_code(&r), "conflict");
    resp_free(&r);

    /* Allow-list of the batch group. */
    assert_int_equal(req(f, "PUT", "/v1/groups/meters/allowlist/89014103211118510720", TOK_A_WRITE,
                         NULL, NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/groups/meters/allowlist/89014103211118510720", TOK_A_WRITE,
                         NULL, NULL, &r),
                     200);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/groups/meters/allowlist/89014103211118510738", TOK_A_WRITE,
                         NULL, NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/groups/meters/allowlist/12ab", TOK_A_WRITE, NULL, NULL,
                         &r),
                     400);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups/meters/allowlist?limit=1", TOK_A_READ, NULL, NULL,
                         &r),
                     200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    assert_string_equal(jstr(r.json, "next"), "/v1/groups/meters/allowlist?offset=1&limit=1");
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups/meters/allowlist/89014103211118510738", TOK_A_READ,
                         NULL, NULL, &r),
                     200);
    resp_free(&r);
    assert_int_equal(req(f, "DELETE", "/v1/groups/meters/allowlist/89014103211118510738",
                         TOK_A_WRITE, NULL, NULL, &r),
                     204);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups/meters/allowlist/89014103211118510738", TOK_A_READ,
                         NULL, NULL, &r),
                     404);
    resp_free(&r);
    /* No allow-list on a non-batch group. */
    put_group(f, TOK_A_WRITE, "plain", "{\"auth_methods\":[\"psk\"]}");
    assert_int_equal(req(f, "GET", "/v1/groups/plain/allowlist", TOK_A_READ, NULL, NULL, &r), 409);
    resp_free(&r);
}

static char *json_escape_dup(const char *s)
{
    json_t *j = json_string(s);
    char *t = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return t;
}

static void test_device_crud(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    char body[8192], spki[65];
    put_group(f, TOK_A_WRITE, "fleet", "{\"auth_methods\":[\"x509\",\"psk\"]}");

    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = self_signed(k, "dev-1", 0, NULL);
    char *pem = pem_cert(x), *pem_json = json_escape_dup(pem);
    spki_hex(k, spki);
    const char *psk = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    snprintf(body, sizeof(body),
             "{\"group\":\"fleet\",\"iccid\":\"89014103211118510720\",\"certificate\":%s,"
             "\"psk_identity\":\"dev-1-id\",\"psk\":\"%s\"}",
             pem_json, psk);
    assert_int_equal(req(f, "PUT", "/v1/devices/dev-1", TOK_A_WRITE, body, NULL, &r), 201);
    assert_string_equal(r.etag, "\"v1\"");
    assert_string_equal(r.location, "/v1/devices/dev-1");
    assert_null(strstr(r.body, psk));
    resp_free(&r);

    assert_int_equal(req(f, "GET", "/v1/devices/dev-1", TOK_A_READ, NULL, NULL, &r), 200);
    assert_null(strstr(r.body, psk));
    assert_null(json_object_get(r.json, "psk"));
    assert_true(json_is_true(json_object_get(r.json, "has_psk")));
    assert_string_equal(jstr(r.json, "state"), "enabled");
    assert_string_equal(jstr(r.json, "group"), "fleet");
    assert_string_equal(jstr(r.json, "iccid"), "89014103211118510720");
    assert_string_equal(jstr(r.json, "psk_identity"), "dev-1-id");
    assert_string_equal(jstr(r.json, "spki_sha256"), spki);
    assert_string_equal(jstr(r.json, "certificate"), pem);
    /* The GET output PUT back unchanged keeps the PSK (write-only field absent). */
    char *round = json_dumps(r.json, 0);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/devices/dev-1", TOK_A_WRITE, round, "If-Match: \"v1\"", &r),
                     200);
    assert_true(json_is_true(json_object_get(r.json, "has_psk")));
    assert_string_equal(r.etag, "\"v2\"");
    resp_free(&r);
    free(round);

    /* PATCH (merge patch): state only; then remove the PSK and the certificate. */
    http(f, "PATCH", "/v1/devices/dev-1", TOK_A_WRITE, "application/merge-patch+json",
         "{\"state\":\"disabled\"}", 20, "If-Match: \"v2\"", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(r.json, "state"), "disabled");
    assert_string_equal(jstr(r.json, "spki_sha256"), spki);
    assert_true(json_is_true(json_object_get(r.json, "has_psk")));
    assert_string_equal(r.etag, "\"v3\"");
    resp_free(&r);
    assert_int_equal(req(f, "PATCH", "/v1/devices/dev-1", TOK_A_WRITE,
                         "{\"psk\":null,\"certificate\":null}", "If-Match: \"v2\"", &r),
                     412);
    resp_free(&r);
    assert_int_equal(req(f, "PATCH", "/v1/devices/dev-1", TOK_A_WRITE,
                         "{\"psk\":null,\"certificate\":null}", NULL, &r),
                     200);
    assert_true(json_is_false(json_object_get(r.json, "has_psk")));
    assert_null(json_object_get(r.json, "certificate"));
    assert_null(json_object_get(r.json, "spki_sha256"));
    resp_free(&r);
    assert_int_equal(req(f, "PATCH", "/v1/devices/nobody", TOK_A_WRITE, "{\"state\":\"revoked\"}",
                         NULL, &r),
                     404);
    resp_free(&r);

    /* A device needs an existing group of its tenant; a group with devices stays. */
    assert_int_equal(req(f, "PUT", "/v1/devices/dev-2", TOK_A_WRITE, "{\"group\":\"nope\"}", NULL,
                         &r),
                     409);
    assert_non_null(strstr(err_msg(&r), "nope"));
    resp_free(&r);
    assert_int_equal(req(f, "DELETE", "/v1/groups/fleet", TOK_A_WRITE, NULL, NULL, &r), 409);
    assert_non_null(strstr(err_msg(&r), "devices"));
    resp_free(&r);

    /* The same PSK identity or certificate key on a second device is a conflict. */
    snprintf(body, sizeof(body), "{\"group\":\"fleet\",\"certificate\":%s}", pem_json);
    assert_int_equal(req(f, "PUT", "/v1/devices/dev-3", TOK_A_WRITE, body, NULL, &r), 201);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/devices/dev-4", TOK_A_WRITE, body, NULL, &r), 409);
    resp_free(&r);

    /* HEAD answers like GET without a body; delete with the ETag. */
    assert_int_equal(req(f, "HEAD", "/v1/devices/dev-1", TOK_A_READ, NULL, NULL, &r), 200);
    assert_string_equal(r.etag, "\"v4\"");
    resp_free(&r);
    assert_int_equal(req(f, "DELETE", "/v1/devices/dev-1", TOK_A_WRITE, NULL, "If-Match: \"v3\"",
                         &r),
                     412);
    resp_free(&r);
    assert_int_equal(req(f, "DELETE", "/v1/devices/dev-1", TOK_A_WRITE, NULL, "If-Match: \"v4\"",
                         &r),
                     204);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/devices/dev-1", TOK_A_READ, NULL, NULL, &r), 404);
    resp_free(&r);
    free(pem);
    free(pem_json);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void expect_400(struct api_fx *f, const char *method, const char *path, const char *body,
                       const char *needle)
{
    struct resp r;
    long st = req(f, method, path, TOK_A_WRITE, body, NULL, &r);
    if (st != 400 || strcmp(err_code(&r), "invalid") != 0 || strstr(err_msg(&r), needle) == NULL)
        fail_msg("%s %s %s: %ld %s (wanted 400 naming '%s')", method, path, body, st,
                 r.body ? r.body : "", needle);
    resp_free(&r);
}

static void test_validation(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    put_group(f, TOK_A_WRITE, "fleet", "{\"auth_methods\":[\"psk\"]}");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fleet\",", "invalid JSON");
    expect_400(f, "PUT", "/v1/devices/d", "[1,2]", "JSON object");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fleet\"} {}", "invalid JSON");
    expect_400(f, "PUT", "/v1/devices/d", "", "invalid JSON");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fleet\",\"state\":5}", "state");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fleet\",\"state\":\"on\"}", "state");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fleet\",\"colour\":\"red\"}", "colour");
    expect_400(f, "PUT", "/v1/devices/d", "{\"state\":\"enabled\"}", "group");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fleet\",\"id\":\"other\"}", "id");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fleet\",\"iccid\":\"1234\"}", "iccid");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fleet\",\"psk\":\"zz\"}", "psk");
    expect_400(f, "PUT", "/v1/devices/d",
               "{\"group\":\"fleet\",\"psk\":\"00112233445566778899aabbccddeeff\"}",
               "psk_identity");
    expect_400(f, "PUT", "/v1/devices/d",
               "{\"group\":\"fleet\",\"psk\":\"00112233445566778899aabbccddeeff\","
               "\"psk_identity\":\"acme:b1:89882280000000000014\"}",
               "reserved for batch-derived keys");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fleet\",\"certificate\":\"hello\"}",
               "certificate");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fleet\",\"group\":\"fleet\"}",
               "duplicate");
    expect_400(f, "PUT", "/v1/devices/d", "{\"group\":\"fl\\u0000eet\"}", "NUL");
    expect_400(f, "PUT", "/v1/groups/g", "{\"auth_methods\":[]}", "auth_methods");
    expect_400(f, "PUT", "/v1/groups/g", "{\"auth_methods\":[\"psk\",\"psk\"]}", "auth_methods[1]");
    expect_400(f, "PUT", "/v1/groups/g", "{\"auth_methods\":[\"smtp\"]}", "auth_methods[0]");
    expect_400(f, "PUT", "/v1/groups/g",
               "{\"auth_methods\":[\"psk\"],\"batch\":{\"vendor\":\"v\"}}", "batch");
    expect_400(f, "PUT", "/v1/groups/g", "{\"auth_methods\":[\"x509\"],\"trust_anchors\":\"x\"}",
               "trust_anchors");
    expect_400(f, "GET", "/v1/devices?limit=0", NULL, "limit");
    expect_400(f, "GET", "/v1/devices?limit=5000", NULL, "limit");
    expect_400(f, "GET", "/v1/devices?offset=-1", NULL, "offset");
    expect_400(f, "GET", "/v1/devices?offset=1x", NULL, "offset");

    /* Media type. */
    http(f, "PUT", "/v1/devices/d", TOK_A_WRITE, "text/plain", "{\"group\":\"fleet\"}", 17, NULL,
         NULL, &r);
    assert_int_equal(r.status, 415);
    assert_string_equal(err_code(&r), "unsupported-media-type");
    resp_free(&r);
    http(f, "PUT", "/v1/devices/d", TOK_A_WRITE, "", "{\"group\":\"fleet\"}", 17, NULL, NULL, &r);
    assert_int_equal(r.status, 415);
    resp_free(&r);
    http(f, "PUT", "/v1/devices/d", TOK_A_WRITE, "application/json; charset=utf-8",
         "{\"group\":\"fleet\"}", 17, NULL, NULL, &r);
    assert_int_equal(r.status, 201);
    resp_free(&r);

    /* Oversized bodies: by Content-Length, and chunked without one. */
    size_t big = (1u << 20) + 1;
    char *b = malloc(big);
    memset(b, ' ', big);
    b[0] = '{';
    b[big - 1] = '}';
    http(f, "PUT", "/v1/devices/d", TOK_A_WRITE, NULL, b, big, NULL, NULL, &r);
    assert_int_equal(r.status, 413);
    assert_string_equal(err_code(&r), "too-large");
    resp_free(&r);
    http(f, "PUT", "/v1/devices/d", TOK_A_WRITE, NULL, b, big, "Transfer-Encoding: chunked",
         NULL, &r);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    /* Just under the limit is parsed (and refused for its content, not its size). */
    b[big - 2] = '}';
    http(f, "PUT", "/v1/devices/d", TOK_A_WRITE, NULL, b, big - 1, NULL, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(err_msg(&r), "group"));
    resp_free(&r);
    free(b);
}

static void test_pagination(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    char path[128], body[128];
    put_group(f, TOK_A_WRITE, "g1", "{\"auth_methods\":[\"psk\"]}");
    put_group(f, TOK_A_WRITE, "g2", "{\"auth_methods\":[\"psk\"]}");
    for (int i = 0; i < 250; i++) {
        snprintf(path, sizeof(path), "/v1/devices/dev-%03d", i);
        snprintf(body, sizeof(body), "{\"group\":\"%s\"}", i % 5 == 0 ? "g2" : "g1");
        assert_int_equal(req(f, "PUT", path, TOK_A_WRITE, body, NULL, &r), 201);
        resp_free(&r);
    }
    /* Follow the next links from the first page. */
    char next[256] = "/v1/devices?limit=100";
    int pages = 0, seen = 0;
    while (next[0]) {
        assert_int_equal(req(f, "GET", next, TOK_A_READ, NULL, NULL, &r), 200);
        assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 250);
        json_t *items = json_object_get(r.json, "items");
        assert_int_equal(json_array_size(items), pages < 2 ? 100 : 50);
        for (size_t i = 0; i < json_array_size(items); i++) {
            char want[16];
            snprintf(want, sizeof(want), "dev-%03d", seen++);
            assert_string_equal(jstr(json_array_get(items, i), "id"), want);
            assert_null(json_object_get(json_array_get(items, i), "psk"));
        }
        json_t *n = json_object_get(r.json, "next");
        snprintf(next, sizeof(next), "%s", json_is_string(n) ? json_string_value(n) : "");
        if (pages == 0)
            assert_string_equal(next, "/v1/devices?offset=100&limit=100");
        pages++;
        resp_free(&r);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(seen, 250);
    /* Filter by group: 50 in g2, in pages of 30; the next link keeps the filter. */
    assert_int_equal(req(f, "GET", "/v1/devices?group=g2&limit=30", TOK_A_READ, NULL, NULL, &r),
                     200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 50);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 30);
    assert_string_equal(jstr(r.json, "next"), "/v1/devices?offset=30&limit=30&group=g2");
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/devices?offset=30&limit=30&group=g2", TOK_A_READ, NULL,
                         NULL, &r),
                     200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 20);
    assert_true(json_is_null(json_object_get(r.json, "next")));
    resp_free(&r);
    /* Beyond the end: an empty page with the total. */
    assert_int_equal(req(f, "GET", "/v1/devices?offset=1000", TOK_A_READ, NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 250);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups?limit=1", TOK_A_READ, NULL, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 2);
    assert_string_equal(jstr(r.json, "next"), "/v1/groups?offset=1&limit=1");
    resp_free(&r);
}

static void test_tenant_isolation(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    put_group(f, TOK_A_ADMIN, "shared-name", "{\"auth_methods\":[\"psk\"]}");
    assert_int_equal(req(f, "PUT", "/v1/devices/dev-a", TOK_A_ADMIN,
                         "{\"group\":\"shared-name\",\"psk_identity\":\"a-id\","
                         "\"psk\":\"00112233445566778899aabbccddeeff\"}",
                         NULL, &r),
                     201);
    resp_free(&r);

    /* Tenant B sees nothing of A's and cannot touch it: 404 like a missing record. */
    assert_int_equal(req(f, "GET", "/v1/devices/dev-a", TOK_B_ADMIN, NULL, NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups/shared-name", TOK_B_ADMIN, NULL, NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(req(f, "PATCH", "/v1/devices/dev-a", TOK_B_ADMIN, "{\"state\":\"revoked\"}",
                         NULL, &r),
                     404);
    resp_free(&r);
    assert_int_equal(req(f, "DELETE", "/v1/devices/dev-a", TOK_B_ADMIN, NULL, NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(req(f, "DELETE", "/v1/groups/shared-name", TOK_B_ADMIN, NULL, NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/devices/dev-a/psk", TOK_B_ADMIN, NULL, NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups/shared-name/allowlist", TOK_B_ADMIN, NULL, NULL, &r),
                     404);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/devices", TOK_B_ADMIN, NULL, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 0);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups", TOK_B_ADMIN, NULL, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 0);
    resp_free(&r);
    /* B cannot put a device into A's group ... */
    assert_int_equal(req(f, "PUT", "/v1/devices/dev-b", TOK_B_ADMIN,
                         "{\"group\":\"shared-name\"}", NULL, &r),
                     409);
    resp_free(&r);
    /* ... but has its own namespace: same IDs, independent records. */
    put_group(f, TOK_B_ADMIN, "shared-name", "{\"auth_methods\":[\"x509\"]}");
    assert_int_equal(req(f, "PUT", "/v1/devices/dev-a", TOK_B_ADMIN,
                         "{\"group\":\"shared-name\",\"state\":\"revoked\"}", NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/devices/dev-a", TOK_A_READ, NULL, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "state"), "enabled");
    assert_true(json_is_true(json_object_get(r.json, "has_psk")));
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups/shared-name", TOK_A_READ, NULL, NULL, &r), 200);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "auth_methods"),
                                                         0)),
                        "psk");
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/devices", TOK_A_READ, NULL, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    resp_free(&r);
}

/* GET /metrics on the metrics port: text format with the API's request counters. */
static long metric_value(const char *text, const char *sample)
{
    const char *p = strstr(text, sample);
    return p ? strtol(p + strlen(sample), NULL, 10) : -1;
}

static void test_metrics_and_reload(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    char base[64];
    assert_int_equal(req(f, "GET", "/v1/groups/none", TOK_A_READ, NULL, NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/groups", TOK_A_READ, NULL, NULL, &r), 200);
    resp_free(&r);
    snprintf(base, sizeof(base), "%s", f->base);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", st_gw_api_metrics_port(f->api));
    assert_int_not_equal(st_gw_api_metrics_port(f->api), 0);
    assert_int_equal(req(f, "GET", "/metrics", NULL, NULL, NULL, &r), 200);
    assert_non_null(strstr(r.content_type, "text/plain"));
    assert_non_null(strstr(r.body, "# TYPE simtrust_gw_api_requests_total counter"));
    long c4 = metric_value(r.body, "simtrust_gw_api_requests_total{code=\"4xx\"} ");
    long c2 = metric_value(r.body, "simtrust_gw_api_requests_total{code=\"2xx\"} ");
    assert_true(c4 >= 1);
    assert_true(c2 >= 1);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/other", NULL, NULL, NULL, &r), 404);
    resp_free(&r);
    snprintf(f->base, sizeof(f->base), "%s", base);

    /* Reload: a token removed from the file stops working; a broken file keeps the old set. */
    char err[256];
    write_file(f->tokens, "# emptied\n", 0600);
    assert_int_equal(st_gw_api_reload(f->api, &f->cfg, err, sizeof(err)), 0);
    assert_int_equal(req(f, "GET", "/v1/groups", TOK_A_READ, NULL, NULL, &r), 401);
    resp_free(&r);
    write_file(f->tokens, "zz tenant read\n", 0600);
    assert_int_equal(st_gw_api_reload(f->api, &f->cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":1:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health_openapi_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_and_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_crud_etags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_group_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pagination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_and_reload, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
