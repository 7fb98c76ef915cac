/*
 * The link to the SIM (--sim) and the IoT SAFE applet on it. One link per
 * run: the tool opens it after the command line is checked (so a usage error
 * never touches the card) and closes it before printing the result.
 *
 *   pcsc[:READER]        libsimtrust's PC/SC transport ("#N" or a name prefix)
 *   at:DEVICE[@BAUD]     a modem's serial port (AT+CSIM, AT+CCHO/CGLA)
 *   tcp:HOST:PORT        simtrust-card's TCP front end
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "simtrust/at.h"
#include "simtrust/pcsc.h"
#include "simtrust/tcp.h"
#include "st_hex.h"
#include "st_secret.h"

const char *st_cli_link_name(enum st_cli_link_kind kind)
{
    switch (kind) {
    case ST_CLI_LINK_PCSC:
        return "pcsc";
    case ST_CLI_LINK_AT:
        return "at";
    case ST_CLI_LINK_TCP:
        return "tcp";
    }
    return "?";
}

int st_cli_check_sim(struct st_cli *cli)
{
    const char *s = cli->g.sim;
    if (s == NULL || *s == '\0')
        s = getenv("SIMTRUST_SIM");
    if (s == NULL || *s == '\0')
        s = "pcsc";
    cli->g.sim = s;
    if (strcmp(s, "pcsc") == 0) {
        cli->kind = ST_CLI_LINK_PCSC;
        cli->link_arg = "";
    } else if (strncmp(s, "pcsc:", 5) == 0) {
        cli->kind = ST_CLI_LINK_PCSC;
        cli->link_arg = s + 5;
    } else if (strncmp(s, "at:", 3) == 0 && s[3] != '\0') {
        cli->kind = ST_CLI_LINK_AT;
        cli->link_arg = s + 3;
    } else if (strncmp(s, "tcp:", 4) == 0 && strrchr(s + 4, ':') != NULL &&
               strrchr(s + 4, ':')[1] != '\0') {
        cli->kind = ST_CLI_LINK_TCP;
        cli->link_arg = s + 4;
    } else {
        return st_cli_usage(cli, "--sim '%s': not pcsc[:READER], at:DEVICE[@BAUD] or tcp:HOST:PORT",
                            s);
    }
    return 0;
}

/* --trace: every C-APDU and R-APDU, as the library sees them (GET RESPONSE included). */
static void trace_apdu(void *arg, enum st_trace_dir dir, const uint8_t *buf, size_t len)
{
    char hex[2 * ST_RESPONSE_MAX + 8 + 1];
    (void)arg;
    if (len > (sizeof(hex) - 1) / 2)
        len = (sizeof(hex) - 1) / 2;
    st_hex_encode(buf, len, hex);
    fprintf(stderr, "%s %s\n", dir == ST_TRACE_COMMAND ? ">" : "<", hex);
    /* APDUs of PRF, HKDF and DH carry secrets: do not leave them on the stack. */
    st_wipe(hex, sizeof(hex));
}

static int open_transport(struct st_cli *cli, char *err, size_t n)
{
    struct st_at_options ao;
    switch (cli->kind) {
    case ST_CLI_LINK_PCSC:
        return st_pcsc_open(&cli->tr, cli->link_arg, err, n);
    case ST_CLI_LINK_AT:
        memset(&ao, 0, sizeof(ao));
        ao.timeout_ms = (unsigned)cli->g.timeout_ms;
        return st_at_open(&cli->tr, cli->link_arg, &ao, err, n);
    case ST_CLI_LINK_TCP:
        return st_tcp_open(&cli->tr, cli->link_arg, (int)cli->g.timeout_ms, err, n);
    }
    return ST_E_ARG;
}

int st_cli_open_link(struct st_cli *cli)
{
    char err[256] = "";
    if (cli->have_link)
        return 0;
    int rc = st_cli_check_sim(cli);
    if (rc != 0)
        return rc;
    rc = open_transport(cli, err, sizeof(err));
    if (rc != ST_OK) {
        /* A malformed device spec or baud rate is the user's, not the link's. */
        if (rc == ST_E_ARG)
            return st_cli_usage(cli, "--sim '%s': %s", cli->g.sim, err[0] ? err : "invalid");
        return st_cli_fail(cli, rc, "cannot open %s%s%s", cli->g.sim, err[0] ? ": " : "", err);
    }
    cli->have_link = true;
    st_sim_init(&cli->sim, &cli->tr);
    if (cli->g.trace)
        st_sim_set_trace(&cli->sim, trace_apdu, NULL);
    return 0;
}

int st_cli_open(struct st_cli *cli)
{
    struct st_iotsafe_config cfg;
    char aid[2 * ST_IOTSAFE_AID_MAX + 1];
    int rc = st_cli_open_link(cli);
    if (rc != 0)
        return rc;
    if (cli->have_applet)
        return 0;
    st_iotsafe_config_default(&cfg);
    if (cli->g.aid_len > 0) {
        memcpy(cfg.aid, cli->g.aid, cli->g.aid_len);
        cfg.aid_len = (uint8_t)cli->g.aid_len;
    }
    if (cli->g.cla >= 0)
        cfg.cla = (uint8_t)cli->g.cla;
    if (cli->g.basic_channel)
        cfg.flags |= ST_IOTSAFE_BASIC_CHANNEL;
    if (cli->g.sig_len1)
        cfg.flags |= ST_IOTSAFE_SIG_LEN1;
    rc = st_iotsafe_init(&cli->ios, &cli->sim, &cfg);
    if (rc == ST_OK)
        rc = st_iotsafe_open(&cli->ios);
    if (rc != ST_OK) {
        st_hex_encode(cfg.aid, cfg.aid_len, aid);
        if (rc == ST_E_NOT_FOUND || rc == ST_E_CARD_NOT_FOUND)
            return st_cli_fail(cli, rc, "no applet %s on the card", aid);
        return st_cli_fail(cli, rc, "cannot select the IoT SAFE applet %s", aid);
    }
    cli->have_applet = true;
    return 0;
}

void st_cli_close(struct st_cli *cli)
{
    if (cli->have_applet) {
        /* A failed close leaves nothing to undo: the channel dies with the connection. */
        (void)st_iotsafe_close(&cli->ios);
        cli->have_applet = false;
    }
    if (cli->have_link) {
        if (cli->tr.ops->close != NULL)
            cli->tr.ops->close(cli->tr.ctx);
        cli->have_link = false;
    }
}

const char *st_cli_link_error(const struct st_cli *cli)
{
    if (!cli->have_link)
        return "";
    const struct st_transport *t = st_sim_transport(&cli->sim);
    switch (cli->kind) {
    case ST_CLI_LINK_PCSC:
        return st_pcsc_last_error_text(t);
    case ST_CLI_LINK_AT:
        return st_at_last_error(t);
    default:
        return "";
    }
}
