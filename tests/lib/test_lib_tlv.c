/*
 * libsimtrust core, pure functions: TLV cursor and writer (bounds, length
 * forms, nothing written on failure), status codes (st_strerror,
 * st_error_layer, st_status_from_sw), signature formats (33 TLV forms of
 * reference §2.8 / rule 8.6, DER <-> raw), and the IoT SAFE answer parsers
 * (application info §2.3, object entries §2.4 incl. THP's several objects
 * per entry, public key TLV clause 2.5.7). Requirements: B6, D3, D9.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "simtrust/iotsafe.h"
#include "simtrust/tlv.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*h) {
        if (*h == ' ') {
            h++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(h, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

/* ---- TLV cursor ---- */

static void test_tlv_forms(void **state)
{
    (void)state;
    uint8_t b[600];
    struct st_tlv_cursor c;
    struct st_tlv_item t;
    size_t n = unhex("8401 01 7402 6162 9B81 03 AABBCC 3382 0002 1122", b, sizeof b);
    st_tlv_cursor_init(&c, b, n);
    assert_int_equal(st_tlv_next(&c, ST_TLV_BER, &t), ST_OK);
    assert_int_equal(t.tag, 0x84);
    assert_int_equal(t.len, 1);
    assert_int_equal(t.value[0], 0x01);
    assert_int_equal(st_tlv_next(&c, ST_TLV_BER, &t), ST_OK);
    assert_int_equal(t.tag, 0x74);
    assert_memory_equal(t.value, "ab", 2);
    assert_int_equal(st_tlv_next(&c, ST_TLV_BER, &t), ST_OK);
    assert_int_equal(t.tag, 0x9B);
    assert_int_equal(t.len, 3);
    assert_int_equal(t.header, 3);
    assert_int_equal(st_tlv_next(&c, ST_TLV_BER, &t), ST_OK);
    assert_int_equal(t.len, 2);
    assert_int_equal(t.header, 4);
    assert_true(st_tlv_cursor_done(&c));
    assert_int_equal(st_tlv_next(&c, ST_TLV_BER, &t), ST_E_NOT_FOUND);

    /* The 2-byte signature form only where asked for. */
    n = unhex("33 0040", b, sizeof b);
    memset(b + n, 0x5A, 64);
    n += 64;
    st_tlv_cursor_init(&c, b, n);
    assert_int_equal(st_tlv_next(&c, ST_TLV_BER, &t), ST_OK); /* BER reads a 0-length TLV */
    assert_int_equal(t.len, 0);
    st_tlv_cursor_init(&c, b, n);
    assert_int_equal(st_tlv_next(&c, ST_TLV_LEN2, &t), ST_OK);
    assert_int_equal(t.len, 64);
    assert_true(st_tlv_cursor_done(&c));

    /* THM's plain byte above 7F. */
    b[0] = 0xD2;
    b[1] = 0xA0;
    memset(b + 2, 1, 0xA0);
    st_tlv_cursor_init(&c, b, 2 + 0xA0);
    assert_int_equal(st_tlv_next(&c, ST_TLV_BER, &t), ST_E_PARSE);
    assert_int_equal(st_tlv_next(&c, ST_TLV_LEN1, &t), ST_OK);
    assert_int_equal(t.len, 0xA0);
    assert_int_equal(st_tlv_next(&c, 7, &t), ST_E_NOT_FOUND);
}

