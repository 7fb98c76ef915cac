/*
 * Handshake-path PSK resolution (IoT.04 scenarios 3/4: stored PSK; scenario 5:
 * batch-derived eUK with the shipment allow-list; M2). Every refusal yields
 * the same decoy key an unknown identity gets, a reason and a counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_psk.h"
#include "psk_resolve.h"
#include "registry.h"

static const uint8_t k_decoy[32] = "decoy-secret-of-this-process---";
static const uint8_t k_bmk[32] = {0x10, 0x20, 0x30};

struct fx {
    struct st_gw_kek *kek;
    struct st_reg *r;
    struct st_gw_auth_stats stats;
};

static void put_device(struct st_reg *r, const char *id, const char *group, const char *ident,
                       size_t psk_len, int state)
{
    struct st_reg_device d;
    memset(&d, 0, sizeof(d));
    strcpy(d.tenant, "energyco");
    strcpy(d.id, id);
    strcpy(d.group, group);
    snprintf(d.psk_identity, sizeof(d.psk_identity), "%s", ident);
    memset(d.psk, 0x5A, psk_len);
    d.psk_len = psk_len;
    d.state = state;
    assert_int_equal(st_reg_device_put(r, &d, ST_REG_ANY), ST_REG_OK);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    uint8_t kek[32] = {3};
    struct st_reg_group g;
    f->kek = st_gw_kek_from_bytes(kek);
    assert_int_equal(st_reg_open_sqlite(":memory:", f->kek, 1000, &f->r), ST_REG_OK);
    assert_int_equal(st_reg_tenant_put(f->r, "energyco"), ST_REG_OK);
    memset(&g, 0, sizeof(g));
    strcpy(g.tenant, "energyco");
    strcpy(g.id, "fleet");
    g.auth_methods = ST_REG_AUTH_PSK;
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_ANY), ST_REG_OK);
    strcpy(g.id, "certs-only");
    g.auth_methods = ST_REG_AUTH_X509;
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_ANY), ST_REG_OK);
    strcpy(g.id, "meters");
    g.auth_methods = ST_REG_AUTH_BATCH;
    strcpy(g.batch_vendor, "MeterCo");
    strcpy(g.batch_id, "b1");
    g.kdf = ST_GW_KDF_HKDF_SHA256;
    memcpy(g.bmk, k_bmk, 32);
    g.bmk_len = 32;
    g.allowlist = 1;
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_ANY), ST_REG_OK);
    strcpy(g.id, "open-batch");
    strcpy(g.batch_id, "b2");
    g.kdf = ST_GW_KDF_HMAC_SHA256;
    g.allowlist = 0;
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_ANY), ST_REG_OK);
    put_device(f->r, "dev-1", "fleet", "device-0001", 16, ST_REG_ENABLED);
    put_device(f->r, "dev-2", "fleet", "device-0002", 16, ST_REG_REVOKED);
    put_device(f->r, "dev-3", "fleet", "device-0003", 0, ST_REG_ENABLED);
    put_device(f->r, "dev-4", "certs-only", "device-0004", 16, ST_REG_ENABLED);
    put_device(f->r, "dev-5", "fleet", "Legacy:id:x", 16, ST_REG_ENABLED);
    assert_int_equal(st_reg_allow_add(f->r, "energyco", "meters", "89882280000000000014"), 0);
    assert_int_equal(st_reg_allow_add(f->r, "energyco", "meters", "8944000000000000019"), 0);
    put_device(f->r, "8944000000000000019", "meters", "", 0, ST_REG_DISABLED);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    st_reg_close(f->r);
    st_gw_kek_free(f->kek);
    free(f);
    return 0;
}

static int resolve(struct fx *f, const char *id, uint8_t *key, size_t *kl,
                   struct st_gw_psk_result *res)
{
    return st_gw_psk_resolve(f->r, k_decoy, (const uint8_t *)id, strlen(id), key, ST_REG_KEY_MAX,
                             kl, res, &f->stats);
}

/* A refusal: reason as expected, and the key is the decoy of the identity. */
static void refused(struct fx *f, const char *id, int reason)
{
    uint8_t key[ST_REG_KEY_MAX], decoy[32];
    size_t kl;
    struct st_gw_psk_result res;
    assert_int_equal(resolve(f, id, key, &kl, &res), 0);
    if (res.reason != reason)
        print_error("%s: reason %s\n", id, st_gw_auth_reason_name(res.reason));
    assert_int_equal(res.reason, reason);
    assert_int_equal(kl, ST_GW_DECOY_LEN);
    assert_int_equal(st_gw_psk_decoy(k_decoy, (const uint8_t *)id, strlen(id), decoy, 32), 0);
    assert_memory_equal(key, decoy, 32);
}

