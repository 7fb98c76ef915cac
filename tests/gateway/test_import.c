/*
 * Offline delivery import (IoT.04 Annex C.1 "file" form; M2, M5; scenario 5
 * shipment list). One transaction per batch, idempotent re-import, conflicts
 * abort the whole batch, all three input forms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_psk.h"
#include "delivery_import.h"
#include "registry.h"

struct fx {
    char dir[64], path[96];
    struct st_gw_kek *kek;
    struct st_reg *r;
    char *cert_pem[2], *key_pem[2];
    uint8_t spki[2][32];
};

static char *bio_string(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = 0;
    BIO_free(b);
    return s;
}

/* A P-256 key, its public PEM, a self-signed certificate PEM, SPKI SHA-256. */
static void make_cred(struct fx *f, int i)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(k);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), i + 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"device", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    f->cert_pem[i] = bio_string(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    f->key_pem[i] = bio_string(b);
    unsigned char *der = NULL;
    int dl = i2d_PUBKEY(k, &der);
    unsigned int hl;
    EVP_Digest(der, (size_t)dl, f->spki[i], &hl, EVP_sha256(), NULL);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(k);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    uint8_t kek[32] = {7};
    strcpy(f->dir, "/tmp/st-gwimp-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/reg.db", f->dir);
    f->kek = st_gw_kek_from_bytes(kek);
    assert_int_equal(st_reg_open_sqlite(f->path, f->kek, 5000, &f->r), ST_REG_OK);
    assert_int_equal(st_reg_tenant_put(f->r, "energyco"), ST_REG_OK);
    struct st_reg_group g;
    memset(&g, 0, sizeof(g));
    strcpy(g.tenant, "energyco");
    strcpy(g.id, "fleet");
    g.auth_methods = ST_REG_AUTH_X509 | ST_REG_AUTH_PSK;
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_CREATE), ST_REG_OK);
    strcpy(g.id, "meters");
    g.auth_methods = ST_REG_AUTH_BATCH;
    strcpy(g.batch_vendor, "MeterCo");
    strcpy(g.batch_id, "b1");
    g.kdf = ST_GW_KDF_HMAC_SHA256;
    g.bmk_len = 32;
    memset(g.bmk, 0x42, 32);
    g.allowlist = 1;
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_CREATE), ST_REG_OK);
    make_cred(f, 0);
    make_cred(f, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[160];
    st_reg_close(f->r);
    st_gw_kek_free(f->kek);
    for (int i = 0; i < 2; i++) {
        free(f->cert_pem[i]);
        free(f->key_pem[i]);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A delivery record as simtrust-card writes it (docs/profile.md). */
static json_t *record(const char *iccid, const char *cert, const char *key, const char *ident)
{
    json_t *o = json_pack("{s:s, s:s}", "iccid", iccid, "eid", "89049032000000000000000000000017");
    json_object_set_new(o, "public_keys", json_array());
    json_object_set_new(o, "certificates", json_array());
    json_object_set_new(o, "psk_identities", json_array());
    if (key)
        json_array_append_new(json_object_get(o, "public_keys"),
                              json_pack("{s:s,s:s,s:s,s:s}", "id", "01", "label", "client", "type",
                                        "p256", "pem", key));
    if (cert)
        json_array_append_new(json_object_get(o, "certificates"),
                              json_pack("{s:s,s:s,s:s}", "file_id", "02", "subject", "CN=device",
                                        "pem", cert));
    if (ident)
        json_array_append_new(json_object_get(o, "psk_identities"),
                              json_pack("{s:s,s:s,s:s}", "secret_id", "10", "label", "psk1",
                                        "identity", ident));
    return o;
}

static json_t *batch3(struct fx *f)
{
    json_t *a = json_array();
    json_array_append_new(a, record("89882280000000000017", f->cert_pem[0], f->key_pem[0],
                                    "device-0001"));
    json_array_append_new(a, record("89882280000000000025", NULL, f->key_pem[1], NULL));
    json_array_append_new(a, record("89882280000000000033", NULL, NULL, "device-0003"));
    return a;
}

static void test_import_idempotent(void **state)
{
    struct fx *f = *state;
    struct st_gw_import_stats st;
    char err[256] = "";
    json_t *a = batch3(f);
    int64_t g0, g1;
    assert_int_equal(st_gw_import(f->r, "energyco", "fleet", a, &st, err, sizeof(err)), ST_REG_OK);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.created, 3);
    assert_int_equal(st.unchanged, 0);

    struct st_reg_device d;
    assert_int_equal(st_reg_device_by_spki(f->r, f->spki[0], &d), ST_REG_OK);
    assert_string_equal(d.id, "89882280000000000017"); /* device ID = ICCID */
    assert_string_equal(d.psk_identity, "device-0001");
    assert_non_null(strstr(d.cert_pem, "BEGIN CERTIFICATE"));
    st_reg_device_clear(&d);
    assert_int_equal(st_reg_device_by_spki(f->r, f->spki[1], &d), ST_REG_OK); /* from public key */
    assert_null(d.cert_pem);
    st_reg_device_clear(&d);
    assert_int_equal(st_reg_device_by_psk_identity(f->r, "device-0003", 11, &d), ST_REG_OK);
    assert_int_equal(d.psk_len, 0); /* delivery records never carry PSK values */
    st_reg_device_clear(&d);

    /* Re-import: nothing changes, not even the generation counter's data. */
    st_reg_generation(f->r, &g0);
    assert_int_equal(st_gw_import(f->r, "energyco", "fleet", a, &st, err, sizeof(err)), ST_REG_OK);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.unchanged, 3);
    st_reg_generation(f->r, &g1);
    assert_int_equal(g0, g1);
    assert_int_equal(st_reg_device_get(f->r, "energyco", "89882280000000000017", &d), ST_REG_OK);
    assert_int_equal(d.version, 1);
    st_reg_device_clear(&d);
    json_decref(a);
}