static void test_tlv_bounds(void **state)
{
    (void)state;
    static const char *bad[] = {
        "84",              /* tag without length */
        "84 02 01",        /* value runs past the end */
        "84 81",           /* BER length cut */
        "84 82 00",        /* BER length cut */
        "84 80 00",        /* indefinite */
        "84 83 000001 00", /* 3-byte length */
        "84 81 05 0102",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t b[16];
        struct st_tlv_cursor c;
        struct st_tlv_item t, untouched;
        memset(&t, 0xEE, sizeof t);
        untouched = t;
        size_t n = unhex(bad[i], b, sizeof b);
        st_tlv_cursor_init(&c, b, n);
        const uint8_t *before = c.p;
        assert_int_equal(st_tlv_next(&c, ST_TLV_BER, &t), ST_E_PARSE);
        assert_ptr_equal(c.p, before);
        assert_memory_equal(&t, &untouched, sizeof t);
    }
    /* LEN2 cut short. */
    uint8_t b[2] = {0x33, 0x00};
    struct st_tlv_cursor c;
    struct st_tlv_item t;
    st_tlv_cursor_init(&c, b, 2);
    assert_int_equal(st_tlv_next(&c, ST_TLV_LEN2, &t), ST_E_PARSE);
    st_tlv_cursor_init(&c, NULL, 0);
    assert_true(st_tlv_cursor_done(&c));
    assert_int_equal(st_tlv_next(&c, ST_TLV_BER, &t), ST_E_NOT_FOUND);
    /* find */
    uint8_t s[16];
    size_t n = unhex("10 01 01 91 02 0001 92 01 04", s, sizeof s);
    assert_int_equal(st_tlv_find_tag(s, n, 0x92, &t), ST_OK);
    assert_int_equal(t.value[0], 4);
    uint16_t v;
    assert_int_equal(st_tlv_find_tag(s, n, 0x91, &t), ST_OK);
    assert_int_equal(st_tlv_u16(&t, &v), ST_OK);
    assert_int_equal(v, 1);
    uint8_t u;
    assert_int_equal(st_tlv_u8(&t, &u), ST_E_PARSE);
    assert_int_equal(st_tlv_find_tag(s, n, 0x55, &t), ST_E_NOT_FOUND);
    assert_int_equal(st_tlv_find_tag(s, n - 1, 0x55, &t), ST_E_PARSE);
}

static void test_tlv_writer(void **state)
{
    (void)state;
    uint8_t buf[300], v[260];
    struct st_tlv_writer w;
    memset(v, 0xAB, sizeof v);
    st_tlv_writer_init(&w, buf, sizeof buf);
    st_tlv_put_u8(&w, 0xA1, 3);
    st_tlv_put_u16(&w, 0x91, 0x0001);
    st_tlv_put(&w, 0x9B, v, 128);
    assert_int_equal(st_tlv_writer_status(&w), ST_OK);
    assert_int_equal(w.len, 3 + 4 + 3 + 128);
    assert_memory_equal(buf, "\xA1\x01\x03\x91\x02\x00\x01\x9B\x81\x80", 10);
    st_tlv_writer_init(&w, buf, sizeof buf);
    st_tlv_put_form(&w, 0x33, v, 64, ST_TLV_LEN2);
    st_tlv_put_form(&w, 0xD2, v, 0xA0, ST_TLV_LEN1);
    assert_int_equal(st_tlv_writer_status(&w), ST_OK);
    assert_memory_equal(buf, "\x33\x00\x40", 3);
    assert_memory_equal(buf + 67, "\xD2\xA0", 2);
    st_tlv_writer_init(&w, buf, sizeof buf);
    st_tlv_put(&w, 0x34, v, 256 + 4 - 4);
    assert_memory_equal(buf, "\x34\x82\x01\x00", 4);
    /* Sticky overflow: nothing more is written once a put failed. */
    st_tlv_writer_init(&w, buf, 10);
    st_tlv_put(&w, 0x84, v, 4);
    assert_int_equal(w.len, 6);
    st_tlv_put(&w, 0x85, v, 4);
    assert_int_equal(st_tlv_writer_status(&w), ST_E_BUFFER);
    assert_int_equal(w.len, 6);
    st_tlv_put_u8(&w, 0x01, 1);
    assert_int_equal(w.len, 6);
    /* Inexpressible lengths. */
    st_tlv_writer_init(&w, buf, sizeof buf);
    st_tlv_put_form(&w, 0xD2, v, 256, ST_TLV_LEN1);
    assert_int_equal(st_tlv_writer_status(&w), ST_E_BUFFER);
    st_tlv_writer_init(&w, buf, sizeof buf);
    st_tlv_put_header(&w, 0xD2, 5, ST_TLV_BER);
    st_tlv_put_raw(&w, "ab", 2);
    st_tlv_put_raw(&w, "cde", 3);
    assert_int_equal(w.len, 7);
    st_tlv_writer_init(&w, NULL, 0);
    st_tlv_put_u8(&w, 1, 1);
    assert_int_equal(st_tlv_writer_status(&w), ST_E_BUFFER);
}

