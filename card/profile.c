/*
 * Factory personalisation (IoT.04 G1 key pairs with or without certificates,
 * K1 PSKs with their identities): a JSON profile becomes a card state.
 * Format and defaults: docs/profile.md. Every field is checked; an error
 * names its path, e.g. `private_keys[1].type: unknown type "p384"`.
 */
#include "profile.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "card_crypto.h"
#include "profile_internal.h"
#include "st_hex.h"
#include "st_secret.h"

#define MAX_SLOTS 16 /* the largest table (files) */

_Static_assert(ST_MAX_FILES <= MAX_SLOTS && ST_MAX_PRIVATE_KEYS <= MAX_SLOTS &&
                   ST_MAX_PUBLIC_KEYS <= MAX_SLOTS && ST_MAX_SECRET_KEYS <= MAX_SLOTS,
               "origin table too small");

struct pctx {
    struct st_card_state *s;
    const char *base_dir;
    char *err;
    size_t err_len;
    char where[40]; /* the object being read, "private_keys[1]"; "" at top level */
    /* Which profile field created each object, for duplicate messages. */
    char origin[ST_OBJ_KINDS][MAX_SLOTS][64];
};

static const char *const kind_names[ST_OBJ_KINDS] = {"private key", "public key", "file",
                                                     "secret key"};

/* ---- errors ---- */

/* A user string made safe and short for an error message. */
static void quote(const char *in, size_t len, char out[48])
{
    size_t n = 0;
    for (size_t i = 0; i < len && n < 40; i++)
        out[n++] = isprint((unsigned char)in[i]) ? in[i] : '?';
    if (len > 40) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int fail(struct pctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct pctx *c, const char *field, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->err == NULL || c->err_len == 0)
        return -1;
    if (c->where[0] != '\0' && field != NULL)
        snprintf(c->err, c->err_len, "%s.%s: %s", c->where, field, msg);
    else if (c->where[0] != '\0' || field != NULL)
        snprintf(c->err, c->err_len, "%s: %s", c->where[0] != '\0' ? c->where : field, msg);
    else
        snprintf(c->err, c->err_len, "%s", msg);
    return -1;
}

/* ---- name tables ---- */

struct name_val {
    const char *name;
    unsigned val;
};

static const struct name_val key_types[] = {
    {"p256", ST_KEY_P256},          {"p256-volatile", ST_KEY_P256_VOLATILE},
    {"brainpool256", ST_KEY_BP256}, {"brainpool256-volatile", ST_KEY_BP256_VOLATILE},
    {"rsa2048", ST_KEY_RSA2048},    {NULL, 0},
};
static const struct name_val secret_types[] = {{"hmac", ST_KEY_HMAC}, {NULL, 0}};
static const struct name_val key_usages[] = {
    {"general", ST_USAGE_GENERAL}, {"tls12", ST_USAGE_TLS12}, {"tls13", ST_USAGE_TLS13}, {NULL, 0}};
static const struct name_val file_usages[] = {
    {"general", ST_FILE_GENERAL}, {"certificate", ST_FILE_CERTIFICATE}, {NULL, 0}};
static const struct name_val function_bits[] = {
    {"sign", ST_FN_SIGN},
    {"keygen", ST_FN_KEYGEN},
    {"key_agreement", ST_FN_KEY_AGREEMENT},
    {"key_derivation", ST_FN_KEY_DERIVATION},
    {NULL, 0},
};
static const struct name_val access_bits[] = {
    {"read", ST_ACCESS_READ}, {"update", ST_ACCESS_UPDATE}, {NULL, 0}};
static const struct name_val hash_bits[] = {
    {"sha256", ST_HASH_SHA256}, {"sha384", ST_HASH_SHA384}, {"sha512", ST_HASH_SHA512}, {NULL, 0}};
static const struct name_val sig_bits[] = {{"rsa_pkcs1", ST_SIG_RSA_PKCS1},
                                           {"rsa_pss", ST_SIG_RSA_PSS},
                                           {"ecdsa", ST_SIG_ECDSA},
                                           {NULL, 0}};
static const struct name_val kd_bits[] = {
    {"prf_sha256", ST_KD_PRF_SHA256}, {"hkdf", ST_KD_HKDF}, {NULL, 0}};

const char *st_profile_type_name(uint8_t key_type)
{
    for (const struct name_val *t = key_types; t->name != NULL; t++)
        if (t->val == key_type)
            return t->name;
    return key_type == ST_KEY_HMAC ? "hmac" : NULL;
}

static bool lookup(const struct name_val *t, const char *name, unsigned *val)
{
    for (; t->name != NULL; t++) {
        if (strcmp(t->name, name) == 0) {
            *val = t->val;
            return true;
        }
    }
    return false;
}

/* ---- typed field access: 1 present, 0 absent, -1 error (reported) ---- */

