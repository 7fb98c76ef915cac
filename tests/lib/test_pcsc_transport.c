/*
 * PC/SC transport (lib/transport/pcsc*.c) through a real pcscd + vpcd and
 * `simtrust-card serve --vpcd` on vpcd reader 1 ("Virtual PCD 00 01", port
 * 35964): reader listing and selection, SELECT, GET DATA, READ FILE, a
 * signature, logical channels kept between APDUs, reset with ATR, and the
 * card killed mid-sequence (a clean ST_E_NO_CARD / ST_E_NO_READER, no hang).
 * Without pcscd or simtrust-card those tests are skipped; the error mapping
 * and reader-name checks run everywhere.
 *
 * `test_pcsc_transport --probe` exits 0 when pcscd answers (the ctest
 * fixture tests/support/pcscd-fixture.sh uses it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <PCSC/winscard.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simtrust/error.h"
#include "simtrust/pcsc.h"
#include "tr_apdu.h"
#include "tr_support.h"
#include "vpcd_lock.h"

#define VPCD_PORT "35964"
#define READER "Virtual PCD 00 01"

static struct {
    bool up; /* pcscd answers and the card is in READER */
    struct trs_card card;
} env;

/* ---- without pcscd ---- */

static void test_error_map(void **state)
{
    (void)state;
    static const struct {
        LONG rv;
        int st;
    } map[] = {
        {SCARD_S_SUCCESS, ST_OK},
        {SCARD_W_REMOVED_CARD, ST_E_NO_CARD},
        {SCARD_E_NO_SMARTCARD, ST_E_NO_CARD},
        {SCARD_W_UNPOWERED_CARD, ST_E_NO_CARD},
        {SCARD_W_UNRESPONSIVE_CARD, ST_E_NO_CARD},
        {SCARD_E_READER_UNAVAILABLE, ST_E_NO_READER},
        {SCARD_E_NO_READERS_AVAILABLE, ST_E_NO_READER},
        {SCARD_E_UNKNOWN_READER, ST_E_NO_READER},
        {SCARD_E_NO_SERVICE, ST_E_NO_READER},
        {SCARD_E_SERVICE_STOPPED, ST_E_NO_READER},
        {SCARD_E_TIMEOUT, ST_E_TIMEOUT},
        {SCARD_W_RESET_CARD, ST_E_LINK_CLOSED},
        {SCARD_E_SHARING_VIOLATION, ST_E_IO},
        {SCARD_E_NOT_TRANSACTED, ST_E_IO},
        {SCARD_F_COMM_ERROR, ST_E_IO},
        {SCARD_E_PROTO_MISMATCH, ST_E_IO},
        {SCARD_E_INVALID_PARAMETER, ST_E_ARG},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (st_pcsc_map_error(map[i].rv) != map[i].st)
            fail_msg("0x%08lX -> %d, want %d", (unsigned long)(DWORD)map[i].rv,
                     st_pcsc_map_error(map[i].rv), map[i].st);
}

static void test_bad_readers(void **state)
{
    (void)state;
    /* With or without pcscd: never a card-layer code, never a crash. */
    struct st_transport t = {0};
    char err[256] = "";
    assert_int_equal(st_pcsc_open(&t, "No Such Reader 42", err, sizeof(err)), ST_E_NO_READER);
    assert_true(err[0] != '\0');
    assert_int_equal(st_pcsc_open(&t, "#99", err, sizeof(err)), ST_E_NO_READER);
    assert_int_equal(st_pcsc_open(NULL, NULL, err, sizeof(err)), ST_E_ARG);
    assert_null(t.ops);
    assert_string_equal(st_pcsc_reader_name(&t), "");
    assert_int_equal(st_pcsc_last_error(&t), 0);
}

/* ---- with pcscd and the card ---- */

struct seen {
    int index;
    int present;
    unsigned count;
    unsigned present_count;
};

static void on_reader(void *arg, unsigned index, const char *name, int present)
{
    struct seen *s = arg;
    s->count++;
    if (present)
        s->present_count++;
    if (strcmp(name, READER) == 0) {
        s->index = (int)index;
        s->present = present;
    }
}

static struct seen list_now(void)
{
    struct seen s = {.index = -1};
    char err[256];
    int n = st_pcsc_list_readers(on_reader, &s, err, sizeof(err));
    assert_true(n >= 0);
    assert_int_equal((unsigned)n, s.count);
    return s;
}

/* Waits until READER shows a card (pcscd polls the vpcd slot). */
static bool wait_card(int timeout_ms)
{
    long long deadline = trs_now_ms() + timeout_ms;
    while (trs_now_ms() < deadline) {
        struct seen s = {.index = -1};
        if (st_pcsc_list_readers(on_reader, &s, NULL, 0) >= 0 && s.present)
            return true;
        usleep(100000);
    }
    return false;
}

static int group_setup(void **state)
{
    (void)state;
    memset(&env, 0, sizeof(env));
    env.card.pid = -1;
    if (st_pcsc_list_readers(NULL, NULL, NULL, 0) < 0) {
        fprintf(stderr, "pcscd does not answer: PC/SC tests skipped\n");
        return 0;
    }
    if (trs_card_bin() == NULL) {
        fprintf(stderr, "simtrust-card not built: PC/SC tests skipped\n");
        return 0;
    }
    static const char *const args[] = {"--vpcd", "127.0.0.1:" VPCD_PORT, NULL};
    if (trs_card_start(&env.card, args, "vpcd:") != 0)
        return -1;
    if (!wait_card(20000)) {
        fprintf(stderr, "no card in \"%s\" after 20 s\n", READER);
        return -1;
    }
    env.up = true;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (env.card.pid > 0)
        trs_card_stop(&env.card);
    return 0;
}

static void open_reader(struct st_transport *t, const char *spec)
{
    char err[256] = "";
    int st = st_pcsc_open(t, spec, err, sizeof(err));
    if (st != ST_OK)
        fail_msg("st_pcsc_open(%s): %d %s", spec != NULL ? spec : "NULL", st, err);
    assert_string_equal(st_pcsc_reader_name(t), READER);
    assert_string_equal(t->ops->name, "pcsc");
    assert_null(t->ops->open_channel); /* MANAGE CHANNEL goes through transmit */
}

static void test_list(void **state)
{
    (void)state;
    if (!env.up)
        skip();
    struct seen s = list_now();
    assert_true(s.index >= 0);
    assert_true(s.present);
}

static void test_select_and_channels(void **state)
{
    (void)state;
    if (!env.up)
        skip();
    struct st_transport t;
    open_reader(&t, READER);
    uint8_t r[ST_RESPONSE_MAX];
    tx_sw(&t, TRS_SELECT_BASIC, 0x9000, r);
    trs_check_card(&t, 0);

    /* A logical channel lives as long as the connection: many APDUs on it. */
    assert_int_equal(tx_sw(&t, "0070000001", 0x9000, r), 1);
    assert_int_equal(r[0], 1);
    tx_sw(&t, TRS_SELECT_CH1, 0x9000, r);
    for (int i = 0; i < 5; i++)
        trs_check_card(&t, 1);
    /* Application data on channel 1 (case 2). */
    size_t n = tx_get(&t, "81CB000000", r);
    assert_true(n > 0);
    tx_sw(&t, "0070800100", 0x9000, r);
    /* Closed: the channel is gone on the card. */
    size_t rlen;
    assert_int_equal(tx(&t, "81CB000000", r, &rlen), ST_OK);
    assert_int_not_equal(sw_of(r, rlen), 0x9000);
    t.ops->close(t.ctx);
}

static void test_sign(void **state)
{
    (void)state;
    if (!env.up)
        skip();
    struct st_transport t;
    open_reader(&t, READER);
    uint8_t r[ST_RESPONSE_MAX];
    assert_int_equal(tx_sw(&t, "0070000001", 0x9000, r), 1);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "0%uA4040007%s", r[0], TRS_AID_HEX);
    unsigned ch = r[0];
    tx_sw(&t, cmd, 0x9000, r);
    snprintf(cmd, sizeof(cmd), "8%u2A00010D840101A1010391020001920104", ch);
    tx_sw(&t, cmd, 0x9000, r);
    snprintf(cmd, sizeof(cmd),
             "8%u2B8001229E20"
             "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9"
             "00",
             ch);
    size_t n = tx_get(&t, cmd, r);
    assert_int_equal(r[0], 0x33);
    assert_true(n == 67 || n == 66);
    snprintf(cmd, sizeof(cmd), "007080%02X", ch);
    tx_sw(&t, cmd, 0x9000, r);
    t.ops->close(t.ctx);
}

