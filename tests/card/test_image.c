/*
 * Card image format (card/image.h): round trips, volatile keys never written,
 * and strict refusal of corrupt, torn, newer or malformed images.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "image.h"
#include "store_fixture.h"

static struct st_card_state *new_state(void)
{
    struct st_card_state *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    return s;
}

static void round_trip(const struct st_card_state *in)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    assert_int_equal(st_image_encode(in, &buf, &len), 0);
    struct st_card_state *out = new_state();
    if (st_image_decode(buf, len, out, err, sizeof(err)) != 0)
        fail_msg("decode: %s", err);
    if (!fx_state_equal(in, out, err, sizeof(err)))
        fail_msg("round trip: %s", err);
    /* Encoding is deterministic: the decoded state encodes to the same bytes. */
    uint8_t *buf2 = NULL;
    size_t len2 = 0;
    assert_int_equal(st_image_encode(out, &buf2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    st_image_free_buf(buf, len);
    st_image_free_buf(buf2, len2);
    free(out);
}

static void test_round_trip(void **unused)
{
    struct st_card_state *s = new_state();
    st_card_state_init(s);
    round_trip(s);
    fx_state_old(s);
    round_trip(s);
    fx_state_new(s);
    round_trip(s);
    fx_state_full(s);
    round_trip(s);
    free(s);
}

/* Slots survive: an object in slot 5 with free slots before it stays in slot 5. */
static void test_slots_kept(void **unused)
{
    struct st_card_state *s = new_state(), *out = new_state();
    fx_state_old(s);
    s->file[5] = s->file[0];
    memset(&s->file[0], 0, sizeof(s->file[0]));
    round_trip(s);
    uint8_t *buf;
    size_t len;
    assert_int_equal(st_image_encode(s, &buf, &len), 0);
    assert_int_equal(st_image_decode(buf, len, out, NULL, 0), 0);
    assert_false(out->file[0].in_use);
    assert_true(out->file[5].in_use);
    st_image_free_buf(buf, len);
    free(s);
    free(out);
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

/* Volatile key values (4B 14/24) stay in RAM: not in the image, empty after load. */
static void test_volatile_not_written(void **unused)
{
    struct st_card_state *s = new_state(), *out = new_state();
    fx_state_old(s);
    struct st_object *vpriv =
        st_objects_find(s, ST_OBJ_PRIVATE_KEY, false, (const uint8_t *)"\x04", 1);
    struct st_object *vpub =
        st_objects_find(s, ST_OBJ_PUBLIC_KEY, false, (const uint8_t *)"\x05", 1);
    assert_non_null(vpriv);
    assert_non_null(vpub);
    assert_int_equal(vpriv->value_len, 32);
    uint8_t *buf;
    size_t len;
    assert_int_equal(st_image_encode(s, &buf, &len), 0);
    assert_false(contains(buf, len, vpriv->value, 16));
    assert_false(contains(buf, len, vpub->value + 1, 16));
    /* Persistent values are there (sanity check of the scan). */
    assert_true(contains(buf, len, s->priv[0].value, 32));
    assert_int_equal(st_image_decode(buf, len, out, NULL, 0), 0);
    struct st_object *o =
        st_objects_find(out, ST_OBJ_PRIVATE_KEY, false, (const uint8_t *)"\x04", 1);
    assert_non_null(o);
    assert_int_equal(o->value_len, 0);
    assert_int_equal(o->state, ST_STATE_EMPTY);
    assert_int_equal(o->key_type, ST_KEY_P256_VOLATILE);
    assert_int_equal(o->functions, vpriv->functions);
    st_image_free_buf(buf, len);
    free(s);
    free(out);
}

/* Decoding must fail, leave *s untouched and give a reason. */
static void expect_refused(const uint8_t *buf, size_t len, const char *want, const char *what)
{
    /* One pre-filled target and its reference, reused: refusals must not touch it. */
    static struct st_card_state *s, *ref;
    if (s == NULL) {
        s = malloc(sizeof(*s));
        ref = malloc(sizeof(*ref));
        assert_non_null(s);
        assert_non_null(ref);
        memset(s, 0xA5, sizeof(*s));
        memset(ref, 0xA5, sizeof(*ref));
    }
    char err[256] = "";
    if (st_image_decode(buf, len, s, err, sizeof(err)) == 0)
        fail_msg("%s: accepted", what);
    if (err[0] == '\0')
        fail_msg("%s: no reason given", what);
    if (want != NULL && strstr(err, want) == NULL)
        fail_msg("%s: reason \"%s\" lacks \"%s\"", what, err, want);
    if (memcmp(s, ref, sizeof(*s)) != 0)
        fail_msg("%s: state modified", what);
}

static void test_every_flip_and_truncation(void **unused)
{
    struct st_card_state *s = new_state();
    fx_state_new(s);
    uint8_t *buf;
    size_t len;
    assert_int_equal(st_image_encode(s, &buf, &len), 0);
    char what[64];
    size_t flips = 0, cuts = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            snprintf(what, sizeof(what), "flip byte %zu bit %d", i, bit);
            expect_refused(buf, len, NULL, what);
            buf[i] ^= (uint8_t)(1u << bit);
            flips++;
        }
    }
    for (size_t n = 0; n < len; n++) {
        snprintf(what, sizeof(what), "truncated to %zu", n);
        expect_refused(buf, n, NULL, what);
        cuts++;
    }
    /* Typical reasons, so a user sees what is wrong. */
    expect_refused(buf, len - 1, "length mismatch", "truncated by one");
    buf[len / 2] ^= 1;
    expect_refused(buf, len, "digest mismatch", "payload flip");
    buf[len / 2] ^= 1;
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    expect_refused(longer, len + 1, "length mismatch", "appended byte");
    free(longer);
    print_message("image of %zu bytes: %zu bit flips, %zu truncations refused\n", len, flips, cuts);
    st_image_free_buf(buf, len);
    free(s);
}

