/*
 * REST API services beyond CRUD (IoT.04 3.3.2.2.2 CA Certificate Request,
 * M4/M6; 3.3.2.2.3 Get PSK Data; Annex C.1 offline delivery import), through
 * a real API server and libcurl; results checked with OpenSSL and with the
 * handshake path's PSK resolver on the same registry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "psk_resolve.h"
#include "registry.h"
#include "st_hex.h"
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

static long post_csr(struct api_fx *f, const char *tok, const char *group, const char *csr,
                     const char *device_id, struct resp *r)
{
    char path[128];
    json_t *b = json_pack("{s:s}", "csr", csr);
    if (device_id)
        json_object_set_new(b, "device_id", json_string(device_id));
    char *text = json_dumps(b, 0);
    snprintf(path, sizeof(path), "/v1/groups/%s/certificates", group);
    long st = req(f, "POST", path, tok, text, NULL, r);
    free(text);
    json_decref(b);
    return st;
}

/* Parses the returned chain: leaf first, then the CA. */
static STACK_OF(X509) *read_chain(const char *pem)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    BIO_free(b);
    return sk;
}

static void check_leaf(X509 *leaf, X509 *ca, EVP_PKEY *dev_key, const char *cn)
{
    /* Chains to the group CA, for TLS client authentication. */
    X509_STORE *st = X509_STORE_new();
    X509_STORE_add_cert(st, ca);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, st, leaf, NULL);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    int ok = X509_verify_cert(ctx);
    if (ok != 1)
        fail_msg("verify: %s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    /* Carries the CSR's key. */
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf), dev_key), 1);
    /* Subject policy. */
    char buf[128];
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, buf, sizeof(buf));
    assert_string_equal(buf, cn);
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(leaf)), 1);
    /* Extensions. */
    uint32_t fl = X509_get_extension_flags(leaf);
    assert_true(fl & EXFLAG_BCONS);
    assert_false(fl & EXFLAG_CA);
    assert_int_equal(X509_get_key_usage(leaf), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_get_extended_key_usage(leaf), XKU_SSL_CLIENT);
    /* 16-byte positive random serial. */
    const ASN1_INTEGER *sn = X509_get0_serialNumber(leaf);
    assert_int_equal(ASN1_STRING_length(sn), 16);
    assert_int_equal(ASN1_STRING_type(sn), V_ASN1_INTEGER);
    /* cert_days = 30. */
    time_t lo = time(NULL) + 29 * 86400, hi = time(NULL) + 31 * 86400;
    assert_true(X509_cmp_time(X509_get0_notAfter(leaf), &lo) > 0);
    assert_true(X509_cmp_time(X509_get0_notAfter(leaf), &hi) < 0);
}