/* ---- Status codes ---- */

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        unsigned sw;
        int st;
    } map[] = {
        {0x9000, ST_OK},
        {0x9120, ST_OK}, /* proactive command pending */
        {0x63CF, ST_OK}, /* remote admin done (K3) */
        {0x6300, ST_E_CARD},
        {0x6700, ST_E_CARD_WRONG_LENGTH},
        {0x6701, ST_E_CARD_WRONG_LENGTH},
        {0x6982, ST_E_CARD_SECURITY},
        {0x6985, ST_E_CARD_CONDITIONS},
        {0x6A80, ST_E_CARD_INCORRECT_DATA},
        {0x6A82, ST_E_CARD_NOT_FOUND},
        {0x6A86, ST_E_CARD_P1P2},
        {0x6D00, ST_E_CARD_INS},
        {0x6E00, ST_E_CARD_CLA},
        {0x6D01, ST_E_CARD_SIGNATURE},
        {0x6581, ST_E_CARD_MEMORY},
        {0x6A84, ST_E_CARD_MEMORY},
        {0x6400, ST_E_CARD_MEMORY},
        {0x6881, ST_E_CARD_CHANNEL},
        {0x6981, ST_E_CARD_FILE_RANGE},
        {0x6984, ST_E_CARD_REMOTE_ADMIN},
        {0x6989, ST_E_CARD_REMOTE_ADMIN},
        {0x6F00, ST_E_CARD},
        {0x1234, ST_E_CARD},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if ((int)st_status_from_sw(map[i].sw) != map[i].st)
            fail_msg("SW %04X -> %d, expected %d", map[i].sw, st_status_from_sw(map[i].sw),
                     map[i].st);
        if (map[i].st != ST_OK)
            assert_string_equal(st_error_layer(map[i].st), "card");
    }
    assert_string_equal(st_error_layer(ST_OK), "ok");
    assert_string_equal(st_error_layer(ST_E_BUFFER), "usage");
    assert_string_equal(st_error_layer(ST_E_NO_CARD), "transport");
    assert_string_equal(st_error_layer(ST_E_PARSE), "parse");
    assert_string_equal(st_error_layer(-999), "unknown");
    assert_string_equal(st_strerror(ST_E_CARD_CONDITIONS), "card: conditions of use not satisfied");
    assert_string_equal(st_strerror(12345), "unknown status");
    for (int s = 0; s >= -450; s--)
        assert_non_null(st_strerror(s));
}

/* ---- Signatures ---- */

