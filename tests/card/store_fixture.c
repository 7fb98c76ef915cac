/* Test states and helpers shared by the card store tests (see store_fixture.h). */
#include "store_fixture.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st_hex.h"

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    uint32_t x = 0x9E3779B9u * (seed + 1u);
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

struct st_object *fx_add(struct st_card_state *s, enum st_obj_kind kind, const char *id_hex,
                         const char *label, uint8_t key_type, size_t value_len, uint8_t seed)
{
    struct st_object *o = st_objects_alloc(s, kind);
    if (o == NULL)
        abort();
    long n = st_hex_decode(id_hex, strlen(id_hex), o->id, sizeof(o->id));
    if (n <= 0)
        abort();
    o->id_len = (uint8_t)n;
    o->label_len = (uint8_t)strlen(label);
    memcpy(o->label, label, o->label_len);
    o->key_type = key_type;
    switch (kind) {
    case ST_OBJ_PRIVATE_KEY:
        o->access = ST_ACCESS_UPDATE;
        o->usage = ST_USAGE_TLS13;
        o->functions = ST_FN_SIGN | ST_FN_KEYGEN | ST_FN_KEY_AGREEMENT;
        o->sig_algos = ST_SIG_ECDSA;
        o->hash_algos = 0x0007;
        o->key_agreement = ST_KA_ECKA;
        break;
    case ST_OBJ_PUBLIC_KEY:
        o->access = ST_ACCESS_READ;
        o->usage = ST_USAGE_TLS13;
        o->functions = ST_FN_SIGN;
        o->sig_algos = ST_SIG_ECDSA;
        o->hash_algos = 0x0007;
        o->key_agreement = ST_KA_ECKA;
        break;
    case ST_OBJ_FILE:
        o->access = ST_ACCESS_READ;
        o->usage = ST_FILE_CERTIFICATE;
        break;
    case ST_OBJ_SECRET_KEY:
        o->functions = ST_FN_KEY_DERIVATION;
        o->key_derivation = ST_KD_PRF_SHA256 | ST_KD_HKDF;
        break;
    default:
        break;
    }
    o->value_len = (uint16_t)value_len;
    fill(o->value, value_len, seed);
    if (kind == ST_OBJ_PUBLIC_KEY && value_len == 65)
        o->value[0] = 0x04;
    o->state = value_len > 0 ? ST_STATE_ACTIVATED : ST_STATE_EMPTY;
    return o;
}

static void set_iccid(struct st_card_state *s)
{
    static const uint8_t iccid[10] = {0x98, 0x88, 0x22, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x71};
    static const uint8_t eid[16] = {0x89, 0x04, 0x90, 0x32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x17};
    s->iccid_len = sizeof(iccid);
    memcpy(s->iccid, iccid, sizeof(iccid));
    s->eid_len = sizeof(eid);
    memcpy(s->eid, eid, sizeof(eid));
}

void fx_state_old(struct st_card_state *s)
{
    st_card_state_init(s);
    set_iccid(s);
    s->generation = 7;
    fx_add(s, ST_OBJ_PRIVATE_KEY, "01", "client", ST_KEY_P256, 32, 1);
    fx_add(s, ST_OBJ_PRIVATE_KEY, "04", "ecdhe", ST_KEY_P256_VOLATILE, 32, 2);
    fx_add(s, ST_OBJ_PUBLIC_KEY, "01", "client", ST_KEY_P256, 65, 3);
    fx_add(s, ST_OBJ_PUBLIC_KEY, "05", "peer", ST_KEY_P256_VOLATILE, 65, 4);
    fx_add(s, ST_OBJ_FILE, "02", "client-cert", 0, 600, 5);
    fx_add(s, ST_OBJ_FILE, "03", "server-cert", 0, 500, 6);
    fx_add(s, ST_OBJ_SECRET_KEY, "10", "psk1", ST_KEY_HMAC, 16, 7);
    struct st_object *id = fx_add(s, ST_OBJ_FILE, "11", "psk1", 0, 11, 0);
    id->usage = ST_FILE_GENERAL;
    memcpy(id->value, "device-0001", 11);
}

void fx_state_new(struct st_card_state *s)
{
    fx_state_old(s);
    s->generation = 8;
    struct st_object *o = st_objects_find(s, ST_OBJ_PRIVATE_KEY, false, (const uint8_t *)"\x01", 1);
    fill(o->value, 32, 101);
    o = st_objects_find(s, ST_OBJ_PUBLIC_KEY, false, (const uint8_t *)"\x01", 1);
    fill(o->value + 1, 64, 102);
    o = st_objects_find(s, ST_OBJ_FILE, false, (const uint8_t *)"\x03", 1);
    o->value_len = 720;
    fill(o->value, 720, 103);
    fx_add(s, ST_OBJ_SECRET_KEY, "12", "psk2", ST_KEY_HMAC, 32, 104);
    struct st_object *id = fx_add(s, ST_OBJ_FILE, "12", "psk2", 0, 11, 0);
    id->usage = ST_FILE_GENERAL;
    memcpy(id->value, "device-0002", 11);
}

