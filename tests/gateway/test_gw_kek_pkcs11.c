/*
 * The PKCS#11 KEK (gateway/kek_pkcs11.c) against the real SoftHSM2, in a
 * private token directory (SOFTHSM2_CONF set before any C_Initialize): seal/
 * open round trip, AAD binding, tampering, the same blobs as the file backend
 * for the same key value (both ways), refusals with their reasons (wrong PIN,
 * missing token/key/module, extractable, non-sensitive, AES-128, loose PIN
 * file, duplicate key), the key's value unreadable, the registry on a
 * PKCS#11 KEK, 4 threads opening concurrently, and a timing line (median
 * st_gw_open, SoftHSM2 vs the file backend; printed, not asserted).
 *
 * ST_SOFTHSM2_MODULE overrides the module path.
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kek.h"
#include "registry.h"

#define PIN "1234-user"
#define SO_PIN "5678-so"
#define TOKEN "simtrust"

static char g_dir[64];
static char g_module[256];
static char g_pin[128], g_badpin[128], g_loosepin[128];
/* The value of the imported key "known" (and of the file KEK it must match). */
static const uint8_t k_known[32] = "0123456789abcdef0123456789ABCDEF";

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static const char *find_module(void)
{
    static const char *const cands[] = {
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    };
    const char *e = getenv("ST_SOFTHSM2_MODULE");
    if (e != NULL && e[0] != '\0')
        return e;
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (access(cands[i], R_OK) == 0)
            return cands[i];
    return NULL;
}

/* ---- raw PKCS#11, only to plant keys the library refuses to create ----- */

static CK_FUNCTION_LIST_PTR raw_fl(void)
{
    void *dl = dlopen(g_module, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(dl);
    CK_C_GetFunctionList get;
    void *sym = dlsym(dl, "C_GetFunctionList");
    memcpy(&get, &sym, sizeof(get));
    CK_FUNCTION_LIST_PTR f = NULL;
    assert_int_equal(get(&f), CKR_OK);
    return f;
}

/* Initialised, RW session on TOKEN, logged in. Only while no KEK is open. */
static CK_SESSION_HANDLE raw_open(CK_FUNCTION_LIST_PTR f)
{
    CK_C_INITIALIZE_ARGS a;
    memset(&a, 0, sizeof(a));
    a.flags = CKF_OS_LOCKING_OK;
    assert_int_equal(f->C_Initialize(&a), CKR_OK);
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, TOKEN " ", 9) == 0) {
            CK_SESSION_HANDLE s;
            assert_int_equal(f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                              NULL, NULL, &s),
                             CKR_OK);
            assert_int_equal(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN)), CKR_OK);
            return s;
        }
    }
    fail_msg("token %s not found", TOKEN);
    return 0;
}

static void raw_key(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, const char *label,
                    CK_BBOOL sensitive, CK_BBOOL extractable, size_t len)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE;
    uint8_t value[32];
    memset(value, 0x5A, sizeof(value));
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},         {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)label, strlen(label)}, {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},       {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
        {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},       {CKA_DECRYPT, &yes, sizeof(yes)},
        {CKA_VALUE, value, len},
    };
    CK_OBJECT_HANDLE h;
    assert_int_equal(f->C_CreateObject(s, t, sizeof(t) / sizeof(t[0]), &h), CKR_OK);
}