static int check_fields(struct pctx *c, json_t *obj, const char *const *allowed)
{
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        bool ok = strcmp(key, "comment") == 0; /* free text, ignored everywhere */
        for (size_t i = 0; !ok && allowed[i] != NULL; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char q[48];
            quote(key, strlen(key), q);
            return fail(c, q, "unknown field");
        }
    }
    return 0;
}

static int opt_string(struct pctx *c, json_t *obj, const char *field, const char **out, size_t *len)
{
    json_t *v = json_object_get(obj, field);
    *out = NULL;
    *len = 0;
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return fail(c, field, "must be a string");
    *out = json_string_value(v);
    *len = json_string_length(v);
    return 1;
}

static int req_string(struct pctx *c, json_t *obj, const char *field, const char **out, size_t *len)
{
    int rc = opt_string(c, obj, field, out, len);
    return rc == 0 ? fail(c, field, "required") : rc;
}

/* A string naming one value of t ("usage": "tls13"). */
static int opt_enum(struct pctx *c, json_t *obj, const char *field, const struct name_val *t,
                    const char *what, unsigned *val)
{
    const char *s;
    size_t n;
    int rc = opt_string(c, obj, field, &s, &n);
    if (rc != 1)
        return rc;
    if (strlen(s) != n || !lookup(t, s, val)) {
        char q[48];
        quote(s, n, q);
        return fail(c, field, "unknown %s \"%s\"", what, q);
    }
    return 1;
}

/* An array of names whose values are OR'ed ("functions": ["sign", "keygen"]). */
static int opt_flags(struct pctx *c, json_t *obj, const char *field, const struct name_val *t,
                     const char *what, unsigned *val)
{
    json_t *a = json_object_get(obj, field), *e;
    size_t i;
    if (a == NULL)
        return 0;
    if (!json_is_array(a))
        return fail(c, field, "must be an array of strings");
    unsigned acc = 0;
    for (i = 0; i < json_array_size(a); i++) {
        e = json_array_get(a, i);
        unsigned bit;
        if (!json_is_string(e))
            return fail(c, field, "must be an array of strings");
        const char *s = json_string_value(e);
        if (strlen(s) != json_string_length(e) || !lookup(t, s, &bit)) {
            char q[48];
            quote(s, json_string_length(e), q);
            return fail(c, field, "unknown %s \"%s\"", what, q);
        }
        acc |= bit;
    }
    *val = acc;
    return 1;
}

static int opt_bool(struct pctx *c, json_t *obj, const char *field, bool *val)
{
    json_t *v = json_object_get(obj, field);
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return fail(c, field, "must be true or false");
    *val = json_is_true(v);
    return 1;
}

/* Hex of min..max bytes into out. */
static int hex_field(struct pctx *c, const char *field, const char *s, size_t n, uint8_t *out,
                     size_t min, size_t max, size_t *out_len)
{
    long got = st_hex_decode(s, n, out, max);
    *out_len = 0;
    if (got < 0 || (size_t)got < min)
        return fail(c, field, "must be %zu to %zu bytes of hex", min, max);
    *out_len = (size_t)got;
    return 0;
}

/* An object ID: 1..20 bytes of hex (IoT SAFE reference §2). */
static int id_field(struct pctx *c, json_t *obj, const char *field, bool required, uint8_t *id,
                    uint8_t *id_len)
{
    const char *s;
    size_t n, got;
    int rc = required ? req_string(c, obj, field, &s, &n) : opt_string(c, obj, field, &s, &n);
    if (rc != 1)
        return rc;
    if (hex_field(c, field, s, n, id, 1, ST_ID_MAX, &got) != 0)
        return -1;
    *id_len = (uint8_t)got;
    return 1;
}

/* A label: printable ASCII, 1..60 bytes. */
static int label_field(struct pctx *c, json_t *obj, uint8_t *label, uint8_t *label_len)
{
    const char *s;
    size_t n;
    int rc = opt_string(c, obj, "label", &s, &n);
    if (rc != 1)
        return rc;
    if (n == 0 || n > ST_LABEL_MAX)
        return fail(c, "label", "must be 1 to %d characters", ST_LABEL_MAX);
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7E)
            return fail(c, "label", "must be printable ASCII");
    memcpy(label, s, n);
    *label_len = (uint8_t)n;
    return 1;
}

/* ---- objects ---- */

struct ref {
    uint8_t id[ST_ID_MAX], id_len;
    uint8_t label[ST_LABEL_MAX], label_len;
};

/*
 * Allocates an object of kind with the reference r, refusing a duplicate ID
 * or label within the kind (IoT SAFE: references are unique per type, E5).
 * id_field names the field that gave the ID; origin is recorded for later
 * duplicate messages.
 */
