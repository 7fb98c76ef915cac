/*
 * Registry interface, SQLite backend (IoT.04 M2: the server middleware manages
 * the devices' public credentials; 3.3.2.2.3 Get PSK Data; scenario 5 batch
 * groups). CRUD, hot-path lookups, versions (If-Match), generation counter,
 * encryption at rest (the file never holds a PSK or BMK in clear), tampered or
 * swapped ciphertext refused, and two connections updating concurrently.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch_psk.h"
#include "registry.h"

struct fx {
    char dir[64], path[96];
    struct st_gw_kek *kek;
    struct st_reg *r;
};

static const uint8_t k_kek[32] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 9, 10, 11,
                                  12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                                  27, 28, 29, 30, 31, 32};
/* Distinctive secrets whose bytes are searched for in the database file. */
static const uint8_t k_psk[32] = "PSK-PLAINTEXT-MARKER-0123456789!";
static const uint8_t k_bmk[32] = "BMK-PLAINTEXT-MARKER-abcdefghij!";

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/st-gwreg-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/reg.db", f->dir);
    f->kek = st_gw_kek_from_bytes(k_kek);
    assert_int_equal(st_reg_open_sqlite(f->path, f->kek, 5000, &f->r), ST_REG_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[128];
    st_reg_close(f->r);
    st_gw_kek_free(f->kek);
    unlink(f->path);
    snprintf(p, sizeof(p), "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->path);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void mk_group(struct st_reg_group *g, const char *tenant, const char *id, unsigned auth)
{
    memset(g, 0, sizeof(*g));
    strcpy(g->tenant, tenant);
    strcpy(g->id, id);
    g->auth_methods = auth;
}

static void mk_device(struct st_reg_device *d, const char *tenant, const char *id,
                      const char *group)
{
    memset(d, 0, sizeof(*d));
    strcpy(d->tenant, tenant);
    strcpy(d->id, id);
    strcpy(d->group, group);
}

/* A tenant with a PSK/X.509 group "fleet" and a batch group "meters". */
static void populate(struct st_reg *r)
{
    struct st_reg_group g;
    assert_int_equal(st_reg_tenant_put(r, "energyco"), ST_REG_OK);
    mk_group(&g, "energyco", "fleet", ST_REG_AUTH_PSK | ST_REG_AUTH_X509);
    g.trust_anchors_pem = strdup("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    assert_int_equal(st_reg_group_put(r, &g, ST_REG_CREATE), ST_REG_OK);
    assert_int_equal(g.version, 1);
    st_reg_group_clear(&g);
    mk_group(&g, "energyco", "meters", ST_REG_AUTH_BATCH);
    strcpy(g.batch_vendor, "MeterCo");
    strcpy(g.batch_id, "batch-2026-11");
    g.kdf = ST_GW_KDF_HKDF_SHA256;
    memcpy(g.bmk, k_bmk, 32);
    g.bmk_len = 32;
    g.allowlist = 1;
    assert_int_equal(st_reg_group_put(r, &g, ST_REG_CREATE), ST_REG_OK);
    st_reg_group_clear(&g);
}

static void test_groups(void **state)
{
    struct fx *f = *state;
    struct st_reg_group g;
    int64_t gen0, gen1;
    assert_int_equal(st_reg_generation(f->r, &gen0), ST_REG_OK);
    populate(f->r);
    assert_int_equal(st_reg_generation(f->r, &gen1), ST_REG_OK);
    assert_true(gen1 >= gen0 + 3);

    assert_int_equal(st_reg_group_get(f->r, "energyco", "fleet", &g), ST_REG_OK);
    assert_int_equal(g.auth_methods, ST_REG_AUTH_PSK | ST_REG_AUTH_X509);
    assert_non_null(strstr(g.trust_anchors_pem, "BEGIN CERTIFICATE"));
    assert_int_equal(g.bmk_len, 0);
    st_reg_group_clear(&g);

    /* Hot path of scenario 5: batch group by (vendor, batch), BMK unsealed. */
    assert_int_equal(st_reg_group_by_batch(f->r, "MeterCo", "batch-2026-11", &g), ST_REG_OK);
    assert_string_equal(g.id, "meters");
    assert_int_equal(g.kdf, ST_GW_KDF_HKDF_SHA256);
    assert_int_equal(g.bmk_len, 32);
    assert_memory_equal(g.bmk, k_bmk, 32);
    assert_int_equal(g.allowlist, 1);
    int64_t v = g.version;
    /* If-Match: the right version updates, a stale one is refused. */
    g.allowlist = 0;
    assert_int_equal(st_reg_group_put(f->r, &g, v), ST_REG_OK);
    assert_int_equal(g.version, v + 1);
    assert_int_equal(st_reg_group_put(f->r, &g, v), ST_REG_ECONFLICT);
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_CREATE), ST_REG_EEXISTS);
    st_reg_group_clear(&g);
    assert_int_equal(st_reg_group_by_batch(f->r, "MeterCo", "other", &g), ST_REG_NOTFOUND);

    /* The same (vendor, batch) cannot belong to two groups (even across tenants). */
    assert_int_equal(st_reg_tenant_put(f->r, "waterco"), ST_REG_OK);
    mk_group(&g, "waterco", "m2", ST_REG_AUTH_BATCH);
    strcpy(g.batch_vendor, "MeterCo");
    strcpy(g.batch_id, "batch-2026-11");
    g.kdf = ST_GW_KDF_HMAC_SHA256;
    g.bmk_len = 16;
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_ANY), ST_REG_EEXISTS);
    /* Invalid records never reach the store. */
    g.kdf = 7;
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_ANY), ST_REG_EINVAL);
    g.kdf = ST_GW_KDF_HMAC_SHA256;
    strcpy(g.batch_vendor, "Meter:Co");
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_ANY), ST_REG_EINVAL);
    mk_group(&g, "nosuchtenant", "x", ST_REG_AUTH_PSK);
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_ANY), ST_REG_EREF);
    mk_group(&g, "waterco", "x", 0);
    assert_int_equal(st_reg_group_put(f->r, &g, ST_REG_ANY), ST_REG_EINVAL);
}