/* ---- fixture ------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    const char *m = find_module();
    if (m == NULL) {
        fprintf(stderr, "SoftHSM2 is not installed (scripts/setup.sh installs softhsm2)\n");
        return -1;
    }
    snprintf(g_module, sizeof(g_module), "%s", m);
    strcpy(g_dir, "/tmp/st-p11-XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        return -1;
    char p[256], conf[512], cmd[1024];
    snprintf(p, sizeof(p), "%s/tokens", g_dir);
    mkdir(p, 0700);
    snprintf(conf, sizeof(conf),
             "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
             "slots.removable = false\n",
             g_dir);
    snprintf(p, sizeof(p), "%s/softhsm2.conf", g_dir);
    write_file(p, conf, 0600);
    setenv("SOFTHSM2_CONF", p, 1);
    snprintf(cmd, sizeof(cmd),
             "softhsm2-util --init-token --free --label %s --pin %s --so-pin %s >/dev/null",
             TOKEN, PIN, SO_PIN);
    if (system(cmd) != 0) {
        fprintf(stderr, "softhsm2-util --init-token failed\n");
        return -1;
    }
    snprintf(cmd, sizeof(cmd),
             "softhsm2-util --init-token --free --label other --pin %s --so-pin %s >/dev/null",
             PIN, SO_PIN);
    if (system(cmd) != 0)
        return -1;
    snprintf(g_pin, sizeof(g_pin), "%s/pin", g_dir);
    write_file(g_pin, PIN "\n", 0600);
    snprintf(g_badpin, sizeof(g_badpin), "%s/badpin", g_dir);
    write_file(g_badpin, "0000-wrong\n", 0600);
    snprintf(g_loosepin, sizeof(g_loosepin), "%s/loosepin", g_dir);
    write_file(g_loosepin, PIN "\n", 0644);

    /* Keys the library must refuse, planted directly. */
    CK_FUNCTION_LIST_PTR f = raw_fl();
    CK_SESSION_HANDLE s = raw_open(f);
    raw_key(f, s, "leaky", CK_TRUE, CK_TRUE, 32);   /* sensitive but extractable */
    raw_key(f, s, "plain", CK_FALSE, CK_FALSE, 32); /* value readable */
    raw_key(f, s, "short", CK_TRUE, CK_FALSE, 16);  /* AES-128 */
    raw_key(f, s, "twice", CK_TRUE, CK_FALSE, 32);
    raw_key(f, s, "twice", CK_TRUE, CK_FALSE, 32);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);

    /* The KEK as operators make it (simtrust-registry kek-init), and one
     * imported with a known value for the cross-backend checks. */
    const char *why = NULL;
    if (st_gw_kek_pkcs11_create(g_module, TOKEN, "kek", g_pin, NULL, &why) != 0 ||
        st_gw_kek_pkcs11_create(g_module, TOKEN, "known", g_pin, k_known, &why) != 0) {
        fprintf(stderr, "st_gw_kek_pkcs11_create: %s\n", why);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    if (g_dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
        if (system(cmd) != 0)
            return -1;
    }
    return 0;
}

static struct st_gw_kek *open_kek(const char *label)
{
    const char *why = NULL;
    struct st_gw_kek *k = st_gw_kek_from_pkcs11(g_module, TOKEN, label, g_pin, &why);
    if (k == NULL)
        fail_msg("st_gw_kek_from_pkcs11(%s): %s", label, why);
    return k;
}

