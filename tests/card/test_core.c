/*
 * Card core: APDU parsing, CLA classes, logical channels, SELECT, GET
 * RESPONSE, direct vs T=0 delivery, GET DATA and READ FILE — each success
 * and each error status word, plus the compatibility rules of reference §8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "card.h"
#include "st_hex.h"

struct rsp {
    uint8_t data[ST_RAPDU_MAX];
    size_t len;
    uint16_t sw;
};

static st_card *card;

/* Sends a hex C-APDU; returns the data length, the SW in r->sw. */
static struct rsp send_hex(const char *hex)
{
    uint8_t c[ST_CAPDU_MAX + 16];
    uint8_t r[ST_RAPDU_MAX];
    struct rsp out;
    long n = st_hex_decode(hex, strlen(hex), c, sizeof(c));
    assert_true(n >= 0);
    size_t rl = st_card_transmit(card, c, (size_t)n, r);
    assert_true(rl >= 2 && rl <= ST_RAPDU_MAX);
    out.len = rl - 2;
    memcpy(out.data, r, out.len);
    out.sw = (uint16_t)(r[rl - 2] << 8 | r[rl - 1]);
    return out;
}

static void expect_sw(const char *hex, uint16_t sw)
{
    struct rsp r = send_hex(hex);
    if (r.sw != sw)
        fail_msg("%s: SW %04X, expected %04X", hex, r.sw, sw);
}

static struct st_object *add(struct st_card_state *s, enum st_obj_kind kind, const char *id_hex,
                             const char *label)
{
    struct st_object *o = st_objects_alloc(s, kind);
    assert_non_null(o);
    o->id_len = (uint8_t)st_hex_decode(id_hex, strlen(id_hex), o->id, ST_ID_MAX);
    o->label_len = (uint8_t)strlen(label);
    memcpy(o->label, label, o->label_len);
    return o;
}

/* A card with one of each kind, a 600-byte file and a write-only file. */
static void make_state(struct st_card_state *s)
{
    st_card_state_init(s);
    struct st_object *o = add(s, ST_OBJ_PRIVATE_KEY, "01", "client");
    o->access = ST_ACCESS_READ;
    o->key_type = ST_KEY_P256;
    o->usage = ST_USAGE_TLS13;
    o->functions = ST_FN_SIGN | ST_FN_KEYGEN;
    o->sig_algos = ST_SIG_ECDSA;
    o->hash_algos = ST_HASH_SHA256;
    o->value_len = 32;
    o = add(s, ST_OBJ_PUBLIC_KEY, "01", "client");
    o->key_type = ST_KEY_P256;
    o = add(s, ST_OBJ_SECRET_KEY, "10", "psk1");
    o->key_type = ST_KEY_HMAC;
    o->value_len = 16;
    o = add(s, ST_OBJ_FILE, "02", "cert");
    o->access = ST_ACCESS_READ;
    o->usage = ST_FILE_CERTIFICATE;
    o->value_len = 600;
    for (int i = 0; i < 600; i++)
        o->value[i] = (uint8_t)(i * 7);
    o = add(s, ST_OBJ_FILE, "0301", "");
    o->access = ST_ACCESS_UPDATE; /* not readable */
    o->value_len = 4;
}

static int setup(void **state)
{
    static struct st_card_state s;
    struct st_card_config cfg = {0};
    char err[128];
    make_state(&s);
    card = st_card_new(&cfg, &s, err, sizeof(err));
    assert_non_null(card);
    (void)state;
    return 0;
}

static int teardown(void **state)
{
    st_card_free(card);
    (void)state;
    return 0;
}

static void test_parse_lengths(void **state)
{
    (void)state;
    expect_sw("00A4", 0x6700);                              /* < 4 bytes */
    expect_sw("00A4040007A00000055900", 0x6700);            /* Lc beyond data */
    expect_sw("00A4040000", 0x6700);                        /* case 2: no AID */
    expect_sw("00A4040007A0000005590010", 0x9000);          /* case 3 */
    expect_sw("00A4040007A000000559001000", 0x9000);        /* + stray Le (Orange) */
    expect_sw("00A4040007A0000005590010000000", 0x9000);    /* + more junk: ignored */
    expect_sw("00A4040100A0", 0x6700);                      /* Lc = 00 with data */
}

