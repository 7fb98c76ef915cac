/*
 * COMPUTE PRF (48; IoT.04 J4, F5, J1) and COMPUTE HKDF (4A; J5, F6): the
 * known answers of reference §7 through their exact APDUs, the PSK modes
 * against an independent PRF (RFC 4279 / RFC 5489 pre-master built here,
 * P_SHA256 from plain HMAC), RFC 5869 vectors for Extract and our Expand
 * extension, the length encodings clients use, and every error SW.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "card_fixture.h"
#include "card_internal.h"

/* Known answers of reference §7 (TLS 1.2 PRF vectors from THM, re-computed there). */
static const char PRF1_APDU[] =
    "004800005DD120C0485B054863F6DFA458789768B9035C6CACB160DD1A01834811F5783309DB81D236657874"
    "656E646564206D617374657220736563726574CE15B44D68440B652624244DB8D2FB7DD601C759E9EB627FB1"
    "0529AB0DB76049D301FF00";
static const char PRF1_OUT[] =
    "A1F02A766DA04C8FD83A40E358267528F8D815C48E3DC353D55FE3861C350622C78B48FE6F49F6E13E1B6B17"
    "5CFE59FBB73D5A898BD0FBF6870DDFF32B91116181A0C591E7DD22A0354DCDA77AF2EAC218C055C703DCF5DD"
    "5D8A734B30AAF067EF23388F66F1FB8C5C5132DC338546774CE170C5AFDA8728E102EE7780D290409F05AE74"
    "65D4358AD1F2E8D8CA433593EF0FE367F4E09C04A3B8CBAD2E8139963834737D02727C04413D4AFEF06D46BA"
    "BDFCFA8F8276166C6EC090C72F0BC498954A0EAD4C0F18B6A07DE04B38FC7FDF957BA24069CF2DE05E680A41"
    "4131FC75B0C1A912EC8A533B4F9027A0CD278DA720B8D6606A448FD243899BBE828677";
static const char PRF2_APDU[] =
    "0048000084D130A1F02A766DA04C8FD83A40E358267528F8D815C48E3DC353D55FE3861C350622C78B48FE6F"
    "49F6E13E1B6B175CFE59FBD24D6B657920657870616E73696F6ECB52E451A752CA812EA9646F2E5A0EC138C3"
    "D4D8AEFA744E17F01499867450815DCADEED3917D046311A4B5D73BBD75E500CE963A7D05D8122EA9745F2E0"
    "D9E9D301FF00";
static const char PRF2_OUT[] =
    "ED6C6644C075653F1919FD05A11A93C8057267B9C2CBD09E6D8882B355473E8E179737CDC0063BBFEE5D6524"
    "EAC1724B575141D716427B9FAAF75C9F0E0903A5411130F27372494D8AF520EFFAD64CF34CA2231D2BD7B4CF"
    "015C40E85D4C62B2B75888ACA4D57995365342F62F2395E47FE05E754953BA2E1AC7A1D7F966E92C35202039"
    "5E6CCB5970DD8A67398CE1CE09586A20F6D4E0912BAADB683B41442070F9590BBB175D0EDFDC2D85C0B0C684"
    "9A7E187155F8E987B0D81FC43F516C9A229692EBD7AC88C50CA14715DF328023C49D8776A2AB7CF8B5258D26"
    "9A2F17BA6BD6F753F39DEC1890BAA4283B3139922D80D1E7D3DA69669877125B8C0B41";

static int setup(void **state)
{
    *state = cfx_card(NULL);
    return 0;
}

static int teardown(void **state)
{
    st_card_free(*state);
    return 0;
}

static void hmac(const char *md, const uint8_t *key, size_t klen, const uint8_t *d, size_t dlen,
                 uint8_t *out)
{
    size_t n = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, key, klen, d, dlen, out, 64, &n));
}

/* RFC 5246 §5 P_SHA256(secret, seed), written out with HMAC only. */
static void p_sha256(const uint8_t *secret, size_t slen, const uint8_t *seed, size_t seed_len,
                     uint8_t *out, size_t n)
{
    uint8_t a[32], buf[32 + 512], block[64];
    assert_true(seed_len <= 512);
    hmac("SHA256", secret, slen, seed, seed_len, a); /* A(1) */
    for (size_t off = 0; off < n; off += 32) {
        memcpy(buf, a, 32);
        memcpy(buf + 32, seed, seed_len);
        hmac("SHA256", secret, slen, buf, 32 + seed_len, block);
        memcpy(out + off, block, n - off < 32 ? n - off : 32);
        hmac("SHA256", secret, slen, a, 32, a);
    }
}

