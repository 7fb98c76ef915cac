/*
 * GET RANDOM (84; IoT.04 F1): Le bytes, Le 00 = 256, the 6700/6A86 cases,
 * and compatibility rule 8.3: never 0x61 as the first byte (wolfSSL would
 * read it as SW 61xx, reference §1).
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

static void test_lengths(void **state)
{
    st_card *card = *state;
    uint64_t before = st_card_stats(card)->ops[ST_OP_RANDOM];
    struct cfx_rsp a = cfx_expect(card, 0x9000, "8184000008"); /* M33 */
    assert_int_equal(a.len, 8);
    /* THM on the basic channel, once the applet is selected there. */
    cfx_expect(card, 0x6985, "0084000020");
    cfx_expect(card, 0x9000, "00A4040007A0000005590010");
    struct cfx_rsp b = cfx_expect(card, 0x9000, "0084000020");
    assert_int_equal(b.len, 32);
    struct cfx_rsp c = cfx_expect(card, 0x9000, "8184000000");
    assert_int_equal(c.len, 256);
    c = cfx_expect(card, 0x9000, "81840000FF");
    assert_int_equal(c.len, 255);
    c = cfx_expect(card, 0x9000, "8184000001");
    assert_int_equal(c.len, 1);
    struct cfx_rsp d = cfx_expect(card, 0x9000, "8184000020");
    assert_memory_not_equal(b.data, d.data, 32);
    assert_int_equal(st_card_stats(card)->ops[ST_OP_RANDOM], before + 6);
}

static void test_errors(void **state)
{
    st_card *card = *state;
    cfx_expect(card, 0x6700, "81840000");     /* no Le */
    cfx_expect(card, 0x6700, "8184000001AA"); /* command data */
    cfx_expect(card, 0x6700, "8184000001AA08");
    cfx_expect(card, 0x6A86, "8184010008");
    cfx_expect(card, 0x6A86, "8184000108");
}

/* Rule 8.3: over many draws 0x61 never leads, while other values do. */
static void test_never_61_first(void **state)
{
    st_card *card = *state;
    unsigned seen[256] = {0};
    for (int i = 0; i < 4096; i++) {
        struct cfx_rsp r = cfx_expect(card, 0x9000, "8184000002");
        assert_int_equal(r.len, 2);
        seen[r.data[0]]++;
    }
    assert_int_equal(seen[0x61], 0);
    unsigned distinct = 0;
    for (int v = 0; v < 256; v++)
        distinct += seen[v] > 0;
    assert_true(distinct > 200);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {T(test_lengths), T(test_errors), T(test_never_61_first)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
