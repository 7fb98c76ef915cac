/*
 * Discovery commands: `info` (the applet's capabilities, IoT.04 D3/I4, and
 * the link), `list` (every credential with its label and reference, D9/I8)
 * and `readers` (PC/SC readers).
 */
#include <string.h>
#include <winscard.h>

#include "cli.h"
#include "simtrust/pcsc.h"
#include "st_hex.h"

/* ---------------------------------------------------------------- info */

static const char info_help[] =
    "Usage: simtrust [--sim LINK] info [--reset]\n"
    "\n"
    "Shows what the IoT SAFE applet can do (GSMA IoT.04 D3: capabilities are\n"
    "discoverable), from GET DATA application (INS CB, P1 00): version, the\n"
    "applet's proprietary ID, capacities (files, private, public and secret keys,\n"
    "sessions), and the functions, hash, signature, key agreement and key\n"
    "derivation algorithms it supports. Also the link (transport, logical channel,\n"
    "largest APDU) and the card's ATR when the link can tell without disturbing\n"
    "the card: PC/SC reports it from the reader's state; TCP and AT do not.\n"
    "\n"
    "Options:\n"
    "  --reset            reset the card first (PC/SC: SCardReconnect with reset;\n"
    "                     TCP: warm reset) and show the ATR it answers. A reset\n"
    "                     closes every logical channel and session and empties\n"
    "                     volatile keys (ECDHE slots) for every client of the card.\n"
    "                     AT modems cannot reset the SIM (exit 1)\n"
    "\n"
    "Output: one 'name: value' line each; with --json one object with the keys\n"
    "link, atr (when known), aid, channel, version, applet_id, max_files,\n"
    "max_private_keys, max_public_keys, max_secret_keys, max_sessions, functions,\n"
    "hash, signature, key_agreement, key_derivation (the last five as arrays of\n"
    "names).\n"
    "\n"
    "Exit status: 0 success; 1 the applet is missing (SW 6A82) or refused GET DATA;\n"
    "2 usage error; 3 link error; 4 malformed answer.\n"
    "\n"
    "Examples:\n"
    "  simtrust --sim pcsc info\n"
    "  simtrust --sim tcp:127.0.0.1:4000 --json info\n";

enum { O_RESET = ST_CLI_OPT_BASE };
static const struct st_cli_opt info_opts[] = {{"reset", 0, O_RESET}, {NULL, 0, 0}};

static int info_opt(struct st_cli *cli, void *arg, int id, const char *val)
{
    (void)cli;
    (void)val;
    if (id == O_RESET)
        *(bool *)arg = true;
    return 0;
}

/* The ATR of the reader's card from its PC/SC state: no connection, no reset. */
static size_t pcsc_atr(const char *reader, uint8_t *atr, size_t cap)
{
    SCARDCONTEXT ctx;
    SCARD_READERSTATE rs;
    size_t n = 0;
    if (reader == NULL || reader[0] == '\0' ||
        SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) != SCARD_S_SUCCESS)
        return 0;
    memset(&rs, 0, sizeof(rs));
    rs.szReader = reader;
    rs.dwCurrentState = SCARD_STATE_UNAWARE;
    if (SCardGetStatusChange(ctx, 0, &rs, 1) == SCARD_S_SUCCESS &&
        (rs.dwEventState & SCARD_STATE_PRESENT) && rs.cbAtr <= cap) {
        memcpy(atr, rs.rgbAtr, rs.cbAtr);
        n = rs.cbAtr;
    }
    SCardReleaseContext(ctx);
    return n;
}

static void line_bits(const char *name, const struct st_cli_bit *t, unsigned v, bool present)
{
    if (!present)
        return;
    printf("%-16s", name);
    st_cli_print_bits(stdout, t, v);
    putchar('\n');
}

/* JSON members of the attributes the applet reported (present bits). */
static void set_uint(json_t *o, uint16_t present, uint16_t bit, const char *key, unsigned v)
{
    if (present & bit)
        json_object_set_new(o, key, json_integer(v));
}

static void set_bits(json_t *o, uint16_t present, uint16_t bit, const char *key,
                     const struct st_cli_bit *t, unsigned v)
{
    if (present & bit)
        json_object_set_new(o, key, st_cli_json_bits(t, v));
}