static struct st_object *add_object(struct pctx *c, enum st_obj_kind kind, const struct ref *r,
                                    const char *id_field_name, const char *origin)
{
    struct st_object *t = st_objects_table(c->s, kind);
    size_t cap = st_objects_capacity(kind);
    for (size_t i = 0; i < cap; i++) {
        if (!t[i].in_use)
            continue;
        if (t[i].id_len == r->id_len && memcmp(t[i].id, r->id, r->id_len) == 0) {
            char hex[2 * ST_ID_MAX + 1];
            st_hex_encode(r->id, r->id_len, hex);
            fail(c, id_field_name, "duplicate %s ID %s (already used by %s)", kind_names[kind], hex,
                 c->origin[kind][i]);
            return NULL;
        }
        if (r->label_len > 0 && t[i].label_len == r->label_len &&
            memcmp(t[i].label, r->label, r->label_len) == 0) {
            fail(c, "label", "duplicate %s label \"%.*s\" (already used by %s)", kind_names[kind],
                 (int)r->label_len, (const char *)r->label, c->origin[kind][i]);
            return NULL;
        }
    }
    struct st_object *o = st_objects_alloc(c->s, kind);
    if (o == NULL) {
        fail(c, id_field_name, "too many %ss (the card holds %zu)", kind_names[kind], cap);
        return NULL;
    }
    snprintf(c->origin[kind][o - t], sizeof(c->origin[0][0]), "%s", origin);
    memcpy(o->id, r->id, r->id_len);
    o->id_len = r->id_len;
    memcpy(o->label, r->label, r->label_len);
    o->label_len = r->label_len;
    return o;
}

static void set_value(struct st_object *o, const uint8_t *v, size_t n)
{
    memcpy(o->value, v, n);
    o->value_len = (uint16_t)n;
    o->state = n > 0 ? ST_STATE_ACTIVATED : ST_STATE_EMPTY;
}

static bool is_ec(uint8_t key_type)
{
    return key_type != ST_KEY_RSA2048;
}

/* Public key attribute defaults (docs/profile.md): verify use, read access. */
static void public_defaults(struct st_object *o, uint8_t key_type, uint8_t usage)
{
    o->key_type = key_type;
    o->usage = usage;
    o->functions = ST_FN_SIGN;
    o->access =
        st_key_type_is_volatile(key_type) ? ST_ACCESS_READ | ST_ACCESS_UPDATE : ST_ACCESS_READ;
    o->hash_algos = ST_HASH_SHA256 | ST_HASH_SHA384 | ST_HASH_SHA512;
    o->sig_algos = is_ec(key_type) ? ST_SIG_ECDSA : ST_SIG_RSA_PKCS1 | ST_SIG_RSA_PSS;
    o->key_agreement = is_ec(key_type) ? ST_KA_ECKA : 0;
}

/* The optional attribute overrides common to keys. */
static int key_overrides(struct pctx *c, json_t *obj, struct st_object *o, bool usage_ok)
{
    unsigned usage = o->usage, functions = o->functions, access = o->access;
    unsigned hash = o->hash_algos, sig = o->sig_algos;
    if ((usage_ok && opt_enum(c, obj, "usage", key_usages, "usage", &usage) < 0) ||
        opt_flags(c, obj, "functions", function_bits, "function", &functions) < 0 ||
        opt_flags(c, obj, "access", access_bits, "access right", &access) < 0 ||
        opt_flags(c, obj, "hash_algos", hash_bits, "hash algorithm", &hash) < 0 ||
        opt_flags(c, obj, "sig_algos", sig_bits, "signature algorithm", &sig) < 0)
        return -1;
    o->usage = (uint8_t)usage;
    o->functions = (uint8_t)functions;
    o->access = (uint8_t)access;
    o->hash_algos = (uint16_t)hash;
    o->sig_algos = (uint8_t)sig;
    return 0;
}

/* The bytes of a value source, malloc'd; the caller wipes and frees them. */
struct source {
    const char *field; /* "pem", "pem_file", "der_file", "hex"; NULL = none */
    uint8_t *buf;
    size_t len;
};

static void source_free(struct source *src)
{
    if (src->buf != NULL)
        st_wipe(src->buf, src->len);
    free(src->buf);
    src->buf = NULL;
}