/* ---- tests -------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    (void)state;
    struct st_gw_kek *k = open_kek("kek");
    static const size_t sizes[] = {1, 16, 32, 33, 64, 1000, 4096};
    uint8_t pt[4096], blob[4096 + ST_GW_SEAL_OVERHEAD], blob2[sizeof(blob)], back[4096];
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i], bl = 0, bl2 = 0, ol = 0;
        assert_int_equal(st_gw_seal(k, (const uint8_t *)"row", 3, pt, n, blob, sizeof(blob), &bl),
                         0);
        assert_int_equal(bl, n + ST_GW_SEAL_OVERHEAD);
        assert_int_equal(blob[0], ST_GW_SEAL_VERSION);
        assert_memory_not_equal(blob + 13, pt, n < 16 ? n : 16);
        assert_int_equal(st_gw_open(k, (const uint8_t *)"row", 3, blob, bl, back, n, &ol), 0);
        assert_int_equal(ol, n);
        assert_memory_equal(back, pt, n);
        /* A fresh nonce every time. */
        assert_int_equal(
            st_gw_seal(k, (const uint8_t *)"row", 3, pt, n, blob2, sizeof(blob2), &bl2), 0);
        assert_memory_not_equal(blob + 1, blob2 + 1, 12);
    }
    /* No AAD at all works too; too small an output buffer is refused. */
    size_t bl = 0, ol = 0;
    assert_int_equal(st_gw_seal(k, NULL, 0, pt, 32, blob, sizeof(blob), &bl), 0);
    assert_int_equal(st_gw_open(k, NULL, 0, blob, bl, back, 32, &ol), 0);
    assert_memory_equal(back, pt, 32);
    assert_int_equal(st_gw_seal(k, NULL, 0, pt, 32, blob, 32 + ST_GW_SEAL_OVERHEAD - 1, &bl), -1);
    assert_int_equal(st_gw_seal(k, NULL, 0, pt, 32, blob, sizeof(blob), &bl), 0);
    assert_int_equal(st_gw_open(k, NULL, 0, blob, bl, back, 31, &ol), -1);
    st_gw_kek_free(k);
}

static void test_aad_binding(void **state)
{
    (void)state;
    struct st_gw_kek *k = open_kek("kek");
    uint8_t pt[32], blob[32 + ST_GW_SEAL_OVERHEAD], back[32];
    size_t bl = 0, ol = 0;
    memset(pt, 0xC3, sizeof(pt));
    assert_int_equal(st_gw_seal(k, (const uint8_t *)"dev/acme/1", 10, pt, 32, blob, sizeof(blob),
                                &bl),
                     0);
    memset(back, 0xEE, sizeof(back));
    assert_int_equal(st_gw_open(k, (const uint8_t *)"dev/acme/2", 10, blob, bl, back, 32, &ol),
                     -1);
    for (size_t i = 0; i < sizeof(back); i++)
        assert_int_equal(back[i], 0); /* wiped */
    assert_int_equal(st_gw_open(k, (const uint8_t *)"dev/acme/1", 9, blob, bl, back, 32, &ol), -1);
    assert_int_equal(st_gw_open(k, NULL, 0, blob, bl, back, 32, &ol), -1);
    assert_int_equal(st_gw_open(k, (const uint8_t *)"dev/acme/1", 10, blob, bl, back, 32, &ol), 0);
    assert_memory_equal(back, pt, 32);
    st_gw_kek_free(k);
}

static void test_tampered(void **state)
{
    (void)state;
    struct st_gw_kek *k = open_kek("kek");
    uint8_t pt[24], blob[24 + ST_GW_SEAL_OVERHEAD], bad[sizeof(blob)], back[24];
    size_t bl = 0, ol = 0;
    memset(pt, 0x42, sizeof(pt));
    assert_int_equal(st_gw_seal(k, (const uint8_t *)"a", 1, pt, 24, blob, sizeof(blob), &bl), 0);
    /* Every byte: version, nonce, ciphertext, tag. */
    for (size_t i = 0; i < bl; i++) {
        memcpy(bad, blob, bl);
        bad[i] ^= 0x01;
        if (st_gw_open(k, (const uint8_t *)"a", 1, bad, bl, back, sizeof(back), &ol) == 0)
            fail_msg("flipping byte %zu went unnoticed", i);
    }
    assert_int_equal(st_gw_open(k, (const uint8_t *)"a", 1, blob, bl - 1, back, 24, &ol), -1);
    assert_int_equal(st_gw_open(k, (const uint8_t *)"a", 1, blob, ST_GW_SEAL_OVERHEAD - 1, back,
                                24, &ol),
                     -1);
    /* The pool survived the failures. */
    assert_int_equal(st_gw_open(k, (const uint8_t *)"a", 1, blob, bl, back, 24, &ol), 0);
    assert_memory_equal(back, pt, 24);
    st_gw_kek_free(k);
}