/* RFC 5869 §2.3 Expand, written out with HMAC only. */
static void hkdf_expand(const char *md, size_t hlen, const uint8_t *prk, size_t prk_len,
                        const uint8_t *info, size_t info_len, uint8_t *out, size_t n)
{
    uint8_t t[64 + 256 + 1], block[64];
    size_t tlen = 0;
    for (uint8_t i = 1; (size_t)(i - 1) * hlen < n; i++) {
        if (info_len > 0)
            memcpy(t + tlen, info, info_len);
        t[tlen + info_len] = i;
        hmac(md, prk, prk_len, t, tlen + info_len + 1, block);
        size_t off = (size_t)(i - 1) * hlen;
        memcpy(out + off, block, n - off < hlen ? n - off : hlen);
        memcpy(t, block, hlen);
        tlen = hlen;
    }
}

static void assert_hex(const uint8_t *got, size_t n, const char *want_hex)
{
    uint8_t want[512];
    assert_int_equal(cfx_unhex(want_hex, want, sizeof want), n);
    assert_memory_equal(got, want, n);
}

/* The exact THM APDUs on the basic channel, direct and T=0 style (61FF + C0). */
static void test_prf_vectors(void **state)
{
    st_card *card = *state;
    cfx_expect(card, 0x9000, "00A4040007A0000005590010");
    uint64_t before = st_card_stats(card)->ops[ST_OP_PRF];
    struct cfx_rsp r = cfx_expect(card, 0x9000, "%s", PRF1_APDU);
    assert_int_equal(r.len, 255);
    assert_hex(r.data, 255, PRF1_OUT);
    r = cfx_expect(card, 0x9000, "%s", PRF2_APDU);
    assert_hex(r.data, 255, PRF2_OUT);
    assert_int_equal(st_card_stats(card)->ops[ST_OP_PRF], before + 2);
    st_card_set_t0_style(card, true);
    r = cfx_send_raw(card, "%s", PRF1_APDU);
    assert_int_equal(r.sw, 0x61FF);
    r = cfx_send_raw(card, "00C00000FF");
    assert_int_equal(r.sw, 0x9000);
    assert_hex(r.data, 255, PRF1_OUT);
}

/* D1 81 30 / D2 81 4D (BER) give vector 2 too; D2 A0 (THM one byte) and D2 81 A0. */
static void test_prf_length_forms(void **state)
{
    st_card *card = *state;
    char v2[sizeof PRF2_APDU];
    memcpy(v2, PRF2_APDU, sizeof v2);
    /* Secret and label||seed of vector 2, taken from its APDU. */
    char secret[97], ls[155];
    memcpy(secret, v2 + 14, 96);
    secret[96] = '\0';
    memcpy(ls, v2 + 14 + 96 + 4, 154);
    ls[154] = '\0';
    struct cfx_rsp r = cfx_expect(card, 0x9000, "8148000086D18130%sD2814D%sD30130", secret, ls);
    assert_int_equal(r.len, 48);
    assert_hex(r.data, 48,
               "ED6C6644C075653F1919FD05A11A93C8057267B9C2CBD09E6D8882B355473E8E"
               "179737CDC0063BBFEE5D6524EAC1724B");

    uint8_t sec[48], seed[160], want[200];
    cfx_unhex(secret, sec, sizeof sec);
    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)(0xA0 ^ i);
    p_sha256(sec, 48, seed, 160, want, 200);
    r = cfx_expect(card, 0x9000, "81480000%02XD130%sD2A0%sD301C8", 2 + 48 + 2 + 160 + 3, secret,
                   cfx_hex(seed, 160));
    assert_int_equal(r.len, 200);
    assert_memory_equal(r.data, want, 200);
    r = cfx_expect(card, 0x9000, "81480000%02XD130%sD281A0%sD301C8", 2 + 48 + 3 + 160 + 3, secret,
                   cfx_hex(seed, 160));
    assert_memory_equal(r.data, want, 200);
    /* One byte 0x81 = 129 bytes of label||seed, not BER. */
    p_sha256(sec, 48, seed, 129, want, 16);
    r = cfx_expect(card, 0x9000, "81480000%02XD2 81%sD130%sD30110", 2 + 129 + 2 + 48 + 3,
                   cfx_hex(seed, 129), secret);
    assert_memory_equal(r.data, want, 16);
}