/* Reads the one value source given among pem, pem_file, der_file, hex (those in fields). */
static int get_source(struct pctx *c, json_t *obj, const char *const *fields, struct source *src)
{
    memset(src, 0, sizeof(*src));
    const char *s = NULL;
    size_t n = 0;
    for (size_t i = 0; fields[i] != NULL; i++) {
        const char *v;
        size_t vl;
        int rc = opt_string(c, obj, fields[i], &v, &vl);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        if (src->field != NULL)
            return fail(c, fields[i], "cannot be combined with \"%s\"", src->field);
        src->field = fields[i];
        s = v;
        n = vl;
    }
    if (src->field == NULL)
        return 0;
    char why[300];
    if (strcmp(src->field, "pem") == 0) {
        src->buf = malloc(n + 1);
        if (src->buf == NULL)
            return fail(c, src->field, "out of memory");
        memcpy(src->buf, s, n);
        src->len = n;
    } else if (strcmp(src->field, "hex") == 0) {
        src->buf = malloc(n / 2 + 1);
        if (src->buf == NULL)
            return fail(c, src->field, "out of memory");
        long got = st_hex_decode(s, n, src->buf, n / 2 + 1);
        if (got <= 0) {
            source_free(src);
            return fail(c, "hex", "must be bytes in hex");
        }
        src->len = (size_t)got;
    } else {
        if (strlen(s) != n)
            return fail(c, src->field, "bad path");
        if (st_profile_read_file(c->base_dir, s, &src->buf, &src->len, why, sizeof(why)) != 0)
            return fail(c, src->field, "%s", why);
    }
    return 1;
}

static const char *const key_sources[] = {"pem", "pem_file", "der_file", "hex", NULL};

static int key_type_field(struct pctx *c, json_t *obj, uint8_t *key_type)
{
    const char *s;
    size_t n;
    unsigned v;
    if (req_string(c, obj, "type", &s, &n) != 1)
        return -1;
    if (strlen(s) != n || !lookup(key_types, s, &v)) {
        char q[48];
        quote(s, n, q);
        return fail(c, "type", "unknown type \"%s\"", q);
    }
    *key_type = (uint8_t)v;
    return 0;
}

static int read_ref(struct pctx *c, json_t *obj, struct ref *r)
{
    memset(r, 0, sizeof(*r));
    if (id_field(c, obj, "id", true, r->id, &r->id_len) < 0)
        return -1;
    return label_field(c, obj, r->label, &r->label_len) < 0 ? -1 : 0;
}

static int build_private(struct pctx *c, json_t *obj)
{
    static const char *const fields[] = {"id",        "label",     "type",       "usage",
                                         "functions", "access",    "hash_algos", "sig_algos",
                                         "generate",  "pem",       "pem_file",   "der_file",
                                         "hex",       "public_id", NULL};
    struct ref r, pub_ref;
    uint8_t type;
    bool generate = false;
    struct source src;
    int rc = -1;
    uint8_t pv[ST_PRIV_MAX], pb[ST_PUB_MAX];
    uint16_t pv_len = 0, pb_len = 0;

    if (check_fields(c, obj, fields) != 0 || read_ref(c, obj, &r) != 0 ||
        key_type_field(c, obj, &type) != 0 || opt_bool(c, obj, "generate", &generate) < 0)
        return -1;
    memset(&pub_ref, 0, sizeof(pub_ref));
    int has_pub = id_field(c, obj, "public_id", false, pub_ref.id, &pub_ref.id_len);
    if (has_pub < 0 || get_source(c, obj, key_sources, &src) < 0)
        return -1;
    /* GENERATE KEY PAIR refreshes the public key with the private key's ID,
     * so a pair under two IDs would drift apart after on-card generation. */
    if (has_pub == 1 && (pub_ref.id_len != r.id_len || memcmp(pub_ref.id, r.id, r.id_len) != 0)) {
        fail(c, "public_id", "must equal the private key's id (the pair shares one ID)");
        goto out;
    }
    if (generate && src.field != NULL) {
        fail(c, "generate", "cannot be combined with \"%s\"", src.field);
        goto out;
    }
    if (st_key_type_is_volatile(type) && (generate || src.field != NULL)) {
        fail(c, generate ? "generate" : src.field,
             "a volatile key has no stored value (it is generated at run time)");
        goto out;
    }
    struct st_object *o = add_object(c, ST_OBJ_PRIVATE_KEY, &r, "id", c->where);
    if (o == NULL)
        goto out;
    o->key_type = type;
    o->usage = ST_USAGE_TLS13;
    o->functions =
        is_ec(type) ? ST_FN_SIGN | ST_FN_KEYGEN | ST_FN_KEY_AGREEMENT : ST_FN_SIGN | ST_FN_KEYGEN;
    o->hash_algos = ST_HASH_SHA256 | ST_HASH_SHA384 | ST_HASH_SHA512;
    o->sig_algos = is_ec(type) ? ST_SIG_ECDSA : ST_SIG_RSA_PKCS1 | ST_SIG_RSA_PSS;
    o->key_agreement = is_ec(type) ? ST_KA_ECKA : 0;
    if (key_overrides(c, obj, o, true) != 0)
        goto out;
    if (json_object_get(obj, "access") == NULL)
        o->access = (o->functions & ST_FN_KEYGEN) ? ST_ACCESS_UPDATE : 0;

    if (generate) {
        /* Generated inside the card: the private half never leaves it (G1). */
        if (st_crypto_keygen(type, pv, &pv_len, pb, &pb_len) != 0) {
            fail(c, "generate", "key generation failed");
            goto out;
        }
    } else if (src.field != NULL &&
               st_crypto_import_private(type, src.buf, src.len, pv, &pv_len, pb, &pb_len) != 0) {
        fail(c, src.field, "not a readable %s private key (unencrypted PEM or DER)",
             st_profile_type_name(type));
        goto out;
    }
    set_value(o, pv, pv_len);

    if (has_pub == 1) {
        /* The paired public key: same label, the public half (ORA/THM use 01 + 01). */
        memcpy(pub_ref.label, r.label, r.label_len);
        pub_ref.label_len = r.label_len;
        char origin[64];
        snprintf(origin, sizeof(origin), "%s.public_id", c->where);
        struct st_object *p = add_object(c, ST_OBJ_PUBLIC_KEY, &pub_ref, "public_id", origin);
        if (p == NULL)
            goto out;
        public_defaults(p, type, o->usage);
        set_value(p, pb, pb_len);
    }
    rc = 0;
out:
    st_wipe(pv, sizeof(pv));
    source_free(&src);
    return rc;
}