static void test_import_conflict_is_atomic(void **state)
{
    struct fx *f = *state;
    struct st_gw_import_stats st;
    char err[256] = "";
    json_t *a = batch3(f);
    assert_int_equal(st_gw_import(f->r, "energyco", "fleet", a, &st, err, sizeof(err)), ST_REG_OK);
    json_decref(a);
    /* A new record first, then one that contradicts a registered device. */
    a = json_array();
    json_array_append_new(a, record("89882280000000000041", NULL, NULL, "device-0004"));
    json_array_append_new(a, record("89882280000000000033", NULL, NULL, "device-9999"));
    assert_int_equal(st_gw_import(f->r, "energyco", "fleet", a, &st, err, sizeof(err)),
                     ST_REG_ECONFLICT);
    assert_non_null(strstr(err, "record 1"));
    assert_non_null(strstr(err, "PSK identity differs"));
    assert_int_equal(st.records, 0);
    struct st_reg_device d;
    assert_int_equal(st_reg_device_get(f->r, "energyco", "89882280000000000041", &d),
                     ST_REG_NOTFOUND); /* nothing of the batch was written */
    json_decref(a);

    /* A public key already registered to another device. */
    a = json_array();
    json_array_append_new(a, record("89882280000000000058", NULL, f->key_pem[1], NULL));
    assert_int_equal(st_gw_import(f->r, "energyco", "fleet", a, &st, err, sizeof(err)),
                     ST_REG_EEXISTS);
    assert_non_null(strstr(err, "another device"));
    json_decref(a);

    /* Same device twice in one batch with different data. */
    a = json_array();
    json_array_append_new(a, record("89882280000000000066", NULL, NULL, "x-1"));
    json_array_append_new(a, record("89882280000000000066", NULL, NULL, "x-2"));
    assert_int_equal(st_gw_import(f->r, "energyco", "fleet", a, &st, err, sizeof(err)),
                     ST_REG_ECONFLICT);
    json_decref(a);

    /* Bad records: named in the message, nothing written. */
    a = json_array();
    json_array_append_new(a, record("8988", NULL, NULL, NULL));
    assert_int_equal(st_gw_import(f->r, "energyco", "fleet", a, &st, err, sizeof(err)),
                     ST_REG_EINVAL);
    assert_non_null(strstr(err, "iccid"));
    json_decref(a);
    a = json_array();
    json_array_append_new(a, record("89882280000000000074", "not a pem", NULL, NULL));
    assert_int_equal(st_gw_import(f->r, "energyco", "fleet", a, &st, err, sizeof(err)),
                     ST_REG_EINVAL);
    json_decref(a);
    a = json_array();
    assert_int_equal(st_gw_import(f->r, "energyco", "nogroup", a, &st, err, sizeof(err)),
                     ST_REG_EREF);
    json_decref(a);
}

