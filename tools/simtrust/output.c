/*
 * Output of the simtrust tool: results on stdout (human text, or one JSON
 * object with --json), errors as one line on stderr that says what failed,
 * in which layer, with the status word for card errors and the transport's
 * or the library's explanation when there is one; and the exit codes.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "st_hex.h"
#include "st_secret.h"

int st_cli_exit_code(int status)
{
    switch (status) {
    case ST_OK:
        return ST_CLI_EXIT_OK;
    case ST_E_ARG:
        return ST_CLI_EXIT_USAGE;
    case ST_E_NOT_FOUND:
    case ST_E_UNSUPPORTED:
        /* No such object / the card or link cannot do it: the operation failed. */
        return ST_CLI_EXIT_FAIL;
    case ST_E_BUFFER:
    case ST_E_STATE:
        return ST_CLI_EXIT_OTHER;
    default:
        break;
    }
    if (status <= -200 && status > -300)
        return ST_CLI_EXIT_LINK;
    if (status <= -300 && status > -400)
        return ST_CLI_EXIT_FAIL;
    return ST_CLI_EXIT_OTHER;
}

static const char *prog_cmd(const struct st_cli *cli, char *buf, size_t n)
{
    snprintf(buf, n, "simtrust: %s%s", cli->cmd != NULL ? cli->cmd : "",
             cli->cmd != NULL ? ": " : "");
    return buf;
}

static void json_error(struct st_cli *cli, const char *msg, int status)
{
    if (!cli->g.json)
        return;
    json_t *e = json_object();
    json_object_set_new(e, "command", json_string(cli->cmd != NULL ? cli->cmd : ""));
    json_object_set_new(e, "message", json_string(msg));
    if (status != ST_OK) {
        json_object_set_new(e, "layer", json_string(st_error_layer(status)));
        json_object_set_new(e, "status", json_integer(status));
        if (status <= -300 && status > -400 && cli->have_link) {
            char sw[8];
            snprintf(sw, sizeof(sw), "%04X", st_sim_last_sw(&cli->sim));
            json_object_set_new(e, "sw", json_string(sw));
        }
    }
    /* The error replaces any partial result. */
    json_decref(cli->out);
    cli->out = json_object();
    json_object_set_new(cli->out, "error", e);
}

int st_cli_fail(struct st_cli *cli, int status, const char *fmt, ...)
{
    char pre[80], ctx[512], line[1024];
    size_t k;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    /* "No such object" is said better by the caller's context alone. */
    bool context_only = status == ST_E_NOT_FOUND && ctx[0] != '\0';
    if (context_only) {
        k = (size_t)snprintf(line, sizeof(line), "%s", ctx);
    } else {
        k = (size_t)snprintf(line, sizeof(line), "%s", st_strerror(status));
        if (status <= -300 && status > -400 && cli->have_link && k < sizeof(line))
            k += (size_t)snprintf(line + k, sizeof(line) - k, " (SW %04X)",
                                  st_sim_last_sw(&cli->sim));
        if (ctx[0] != '\0' && k < sizeof(line))
            k += (size_t)snprintf(line + k, sizeof(line) - k, ": %s", ctx);
        const char *detail = cli->have_link ? st_sim_detail(&cli->sim) : "";
        if (detail[0] != '\0' && k < sizeof(line))
            k += (size_t)snprintf(line + k, sizeof(line) - k, " (%s)", detail);
    }
    /* The transport's own words (PC/SC code, the modem's answer) for link failures. */
    const char *why =
        (status <= -200 && status > -300) || context_only ? st_cli_link_error(cli) : "";
    if (why[0] != '\0' && strstr(line, why) == NULL && k < sizeof(line))
        snprintf(line + k, sizeof(line) - k, " (%s)", why);
    fprintf(stderr, "%s%s\n", prog_cmd(cli, pre, sizeof(pre)), line);
    json_error(cli, line, status);
    return st_cli_exit_code(status);
}

