/*
 * IoT SAFE discovery: GET DATA application (capabilities, IoT.04 D3/I4),
 * object list (credentials with labels and references, D9/I8) and one
 * object. Layouts and the applets' differences: reference §2.3-§2.5, §3,
 * rule 8.5.
 */
#include <string.h>

#include "iotsafe_int.h"

#define GET_DATA_APP 0x00
#define GET_DATA_LIST 0x01
#define LIST_FIRST 0x00
#define LIST_NEXT 0x01
#define SW_MORE_DATA 0x6300
#define MAX_LIST_ROUNDS 64 /* 6300 continuations; the card tables hold < 64 objects */

/* ---- GET DATA application ---- */

/* Reads a 1-byte attribute, or fails the parse. */
static int get_u8(const struct st_tlv_item *t, uint8_t *v)
{
    return st_tlv_u8(t, v);
}

int st_iotsafe_parse_app_info(const uint8_t *buf, size_t len, struct st_iotsafe_app_info *info)
{
    struct st_iotsafe_app_info a;
    struct st_tlv_cursor c;
    struct st_tlv_item t;
    int rc;
    if ((buf == NULL && len > 0) || info == NULL)
        return ST_E_ARG;
    memset(&a, 0, sizeof(a));
    st_tlv_cursor_init(&c, buf, len);
    while ((rc = st_tlv_next(&c, ST_TLV_BER, &t)) == ST_OK) {
        uint16_t bit = 0;
        int r = ST_OK;
        switch (t.tag) {
        case 0x10:
            r = get_u8(&t, &a.version);
            bit = ST_IOTSAFE_APP_VERSION;
            break;
        case 0x11:
            /* 32 bytes per the spec; ORA's applet sends 13 or 14. */
            if (t.len > sizeof(a.proprietary_id))
                return ST_E_PARSE;
            memcpy(a.proprietary_id, t.value, t.len);
            a.proprietary_id_len = (uint8_t)t.len;
            bit = ST_IOTSAFE_APP_ID;
            break;
        case 0xB1:
            r = get_u8(&t, &a.max_files);
            bit = ST_IOTSAFE_APP_MAX_FILES;
            break;
        case 0xB2:
            r = get_u8(&t, &a.max_private_keys);
            bit = ST_IOTSAFE_APP_MAX_PRIVATE;
            break;
        case 0xB3:
            r = get_u8(&t, &a.max_public_keys);
            bit = ST_IOTSAFE_APP_MAX_PUBLIC;
            break;
        case 0xB4:
            r = get_u8(&t, &a.max_secret_keys);
            bit = ST_IOTSAFE_APP_MAX_SECRET;
            break;
        case 0x90:
            r = get_u8(&t, &a.functions);
            bit = ST_IOTSAFE_APP_FUNCTIONS;
            break;
        case 0x91: /* 2 bytes; 1 byte from the applet ORA was written for */
            r = st_tlv_u16(&t, &a.hash_algos);
            bit = ST_IOTSAFE_APP_HASH;
            break;
        case 0x92:
            r = get_u8(&t, &a.sig_algos);
            bit = ST_IOTSAFE_APP_SIG;
            break;
        case 0x93:
            r = get_u8(&t, &a.key_agreement);
            bit = ST_IOTSAFE_APP_KEY_AGREEMENT;
            break;
        case 0x94:
            r = get_u8(&t, &a.key_derivation);
            bit = ST_IOTSAFE_APP_KEY_DERIVATION;
            break;
        case 0xB7:
            r = get_u8(&t, &a.max_sessions);
            bit = ST_IOTSAFE_APP_MAX_SESSIONS;
            break;
        default:
            break; /* proprietary additions are allowed */
        }
        if (r != ST_OK)
            return ST_E_PARSE;
        a.present |= bit;
    }
    if (rc != ST_E_NOT_FOUND)
        return ST_E_PARSE;
    *info = a;
    return ST_OK;
}

int st_iotsafe_get_app_info(struct st_iotsafe *ios, struct st_iotsafe_app_info *info)
{
    uint8_t buf[ST_RESPONSE_MAX];
    size_t n = sizeof(buf);
    if (info == NULL)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    /* Le = 00 rather than ORA's 44: a larger answer is not an error. */
    rc = st_ios_command(ios, INS_GET_DATA, GET_DATA_APP, 0x00, NULL, 0, LE_ANY, buf, &n);
    if (rc == ST_OK) {
        rc = st_iotsafe_parse_app_info(buf, n, info);
        if (rc == ST_E_PARSE)
            st_sim_set_detail(ios->sim, "GET DATA application: malformed TLVs");
    }
    return st_ios_end(ios, rc);
}

/* ---- Object information structures ---- */