static void test_reader_selection(void **state)
{
    (void)state;
    if (!env.up)
        skip();
    struct seen s = list_now();
    struct st_transport t;
    char spec[16];
    snprintf(spec, sizeof(spec), "#%d", s.index);
    open_reader(&t, spec);
    t.ops->close(t.ctx);
    if (s.present_count == 1) {
        /* NULL: the first reader with a card, ours when the others are empty. */
        open_reader(&t, NULL);
        t.ops->close(t.ctx);
        open_reader(&t, "");
        t.ops->close(t.ctx);
    }
    /* A prefix takes the first reader it matches, card or not. */
    char err[256];
    int st = st_pcsc_open(&t, "Virtual PCD", err, sizeof(err));
    assert_true(st == ST_OK || st == ST_E_NO_CARD);
    if (st == ST_OK) {
        assert_memory_equal(st_pcsc_reader_name(&t), "Virtual PCD", 11);
        t.ops->close(t.ctx);
    }
}

static void test_reset(void **state)
{
    (void)state;
    if (!env.up)
        skip();
    struct st_transport t;
    open_reader(&t, READER);
    uint8_t r[ST_RESPONSE_MAX];
    assert_int_equal(tx_sw(&t, "0070000001", 0x9000, r), 1);
    tx_sw(&t, TRS_SELECT_CH1, 0x9000, r);
    uint8_t atr[64];
    size_t atr_len = sizeof(atr);
    assert_int_equal(t.ops->reset(t.ctx, atr, &atr_len), ST_OK);
    assert_true(atr_len >= 2);
    assert_int_equal(atr[0], 0x3B);
    /* The reset closed channel 1; the basic channel works. */
    size_t rlen;
    assert_int_equal(tx(&t, "81CB000000", r, &rlen), ST_OK);
    assert_int_not_equal(sw_of(r, rlen), 0x9000);
    tx_sw(&t, TRS_SELECT_BASIC, 0x9000, r);
    atr_len = 1;
    assert_int_equal(t.ops->reset(t.ctx, atr, &atr_len), ST_E_BUFFER);
    t.ops->close(t.ctx);
}