static int build_public(struct pctx *c, json_t *obj)
{
    static const char *const fields[] = {
        "id",        "label", "type",     "usage",    "functions", "access", "hash_algos",
        "sig_algos", "pem",   "pem_file", "der_file", "hex",       NULL};
    struct ref r;
    uint8_t type;
    struct source src;
    int rc = -1;
    uint8_t pb[ST_PUB_MAX];
    uint16_t pb_len = 0;

    if (check_fields(c, obj, fields) != 0 || read_ref(c, obj, &r) != 0 ||
        key_type_field(c, obj, &type) != 0 || get_source(c, obj, key_sources, &src) < 0)
        return -1;
    if (st_key_type_is_volatile(type) && src.field != NULL) {
        fail(c, src.field, "a volatile key has no stored value (it is set at run time)");
        goto out;
    }
    struct st_object *o = add_object(c, ST_OBJ_PUBLIC_KEY, &r, "id", c->where);
    if (o == NULL)
        goto out;
    public_defaults(o, type, ST_USAGE_TLS13);
    if (key_overrides(c, obj, o, true) != 0)
        goto out;
    if (src.field != NULL) {
        /* hex may be the raw point 04||X||Y IoT SAFE uses; otherwise SPKI or a certificate. */
        bool raw = is_ec(type) && strcmp(src.field, "hex") == 0 && src.len == 65;
        if (raw && st_crypto_ec_point_check(type, src.buf, src.len) == 0) {
            memcpy(pb, src.buf, src.len);
            pb_len = (uint16_t)src.len;
        } else if (raw || st_crypto_import_public(type, src.buf, src.len, pb, &pb_len) != 0) {
            fail(c, src.field, "not a %s public key (SubjectPublicKeyInfo, certificate%s)",
                 st_profile_type_name(type), is_ec(type) ? " or 04||X||Y point" : "");
            goto out;
        }
        set_value(o, pb, pb_len);
    }
    rc = 0;
out:
    source_free(&src);
    return rc;
}

/*
 * "issue": {"key_id", "ca_cert", "ca_key", "subject_cn", "days"}: the factory
 * certifies a key pair of this card (generated inside it) with the group CA.
 */
static int issue_cert(struct pctx *c, json_t *issue, uint8_t *content, size_t *n)
{
    static const char *const fields[] = {"key_id", "ca_cert", "ca_key", "subject_cn", "days",
                                         "comment", NULL};
    if (!json_is_object(issue))
        return fail(c, "issue", "must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(issue, key, v)
    {
        size_t i = 0;
        while (fields[i] != NULL && strcmp(fields[i], key) != 0)
            i++;
        if (fields[i] == NULL) {
            char q[48];
            quote(key, strlen(key), q);
            return fail(c, "issue", "unknown field \"%s\"", q);
        }
    }
    uint8_t id[ST_ID_MAX];
    uint8_t id_len = 0;
    if (id_field(c, issue, "key_id", true, id, &id_len) < 0)
        return -1;
    const char *ca_cert, *ca_key, *cn;
    size_t l1, l2, l3;
    if (req_string(c, issue, "ca_cert", &ca_cert, &l1) != 1 ||
        req_string(c, issue, "ca_key", &ca_key, &l2) != 1 ||
        req_string(c, issue, "subject_cn", &cn, &l3) != 1)
        return -1;
    if (strlen(ca_cert) != l1 || strlen(ca_key) != l2)
        return fail(c, "issue", "bad path");
    if (l3 == 0 || l3 > 64 || strlen(cn) != l3)
        return fail(c, "issue.subject_cn", "must be 1 to 64 characters");
    long days = 365;
    json_t *d = json_object_get(issue, "days");
    if (d != NULL) {
        if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 36500)
            return fail(c, "issue.days", "must be an integer from 1 to 36500");
        days = (long)json_integer_value(d);
    }
    char why[300];
    if (st_profile_issue_cert(c->s, id, id_len, c->base_dir, ca_cert, ca_key, cn, (int)days,
                              content, ST_FILE_MAX, n, why, sizeof(why)) != 0)
        return fail(c, "issue", "%s", why);
    return 0;
}