static bool is_ref_tag(enum st_iotsafe_kind kind, uint8_t tag, bool *by_label)
{
    uint8_t id = st_ios_id_tag(kind);
    *by_label = tag == (uint8_t)(id - 0x10);
    return tag == id || *by_label;
}

/* One attribute TLV into o; ST_E_PARSE on a wrong size. Unknown tags: ignored. */
static int put_attribute(struct st_iotsafe_object *o, const struct st_tlv_item *t)
{
    uint16_t bit;
    int r;
    switch (t->tag) {
    case 0x60:
        r = st_tlv_u8(t, &o->access);
        bit = ST_IOTSAFE_OBJ_ACCESS;
        break;
    case 0x4A:
        r = st_tlv_u8(t, &o->state);
        bit = ST_IOTSAFE_OBJ_STATE;
        break;
    case 0x4B:
        r = st_tlv_u8(t, &o->key_type);
        bit = ST_IOTSAFE_OBJ_KEY_TYPE;
        break;
    case 0x4E: /* key usage */
    case 0x21: /* file usage */
        r = st_tlv_u8(t, &o->usage);
        bit = ST_IOTSAFE_OBJ_USAGE;
        break;
    case 0x61:
        r = st_tlv_u8(t, &o->functions);
        bit = ST_IOTSAFE_OBJ_FUNCTIONS;
        break;
    case 0x92:
        r = st_tlv_u8(t, &o->sig_algos);
        bit = ST_IOTSAFE_OBJ_SIG;
        break;
    case 0x91: /* 2 bytes (rule: ORA's "91 02 00 01"); 1 accepted */
        r = st_tlv_u16(t, &o->hash_algos);
        bit = ST_IOTSAFE_OBJ_HASH;
        break;
    case 0x6F:
        r = st_tlv_u8(t, &o->key_agreement);
        bit = ST_IOTSAFE_OBJ_KEY_AGREEMENT;
        break;
    case 0x94:
        r = st_tlv_u8(t, &o->key_derivation);
        bit = ST_IOTSAFE_OBJ_KEY_DERIVATION;
        break;
    case 0x20: /* file size, big-endian (THM, THP, WS; ORA's little-endian is a bug) */
        r = st_tlv_u16(t, &o->size);
        bit = ST_IOTSAFE_OBJ_SIZE;
        break;
    default:
        return ST_OK;
    }
    if (r != ST_OK)
        return ST_E_PARSE;
    o->present |= bit;
    return ST_OK;
}

/*
 * Entry body grammar (any order; THP puts several objects in one entry):
 *   entry  = object+
 *   object = ref+ attribute*      ref = ID (8x) | label (7x), at most one each
 * A new object starts at a ref tag once the current object has attributes
 * or already has that ref.
 */
int st_iotsafe_parse_entry(enum st_iotsafe_kind kind, const uint8_t *buf, size_t len,
                           st_iotsafe_object_fn fn, void *arg)
{
    struct st_iotsafe_object o;
    struct st_tlv_cursor c;
    struct st_tlv_item t;
    bool started = false, has_attr = false;
    int rc;
    if ((buf == NULL && len > 0) || fn == NULL || (unsigned)kind > ST_IOTSAFE_SECRET_KEY)
        return ST_E_ARG;
    memset(&o, 0, sizeof(o));
    o.kind = kind;
    st_tlv_cursor_init(&c, buf, len);
    while ((rc = st_tlv_next(&c, ST_TLV_BER, &t)) == ST_OK) {
        bool by_label;
        if (is_ref_tag(kind, t.tag, &by_label)) {
            bool dup = by_label ? o.label_len > 0 : o.id_len > 0;
            if (started && (has_attr || dup)) {
                int r = fn(arg, &o);
                if (r != ST_OK)
                    return r;
                memset(&o, 0, sizeof(o));
                o.kind = kind;
                has_attr = false;
            }
            size_t max = by_label ? ST_IOTSAFE_LABEL_MAX : ST_IOTSAFE_ID_MAX;
            if (t.len == 0 || t.len > max)
                return ST_E_PARSE;
            if (by_label) {
                memcpy(o.label, t.value, t.len);
                o.label_len = (uint8_t)t.len;
            } else {
                memcpy(o.id, t.value, t.len);
                o.id_len = (uint8_t)t.len;
            }
            started = true;
            continue;
        }
        if (!started)
            return ST_E_PARSE; /* attributes of an object without ID or label */
        if (put_attribute(&o, &t) != ST_OK)
            return ST_E_PARSE;
        has_attr = true;
    }
    if (rc != ST_E_NOT_FOUND)
        return ST_E_PARSE;
    if (!started)
        return ST_E_PARSE; /* an empty entry */
    return fn(arg, &o);
}