static void test_cla_classes(void **state)
{
    (void)state;
    expect_sw("00A4040007A0000005590010", 0x9000);
    expect_sw("80CB000044", 0x9000); /* proprietary class, channel 0 */
    expect_sw("00CB000044", 0x9000); /* interindustry class: never 6E00 (rule 2) */
    expect_sw("40CB000044", 0x6881); /* channels 4-19 are not provided */
    expect_sw("0CCB000044", 0x6882); /* secure messaging */
    expect_sw("10CB000044", 0x6884); /* chaining */
    expect_sw("A0CB000044", 0x6E00);
    expect_sw("FFCB000044", 0x6E00);
    expect_sw("80FF000000", 0x6D00); /* unknown INS */
}

static void test_manage_channel(void **state)
{
    (void)state;
    struct rsp r = send_hex("0070000001");
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 1);
    assert_int_equal(r.data[0], 1);
    r = send_hex("0070000000"); /* Le = 00 (Kigen client) */
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.data[0], 2);
    expect_sw("0070000201", 0x6985); /* already open */
    expect_sw("0070000003", 0x9000); /* explicit channel 3 */
    expect_sw("0070000001", 0x6A81); /* none left */
    expect_sw("0070000401", 0x6A86);
    expect_sw("0070200000", 0x6A86); /* bad P1 */
    expect_sw("00708002", 0x9000);    /* close, 4-byte form (Orange) */
    expect_sw("0070800200", 0x9000);  /* closing a closed channel: 9000 (rule 7) */
    expect_sw("0070800400", 0x6881);  /* ends the "close 1..n" loop */
    expect_sw("0070800000", 0x6A86);  /* basic channel never closes */
    expect_sw("02CB000044", 0x6881);  /* channel 2 is closed */
    expect_sw("0070000001", 0x9000);  /* reopened */
    expect_sw("02CB000044", 0x6985);  /* open, applet not selected */
}

static void test_select(void **state)
{
    (void)state;
    expect_sw("01CB000044", 0x6881);                 /* channel 1 closed */
    expect_sw("01A4040007A0000005590010", 0x9000);   /* opens channel 1 implicitly */
    expect_sw("81CB000044", 0x9000);
    expect_sw("01A4040005A000000559", 0x9000);       /* right-truncated AID */
    expect_sw("01A4040007A0000005590011", 0x6A82);   /* unknown AID deselects */
    expect_sw("81CB000044", 0x6985);
    expect_sw("01A4000002 3F00", 0x6A82);            /* select by FID: no file system */
    expect_sw("01A4040011A0000005590010A0000005590010A000", 0x6700); /* AID > 16 */
}

static void test_power_resets_channels(void **state)
{
    (void)state;
    uint8_t atr[33];
    expect_sw("01A4040007A0000005590010", 0x9000);
    size_t n = st_card_power(card, ST_POWER_RESET, atr, sizeof(atr));
    assert_int_equal(n, 5);
    assert_memory_equal(atr, "\x3B\x80\x80\x01\x01", 5);
    expect_sw("81CB000044", 0x6881);
}

static void test_get_data_application(void **state)
{
    (void)state;
    expect_sw("00A4040007A0000005590010", 0x9000);
    struct rsp r = send_hex("80CB000044");
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 0x44); /* reference §2.3: exactly 68 bytes */
    assert_int_equal(r.data[0], 0x10);
    assert_int_equal(r.data[3], 0x11);
    assert_int_equal(r.data[4], 0x20);
    /* B1 max files follows the 32-byte applet ID. */
    assert_int_equal(r.data[37], 0xB1);
    assert_int_equal(r.data[39], ST_MAX_FILES);
    expect_sw("80CB000100", 0x6A86); /* P1=00 with P2 != 00 */
    expect_sw("80CB050000", 0x6A86);
}