static int build_file(struct pctx *c, json_t *obj)
{
    static const char *const fields[] = {"id",  "label", "usage", "access", "pem", "pem_file",
                                         "der_file", "hex", "size", "issue", NULL};
    static const char *const sources[] = {"pem", "pem_file", "der_file", "hex", NULL};
    struct ref r;
    struct source src;
    unsigned usage = ST_FILE_GENERAL, access = ST_ACCESS_READ;
    int rc = -1;
    size_t size = 0;
    bool has_size = false;

    if (check_fields(c, obj, fields) != 0 || read_ref(c, obj, &r) != 0 ||
        opt_enum(c, obj, "usage", file_usages, "usage", &usage) < 0 ||
        opt_flags(c, obj, "access", access_bits, "access right", &access) < 0)
        return -1;
    json_t *sz = json_object_get(obj, "size");
    if (sz != NULL) {
        if (!json_is_integer(sz) || json_integer_value(sz) < 1 ||
            json_integer_value(sz) > ST_FILE_MAX)
            return fail(c, "size", "must be an integer from 1 to %d", ST_FILE_MAX);
        size = (size_t)json_integer_value(sz);
        has_size = true;
    }
    if (get_source(c, obj, sources, &src) < 0)
        return -1;
    json_t *issue = json_object_get(obj, "issue");
    if (issue != NULL && src.field != NULL) {
        fail(c, "issue", "cannot be combined with \"%s\"", src.field);
        goto out;
    }
    if (issue != NULL && usage != ST_FILE_CERTIFICATE) {
        fail(c, "issue", "needs \"usage\": \"certificate\"");
        goto out;
    }

    struct st_object *o = add_object(c, ST_OBJ_FILE, &r, "id", c->where);
    if (o == NULL)
        goto out;
    o->usage = (uint8_t)usage;
    o->access = (uint8_t)access;
    uint8_t *content = o->value;
    size_t n = 0;
    char why[200];
    bool cert = usage == ST_FILE_CERTIFICATE;
    if (issue != NULL) {
        if (issue_cert(c, issue, content, &n) != 0)
            goto out;
    } else if (src.field == NULL) {
        n = 0;
    } else if (strcmp(src.field, "pem") == 0 || strcmp(src.field, "pem_file") == 0) {
        /* Certificates are stored as DER (E3: X.509 as plain binary files). */
        if (st_profile_pem_to_der(src.buf, src.len, cert ? "CERTIFICATE" : NULL, content,
                                  ST_FILE_MAX, &n, why, sizeof(why)) != 0) {
            fail(c, src.field, "%s", why);
            goto out;
        }
    } else if (src.len > ST_FILE_MAX) {
        fail(c, src.field, "is %zu bytes; a file holds at most %d", src.len, ST_FILE_MAX);
        goto out;
    } else {
        memcpy(content, src.buf, src.len);
        n = src.len;
    }
    if (cert && n > 0 && !st_profile_der_is_certs(content, n)) {
        fail(c, src.field, "not a DER X.509 certificate (or chain)");
        goto out;
    }
    if (has_size && size < n) {
        fail(c, "size", "%zu is smaller than the content (%zu bytes)", size, n);
        goto out;
    }
    /* A declared size reserves a container; the rest of it reads as zeros. */
    if (has_size)
        memset(content + n, 0, size - n);
    o->value_len = (uint16_t)(has_size ? size : n);
    o->state = o->value_len > 0 ? ST_STATE_ACTIVATED : ST_STATE_EMPTY;
    rc = 0;
out:
    source_free(&src);
    return rc;
}

/*
 * A PSK (J2: up to 512 bits) and its identity. The identity is a file
 * object (usage general) with the secret's label and ID identity_file_id:
 * the device finds it by label or ID (J3) and reads it with READ FILE.
 */