static void test_import_batch_group(void **state)
{
    struct fx *f = *state;
    struct st_gw_import_stats st;
    char err[256] = "";
    json_t *a = json_array();
    json_array_append_new(a, record("89882280000000000014", NULL, NULL,
                                    "MeterCo:b1:89882280000000000014"));
    json_array_append_new(a, record("8944000000000000019", NULL, NULL, NULL));
    assert_int_equal(st_gw_import(f->r, "energyco", "meters", a, &st, err, sizeof(err)), ST_REG_OK);
    assert_int_equal(st.created, 2);
    /* The shipment list of scenario 5 is now the group's allow-list. */
    assert_int_equal(st_reg_allow_has(f->r, "energyco", "meters", "89882280000000000014"),
                     ST_REG_OK);
    assert_int_equal(st_reg_allow_has(f->r, "energyco", "meters", "8944000000000000019"),
                     ST_REG_OK);
    /* No per-device key row: the identity is not stored for batch devices. */
    struct st_reg_device d;
    assert_int_equal(st_reg_device_by_psk_identity(f->r, "MeterCo:b1:89882280000000000014", 31,
                                                   &d), ST_REG_NOTFOUND);
    assert_int_equal(st_gw_import(f->r, "energyco", "meters", a, &st, err, sizeof(err)), ST_REG_OK);
    assert_int_equal(st.unchanged, 2);
    json_decref(a);

    a = json_array();
    json_array_append_new(a, record("89882280000000000022", NULL, NULL,
                                    "OtherCo:b1:89882280000000000022"));
    assert_int_equal(st_gw_import(f->r, "energyco", "meters", a, &st, err, sizeof(err)),
                     ST_REG_EINVAL);
    assert_non_null(strstr(err, "MeterCo:b1:"));
    json_decref(a);
    a = json_array();
    json_array_append_new(a, record("89882280000000000017", NULL, NULL, NULL)); /* Luhn wrong */
    assert_int_equal(st_gw_import(f->r, "energyco", "meters", a, &st, err, sizeof(err)),
                     ST_REG_EINVAL);
    assert_non_null(strstr(err, "check digit"));
    json_decref(a);
    assert_int_equal(st_reg_allow_has(f->r, "energyco", "meters", "89882280000000000022"),
                     ST_REG_NOTFOUND);
}

static void write_file(const char *path, const char *s)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(s, fp);
    fclose(fp);
}

static void test_input_forms(void **state)
{
    struct fx *f = *state;
    char err[256], p[160];
    json_t *a = batch3(f);
    char *arr = json_dumps(a, JSON_INDENT(2));
    /* 1. JSON array */
    json_t *l = st_gw_delivery_load(arr, strlen(arr), err, sizeof(err));
    assert_non_null(l);
    assert_true(json_equal(l, a));
    json_decref(l);
    /* 2. pretty-printed objects concatenated, and JSON Lines */
    size_t cap = 65536, n = 0, n2 = 0;
    char *cat = malloc(cap), *lines = malloc(cap);
    for (size_t i = 0; i < 3; i++) {
        char *o = json_dumps(json_array_get(a, i), JSON_INDENT(2));
        char *o2 = json_dumps(json_array_get(a, i), JSON_COMPACT);
        n += (size_t)snprintf(cat + n, cap - n, "%s\n", o);
        n2 += (size_t)snprintf(lines + n2, cap - n2, "%s\n", o2);
        snprintf(p, sizeof(p), "%s/dev-%zu.delivery.json", f->dir, i);
        write_file(p, o);
        free(o);
        free(o2);
    }
    l = st_gw_delivery_load(cat, n, err, sizeof(err));
    assert_non_null(l);
    assert_true(json_equal(l, a));
    json_decref(l);
    l = st_gw_delivery_load(lines, n2, err, sizeof(err));
    assert_non_null(l);
    assert_true(json_equal(l, a));
    json_decref(l);
    /* 3. directory of *.json files in name order (other files ignored) */
    snprintf(p, sizeof(p), "%s/README.txt", f->dir);
    write_file(p, "not json");
    l = st_gw_delivery_load_path(f->dir, err, sizeof(err));
    assert_non_null(l);
    assert_true(json_equal(l, a));
    json_decref(l);
    /* Errors: truncated JSON, non-object, duplicate keys. */
    assert_null(st_gw_delivery_load(lines, n2 - 5, err, sizeof(err)));
    assert_null(st_gw_delivery_load("[1]", 3, err, sizeof(err)));
    assert_null(st_gw_delivery_load("\"x\"", 3, err, sizeof(err)));
    assert_null(st_gw_delivery_load("{\"iccid\":\"1\",\"iccid\":\"2\"}", 25, err, sizeof(err)));
    l = st_gw_delivery_load("  \n", 3, err, sizeof(err));
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
    free(arr);
    free(cat);
    free(lines);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_conflict_is_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_batch_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_forms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