/* Walks Cx entries and returns their tags in order. */
static size_t list_tags(const uint8_t *p, size_t n, uint8_t *tags)
{
    size_t count = 0;
    for (size_t i = 0; i + 2 <= n; i += 2 + p[i + 1])
        tags[count++] = p[i];
    return count;
}

static void test_object_list_order_and_continuation(void **state)
{
    (void)state;
    expect_sw("00A4040007A0000005590010", 0x9000);
    struct rsp r = send_hex("80CB010000");
    assert_int_equal(r.sw, 0x9000);
    uint8_t tags[16];
    size_t n = list_tags(r.data, r.len, tags);
    assert_int_equal(n, 5);
    /* C1, C2, C4, C3 (rule 8.5) */
    const uint8_t want[] = {0xC1, 0xC2, 0xC4, 0xC3, 0xC3};
    assert_memory_equal(tags, want, 5);
    /* Small Le forces 6300 and a P2=01 continuation that ends with 9000. */
    size_t total = r.len;
    size_t got = 0;
    r = send_hex("80CB010040");
    assert_int_equal(r.sw, 0x6300);
    assert_true(r.len <= 0x40 && r.len > 0);
    got += r.len;
    for (int i = 0; i < 10 && r.sw == 0x6300; i++) {
        r = send_hex("80CB010140");
        got += r.len;
    }
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(got, total);
    expect_sw("80CB010002", 0x6700); /* Le below one entry */
    expect_sw("80CB010200", 0x6A86);
}

static void test_get_data_one_object(void **state)
{
    (void)state;
    expect_sw("01A4040007A0000005590010", 0x9000);
    struct rsp r = send_hex("81CBC30003830102");
    assert_int_equal(r.sw, 0x9000);
    /* C3 16 73 04 "cert" 83 01 02 60 01 01 4A 01 01 20 02 02 58 21 01 02 */
    const uint8_t want[] = {0xC3, 0x16, 0x73, 0x04, 'c',  'e',  'r',  't',  0x83, 0x01, 0x02,
                            0x60, 0x01, 0x01, 0x4A, 0x01, 0x01, 0x20, 0x02, 0x02, 0x58, 0x21,
                            0x01, 0x02};
    assert_int_equal(r.len, sizeof(want));
    assert_memory_equal(r.data, want, sizeof(want));
    r = send_hex("81CBC10004740663 6C"); /* label TLV longer than the data */
    assert_int_equal(r.sw, 0x6A80);
    r = send_hex("81CBC10008740663 6C69656E74 00");
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.data[0], 0xC1);
    expect_sw("81CBC40003860110", 0x9000);
    expect_sw("81CBC20003850101", 0x9000);
    expect_sw("81CBC30003830199", 0x6A82);
    expect_sw("81CBC30003840102", 0x6A80); /* wrong tag for files */
    expect_sw("81CBC300", 0x6700);
}

static void test_read_file(void **state)
{
    (void)state;
    expect_sw("00A4040007A0000005590010", 0x9000);
    /* No Le: 255 bytes. */
    struct rsp r = send_hex("80B0000003830102");
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 255);
    assert_int_equal(r.data[1], 7);
    /* Le honoured (Orange sends "00 32" after the data). */
    r = send_hex("80B00032038301020032");
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 0x32);
    assert_int_equal(r.data[0], (uint8_t)(0x32 * 7));
    /* Le = 00 means "what the card chooses": 255. */
    r = send_hex("80B000000383010200");
    assert_int_equal(r.len, 255);
    /* The tail and the end of file. */
    r = send_hex("80B0025003830102");
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 600 - 0x250);
    expect_sw("80B0025803830102", 0x6981); /* offset == size */
    expect_sw("80B0FFFF03830102", 0x6981);
    r = send_hex("80B00000067304636572740A"); /* by label "cert", Le 10 */
    assert_int_equal(r.len, 10);
    assert_int_equal(r.sw, 0x9000);
    expect_sw("80B0000004830203 01", 0x6982); /* not readable */
    expect_sw("80B0000003830109", 0x6A82);
    expect_sw("80B00000", 0x6700);
    expect_sw("80B000000483010200", 0x6A80); /* trailing byte inside Lc */
}

