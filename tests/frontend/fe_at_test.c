/*
 * The modem front end through its pseudo-terminal, as a serial client sees
 * it: `simtrust-card serve --modem` is started, its pty opened in raw mode,
 * and AT commands are checked byte for byte (reference §5: +CSIM framing,
 * echo, spacing variants of real clients, +CCHO/+CGLA/+CCHC).
 *
 * Usage: fe_at_test SIMTRUST-CARD
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "fe_util.h"

static int tty = -1;
static char pending[65536]; /* bytes read past the last final result code */
static size_t pending_len;

static void open_tty(const char *path)
{
    tty = open(path, O_RDWR | O_NOCTTY);
    if (tty < 0)
        fe_die("open %s: %s", path, strerror(errno));
    struct termios t;
    if (tcgetattr(tty, &t) != 0)
        fe_die("tcgetattr: %s", strerror(errno));
    cfmakeraw(&t);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, B115200);
    cfsetospeed(&t, B115200);
    if (tcsetattr(tty, TCSANOW, &t) != 0)
        fe_die("tcsetattr: %s", strerror(errno));
    pending_len = 0;
}

static void write_all(const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(tty, p, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            fe_die("write: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Offset just past a final result code line in buf[0..n), or 0. */
static size_t final_end(const char *buf, size_t n)
{
    static const char *const finals[] = {"\r\nOK\r\n", "\r\nERROR\r\n", "\r\n+CME ERROR: "};
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < 3; k++) {
            size_t l = strlen(finals[k]);
            if (i + l > n || memcmp(buf + i, finals[k], l) != 0)
                continue;
            if (k < 2)
                return i + l;
            const char *e = memchr(buf + i + l, '\n', n - i - l);
            if (e != NULL)
                return (size_t)(e - buf) + 1;
        }
    }
    return 0;
}

/*
 * Sends raw bytes and collects everything up to and including the final
 * result code (OK / ERROR / +CME ERROR). Returns the length, 0 on timeout.
 */
static size_t exchange_raw(const void *cmd, size_t cmd_len, char *out, size_t cap)
{
    write_all(cmd, cmd_len);
    long long deadline = fe_now_ms() + 5000;
    for (;;) {
        size_t end = final_end(pending, pending_len);
        if (end > 0) {
            size_t n = end < cap - 1 ? end : cap - 1;
            memcpy(out, pending, n);
            out[n] = '\0';
            memmove(pending, pending + end, pending_len - end);
            pending_len -= end;
            return n;
        }
        long long left = deadline - fe_now_ms();
        if (left <= 0 || pending_len == sizeof(pending)) {
            out[0] = '\0';
            return 0;
        }
        struct pollfd p = {.fd = tty, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(tty, pending + pending_len, sizeof(pending) - pending_len);
        if (r > 0)
            pending_len += (size_t)r;
    }
}

static size_t exchange(const char *line, char *out, size_t cap)
{
    char buf[8192];
    int n = snprintf(buf, sizeof(buf), "%s\r", line);
    return exchange_raw(buf, (size_t)n, out, cap);
}

/* Reads more output for a while (URC checks). */
static void drain(int ms)
{
    long long deadline = fe_now_ms() + ms;
    for (;;) {
        long long left = deadline - fe_now_ms();
        if (left <= 0)
            return;
        struct pollfd p = {.fd = tty, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(tty, pending + pending_len, sizeof(pending) - pending_len);
        if (r > 0)
            pending_len += (size_t)r;
    }
}

static char reply[65536];

/* "\r\n<info>\r\n\r\nOK\r\n" with echo off. */
static void expect(const char *cmd, const char *want)
{
    exchange(cmd, reply, sizeof(reply));
    FE_CHECK(strcmp(reply, want) == 0, "%s", cmd);
    if (strcmp(reply, want) != 0)
        printf("      got %zu bytes: '%s'\n", strlen(reply), reply);
}

/* Sends an APDU in +CSIM and returns its response hex (no SW split). */
static const char *csim(const char *apdu_hex, char *hex_out, size_t cap)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "AT+CSIM=%zu,\"%s\"", strlen(apdu_hex), apdu_hex);
    exchange(cmd, reply, sizeof(reply));
    unsigned len = 0;
    hex_out[0] = '\0';
    const char *p = strstr(reply, "+CSIM: ");
    if (p != NULL && sscanf(p, "+CSIM: %u,\"", &len) == 1) {
        const char *q = strchr(p, '"');
        if (q != NULL && len < cap && strlen(q + 1) > len && q[1 + len] == '"') {
            memcpy(hex_out, q + 1, len);
            hex_out[len] = '\0';
        }
    }
    return hex_out;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_basics(void)
{
    /* Echo is on at power-up, like a real module. */
    exchange("AT", reply, sizeof(reply));
    FE_CHECK(strcmp(reply, "AT\r\r\nOK\r\n") == 0, "AT echoed, then OK");
    exchange("ATE0", reply, sizeof(reply));
    FE_CHECK(strcmp(reply, "ATE0\r\r\nOK\r\n") == 0, "ATE0 (still echoed) -> OK");
    expect("AT", "\r\nOK\r\n");
    expect("at", "\r\nOK\r\n");
    exchange("ATI", reply, sizeof(reply));
    FE_CHECK(strncmp(reply, "\r\nsimtrust", 10) == 0 && ends_with(reply, "\r\n\r\nOK\r\n"),
             "ATI -> product line + OK");
    exchange("ATE1", reply, sizeof(reply));
    FE_CHECK(strcmp(reply, "\r\nOK\r\n") == 0, "ATE1 -> OK");
    exchange("AT+CSIM=10,\"0070000001\"", reply, sizeof(reply));
    static const char echoed[] = "AT+CSIM=10,\"0070000001\"\r\r\n+CSIM: 6,\"0";
    FE_CHECK(strncmp(reply, echoed, sizeof(echoed) - 1) == 0,
             "echo on: command line echoed before +CSIM");
    exchange("AT+CSIM=10,\"0070800100\"", reply, sizeof(reply));
    expect("ATE0", "ATE0\r\r\nOK\r\n");
    expect("AT+CSIM=?", "\r\nOK\r\n");
    expect("ATX9", "\r\nERROR\r\n");
    expect("AT+COPS?", "\r\nERROR\r\n");
    /* CR LF and bare LF line ends. */
    exchange_raw("AT\r\n", 4, reply, sizeof(reply));
    FE_CHECK(strcmp(reply, "\r\nOK\r\n") == 0, "AT<CR><LF> -> OK");
    exchange_raw("AT\n", 3, reply, sizeof(reply));
    FE_CHECK(strcmp(reply, "\r\nOK\r\n") == 0, "AT<LF> -> OK");
    /* The empty LF after CR must not produce a second reply. */
    drain(200);
    FE_CHECK(pending_len == 0, "no reply to the LF of CR LF");
}

static void test_csim(void)
{
    char hex[1024];
    expect("AT+CSIM=24,\"00A4040007" FE_AID_HEX "\"", "\r\n+CSIM: 4,\"9000\"\r\n\r\nOK\r\n");
    /* wolfSSL style: bare SELECT on channel 1, then CLA 81 and GET RESPONSE with CLA 01. */
    csim("01A4040007" FE_AID_HEX, hex, sizeof(hex));
    FE_CHECK(strcmp(hex, "9000") == 0, "SELECT on channel 1 (implicit open) -> 9000");
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "AT+CSIM= 16,\"81B00000038301%02X\"", FE_FILE_ID);
    exchange(cmd, reply, sizeof(reply));
    const char *p = strstr(reply, "+CSIM: 4,\"61");
    FE_CHECK(p != NULL, "case 4 (READ FILE) in modem mode -> 61xx  [%s]", cmd);
    unsigned avail = 0;
    if (p != NULL)
        sscanf(p + 12, "%2x", &avail);
    FE_CHECK(avail == 255 || avail == 0, "61xx announces the first 255 bytes (got %02X)", avail);
    snprintf(cmd, sizeof(cmd), "01C00000%02X", avail);
    csim(cmd, hex, sizeof(hex));
    bool data_ok = strlen(hex) == 2 * 255 + 4 && ends_with(hex, "9000");
    for (size_t i = 0; data_ok && i < 255; i++) {
        unsigned b;
        sscanf(hex + 2 * i, "%2x", &b);
        data_ok = b == fe_file_byte(i);
    }
    FE_CHECK(data_ok, "GET RESPONSE with CLA 01 returns the file's first 255 bytes + 9000");

    /* Spacing variants and lower-case hex (reference §5). */
    exchange("AT+CSIM=10, \"8184000008\"", reply, sizeof(reply));
    FE_CHECK(strncmp(reply, "\r\n+CSIM: 20,\"", 13) == 0 && strstr(reply, "9000\"\r\n") != NULL,
             "AT+CSIM=10, \"...\" (space after the comma) -> 8 random bytes + 9000");
    exchange("AT+CSIM = 10 , \"8184000004\" ", reply, sizeof(reply));
    FE_CHECK(strncmp(reply, "\r\n+CSIM: 12,\"", 13) == 0, "spaces around '=', len and comma");
    expect("AT+CSIM=24,\"01a4040007a0000005590010\"", "\r\n+CSIM: 4,\"9000\"\r\n\r\nOK\r\n");
    expect("at+csim=24,01A4040007A0000005590010", "\r\n+CSIM: 4,\"9000\"\r\n\r\nOK\r\n");
    /* Upper-case output always, even for lower-case input. */
    exchange("AT+CSIM=10,\"8184000010\"", reply, sizeof(reply));
    bool upper = true;
    for (const char *c = reply; *c; c++)
        upper &= !(*c >= 'a' && *c <= 'f');
    FE_CHECK(upper, "+CSIM replies in upper-case hex");

    /* Errors. */
    expect("AT+CSIM=12,\"0084000008\"", "\r\n+CME ERROR: 50\r\n");
    expect("AT+CSIM=9,\"008400000\"", "\r\n+CME ERROR: 50\r\n");
    expect("AT+CSIM=10,\"00840000G8\"", "\r\n+CME ERROR: 50\r\n");
    expect("AT+CSIM=10,\"0084000008", "\r\n+CME ERROR: 50\r\n");
    expect("AT+CSIM", "\r\n+CME ERROR: 50\r\n");
    expect("AT+CMEE=2", "\r\nOK\r\n");
    expect("AT+CSIM=12,\"0084000008\"", "\r\n+CME ERROR: incorrect parameters\r\n");
    expect("AT+CMEE=0", "\r\nOK\r\n");
    expect("AT+CSIM=12,\"0084000008\"", "\r\nERROR\r\n");
    expect("AT+CMEE=1", "\r\nOK\r\n");
    /* A malformed APDU reaches the card, which answers a status word. */
    expect("AT+CSIM=4,\"0084\"", "\r\n+CSIM: 4,\"6700\"\r\n\r\nOK\r\n");
    csim("0070800100", hex, sizeof(hex)); /* close channel 1 again */
}

static void test_channels(void)
{
    unsigned id = 0;
    exchange("AT+CCHO=\"" FE_AID_HEX "\"", reply, sizeof(reply));
    FE_CHECK(sscanf(reply, "\r\n+CCHO: %u\r\n", &id) == 1 && ends_with(reply, "\r\n\r\nOK\r\n"),
             "AT+CCHO -> +CCHO: <session> + OK");
    char cmd[200], want[200];
    snprintf(cmd, sizeof(cmd), "AT+CGLA=%u,10,\"0084000004\"", id);
    exchange(cmd, reply, sizeof(reply));
    FE_CHECK(strncmp(reply, "\r\n+CGLA: 12,\"", 13) == 0 && strstr(reply, "9000\"") != NULL,
             "AT+CGLA GET RANDOM on the session's channel -> +CGLA: 12,\"...9000\"");
    /* CLA 80 (proprietary class) keeps its class; the channel is the modem's. */
    snprintf(cmd, sizeof(cmd), "AT+CGLA=%u,16,\"80B0000A038301%02X\"", id, FE_FILE_ID);
    exchange(cmd, reply, sizeof(reply));
    FE_CHECK(strstr(reply, "+CGLA: 4,\"61") != NULL, "AT+CGLA READ FILE (CLA 80) -> 61xx");
    unsigned avail = 0;
    const char *p = strstr(reply, "\"61");
    if (p != NULL)
        sscanf(p + 3, "%2x", &avail);
    snprintf(cmd, sizeof(cmd), "AT+CGLA=%u,10,\"00C00000%02X\"", id, avail);
    exchange(cmd, reply, sizeof(reply));
    unsigned b0 = 0;
    p = strchr(reply, '"');
    if (p != NULL)
        sscanf(p + 1, "%2x", &b0);
    FE_CHECK(strstr(reply, "9000\"") != NULL && b0 == fe_file_byte(10),
             "GET RESPONSE through AT+CGLA -> data from offset 10 + 9000");
    /* The session's channel really is a logical channel: basic channel unaffected. */
    expect("AT+CSIM=10,\"0070000001\"", "\r\n+CSIM: 6,\"029000\"\r\n\r\nOK\r\n");
    expect("AT+CSIM=8,\"00708002\"", "\r\n+CSIM: 4,\"9000\"\r\n\r\nOK\r\n");
    snprintf(cmd, sizeof(cmd), "AT+CCHC=%u", id);
    expect(cmd, "\r\nOK\r\n");
    snprintf(cmd, sizeof(cmd), "AT+CGLA=%u,10,\"0084000004\"", id);
    snprintf(want, sizeof(want), "\r\n+CME ERROR: 21\r\n");
    expect(cmd, want);
    snprintf(cmd, sizeof(cmd), "AT+CCHC=%u", id);
    expect(cmd, want);
    expect("AT+CCHO=\"A000000000\"", "\r\n+CME ERROR: 22\r\n");
    expect("AT+CCHO=\"A0000005\"", "\r\n+CME ERROR: 22\r\n");
    expect("AT+CCHO=\"A00\"", "\r\n+CME ERROR: 50\r\n");
    /* Every channel in use: the fourth session cannot open. */
    unsigned ids[3] = {0};
    for (int i = 0; i < 3; i++) {
        exchange("AT+CCHO=\"" FE_AID_HEX "\"", reply, sizeof(reply));
        FE_CHECK(sscanf(reply, "\r\n+CCHO: %u", &ids[i]) == 1, "session %d opens", i + 1);
    }
    FE_CHECK(ids[0] != ids[1] && ids[1] != ids[2], "session ids differ");
    exchange("AT+CCHO=\"" FE_AID_HEX "\"", reply, sizeof(reply));
    FE_CHECK(strncmp(reply, "\r\n+CME ERROR: ", 14) == 0, "no fourth channel -> +CME ERROR");
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof(cmd), "AT+CCHC=%u", ids[i]);
        expect(cmd, "\r\nOK\r\n");
    }
}