static void test_stored_psk(void **state)
{
    struct fx *f = *state;
    uint8_t key[ST_REG_KEY_MAX], exp[16];
    size_t kl;
    struct st_gw_psk_result res;
    assert_int_equal(resolve(f, "device-0001", key, &kl, &res), 1);
    memset(exp, 0x5A, 16);
    assert_int_equal(kl, 16);
    assert_memory_equal(key, exp, 16);
    assert_string_equal(res.device_id, "dev-1");
    assert_string_equal(res.group, "fleet");
    assert_int_equal(res.batch, 0);
    /* An identity with two ':' that is not a known batch is still looked up. */
    assert_int_equal(resolve(f, "Legacy:id:x", key, &kl, &res), 1);
    assert_string_equal(res.device_id, "dev-5");
    refused(f, "device-0002", ST_GW_AUTH_REVOKED);
    refused(f, "device-0003", ST_GW_AUTH_NO_KEY);
    refused(f, "device-0004", ST_GW_AUTH_METHOD);
    refused(f, "nobody", ST_GW_AUTH_UNKNOWN_IDENTITY);
    assert_int_equal(atomic_load(&f->stats.by_reason[ST_GW_AUTH_OK]), 2);
    assert_int_equal(atomic_load(&f->stats.by_reason[ST_GW_AUTH_UNKNOWN_IDENTITY]), 1);
    assert_int_equal(atomic_load(&f->stats.by_reason[ST_GW_AUTH_REVOKED]), 1);
}

static void test_batch(void **state)
{
    struct fx *f = *state;
    uint8_t key[ST_REG_KEY_MAX], exp[32];
    size_t kl;
    struct st_gw_psk_result res;
    const char *id = "MeterCo:b1:89882280000000000014";
    assert_int_equal(resolve(f, id, key, &kl, &res), 1);
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HKDF_SHA256, k_bmk, 32, (const uint8_t *)id,
                                        strlen(id), exp, 32), 0);
    assert_int_equal(kl, 32);
    assert_memory_equal(key, exp, 32);
    assert_int_equal(res.batch, 1);
    assert_string_equal(res.iccid, "89882280000000000014");
    assert_string_equal(res.group, "meters");
    assert_string_equal(res.tenant, "energyco");
    /* Group without allow-list: any valid ICCID of the batch, HMAC profile. */
    id = "MeterCo:b2:89882280000000000022";
    assert_int_equal(resolve(f, id, key, &kl, &res), 1);
    assert_int_equal(st_gw_batch_derive(ST_GW_KDF_HMAC_SHA256, k_bmk, 32, (const uint8_t *)id,
                                        strlen(id), exp, 32), 0);
    assert_memory_equal(key, exp, 32);
    refused(f, "MeterCo:b1:89882280000000000022", ST_GW_AUTH_NOT_ALLOWED);
    refused(f, "MeterCo:b1:8944000000000000019", ST_GW_AUTH_DISABLED);
    refused(f, "MeterCo:b1:89882280000000000017", ST_GW_AUTH_BAD_BATCH_ID); /* Luhn */
    refused(f, "MeterCo:b9:89882280000000000014", ST_GW_AUTH_UNKNOWN_IDENTITY);
    refused(f, "OtherCo:b1:89882280000000000014", ST_GW_AUTH_UNKNOWN_IDENTITY);
    assert_int_equal(atomic_load(&f->stats.by_reason[ST_GW_AUTH_BAD_BATCH_ID]), 1);
}

static void test_hostile_identities(void **state)
{
    struct fx *f = *state;
    uint8_t key[ST_REG_KEY_MAX], big[300];
    size_t kl;
    struct st_gw_psk_result res;
    memset(big, ':', sizeof(big));
    assert_int_equal(st_gw_psk_resolve(f->r, k_decoy, big, sizeof(big), key, sizeof(key), &kl,
                                       &res, &f->stats), 0);
    assert_int_equal(res.reason, ST_GW_AUTH_UNKNOWN_IDENTITY);
    assert_int_equal(kl, 32);
    static const uint8_t nul[] = "device-0001\0";
    assert_int_equal(st_gw_psk_resolve(f->r, k_decoy, nul, sizeof(nul) - 1, key, sizeof(key), &kl,
                                       &res, NULL), 0);
    assert_int_equal(st_gw_psk_resolve(f->r, k_decoy, NULL, 0, key, sizeof(key), &kl, &res, NULL),
                     0);
    assert_string_equal(st_gw_auth_reason_name(ST_GW_AUTH_NOT_ALLOWED), "not-on-allow-list");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stored_psk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_identities, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
