/*
 * PKCS#11 key-encryption key (kek.h): the KEK is an AES-256 secret key object
 * inside a token (SoftHSM2 by default, or a real HSM) that never leaves it;
 * seal/open are C_Encrypt/C_Decrypt with CKM_AES_GCM and produce the same
 * blob as the file backend (0x01 || nonce[12] || ciphertext || tag[16]).
 *
 * Modules: loaded with dlopen, C_Initialize(CKF_OS_LOCKING_OK) once per
 * process and module, shared by every KEK on that module (reference count;
 * C_Finalize when the last one is freed, and only if we initialised it). The
 * module stays mapped: C++ modules (SoftHSM2) do not all survive dlclose, and
 * a later open reuses the handle.
 *
 * Sessions: one "login" session per KEK, opened at creation and kept until
 * free, carries the user login (PKCS#11 login state belongs to the
 * application and lasts while any session to the token is open) and is used
 * for nothing else. Crypto runs on a small locked pool of sessions, opened
 * lazily (at most KEK_POOL_MAX; a caller beyond that waits): an operation
 * takes an idle session, runs C_*Init + C_Encrypt/C_Decrypt without any lock,
 * and gives it back. A pool rather than one session per thread because the
 * callers are worker threads and libmicrohttpd's per-connection threads that
 * come and go: per-thread sessions would either leak with each exited thread
 * or need a destructor racing st_gw_kek_free; the pool bounds the session
 * count and is freed in one place. A session whose operation failed is
 * closed, not reused (a failed call may leave an operation active).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kek.h"
#include "st_secret.h"

#define KEK_POOL_MAX 16
#define PIN_MAX 256
#define GCM_MAX 4096

/* ---- messages ---------------------------------------------------------- */

static _Thread_local char t_why[512];

static const char *whyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *whyf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_why, sizeof(t_why), fmt, ap);
    va_end(ap);
    return t_why;
}

static const char *rv_name(CK_RV rv)
{
    static _Thread_local char buf[32];
    switch (rv) {
    case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_DEVICE_MEMORY: return "CKR_DEVICE_MEMORY";
    case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
    case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_TOKEN_NOT_RECOGNIZED: return "CKR_TOKEN_NOT_RECOGNIZED";
    case CKR_TOKEN_WRITE_PROTECTED: return "CKR_TOKEN_WRITE_PROTECTED";
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
    case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
    case CKR_PIN_EXPIRED: return "CKR_PIN_EXPIRED";
    case CKR_USER_PIN_NOT_INITIALIZED: return "CKR_USER_PIN_NOT_INITIALIZED";
    case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
    case CKR_SESSION_COUNT: return "CKR_SESSION_COUNT";
    case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
    case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
    case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
    case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
    case CKR_TEMPLATE_INCOMPLETE: return "CKR_TEMPLATE_INCOMPLETE";
    case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
    case CKR_ATTRIBUTE_VALUE_INVALID: return "CKR_ATTRIBUTE_VALUE_INVALID";
    case CKR_ENCRYPTED_DATA_INVALID: return "CKR_ENCRYPTED_DATA_INVALID";
    case CKR_CRYPTOKI_NOT_INITIALIZED: return "CKR_CRYPTOKI_NOT_INITIALIZED";
    case CKR_CANT_LOCK: return "CKR_CANT_LOCK";
    default: snprintf(buf, sizeof(buf), "CKR 0x%lx", (unsigned long)rv); return buf;
    }
}

/* ---- modules (process-wide) ------------------------------------------- */

struct p11_module {
    CK_FUNCTION_LIST_PTR f;
    int refs;
    int owned; /* we called C_Initialize: C_Finalize when refs drops to 0 */
    struct p11_module *next;
};

static pthread_mutex_t g_mod_mu = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *g_mods;