static void test_signature_forms(void **state)
{
    (void)state;
    uint8_t ans[300], sig[300], rs[64];
    size_t n, sl;
    for (int i = 0; i < 64; i++)
        rs[i] = (uint8_t)(i + 1);
    /* 33 00 40 (Kigen, Thales, wolfSSL), 33 40 (NTT, ORA), 33 81 40 (BER). */
    static const char *heads[] = {"330040", "3340", "338140"};
    for (size_t h = 0; h < 3; h++) {
        n = unhex(heads[h], ans, sizeof ans);
        memcpy(ans + n, rs, 64);
        sl = sizeof sig;
        assert_int_equal(st_iotsafe_parse_signature(ans, n + 64, ST_IOTSAFE_SIG_ECDSA, sig, &sl),
                         ST_OK);
        assert_int_equal(sl, 64);
        assert_memory_equal(sig, rs, 64);
    }
    /* RSA-2048: 33 01 00 and 33 82 01 00. */
    uint8_t big[256];
    memset(big, 0x77, sizeof big);
    for (int form = 0; form < 2; form++) {
        n = form ? unhex("33820100", ans, sizeof ans) : unhex("330100", ans, sizeof ans);
        memcpy(ans + n, big, 256);
        sl = sizeof sig;
        assert_int_equal(
            st_iotsafe_parse_signature(ans, n + 256, ST_IOTSAFE_SIG_RSA_PKCS1, sig, &sl), ST_OK);
        assert_int_equal(sl, 256);
        sl = 255;
        assert_int_equal(st_iotsafe_parse_signature(ans, n + 256, 1, sig, &sl), ST_E_BUFFER);
        assert_int_equal(sl, 255);
    }
    /* Malformed: wrong tag, length mismatch, trailing bytes, empty. */
    static const char *bad[] = {"3440AA", "3303AABB", "3302AABBCC", "33", "3300", "330000", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = unhex(bad[i], ans, sizeof ans);
        sl = sizeof sig;
        assert_int_equal(st_iotsafe_parse_signature(ans, n, 4, sig, &sl), ST_E_PARSE);
    }
    /* A DER signature from an applet is converted ("some applets return ASN1"). */
    uint8_t der[80];
    size_t dl = sizeof der;
    assert_int_equal(st_ecdsa_raw_to_der(rs, 64, der, &dl), ST_OK);
    ans[0] = 0x33;
    ans[1] = (uint8_t)dl;
    memcpy(ans + 2, der, dl);
    sl = sizeof sig;
    assert_int_equal(st_iotsafe_parse_signature(ans, 2 + dl, ST_IOTSAFE_SIG_ECDSA, sig, &sl),
                     ST_OK);
    assert_int_equal(sl, 64);
    assert_memory_equal(sig, rs, 64);
}

static void test_der(void **state)
{
    (void)state;
    uint8_t raw[64], der[80], back[132];
    size_t dl, bl;
    /* High bits set: both INTEGERs get a 00 pad. */
    memset(raw, 0xFF, 64);
    dl = sizeof der;
    assert_int_equal(st_ecdsa_raw_to_der(raw, 64, der, &dl), ST_OK);
    assert_int_equal(dl, 2 + 2 * (2 + 33));
    assert_memory_equal(der, "\x30\x46\x02\x21\x00\xFF", 6);
    bl = sizeof back;
    assert_int_equal(st_ecdsa_der_to_raw(der, dl, 32, back, &bl), ST_OK);
    assert_int_equal(bl, 64);
    assert_memory_equal(back, raw, 64);
    /* Leading zeros are stripped and restored. */
    memset(raw, 0, 64);
    raw[31] = 0x05;
    raw[63] = 0x7F;
    dl = sizeof der;
    assert_int_equal(st_ecdsa_raw_to_der(raw, 64, der, &dl), ST_OK);
    assert_memory_equal(der, "\x30\x06\x02\x01\x05\x02\x01\x7F", 8);
    bl = sizeof back;
    assert_int_equal(st_ecdsa_der_to_raw(der, dl, 0, back, &bl), ST_OK);
    assert_int_equal(bl, 64);
    assert_memory_equal(back, raw, 64);
    /* P-521 size: SEQUENCE with 81 xx. */
    uint8_t r521[132];
    memset(r521, 0x81, sizeof r521);
    uint8_t d521[150];
    dl = sizeof d521;
    assert_int_equal(st_ecdsa_raw_to_der(r521, 132, d521, &dl), ST_OK);
    assert_int_equal(d521[1], 0x81);
    bl = sizeof back;
    assert_int_equal(st_ecdsa_der_to_raw(d521, dl, 0, back, &bl), ST_OK);
    assert_int_equal(bl, 132);
    assert_memory_equal(back, r521, 132);
    bl = 100;
    assert_int_equal(st_ecdsa_der_to_raw(d521, dl, 0, back, &bl), ST_E_BUFFER);
    /* Errors. */
    dl = 10;
    assert_int_equal(st_ecdsa_raw_to_der(raw, 64, der, &dl), ST_OK); /* 8 bytes fit */
    dl = 7;
    assert_int_equal(st_ecdsa_raw_to_der(raw, 64, der, &dl), ST_E_BUFFER);
    assert_int_equal(st_ecdsa_raw_to_der(raw, 63, der, &dl), ST_E_ARG);
    static const char *bad[] = {
        "3006 020105 02017F 00", /* trailing byte */
        "3006 020185 02017F",    /* negative */
        "3007 02020005 02017F",  /* non-minimal */
        "3006 020105 03017F",    /* not an INTEGER */
        "3108 020105 02017F",    /* not a SEQUENCE */
        "308106 020105 02017F",  /* non-minimal SEQUENCE length */
        "3003 020105",           /* one INTEGER */
        "3002 0200",             /* empty INTEGER */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t b[32];
        size_t n = unhex(bad[i], b, sizeof b);
        bl = sizeof back;
        if (st_ecdsa_der_to_raw(b, n, 32, back, &bl) != ST_E_PARSE)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(bl, sizeof back);
    }
    /* A 33-byte r cannot go in 32-byte coordinates; it takes 48. */
    uint8_t b[64];
    size_t n = 0;
    b[n++] = 0x30;
    b[n++] = 2 + 33 + 3;
    b[n++] = 0x02;
    b[n++] = 33;
    b[n++] = 0x01;
    memset(b + n, 0xFF, 32);
    n += 32;
    b[n++] = 0x02;
    b[n++] = 0x01;
    b[n++] = 0x01;
    bl = sizeof back;
    assert_int_equal(st_ecdsa_der_to_raw(b, n, 32, back, &bl), ST_E_PARSE);
    bl = sizeof back;
    assert_int_equal(st_ecdsa_der_to_raw(b, n, 0, back, &bl), ST_OK);
    assert_int_equal(bl, 96);
    assert_int_equal(back[15], 0x01);
    assert_int_equal(back[95], 0x01);
}