static int build_secret(struct pctx *c, json_t *obj)
{
    static const char *const fields[] = {"id",
                                         "label",
                                         "type",
                                         "hex",
                                         "functions",
                                         "access",
                                         "key_derivation",
                                         "identity",
                                         "identity_file_id",
                                         NULL};
    struct ref r, file_ref;
    unsigned type = ST_KEY_HMAC, functions = ST_FN_KEY_DERIVATION, access = 0;
    unsigned kd = ST_KD_PRF_SHA256 | ST_KD_HKDF;
    uint8_t key[ST_SECRET_MAX];
    size_t key_len = 0;
    const char *hex = NULL, *ident = NULL;
    size_t hex_len = 0, ident_len = 0;
    int rc = -1;

    memset(&file_ref, 0, sizeof(file_ref));
    if (check_fields(c, obj, fields) != 0 || read_ref(c, obj, &r) != 0 ||
        opt_enum(c, obj, "type", secret_types, "type", &type) < 0 ||
        opt_flags(c, obj, "functions", function_bits, "function", &functions) < 0 ||
        opt_flags(c, obj, "access", access_bits, "access right", &access) < 0 ||
        opt_flags(c, obj, "key_derivation", kd_bits, "key derivation", &kd) < 0)
        return -1;
    int has_hex = opt_string(c, obj, "hex", &hex, &hex_len);
    int has_ident = opt_string(c, obj, "identity", &ident, &ident_len);
    int has_file = id_field(c, obj, "identity_file_id", false, file_ref.id, &file_ref.id_len);
    if (has_hex < 0 || has_ident < 0 || has_file < 0)
        return -1;
    if (has_hex == 1 && hex_field(c, "hex", hex, hex_len, key, 1, ST_SECRET_MAX, &key_len) != 0)
        goto out;
    if (has_ident == 1 && has_file == 0) {
        fail(c, "identity_file_id", "required with \"identity\" (the file that holds it)");
        goto out;
    }
    if (has_ident == 0 && has_file == 1) {
        fail(c, "identity", "required with \"identity_file_id\"");
        goto out;
    }
    if (has_ident == 1 && (ident_len == 0 || ident_len > ST_FILE_MAX)) {
        fail(c, "identity", "must be 1 to %d bytes", ST_FILE_MAX);
        goto out;
    }
    if (has_ident == 1 && r.label_len == 0) {
        fail(c, "label", "required with \"identity\" (the identity file carries the same label)");
        goto out;
    }
    struct st_object *o = add_object(c, ST_OBJ_SECRET_KEY, &r, "id", c->where);
    if (o == NULL)
        goto out;
    o->key_type = (uint8_t)type;
    o->usage = ST_USAGE_GENERAL;
    o->functions = (uint8_t)functions;
    o->access = (uint8_t)access;
    o->key_derivation = (uint8_t)kd;
    set_value(o, key, key_len);
    if (has_ident == 1) {
        memcpy(file_ref.label, r.label, r.label_len);
        file_ref.label_len = r.label_len;
        char origin[64];
        snprintf(origin, sizeof(origin), "%s.identity_file_id", c->where);
        struct st_object *f = add_object(c, ST_OBJ_FILE, &file_ref, "identity_file_id", origin);
        if (f == NULL)
            goto out;
        f->usage = ST_FILE_GENERAL;
        f->access = ST_ACCESS_READ;
        set_value(f, (const uint8_t *)ident, ident_len);
    }
    rc = 0;
out:
    st_wipe(key, sizeof(key));
    return rc;
}

/* ---- card data ---- */

/* EF_ICCID: 18..20 digits, BCD with nibbles swapped, padded with F. */
static int card_iccid(struct pctx *c, json_t *root)
{
    const char *s;
    size_t n;
    if (req_string(c, root, "iccid", &s, &n) != 1)
        return -1;
    if (n < 18 || n > 20)
        return fail(c, "iccid", "must be 18 to 20 digits");
    uint8_t nib[20];
    for (size_t i = 0; i < 20; i++) {
        if (i < n && !isdigit((unsigned char)s[i]))
            return fail(c, "iccid", "must be 18 to 20 digits");
        nib[i] = i < n ? (uint8_t)(s[i] - '0') : 0x0F;
    }
    for (size_t i = 0; i < 10; i++)
        c->s->iccid[i] = (uint8_t)(nib[2 * i + 1] << 4 | nib[2 * i]);
    c->s->iccid_len = 10;
    return 0;
}

/* EID: 32 digits, stored as 16 bytes of plain BCD (the order it is printed in). */
static int card_eid(struct pctx *c, json_t *root)
{
    const char *s;
    size_t n;
    int rc = opt_string(c, root, "eid", &s, &n);
    if (rc != 1)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return fail(c, "eid", "must be 32 digits");
    size_t got;
    if (n != 32 || hex_field(c, "eid", s, n, c->s->eid, 16, 16, &got) != 0)
        return fail(c, "eid", "must be 32 digits");
    c->s->eid_len = 16;
    return 0;
}