/* Pre-master secrets of RFC 4279 §2 (other = N zero bytes) and RFC 5489. */
static size_t premaster(const uint8_t *other, size_t olen, const uint8_t *psk, size_t n,
                        uint8_t *pm)
{
    size_t off = 0;
    pm[off++] = (uint8_t)(olen >> 8);
    pm[off++] = (uint8_t)olen;
    if (other != NULL)
        memcpy(pm + off, other, olen);
    else
        memset(pm + off, 0, olen);
    off += olen;
    pm[off++] = (uint8_t)(n >> 8);
    pm[off++] = (uint8_t)n;
    memcpy(pm + off, psk, n);
    return off + n;
}

static void test_prf_psk(void **state)
{
    st_card *card = *state;
    uint8_t psk1[32], psk2[64], ls[13 + 64], pm[300], want[48];
    for (int i = 0; i < 32; i++)
        psk1[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        psk2[i] = (uint8_t)(0x40 + i);
    memcpy(ls, "master secret", 13);
    for (int i = 0; i < 64; i++)
        ls[13 + i] = (uint8_t)(i * 3);
    char lsh[2 * sizeof ls + 1];
    strcpy(lsh, cfx_hex(ls, sizeof ls));

    /* Mode 01, PSK by ID and by label. */
    size_t n = premaster(NULL, 32, psk1, 32, pm);
    p_sha256(pm, n, ls, sizeof ls, want, 48);
    struct cfx_rsp r = cfx_expect(card, 0x9000, "81480100|860110 D24D%s D30130", lsh);
    assert_memory_equal(r.data, want, 48);
    r = cfx_expect(card, 0x9000, "81480100|7604 70736B31 D24D%s D30130|00", lsh);
    assert_memory_equal(r.data, want, 48);
    n = premaster(NULL, 64, psk2, 64, pm);
    p_sha256(pm, n, ls, sizeof ls, want, 48);
    r = cfx_expect(card, 0x9000, "81480100|860111 D24D%s D30130", lsh);
    assert_memory_equal(r.data, want, 48);

    /* Mode 02 with the ECDHE secret of COMPUTE DH (IoT.04 F5). */
    EVP_PKEY *server = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
    uint8_t spt[65], z[32];
    cfx_ec_point(server, spt);
    cfx_expect(card, 0x9000, "81B9000003840104");
    cfx_expect(card, 0x9000, "8124000203850105");
    cfx_expect(card, 0x9000, "81D880024734454943864104%s", cfx_hex(spt + 1, 64));
    struct cfx_rsp d = cfx_expect(card, 0x9000, "8146000006840104850105");
    memcpy(z, d.data, 32);
    n = premaster(z, 32, psk2, 64, pm);
    p_sha256(pm, n, ls, sizeof ls, want, 48);
    r = cfx_expect(card, 0x9000, "81480200|860111 D420%s D24D%s D30130", cfx_hex(z, 32), lsh);
    assert_memory_equal(r.data, want, 48);
    EVP_PKEY_free(server);
}

static void test_prf_errors(void **state)
{
    st_card *card = *state;
    const char *sd = "D2 03 616263 D3 01 10";
    cfx_expect(card, 0x6A86, "81480300|860110 %s", sd);
    cfx_expect(card, 0x6A86, "81480101|860110 %s", sd);
    cfx_expect(card, 0x6700, "81480000");
    cfx_expect(card, 0x6A80, "81480000|%s", sd);               /* mode 00 without D1 */
    cfx_expect(card, 0x6A80, "81480000|D100 %s", sd);          /* empty secret */
    cfx_expect(card, 0x6A80, "81480000|D101AA 860110 %s", sd); /* mode 00 with a PSK */
    cfx_expect(card, 0x6A80, "81480100|%s", sd);               /* mode 01 without PSK */
    cfx_expect(card, 0x6A80, "81480100|860110 D101AA %s", sd); /* mode 01 with D1 */
    cfx_expect(card, 0x6A80, "81480100|860110 D401AA %s", sd); /* mode 01 with D4 */
    cfx_expect(card, 0x6A80, "81480200|860110 %s", sd);        /* mode 02 without D4 */
    cfx_expect(card, 0x6A80, "81480200|860110 D400 %s", sd);   /* empty D4 */
    cfx_expect(card, 0x6A80, "81480200|860110 D401AA D101AA %s", sd);
    cfx_expect(card, 0x6A80, "81480100|860110 760470736B31 %s", sd); /* ID and label */
    cfx_expect(card, 0x6A80, "81480100|860110 D203616263");          /* no D3 */
    cfx_expect(card, 0x6A80, "81480100|860110 D30110");              /* no D2 */
    cfx_expect(card, 0x6A80, "81480100|860110 D200 D30110");         /* empty D2 */
    cfx_expect(card, 0x6A80, "81480100|860110 D203616263 D30100");   /* length 0 */
    cfx_expect(card, 0x6A80, "81480100|860110 D203616263 D3020100");
    cfx_expect(card, 0x6A80, "81480100|860110 %s 9900", sd);   /* unknown tag */
    cfx_expect(card, 0x6A80, "81480100|840101 %s", sd);        /* private key reference */
    cfx_expect(card, 0x6A80, "81480100|860110 %s D30120", sd); /* D3 twice */
    cfx_expect(card, 0x6985, "81480100|860112 %s", sd);        /* no key derivation */
    cfx_expect(card, 0x6985, "81480100|860113 %s", sd);        /* empty PSK */
    cfx_expect(card, 0x6A82, "81480100|860199 %s", sd);
    cfx_expect(card, 0x6A82, "81480100|7603787878 %s", sd);
    cfx_expect(card, 0x6A82, "81480200|860199 D401AA %s", sd);
}

static const char ZERO32[] = "0000000000000000000000000000000000000000000000000000000000000000";

/* Reference §7 / wolfSSL step 6: the TLS 1.3 early secret of RFC 8448. */
static void test_hkdf_early_secret(void **state)
{
    st_card *card = *state;
    const char *early = "33AD0A1C607EC03B09E6CD9893680CE210ADF300AA1F2660E1B22E10F170F92A";
    uint64_t before = st_card_stats(card)->ops[ST_OP_HKDF];
    struct cfx_rsp r = cfx_expect(card, 0x9000, "814A000048D120%sD520%s91020001", ZERO32, ZERO32);
    assert_int_equal(r.len, 32);
    assert_hex(r.data, 32, early);
    /* No salt = HashLen zeros (RFC 5869 §2.2); 91 defaults to SHA-256. */
    r = cfx_expect(card, 0x9000, "814A000026D120%s91020001", ZERO32);
    assert_hex(r.data, 32, early);
    r = cfx_expect(card, 0x9000, "814A000022D120%s00", ZERO32);
    assert_hex(r.data, 32, early);
    /* The next Extract of RFC 8448 with the "derived" salt: check against plain HMAC. */
    uint8_t salt[32], zero[32] = {0}, want[64];
    cfx_unhex("6F2615A108C702C5678F54FC9DBAB69716C076189C48250CEBEAC3576C3611BA", salt, 32);
    hmac("SHA256", salt, 32, zero, 32, want);
    r = cfx_expect(card, 0x9000, "814A000048D120%sD520%s91020001", ZERO32, cfx_hex(salt, 32));
    assert_memory_equal(r.data, want, 32);
    assert_int_equal(st_card_stats(card)->ops[ST_OP_HKDF], before + 4);
}

/* RFC 5869 A.1 through Extract and Expand (P1=01, our extension). */
static void test_hkdf_rfc5869(void **state)
{
    st_card *card = *state;
    const char *prk = "077709362C2E32DF0DDC3F0DC47BBA6390B6C73BB50F9C3122EC844AD7C2B3E5";
    const char *okm = "3CB25F25FAACD57A90434F64D0362F2A2D2D0A90CF1A5A4C5DB02D56ECC4C5BF"
                      "34007208D5B887185865";
    struct cfx_rsp r = cfx_expect(card, 0x9000,
                                  "814A0000|D116 0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B"
                                  " D50D 000102030405060708090A0B0C 91020001");
    assert_hex(r.data, 32, prk);
    r = cfx_expect(card, 0x9000, "814A0100|D120%s D60A F0F1F2F3F4F5F6F7F8F9 D3012A 91020001", prk);
    assert_int_equal(r.len, 42);
    assert_hex(r.data, 42, okm);
    /* Two-byte length, TLVs in another order. */
    r = cfx_expect(card, 0x9000, "814A0100|91020001 D302002A D60A F0F1F2F3F4F5F6F7F8F9 D120%s",
                   prk);
    assert_hex(r.data, 42, okm);
}

/* Secret objects as IKM / PRK, other hashes, long outputs: against plain HMAC. */
static void test_hkdf_objects_and_hashes(void **state)
{
    st_card *card = *state;
    uint8_t psk1[32], psk2[64], salt[48], want[600];
    for (int i = 0; i < 32; i++)
        psk1[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        psk2[i] = (uint8_t)(0x40 + i);
    memset(salt, 0x5A, sizeof salt);
    /* Extract with the PSK as IKM (TLS 1.3 PSK early secret). */
    hmac("SHA256", salt, 32, psk1, 32, want);
    struct cfx_rsp r =
        cfx_expect(card, 0x9000, "814A0000|860110 D520%s 91020001", cfx_hex(salt, 32));
    assert_memory_equal(r.data, want, 32);
    r = cfx_expect(card, 0x9000, "814A0000|760470736B31 D520%s 91020001", cfx_hex(salt, 32));
    assert_memory_equal(r.data, want, 32);
    /* SHA-384 and SHA-512 Extract, empty IKM. */
    hmac("SHA384", salt, 48, psk2, 64, want);
    r = cfx_expect(card, 0x9000, "814A0000|860111 D530%s 91020002", cfx_hex(salt, 48));
    assert_int_equal(r.len, 48);
    assert_memory_equal(r.data, want, 48);
    hmac("SHA512", salt, 48, (const uint8_t *)"", 0, want);
    r = cfx_expect(card, 0x9000, "814A0000|D100 D530%s 91020004", cfx_hex(salt, 48));
    assert_int_equal(r.len, 64);
    assert_memory_equal(r.data, want, 64);
    /* Expand from PSK 11 (64 bytes) as PRK, 600 bytes (3 GET RESPONSEs), no info. */
    hkdf_expand("SHA256", 32, psk2, 64, NULL, 0, want, 600);
    r = cfx_expect(card, 0x9000, "814A0100|860111 D3020258 91020001");
    assert_int_equal(r.len, 600);
    assert_memory_equal(r.data, want, 600);
    /* Expand SHA-384 with info, 1 byte. */
    hkdf_expand("SHA384", 48, psk2, 64, (const uint8_t *)"tls13 key", 9, want, 1);
    r = cfx_expect(card, 0x9000, "814A0100|91020002 D30101 860111 D609746C733133206B6579");
    assert_int_equal(r.len, 1);
    assert_memory_equal(r.data, want, 1);
}

static void test_hkdf_errors(void **state)
{
    st_card *card = *state;
    cfx_expect(card, 0x6A86, "814A0200|860110");
    cfx_expect(card, 0x6A86, "814A0001|860110");
    cfx_expect(card, 0x6700, "814A0000");
    cfx_expect(card, 0x6A80, "814A0000|91020003 D100");       /* hash 0003 */
    cfx_expect(card, 0x6A80, "814A0000|91020001 D500");       /* no IKM */
    cfx_expect(card, 0x6A80, "814A0000|D101AA 860110");       /* D1 and 86 */
    cfx_expect(card, 0x6A80, "814A0000|860110 760470736B31"); /* ID and label */
    cfx_expect(card, 0x6A80, "814A0000|D101AA 910101");       /* 91 one byte */
    cfx_expect(card, 0x6A80, "814A0000|D101AA D30120");       /* Extract with D3 */
    cfx_expect(card, 0x6A80, "814A0000|D101AA D600");         /* Extract with info */
    cfx_expect(card, 0x6A80, "814A0000|D101AA 840101");       /* private key reference */
    cfx_expect(card, 0x6A80, "814A0100|860111");              /* Expand without D3 */
    cfx_expect(card, 0x6A80, "814A0100|860111 D30100");       /* length 0 */
    cfx_expect(card, 0x6A80, "814A0100|860111 D3021FE1");     /* > 255 * 32 */
    cfx_expect(card, 0x6A80, "814A0100|860111 D3020401");     /* > 1024 */
    cfx_expect(card, 0x6A80, "814A0100|860111 D303000010");   /* 3-byte length */
    cfx_expect(card, 0x6A80, "814A0100|860111 D30120 D500");  /* Expand with salt */
    cfx_expect(card, 0x6A80,
               "814A0100|D110 00112233445566778899AABBCCDDEEFF D30120"); /* PRK < 32 */
    cfx_expect(card, 0x6985, "814A0000|860112");                         /* no key derivation */
    cfx_expect(card, 0x6985, "814A0000|860113");                         /* empty */
    cfx_expect(card, 0x6985, "814A0100|860112 D30120");
    cfx_expect(card, 0x6A82, "814A0000|860177");
    cfx_expect(card, 0x6A82, "814A0100|7603787878 D30120");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_prf_vectors),
        T(test_prf_length_forms),
        T(test_prf_psk),
        T(test_prf_errors),
        T(test_hkdf_early_secret),
        T(test_hkdf_rfc5869),
        T(test_hkdf_objects_and_hashes),
        T(test_hkdf_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