/* Same key value in SoftHSM2 and in a file KEK: blobs cross both ways. */
static void test_cross_file_backend(void **state)
{
    (void)state;
    struct st_gw_kek *hsm = open_kek("known"), *file = st_gw_kek_from_bytes(k_known);
    assert_non_null(file);
    const uint8_t aad[] = "acme/meters/89882280000000000014";
    uint8_t pt[48], blob[48 + ST_GW_SEAL_OVERHEAD], back[48];
    size_t bl = 0, ol = 0;
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(0xA0 ^ i);
    assert_int_equal(st_gw_seal(hsm, aad, sizeof(aad), pt, 48, blob, sizeof(blob), &bl), 0);
    assert_int_equal(st_gw_open(file, aad, sizeof(aad), blob, bl, back, 48, &ol), 0);
    assert_memory_equal(back, pt, 48);
    assert_int_equal(st_gw_seal(file, aad, sizeof(aad), pt, 48, blob, sizeof(blob), &bl), 0);
    memset(back, 0, sizeof(back));
    assert_int_equal(st_gw_open(hsm, aad, sizeof(aad), blob, bl, back, 48, &ol), 0);
    assert_int_equal(ol, 48);
    assert_memory_equal(back, pt, 48);
    /* ... and the generated "kek" is another key: the blob does not open. */
    st_gw_kek_free(hsm);
    hsm = open_kek("kek");
    assert_int_equal(st_gw_open(hsm, aad, sizeof(aad), blob, bl, back, 48, &ol), -1);
    st_gw_kek_free(hsm);
    st_gw_kek_free(file);
}

