/*
 * Fuzzes the modem emulator's input path: arbitrary bytes through the AT
 * line assembler, the command parser and the AT engine, down to a RAM-only
 * card (card/frontend/at_parse.h, frontend.h). What a serial client, or line
 * noise, can send to `simtrust-card serve --modem`.
 *
 * Input layout: byte 0 selects options (bit 0 --csim-no-channels, bit 1
 * --urc-every 1, bit 2 a short --max-line of 16); the rest is fed in chunks
 * whose sizes come from the data itself, so that lines split across reads
 * are exercised too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "card.h"
#include "frontend/frontend.h"
#include "objects.h"

static st_card *card;

/* Output sink: the bytes are dropped; the total keeps the writes observable. */
static size_t out_total;

static void sink(void *ctx, const void *buf, size_t n)
{
    (void)ctx;
    (void)buf;
    out_total += n;
}

static st_card *get_card(void)
{
    if (card == NULL) {
        static struct st_card_state s;
        st_card_state_init(&s);
        struct st_card_config cfg = {.image_path = NULL};
        char err[128];
        card = st_card_new(&cfg, &s, err, sizeof(err));
    }
    return card;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    st_card *c = get_card();
    if (c == NULL)
        return 0;
    /* Each input starts from a freshly powered card. */
    st_card_power(c, ST_POWER_ON, NULL, 0);
    struct st_modem_config cfg = {
        .max_line = (data[0] & 4) ? 16 : 2048,
        .urc_every = (data[0] & 2) ? 1 : 0,
        .csim_no_channels = (data[0] & 1) != 0,
    };
    out_total = 0;
    st_modem *m = st_modem_new(c, &cfg, sink, NULL);
    if (m == NULL)
        return 0;
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    while (left > 0) {
        /* Chunk sizes 1..64 taken from the first byte of the chunk itself. */
        size_t chunk = (size_t)(p[0] & 63) + 1;
        if (chunk > left)
            chunk = left;
        st_modem_input(m, p, chunk);
        p += chunk;
        left -= chunk;
    }
    st_modem_free(m);
    return 0;
}
