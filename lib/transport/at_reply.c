/*
 * AT reply parser (see at_reply.h). Every read goes through a (p, end)
 * cursor over the current line; nothing assumes NUL-terminated input, so a
 * fuzzer may feed any bytes, NULs included.
 */
#include "at_reply.h"

#include <string.h>

#include "simtrust/error.h"

struct cur {
    const char *p;
    const char *end;
};

static char upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_spaces(struct cur *c)
{
    while (c->p < c->end && is_space(*c->p))
        c->p++;
}

/* Case-insensitive prefix match; advances past it on success only. */
static bool take_word(struct cur *c, const char *word)
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

/* The whole (trimmed) line equals word, case-insensitively. */
static bool is_word(struct cur c, const char *word)
{
    return take_word(&c, word) && c.p == c.end;
}

static bool take_char(struct cur *c, char ch)
{
    skip_spaces(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* Decimal number of 1..max_digits digits; spaces before it allowed. */
static bool take_num(struct cur *c, unsigned max_digits, unsigned long *out)
{
    skip_spaces(c);
    unsigned long v = 0;
    unsigned digits = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (++digits > max_digits)
            return false;
        v = v * 10 + (unsigned long)(*c->p - '0');
        c->p++;
    }
    if (digits == 0)
        return false;
    *out = v;
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

/* Verbose +CME ERROR texts (27.007 §9.2.1) that matter for SIM access. */
static const struct {
    int code;
    const char *text; /* upper case */
} cme_texts[] = {
    {0, "PHONE FAILURE"},
    {3, "OPERATION NOT ALLOWED"},
    {4, "OPERATION NOT SUPPORTED"},
    {10, "SIM NOT INSERTED"},
    {11, "SIM PIN REQUIRED"},
    {12, "SIM PUK REQUIRED"},
    {13, "SIM FAILURE"},
    {14, "SIM BUSY"},
    {15, "SIM WRONG"},
    {21, "INVALID INDEX"},
    {22, "NOT FOUND"},
    {50, "INCORRECT PARAMETERS"},
    {100, "UNKNOWN"},
};

int st_at_cme_from_text(const char *s, size_t n)
{
    /* Trim, then compare case-insensitively with the table. */
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    for (size_t i = 0; i < sizeof(cme_texts) / sizeof(cme_texts[0]); i++) {
        struct cur c = {s, s + n};
        if (is_word(c, cme_texts[i].text))
            return cme_texts[i].code;
    }
    return -1;
}

static void finish(struct st_at_reply *r, int status, struct cur line)
{
    r->done = true;
    r->status = status;
    size_t n = (size_t)(line.end - line.p);
    if (n > sizeof(r->final_line) - 1)
        n = sizeof(r->final_line) - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = line.p[i];
        /* Only printable ASCII goes into messages. */
        r->final_line[i] = (ch >= 0x20 && ch < 0x7F) ? ch : '?';
    }
    r->final_line[n] = '\0';
}

static void garbage(struct st_at_reply *r, struct cur line)
{
    if (++r->garbage > ST_AT_REPLY_GARBAGE_MAX) {
        r->cme = -1;
        finish(r, ST_E_PARSE, line);
    }
}

/* After "+CME ERROR:" / "+CMS ERROR:": a number, or a verbose text. */
static void cme_error(struct st_at_reply *r, struct cur rest, struct cur line)
{
    struct cur c = rest;
    unsigned long code;
    if (take_num(&c, 5, &code) && (skip_spaces(&c), c.p == c.end))
        r->cme = (int)code;
    else
        r->cme = st_at_cme_from_text(rest.p, (size_t)(rest.end - rest.p));
    finish(r, ST_E_MODEM, line);
}

/* After "+CSIM:" / "+CGLA:": <len>,["]<hex>["]. */
static bool parse_apdu_info(struct st_at_reply *r, struct cur c)
{
    unsigned long len;
    if (!take_num(&c, 6, &len) || !take_char(&c, ','))
        return false;
    bool quoted = take_char(&c, '"');
    skip_spaces(&c);
    const char *hex = c.p;
    while (c.p < c.end && hex_value(*c.p) >= 0)
        c.p++;
    size_t digits = (size_t)(c.p - hex);
    if (quoted && !take_char(&c, '"'))
        return false;
    skip_spaces(&c);
    if (c.p != c.end)
        return false;
    /* An R-APDU has at least SW1 SW2 and fits a short response. */
    if (digits % 2 != 0 || digits < 4 || digits / 2 > sizeof(r->data))
        return false;
    /*
     * 27.007 counts hex characters; a few modules count bytes. Anything
     * else means a cut or merged line.
     */
    if (len != digits && len != digits / 2)
        return false;
    for (size_t i = 0; i < digits / 2; i++)
        r->data[i] = (uint8_t)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    r->data_len = digits / 2;
    return true;
}

/* A session id, optionally quoted (after "+CCHO:", or a whole line). */
static bool parse_session(struct st_at_reply *r, struct cur c)
{
    bool quoted = take_char(&c, '"');
    unsigned long id;
    if (!take_num(&c, 10, &id) || id > 0xFFFFFFFFul)
        return false;
    if (quoted && !take_char(&c, '"'))
        return false;
    skip_spaces(&c);
    if (c.p != c.end)
        return false;
    r->session = id;
    return true;
}

static void info(struct st_at_reply *r, bool ok)
{
    /* Two info lines for one command: a stale reply got mixed in. */
    if (!ok || r->have_info)
        r->bad_info = true;
    else
        r->have_info = true;
}

/*
 * Result codes a module may send at any time (V.250 call progress, vendor
 * start-up notices). Only whole lines or, for CONNECT, a prefix.
 */
static bool is_urc_word(struct cur c)
{
    static const char *const words[] = {
        "RING",      "NO CARRIER", "BUSY",    "NO ANSWER",         "NO DIALTONE",  "RDY",
        "SMS READY", "CALL READY", "PB DONE", "NORMAL POWER DOWN", "POWERED DOWN",
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (is_word(c, words[i]))
            return true;
    return take_word(&c, "CONNECT");
}

static void classify(struct st_at_reply *r, struct cur line)
{
    struct cur c = line;
    if (take_word(&c, "AT")) {
        r->echoes++; /* our command echoed back (ATE1, or a module ignoring ATE0) */
        return;
    }
    if (is_word(line, "OK")) {
        int st = ST_OK;
        if (r->bad_info || (r->expect != ST_AT_EXPECT_NONE && !r->have_info))
            st = ST_E_PARSE; /* OK without a usable answer */
        finish(r, st, line);
        return;
    }
    if (is_word(line, "ERROR")) {
        r->cme = -1;
        finish(r, ST_E_MODEM, line);
        return;
    }
    c = line;
    if (take_word(&c, "+CME ERROR:") || take_word(&c, "+CMS ERROR:")) {
        cme_error(r, c, line);
        return;
    }
    c = line;
    switch (r->expect) {
    case ST_AT_EXPECT_CSIM:
        if (take_word(&c, "+CSIM:")) {
            info(r, parse_apdu_info(r, c));
            return;
        }
        break;
    case ST_AT_EXPECT_CGLA:
        if (take_word(&c, "+CGLA:")) {
            info(r, parse_apdu_info(r, c));
            return;
        }
        break;
    case ST_AT_EXPECT_CCHO:
        if (take_word(&c, "+CCHO:")) {
            info(r, parse_session(r, c));
            return;
        }
        if (line.p < line.end && (*line.p == '"' || (*line.p >= '0' && *line.p <= '9'))) {
            info(r, parse_session(r, line));
            return;
        }
        break;
    case ST_AT_EXPECT_NONE:
        break;
    }
    if (*line.p == '+' || *line.p == '^' || *line.p == '*' || *line.p == '#' || *line.p == '%' ||
        is_urc_word(line)) {
        r->urcs++;
        return;
    }
    garbage(r, line);
}

void st_at_reply_init(struct st_at_reply *r, enum st_at_expect expect)
{
    memset(r, 0, sizeof(*r));
    r->expect = expect;
    r->cme = -1;
    r->status = ST_E_PARSE; /* fail closed until a final line is seen */
}

static void end_line(struct st_at_reply *r)
{
    struct cur line = {r->line, r->line + r->line_len};
    if (r->overflow) {
        r->overflow = false;
        r->line_len = 0;
        garbage(r, line);
        return;
    }
    r->line_len = 0;
    skip_spaces(&line);
    while (line.end > line.p && is_space(line.end[-1]))
        line.end--;
    if (line.p == line.end)
        return; /* the empty half of "\r\n", or a blank line */
    classify(r, line);
}

size_t st_at_reply_feed(struct st_at_reply *r, const uint8_t *in, size_t n)
{
    size_t i = 0;
    while (i < n && !r->done) {
        char ch = (char)in[i++];
        if (ch == '\r' || ch == '\n') {
            end_line(r);
        } else if (r->overflow) {
            continue;
        } else if (r->line_len == sizeof(r->line)) {
            r->overflow = true; /* keep nothing of it; it ends as garbage */
        } else {
            r->line[r->line_len++] = ch;
        }
    }
    return i;
}