int st_cli_error(struct st_cli *cli, int code, const char *fmt, ...)
{
    char pre[80], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s\n", prog_cmd(cli, pre, sizeof(pre)), msg);
    json_error(cli, msg, ST_OK);
    return code;
}

int st_cli_usage(struct st_cli *cli, const char *fmt, ...)
{
    char pre[80], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s\n", prog_cmd(cli, pre, sizeof(pre)), msg);
    fprintf(stderr, "Try 'simtrust %s%s--help'.\n", cli->cmd != NULL ? cli->cmd : "",
            cli->cmd != NULL ? " " : "");
    return ST_CLI_EXIT_USAGE;
}

void st_cli_warn(struct st_cli *cli, const char *fmt, ...)
{
    char pre[80];
    va_list ap;
    fprintf(stderr, "%swarning: ", prog_cmd(cli, pre, sizeof(pre)));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

json_t *st_cli_json(struct st_cli *cli)
{
    if (cli->out == NULL)
        cli->out = json_object();
    return cli->out;
}

void st_cli_json_hex(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
    char *hex = malloc(2 * n + 1);
    if (hex == NULL)
        return;
    st_hex_encode(p, n, hex);
    json_object_set_new(obj, key, json_string(hex));
    st_wipe(hex, 2 * n + 1);
    free(hex);
}

static bool printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] >= 0x7F)
            return false;
    return true;
}

void st_cli_json_text(json_t *obj, const char *key, const uint8_t *p, size_t n)
{
    char hkey[64];
    if (printable(p, n)) {
        json_object_set_new(obj, key, json_stringn((const char *)p, n));
        return;
    }
    snprintf(hkey, sizeof(hkey), "%s_hex", key);
    st_cli_json_hex(obj, hkey, p, n);
}

json_t *st_cli_json_ref(const struct st_iotsafe_ref *ref)
{
    json_t *o = json_object();
    if (ref->by_label)
        st_cli_json_text(o, "label", ref->bytes, ref->len);
    else
        st_cli_json_hex(o, "id", ref->bytes, ref->len);
    return o;
}

int st_cli_finish(struct st_cli *cli, int code)
{
    if (cli->g.json && cli->out != NULL) {
        json_dumpf(cli->out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    }
    json_decref(cli->out);
    cli->out = NULL;
    if (fflush(stdout) != 0 && code == 0) {
        fprintf(stderr, "simtrust: cannot write to standard output\n");
        return ST_CLI_EXIT_OTHER;
    }
    return code;
}

void st_cli_print_hex(FILE *f, const uint8_t *p, size_t n)
{
    char chunk[2 * 64 + 1];
    /* In pieces: no buffer as large as the data, and each piece is wiped. */
    while (n > 0) {
        size_t k = n < 64 ? n : 64;
        st_hex_encode(p, k, chunk);
        fputs(chunk, f);
        p += k;
        n -= k;
    }
    st_wipe(chunk, sizeof(chunk));
    fputc('\n', f);
}

void st_cli_print_text(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '\\')
            fputc(p[i], f);
        else
            fprintf(f, "\\x%02X", p[i]);
    }
}

/*
 * jansson allocators that remember each block's size and wipe it when it is
 * freed: shared secrets and PRF/HKDF outputs pass through JSON strings, and
 * jansson's own free() would leave them in the heap.
 */
struct wipe_hdr {
    size_t n;
    max_align_t align;
};

static void *wipe_malloc(size_t n)
{
    struct wipe_hdr *h = malloc(sizeof(*h) + n);
    if (h == NULL)
        return NULL;
    h->n = n;
    return (uint8_t *)h + sizeof(*h);
}

static void wipe_free(void *p)
{
    if (p == NULL)
        return;
    struct wipe_hdr *h = (struct wipe_hdr *)(void *)((uint8_t *)p - sizeof(*h));
    st_wipe(p, h->n);
    free(h);
}

void st_cli_json_wipe_init(void)
{
    json_set_alloc_funcs(wipe_malloc, wipe_free);
}
