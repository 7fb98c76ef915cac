/*
 * Line assembly and command parsing for the modem emulator (see at_parse.h).
 * Every read goes through a (p, end) cursor; nothing assumes NUL-terminated
 * input, so a fuzzer may feed any bytes.
 */
#include "at_parse.h"

#include <stdlib.h>
#include <string.h>

int st_modem_lines_init(struct st_modem_lines *l, size_t max)
{
    memset(l, 0, sizeof(*l));
    if (max < ST_MODEM_LINE_MIN || max > ST_MODEM_LINE_MAX)
        return -1;
    l->buf = malloc(max);
    if (l->buf == NULL)
        return -1;
    l->max = max;
    return 0;
}

void st_modem_lines_free(struct st_modem_lines *l)
{
    free(l->buf);
    memset(l, 0, sizeof(*l));
}

size_t st_modem_lines_feed(struct st_modem_lines *l, const uint8_t *in, size_t n,
                           enum st_modem_line_event *ev)
{
    *ev = ST_MODEM_LINE_NONE;
    if (l->ready) {
        /* The caller has used the line returned last time. */
        l->ready = false;
        l->len = 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if (c == '\r' || c == '\n') {
            if (l->overflow) {
                l->overflow = false;
                l->len = 0;
                *ev = ST_MODEM_LINE_TOO_LONG;
                return i + 1;
            }
            if (l->len == 0)
                continue; /* LF after CR, or a bare line end: modems ignore it */
            l->ready = true;
            *ev = ST_MODEM_LINE_READY;
            return i + 1;
        }
        if (l->overflow)
            continue;
        if (l->len == l->max) {
            /* The line does not fit: forget it and skip to its end. */
            l->overflow = true;
            l->len = 0;
            continue;
        }
        l->buf[l->len++] = (char)c;
    }
    return n;
}