static void test_t0_style_get_response(void **state)
{
    (void)state;
    st_card_set_t0_style(card, true);
    expect_sw("01A4040007A0000005590010", 0x9000);
    /* Case 4 answers 61xx; GET RESPONSE with CLA 01 (wolfSSL) serves it. */
    struct rsp r = send_hex("81CBC30003830102");
    assert_int_equal(r.sw, 0x6118);
    assert_int_equal(r.len, 0);
    r = send_hex("01C0000018");
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 0x18);
    assert_int_equal(r.data[0], 0xC3);
    expect_sw("01C0000018", 0x6985); /* nothing left */
    /* A partial GET RESPONSE leaves 61xx for the rest. */
    r = send_hex("81B0000003830102");
    assert_int_equal(r.sw, 0x61FF);
    r = send_hex("81C0000010");
    assert_int_equal(r.sw, 0x61EF);
    assert_int_equal(r.len, 0x10);
    r = send_hex("81C00000EF");
    assert_int_equal(r.sw, 0x9000);
    assert_int_equal(r.len, 0xEF);
    /* Another command drops an unclaimed response. */
    r = send_hex("81B0000003830102");
    assert_int_equal(r.sw, 0x61FF);
    expect_sw("81CB000044", 0x9000); /* case 2 answers directly (rule 3) */
    expect_sw("01C00000FF", 0x6985);
    st_card_set_t0_style(card, false);
}

static void test_stats_and_trace(void **state)
{
    (void)state;
    st_card_reset_stats(card);
    expect_sw("00A4040007A0000005590010", 0x9000);
    expect_sw("80CB000044", 0x9000);
    const struct st_card_stats *s = st_card_stats(card);
    assert_int_equal(s->apdus, 2);
    assert_int_equal(s->bytes_in, 12 + 5);
    assert_int_equal(s->bytes_out, 2 + 70);
}

/* The latency model accounts per APDU, per byte and per operation (issue 2 §9),
 * and the trace log has the reference traces' line format. */
static void test_latency_and_trace(void **state)
{
    (void)state;
    static struct st_card_state s;
    struct st_card_config cfg = {0};
    char err[128], line[256];
    make_state(&s);
    cfg.latency.per_apdu_us = 1000;
    cfg.latency.per_byte_us = 10;
    cfg.latency.random_us = 5000;
    cfg.trace = tmpfile();
    assert_non_null(cfg.trace);
    st_card *own = st_card_new(&cfg, &s, err, sizeof(err));
    assert_non_null(own);
    st_card *saved = card;
    card = own;
    expect_sw("00A4040007A0000005590010", 0x9000); /* 12 + 2 bytes */
    struct rsp r = send_hex("8084000008");          /* 5 + 10 bytes, one RANDOM op */
    assert_int_equal(r.sw, 0x9000);
    const struct st_card_stats *st = st_card_stats(card);
    assert_int_equal(st->ops[ST_OP_RANDOM], 1);
    assert_int_equal(st->estimated_us, 2 * 1000 + 10 * (14 + 15) + 5000);
    rewind(cfg.trace);
    assert_non_null(fgets(line, sizeof(line), cfg.trace));
    assert_string_equal(line, "#1 APDU 00A4040007A0000005590010 -> 9000\n");
    assert_non_null(fgets(line, sizeof(line), cfg.trace));
    assert_memory_equal(line, "#2 APDU 8084000008 -> ", 22);
    card = saved;
    st_card_free(own);
    fclose(cfg.trace);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cla_classes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manage_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_resets_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_data_application, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_list_order_and_continuation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_data_one_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_t0_style_get_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latency_and_trace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