/* Cx wrapper tag of a kind, and back. */
static uint8_t wrapper_of(enum st_iotsafe_kind kind)
{
    return (uint8_t)(0xC1 + (unsigned)kind);
}

static bool kind_of_wrapper(uint8_t tag, enum st_iotsafe_kind *kind)
{
    if (tag < 0xC1 || tag > 0xC4)
        return false;
    *kind = (enum st_iotsafe_kind)(tag - 0xC1);
    return true;
}

/*
 * Reports the complete entries at the start of buf[0..len) and returns in
 * *used how many bytes they took. With final == false a cut-off entry at the
 * end is left for the next answer; with final == true it is an error.
 */
static int parse_entries(const uint8_t *buf, size_t len, bool final, st_iotsafe_object_fn fn,
                         void *arg, size_t *used)
{
    struct st_tlv_cursor c;
    struct st_tlv_item t;
    enum st_iotsafe_kind kind;
    int rc;
    st_tlv_cursor_init(&c, buf, len);
    for (;;) {
        const uint8_t *at = c.p;
        rc = st_tlv_next(&c, ST_TLV_BER, &t);
        if (rc == ST_E_NOT_FOUND)
            break;
        if (rc != ST_OK) {
            if (final)
                return ST_E_PARSE;
            c.p = at; /* wait for the rest of this entry */
            break;
        }
        if (!kind_of_wrapper(t.tag, &kind))
            continue; /* not an object entry: skip it */
        rc = st_iotsafe_parse_entry(kind, t.value, t.len, fn, arg);
        if (rc != ST_OK) {
            *used = (size_t)(at - buf);
            return rc;
        }
    }
    *used = (size_t)(c.p - buf);
    return ST_OK;
}

/* The list walk, lock held. */
static int foreach_locked(struct st_iotsafe *ios, st_iotsafe_object_fn fn, void *arg)
{
    /* An entry is < 258 bytes; an answer (with GET RESPONSE chaining) up to
     * what fits after the carried-over part. */
    uint8_t buf[3 * ST_RESPONSE_MAX];
    size_t have = 0;
    uint8_t p2 = LIST_FIRST;
    for (int round = 0; round < MAX_LIST_ROUNDS; round++) {
        size_t n = sizeof(buf) - have;
        uint16_t sw;
        int rc = st_ios_exchange(ios, INS_GET_DATA, GET_DATA_LIST, p2, NULL, 0, LE_ANY, buf + have,
                                 &n, &sw);
        if (rc != ST_OK)
            return rc;
        bool more = sw == SW_MORE_DATA;
        if (!more && st_status_from_sw(sw) != ST_OK)
            return st_status_from_sw(sw);
        have += n;
        size_t used = 0;
        rc = parse_entries(buf, have, !more, fn, arg, &used);
        if (rc != ST_OK) {
            if (rc == ST_E_PARSE)
                st_sim_set_detail(ios->sim, "GET DATA object list: malformed entry");
            return rc;
        }
        if (!more)
            return ST_OK;
        if (n == 0)
            return st_ios_fail(ios, ST_E_PARSE, "GET DATA object list: 6300 without data");
        memmove(buf, buf + used, have - used);
        have -= used;
        if (have > ST_RESPONSE_MAX)
            return st_ios_fail(ios, ST_E_PARSE, "GET DATA object list: entry too long");
        p2 = LIST_NEXT;
    }
    return st_ios_fail(ios, ST_E_PARSE, "GET DATA object list: too many continuations");
}

int st_iotsafe_foreach_object(struct st_iotsafe *ios, st_iotsafe_object_fn fn, void *arg)
{
    if (fn == NULL)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    return st_ios_end(ios, foreach_locked(ios, fn, arg));
}

struct collect {
    struct st_iotsafe_object *objs;
    size_t cap, n;
};

static int collect_one(void *arg, const struct st_iotsafe_object *o)
{
    struct collect *c = arg;
    if (c->n == c->cap)
        return ST_E_BUFFER;
    c->objs[c->n++] = *o;
    return ST_OK;
}

int st_iotsafe_list_objects(struct st_iotsafe *ios, struct st_iotsafe_object *objs, size_t *count)
{
    if (count == NULL || (objs == NULL && *count > 0))
        return ST_E_ARG;
    struct collect c = {objs, *count, 0};
    int rc = st_iotsafe_foreach_object(ios, collect_one, &c);
    if (rc == ST_E_BUFFER)
        st_sim_set_detail(ios->sim, "more objects on the card than room in the array");
    if (rc == ST_OK)
        *count = c.n;
    return rc;
}

/* ---- One object ---- */