static void show_info(struct st_cli *cli, const struct st_iotsafe_app_info *a, const uint8_t *atr,
                      size_t atr_len)
{
    const struct st_transport *t = st_sim_transport(&cli->sim);
    size_t max_apdu = st_sim_max_apdu(&cli->sim);
    uint8_t aid_len = cli->g.aid_len ? (uint8_t)cli->g.aid_len : ST_IOTSAFE_AID_DEFAULT_LEN;
    const uint8_t *aid = cli->g.aid_len ? cli->g.aid : (const uint8_t *)ST_IOTSAFE_AID_DEFAULT;
    uint8_t ch = st_iotsafe_channel(&cli->ios);
    const char *reader = cli->kind == ST_CLI_LINK_PCSC ? st_pcsc_reader_name(t) : "";
    char hex[2 * 33 + 1];
    if (cli->g.json) {
        json_t *o = st_cli_json(cli);
        json_t *l = json_object();
        json_object_set_new(l, "type", json_string(st_cli_link_name(cli->kind)));
        json_object_set_new(l, "sim", json_string(cli->g.sim));
        if (reader[0] != '\0')
            json_object_set_new(l, "reader", json_string(reader));
        json_object_set_new(l, "max_apdu", json_integer((json_int_t)max_apdu));
        json_object_set_new(o, "link", l);
        if (atr_len > 0)
            st_cli_json_hex(o, "atr", atr, atr_len);
        st_cli_json_hex(o, "aid", aid, aid_len);
        json_object_set_new(o, "channel", json_integer(ch));
        set_uint(o, a->present, ST_IOTSAFE_APP_VERSION, "version", a->version);
        if (a->present & ST_IOTSAFE_APP_ID)
            st_cli_json_hex(o, "applet_id", a->proprietary_id, a->proprietary_id_len);
        set_uint(o, a->present, ST_IOTSAFE_APP_MAX_FILES, "max_files", a->max_files);
        set_uint(o, a->present, ST_IOTSAFE_APP_MAX_PRIVATE, "max_private_keys",
                 a->max_private_keys);
        set_uint(o, a->present, ST_IOTSAFE_APP_MAX_PUBLIC, "max_public_keys", a->max_public_keys);
        set_uint(o, a->present, ST_IOTSAFE_APP_MAX_SECRET, "max_secret_keys", a->max_secret_keys);
        set_uint(o, a->present, ST_IOTSAFE_APP_MAX_SESSIONS, "max_sessions", a->max_sessions);
        set_bits(o, a->present, ST_IOTSAFE_APP_FUNCTIONS, "functions", st_cli_functions_bits,
                 a->functions);
        set_bits(o, a->present, ST_IOTSAFE_APP_HASH, "hash", st_cli_hash_bits, a->hash_algos);
        set_bits(o, a->present, ST_IOTSAFE_APP_SIG, "signature", st_cli_sig_bits, a->sig_algos);
        set_bits(o, a->present, ST_IOTSAFE_APP_KEY_AGREEMENT, "key_agreement",
                 st_cli_agreement_bits, a->key_agreement);
        set_bits(o, a->present, ST_IOTSAFE_APP_KEY_DERIVATION, "key_derivation",
                 st_cli_derivation_bits, a->key_derivation);
        return;
    }
    printf("link:           %s%s%s%s, largest APDU %zu bytes\n", st_cli_link_name(cli->kind),
           reader[0] ? " '" : "", reader, reader[0] ? "'" : "", max_apdu);
    if (atr_len > 0) {
        st_hex_encode(atr, atr_len, hex);
        printf("ATR:            %s\n", hex);
    } else {
        printf("ATR:            unknown (%s)\n", cli->kind == ST_CLI_LINK_AT
                                                     ? "AT modems do not report it"
                                                     : "use --reset to read it");
    }
    st_hex_encode(aid, aid_len, hex);
    if (ch == 0)
        printf("applet:         %s on the basic channel\n", hex);
    else
        printf("applet:         %s on logical channel %u\n", hex, ch);
    if (a->present & ST_IOTSAFE_APP_VERSION)
        printf("version:        %02X\n", a->version);
    if (a->present & ST_IOTSAFE_APP_ID) {
        printf("applet ID:      ");
        st_cli_print_hex(stdout, a->proprietary_id, a->proprietary_id_len);
    }
    printf("capacity:       ");
    if (a->present & ST_IOTSAFE_APP_MAX_FILES)
        printf("%u files, ", a->max_files);
    if (a->present & ST_IOTSAFE_APP_MAX_PRIVATE)
        printf("%u private keys, ", a->max_private_keys);
    if (a->present & ST_IOTSAFE_APP_MAX_PUBLIC)
        printf("%u public keys, ", a->max_public_keys);
    if (a->present & ST_IOTSAFE_APP_MAX_SECRET)
        printf("%u secret keys, ", a->max_secret_keys);
    if (a->present & ST_IOTSAFE_APP_MAX_SESSIONS)
        printf("%u sessions per kind", a->max_sessions);
    putchar('\n');
    line_bits("functions:", st_cli_functions_bits, a->functions,
              a->present & ST_IOTSAFE_APP_FUNCTIONS);
    line_bits("hash:", st_cli_hash_bits, a->hash_algos, a->present & ST_IOTSAFE_APP_HASH);
    line_bits("signature:", st_cli_sig_bits, a->sig_algos, a->present & ST_IOTSAFE_APP_SIG);
    line_bits("key agreement:", st_cli_agreement_bits, a->key_agreement,
              a->present & ST_IOTSAFE_APP_KEY_AGREEMENT);
    line_bits("key derivation:", st_cli_derivation_bits, a->key_derivation,
              a->present & ST_IOTSAFE_APP_KEY_DERIVATION);
}

