/*
 * Sessions of COMPUTE SIGNATURE (2A/2B), VERIFY SIGNATURE (2C/2D) and PUT
 * PUBLIC KEY (24/D8): P1 open/close, session numbers, implicit close on
 * re-open, closing unopened sessions (compatibility rule 8.7), and that
 * sessions end at reset (reference §2.8, §2.9, §2.12).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "card_fixture.h"
#include "card_internal.h"

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

#define DIG32 "9E20000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
#define SIGN_INIT(p2) "812A00" p2 "0D840101A1010391020001920104"
#define VERIFY_INIT(p2) "812C00" p2 "0D850101A1010391020001920104"

/* Rule 8.7: ORA/THM close before opening and ignore the SW; P2 beyond max too. */
static void test_close_unopened(void **state)
{
    st_card *card = *state;
    const char *ins[] = {"2A", "2C", "24"};
    for (int i = 0; i < 3; i++) {
        cfx_expect(card, 0x9000, "81%s0101", ins[i]);
        cfx_expect(card, 0x9000, "81%s010100", ins[i]); /* with Le, as ATS/WS send it */
        cfx_expect(card, 0x9000, "81%s0103", ins[i]);
        cfx_expect(card, 0x9000, "81%s01FF", ins[i]);
    }
}

static void test_open_bad_p1p2(void **state)
{
    st_card *card = *state;
    cfx_expect(card, 0x6A86, "812A00040D840101A1010391020001920104"); /* P2 = max */
    cfx_expect(card, 0x6A86, "812C00FF0D850101A1010391020001920104");
    cfx_expect(card, 0x6A86, "812400%02X03850105", ST_MAX_SESSIONS);
    cfx_expect(card, 0x6A86, "812A02010D840101A1010391020001920104"); /* P1 = 02 */
    cfx_expect(card, 0x6A86, "812C80010D850101A1010391020001920104");
    cfx_expect(card, 0x6A86, "8124020103850105");
    cfx_expect(card, 0x6700, "812A0001"); /* open without data */
    cfx_expect(card, 0x6700, "81240001");
}

static void test_update_needs_open_session(void **state)
{
    st_card *card = *state;
    cfx_expect(card, 0x6985,
               "812B8001"
               "22" DIG32);
    cfx_expect(card, 0x6985,
               "812D8001"
               "22" DIG32);
    cfx_expect(card, 0x6985, "81D8800103AABBCC");
    /* Session number or block P1 out of range. */
    cfx_expect(card, 0x6A86,
               "812B8004"
               "22" DIG32);
    cfx_expect(card, 0x6A86,
               "812D80FF"
               "22" DIG32);
    cfx_expect(card, 0x6A86,
               "81D88009"
               "03AABBCC");
    cfx_expect(card, 0x9000, SIGN_INIT("01"));
    cfx_expect(card, 0x6A86,
               "812B4001"
               "22" DIG32);
    cfx_expect(card, 0x6A86,
               "812B8101"
               "22" DIG32);
    /* Closed again: updates are refused. */
    cfx_expect(card, 0x9000, "812A0101");
    cfx_expect(card, 0x6985,
               "812B8001"
               "22" DIG32);
}

/* Re-opening replaces the session; a failed re-open leaves it closed. */
static void test_reopen(void **state)
{
    st_card *card = *state;
    cfx_expect(card, 0x9000, SIGN_INIT("00"));
    cfx_expect(card, 0x9000,
               "812B8000"
               "22" DIG32);
    /* Now full-text mode: a 9E digest no longer fits the session. */
    cfx_expect(card, 0x9000, "812A00000D840101A1010191020001920104");
    cfx_expect(card, 0x6A80,
               "812B8000"
               "22" DIG32);
    cfx_expect(card, 0x9000,
               "812B8000"
               "059B03ABCDEF");
    cfx_expect(card, 0x6A82, "812A00000D840109A1010391020001920104");
    cfx_expect(card, 0x6985,
               "812B8000"
               "059B03ABCDEF");
}

/* Every session number of every kind is its own session. */
static void test_independent_sessions(void **state)
{
    st_card *card = *state;
    for (int i = 0; i < ST_MAX_SESSIONS; i++) {
        cfx_expect(card, 0x9000, "812A00%02X0D840101A1010391020001920104", i);
        cfx_expect(card, 0x9000, "812C00%02X0D850101A1010391020001920104", i);
    }
    cfx_expect(card, 0x9000, "812A0102");
    cfx_expect(card, 0x6985,
               "812B8002"
               "22" DIG32);
    struct cfx_rsp r = cfx_expect(card, 0x9000,
                                  "812B8003"
                                  "22" DIG32);
    assert_int_equal(r.len, 67);
    /* The verify session 2 is still open and checks that signature. */
    cfx_expect(card, 0x9000,
               "812D8002"
               "65" DIG32 "%s",
               cfx_hex(r.data, 67));
    /* A session is not bound to the channel it was opened on. */
    cfx_expect(card, 0x9000, "00A4040007A0000005590010");
    cfx_expect(card, 0x9000,
               "002B8003"
               "22" DIG32);
}

static void test_reset_closes_sessions(void **state)
{
    st_card *card = *state;
    cfx_expect(card, 0x9000, SIGN_INIT("01"));
    cfx_expect(card, 0x9000, VERIFY_INIT("01"));
    cfx_expect(card, 0x9000, "8124000103850105");
    st_card_power(card, ST_POWER_RESET, NULL, 0);
    cfx_expect(card, 0x9000, CFX_SELECT);
    cfx_expect(card, 0x6985,
               "812B8001"
               "22" DIG32);
    cfx_expect(card, 0x6985,
               "812D8001"
               "22" DIG32);
    cfx_expect(card, 0x6985, "81D8800103AABBCC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_unopened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_bad_p1p2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_needs_open_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_independent_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_closes_sessions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