static void test_csr_signing(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    EVP_PKEY *ca_key, *dev = EVP_EC_gen("P-256");
    X509 *ca = make_group_ca(f, "tenant-a", "fleet", &ca_key);
    char spki[65];
    spki_hex(dev, spki);
    assert_int_equal(req(f, "PUT", "/v1/groups/fleet", TOK_A_ADMIN,
                         "{\"auth_methods\":[\"x509\"]}", NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/devices/dev-1", TOK_A_ADMIN, "{\"group\":\"fleet\"}",
                         NULL, &r),
                     201);
    resp_free(&r);

    /* M4/M6 with binding: the CSR's CN is replaced by the device ID. */
    char *csr = make_csr(dev, "whatever-the-card-put", 0);
    assert_int_equal(post_csr(f, TOK_A_CA, "fleet", csr, "dev-1", &r), 201);
    STACK_OF(X509) *chain = read_chain(jstr(r.json, "certificate"));
    assert_int_equal(sk_X509_num(chain), 2);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 1), ca), 0);
    check_leaf(sk_X509_value(chain, 0), ca, dev, "dev-1");
    assert_string_equal(jstr(r.json, "device_id"), "dev-1");
    assert_int_equal(strlen(jstr(r.json, "serial")), 32);
    char *leaf_pem = pem_cert(sk_X509_value(chain, 0));
    sk_X509_pop_free(chain, X509_free);
    resp_free(&r);
    /* The device record now binds that certificate and key. */
    assert_int_equal(req(f, "GET", "/v1/devices/dev-1", TOK_A_ADMIN, NULL, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "spki_sha256"), spki);
    assert_string_equal(jstr(r.json, "certificate"), leaf_pem);
    assert_string_equal(r.etag, "\"v2\"");
    resp_free(&r);
    free(leaf_pem);

    /* Without device_id the CSR's CN is the subject; nothing is bound. */
    EVP_PKEY *dev2 = EVP_EC_gen("P-384");
    char *csr2 = make_csr(dev2, "sensor-77", 0);
    assert_int_equal(post_csr(f, TOK_A_CA, "fleet", csr2, NULL, &r), 201);
    chain = read_chain(jstr(r.json, "certificate"));
    check_leaf(sk_X509_value(chain, 0), ca, dev2, "sensor-77");
    sk_X509_pop_free(chain, X509_free);
    resp_free(&r);

    /* Refusals. */
    char *bad = make_csr(dev, "dev-1", 1);
    assert_int_equal(post_csr(f, TOK_A_CA, "fleet", bad, "dev-1", &r), 400);
    assert_non_null(strstr(err_msg(&r), "signature"));
    resp_free(&r);
    assert_int_equal(post_csr(f, TOK_A_CA, "fleet", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                                   "-----END CERTIFICATE REQUEST-----\n",
                              NULL, &r),
                     400);
    assert_non_null(strstr(err_msg(&r), "csr"));
    resp_free(&r);
    char *nocn = make_csr(dev2, NULL, 0);
    assert_int_equal(post_csr(f, TOK_A_CA, "fleet", nocn, NULL, &r), 400);
    assert_non_null(strstr(err_msg(&r), "CN"));
    resp_free(&r);
    EVP_PKEY *weak = EVP_RSA_gen(1024);
    char *weak_csr = make_csr(weak, "weak", 0);
    assert_int_equal(post_csr(f, TOK_A_CA, "fleet", weak_csr, NULL, &r), 400);
    assert_non_null(strstr(err_msg(&r), "2048"));
    resp_free(&r);
    assert_int_equal(post_csr(f, TOK_A_CA, "fleet", csr, "nobody", &r), 404);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/groups/fleet/certificates", TOK_A_CA,
                         "{\"csr\":\"x\",\"subject\":\"CN=admin\"}", NULL, &r),
                     400);
    assert_non_null(strstr(err_msg(&r), "subject"));
    resp_free(&r);
    /* A group without a CA, a group of another tenant. */
    assert_int_equal(req(f, "PUT", "/v1/groups/noca", TOK_A_ADMIN, "{\"auth_methods\":[\"x509\"]}",
                         NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(post_csr(f, TOK_A_CA, "noca", csr, NULL, &r), 409);
    assert_string_equal(err_code(&r), "no-ca");
    resp_free(&r);
    assert_int_equal(post_csr(f, TOK_B_ADMIN, "fleet", csr, NULL, &r), 404);
    resp_free(&r);
    /* A device of another group is not bound through this group's CA. */
    assert_int_equal(req(f, "PUT", "/v1/devices/dev-9", TOK_A_ADMIN, "{\"group\":\"noca\"}", NULL,
                         &r),
                     201);
    resp_free(&r);
    assert_int_equal(post_csr(f, TOK_A_CA, "fleet", csr2, "dev-9", &r), 409);
    resp_free(&r);

    free(csr);
    free(csr2);
    free(bad);
    free(nocn);
    free(weak_csr);
    EVP_PKEY_free(weak);
    EVP_PKEY_free(dev2);
    EVP_PKEY_free(dev);
    EVP_PKEY_free(ca_key);
    X509_free(ca);
}

/* The PSK the handshake path resolves for an identity (psk_resolve.h). */
static size_t resolve(struct api_fx *f, const char *identity, uint8_t *key)
{
    struct st_reg *reg = NULL;
    struct st_gw_psk_result res;
    uint8_t decoy[32] = {1};
    size_t kl = 0;
    assert_int_equal(st_reg_open_sqlite(f->db, f->kek, 5000, &reg), ST_REG_OK);
    int ok = st_gw_psk_resolve(reg, decoy, (const uint8_t *)identity, strlen(identity), key,
                               ST_REG_KEY_MAX, &kl, &res, NULL);
    st_reg_close(reg);
    return ok == 1 ? kl : 0;
}

static void test_get_psk_data(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    uint8_t key[ST_REG_KEY_MAX], want[32];
    char psk1[65];
    assert_int_equal(req(f, "PUT", "/v1/groups/meters", TOK_A_ADMIN, "{\"auth_methods\":[\"psk\"]}",
                         NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/devices/m-1", TOK_A_ADMIN, "{\"group\":\"meters\"}", NULL,
                         &r),
                     201);
    resp_free(&r);

    assert_int_equal(req(f, "POST", "/v1/devices/m-1/psk", TOK_A_PSK, NULL, NULL, &r), 200);
    assert_string_equal(r.cache_control, "no-store");
    assert_string_equal(jstr(r.json, "psk_identity"), "m-1");
    assert_int_equal(strlen(jstr(r.json, "psk")), 64);
    snprintf(psk1, sizeof(psk1), "%s", jstr(r.json, "psk"));
    assert_string_equal(r.etag, "\"v2\"");
    resp_free(&r);
    assert_int_equal(st_hex_decode(psk1, 64, want, sizeof(want)), 32);

    /* Never shown again; the registry resolves the identity to exactly that key. */
    assert_int_equal(req(f, "GET", "/v1/devices/m-1", TOK_A_ADMIN, NULL, NULL, &r), 200);
    assert_null(strstr(r.body, psk1));
    assert_null(json_object_get(r.json, "psk"));
    assert_true(json_is_true(json_object_get(r.json, "has_psk")));
    assert_string_equal(jstr(r.json, "psk_identity"), "m-1");
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/devices", TOK_A_ADMIN, NULL, NULL, &r), 200);
    assert_null(strstr(r.body, psk1));
    resp_free(&r);
    assert_int_equal(resolve(f, "m-1", key), 32);
    assert_memory_equal(key, want, 32);

    /* A second request rotates the key; a set identity is kept. */
    assert_int_equal(req(f, "PATCH", "/v1/devices/m-1", TOK_A_ADMIN,
                         "{\"psk_identity\":\"meter-one@tenant-a\"}", NULL, &r),
                     200);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/devices/m-1/psk", TOK_A_PSK, NULL, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "psk_identity"), "meter-one@tenant-a");
    assert_string_not_equal(jstr(r.json, "psk"), psk1);
    assert_int_equal(st_hex_decode(jstr(r.json, "psk"), 64, want, sizeof(want)), 32);
    resp_free(&r);
    assert_int_equal(resolve(f, "meter-one@tenant-a", key), 32);
    assert_memory_equal(key, want, 32);
    assert_int_equal(resolve(f, "m-1", key), 0);

    /* If-Match applies; a group without psk refuses; missing device 404. */
    assert_int_equal(req(f, "POST", "/v1/devices/m-1/psk", TOK_A_PSK, NULL, "If-Match: \"v1\"", &r),
                     412);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/groups/certs", TOK_A_ADMIN, "{\"auth_methods\":[\"x509\"]}",
                         NULL, &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "PUT", "/v1/devices/c-1", TOK_A_ADMIN, "{\"group\":\"certs\"}", NULL,
                         &r),
                     201);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/devices/c-1/psk", TOK_A_PSK, NULL, NULL, &r), 409);
    assert_non_null(strstr(err_msg(&r), "psk"));
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/devices/none/psk", TOK_A_PSK, NULL, NULL, &r), 404);
    resp_free(&r);
}

static char *record_line(const char *iccid, EVP_PKEY *k, const char *ident)
{
    X509 *x = self_signed(k, "device", 0, NULL);
    char *cert = pem_cert(x);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    json_t *o = json_pack("{s:s, s:s}", "iccid", iccid, "eid", "89049032000000000000000000000017");
    json_object_set_new(o, "public_keys",
                        json_pack("[{s:s,s:s,s:s,s:s%}]", "id", "01", "label", "client", "type",
                                  "p256", "pem", p, (size_t)n));
    json_object_set_new(o, "certificates",
                        json_pack("[{s:s,s:s,s:s}]", "file_id", "02", "subject", "CN=device",
                                  "pem", cert));
    json_object_set_new(o, "psk_identities",
                        json_pack("[{s:s,s:s,s:s}]", "secret_id", "10", "label", "psk1",
                                  "identity", ident));
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    BIO_free(b);
    free(cert);
    X509_free(x);
    return line;
}

static void test_import(void **state)
{
    struct api_fx *f = *state;
    struct resp r;
    const char *iccids[3] = {"89882280000000000017", "89882280000000000025",
                             "89882280000000000033"};
    EVP_PKEY *keys[3];
    char *lines[3], body[16384] = "[", jl[16384] = "";
    assert_int_equal(req(f, "PUT", "/v1/groups/fleet", TOK_A_ADMIN,
                         "{\"auth_methods\":[\"x509\",\"psk\"]}", NULL, &r),
                     201);
    resp_free(&r);
    for (int i = 0; i < 3; i++) {
        char ident[64];
        keys[i] = EVP_EC_gen("P-256");
        snprintf(ident, sizeof(ident), "dev-%d@fleet", i);
        lines[i] = record_line(iccids[i], keys[i], ident);
        strcat(body, lines[i]);
        strcat(body, i < 2 ? "," : "]");
        strcat(jl, lines[i]);
        strcat(jl, "\n");
    }
    assert_int_equal(req(f, "POST", "/v1/groups/fleet/import", TOK_A_IMPORT, body, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "records")), 3);
    assert_int_equal(json_integer_value(json_object_get(r.json, "created")), 3);
    assert_int_equal(json_integer_value(json_object_get(r.json, "unchanged")), 0);
    assert_true(json_is_number(json_object_get(r.json, "seconds")));
    assert_true(json_number_value(json_object_get(r.json, "records_per_second")) > 0);
    resp_free(&r);
    /* Idempotent, as a JSON array and as JSON lines. */
    assert_int_equal(req(f, "POST", "/v1/groups/fleet/import", TOK_A_IMPORT, body, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "created")), 0);
    assert_int_equal(json_integer_value(json_object_get(r.json, "unchanged")), 3);
    resp_free(&r);
    http(f, "POST", "/v1/groups/fleet/import", TOK_A_IMPORT, "application/x-ndjson", jl,
         strlen(jl), NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "unchanged")), 3);
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/devices/89882280000000000025", TOK_A_ADMIN, NULL, NULL, &r),
                     200);
    assert_string_equal(jstr(r.json, "psk_identity"), "dev-1@fleet");
    char spki[65];
    spki_hex(keys[1], spki);
    assert_string_equal(jstr(r.json, "spki_sha256"), spki);
    resp_free(&r);

    /* A conflicting record (same ICCID, another key) aborts the whole batch. */
    EVP_PKEY *other = EVP_EC_gen("P-256");
    char *conflict = record_line(iccids[0], other, "dev-0@fleet");
    char *newone = record_line("89882280000000000041", other, "dev-3@fleet");
    char mixed[8192];
    snprintf(mixed, sizeof(mixed), "%s\n%s\n", newone, conflict);
    http(f, "POST", "/v1/groups/fleet/import", TOK_A_IMPORT, "application/x-ndjson", mixed,
         strlen(mixed), NULL, NULL, &r);
    assert_int_equal(r.status, 409);
    assert_string_equal(err_code(&r), "conflict");
    resp_free(&r);
    assert_int_equal(req(f, "GET", "/v1/devices", TOK_A_ADMIN, NULL, NULL, &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 3);
    resp_free(&r);
    /* Broken input, unknown group, another tenant's group. */
    assert_int_equal(req(f, "POST", "/v1/groups/fleet/import", TOK_A_IMPORT, "[{\"iccid\":", NULL,
                         &r),
                     400);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/groups/nope/import", TOK_A_IMPORT, body, NULL, &r), 404);
    resp_free(&r);
    assert_int_equal(req(f, "POST", "/v1/groups/fleet/import", TOK_B_ADMIN, body, NULL, &r), 404);
    resp_free(&r);
    free(conflict);
    free(newone);
    EVP_PKEY_free(other);
    for (int i = 0; i < 3; i++) {
        free(lines[i]);
        EVP_PKEY_free(keys[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csr_signing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_psk_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