/* ---- IoT SAFE answers ---- */

static void test_app_info(void **state)
{
    (void)state;
    uint8_t b[128];
    struct st_iotsafe_app_info a, untouched;
    /* Spec layout, 68 bytes (reference §2.3). */
    size_t n = unhex("1001 01 1120 000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
                     "B101 10 B201 08 B301 08 B401 08 9001 0F 9102 0007 9201 07 9301 01 9401 03 "
                     "B701 04",
                     b, sizeof b);
    assert_int_equal(n, 68);
    assert_int_equal(st_iotsafe_parse_app_info(b, n, &a), ST_OK);
    assert_int_equal(a.version, 1);
    assert_int_equal(a.proprietary_id_len, 32);
    assert_int_equal(a.max_files, 16);
    assert_int_equal(a.hash_algos, 7);
    assert_int_equal(a.max_sessions, 4);
    assert_int_equal(a.present, 0x0FFF);
    /* ORA's applet: 1-byte 91, a 14-byte ID; another order and a vendor tag. */
    n = unhex("B701 02 9101 01 110E 6162636465666768696A6B6C6D6E DF01 00 1001 02", b, sizeof b);
    assert_int_equal(st_iotsafe_parse_app_info(b, n, &a), ST_OK);
    assert_int_equal(a.hash_algos, 1);
    assert_int_equal(a.proprietary_id_len, 14);
    assert_int_equal(a.max_sessions, 2);
    assert_int_equal(a.present, ST_IOTSAFE_APP_VERSION | ST_IOTSAFE_APP_ID | ST_IOTSAFE_APP_HASH |
                                    ST_IOTSAFE_APP_MAX_SESSIONS);
    memset(&untouched, 0xCC, sizeof untouched);
    static const char *bad[] = {"B702 0102", "9103 000001", "1001", "1121 " /* cut */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = untouched;
        n = unhex(bad[i], b, sizeof b);
        assert_int_equal(st_iotsafe_parse_app_info(b, n, &a), ST_E_PARSE);
        assert_memory_equal(&a, &untouched, sizeof a);
    }
}