/* ---- hand-made images with a valid digest: the record parser itself ---- */

struct img {
    uint8_t b[8192];
    size_t len;
};

static void img_start(struct img *m, uint16_t version, uint16_t flags)
{
    memcpy(m->b, "STCARD\r\n", 8);
    m->b[8] = (uint8_t)(version >> 8);
    m->b[9] = (uint8_t)version;
    m->b[10] = (uint8_t)(flags >> 8);
    m->b[11] = (uint8_t)flags;
    m->len = 16;
}

static void img_bytes(struct img *m, const void *p, size_t n)
{
    assert_true(m->len + n <= sizeof(m->b) - 32);
    memcpy(m->b + m->len, p, n);
    m->len += n;
}

static void img_rec(struct img *m, uint8_t tag, const void *p, size_t n)
{
    uint8_t h[3] = {tag, (uint8_t)(n >> 8), (uint8_t)n};
    img_bytes(m, h, 3);
    img_bytes(m, p, n);
}

/* Object record: slot, id, label, attributes, value (value_len as given). */
static void img_obj(struct img *m, uint8_t kind, uint8_t slot, const char *id, size_t id_len,
                    const char *label, uint8_t key_type, uint8_t state, size_t value_len,
                    size_t declared_value_len, size_t extra)
{
    uint8_t v[8192];
    size_t n = 0;
    size_t label_len = strlen(label);
    v[n++] = slot;
    v[n++] = (uint8_t)id_len;
    memcpy(v + n, id, id_len);
    n += id_len;
    v[n++] = (uint8_t)label_len;
    memcpy(v + n, label, label_len);
    n += label_len;
    const uint8_t attrs[] = {ST_ACCESS_READ, state, key_type, 3, 1, 4, 0, 7, 1, 0};
    memcpy(v + n, attrs, sizeof(attrs));
    n += sizeof(attrs);
    v[n++] = (uint8_t)(declared_value_len >> 8);
    v[n++] = (uint8_t)declared_value_len;
    memset(v + n, 0x5A, value_len + extra);
    n += value_len + extra;
    img_rec(m, (uint8_t)(0x10 + kind), v, n);
}

/* Fixes the payload length and appends the SHA-256 trailer. */
static void img_seal(struct img *m)
{
    size_t payload = m->len - 16;
    m->b[12] = (uint8_t)(payload >> 24);
    m->b[13] = (uint8_t)(payload >> 16);
    m->b[14] = (uint8_t)(payload >> 8);
    m->b[15] = (uint8_t)payload;
    unsigned int dl = 0;
    assert_int_equal(EVP_Digest(m->b, m->len, m->b + m->len, &dl, EVP_sha256(), NULL), 1);
    m->len += dl;
}