static void test_robustness(void)
{
    /* Over-long line (default maximum 2048): ERROR, then business as usual. */
    static char longline[5000];
    memcpy(longline, "AT+CSIM=4000,\"", 14);
    memset(longline + 14, 'A', 4000);
    memcpy(longline + 4014, "\"\r", 2);
    exchange_raw(longline, 4016, reply, sizeof(reply));
    FE_CHECK(strcmp(reply, "\r\nERROR\r\n") == 0, "over-long line -> ERROR");
    expect("AT", "\r\nOK\r\n");
    /* Garbage, NUL and high bytes: ERROR, then recovery. */
    static const char garbage[] = "\x01\x02\xff\xfe\x00ZZ\x1b[A\r";
    exchange_raw(garbage, sizeof(garbage) - 1, reply, sizeof(reply));
    FE_CHECK(strcmp(reply, "\r\nERROR\r\n") == 0, "garbage line -> ERROR");
    expect("AT", "\r\nOK\r\n");
    exchange_raw("AT\0+CSIM\r", 9, reply, sizeof(reply));
    FE_CHECK(strcmp(reply, "\r\nERROR\r\n") == 0, "NUL inside a command -> ERROR");
    /* Two commands in one write, split commands over several writes. */
    exchange_raw("AT\rAT", 5, reply, sizeof(reply));
    FE_CHECK(strcmp(reply, "\r\nOK\r\n") == 0, "first of two pipelined commands");
    exchange_raw("I\r", 2, reply, sizeof(reply));
    FE_CHECK(strncmp(reply, "\r\nsimtrust", 10) == 0, "command completed by a later write");
}