void fx_state_full(struct st_card_state *s)
{
    static const size_t vmax[ST_OBJ_KINDS] = {ST_PRIV_MAX, ST_PUB_MAX, ST_FILE_MAX, ST_SECRET_MAX};
    static const uint8_t type[ST_OBJ_KINDS] = {ST_KEY_RSA2048, ST_KEY_RSA2048, 0, ST_KEY_HMAC};
    st_card_state_init(s);
    set_iccid(s);
    s->generation = 0xFFFFFFFFu;
    s->sig_form = ST_SIG_FORM_1BYTE;
    s->atr_len = sizeof(s->atr);
    memset(s->atr, 0x3B, sizeof(s->atr));
    for (s->aid_count = 0; s->aid_count < ST_MAX_AIDS; s->aid_count++) {
        s->aid_len[s->aid_count] = ST_AID_MAX;
        memset(s->aid[s->aid_count], 0xA0 + s->aid_count, ST_AID_MAX);
    }
    for (int k = 0; k < ST_OBJ_KINDS; k++) {
        for (size_t i = 0; i < st_objects_capacity((enum st_obj_kind)k); i++) {
            char id[2 * ST_ID_MAX + 1];
            uint8_t raw[ST_ID_MAX];
            memset(raw, 0x30, sizeof(raw));
            raw[ST_ID_MAX - 1] = (uint8_t)i;
            st_hex_encode(raw, sizeof(raw), id);
            char label[ST_LABEL_MAX + 1];
            memset(label, 'L', ST_LABEL_MAX);
            label[ST_LABEL_MAX] = '\0';
            label[0] = (char)('A' + i);
            fx_add(s, (enum st_obj_kind)k, id, label, type[k], vmax[k], (uint8_t)(k * 16 + i));
        }
    }
}

static bool differ(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool differ(char *why, size_t why_len, const char *fmt, ...)
{
    if (why != NULL && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool same_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

static bool object_equal(const struct st_object *a, const struct st_object *b)
{
    if (a->id_len != b->id_len || a->label_len != b->label_len || a->access != b->access ||
        a->key_type != b->key_type || a->usage != b->usage || a->functions != b->functions ||
        a->sig_algos != b->sig_algos || a->hash_algos != b->hash_algos ||
        a->key_agreement != b->key_agreement || a->key_derivation != b->key_derivation)
        return false;
    if (memcmp(a->id, b->id, a->id_len) != 0 || memcmp(a->label, b->label, a->label_len) != 0)
        return false;
    if (st_key_type_is_volatile(a->key_type))
        return true; /* value and state live in RAM only */
    return a->state == b->state && same_bytes(a->value, a->value_len, b->value, b->value_len);
}

bool fx_state_equal(const struct st_card_state *a, const struct st_card_state *b, char *why,
                    size_t why_len)
{
    if (!same_bytes(a->iccid, a->iccid_len, b->iccid, b->iccid_len))
        return differ(why, why_len, "ICCID differs");
    if (!same_bytes(a->eid, a->eid_len, b->eid, b->eid_len))
        return differ(why, why_len, "EID differs");
    if (!same_bytes(a->atr, a->atr_len, b->atr, b->atr_len))
        return differ(why, why_len, "ATR differs");
    if (a->aid_count != b->aid_count)
        return differ(why, why_len, "AID count %u vs %u", a->aid_count, b->aid_count);
    for (size_t i = 0; i < a->aid_count && i < ST_MAX_AIDS; i++)
        if (!same_bytes(a->aid[i], a->aid_len[i], b->aid[i], b->aid_len[i]))
            return differ(why, why_len, "AID %zu differs", i);
    if (a->sig_form != b->sig_form)
        return differ(why, why_len, "signature form differs");
    if (a->generation != b->generation)
        return differ(why, why_len, "generation %u vs %u", (unsigned)a->generation,
                      (unsigned)b->generation);
    for (int k = 0; k < ST_OBJ_KINDS; k++) {
        const struct st_object *ta = st_objects_table((struct st_card_state *)a, k);
        const struct st_object *tb = st_objects_table((struct st_card_state *)b, k);
        for (size_t i = 0; i < st_objects_capacity((enum st_obj_kind)k); i++) {
            if (ta[i].in_use != tb[i].in_use)
                return differ(why, why_len, "kind %d slot %zu: in use %d vs %d", k, i, ta[i].in_use,
                              tb[i].in_use);
            if (ta[i].in_use && !object_equal(&ta[i], &tb[i]))
                return differ(why, why_len, "kind %d slot %zu differs", k, i);
        }
    }
    return true;
}

static char *mkdtemp_in(const char *base)
{
    char *dir = malloc(4096);
    if (dir == NULL)
        abort();
    snprintf(dir, 4096, "%s/simtrust-test-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        free(dir);
        return NULL;
    }
    return dir;
}

char *fx_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = mkdtemp_in(base != NULL && *base ? base : "/tmp");
    if (dir == NULL)
        abort();
    return dir;
}

char *fx_mkdtemp_ram(void)
{
    char *dir = access("/dev/shm", W_OK) == 0 ? mkdtemp_in("/dev/shm") : NULL;
    return dir != NULL ? dir : fx_mkdtemp();
}

void fx_rmdir(char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        char path[4096 + 256];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

uint8_t *fx_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

int fx_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = len > 0 ? fwrite(buf, 1, len, f) : 0;
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}