static struct p11_module *module_acquire(const char *path, const char **why)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *e = dlerror();
        /* dlerror() names the file already */
        *why = e != NULL ? whyf("cannot load PKCS#11 module: %s", e)
                         : whyf("cannot load PKCS#11 module %s", path);
        return NULL;
    }
    CK_C_GetFunctionList get = NULL;
    void *sym = dlsym(dl, "C_GetFunctionList");
    memcpy(&get, &sym, sizeof(get)); /* object to function pointer, without a cast warning */
    CK_FUNCTION_LIST_PTR f = NULL;
    if (get == NULL || get(&f) != CKR_OK || f == NULL) {
        *why = whyf("%s is not a PKCS#11 module (no C_GetFunctionList)", path);
        return NULL; /* stays mapped: see the file comment */
    }
    pthread_mutex_lock(&g_mod_mu);
    struct p11_module *m = g_mods;
    while (m != NULL && m->f != f) /* same library under another path: same list */
        m = m->next;
    if (m == NULL) {
        m = calloc(1, sizeof(*m));
        if (m == NULL) {
            pthread_mutex_unlock(&g_mod_mu);
            *why = "out of memory";
            return NULL;
        }
        m->f = f;
        m->next = g_mods;
        g_mods = m;
    }
    if (m->refs == 0) {
        CK_C_INITIALIZE_ARGS args;
        memset(&args, 0, sizeof(args));
        args.flags = CKF_OS_LOCKING_OK;
        CK_RV rv = f->C_Initialize(&args);
        if (rv == CKR_OK) {
            m->owned = 1;
        } else if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
            m->owned = 0; /* someone else in this process: never finalise it */
        } else {
            pthread_mutex_unlock(&g_mod_mu);
            *why = whyf("C_Initialize of %s: %s", path, rv_name(rv));
            return NULL;
        }
    }
    m->refs++;
    pthread_mutex_unlock(&g_mod_mu);
    return m;
}

static void module_release(struct p11_module *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&g_mod_mu);
    if (--m->refs == 0 && m->owned) {
        m->f->C_Finalize(NULL);
        m->owned = 0;
    }
    pthread_mutex_unlock(&g_mod_mu);
}

/* ---- connecting: slot, session, login --------------------------------- */

struct p11_conn {
    struct p11_module *mod;
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session;
    int has_session;
};

static int label_is(const CK_UTF8CHAR lab[32], const char *want)
{
    size_t n = strlen(want);
    if (n > 32 || memcmp(lab, want, n) != 0)
        return 0;
    for (size_t i = n; i < 32; i++)
        if (lab[i] != ' ' && lab[i] != '\0')
            return 0;
    return 1;
}

static void label_str(const CK_UTF8CHAR lab[32], char out[33])
{
    size_t n = 32;
    memcpy(out, lab, 32);
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
        n--;
    out[n] = '\0';
}

static int find_slot(struct p11_conn *c, const char *module_path, const char *token,
                     const char **why)
{
    CK_ULONG n = 0;
    CK_RV rv = c->f->C_GetSlotList(CK_TRUE, NULL, &n);
    CK_SLOT_ID *slots = NULL;
    if (rv == CKR_OK && n > 0) {
        slots = calloc(n, sizeof(*slots));
        if (slots == NULL) {
            *why = "out of memory";
            return -1;
        }
        rv = c->f->C_GetSlotList(CK_TRUE, slots, &n);
    }
    if (rv != CKR_OK) {
        free(slots);
        *why = whyf("C_GetSlotList of %s: %s", module_path, rv_name(rv));
        return -1;
    }
    char seen[200] = "";
    size_t used = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (c->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
            !(ti.flags & CKF_TOKEN_INITIALIZED))
            continue;
        if (label_is(ti.label, token)) {
            c->slot = slots[i];
            free(slots);
            if (!(ti.flags & CKF_USER_PIN_INITIALIZED) && (ti.flags & CKF_LOGIN_REQUIRED)) {
                *why = whyf("token '%s' has no user PIN (initialise it)", token);
                return -1;
            }
            return 0;
        }
        char l[33];
        label_str(ti.label, l);
        int w = snprintf(seen + used, sizeof(seen) - used, "%s'%s'", used ? ", " : "", l);
        if (w > 0 && (size_t)w < sizeof(seen) - used)
            used += (size_t)w;
    }
    free(slots);
    *why = whyf("token '%s' not found in %s (%s%s)", token, module_path,
                used ? "tokens there: " : "no initialised token", seen);
    return -1;
}

