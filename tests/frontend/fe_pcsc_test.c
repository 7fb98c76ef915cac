/*
 * The vpcd front end through a real pcscd, with libpcsclite as a PC/SC
 * client would use it (the Orange library's Linux back end does the same
 * calls, reference §5 "PC/SC"). Run by tests/support/pcscd.sh, which starts
 * pcscd and `simtrust-card serve --vpcd` on the image made by fe_make_image.
 *
 * Usage: fe_pcsc_test probe                  exit 0 if pcscd answers
 *        fe_pcsc_test wait READER SECONDS    wait for a card in READER
 *        fe_pcsc_test run READER             the checks
 */
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fe_util.h"

static SCARDCONTEXT ctx;
static SCARDHANDLE card;
static DWORD proto;
static uint8_t r[300];

/* Sends hex, returns the response length (data + SW), 0 on transport failure. */
static size_t tx(const char *hex)
{
    uint8_t c[300];
    size_t n = fe_unhex(hex, c, sizeof(c));
    DWORD rlen = sizeof(r);
    const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    LONG rv = SCardTransmit(card, pci, c, (DWORD)n, NULL, r, &rlen);
    if (rv != SCARD_S_SUCCESS) {
        printf("      SCardTransmit(%s): %s\n", hex, pcsc_stringify_error(rv));
        return 0;
    }
    return rlen;
}

static uint16_t sw(size_t n)
{
    return n >= 2 ? (uint16_t)(r[n - 2] << 8 | r[n - 1]) : 0;
}

static int cmd_wait(const char *reader, int seconds)
{
    long long deadline = fe_now_ms() + seconds * 1000LL;
    while (fe_now_ms() < deadline) {
        SCARD_READERSTATE st = {.szReader = reader, .dwCurrentState = SCARD_STATE_UNAWARE};
        LONG rv = SCardGetStatusChange(ctx, 500, &st, 1);
        if (rv == SCARD_S_SUCCESS && (st.dwEventState & SCARD_STATE_PRESENT) &&
            !(st.dwEventState & SCARD_STATE_MUTE))
            return 0;
        usleep(200000);
    }
    printf("no card in reader '%s' after %d s\n", reader, seconds);
    return 1;
}

static void check_sign_verify(unsigned ch)
{
    char cmd[400];
    uint8_t hash[32];
    for (size_t i = 0; i < sizeof(hash); i++)
        hash[i] = (uint8_t)(0xA5 ^ i);
    char hash_hex[65];
    for (size_t i = 0; i < 32; i++)
        snprintf(hash_hex + 2 * i, 3, "%02X", hash[i]);

    /* Sign: open session 1 for key 01, pad-and-sign mode with a SHA-256 digest (tag 9E). */
    snprintf(cmd, sizeof(cmd), "%02X2A00010D840101A1010391020001920104", 0x80 | ch);
    size_t n = tx(cmd);
    FE_CHECK(sw(n) == 0x9000, "COMPUTE SIGNATURE init -> %04X", sw(n));
    snprintf(cmd, sizeof(cmd), "%02X2B8001229E20%s", 0x80 | ch, hash_hex);
    n = tx(cmd);
    /* Direct mode (T=1 reader): the signature comes back at once. Either TLV 33 length form. */
    const uint8_t *sig = NULL;
    if (n == 67 + 2 && r[0] == 0x33 && r[1] == 0x00 && r[2] == 0x40)
        sig = r + 3;
    else if (n == 66 + 2 && r[0] == 0x33 && r[1] == 0x40)
        sig = r + 2;
    FE_CHECK(sw(n) == 0x9000 && sig != NULL,
             "COMPUTE SIGNATURE update -> 33 <r||s> + 9000 directly (%zu bytes, %04X)", n, sw(n));
    char sig_hex[129] = "";
    if (sig != NULL)
        for (size_t i = 0; i < 64; i++)
            snprintf(sig_hex + 2 * i, 3, "%02X", sig[i]);
    snprintf(cmd, sizeof(cmd), "%02X2A0101", 0x80 | ch);
    n = tx(cmd);
    FE_CHECK(sw(n) == 0x9000, "COMPUTE SIGNATURE close -> %04X", sw(n));
    if (sig == NULL)
        return;

    /* Verify with public key 01: the genuine signature, then a tampered one. */
    for (int tamper = 0; tamper < 2; tamper++) {
        snprintf(cmd, sizeof(cmd), "%02X2C00010D850101A1010391020001920104", 0x80 | ch);
        n = tx(cmd);
        FE_CHECK(sw(n) == 0x9000, "VERIFY SIGNATURE init -> %04X", sw(n));
        if (tamper)
            sig_hex[10] = sig_hex[10] == '0' ? '1' : '0';
        snprintf(cmd, sizeof(cmd), "%02X2D8001659E20%s330040%s", 0x80 | ch, hash_hex, sig_hex);
        n = tx(cmd);
        if (!tamper)
            FE_CHECK(sw(n) == 0x9000, "VERIFY SIGNATURE of the card's signature -> %04X", sw(n));
        else
            FE_CHECK(sw(n) != 0x9000, "VERIFY SIGNATURE of a tampered signature -> %04X", sw(n));
        snprintf(cmd, sizeof(cmd), "%02X2C0101", 0x80 | ch);
        tx(cmd);
    }
}