/* A second server: --max-line, --urc-every and --csim-no-channels. */
static void test_options(const char *prog)
{
    struct fe_server srv;
    char path[256];
    const char *args[] = {"--modem", "--max-line",         "64", "--urc-every",
                          "2",       "--csim-no-channels", NULL};
    fe_server_start(&srv, prog, args, "modem: ", path, sizeof(path));
    open_tty(path);
    exchange("ATE0", reply, sizeof(reply));
    exchange("AT", reply, sizeof(reply));
    drain(200);
    FE_CHECK(pending_len >= 12 && memcmp(pending, "\r\n+CREG: 1\r\n", 12) == 0,
             "--urc-every 2: URC after the second reply");
    pending_len = 0;
    exchange("AT+CSIM=10,\"0070000001\"", reply, sizeof(reply));
    FE_CHECK(strstr(reply, "+CSIM: 4,\"6D00\"") != NULL,
             "--csim-no-channels: MANAGE CHANNEL in +CSIM -> 6D00");
    exchange("AT+CSIM=24,\"01A4040007" FE_AID_HEX "\"", reply, sizeof(reply));
    FE_CHECK(strstr(reply, "+CSIM: 4,\"6881\"") != NULL,
             "--csim-no-channels: APDU on channel 1 in +CSIM -> 6881");
    exchange("AT+CCHO=\"" FE_AID_HEX "\"", reply, sizeof(reply));
    unsigned id = 0;
    const char *p = strstr(reply, "+CCHO: ");
    FE_CHECK(p != NULL && sscanf(p, "+CCHO: %u", &id) == 1,
             "--csim-no-channels: AT+CCHO still opens a channel");
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "AT+CGLA=%u,10,\"0084000004\"", id);
    exchange(cmd, reply, sizeof(reply));
    FE_CHECK(strstr(reply, "+CGLA: 12,") != NULL, "--csim-no-channels: AT+CGLA works");
    static char line[80];
    memset(line, '0', sizeof(line));
    memcpy(line, "AT+CSIM=", 8);
    line[65 + 8] = '\r';
    exchange_raw(line, 65 + 9, reply, sizeof(reply));
    FE_CHECK(strstr(reply, "\r\nERROR\r\n") != NULL, "--max-line 64: 73-byte line -> ERROR");
    exchange("AT", reply, sizeof(reply));
    FE_CHECK(strstr(reply, "\r\nOK\r\n") != NULL, "--max-line 64: next command OK");
    close(tty);
    FE_CHECK(fe_server_stop(&srv) == 0, "second server exits 0 on SIGTERM");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SIMTRUST-CARD\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct fe_server srv;
    char path[256];
    const char *args[] = {"--modem", NULL};
    fe_server_start(&srv, argv[1], args, "modem: ", path, sizeof(path));
    FE_CHECK(strncmp(path, "/dev/pts/", 9) == 0, "ready line 'modem: %s'", path);
    open_tty(path);
    test_basics();
    test_csim();
    test_channels();
    test_robustness();
    close(tty);
    FE_CHECK(fe_server_stop(&srv) == 0, "serve exits 0 on SIGTERM");
    test_options(argv[1]);
    printf("%s: %d failure(s)\n", argv[0], fe_failures);
    return fe_failures == 0 ? 0 : 1;
}