struct first {
    struct st_iotsafe_object obj;
    bool found;
};

static int take_first(void *arg, const struct st_iotsafe_object *o)
{
    struct first *f = arg;
    f->obj = *o;
    f->found = true;
    return 1; /* stop */
}

int st_ios_get_object(struct st_iotsafe *ios, enum st_iotsafe_kind kind,
                      const struct st_iotsafe_ref *ref, struct st_iotsafe_object *obj)
{
    uint8_t cmd[2 + ST_IOTSAFE_LABEL_MAX], buf[ST_RESPONSE_MAX];
    size_t n = sizeof(buf);
    struct st_tlv_writer w;
    struct st_tlv_item t;
    struct st_tlv_cursor c;
    struct first f;
    st_tlv_writer_init(&w, cmd, sizeof(cmd));
    st_ios_put_ref(&w, kind, ref);
    int rc = st_ios_command(ios, INS_GET_DATA, wrapper_of(kind), 0x00, cmd, w.len, LE_ANY, buf, &n);
    if (rc != ST_OK)
        return rc;
    /* "Cx LL <info>" (rule 8.5), or the bare information structure (M33). */
    const uint8_t *body = buf;
    size_t body_len = n;
    st_tlv_cursor_init(&c, buf, n);
    if (st_tlv_next(&c, ST_TLV_BER, &t) == ST_OK && t.tag == wrapper_of(kind)) {
        if (!st_tlv_cursor_done(&c))
            return st_ios_fail(ios, ST_E_PARSE, "GET DATA object: data after the entry");
        body = t.value;
        body_len = t.len;
    }
    f.found = false;
    rc = st_iotsafe_parse_entry(kind, body, body_len, take_first, &f);
    if (rc < 0)
        return st_ios_fail(ios, rc, "GET DATA object: malformed information structure");
    if (!f.found)
        return st_ios_fail(ios, ST_E_PARSE, "GET DATA object: no object in the answer");
    *obj = f.obj;
    return ST_OK;
}

int st_iotsafe_get_object(struct st_iotsafe *ios, enum st_iotsafe_kind kind,
                          const struct st_iotsafe_ref *ref, struct st_iotsafe_object *obj)
{
    if (!st_ios_ref_ok(ref) || obj == NULL || (unsigned)kind > ST_IOTSAFE_SECRET_KEY)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    return st_ios_end(ios, st_ios_get_object(ios, kind, ref, obj));
}

struct match {
    enum st_iotsafe_kind kind;
    const struct st_iotsafe_ref *ref;
    struct st_iotsafe_object obj;
    bool found;
};

static int match_one(void *arg, const struct st_iotsafe_object *o)
{
    struct match *m = arg;
    const uint8_t *b = m->ref->by_label ? o->label : o->id;
    size_t len = m->ref->by_label ? o->label_len : o->id_len;
    if (o->kind != m->kind || len != m->ref->len || memcmp(b, m->ref->bytes, len) != 0)
        return ST_OK;
    m->obj = *o;
    m->found = true;
    return 1;
}

/* Card answers that mean "this applet has no GET DATA one-object for that kind". */
static bool no_single_get(int rc)
{
    return rc == ST_E_CARD_P1P2 || rc == ST_E_CARD_INS || rc == ST_E_CARD_INCORRECT_DATA ||
           rc == ST_E_CARD_WRONG_LENGTH || rc == ST_E_CARD;
}

int st_ios_find_object(struct st_iotsafe *ios, enum st_iotsafe_kind kind,
                       const struct st_iotsafe_ref *ref, struct st_iotsafe_object *obj)
{
    int rc = st_ios_get_object(ios, kind, ref, obj);
    if (rc == ST_E_CARD_NOT_FOUND)
        return st_ios_fail(ios, ST_E_NOT_FOUND, "no object with that reference");
    if (!no_single_get(rc))
        return rc;
    struct match m = {kind, ref, {0}, false};
    rc = foreach_locked(ios, match_one, &m);
    if (rc < 0)
        return rc;
    if (!m.found)
        return st_ios_fail(ios, ST_E_NOT_FOUND, "no object with that reference");
    *obj = m.obj;
    return ST_OK;
}

int st_iotsafe_find_object(struct st_iotsafe *ios, enum st_iotsafe_kind kind,
                           const struct st_iotsafe_ref *ref, struct st_iotsafe_object *obj)
{
    if (!st_ios_ref_ok(ref) || obj == NULL || (unsigned)kind > ST_IOTSAFE_SECRET_KEY)
        return ST_E_ARG;
    int rc = st_ios_begin(ios, true);
    if (rc != ST_OK)
        return rc;
    return st_ios_end(ios, st_ios_find_object(ios, kind, ref, obj));
}