static void test_other_reset(void **state)
{
    (void)state;
    if (!env.up)
        skip();
    /* A second application resets the card: the first hears of it once, then works again. */
    struct st_transport a, b;
    open_reader(&a, READER);
    open_reader(&b, READER);
    uint8_t r[ST_RESPONSE_MAX];
    tx_sw(&a, TRS_SELECT_BASIC, 0x9000, r);
    uint8_t atr[64];
    size_t atr_len = sizeof(atr);
    assert_int_equal(b.ops->reset(b.ctx, atr, &atr_len), ST_OK);
    size_t rlen;
    assert_int_equal(tx(&a, TRS_SELECT_BASIC, r, &rlen), ST_E_LINK_CLOSED);
    assert_int_equal(st_pcsc_last_error(&a), (long)SCARD_W_RESET_CARD);
    assert_non_null(strstr(st_pcsc_last_error_text(&a), "reset"));
    tx_sw(&a, TRS_SELECT_BASIC, 0x9000, r);
    b.ops->close(b.ctx);
    a.ops->close(a.ctx);
}

static void test_card_removed(void **state)
{
    (void)state;
    if (!env.up)
        skip();
    struct st_transport t;
    open_reader(&t, READER);
    uint8_t r[ST_RESPONSE_MAX];
    tx_sw(&t, "0070000001", 0x9000, r);
    tx_sw(&t, TRS_SELECT_CH1, 0x9000, r);
    trs_check_card(&t, 1);
    /* The card goes away in the middle of the session. */
    trs_card_kill(&env.card, SIGKILL);
    alarm(60); /* a hang fails the test instead of blocking ctest */
    long long t0 = trs_now_ms();
    int st = ST_OK;
    size_t rlen;
    /* pcscd may still hand out one answer it had; within a few tries the loss shows. */
    for (int i = 0; i < 50 && st == ST_OK; i++) {
        st = tx(&t, "81CB000000", r, &rlen);
        if (st == ST_OK)
            usleep(100000);
    }
    alarm(0);
    if (st != ST_E_NO_CARD && st != ST_E_NO_READER)
        fail_msg("after the card died: %d (%s)", st, st_pcsc_last_error_text(&t));
    assert_true(trs_now_ms() - t0 < 15000);
    assert_true(st_pcsc_last_error(&t) != 0);
    /* And it stays a clean error. */
    st = tx(&t, "81CB000000", r, &rlen);
    assert_true(st == ST_E_NO_CARD || st == ST_E_NO_READER);
    t.ops->close(t.ctx);
    trs_card_stop(&env.card);

    /* Opening the empty reader now: no card. */
    char err[256];
    struct st_transport u = {0};
    st = st_pcsc_open(&u, READER, err, sizeof(err));
    assert_true(st == ST_E_NO_CARD || st == ST_E_NO_READER);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--probe") == 0)
        return st_pcsc_list_readers(NULL, NULL, NULL, 0) >= 0 ? 0 : 1;
    signal(SIGPIPE, SIG_IGN);
    st_test_vpcd_lock();
    const struct CMUnitTest offline[] = {
        cmocka_unit_test(test_error_map),
        cmocka_unit_test(test_bad_readers),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_list),         cmocka_unit_test(test_select_and_channels),
        cmocka_unit_test(test_sign),         cmocka_unit_test(test_reader_selection),
        cmocka_unit_test(test_reset),        cmocka_unit_test(test_other_reset),
        cmocka_unit_test(test_card_removed), /* last: kills the card */
    };
    int failed = cmocka_run_group_tests_name("pcsc_offline", offline, NULL, NULL);
    failed += cmocka_run_group_tests_name("pcsc_live", live, group_setup, group_teardown);
    return failed;
}
