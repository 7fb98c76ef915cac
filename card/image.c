/*
 * Card image encoding, strict decoding and atomic save (format in image.h).
 *
 * Payload (version 1): a sequence of records, each
 *   u8 tag | u16 length | value (length bytes)
 * with these tags:
 *   01 ICCID (0..10 bytes)        02 EID (0..16)         03 ATR (0..33)
 *   04 AID (1..16, one record per AID, at most ST_MAX_AIDS, in order)
 *   05 signature form (1 byte: 0 or 1)                   06 generation (u32)
 *   10 private key, 11 public key, 12 file, 13 secret key: one record per
 *      object in use, value =
 *        u8 slot | u8 id_len | id | u8 label_len | label | u8 access |
 *        u8 state | u8 key_type | u8 usage | u8 functions | u8 sig_algos |
 *        u16 hash_algos | u8 key_agreement | u8 key_derivation |
 *        u16 value_len | value
 * Singletons (01, 02, 03, 05, 06) appear at most once. The slot is kept so a
 * reload lists the objects in the same order (GET DATA, D9). Values of
 * volatile key types (14, 24) are never written: their record says
 * value_len 0 and state "empty", and a record that carries one is refused.
 *
 * The decoder rejects anything it does not understand (unknown tags, flags,
 * trailing bytes in a record, out-of-range lengths, duplicate slots, IDs or
 * labels): a newer writer bumps ST_IMAGE_VERSION instead.
 */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "st_log.h"
#include "st_secret.h"

static const uint8_t image_magic[8] = {'S', 'T', 'C', 'A', 'R', 'D', '\r', '\n'};

#define HDR_LEN 16
#define DIGEST_LEN 32
/* Far above the largest possible state (~90 KiB): a cap on what load reads. */
#define IMAGE_MAX (1024 * 1024)

enum rec_tag {
    REC_ICCID = 0x01,
    REC_EID = 0x02,
    REC_ATR = 0x03,
    REC_AID = 0x04,
    REC_SIG_FORM = 0x05,
    REC_GENERATION = 0x06,
    REC_OBJECT = 0x10, /* + enum st_obj_kind */
};

/* Fixed part of an object record around the variable id, label and value. */
#define OBJ_FIXED_LEN (1 + 1 + 1 + 6 + 2 + 2 + 2)

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (err == NULL || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static size_t value_max(enum st_obj_kind kind)
{
    switch (kind) {
    case ST_OBJ_PRIVATE_KEY:
        return ST_PRIV_MAX;
    case ST_OBJ_PUBLIC_KEY:
        return ST_PUB_MAX;
    case ST_OBJ_FILE:
        return ST_FILE_MAX;
    case ST_OBJ_SECRET_KEY:
        return ST_SECRET_MAX;
    default:
        return 0;
    }
}

static const char *kind_name(enum st_obj_kind kind)
{
    static const char *const names[ST_OBJ_KINDS] = {"private key", "public key", "file",
                                                    "secret key"};
    return (unsigned)kind < ST_OBJ_KINDS ? names[kind] : "object";
}

/* Read-only twin of st_objects_table(). */
static const struct st_object *table_of(const struct st_card_state *s, enum st_obj_kind kind)
{
    switch (kind) {
    case ST_OBJ_PRIVATE_KEY:
        return s->priv;
    case ST_OBJ_PUBLIC_KEY:
        return s->pub;
    case ST_OBJ_FILE:
        return s->file;
    case ST_OBJ_SECRET_KEY:
        return s->secret;
    default:
        return NULL;
    }
}

static bool kind_has_volatile(enum st_obj_kind kind)
{
    return kind == ST_OBJ_PRIVATE_KEY || kind == ST_OBJ_PUBLIC_KEY;
}

/* ---- encoding ---------------------------------------------------------- */

/* Output cursor; with buf == NULL it only measures. */
struct writer {
    uint8_t *buf;
    size_t len;
};

static void put(struct writer *w, const void *p, size_t n)
{
    if (w->buf != NULL && n > 0)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_u8(struct writer *w, uint8_t v)
{
    put(w, &v, 1);
}

static void put_u16(struct writer *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 2);
}

static void put_u32(struct writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 4);
}