struct seen {
    struct st_iotsafe_object o[8];
    size_t n;
};

static int keep(void *arg, const struct st_iotsafe_object *o)
{
    struct seen *s = arg;
    assert_true(s->n < 8);
    s->o[s->n++] = *o;
    return ST_OK;
}

static void test_entries(void **state)
{
    (void)state;
    uint8_t b[256];
    struct seen s = {0};
    /* ORA's order: label, ID, attributes; 91 on 2 bytes. */
    size_t n = unhex("7406 636C69656E74 8401 01 6001 01 4A01 01 4B01 13 4E01 03 6101 07 9201 04 "
                     "9102 0007 6F01 01",
                     b, sizeof b);
    assert_int_equal(st_iotsafe_parse_entry(ST_IOTSAFE_PRIVATE_KEY, b, n, keep, &s), ST_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.o[0].kind, ST_IOTSAFE_PRIVATE_KEY);
    assert_int_equal(s.o[0].label_len, 6);
    assert_memory_equal(s.o[0].label, "client", 6);
    assert_int_equal(s.o[0].id_len, 1);
    assert_int_equal(s.o[0].key_type, 0x13);
    assert_int_equal(s.o[0].hash_algos, 7);
    assert_int_equal(s.o[0].key_agreement, 1);
    assert_int_equal(s.o[0].present & ST_IOTSAFE_OBJ_SIZE, 0);
    /* THP: several objects in one entry; QT's ID-before-label order. */
    memset(&s, 0, sizeof s);
    n = unhex("8302 0001 7302 3031 6001 01 2101 01 2002 0040 "
              "8302 0002 6001 01 2002 0124 2101 02 "
              "7303 636572 8302 0003 "
              "8301 04 8301 05",
              b, sizeof b);
    assert_int_equal(st_iotsafe_parse_entry(ST_IOTSAFE_FILE, b, n, keep, &s), ST_OK);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.o[0].size, 0x40);
    assert_int_equal(s.o[0].label_len, 2);
    assert_int_equal(s.o[1].size, 0x124);
    assert_int_equal(s.o[1].usage, 2);
    assert_int_equal(s.o[1].label_len, 0);
    assert_int_equal(s.o[2].label_len, 3);
    assert_int_equal(s.o[2].id[1], 3);
    assert_int_equal(s.o[3].id[0], 4);
    assert_int_equal(s.o[4].id[0], 5);
    /* A visitor is required. */
    int rc = st_iotsafe_parse_entry(ST_IOTSAFE_FILE, b, n, NULL, NULL);
    assert_int_equal(rc, ST_E_ARG);
    /* Malformed entries. */
    static const char *bad[] = {
        "6001 01 8401 01",                                 /* attributes before any reference */
        "",                                                /* empty entry */
        "8400",                                            /* empty ID */
        "8415 000102030405060708090A0B0C0D0E0F1011121314", /* 21-byte ID */
        "8401 01 6002 0101",                               /* 2-byte access */
        "8401 01 9103 000001",                             /* 3-byte hash */
        "8401 01 60",                                      /* cut */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&s, 0, sizeof s);
        n = unhex(bad[i], b, sizeof b);
        if (st_iotsafe_parse_entry(ST_IOTSAFE_PRIVATE_KEY, b, n, keep, &s) != ST_E_PARSE)
            fail_msg("accepted '%s'", bad[i]);
    }
    /* A public key's reference tags are 85/75: 84 is just an unknown attribute. */
    memset(&s, 0, sizeof s);
    n = unhex("8501 01 8401 07", b, sizeof b);
    assert_int_equal(st_iotsafe_parse_entry(ST_IOTSAFE_PUBLIC_KEY, b, n, keep, &s), ST_OK);
    assert_int_equal(s.n, 1);
}