/* Reads a PIN file: mode 0600 or stricter, one line; the trailing newline is
 * dropped. The caller wipes pin. */
static int read_pin(const char *path, char pin[PIN_MAX], size_t *len, const char **why)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = whyf("PIN file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        *why = whyf("PIN file %s: not a regular file", path);
        return -1;
    }
    if (st.st_mode & 077) {
        close(fd);
        *why = whyf("PIN file %s: readable by group or others (chmod 600)", path);
        return -1;
    }
    ssize_t n = read(fd, pin, PIN_MAX);
    close(fd);
    if (n < 0 || n == PIN_MAX) {
        *why = whyf("PIN file %s: %s", path, n < 0 ? strerror(errno) : "too long");
        return -1;
    }
    while (n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r'))
        n--;
    if (n == 0) {
        *why = whyf("PIN file %s: empty", path);
        return -1;
    }
    *len = (size_t)n;
    return 0;
}

static void conn_close(struct p11_conn *c)
{
    if (c->has_session)
        c->f->C_CloseSession(c->session);
    c->has_session = 0;
    module_release(c->mod);
    c->mod = NULL;
}

/* Module, slot of the token, one session (read-write if rw), user login
 * when pin_file is set. */
static int conn_open(struct p11_conn *c, const char *module_path, const char *token,
                     const char *pin_file, int rw, const char **why)
{
    memset(c, 0, sizeof(*c));
    if (module_path == NULL || module_path[0] == '\0' || token == NULL || token[0] == '\0') {
        *why = "PKCS#11 module and token label are required";
        return -1;
    }
    if (strlen(token) > 32) {
        *why = whyf("token label '%s' is longer than 32 bytes", token);
        return -1;
    }
    c->mod = module_acquire(module_path, why);
    if (c->mod == NULL)
        return -1;
    c->f = c->mod->f;
    if (find_slot(c, module_path, token, why) != 0)
        goto fail;
    CK_FLAGS fl = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    CK_RV rv = c->f->C_OpenSession(c->slot, fl, NULL, NULL, &c->session);
    if (rv != CKR_OK) {
        *why = whyf("token '%s': C_OpenSession: %s", token, rv_name(rv));
        goto fail;
    }
    c->has_session = 1;
    if (pin_file != NULL && pin_file[0] != '\0') {
        char pin[PIN_MAX];
        size_t pl = 0;
        if (read_pin(pin_file, pin, &pl, why) != 0) {
            st_wipe(pin, sizeof(pin));
            goto fail;
        }
        rv = c->f->C_Login(c->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)pl);
        st_wipe(pin, sizeof(pin));
        /* Already logged in: another KEK of this process on the same token. */
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            if (rv == CKR_PIN_INCORRECT)
                *why = whyf("token '%s': PIN incorrect (%s)", token, pin_file);
            else if (rv == CKR_PIN_LOCKED)
                *why = whyf("token '%s': PIN locked (too many failed logins)", token);
            else
                *why = whyf("token '%s': C_Login: %s", token, rv_name(rv));
            goto fail;
        }
    }
    return 0;
fail:
    conn_close(c);
    return -1;
}

/* Secret keys labelled label: 0 none, 1 (handle in *h), 2 several, -1 error. */
static int find_key(struct p11_conn *c, const char *label, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    if (c->f->C_FindObjectsInit(c->session, tmpl, 2) != CKR_OK)
        return -1;
    CK_RV rv = c->f->C_FindObjects(c->session, found, 2, &n);
    c->f->C_FindObjectsFinal(c->session);
    if (rv != CKR_OK)
        return -1;
    if (n >= 1)
        *h = found[0];
    return (int)n;
}

static int get_ulong(struct p11_conn *c, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t, CK_ULONG *v)
{
    CK_ATTRIBUTE a = {t, v, sizeof(*v)};
    return c->f->C_GetAttributeValue(c->session, h, &a, 1) == CKR_OK &&
                   a.ulValueLen == sizeof(*v)
               ? 0
               : -1;
}