static void put_record(struct writer *w, uint8_t tag, const void *p, size_t n)
{
    put_u8(w, tag);
    put_u16(w, (uint16_t)n);
    put(w, p, n);
}

/* Clamps a stored length to its array: the encoder never reads past a field. */
static size_t clamp(size_t n, size_t max)
{
    return n > max ? max : n;
}

static void put_object(struct writer *w, enum st_obj_kind kind, size_t slot,
                       const struct st_object *o)
{
    size_t id_len = clamp(o->id_len, ST_ID_MAX);
    size_t label_len = clamp(o->label_len, ST_LABEL_MAX);
    bool vol = kind_has_volatile(kind) && st_key_type_is_volatile(o->key_type);
    size_t vlen = vol ? 0 : clamp(o->value_len, value_max(kind));

    put_u8(w, (uint8_t)(REC_OBJECT + kind));
    put_u16(w, (uint16_t)(OBJ_FIXED_LEN + id_len + label_len + vlen));
    put_u8(w, (uint8_t)slot);
    put_u8(w, (uint8_t)id_len);
    put(w, o->id, id_len);
    put_u8(w, (uint8_t)label_len);
    put(w, o->label, label_len);
    put_u8(w, o->access);
    put_u8(w, vol ? ST_STATE_EMPTY : o->state);
    put_u8(w, o->key_type);
    put_u8(w, o->usage);
    put_u8(w, o->functions);
    put_u8(w, o->sig_algos);
    put_u16(w, o->hash_algos);
    put_u8(w, o->key_agreement);
    put_u8(w, o->key_derivation);
    put_u16(w, (uint16_t)vlen);
    put(w, o->value, vlen); /* key values: the caller wipes the buffer */
}

static void put_payload(struct writer *w, const struct st_card_state *s)
{
    put_record(w, REC_ICCID, s->iccid, clamp(s->iccid_len, sizeof(s->iccid)));
    put_record(w, REC_EID, s->eid, clamp(s->eid_len, sizeof(s->eid)));
    put_record(w, REC_ATR, s->atr, clamp(s->atr_len, sizeof(s->atr)));
    for (size_t i = 0; i < clamp(s->aid_count, ST_MAX_AIDS); i++)
        put_record(w, REC_AID, s->aid[i], clamp(s->aid_len[i], ST_AID_MAX));
    put_record(w, REC_SIG_FORM, &s->sig_form, 1);
    put_u8(w, REC_GENERATION);
    put_u16(w, 4);
    put_u32(w, s->generation);
    for (int k = 0; k < ST_OBJ_KINDS; k++) {
        enum st_obj_kind kind = (enum st_obj_kind)k;
        const struct st_object *t = table_of(s, kind);
        for (size_t i = 0; i < st_objects_capacity(kind); i++)
            if (t[i].in_use)
                put_object(w, kind, i, &t[i]);
    }
}

static int sha256(const uint8_t *p, size_t n, uint8_t out[DIGEST_LEN])
{
    unsigned int len = 0;
    if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != DIGEST_LEN)
        return -1;
    return 0;
}

int st_image_encode(const struct st_card_state *s, uint8_t **buf, size_t *len)
{
    struct writer w = {NULL, 0};
    put_payload(&w, s);
    size_t payload_len = w.len;
    size_t total = HDR_LEN + payload_len + DIGEST_LEN;

    uint8_t *b = malloc(total);
    if (b == NULL)
        return -1;
    w.buf = b;
    w.len = 0;
    put(&w, image_magic, sizeof(image_magic));
    put_u16(&w, ST_IMAGE_VERSION);
    put_u16(&w, 0); /* flags: none defined in version 1 */
    put_u32(&w, (uint32_t)payload_len);
    put_payload(&w, s);
    if (sha256(b, w.len, b + w.len) != 0) {
        st_image_free_buf(b, total);
        return -1;
    }
    *buf = b;
    *len = total;
    return 0;
}

void st_image_free_buf(uint8_t *buf, size_t len)
{
    if (buf == NULL)
        return;
    st_wipe(buf, len);
    free(buf);
}