static void test_public_key(void **state)
{
    (void)state;
    uint8_t b[400], pt[65];
    struct st_iotsafe_pubkey pk;
    pt[0] = 0x04;
    for (int i = 1; i < 65; i++)
        pt[i] = (uint8_t)i;
    /* 34 45 49 43 86 41 04 X Y */
    size_t n = unhex("3445 4943 8641", b, sizeof b);
    memcpy(b + n, pt, 65);
    assert_int_equal(st_iotsafe_parse_public_key(b, n + 65, &pk), ST_OK);
    assert_int_equal(pk.type, ST_IOTSAFE_PUBKEY_EC);
    assert_int_equal(pk.point_len, 65);
    assert_memory_equal(pk.point, pt, 65);
    /* Without the 49 level, and bare. */
    n = unhex("3443 8641", b, sizeof b);
    memcpy(b + n, pt, 65);
    assert_int_equal(st_iotsafe_parse_public_key(b, n + 65, &pk), ST_OK);
    assert_int_equal(st_iotsafe_parse_public_key(pt, 65, &pk), ST_OK);
    /* RSA (card extension). */
    n = unhex("3482010D 49820109 81820100", b, sizeof b);
    memset(b + n, 0xC3, 256);
    n += 256;
    n += unhex("8203 010001", b + n, sizeof b - n);
    assert_int_equal(st_iotsafe_parse_public_key(b, n, &pk), ST_OK);
    assert_int_equal(pk.type, ST_IOTSAFE_PUBKEY_RSA);
    assert_int_equal(pk.n_len, 256);
    assert_int_equal(pk.e_len, 3);
    /* Errors: compressed point, both kinds, trailing data, wrong tag. */
    static const char *bad[] = {
        "3407 4905 8603 020102", "3409 4907 8601 04 8101 01 8201 03",
        "3405 4903 8601 04 00",  "3505 4903 8601 04",
        "3403 4901 86",          "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = unhex(bad[i], b, sizeof b);
        if (st_iotsafe_parse_public_key(b, n, &pk) != ST_E_PARSE)
            fail_msg("accepted '%s'", bad[i]);
    }
    assert_int_equal(st_iotsafe_pubkey_ec(&pk, pt, 65), ST_OK);
    assert_int_equal(st_iotsafe_pubkey_ec(&pk, pt, 64), ST_E_ARG);
    pt[0] = 0x02;
    assert_int_equal(st_iotsafe_pubkey_ec(&pk, pt, 65), ST_E_ARG);
}

static void test_refs_and_hash(void **state)
{
    (void)state;
    struct st_iotsafe_ref r;
    uint8_t id[21] = {1};
    assert_int_equal(st_iotsafe_ref_id(&r, id, 1), ST_OK);
    assert_false(r.by_label);
    assert_int_equal(st_iotsafe_ref_id(&r, id, 20), ST_OK);
    assert_int_equal(st_iotsafe_ref_id(&r, id, 21), ST_E_ARG);
    assert_int_equal(st_iotsafe_ref_id(&r, id, 0), ST_E_ARG);
    assert_int_equal(st_iotsafe_ref_label(&r, "client", 6), ST_OK);
    assert_true(r.by_label);
    char long_label[61];
    memset(long_label, 'x', sizeof long_label);
    assert_int_equal(st_iotsafe_ref_label(&r, long_label, 60), ST_OK);
    assert_int_equal(st_iotsafe_ref_label(&r, long_label, 61), ST_E_ARG);
    assert_int_equal(st_iotsafe_hash_len(ST_IOTSAFE_HASH_SHA256), 32);
    assert_int_equal(st_iotsafe_hash_len(ST_IOTSAFE_HASH_SHA384), 48);
    assert_int_equal(st_iotsafe_hash_len(ST_IOTSAFE_HASH_SHA512), 64);
    assert_int_equal(st_iotsafe_hash_len(3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlv_forms),       cmocka_unit_test(test_tlv_bounds),
        cmocka_unit_test(test_tlv_writer),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_signature_forms), cmocka_unit_test(test_der),
        cmocka_unit_test(test_app_info),        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_public_key),      cmocka_unit_test(test_refs_and_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