static void test_minimal_valid(void **unused)
{
    struct img m;
    img_start(&m, 1, 0);
    img_obj(&m, ST_OBJ_FILE, 0, "\x02", 1, "cert", 0, 1, 10, 10, 0);
    img_seal(&m);
    struct st_card_state *s = new_state();
    char err[256] = "";
    if (st_image_decode(m.b, m.len, s, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_true(s->file[0].in_use);
    assert_int_equal(s->file[0].value_len, 10);
    assert_int_equal(s->aid_count, 0);
    free(s);
}

static void test_header_refusals(void **unused)
{
    struct img m;
    img_start(&m, 2, 0);
    img_seal(&m);
    expect_refused(m.b, m.len, "version 2 is not supported", "newer version");
    img_start(&m, 0, 0);
    img_seal(&m);
    expect_refused(m.b, m.len, "version 0", "version 0");
    img_start(&m, 1, 0x0001);
    img_seal(&m);
    expect_refused(m.b, m.len, "unknown flags", "flags");
    img_start(&m, 1, 0);
    m.b[0] = 'X';
    img_seal(&m);
    expect_refused(m.b, m.len, "bad magic", "magic");
    expect_refused(NULL, 0, "too short", "NULL");
    expect_refused(m.b, 47, "too short", "47 bytes");
}

static void test_record_refusals(void **unused)
{
    static const char id20[] = "ABCDEFGHIJKLMNOPQRSTU";
    char label61[62];
    memset(label61, 'x', 61);
    label61[61] = '\0';
    struct img m;
    const uint8_t one = 1, two = 2;
    const uint8_t gen[4] = {0, 0, 0, 1};
    const uint8_t aid[7] = {0xA0, 0, 0, 5, 0x59, 0, 0x10};
    uint8_t big[20] = {0};

#define REFUSE(want, what, ...)                                                                    \
    do {                                                                                           \
        img_start(&m, 1, 0);                                                                       \
        __VA_ARGS__;                                                                               \
        img_seal(&m);                                                                              \
        expect_refused(m.b, m.len, want, what);                                                    \
    } while (0)

    REFUSE("unknown record type", "unknown tag", img_rec(&m, 0x7F, &one, 1));
    REFUSE("duplicate record", "two ICCIDs", img_rec(&m, 0x01, big, 10);
           img_rec(&m, 0x01, big, 10));
    REFUSE("ICCID too long", "ICCID 11", img_rec(&m, 0x01, big, 11));
    REFUSE("EID too long", "EID 17", img_rec(&m, 0x02, big, 17));
    REFUSE("ATR too long", "ATR 34", img_bytes(&m, "\x03\x00\x22", 3); img_bytes(&m, big, 20);
           img_bytes(&m, big, 14));
    REFUSE("bad AID length", "AID 0", img_rec(&m, 0x04, aid, 0));
    REFUSE("bad AID length", "AID 17", img_rec(&m, 0x04, big, 17));
    REFUSE("too many AIDs", "5 AIDs", for (int i = 0; i < 5; i++) img_rec(&m, 0x04, aid, 7));
    REFUSE("bad signature form", "sig form 2", img_rec(&m, 0x05, &two, 1));
    REFUSE("bad signature form", "sig form len 2", img_rec(&m, 0x05, gen, 2));
    REFUSE("bad generation length", "generation 3", img_rec(&m, 0x06, gen, 3));
    REFUSE("duplicate record", "two generations", img_rec(&m, 0x06, gen, 4);
           img_rec(&m, 0x06, gen, 4));
    REFUSE("truncated record header", "2-byte tail", img_bytes(&m, "\x06\x00", 2));
    REFUSE("overruns", "record overrun", img_bytes(&m, "\x06\x00\x05\x00", 4));
    REFUSE("slot out of range", "private slot 8",
           img_obj(&m, ST_OBJ_PRIVATE_KEY, 8, "\x01", 1, "", ST_KEY_P256, 1, 32, 32, 0));
    REFUSE("slot out of range", "file slot 16",
           img_obj(&m, ST_OBJ_FILE, 16, "\x01", 1, "", 0, 1, 1, 1, 0));
    REFUSE("duplicate slot", "two objects in slot 0",
           img_obj(&m, ST_OBJ_FILE, 0, "\x01", 1, "", 0, 1, 1, 1, 0);
           img_obj(&m, ST_OBJ_FILE, 0, "\x02", 1, "", 0, 1, 1, 1, 0));
    REFUSE("duplicate ID", "same file ID twice",
           img_obj(&m, ST_OBJ_FILE, 0, "\x01", 1, "a", 0, 1, 1, 1, 0);
           img_obj(&m, ST_OBJ_FILE, 1, "\x01", 1, "b", 0, 1, 1, 1, 0));
    REFUSE("duplicate label", "same key label twice",
           img_obj(&m, ST_OBJ_PUBLIC_KEY, 0, "\x01", 1, "k", ST_KEY_P256, 1, 65, 65, 0);
           img_obj(&m, ST_OBJ_PUBLIC_KEY, 1, "\x02", 1, "k", ST_KEY_P256, 1, 65, 65, 0));
    REFUSE("empty ID", "ID of 0 bytes", img_obj(&m, ST_OBJ_FILE, 0, "", 0, "", 0, 1, 1, 1, 0));
    REFUSE("bad ID length", "ID of 21 bytes",
           img_obj(&m, ST_OBJ_FILE, 0, id20, 21, "", 0, 1, 1, 1, 0));
    REFUSE("bad label length", "label of 61 bytes",
           img_obj(&m, ST_OBJ_FILE, 0, "\x01", 1, label61, 0, 1, 1, 1, 0));
    REFUSE("bad object state", "state 2",
           img_obj(&m, ST_OBJ_FILE, 0, "\x01", 1, "", 0, 2, 1, 1, 0));
    REFUSE("value too long", "secret of 65 bytes",
           img_obj(&m, ST_OBJ_SECRET_KEY, 0, "\x01", 1, "", ST_KEY_HMAC, 1, 65, 65, 0));
    REFUSE("value too long", "public key of 301 bytes",
           img_obj(&m, ST_OBJ_PUBLIC_KEY, 0, "\x01", 1, "", ST_KEY_RSA2048, 1, 301, 301, 0));
    REFUSE("value too long", "private key of 1281 bytes",
           img_obj(&m, ST_OBJ_PRIVATE_KEY, 0, "\x01", 1, "", ST_KEY_RSA2048, 1, 1281, 1281, 0));
    REFUSE("volatile key with a stored value", "volatile private value",
           img_obj(&m, ST_OBJ_PRIVATE_KEY, 0, "\x04", 1, "", ST_KEY_P256_VOLATILE, 1, 32, 32, 0));
    REFUSE("volatile key with a stored value", "volatile public value",
           img_obj(&m, ST_OBJ_PUBLIC_KEY, 0, "\x05", 1, "", ST_KEY_BP256_VOLATILE, 1, 65, 65, 0));
    REFUSE("truncated value", "value shorter than declared",
           img_obj(&m, ST_OBJ_FILE, 0, "\x01", 1, "", 0, 1, 5, 6, 0));
    REFUSE("trailing bytes", "value longer than declared",
           img_obj(&m, ST_OBJ_FILE, 0, "\x01", 1, "", 0, 1, 5, 5, 1));
    REFUSE("truncated object", "object of one byte", img_rec(&m, 0x12, &one, 1));
    REFUSE("unknown record type", "object kind 4", img_obj(&m, 4, 0, "\x01", 1, "", 0, 1, 1, 1, 0));
#undef REFUSE
}

/* ---- files ---- */

static void test_save_load(void **unused)
{
    char *dir = fx_mkdtemp();
    char path[4200], tmp[4210];
    snprintf(path, sizeof(path), "%s/card.img", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    struct st_card_state *s = new_state(), *out = new_state();
    char err[256] = "";

    fx_state_old(s);
    if (st_image_save(path, s, NULL, err, sizeof(err)) != 0)
        fail_msg("save: %s", err);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_equal(st_image_load(path, out, err, sizeof(err)), 0);
    assert_true(fx_state_equal(s, out, err, sizeof(err)));

    /* Over an existing image, with a stray .tmp of an interrupted save. */
    assert_int_equal(fx_write_file(tmp, "junk", 4), 0);
    fx_state_new(s);
    assert_int_equal(st_image_save(path, s, &st_image_posix_io, err, sizeof(err)), 0);
    assert_int_equal(st_image_load(path, out, err, sizeof(err)), 0);
    assert_true(fx_state_equal(s, out, err, sizeof(err)));
    assert_int_not_equal(access(tmp, F_OK), 0);

    /* A state that would not load again is not written at all. */
    fx_state_old(s);
    s->file[1].id[0] = s->file[0].id[0];
    s->file[1].id_len = s->file[0].id_len;
    assert_int_equal(st_image_save(path, s, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "duplicate ID"));
    fx_state_new(s);
    assert_int_equal(st_image_load(path, out, err, sizeof(err)), 0);
    assert_true(fx_state_equal(s, out, err, sizeof(err)));

    /* Errors name the problem. */
    char missing[4300];
    snprintf(missing, sizeof(missing), "%s/none.img", dir);
    assert_int_equal(st_image_load(missing, out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(st_image_load(dir, out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(fx_write_file(missing, "STCARD\r\n", 8), 0);
    assert_int_equal(st_image_load(missing, out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too short"));
    unlink(missing);
    snprintf(missing, sizeof(missing), "%s/no-such-dir/card.img", dir);
    assert_int_equal(st_image_save(missing, s, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot create"));

    unlink(path);
    free(s);
    free(out);
    fx_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_slots_kept),
        cmocka_unit_test(test_volatile_not_written),
        cmocka_unit_test(test_every_flip_and_truncation),
        cmocka_unit_test(test_minimal_valid),
        cmocka_unit_test(test_header_refusals),
        cmocka_unit_test(test_record_refusals),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