static int cb(void *arg, const struct st_reg_device *dev)
{
    int *seen = arg;
    assert_int_equal(dev->psk_len, 0);
    (*seen)++;
    return 0;
}

static void test_devices(void **state)
{
    struct fx *f = *state;
    struct st_reg_device d, o;
    populate(f->r);
    mk_device(&d, "energyco", "dev-1", "fleet");
    strcpy(d.iccid, "89882280000000000014");
    strcpy(d.psk_identity, "device-0001");
    memcpy(d.psk, k_psk, 32);
    d.psk_len = 32;
    d.has_spki = 1;
    memset(d.spki_sha256, 0xAB, 32);
    d.cert_pem = strdup("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert_int_equal(st_reg_device_put(f->r, &d, ST_REG_CREATE), ST_REG_OK);
    assert_int_equal(d.version, 1);
    assert_int_equal(st_reg_device_put(f->r, &d, ST_REG_CREATE), ST_REG_EEXISTS);

    /* Get PSK Data hot path: by identity, PSK unsealed. */
    assert_int_equal(st_reg_device_by_psk_identity(f->r, "device-0001", 11, &o), ST_REG_OK);
    assert_string_equal(o.id, "dev-1");
    assert_int_equal(o.psk_len, 32);
    assert_memory_equal(o.psk, k_psk, 32);
    assert_string_equal(o.iccid, "89882280000000000014");
    assert_non_null(o.cert_pem);
    st_reg_device_clear(&o);
    assert_int_equal(st_reg_device_by_psk_identity(f->r, "device-000", 10, &o), ST_REG_NOTFOUND);
    assert_int_equal(st_reg_device_by_psk_identity(f->r, "device-0001\0x", 13, &o),
                     ST_REG_NOTFOUND);
    /* X.509 hot path: by SPKI SHA-256. */
    assert_int_equal(st_reg_device_by_spki(f->r, d.spki_sha256, &o), ST_REG_OK);
    assert_string_equal(o.id, "dev-1");
    assert_int_equal(o.state, ST_REG_ENABLED);
    st_reg_device_clear(&o);

    /* Unique PSK identity and SPKI across devices. */
    struct st_reg_device d2;
    mk_device(&d2, "energyco", "dev-2", "fleet");
    strcpy(d2.psk_identity, "device-0001");
    assert_int_equal(st_reg_device_put(f->r, &d2, ST_REG_ANY), ST_REG_EEXISTS);
    d2.psk_identity[0] = 0;
    d2.has_spki = 1;
    memset(d2.spki_sha256, 0xAB, 32);
    assert_int_equal(st_reg_device_put(f->r, &d2, ST_REG_ANY), ST_REG_EEXISTS);
    d2.has_spki = 0;
    strcpy(d2.group, "nogroup");
    assert_int_equal(st_reg_device_put(f->r, &d2, ST_REG_ANY), ST_REG_EREF);
    strcpy(d2.group, "fleet");
    d2.psk_len = 16; /* PSK without identity */
    assert_int_equal(st_reg_device_put(f->r, &d2, ST_REG_ANY), ST_REG_EINVAL);
    d2.psk_len = 0;
    strcpy(d2.iccid, "12345");
    assert_int_equal(st_reg_device_put(f->r, &d2, ST_REG_ANY), ST_REG_EINVAL);
    d2.iccid[0] = 0;
    /* The batch identity syntax is reserved for derived keys (scenario 5);
     * a look-alike that is not a valid batch identity (bad Luhn) is fine. */
    strcpy(d2.psk_identity, "acme:b1:89882280000000000014");
    d2.psk_len = 16;
    assert_int_equal(st_reg_device_put(f->r, &d2, ST_REG_ANY), ST_REG_EINVAL);
    strcpy(d2.psk_identity, "acme:b1:89882280000000000017");
    assert_int_equal(st_reg_device_put(f->r, &d2, ST_REG_ANY), ST_REG_OK);
    d2.psk_identity[0] = 0;
    d2.psk_len = 0;
    assert_int_equal(st_reg_device_put(f->r, &d2, ST_REG_ANY), ST_REG_OK);

    /* Revocation with If-Match; stale versions refused; versions are ETags. */
    int64_t nv = 0;
    assert_int_equal(st_reg_device_set_state(f->r, "energyco", "dev-1", ST_REG_REVOKED, 1, &nv),
                     ST_REG_OK);
    assert_int_equal(nv, 2);
    assert_int_equal(st_reg_device_set_state(f->r, "energyco", "dev-1", ST_REG_ENABLED, 1, &nv),
                     ST_REG_ECONFLICT);
    assert_int_equal(st_reg_device_set_state(f->r, "energyco", "nope", ST_REG_ENABLED, 0, &nv),
                     ST_REG_NOTFOUND);
    assert_int_equal(st_reg_device_set_state(f->r, "energyco", "dev-1", 9, 0, &nv), ST_REG_EINVAL);
    assert_int_equal(st_reg_device_get(f->r, "energyco", "dev-1", &o), ST_REG_OK);
    assert_int_equal(o.state, ST_REG_REVOKED);
    assert_int_equal(o.version, 2);
    char etag[32];
    assert_int_equal(st_reg_etag(o.version, etag, sizeof(etag)), 4);
    assert_string_equal(etag, "\"v2\"");
    st_reg_device_clear(&o);

    /* Paging: total regardless of the page; secrets not opened in listings. */
    int64_t total = 0;
    int seen = 0;
    assert_int_equal(st_reg_device_list(f->r, "energyco", 1, 10, cb, &seen, &total), ST_REG_OK);
    assert_int_equal(total, 2);
    assert_int_equal(seen, 1);

    /* Group with devices cannot go; delete with a stale version neither. */
    assert_int_equal(st_reg_group_delete(f->r, "energyco", "fleet", 0), ST_REG_EREF);
    assert_int_equal(st_reg_device_delete(f->r, "energyco", "dev-1", 1), ST_REG_ECONFLICT);
    assert_int_equal(st_reg_device_delete(f->r, "energyco", "dev-1", 2), ST_REG_OK);
    assert_int_equal(st_reg_device_delete(f->r, "energyco", "dev-1", 0), ST_REG_NOTFOUND);
    assert_int_equal(st_reg_device_delete(f->r, "energyco", "dev-2", 0), ST_REG_OK);
    assert_int_equal(st_reg_group_delete(f->r, "energyco", "fleet", 0), ST_REG_OK);
    assert_int_equal(st_reg_group_delete(f->r, "energyco", "fleet", 0), ST_REG_NOTFOUND);
    st_reg_device_clear(&d);
}


static void test_allowlist_and_txn(void **state)
{
    struct fx *f = *state;
    populate(f->r);
    assert_int_equal(st_reg_allow_has(f->r, "energyco", "meters", "89882280000000000014"),
                     ST_REG_NOTFOUND);
    assert_int_equal(st_reg_allow_add(f->r, "energyco", "meters", "89882280000000000014"),
                     ST_REG_OK);
    assert_int_equal(st_reg_allow_add(f->r, "energyco", "meters", "89882280000000000014"),
                     ST_REG_OK); /* idempotent */
    assert_int_equal(st_reg_allow_has(f->r, "energyco", "meters", "89882280000000000014"),
                     ST_REG_OK);
    assert_int_equal(st_reg_allow_add(f->r, "energyco", "nogroup", "89882280000000000014"),
                     ST_REG_EREF);
    assert_int_equal(st_reg_allow_add(f->r, "energyco", "meters", "8988"), ST_REG_EINVAL);
    /* Outer transaction rolled back: nothing stays, generation unchanged. */
    int64_t g0, g1;
    st_reg_generation(f->r, &g0);
    assert_int_equal(st_reg_begin(f->r), ST_REG_OK);
    assert_int_equal(st_reg_allow_add(f->r, "energyco", "meters", "8944000000000000019"),
                     ST_REG_OK);
    /* A failing op inside the transaction leaves the earlier ones in place. */
    assert_int_equal(st_reg_allow_add(f->r, "energyco", "nogroup", "8944000000000000019"),
                     ST_REG_EREF);
    assert_int_equal(st_reg_allow_has(f->r, "energyco", "meters", "8944000000000000019"),
                     ST_REG_OK);
    assert_int_equal(st_reg_rollback(f->r), ST_REG_OK);
    assert_int_equal(st_reg_allow_has(f->r, "energyco", "meters", "8944000000000000019"),
                     ST_REG_NOTFOUND);
    st_reg_generation(f->r, &g1);
    assert_int_equal(g0, g1);
    assert_int_equal(st_reg_allow_remove(f->r, "energyco", "meters", "89882280000000000014"),
                     ST_REG_OK);
    assert_int_equal(st_reg_allow_has(f->r, "energyco", "meters", "89882280000000000014"),
                     ST_REG_NOTFOUND);
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    *n = 0;
    if (fp == NULL)
        return NULL;
    uint8_t *b = malloc(64 << 20);
    *n = fread(b, 1, 64 << 20, fp);
    fclose(fp);
    return b;
}

static int file_has(const char *path, const void *needle, size_t nl)
{
    size_t n;
    uint8_t *b = read_all(path, &n);
    int found = 0;
    for (size_t i = 0; b != NULL && !found && i + nl <= n; i++)
        found = memcmp(b + i, needle, nl) == 0;
    free(b);
    return found;
}

static void add_secret_device(struct st_reg *r, const char *id, const char *ident, uint8_t fill)
{
    struct st_reg_device d;
    mk_device(&d, "energyco", id, "fleet");
    strcpy(d.psk_identity, ident);
    memcpy(d.psk, k_psk, 32);
    d.psk[0] = fill;
    d.psk_len = 32;
    assert_int_equal(st_reg_device_put(r, &d, ST_REG_ANY), ST_REG_OK);
    st_reg_device_clear(&d);
}

static void test_encryption_at_rest(void **state)
{
    struct fx *f = *state;
    populate(f->r);
    add_secret_device(f->r, "dev-a", "ident-a", 'P');
    add_secret_device(f->r, "dev-b", "ident-b", 'Q');
    /* Checkpoint so both the main file and the WAL are scanned with content. */
    char wal[128];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_true(file_has(wal, "ident-a", 7) || file_has(f->path, "ident-a", 7)); /* scan works */
    assert_false(file_has(f->path, k_psk + 1, 31));
    assert_false(file_has(wal, k_psk + 1, 31));
    assert_false(file_has(f->path, k_bmk, 32));
    assert_false(file_has(wal, k_bmk, 32));
    st_reg_close(f->r);
    f->r = NULL;
    assert_false(file_has(f->path, k_psk + 1, 31));
    assert_false(file_has(f->path, k_bmk, 32));
    assert_true(file_has(f->path, "ident-b", 7));

    /* A different KEK cannot open the secrets. */
    uint8_t other[32] = {0};
    struct st_gw_kek *k2 = st_gw_kek_from_bytes(other);
    struct st_reg *r2;
    struct st_reg_device o;
    struct st_reg_group g;
    assert_int_equal(st_reg_open_sqlite(f->path, k2, 5000, &r2), ST_REG_OK);
    assert_int_equal(st_reg_device_by_psk_identity(r2, "ident-a", 7, &o), ST_REG_ECRYPTO);
    assert_int_equal(st_reg_group_by_batch(r2, "MeterCo", "batch-2026-11", &g), ST_REG_ECRYPTO);
    st_reg_close(r2);
    st_gw_kek_free(k2);

    /* Swap the sealed PSKs of two rows, then flip one ciphertext bit. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE devices SET psk=(SELECT psk FROM devices WHERE "
                                  "id='dev-b') WHERE id='dev-a'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(st_reg_open_sqlite(f->path, f->kek, 5000, &f->r), ST_REG_OK);
    assert_int_equal(st_reg_device_by_psk_identity(f->r, "ident-a", 7, &o), ST_REG_ECRYPTO);
    assert_int_equal(o.psk_len, 0);
    assert_int_equal(st_reg_device_by_psk_identity(f->r, "ident-b", 7, &o), ST_REG_OK);
    assert_int_equal(o.psk[0], 'Q');
    st_reg_device_clear(&o);
    assert_int_equal(sqlite3_exec(db,
                                  /* a byte changed for sure: 0xFF, or 0x00 where it was 0xFF
                                   * (the nonce is random: 1 run in 256 has 0xFF there) */
                                  "UPDATE devices SET psk=substr(psk,1,20)||CASE WHEN "
                                  "substr(psk,21,1)=X'FF' THEN X'00' ELSE X'FF' END||"
                                  "substr(psk,22) WHERE id='dev-b'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(st_reg_device_by_psk_identity(f->r, "ident-b", 7, &o), ST_REG_ECRYPTO);
    /* A BMK moved to another group row is refused too. */
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE groups SET id='meters2' WHERE id='meters'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(st_reg_group_by_batch(f->r, "MeterCo", "batch-2026-11", &g), ST_REG_ECRYPTO);
    sqlite3_close(db);
}

struct worker {
    const char *path;
    struct st_gw_kek *kek;
    int n, ok;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct st_reg *r;
    if (st_reg_open_sqlite(w->path, w->kek, 10000, &r) != ST_REG_OK)
        return NULL;
    for (int i = 0; i < w->n; i++) {
        struct st_reg_device d;
        if (st_reg_device_get(r, "energyco", "shared", &d) != ST_REG_OK)
            continue;
        d.state = i % 2 ? ST_REG_DISABLED : ST_REG_ENABLED;
        d.psk[0] = (uint8_t)i;
        if (st_reg_device_put(r, &d, ST_REG_ANY) == ST_REG_OK)
            w->ok++;
        st_reg_device_clear(&d);
    }
    st_reg_close(r);
    return NULL;
}

static void test_concurrency(void **state)
{
    struct fx *f = *state;
    populate(f->r);
    add_secret_device(f->r, "shared", "ident-shared", 'S');
    /* Two connections, one version: the second If-Match writer gets 412. */
    struct st_reg *r2;
    struct st_reg_device a, b;
    assert_int_equal(st_reg_open_sqlite(f->path, f->kek, 5000, &r2), ST_REG_OK);
    assert_int_equal(st_reg_device_get(f->r, "energyco", "shared", &a), ST_REG_OK);
    assert_int_equal(st_reg_device_get(r2, "energyco", "shared", &b), ST_REG_OK);
    int64_t v = a.version;
    a.state = ST_REG_DISABLED;
    b.state = ST_REG_REVOKED;
    assert_int_equal(st_reg_device_put(f->r, &a, v), ST_REG_OK);
    assert_int_equal(st_reg_device_put(r2, &b, v), ST_REG_ECONFLICT);
    int64_t ga, gb;
    st_reg_generation(f->r, &ga);
    st_reg_generation(r2, &gb);
    assert_int_equal(ga, gb); /* caches on either connection see the change */
    st_reg_device_clear(&a);
    st_reg_device_clear(&b);
    st_reg_close(r2);

    /* Two threads, two connections, unconditional updates: none lost. */
    struct worker w1 = {f->path, f->kek, 100, 0}, w2 = {f->path, f->kek, 100, 0};
    pthread_t t1, t2;
    assert_int_equal(st_reg_device_get(f->r, "energyco", "shared", &a), ST_REG_OK);
    v = a.version;
    st_reg_device_clear(&a);
    pthread_create(&t1, NULL, worker_main, &w1);
    pthread_create(&t2, NULL, worker_main, &w2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(w1.ok, 100);
    assert_int_equal(w2.ok, 100);
    assert_int_equal(st_reg_device_get(f->r, "energyco", "shared", &a), ST_REG_OK);
    assert_int_equal(a.version, v + 200);
    assert_int_equal(a.psk_len, 32);
    st_reg_device_clear(&a);
}

static void test_kek_file(void **state)
{
    struct fx *f = *state;
    char p[128];
    const char *why = NULL;
    snprintf(p, sizeof(p), "%s/kek", f->dir);
    FILE *fp = fopen(p, "w");
    fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", fp);
    fclose(fp);
    chmod(p, 0644);
    assert_null(st_gw_kek_from_file(p, &why));
    assert_non_null(strstr(why, "chmod"));
    chmod(p, 0600);
    struct st_gw_kek *k = st_gw_kek_from_file(p, &why);
    assert_non_null(k);
    uint8_t blob[64], out[32];
    size_t bl, ol;
    assert_int_equal(st_gw_seal(k, (const uint8_t *)"aad", 3, k_psk, 16, blob, sizeof(blob), &bl),
                     0);
    assert_int_equal(bl, 16 + ST_GW_SEAL_OVERHEAD);
    assert_int_equal(st_gw_open(k, (const uint8_t *)"aad", 3, blob, bl, out, sizeof(out), &ol), 0);
    assert_memory_equal(out, k_psk, 16);
    assert_int_equal(st_gw_open(k, (const uint8_t *)"aaD", 3, blob, bl, out, sizeof(out), &ol), -1);
    assert_int_equal(st_gw_open(k, (const uint8_t *)"aad", 3, blob, bl - 1, out, sizeof(out), &ol),
                     -1);
    st_gw_kek_free(k);
    fp = fopen(p, "w");
    fputs("short", fp);
    fclose(fp);
    assert_null(st_gw_kek_from_file(p, &why));
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allowlist_and_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encryption_at_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kek_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