/* ---- decoding ---------------------------------------------------------- */

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Input cursor over one record value; every read is bounds-checked. */
struct reader {
    const uint8_t *p;
    size_t left;
};

static bool take(struct reader *r, void *out, size_t n)
{
    if (n > r->left)
        return false;
    if (n > 0)
        memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return true;
}

static bool take_u8(struct reader *r, uint8_t *v)
{
    return take(r, v, 1);
}

static bool take_u16(struct reader *r, uint16_t *v)
{
    uint8_t b[2];
    if (!take(r, b, 2))
        return false;
    *v = get_u16(b);
    return true;
}

/* Reads a u8 length then that many bytes into a field of capacity max. */
static const char *take_var(struct reader *r, uint8_t *len, uint8_t *field, size_t max,
                            const char *too_long)
{
    if (!take_u8(r, len))
        return "truncated object";
    if (*len > max)
        return too_long;
    return take(r, field, *len) ? NULL : "truncated object";
}

static bool same_ref(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/*
 * What decoding remembers of the objects seen so far: enough to refuse
 * duplicate slots, IDs and labels without a whole card state (~170 KiB).
 */
#define MAX_SLOTS ST_MAX_FILES
_Static_assert(ST_MAX_PRIVATE_KEYS <= MAX_SLOTS && ST_MAX_PUBLIC_KEYS <= MAX_SLOTS &&
                   ST_MAX_SECRET_KEYS <= MAX_SLOTS,
               "index too small");

struct seen_ref {
    bool used;
    uint8_t id_len, id[ST_ID_MAX];
    uint8_t label_len, label[ST_LABEL_MAX];
};

struct index {
    struct seen_ref obj[ST_OBJ_KINDS][MAX_SLOTS];
    uint8_t aid_count;
    unsigned singletons; /* bit per singleton record tag */
};

/*
 * Parses one object record; with s != NULL also stores it in its slot.
 * Returns NULL or the reason it is refused.
 */
static const char *parse_object(struct st_card_state *s, struct index *ix, enum st_obj_kind kind,
                                const uint8_t *v, size_t vlen)
{
    struct reader r = {v, vlen};
    struct st_object o;
    uint8_t slot;
    const char *why = NULL;
    memset(&o, 0, sizeof(o));

    if (!take_u8(&r, &slot))
        return "truncated object";
    if (slot >= st_objects_capacity(kind))
        return "slot out of range";
    why = take_var(&r, &o.id_len, o.id, ST_ID_MAX, "bad ID length");
    if (why == NULL && o.id_len == 0)
        why = "empty ID";
    if (why == NULL)
        why = take_var(&r, &o.label_len, o.label, ST_LABEL_MAX, "bad label length");
    if (why != NULL)
        return why;
    if (!take_u8(&r, &o.access) || !take_u8(&r, &o.state) || !take_u8(&r, &o.key_type) ||
        !take_u8(&r, &o.usage) || !take_u8(&r, &o.functions) || !take_u8(&r, &o.sig_algos) ||
        !take_u16(&r, &o.hash_algos) || !take_u8(&r, &o.key_agreement) ||
        !take_u8(&r, &o.key_derivation) || !take_u16(&r, &o.value_len))
        return "truncated object";
    if (o.state != ST_STATE_EMPTY && o.state != ST_STATE_ACTIVATED)
        return "bad object state";
    if (o.value_len > value_max(kind))
        return "value too long";
    if (kind_has_volatile(kind) && st_key_type_is_volatile(o.key_type) && o.value_len != 0)
        return "volatile key with a stored value";
    if (!take(&r, o.value, o.value_len))
        why = "truncated value";
    else if (r.left != 0)
        why = "trailing bytes in object record";

    struct seen_ref *t = ix->obj[kind];
    if (why == NULL && t[slot].used)
        why = "duplicate slot";
    /* Object references are unique within a kind (IoT SAFE object model, E5). */
    for (size_t i = 0; why == NULL && i < MAX_SLOTS; i++) {
        if (!t[i].used)
            continue;
        if (same_ref(t[i].id, t[i].id_len, o.id, o.id_len))
            why = "duplicate ID";
        else if (o.label_len > 0 && same_ref(t[i].label, t[i].label_len, o.label, o.label_len))
            why = "duplicate label";
    }
    if (why == NULL) {
        struct seen_ref *e = &t[slot];
        e->used = true;
        e->id_len = o.id_len;
        memcpy(e->id, o.id, o.id_len);
        e->label_len = o.label_len;
        memcpy(e->label, o.label, o.label_len);
        if (s != NULL) {
            o.in_use = true;
            memcpy(&st_objects_table(s, kind)[slot], &o, sizeof(o));
        }
    }
    st_wipe(o.value, o.value_len);
    return why;
}

/* Copies a variable-length card field when storing (s != NULL). */
static const char *card_field(uint8_t *dst, uint8_t *dst_len, size_t cap, const uint8_t *v,
                              size_t len, const char *too_long)
{
    if (len > cap)
        return too_long;
    if (dst != NULL) {
        memcpy(dst, v, len);
        *dst_len = (uint8_t)len;
    }
    return NULL;
}

/* One non-object record; with s != NULL also stores it. */
static const char *parse_card_record(struct st_card_state *s, struct index *ix, uint8_t tag,
                                     const uint8_t *v, size_t len)
{
    if (tag >= REC_ICCID && tag <= REC_GENERATION && tag != REC_AID) {
        if (ix->singletons & (1u << tag))
            return "duplicate record";
        ix->singletons |= 1u << tag;
    }
    switch (tag) {
    case REC_ICCID:
        return card_field(s ? s->iccid : NULL, s ? &s->iccid_len : NULL, sizeof(s->iccid), v, len,
                          "ICCID too long");
    case REC_EID:
        return card_field(s ? s->eid : NULL, s ? &s->eid_len : NULL, sizeof(s->eid), v, len,
                          "EID too long");
    case REC_ATR:
        return card_field(s ? s->atr : NULL, s ? &s->atr_len : NULL, sizeof(s->atr), v, len,
                          "ATR too long");
    case REC_AID:
        if (ix->aid_count >= ST_MAX_AIDS)
            return "too many AIDs";
        if (len == 0 || len > ST_AID_MAX)
            return "bad AID length";
        if (s != NULL) {
            s->aid_len[ix->aid_count] = (uint8_t)len;
            memcpy(s->aid[ix->aid_count], v, len);
            s->aid_count = (uint8_t)(ix->aid_count + 1);
        }
        ix->aid_count++;
        return NULL;
    case REC_SIG_FORM:
        if (len != 1 || (v[0] != ST_SIG_FORM_2BYTE && v[0] != ST_SIG_FORM_1BYTE))
            return "bad signature form";
        if (s != NULL)
            s->sig_form = v[0];
        return NULL;
    case REC_GENERATION:
        if (len != 4)
            return "bad generation length";
        if (s != NULL)
            s->generation = get_u32(v);
        return NULL;
    default:
        return "unknown record type";
    }
}

/*
 * Parses the payload records. With s == NULL it only validates; with s (zeroed
 * by the caller) it also stores, which cannot fail once validation passed.
 */
static int parse_payload(struct st_card_state *s, const uint8_t *p, size_t n, char *err,
                         size_t err_len)
{
    struct index ix;
    memset(&ix, 0, sizeof(ix));
    size_t off = 0;
    while (off < n) {
        if (n - off < 3) {
            set_err(err, err_len, "image: truncated record header at payload offset %zu", off);
            return -1;
        }
        uint8_t tag = p[off];
        size_t len = get_u16(p + off + 1);
        const uint8_t *v = p + off + 3;
        if (len > n - off - 3) {
            set_err(err, err_len, "image: record 0x%02X at payload offset %zu overruns the payload",
                    tag, off);
            return -1;
        }
        if (tag >= REC_OBJECT && tag < REC_OBJECT + ST_OBJ_KINDS) {
            enum st_obj_kind kind = (enum st_obj_kind)(tag - REC_OBJECT);
            const char *why = parse_object(s, &ix, kind, v, len);
            if (why != NULL) {
                set_err(err, err_len, "image: %s record at payload offset %zu: %s", kind_name(kind),
                        off, why);
                return -1;
            }
        } else {
            const char *why = parse_card_record(s, &ix, tag, v, len);
            if (why != NULL) {
                set_err(err, err_len, "image: record 0x%02X at payload offset %zu: %s", tag, off,
                        why);
                return -1;
            }
        }
        off += 3 + len;
    }
    return 0;
}

int st_image_decode(const uint8_t *buf, size_t len, struct st_card_state *s, char *err,
                    size_t err_len)
{
    if (buf == NULL || len < HDR_LEN + DIGEST_LEN) {
        set_err(err, err_len, "image: too short (%zu bytes) to be a card image", len);
        return -1;
    }
    if (memcmp(buf, image_magic, sizeof(image_magic)) != 0) {
        set_err(err, err_len, "image: not a simtrust card image (bad magic)");
        return -1;
    }
    uint16_t version = get_u16(buf + 8);
    if (version == 0 || version > ST_IMAGE_VERSION) {
        set_err(err, err_len, "image: format version %u is not supported (this program reads %d)",
                version, ST_IMAGE_VERSION);
        return -1;
    }
    uint16_t flags = get_u16(buf + 10);
    if (flags != 0) {
        set_err(err, err_len, "image: unknown flags 0x%04X", flags);
        return -1;
    }
    size_t payload_len = get_u32(buf + 12);
    if (payload_len != len - HDR_LEN - DIGEST_LEN) {
        set_err(err, err_len,
                "image: length mismatch: header says %zu payload bytes, file holds %zu "
                "(truncated or torn image)",
                payload_len, len - HDR_LEN - DIGEST_LEN);
        return -1;
    }
    uint8_t digest[DIGEST_LEN];
    if (sha256(buf, HDR_LEN + payload_len, digest) != 0) {
        set_err(err, err_len, "image: cannot compute SHA-256");
        return -1;
    }
    if (CRYPTO_memcmp(digest, buf + HDR_LEN + payload_len, DIGEST_LEN) != 0) {
        set_err(err, err_len, "image: SHA-256 digest mismatch (corrupt image)");
        return -1;
    }

    /* Validate everything first: a bad record never leaves *s half-loaded. */
    if (parse_payload(NULL, buf + HDR_LEN, payload_len, err, err_len) != 0)
        return -1;
    st_wipe(s, sizeof(*s)); /* it may hold an older state's keys */
    return parse_payload(s, buf + HDR_LEN, payload_len, err, err_len);
}

/* ---- save and load ----------------------------------------------------- */

/* "dir/name" -> "dir", "name" -> ".", "/name" -> "/" (malloc'd). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* Writes all of buf, tolerating short writes; a 0-byte write counts as EIO. */
static int write_all(const struct st_image_io *io, int fd, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        long n = io->write(io->ctx, fd, buf + off, len - off);
        if (n < 0)
            return -1;
        if (n == 0 || (size_t)n > len - off) {
            errno = EIO;
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

/* Refuses to write an image that would not load again (it would brick the card). */
static int check_loadable(const uint8_t *buf, size_t len, char *err, size_t err_len)
{
    char why[200] = "";
    if (parse_payload(NULL, buf + HDR_LEN, len - HDR_LEN - DIGEST_LEN, why, sizeof(why)) != 0) {
        set_err(err, err_len, "refusing to save a state that would not load: %s", why);
        return -1;
    }
    return 0;
}

/*
 * The commit sequence. The rename is the commit point: before it the old
 * image is untouched, after it the new one (fsynced before the rename, so
 * its content is durable) is in place. fsync_dir only makes the rename
 * itself durable; it receives the directory's path.
 */
static int save_sequence(const char *path, const char *tmp, const uint8_t *buf, size_t len,
                         const struct st_image_io *io, char *err, size_t err_len)
{
    int fd = io->open_tmp(io->ctx, tmp);
    if (fd < 0) {
        set_err(err, err_len, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    const char *failed = NULL;
    if (write_all(io, fd, buf, len) != 0)
        failed = "write";
    else if (io->fsync(io->ctx, fd) != 0)
        failed = "sync";
    if (failed != NULL) {
        int e = errno;
        io->close(io->ctx, fd);
        set_err(err, err_len, "cannot %s %s: %s", failed, tmp, strerror(e));
        return -1;
    }
    if (io->close(io->ctx, fd) != 0) {
        set_err(err, err_len, "cannot close %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (io->rename(io->ctx, tmp, path) != 0) {
        set_err(err, err_len, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        return -1;
    }
    char *dir = dir_of(path);
    if (dir == NULL || io->fsync_dir(io->ctx, dir) != 0) {
        /*
         * Past the commit point the new image is the current one; failing
         * here would make the caller roll back to a state the file no
         * longer holds. Only its durability across a power cut is unsure.
         */
        st_warn("card image %s saved, but syncing its directory failed: %s", path,
                dir == NULL ? "out of memory" : strerror(errno));
    }
    free(dir);
    return 0;
}

int st_image_save(const char *path, const struct st_card_state *s, const struct st_image_io *io,
                  char *err, size_t err_len)
{
    if (io == NULL)
        io = &st_image_posix_io;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (st_image_encode(s, &buf, &len) != 0) {
        set_err(err, err_len, "image: out of memory");
        return -1;
    }
    int rc = check_loadable(buf, len, err, err_len);
    char *tmp = NULL;
    if (rc == 0) {
        size_t n = strlen(path);
        tmp = malloc(n + sizeof(".tmp"));
        if (tmp == NULL) {
            set_err(err, err_len, "image: out of memory");
            rc = -1;
        } else {
            memcpy(tmp, path, n);
            memcpy(tmp + n, ".tmp", sizeof(".tmp"));
        }
    }
    if (rc == 0)
        rc = save_sequence(path, tmp, buf, len, io, err, err_len);
    free(tmp);
    st_image_free_buf(buf, len);
    return rc;
}

int st_image_load(const char *path, struct st_card_state *s, char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, err_len, "cannot open card image %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, err_len, "card image %s is not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size > IMAGE_MAX) {
        set_err(err, err_len, "card image %s is too large (%lld bytes)", path,
                (long long)st.st_size);
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1; /* +1 notices a file that grew meanwhile */
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        set_err(err, err_len, "image: out of memory");
        close(fd);
        return -1;
    }
    size_t len = 0;
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_err(err, err_len, "cannot read card image %s: %s", path, strerror(errno));
            close(fd);
            st_image_free_buf(buf, cap);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    char why[200] = "";
    int rc = st_image_decode(buf, len, s, why, sizeof(why));
    if (rc != 0)
        set_err(err, err_len, "card image %s: %s", path, why);
    st_image_free_buf(buf, cap);
    return rc;
}

/* ---- POSIX file operations --------------------------------------------- */

static int posix_open_tmp(void *ctx, const char *tmp_path)
{
    /* A stray .tmp of an interrupted save is replaced; O_EXCL also refuses symlinks. */
    if (unlink(tmp_path) != 0 && errno != ENOENT)
        return -1;
    return open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

static long posix_write(void *ctx, int fd, const void *buf, size_t n)
{
    for (;;) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        return (long)w;
    }
}

static int posix_fsync(void *ctx, int fd)
{
    for (;;) {
        int rc = fsync(fd);
        if (rc != 0 && errno == EINTR)
            continue;
        return rc;
    }
}

static int posix_close(void *ctx, int fd)
{
    return close(fd); /* never retried: the fd is gone even on EINTR */
}

static int posix_rename(void *ctx, const char *from, const char *to)
{
    return rename(from, to);
}

static int posix_fsync_dir(void *ctx, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = posix_fsync(ctx, fd);
    int e = errno;
    close(fd);
    /* Some file systems cannot sync a directory; there is nothing more to do. */
    if (rc != 0 && e == EINVAL)
        rc = 0;
    errno = e;
    return rc;
}

const struct st_image_io st_image_posix_io = {
    .open_tmp = posix_open_tmp,
    .write = posix_write,
    .fsync = posix_fsync,
    .close = posix_close,
    .rename = posix_rename,
    .fsync_dir = posix_fsync_dir,
    .ctx = NULL,
};