static void check_read_file(unsigned ch)
{
    char cmd[64];
    size_t off = 0;
    bool ok = true;
    /* The Orange client reads 50-byte chunks and fails on any longer answer (reference §1). */
    while (off < FE_FILE_LEN && ok) {
        snprintf(cmd, sizeof(cmd), "%02XB0%04zX0383010232", ch, off);
        size_t n = tx(cmd);
        size_t want = FE_FILE_LEN - off < 50 ? FE_FILE_LEN - off : 50;
        ok = sw(n) == 0x9000 && n - 2 == want;
        for (size_t i = 0; ok && i < want; i++)
            ok = r[i] == fe_file_byte(off + i);
        off += want;
    }
    FE_CHECK(ok && off == FE_FILE_LEN, "READ FILE in 50-byte chunks (Le honoured) -> whole file");
    /* "00 Le" after the data: the Orange PC/SC encoding bug. */
    snprintf(cmd, sizeof(cmd), "%02XB0000003830102%s", ch, "0032");
    size_t n = tx(cmd);
    FE_CHECK(sw(n) == 0x9000 && n == 52, "READ FILE with ORA's '00 Le' trailer -> 50 bytes");
    snprintf(cmd, sizeof(cmd), "%02XB0%04X0383010232", ch, FE_FILE_LEN + 10);
    n = tx(cmd);
    FE_CHECK(n == 2 && sw(n) != 0x9000, "READ FILE past the end -> error %04X", sw(n));
}

static int cmd_run(const char *reader)
{
    LONG rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                           &card, &proto);
    if (rv != SCARD_S_SUCCESS) {
        printf("FAIL: SCardConnect(%s): %s\n", reader, pcsc_stringify_error(rv));
        return 1;
    }
    FE_CHECK(proto == SCARD_PROTOCOL_T1, "reader negotiated T=1 from the card's ATR");

    size_t n = tx("0070000001");
    FE_CHECK(n == 3 && sw(n) == 0x9000 && r[0] >= 1 && r[0] <= 3,
             "MANAGE CHANNEL open -> channel + 9000");
    unsigned ch = n == 3 ? r[0] : 1;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "%02XA4040007%s", ch, FE_AID_HEX);
    n = tx(cmd);
    FE_CHECK(n == 2 && sw(n) == 0x9000, "SELECT on channel %u -> 9000", ch);

    snprintf(cmd, sizeof(cmd), "%02XCB010000", 0x80 | ch);
    n = tx(cmd);
    bool has_key = false;
    for (size_t i = 0; i + 8 <= n; i++)
        has_key |= memcmp(r + i,
                          "\x74\x06"
                          "client",
                          8) == 0;
    FE_CHECK((sw(n) == 0x9000 || sw(n) == 0x6300) && n > 2 && r[0] == 0xC1 && has_key,
             "GET DATA object list -> C1 ... label 'client' (%04X)", sw(n));

    snprintf(cmd, sizeof(cmd), "%02X84000020", ch);
    n = tx(cmd);
    FE_CHECK(n == 34 && sw(n) == 0x9000, "GET RANDOM 32 -> 32 bytes + 9000");

    check_sign_verify(ch);
    check_read_file(ch);

    /* The Orange library's SELECT with a stray trailing 00 (reference §5), on channel 1. */
    n = tx("01A4040007A000000559001000");
    FE_CHECK(n == 2 && sw(n) == 0x9000, "ORA SELECT 01A4040007A000000559001000 -> 9000");

    snprintf(cmd, sizeof(cmd), "007080%02X", ch);
    n = tx(cmd);
    FE_CHECK(n == 2 && sw(n) == 0x9000, "MANAGE CHANNEL close -> 9000");
    snprintf(cmd, sizeof(cmd), "%02X84000008", ch);
    n = tx(cmd);
    FE_CHECK(n == 2 && sw(n) != 0x9000, "closed channel refuses commands (%04X)", sw(n));

    SCardDisconnect(card, SCARD_LEAVE_CARD);
    printf("fe_pcsc_test: %d failure(s)\n", fe_failures);
    return fe_failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: %s probe | wait READER SECONDS | run READER\n", argv[0]);
        return 2;
    }
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
    if (strcmp(argv[1], "probe") == 0)
        return rv == SCARD_S_SUCCESS ? 0 : 1;
    if (rv != SCARD_S_SUCCESS) {
        printf("SCardEstablishContext: %s\n", pcsc_stringify_error(rv));
        return 1;
    }
    int rc = 2;
    if (strcmp(argv[1], "wait") == 0 && argc == 4)
        rc = cmd_wait(argv[2], atoi(argv[3]));
    else if (strcmp(argv[1], "run") == 0 && argc == 3)
        rc = cmd_run(argv[2]);
    else
        fprintf(stderr, "usage: %s probe | wait READER SECONDS | run READER\n", argv[0]);
    SCardReleaseContext(ctx);
    return rc;
}
