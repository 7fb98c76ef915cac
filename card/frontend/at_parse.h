/*
 * AT command input of the modem emulator (3GPP TS 27.007), split in two pure,
 * allocation-light steps so both can be fuzzed without a terminal
 * (fuzz/fuzz_at.c):
 *
 *   bytes --st_modem_lines_feed()--> a command line --st_modem_parse()--> command
 *
 * The line assembler never stores more than its configured maximum; the
 * parser works on (pointer, length) and accepts NUL or any other byte in a
 * line (the result is then simply "unknown command").
 */
#ifndef SIMTRUST_CARD_FRONTEND_AT_PARSE_H
#define SIMTRUST_CARD_FRONTEND_AT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "card.h"

/* Bounds of the configurable command line length (--max-line). */
#define ST_MODEM_LINE_MIN 16
#define ST_MODEM_LINE_MAX 65536
#define ST_MODEM_LINE_DEFAULT 2048

/* Line assembler: collects bytes up to CR or LF. */
struct st_modem_lines {
    char *buf;  /* max bytes, owned */
    size_t max; /* longest line kept; longer ones are discarded */
    size_t len;
    bool overflow; /* the current line went past max: discard to its end */
    bool ready;    /* buf holds the line returned by the last feed */
};

enum st_modem_line_event {
    ST_MODEM_LINE_NONE,    /* all input consumed, no line completed */
    ST_MODEM_LINE_READY,   /* a non-empty line is in buf[0..len) */
    ST_MODEM_LINE_TOO_LONG /* a line longer than max ended (its bytes are gone) */
};

/* 0, or -1 when max is out of [ST_MODEM_LINE_MIN, ST_MODEM_LINE_MAX] or on ENOMEM. */
int st_modem_lines_init(struct st_modem_lines *l, size_t max);
void st_modem_lines_free(struct st_modem_lines *l);

/*
 * Consumes input up to and including the first line end that completes a
 * line (or up to n). Returns the number of bytes consumed and the event in
 * *ev. Empty lines (e.g. the LF of a CR LF pair) are skipped silently, as a
 * modem does. After READY the caller uses buf/len, then calls again with the
 * rest of the input; the next call starts a new line.
 */
size_t st_modem_lines_feed(struct st_modem_lines *l, const uint8_t *in, size_t n,
                           enum st_modem_line_event *ev);

/* Parsed command kinds. */
enum st_modem_cmd_kind {
    ST_MODEM_CMD_UNKNOWN, /* not a command this modem knows: ERROR */
    ST_MODEM_CMD_BAD,     /* a known command with bad parameters: +CME ERROR: cme */
    ST_MODEM_CMD_PLAIN,   /* "AT" */
    ST_MODEM_CMD_TEST,    /* "AT+CMD=?" of a known extended command: OK */
    ST_MODEM_CMD_ECHO,    /* ATE0 / ATE1 (num) */
    ST_MODEM_CMD_INFO,    /* ATI */
    ST_MODEM_CMD_CMEE,    /* AT+CMEE=<0|1|2> (num) */
    ST_MODEM_CMD_CSIM,    /* AT+CSIM=<len>,"<apdu>" (data) */
    ST_MODEM_CMD_CCHO,    /* AT+CCHO="<aid>" (data) */
    ST_MODEM_CMD_CGLA,    /* AT+CGLA=<session>,<len>,"<apdu>" (num, data) */
    ST_MODEM_CMD_CCHC,    /* AT+CCHC=<session> (num) */
};

/* +CME ERROR codes used (27.007 §9.2.1). */
#define ST_MODEM_CME_NOT_ALLOWED 3
#define ST_MODEM_CME_NOT_SUPPORTED 4
#define ST_MODEM_CME_SIM_FAILURE 13
#define ST_MODEM_CME_INVALID_INDEX 21
#define ST_MODEM_CME_NOT_FOUND 22
#define ST_MODEM_CME_INCORRECT_PARAMS 50

struct st_modem_cmd {
    enum st_modem_cmd_kind kind;
    int cme;           /* ST_MODEM_CMD_BAD: the +CME ERROR code */
    unsigned long num; /* ECHO / CMEE value, CGLA / CCHC session id */
    size_t data_len;   /* CSIM / CGLA APDU, CCHO AID */
    uint8_t data[ST_CAPDU_MAX];
};

/*
 * Parses one command line (without its line end). Never fails: anything it
 * does not recognise becomes ST_MODEM_CMD_UNKNOWN. Command names are
 * case-insensitive; spaces are allowed around numbers, commas and quotes;
 * hex is accepted in either case, quoted or not. A length that does not
 * match the hex string, an odd digit count or an APDU longer than
 * ST_CAPDU_MAX gives ST_MODEM_CMD_BAD with ST_MODEM_CME_INCORRECT_PARAMS.
 */
void st_modem_parse(const char *line, size_t len, struct st_modem_cmd *cmd);

#endif