static void want_refused(const char *module, const char *token, const char *key,
                         const char *pin, const char *want)
{
    const char *why = NULL;
    struct st_gw_kek *k = st_gw_kek_from_pkcs11(module, token, key, pin, &why);
    if (k != NULL) {
        st_gw_kek_free(k);
        fail_msg("%s/%s accepted; want \"%s\"", token, key, want);
    }
    assert_non_null(why);
    if (strstr(why, want) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", why, want);
    print_message("refused: %s\n", why);
}

/* No KEK may be open here: a logged-in token would not check the PIN again. */
static void test_refusals(void **state)
{
    (void)state;
    char want[512];
    want_refused(g_module, TOKEN, "kek", g_badpin, "PIN incorrect");
    snprintf(want, sizeof(want), "token 'nope' not found in %s", g_module);
    want_refused(g_module, "nope", "kek", g_pin, want);
    want_refused(g_module, "nope", "kek", g_pin, "'other'");
    want_refused(g_module, TOKEN, "nokey", g_pin, "key 'nokey' not found on token 'simtrust'");
    want_refused(g_module, TOKEN, "kek", NULL, "not logged in");
    want_refused(g_module, TOKEN, "leaky", g_pin, "key 'leaky' is extractable: refusing");
    want_refused(g_module, TOKEN, "plain", g_pin, "key 'plain' is not sensitive: refusing");
    want_refused(g_module, TOKEN, "short", g_pin, "not AES-256");
    want_refused(g_module, TOKEN, "twice", g_pin, "several secret keys labelled 'twice'");
    want_refused(g_module, TOKEN, "kek", g_loosepin, "readable by group or others");
    snprintf(want, sizeof(want), "%s/nopin", g_dir);
    want_refused(g_module, TOKEN, "kek", want, "No such file");
    want_refused("/nonexistent/libnope.so", TOKEN, "kek", g_pin, "cannot load PKCS#11 module");
    want_refused("libc.so.6", TOKEN, "kek", g_pin, "not a PKCS#11 module");
    want_refused(g_module, TOKEN, "", g_pin, "key label is required");
    /* kek-init does not replace a key. */
    const char *why = NULL;
    assert_int_equal(st_gw_kek_pkcs11_create(g_module, TOKEN, "kek", g_pin, NULL, &why), -1);
    assert_non_null(strstr(why, "already exists"));
    assert_int_equal(st_gw_kek_pkcs11_create(g_module, TOKEN, "k2", g_badpin, NULL, &why), -1);
    assert_non_null(strstr(why, "PIN incorrect"));
    /* After all that, the right PIN still works. */
    st_gw_kek_free(open_kek("kek"));
}

/* The generated KEK's value cannot be read out of the token. */
static void test_value_unreadable(void **state)
{
    (void)state;
    CK_FUNCTION_LIST_PTR f = raw_fl();
    CK_SESSION_HANDLE s = raw_open(f);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, "kek", 3}};
    CK_OBJECT_HANDLE h;
    CK_ULONG n = 0;
    assert_int_equal(f->C_FindObjectsInit(s, t, 2), CKR_OK);
    assert_int_equal(f->C_FindObjects(s, &h, 1, &n), CKR_OK);
    f->C_FindObjectsFinal(s);
    assert_int_equal(n, 1);
    uint8_t v[64];
    CK_BBOOL never_extractable = CK_FALSE, always_sensitive = CK_FALSE;
    CK_ATTRIBUTE a = {CKA_VALUE, v, sizeof(v)};
    assert_int_equal(f->C_GetAttributeValue(s, h, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
    CK_ATTRIBUTE b[] = {{CKA_NEVER_EXTRACTABLE, &never_extractable, 1},
                        {CKA_ALWAYS_SENSITIVE, &always_sensitive, 1}};
    assert_int_equal(f->C_GetAttributeValue(s, h, b, 2), CKR_OK);
    assert_true(never_extractable);
    assert_true(always_sensitive);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
}

/* A registry on the PKCS#11 KEK stores and resolves a PSK and a BMK; the
 * same database opens with the file KEK of the same value. */
static void test_registry(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/reg.db", g_dir);
    struct st_gw_kek *hsm = open_kek("known");
    struct st_reg *r = NULL;
    assert_int_equal(st_reg_open_sqlite(path, hsm, 5000, &r), ST_REG_OK);
    assert_int_equal(st_reg_tenant_put(r, "acme"), ST_REG_OK);
    struct st_reg_group g;
    memset(&g, 0, sizeof(g));
    strcpy(g.tenant, "acme");
    strcpy(g.id, "fleet");
    g.auth_methods = ST_REG_AUTH_PSK;
    assert_int_equal(st_reg_group_put(r, &g, ST_REG_CREATE), ST_REG_OK);
    st_reg_group_clear(&g);
    struct st_reg_device d, o;
    memset(&d, 0, sizeof(d));
    strcpy(d.tenant, "acme");
    strcpy(d.id, "dev-1");
    strcpy(d.group, "fleet");
    strcpy(d.psk_identity, "device-0001");
    memcpy(d.psk, "PSK-IN-THE-HSM-SEALED-0123456789", 32);
    d.psk_len = 32;
    assert_int_equal(st_reg_device_put(r, &d, ST_REG_CREATE), ST_REG_OK);
    assert_int_equal(st_reg_device_by_psk_identity(r, "device-0001", 11, &o), ST_REG_OK);
    assert_int_equal(o.psk_len, 32);
    assert_memory_equal(o.psk, "PSK-IN-THE-HSM-SEALED-0123456789", 32);
    st_reg_device_clear(&o);
    st_reg_close(r);
    st_gw_kek_free(hsm);

    struct st_gw_kek *file = st_gw_kek_from_bytes(k_known);
    assert_int_equal(st_reg_open_sqlite(path, file, 5000, &r), ST_REG_OK);
    assert_int_equal(st_reg_device_by_psk_identity(r, "device-0001", 11, &o), ST_REG_OK);
    assert_memory_equal(o.psk, "PSK-IN-THE-HSM-SEALED-0123456789", 32);
    st_reg_device_clear(&o);
    st_reg_close(r);
    st_gw_kek_free(file);

    struct st_gw_kek *other = open_kek("kek");
    assert_int_equal(st_reg_open_sqlite(path, other, 5000, &r), ST_REG_OK);
    assert_int_equal(st_reg_device_by_psk_identity(r, "device-0001", 11, &o), ST_REG_ECRYPTO);
    st_reg_close(r);
    st_gw_kek_free(other);
}

#define NTHREADS 4
#define NBLOBS 16
#define ROUNDS 300

struct worker {
    struct st_gw_kek *k;
    uint8_t (*blobs)[32 + ST_GW_SEAL_OVERHEAD];
    int id, errors;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < ROUNDS; i++) {
        int b = (i + w->id * 5) % NBLOBS;
        uint8_t aad[8] = {'b', (uint8_t)b}, back[32], want[32];
        size_t ol = 0;
        memset(want, b, sizeof(want));
        if (st_gw_open(w->k, aad, 2, w->blobs[b], sizeof(w->blobs[b]), back, 32, &ol) != 0 ||
            ol != 32 || memcmp(back, want, 32) != 0)
            w->errors++;
        /* A wrong AAD now and then: failures must not disturb the others. */
        if (i % 50 == 0 &&
            st_gw_open(w->k, aad, 1, w->blobs[b], sizeof(w->blobs[b]), back, 32, &ol) == 0)
            w->errors++;
        if (i % 10 == 0) {
            uint8_t blob[32 + ST_GW_SEAL_OVERHEAD];
            size_t bl;
            if (st_gw_seal(w->k, aad, 2, want, 32, blob, sizeof(blob), &bl) != 0 ||
                st_gw_open(w->k, aad, 2, blob, bl, back, 32, &ol) != 0 ||
                memcmp(back, want, 32) != 0)
                w->errors++;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct st_gw_kek *k = open_kek("kek");
    static uint8_t blobs[NBLOBS][32 + ST_GW_SEAL_OVERHEAD];
    for (int b = 0; b < NBLOBS; b++) {
        uint8_t aad[8] = {'b', (uint8_t)b}, pt[32];
        size_t bl;
        memset(pt, b, sizeof(pt));
        assert_int_equal(st_gw_seal(k, aad, 2, pt, 32, blobs[b], sizeof(blobs[b]), &bl), 0);
    }
    pthread_t th[NTHREADS];
    struct worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){k, blobs, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
    st_gw_kek_free(k);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_open_us(struct st_gw_kek *k, int n)
{
    uint8_t pt[32], blob[32 + ST_GW_SEAL_OVERHEAD], back[32];
    size_t bl = 0, ol = 0;
    memset(pt, 7, sizeof(pt));
    assert_int_equal(st_gw_seal(k, (const uint8_t *)"t", 1, pt, 32, blob, sizeof(blob), &bl), 0);
    double *t = calloc((size_t)n, sizeof(double));
    assert_non_null(t);
    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int rc = st_gw_open(k, (const uint8_t *)"t", 1, blob, bl, back, 32, &ol);
        clock_gettime(CLOCK_MONOTONIC, &b);
        assert_int_equal(rc, 0);
        t[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
    }
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    double m = t[n / 2];
    free(t);
    return m;
}

/* Not a benchmark with a threshold: one figure for the record. */
static void test_timing(void **state)
{
    (void)state;
    struct st_gw_kek *hsm = open_kek("known"), *file = st_gw_kek_from_bytes(k_known);
    median_open_us(hsm, 50); /* warm up */
    median_open_us(file, 50);
    double h = median_open_us(hsm, 2000), f = median_open_us(file, 2000);
    print_message("timing: median st_gw_open of a 32-byte PSK: SoftHSM2 %.1f us, file %.1f us "
                  "(x%.1f)\n",
                  h, f, f > 0 ? h / f : 0.0);
    st_gw_kek_free(hsm);
    st_gw_kek_free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_aad_binding),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_cross_file_backend),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_value_unreadable),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_timing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