struct cursor {
    const char *p;
    const char *end;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_spaces(struct cursor *c)
{
    while (c->p < c->end && is_space(*c->p))
        c->p++;
}

static bool at_end(struct cursor *c)
{
    skip_spaces(c);
    return c->p == c->end;
}

static char upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* Case-insensitive match of a literal; advances on success only. */
static bool take_word(struct cursor *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (upper(c->p[i]) != word[i])
            return false;
    c->p += n;
    return true;
}

static bool take_char(struct cursor *c, char ch)
{
    skip_spaces(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A decimal number of at most 9 digits (no sign), spaces around it allowed. */
static bool take_num(struct cursor *c, unsigned long *out)
{
    skip_spaces(c);
    unsigned long v = 0;
    int digits = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (++digits > 9)
            return false;
        v = v * 10 + (unsigned long)(*c->p - '0');
        c->p++;
    }
    if (digits == 0)
        return false;
    *out = v;
    skip_spaces(c);
    return true;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = upper(ch);
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * A hex string, quoted or not (some modem drivers omit the quotes). Sets
 * *digits to the number of hex characters and decodes into out (cap bytes).
 * Returns 0, -1 on a syntax error, -2 when the string is longer than cap.
 */
static int take_hex(struct cursor *c, uint8_t *out, size_t cap, size_t *digits, size_t *bytes)
{
    skip_spaces(c);
    bool quoted = c->p < c->end && *c->p == '"';
    if (quoted) {
        c->p++;
        skip_spaces(c);
    }
    const char *start = c->p;
    while (c->p < c->end && hex_value(*c->p) >= 0)
        c->p++;
    size_t n = (size_t)(c->p - start);
    if (quoted && !take_char(c, '"'))
        return -1;
    if (n % 2 != 0)
        return -1;
    *digits = n;
    if (n / 2 > cap)
        return -2;
    for (size_t i = 0; i < n / 2; i++)
        out[i] = (uint8_t)(hex_value(start[2 * i]) << 4 | hex_value(start[2 * i + 1]));
    *bytes = n / 2;
    return 0;
}

static void bad(struct st_modem_cmd *cmd, int cme)
{
    cmd->kind = ST_MODEM_CMD_BAD;
    cmd->cme = cme;
}

/* <len>,"<hex>" as in AT+CSIM and the tail of AT+CGLA. */
static void parse_len_hex(struct cursor *c, struct st_modem_cmd *cmd, enum st_modem_cmd_kind kind)
{
    unsigned long len;
    size_t digits = 0, bytes = 0;
    if (!take_num(c, &len) || !take_char(c, ',')) {
        bad(cmd, ST_MODEM_CME_INCORRECT_PARAMS);
        return;
    }
    int rc = take_hex(c, cmd->data, sizeof(cmd->data), &digits, &bytes);
    if (rc != 0 || !at_end(c) || digits == 0 || len != digits) {
        bad(cmd, ST_MODEM_CME_INCORRECT_PARAMS);
        return;
    }
    cmd->kind = kind;
    cmd->data_len = bytes;
}

static void parse_extended(struct cursor *c, struct st_modem_cmd *cmd)
{
    static const struct {
        const char *name;
        enum st_modem_cmd_kind kind;
    } names[] = {
        {"CSIM", ST_MODEM_CMD_CSIM}, {"CCHO", ST_MODEM_CMD_CCHO}, {"CGLA", ST_MODEM_CMD_CGLA},
        {"CCHC", ST_MODEM_CMD_CCHC}, {"CMEE", ST_MODEM_CMD_CMEE},
    };
    enum st_modem_cmd_kind kind = ST_MODEM_CMD_UNKNOWN;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct cursor save = *c;
        if (take_word(c, names[i].name)) {
            /* The name must end here: "AT+CSIMX=..." is another command. */
            if (c->p == c->end || *c->p == '=' || *c->p == '?' || is_space(*c->p)) {
                kind = names[i].kind;
                break;
            }
        }
        *c = save;
    }
    if (kind == ST_MODEM_CMD_UNKNOWN)
        return;
    if (!take_char(c, '=')) {
        bad(cmd, ST_MODEM_CME_INCORRECT_PARAMS); /* the read / execute forms are not offered */
        return;
    }
    if (take_char(c, '?')) {
        cmd->kind = at_end(c) ? ST_MODEM_CMD_TEST : ST_MODEM_CMD_UNKNOWN;
        return;
    }
    size_t digits = 0, bytes = 0;
    switch (kind) {
    case ST_MODEM_CMD_CSIM:
        parse_len_hex(c, cmd, ST_MODEM_CMD_CSIM);
        return;
    case ST_MODEM_CMD_CGLA:
        if (!take_num(c, &cmd->num) || !take_char(c, ',')) {
            bad(cmd, ST_MODEM_CME_INCORRECT_PARAMS);
            return;
        }
        parse_len_hex(c, cmd, ST_MODEM_CMD_CGLA);
        return;
    case ST_MODEM_CMD_CCHO:
        /* An AID is 5..16 bytes (ISO 7816-4); shorter partial names are allowed by SELECT. */
        if (take_hex(c, cmd->data, ST_AID_MAX, &digits, &bytes) != 0 || !at_end(c) || bytes == 0) {
            bad(cmd, ST_MODEM_CME_INCORRECT_PARAMS);
            return;
        }
        cmd->kind = ST_MODEM_CMD_CCHO;
        cmd->data_len = bytes;
        return;
    case ST_MODEM_CMD_CCHC:
    case ST_MODEM_CMD_CMEE:
        if (!take_num(c, &cmd->num) || !at_end(c) || (kind == ST_MODEM_CMD_CMEE && cmd->num > 2)) {
            bad(cmd, ST_MODEM_CME_INCORRECT_PARAMS);
            return;
        }
        cmd->kind = kind;
        return;
    default:
        return;
    }
}

void st_modem_parse(const char *line, size_t len, struct st_modem_cmd *cmd)
{
    struct cursor c = {line, line + len};
    cmd->kind = ST_MODEM_CMD_UNKNOWN;
    cmd->cme = 0;
    cmd->num = 0;
    cmd->data_len = 0;

    skip_spaces(&c);
    if (!take_word(&c, "AT"))
        return;
    if (at_end(&c)) {
        cmd->kind = ST_MODEM_CMD_PLAIN;
        return;
    }
    if (take_word(&c, "E")) {
        unsigned long v = 0;
        /* V.250: "ATE" alone means ATE0. */
        if (at_end(&c) || (take_num(&c, &v) && at_end(&c) && v <= 1)) {
            cmd->kind = ST_MODEM_CMD_ECHO;
            cmd->num = v;
        }
        return;
    }
    if (take_word(&c, "I")) {
        unsigned long v = 0;
        if (at_end(&c) || (take_num(&c, &v) && at_end(&c) && v == 0))
            cmd->kind = ST_MODEM_CMD_INFO;
        return;
    }
    if (take_word(&c, "+"))
        parse_extended(&c, cmd);
}