static int card_aids(struct pctx *c, json_t *root)
{
    json_t *a = json_object_get(root, "aids"), *e;
    size_t i, got;
    if (a == NULL)
        return 0; /* st_card_state_init's IoT SAFE AID */
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > ST_MAX_AIDS)
        return fail(c, "aids", "must be an array of 1 to %d AIDs", ST_MAX_AIDS);
    for (i = 0; i < json_array_size(a); i++) {
        e = json_array_get(a, i);
        char field[32];
        snprintf(field, sizeof(field), "aids[%zu]", i);
        if (!json_is_string(e))
            return fail(c, field, "must be a string");
        /* ISO 7816-4: an AID is 5 to 16 bytes. */
        if (hex_field(c, field, json_string_value(e), json_string_length(e), c->s->aid[i], 5,
                      ST_AID_MAX, &got) != 0)
            return -1;
        c->s->aid_len[i] = (uint8_t)got;
    }
    c->s->aid_count = (uint8_t)json_array_size(a);
    return 0;
}

static int card_misc(struct pctx *c, json_t *root)
{
    const char *s;
    size_t n, got;
    int rc = opt_string(c, root, "signature_length_form", &s, &n);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        uint8_t form[3];
        long fl = st_hex_decode(s, n, form, sizeof(form));
        if (fl == 3 && memcmp(form, "\x33\x00\x40", 3) == 0)
            c->s->sig_form = ST_SIG_FORM_2BYTE;
        else if (fl == 2 && memcmp(form, "\x33\x40", 2) == 0)
            c->s->sig_form = ST_SIG_FORM_1BYTE;
        else
            return fail(c, "signature_length_form", "must be \"33 00 40\" or \"33 40\"");
    }
    rc = opt_string(c, root, "atr", &s, &n);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        if (hex_field(c, "atr", s, n, c->s->atr, 2, sizeof(c->s->atr), &got) != 0)
            return -1;
        c->s->atr_len = (uint8_t)got;
    }
    return 0;
}

static int each(struct pctx *c, json_t *root, const char *name, int (*fn)(struct pctx *, json_t *))
{
    json_t *a = json_object_get(root, name), *e;
    size_t i;
    if (a == NULL)
        return 0;
    if (!json_is_array(a))
        return fail(c, name, "must be an array of objects");
    for (i = 0; i < json_array_size(a); i++) {
        e = json_array_get(a, i);
        snprintf(c->where, sizeof(c->where), "%s[%zu]", name, i);
        if (!json_is_object(e))
            return fail(c, NULL, "must be an object");
        if (fn(c, e) != 0)
            return -1;
    }
    c->where[0] = '\0';
    return 0;
}

static int build(struct pctx *c, json_t *root)
{
    static const char *const fields[] = {
        "iccid",        "eid",         "aids",  "atr",         "signature_length_form",
        "private_keys", "public_keys", "files", "secret_keys", NULL};
    if (!json_is_object(root))
        return fail(c, NULL, "profile: must be a JSON object");
    if (check_fields(c, root, fields) != 0 || card_iccid(c, root) != 0 || card_eid(c, root) != 0 ||
        card_aids(c, root) != 0 || card_misc(c, root) != 0)
        return -1;
    /* Explicit objects first, then the identity files the secrets add. */
    if (each(c, root, "private_keys", build_private) != 0 ||
        each(c, root, "public_keys", build_public) != 0 ||
        each(c, root, "files", build_file) != 0 || each(c, root, "secret_keys", build_secret) != 0)
        return -1;
    return 0;
}

/* jansson frees without wiping: clear the strings that carried key values. */
static void wipe_key_strings(json_t *root)
{
    static const char *const arrays[] = {"private_keys", "secret_keys"};
    static const char *const fields[] = {"pem", "hex"};
    for (size_t a = 0; a < 2; a++) {
        json_t *arr = json_object_get(root, arrays[a]), *e;
        size_t i;
        if (!json_is_array(arr))
            continue;
        for (i = 0; i < json_array_size(arr); i++) {
            e = json_array_get(arr, i);
            for (size_t f = 0; f < 2; f++) {
                json_t *v = json_object_get(e, fields[f]);
                if (json_is_string(v))
                    st_wipe((char *)json_string_value(v), json_string_length(v));
            }
        }
    }
}

int st_profile_build(const char *json, size_t len, const char *base_dir, struct st_card_state *s,
                     char *err, size_t err_len)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "profile is not valid JSON: line %d, column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        return -1;
    }
    struct pctx *c = calloc(1, sizeof(*c));
    struct st_card_state *tmp = malloc(sizeof(*tmp)); /* *s stays untouched on error */
    int rc = -1;
    if (c == NULL || tmp == NULL) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "out of memory");
    } else {
        st_card_state_init(tmp);
        c->s = tmp;
        c->base_dir = base_dir;
        c->err = err;
        c->err_len = err_len;
        rc = build(c, root);
        if (rc == 0)
            memcpy(s, tmp, sizeof(*s));
    }
    if (tmp != NULL)
        st_wipe(tmp, sizeof(*tmp));
    free(tmp);
    free(c);
    wipe_key_strings(root);
    json_decref(root);
    return rc;
}