/* -1 unknown, 0 false, 1 true */
static int get_bool(struct p11_conn *c, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t)
{
    CK_BBOOL b = CK_FALSE;
    CK_ATTRIBUTE a = {t, &b, sizeof(b)};
    if (c->f->C_GetAttributeValue(c->session, h, &a, 1) != CKR_OK || a.ulValueLen != sizeof(b))
        return -1;
    return b == CK_TRUE;
}

/* ---- the KEK ------------------------------------------------------------ */

struct p11_kek {
    struct p11_conn conn; /* the login session; never used for crypto */
    CK_OBJECT_HANDLE key;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    CK_SESSION_HANDLE idle[KEK_POOL_MAX];
    int nidle, nopen;
};

/* An idle session of the pool, or a new one; waits when KEK_POOL_MAX are busy. */
static int pool_take(struct p11_kek *k, CK_SESSION_HANDLE *s)
{
    pthread_mutex_lock(&k->mu);
    while (k->nidle == 0 && k->nopen >= KEK_POOL_MAX)
        pthread_cond_wait(&k->cv, &k->mu);
    if (k->nidle > 0) {
        *s = k->idle[--k->nidle];
        pthread_mutex_unlock(&k->mu);
        return 0;
    }
    k->nopen++;
    pthread_mutex_unlock(&k->mu);
    if (k->conn.f->C_OpenSession(k->conn.slot, CKF_SERIAL_SESSION, NULL, NULL, s) == CKR_OK)
        return 0;
    pthread_mutex_lock(&k->mu);
    k->nopen--;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    return -1;
}