int st_cli_cmd_info(struct st_cli *cli, int argc, char **argv)
{
    bool reset = false;
    int first;
    uint8_t atr[64];
    size_t atr_len = 0;
    struct st_iotsafe_app_info info;
    int rc = st_cli_parse(cli, argc, argv, info_opts, info_opt, &reset, info_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    rc = st_cli_open_link(cli);
    if (rc != 0)
        return rc;
    const struct st_transport *t = st_sim_transport(&cli->sim);
    if (reset) {
        if (t->ops->reset == NULL)
            return st_cli_fail(cli, ST_E_UNSUPPORTED, "this link cannot reset the card");
        atr_len = sizeof(atr);
        int r = t->ops->reset(t->ctx, atr, &atr_len);
        if (r != ST_OK)
            return st_cli_fail(cli, r, "reset");
    } else if (cli->kind == ST_CLI_LINK_PCSC) {
        atr_len = pcsc_atr(st_pcsc_reader_name(t), atr, sizeof(atr));
    }
    rc = st_cli_open(cli);
    if (rc != 0)
        return rc;
    int r = st_iotsafe_get_app_info(&cli->ios, &info);
    if (r != ST_OK)
        return st_cli_fail(cli, r, "GET DATA application");
    show_info(cli, &info, atr, atr_len);
    return 0;
}

/* ---------------------------------------------------------------- list */

static const char list_help[] =
    "Usage: simtrust [--sim LINK] list [--kind private|public|file|secret]\n"
    "\n"
    "Lists the applet's objects (GSMA IoT.04 D9: the PKI credentials with their\n"
    "labels and references) from GET DATA object list (INS CB, P1 01, followed\n"
    "through SW 6300). For each object: its kind, ID (hex), label, and decoded\n"
    "attributes: state, key type, usage, functions, access conditions, signature,\n"
    "hash, key agreement and key derivation algorithms, file size. Values (keys,\n"
    "file contents, PSKs) are never read: the applet does not give them out.\n"
    "\n"
    "Options:\n"
    "  --kind KIND        only objects of one kind: private (private keys),\n"
    "                     public (public keys), file, or secret (secret keys)\n"
    "\n"
    "Output: one line per object ('private key  ID 01  label \"client\"') and an\n"
    "indented line of attributes; with --json {\"objects\": [{\"kind\", \"id\",\n"
    "\"label\" (or \"label_hex\"), \"state\", \"key_type\", \"usage\", \"functions\",\n"
    "\"access\", \"signature\", \"hash\", \"key_agreement\", \"key_derivation\", \"size\"}]}\n"
    "with the attributes the applet reported.\n"
    "\n"
    "Exit status: 0 success (also for an empty list); 1 the card refused GET DATA;\n"
    "2 usage error; 3 link error; 4 malformed answer.\n"
    "\n"
    "Examples:\n"
    "  simtrust --sim pcsc list\n"
    "  simtrust --sim pcsc list --kind file --json\n";

enum { O_KIND = ST_CLI_OPT_BASE };
static const struct st_cli_opt list_opts[] = {{"kind", 1, O_KIND}, {NULL, 0, 0}};

struct list_ctx {
    struct st_cli *cli;
    int kind; /* -1: all */
    json_t *arr;
    size_t count;
};

static int list_opt(struct st_cli *cli, void *arg, int id, const char *val)
{
    struct list_ctx *l = arg;
    for (int k = ST_IOTSAFE_PRIVATE_KEY; k <= ST_IOTSAFE_SECRET_KEY; k++)
        if (strcmp(val, st_cli_kind_word((enum st_iotsafe_kind)k)) == 0) {
            l->kind = k;
            return 0;
        }
    (void)id;
    return st_cli_usage(cli, "--kind: '%s' is not private, public, file or secret", val);
}

static void print_attr_bits(bool *first, const char *name, const struct st_cli_bit *t, unsigned v)
{
    printf("%s%s ", *first ? "    " : ", ", name);
    st_cli_print_bits(stdout, t, v);
    *first = false;
}

static void print_object(const struct st_iotsafe_object *o)
{
    bool first = true;
    bool file = o->kind == ST_IOTSAFE_FILE;
    char id[2 * ST_IOTSAFE_ID_MAX + 1];
    printf("%-12s", st_cli_kind_name(o->kind));
    if (o->id_len > 0) {
        st_hex_encode(o->id, o->id_len, id);
        printf(" ID %s", id);
    } else {
        printf(" (no ID)");
    }
    if (o->label_len > 0) {
        printf("  label \"");
        st_cli_print_text(stdout, o->label, o->label_len);
        putchar('"');
    }
    putchar('\n');
    if (o->present & ST_IOTSAFE_OBJ_STATE) {
        printf("    %s", st_cli_state_name(o->state));
        first = false;
    }
    if (o->present & ST_IOTSAFE_OBJ_KEY_TYPE) {
        const char *t = st_cli_key_type_name(o->key_type);
        printf("%s", first ? "    " : ", ");
        if (t != NULL)
            printf("%s", t);
        else
            printf("key type 0x%02X", o->key_type);
        first = false;
    }
    if (o->present & ST_IOTSAFE_OBJ_SIZE) {
        printf("%s%u bytes", first ? "    " : ", ", o->size);
        first = false;
    }
    if (o->present & ST_IOTSAFE_OBJ_USAGE) {
        const char *u = file ? st_cli_file_usage_name(o->usage) : st_cli_key_usage_name(o->usage);
        printf("%susage ", first ? "    " : ", ");
        if (u != NULL)
            printf("%s", u);
        else
            printf("0x%02X", o->usage);
        first = false;
    }
    if (o->present & ST_IOTSAFE_OBJ_ACCESS)
        print_attr_bits(&first, "access", st_cli_access_bits, o->access);
    /* The algorithms on a line of their own: keeps lines short. */
    if (!first)
        putchar('\n');
    first = true;
    if (o->present & ST_IOTSAFE_OBJ_FUNCTIONS)
        print_attr_bits(&first, "functions", st_cli_functions_bits, o->functions);
    if (o->present & ST_IOTSAFE_OBJ_SIG)
        print_attr_bits(&first, "signature", st_cli_sig_bits, o->sig_algos);
    if (o->present & ST_IOTSAFE_OBJ_HASH)
        print_attr_bits(&first, "hash", st_cli_hash_bits, o->hash_algos);
    if (o->present & ST_IOTSAFE_OBJ_KEY_AGREEMENT)
        print_attr_bits(&first, "key agreement", st_cli_agreement_bits, o->key_agreement);
    if (o->present & ST_IOTSAFE_OBJ_KEY_DERIVATION)
        print_attr_bits(&first, "key derivation", st_cli_derivation_bits, o->key_derivation);
    if (!first)
        putchar('\n');
}

static json_t *json_object_info(const struct st_iotsafe_object *o)
{
    json_t *j = json_object();
    bool file = o->kind == ST_IOTSAFE_FILE;
    json_object_set_new(j, "kind", json_string(st_cli_kind_word(o->kind)));
    if (o->id_len > 0)
        st_cli_json_hex(j, "id", o->id, o->id_len);
    if (o->label_len > 0)
        st_cli_json_text(j, "label", o->label, o->label_len);
    if (o->present & ST_IOTSAFE_OBJ_STATE)
        json_object_set_new(j, "state", json_string(st_cli_state_name(o->state)));
    if (o->present & ST_IOTSAFE_OBJ_KEY_TYPE) {
        const char *t = st_cli_key_type_name(o->key_type);
        char b[8];
        snprintf(b, sizeof(b), "0x%02X", o->key_type);
        json_object_set_new(j, "key_type", json_string(t != NULL ? t : b));
    }
    if (o->present & ST_IOTSAFE_OBJ_SIZE)
        json_object_set_new(j, "size", json_integer(o->size));
    if (o->present & ST_IOTSAFE_OBJ_USAGE) {
        const char *u = file ? st_cli_file_usage_name(o->usage) : st_cli_key_usage_name(o->usage);
        char b[8];
        snprintf(b, sizeof(b), "0x%02X", o->usage);
        json_object_set_new(j, "usage", json_string(u != NULL ? u : b));
    }
    if (o->present & ST_IOTSAFE_OBJ_ACCESS)
        json_object_set_new(j, "access", st_cli_json_bits(st_cli_access_bits, o->access));
    if (o->present & ST_IOTSAFE_OBJ_FUNCTIONS)
        json_object_set_new(j, "functions", st_cli_json_bits(st_cli_functions_bits, o->functions));
    if (o->present & ST_IOTSAFE_OBJ_SIG)
        json_object_set_new(j, "signature", st_cli_json_bits(st_cli_sig_bits, o->sig_algos));
    if (o->present & ST_IOTSAFE_OBJ_HASH)
        json_object_set_new(j, "hash", st_cli_json_bits(st_cli_hash_bits, o->hash_algos));
    if (o->present & ST_IOTSAFE_OBJ_KEY_AGREEMENT)
        json_object_set_new(j, "key_agreement",
                            st_cli_json_bits(st_cli_agreement_bits, o->key_agreement));
    if (o->present & ST_IOTSAFE_OBJ_KEY_DERIVATION)
        json_object_set_new(j, "key_derivation",
                            st_cli_json_bits(st_cli_derivation_bits, o->key_derivation));
    return j;
}

/* Visitor: called with the session lock held, so it only prints (no library calls). */
static int list_visit(void *arg, const struct st_iotsafe_object *obj)
{
    struct list_ctx *l = arg;
    if (l->kind >= 0 && (int)obj->kind != l->kind)
        return ST_OK;
    l->count++;
    if (l->arr != NULL)
        json_array_append_new(l->arr, json_object_info(obj));
    else
        print_object(obj);
    return ST_OK;
}

int st_cli_cmd_list(struct st_cli *cli, int argc, char **argv)
{
    struct list_ctx l = {cli, -1, NULL, 0};
    int first;
    int rc = st_cli_parse(cli, argc, argv, list_opts, list_opt, &l, list_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    rc = st_cli_open(cli);
    if (rc != 0)
        return rc;
    if (cli->g.json) {
        l.arr = json_array();
        json_object_set_new(st_cli_json(cli), "objects", l.arr);
    }
    int r = st_iotsafe_foreach_object(&cli->ios, list_visit, &l);
    if (r != ST_OK)
        return st_cli_fail(cli, r, "GET DATA object list");
    if (!cli->g.json && l.count == 0)
        printf("no objects\n");
    return 0;
}

/* ------------------------------------------------------------- readers */

static const char readers_help[] =
    "Usage: simtrust readers\n"
    "\n"
    "Lists the PC/SC readers pcscd knows, with their index (for --sim pcsc:#N)\n"
    "and whether a card is present. simtrust-card appears as 'Virtual PCD 00 00'\n"
    "(vpcd port 35963) and 'Virtual PCD 00 01' (35964). --sim is not used.\n"
    "\n"
    "Options: none besides the global ones.\n"
    "\n"
    "Output: '#0  Virtual PCD 00 00  (card)' per reader; with --json\n"
    "{\"readers\": [{\"index\", \"name\", \"card\"}]}.\n"
    "\n"
    "Exit status: 0 success (also when pcscd has no reader); 2 usage error;\n"
    "3 no PC/SC service (pcscd not running) or another PC/SC failure.\n"
    "\n"
    "Example:\n"
    "  simtrust readers\n";

static const struct st_cli_opt readers_opts[] = {{NULL, 0, 0}};

struct readers_ctx {
    json_t *arr;
};

static void reader_visit(void *arg, unsigned index, const char *name, int card_present)
{
    struct readers_ctx *r = arg;
    if (r->arr != NULL) {
        json_t *o = json_object();
        json_object_set_new(o, "index", json_integer(index));
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "card", json_boolean(card_present));
        json_array_append_new(r->arr, o);
        return;
    }
    printf("#%u  %s%s\n", index, name, card_present ? "  (card)" : "");
}

int st_cli_cmd_readers(struct st_cli *cli, int argc, char **argv)
{
    struct readers_ctx r = {NULL};
    char err[256] = "";
    int first;
    int rc = st_cli_parse(cli, argc, argv, readers_opts, NULL, NULL, readers_help, &first);
    if (rc != 0)
        return rc == ST_CLI_DONE ? 0 : rc;
    if (first < argc)
        return st_cli_usage(cli, "unexpected operand '%s'", argv[first]);
    if (cli->g.json) {
        r.arr = json_array();
        json_object_set_new(st_cli_json(cli), "readers", r.arr);
    }
    int n = st_pcsc_list_readers(reader_visit, &r, err, sizeof(err));
    if (n < 0)
        return st_cli_fail(cli, n, "%s", err[0] ? err : "cannot list the PC/SC readers");
    if (n == 0 && !cli->g.json)
        printf("no readers\n");
    return 0;
}