/* Back to the pool when the operation went through; closed otherwise. */
static void pool_give(struct p11_kek *k, CK_SESSION_HANDLE s, int ok)
{
    if (!ok)
        k->conn.f->C_CloseSession(s);
    pthread_mutex_lock(&k->mu);
    if (ok)
        k->idle[k->nidle++] = s;
    else
        k->nopen--;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static void gcm_mech(CK_MECHANISM *m, CK_GCM_PARAMS *p, const uint8_t *iv, const uint8_t *aad,
                     size_t aad_len)
{
    memset(p, 0, sizeof(*p));
    p->pIv = (CK_BYTE_PTR)iv;
    p->ulIvLen = 12;
    p->ulIvBits = 96;
    p->pAAD = aad_len ? (CK_BYTE_PTR)aad : NULL;
    p->ulAADLen = aad_len;
    p->ulTagBits = 128;
    m->mechanism = CKM_AES_GCM;
    m->pParameter = p;
    m->ulParameterLen = sizeof(*p);
}

static int p11_seal(void *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                    size_t pt_len, uint8_t *out, size_t cap, size_t *out_len)
{
    struct p11_kek *k = ctx;
    CK_SESSION_HANDLE s;
    if (pt_len > GCM_MAX || cap < pt_len + ST_GW_SEAL_OVERHEAD || aad_len > GCM_MAX)
        return -1;
    out[0] = ST_GW_SEAL_VERSION;
    if (RAND_bytes(out + 1, 12) != 1 || pool_take(k, &s) != 0)
        return -1;
    CK_GCM_PARAMS p;
    CK_MECHANISM m;
    gcm_mech(&m, &p, out + 1, aad, aad_len);
    CK_ULONG olen = (CK_ULONG)(cap - 13);
    int ok = k->conn.f->C_EncryptInit(s, &m, k->key) == CKR_OK &&
             k->conn.f->C_Encrypt(s, (CK_BYTE_PTR)pt, (CK_ULONG)pt_len, out + 13, &olen) ==
                 CKR_OK &&
             olen == pt_len + 16;
    pool_give(k, s, ok);
    if (!ok)
        return -1;
    *out_len = pt_len + ST_GW_SEAL_OVERHEAD;
    return 0;
}

static int p11_open(void *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *blob,
                    size_t blob_len, uint8_t *out, size_t cap, size_t *out_len)
{
    struct p11_kek *k = ctx;
    CK_SESSION_HANDLE s;
    if (blob_len < ST_GW_SEAL_OVERHEAD || blob[0] != ST_GW_SEAL_VERSION || aad_len > GCM_MAX)
        return -1;
    size_t ct_len = blob_len - ST_GW_SEAL_OVERHEAD;
    if (ct_len > cap || ct_len > GCM_MAX || pool_take(k, &s) != 0)
        return -1;
    /* Modules differ in how much room they want for the tag: decrypt into a
     * buffer of the whole input, then copy the plaintext out. */
    uint8_t tmp[GCM_MAX + 16];
    CK_GCM_PARAMS p;
    CK_MECHANISM m;
    gcm_mech(&m, &p, blob + 1, aad, aad_len);
    CK_ULONG olen = sizeof(tmp);
    int ok = k->conn.f->C_DecryptInit(s, &m, k->key) == CKR_OK &&
             k->conn.f->C_Decrypt(s, (CK_BYTE_PTR)(blob + 13), (CK_ULONG)(ct_len + 16), tmp,
                                  &olen) == CKR_OK &&
             olen == ct_len;
    pool_give(k, s, ok);
    if (ok)
        memcpy(out, tmp, ct_len);
    st_wipe(tmp, ct_len + 16 < sizeof(tmp) ? ct_len + 16 : sizeof(tmp));
    if (!ok) {
        st_wipe(out, ct_len);
        return -1;
    }
    *out_len = ct_len;
    return 0;
}

/* The caller guarantees no seal/open is in flight. */
static void p11_free(void *ctx)
{
    struct p11_kek *k = ctx;
    if (k == NULL)
        return;
    for (int i = 0; i < k->nidle; i++)
        k->conn.f->C_CloseSession(k->idle[i]);
    conn_close(&k->conn); /* the last session to the token closes: logged out */
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

static const struct st_gw_kek_ops k_p11_ops = {p11_seal, p11_open, p11_free};

struct st_gw_kek *st_gw_kek_from_pkcs11(const char *module_path, const char *token_label,
                                        const char *key_label, const char *pin_file,
                                        const char **why_out)
{
    const char *dummy;
    const char **why = why_out != NULL ? why_out : &dummy;
    if (key_label == NULL || key_label[0] == '\0') {
        *why = "PKCS#11 key label is required";
        return NULL;
    }
    struct p11_kek *k = calloc(1, sizeof(*k));
    struct st_gw_kek *kek = calloc(1, sizeof(*kek));
    if (k == NULL || kek == NULL) {
        free(k);
        free(kek);
        *why = "out of memory";
        return NULL;
    }
    if (conn_open(&k->conn, module_path, token_label, pin_file, 0, why) != 0) {
        free(k);
        free(kek);
        return NULL;
    }
    struct p11_conn *c = &k->conn;
    const char *tok = token_label;
    CK_ULONG type = 0, len = 0;
    int nk = find_key(c, key_label, &k->key);
    if (nk < 0) {
        *why = whyf("token '%s': searching for key '%s' failed", tok, key_label);
        goto fail;
    }
    if (nk == 0) {
        *why = whyf("key '%s' not found on token '%s'%s", key_label, tok,
                    pin_file == NULL || pin_file[0] == '\0' ? " (no PIN given: not logged in)"
                                                             : "");
        goto fail;
    }
    if (nk > 1) {
        *why = whyf("token '%s' holds several secret keys labelled '%s': refusing", tok,
                    key_label);
        goto fail;
    }
    if (get_ulong(c, k->key, CKA_KEY_TYPE, &type) != 0 || type != CKK_AES) {
        *why = whyf("key '%s' is not an AES key", key_label);
        goto fail;
    }
    if (get_ulong(c, k->key, CKA_VALUE_LEN, &len) != 0 || len != 32) {
        *why = whyf("key '%s' is not AES-256 (%lu bytes): refusing", key_label,
                    (unsigned long)len);
        goto fail;
    }
    if (get_bool(c, k->key, CKA_EXTRACTABLE) != 0) {
        *why = whyf("key '%s' is extractable: refusing (the KEK must never leave the token)",
                    key_label);
        goto fail;
    }
    if (get_bool(c, k->key, CKA_SENSITIVE) != 1) {
        *why = whyf("key '%s' is not sensitive: refusing (its value would be readable)",
                    key_label);
        goto fail;
    }
    if (get_bool(c, k->key, CKA_ENCRYPT) != 1 || get_bool(c, k->key, CKA_DECRYPT) != 1) {
        *why = whyf("key '%s' does not allow encrypt and decrypt", key_label);
        goto fail;
    }
    CK_MECHANISM_INFO mi;
    if (c->f->C_GetMechanismInfo(c->slot, CKM_AES_GCM, &mi) != CKR_OK ||
        !(mi.flags & CKF_ENCRYPT) || !(mi.flags & CKF_DECRYPT)) {
        *why = whyf("token '%s' does not support CKM_AES_GCM", tok);
        goto fail;
    }
    if (pthread_mutex_init(&k->mu, NULL) != 0) {
        *why = "mutex";
        goto fail;
    }
    if (pthread_cond_init(&k->cv, NULL) != 0) {
        pthread_mutex_destroy(&k->mu);
        *why = "condition variable";
        goto fail;
    }
    kek->ops = &k_p11_ops;
    kek->ctx = k;
    /* One round trip now, so that a key or a module that cannot do AES-GCM
     * with AAD fails here and not on the first device. */
    static const uint8_t aad[] = "simtrust kek self-test";
    uint8_t probe[ST_GW_SEAL_OVERHEAD + 1], back[1];
    size_t pl = 0, bl = 0;
    if (p11_seal(k, aad, sizeof(aad), (const uint8_t *)"k", 1, probe, sizeof(probe), &pl) != 0 ||
        p11_open(k, aad, sizeof(aad) - 1, probe, pl, back, sizeof(back), &bl) == 0 ||
        p11_open(k, aad, sizeof(aad), probe, pl, back, sizeof(back), &bl) != 0 || back[0] != 'k') {
        *why = whyf("key '%s': AES-GCM self-test on token '%s' failed", key_label, tok);
        p11_free(k);
        free(kek);
        return NULL;
    }
    return kek;
fail:
    conn_close(c);
    free(k);
    free(kek);
    return NULL;
}

int st_gw_kek_pkcs11_create(const char *module_path, const char *token_label,
                            const char *key_label, const char *pin_file, const uint8_t *value,
                            const char **why_out)
{
    const char *dummy;
    const char **why = why_out != NULL ? why_out : &dummy;
    struct p11_conn c;
    if (key_label == NULL || key_label[0] == '\0') {
        *why = "PKCS#11 key label is required";
        return -1;
    }
    if (pin_file == NULL || pin_file[0] == '\0') {
        *why = "a PIN file is required to create a key";
        return -1;
    }
    if (conn_open(&c, module_path, token_label, pin_file, 1, why) != 0)
        return -1;
    CK_OBJECT_HANDLE h;
    int nk = find_key(&c, key_label, &h);
    if (nk != 0) {
        *why = nk < 0 ? whyf("token '%s': searching for key '%s' failed", token_label, key_label)
                      : whyf("key '%s' already exists on token '%s': refusing to replace it",
                             key_label, token_label);
        conn_close(&c);
        return -1;
    }
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG vlen = 32;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)key_label, strlen(key_label)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},
        {CKA_WRAP, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},
        {CKA_MODIFIABLE, &no, sizeof(no)},
        {value != NULL ? CKA_VALUE : CKA_VALUE_LEN,
         value != NULL ? (void *)value : (void *)&vlen,
         value != NULL ? 32 : sizeof(vlen)},
    };
    CK_ULONG nt = sizeof(t) / sizeof(t[0]);
    CK_RV rv;
    if (value != NULL) {
        rv = c.f->C_CreateObject(c.session, t, nt, &h);
    } else {
        CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
        rv = c.f->C_GenerateKey(c.session, &m, t, nt, &h);
    }
    conn_close(&c);
    if (rv != CKR_OK) {
        *why = whyf("token '%s': %s of key '%s': %s", token_label,
                    value != NULL ? "C_CreateObject" : "C_GenerateKey", key_label, rv_name(rv));
        return -1;
    }
    return 0;
}
